//! Batch reads, writes and deletes.

use std::time::Duration;

use serde_json::json;
use store::{KvError, KvItem, MAX_BATCH, SetOptions};

use crate::harness::TestDb;

store_tests! {
    batch_get_returns_live_entries_in_request_order_once,
    batch_set_writes_every_item,
    batch_set_writes_nothing_when_the_database_refuses_one_item,
    batch_set_writes_nothing_when_one_item_is_invalid,
    batch_delete_removes_listed_keys_and_ignores_missing_ones,
    batch_delete_deletes_nothing_when_the_database_refuses_one_key,
    oversized_batches_are_refused,
}

fn item(key: &str, value: serde_json::Value) -> KvItem {
    KvItem {
        key: key.to_string(),
        value,
        ttl: None,
    }
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| key.to_string()).collect()
}

async fn batch_get_returns_live_entries_in_request_order_once(db: TestDb) {
    db.store
        .kv_batch_set(vec![
            item("a", json!(1)),
            item("b", json!(2)),
            item("c", json!(3)),
        ])
        .await
        .unwrap();
    db.store
        .kv_set(
            "mortal",
            &json!(4),
            SetOptions {
                ttl: Some(Duration::from_secs(1)),
                if_absent: false,
            },
        )
        .await
        .unwrap();
    db.clock.advance(Duration::from_secs(1));
    let found = db
        .store
        .kv_batch_get(&keys(&["c", "missing", "a", "c", "mortal", "b"]))
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![
            ("c".to_string(), json!(3)),
            ("a".to_string(), json!(1)),
            ("b".to_string(), json!(2))
        ]
    );
    assert_eq!(db.store.kv_batch_get(&[]).await.unwrap(), vec![]);
}

async fn batch_set_writes_every_item(db: TestDb) {
    db.store
        .kv_set("a", &json!("old"), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_batch_set(vec![
            item("a", json!("new")),
            item("b", json!([1, 2])),
            KvItem {
                key: "c".into(),
                value: json!(true),
                ttl: Some(Duration::from_secs(5)),
            },
        ])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("a").await.unwrap(), Some(json!("new")));
    assert_eq!(db.store.kv_get("b").await.unwrap(), Some(json!([1, 2])));
    assert_eq!(db.store.kv_get("c").await.unwrap(), Some(json!(true)));
    db.clock.advance(Duration::from_secs(5));
    assert_eq!(db.store.kv_get("c").await.unwrap(), None);
    db.store.kv_batch_set(vec![]).await.unwrap();
}

async fn batch_set_writes_nothing_when_the_database_refuses_one_item(db: TestDb) {
    db.store
        .kv_set("a", &json!("before"), SetOptions::default())
        .await
        .unwrap();
    db.poison_writes_of_key_named_poison().await;
    // "a" and "b" are written before the database refuses "poison".
    let result = db
        .store
        .kv_batch_set(vec![
            item("a", json!("after")),
            item("b", json!(2)),
            item("poison", json!(3)),
            item("c", json!(4)),
        ])
        .await;
    assert!(matches!(result, Err(KvError::Database(_))), "{result:?}");
    assert_eq!(db.store.kv_get("a").await.unwrap(), Some(json!("before")));
    assert_eq!(db.store.kv_get("b").await.unwrap(), None);
    assert_eq!(db.store.kv_get("c").await.unwrap(), None);
    // The store is usable afterwards: the failed transaction released its locks.
    db.store
        .kv_batch_set(vec![item("b", json!(2))])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("b").await.unwrap(), Some(json!(2)));
}

async fn batch_set_writes_nothing_when_one_item_is_invalid(db: TestDb) {
    let result = db
        .store
        .kv_batch_set(vec![item("a", json!(1)), item("", json!(2))])
        .await;
    assert!(
        matches!(result, Err(KvError::InvalidKey { .. })),
        "{result:?}"
    );
    assert_eq!(db.store.kv_get("a").await.unwrap(), None);
}

async fn batch_delete_removes_listed_keys_and_ignores_missing_ones(db: TestDb) {
    db.store
        .kv_batch_set(vec![
            item("a", json!(1)),
            item("b", json!(2)),
            item("c", json!(3)),
        ])
        .await
        .unwrap();
    db.store
        .kv_batch_delete(&keys(&["a", "c", "missing"]))
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("a").await.unwrap(), None);
    assert_eq!(db.store.kv_get("b").await.unwrap(), Some(json!(2)));
    assert_eq!(db.store.kv_get("c").await.unwrap(), None);
    db.store.kv_batch_delete(&[]).await.unwrap();
}

async fn batch_delete_deletes_nothing_when_the_database_refuses_one_key(db: TestDb) {
    db.store
        .kv_batch_set(vec![
            item("a", json!(1)),
            item("poison", json!(2)),
            item("z", json!(3)),
        ])
        .await
        .unwrap();
    db.poison_writes_of_key_named_poison().await;
    let result = db.store.kv_batch_delete(&keys(&["a", "poison", "z"])).await;
    assert!(matches!(result, Err(KvError::Database(_))), "{result:?}");
    let left = db
        .store
        .kv_batch_get(&keys(&["a", "poison", "z"]))
        .await
        .unwrap();
    assert_eq!(left.len(), 3);
}

async fn oversized_batches_are_refused(db: TestDb) {
    let too_many: Vec<String> = (0..=MAX_BATCH).map(|i| format!("k{i}")).collect();
    assert!(matches!(
        db.store.kv_batch_get(&too_many).await,
        Err(KvError::TooMany { .. })
    ));
    assert!(matches!(
        db.store.kv_batch_delete(&too_many).await,
        Err(KvError::TooMany { .. })
    ));
    let items = too_many.iter().map(|key| item(key, json!(1))).collect();
    assert!(matches!(
        db.store.kv_batch_set(items).await,
        Err(KvError::TooMany { .. })
    ));
    // The largest accepted batch works, in one statement or transaction.
    let items = too_many[..MAX_BATCH]
        .iter()
        .map(|key| item(key, json!(1)))
        .collect();
    db.store.kv_batch_set(items).await.unwrap();
    assert_eq!(
        db.store
            .kv_batch_get(&too_many[..MAX_BATCH])
            .await
            .unwrap()
            .len(),
        MAX_BATCH
    );
}
