//! The storage quota: exact usage kept by the database's triggers, writes
//! refused as a whole beyond a limit, shrinking always allowed, concurrent
//! writers never both slipping past, and the backfill of existing data.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use store::{
    Expect, KvError, KvItem, QuotaExceeded, QuotaResource, SecretError, SetOptions, StorageQuota,
    StorageUsage, Store, TxOp,
};
use tokio::sync::Barrier;

use crate::harness::TestDb;

store_tests! {
    usage_counts_keys_and_bytes_of_entries_and_secrets,
    a_write_past_the_key_limit_fails_and_writes_nothing,
    batches_and_transactions_past_the_byte_limit_write_nothing,
    shrinking_writes_work_even_over_the_quota,
    secrets_count_toward_the_quota,
    expired_entries_are_freed_before_a_write_is_refused,
    concurrent_writers_never_both_pass_the_limit,
    the_migration_backfills_the_usage_of_existing_data,
}

fn keys_quota(max_keys: u64) -> StorageQuota {
    StorageQuota {
        max_keys: Some(max_keys),
        max_bytes: None,
    }
}

fn bytes_quota(max_bytes: u64) -> StorageQuota {
    StorageQuota {
        max_keys: None,
        max_bytes: Some(max_bytes),
    }
}

async fn set(store: &Store, key: &str, value: serde_json::Value) -> Result<(), KvError> {
    store.kv_set(key, &value, SetOptions::default()).await
}

fn usage(keys: u64, bytes: u64) -> StorageUsage {
    StorageUsage { keys, bytes }
}

fn exceeded(error: KvError) -> QuotaExceeded {
    match error {
        KvError::QuotaExceeded(exceeded) => exceeded,
        other => panic!("expected a quota error, got {other:?}"),
    }
}

async fn usage_counts_keys_and_bytes_of_entries_and_secrets(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.storage_usage().await.unwrap(), usage(0, 0));
    // Key "ab" (2 bytes) + JSON "\"é\"" (4 bytes).
    set(store, "ab", json!("é")).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(1, 6));
    // Overwriting replaces the value's bytes: [1,2] is 5 bytes.
    set(store, "ab", json!([1, 2])).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(1, 7));
    // A secret counts its key and ciphertext: JSON "1" + a 16-byte tag.
    store.secret_set("ab", &json!(1)).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(2, 7 + 2 + 17));
    store.kv_delete("ab").await.unwrap();
    store.secret_delete("ab").await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(0, 0));
}

async fn a_write_past_the_key_limit_fails_and_writes_nothing(db: TestDb) {
    let store = db.store.clone().with_storage_quota(keys_quota(2));
    set(&store, "a", json!(1)).await.unwrap();
    set(&store, "b", json!(2)).await.unwrap();

    let error = exceeded(set(&store, "c", json!(3)).await.unwrap_err());
    assert_eq!(
        error,
        QuotaExceeded {
            resource: QuotaResource::Keys,
            usage: 2,
            requested: 3,
            limit: 2,
        }
    );
    let message = error.to_string();
    assert!(message.contains("from 2 to 3 keys"), "{message}");
    assert!(message.contains("[limits] storage_keys"), "{message}");
    assert_eq!(store.kv_get("c").await.unwrap(), None);
    // An if-absent write over a taken key writes nothing, so it is the
    // ordinary error, not the quota's.
    let taken = store
        .kv_set(
            "a",
            &json!(9),
            SetOptions {
                ttl: None,
                if_absent: true,
            },
        )
        .await;
    assert!(matches!(taken, Err(KvError::KeyExists { .. })), "{taken:?}");
    // Overwriting a key adds none.
    set(&store, "a", json!("bigger value")).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap().keys, 2);
}

async fn batches_and_transactions_past_the_byte_limit_write_nothing(db: TestDb) {
    // Each item below is 1 key byte + 3 value bytes ("\"x\"").
    let store = db.store.clone().with_storage_quota(bytes_quota(10));
    let item = |key: &str| KvItem {
        key: key.into(),
        value: json!("x"),
        ttl: None,
    };
    store
        .kv_batch_set(vec![item("a"), item("b")])
        .await
        .unwrap();
    let error = store
        .kv_batch_set(vec![item("c"), item("d")])
        .await
        .unwrap_err();
    assert_eq!(exceeded(error).resource, QuotaResource::Bytes);
    assert_eq!(
        store.kv_batch_get(&["c".into(), "d".into()]).await.unwrap(),
        vec![]
    );

    let error = store
        .kv_transact(vec![
            TxOp::Delete {
                key: "a".into(),
                expect: Some(Expect::Present),
            },
            TxOp::Set {
                key: "c".into(),
                value: json!("xxxxxx"),
                ttl: None,
                expect: Some(Expect::Absent),
            },
        ])
        .await
        .unwrap_err();
    let error = exceeded(error);
    assert_eq!((error.usage, error.requested), (8, 13));
    assert_eq!(store.kv_get("a").await.unwrap(), Some(json!("x")));
    assert_eq!(store.kv_get("c").await.unwrap(), None);
    assert_eq!(store.storage_usage().await.unwrap(), usage(2, 8));

    // Within the limit as a whole, the same transaction commits.
    store
        .kv_transact(vec![
            TxOp::Delete {
                key: "a".into(),
                expect: None,
            },
            TxOp::Set {
                key: "c".into(),
                value: json!("xxx"),
                ttl: None,
                expect: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(2, 10));
}

async fn shrinking_writes_work_even_over_the_quota(db: TestDb) {
    for key in ["a", "b", "c"] {
        set(&db.store, key, json!("0123456789")).await.unwrap();
    }
    // The operator lowers the limits below what is stored.
    let store = db.store.clone().with_storage_quota(StorageQuota {
        max_keys: Some(1),
        max_bytes: Some(1),
    });
    set(&store, "a", json!("short")).await.unwrap();
    assert_eq!(store.kv_get("a").await.unwrap(), Some(json!("short")));
    let error = exceeded(set(&store, "a", json!("longer again")).await.unwrap_err());
    assert_eq!(error.resource, QuotaResource::Bytes);
    assert_eq!(store.kv_get("a").await.unwrap(), Some(json!("short")));
    store.kv_delete("b").await.unwrap();
    store.kv_batch_delete(&["c".into()]).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(1, 8));
    assert!(set(&store, "d", json!(1)).await.is_err());
}

async fn secrets_count_toward_the_quota(db: TestDb) {
    let store = db.store.clone().with_storage_quota(keys_quota(1));
    set(&store, "entry", json!(1)).await.unwrap();
    let error = store
        .secret_set("token", &json!("s3cret"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            SecretError::QuotaExceeded(QuotaExceeded {
                resource: QuotaResource::Keys,
                ..
            })
        ),
        "{error:?}"
    );
    assert_eq!(store.secret_get("token").await.unwrap(), None);
    store.kv_delete("entry").await.unwrap();
    store.secret_set("token", &json!("s3cret")).await.unwrap();
    assert!(set(&store, "entry", json!(1)).await.is_err());
}

async fn expired_entries_are_freed_before_a_write_is_refused(db: TestDb) {
    let store = db.store.clone().with_storage_quota(keys_quota(2));
    let ttl = SetOptions {
        ttl: Some(Duration::from_secs(60)),
        if_absent: false,
    };
    store.kv_set("mortal", &json!(1), ttl).await.unwrap();
    set(&store, "permanent", json!(2)).await.unwrap();
    assert!(set(&store, "new", json!(3)).await.is_err());

    db.clock.advance(Duration::from_secs(60));
    set(&store, "new", json!(3)).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap().keys, 2);
    assert_eq!(store.kv_get("permanent").await.unwrap(), Some(json!(2)));
}

async fn concurrent_writers_never_both_pass_the_limit(db: TestDb) {
    const LIMIT: u64 = 5;
    const WRITERS: usize = 24;
    // Two stores with pools of their own, as two nodes would be.
    let nodes = [
        db.store.clone().with_storage_quota(keys_quota(LIMIT)),
        db.reopen().await.with_storage_quota(keys_quota(LIMIT)),
    ];
    let start = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = nodes[i % 2].clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                set(&store, &format!("key{i}"), json!(i)).await
            })
        })
        .collect();
    let mut written = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(()) => written += 1,
            Err(KvError::QuotaExceeded(_)) => {}
            Err(other) => panic!("unexpected failure: {other:?}"),
        }
    }
    assert_eq!(written, LIMIT);
    assert_eq!(db.store.storage_usage().await.unwrap().keys, LIMIT);
    let stored = db
        .store
        .kv_list(store::KvQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.items.len() as u64, LIMIT);
}

async fn the_migration_backfills_the_usage_of_existing_data(db: TestDb) {
    set(&db.store, "ab", json!("é")).await.unwrap();
    db.store.secret_set("ab", &json!(1)).await.unwrap();
    let expected = db.store.storage_usage().await.unwrap();
    assert_eq!(expected, usage(2, 6 + 2 + 17));
    // The database as it was before 0014, holding the same data.
    db.execute_raw(
        "DROP TRIGGER kv_usage_insert; DROP TRIGGER kv_usage_update; \
         DROP TRIGGER kv_usage_delete; DROP TRIGGER secret_usage_insert; \
         DROP TRIGGER secret_usage_update; DROP TRIGGER secret_usage_delete; \
         DROP TABLE storage_usage;",
        "DROP FUNCTION kv_usage CASCADE; DROP FUNCTION secret_usage CASCADE; \
         DROP TABLE storage_usage;",
    )
    .await;
    db.execute_raw(
        include_str!("../../migrations/sqlite/0014_storage_usage.sql"),
        include_str!("../../migrations/postgres/0014_storage_usage.sql"),
    )
    .await;

    let store = db.reopen().await;
    assert_eq!(store.storage_usage().await.unwrap(), expected);
    // And the triggers count again from there.
    set(&store, "c", json!(1)).await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(3, 25 + 2));
}
