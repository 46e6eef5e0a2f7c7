//! Expiry, driven by the injected clock: no test waits for real time.

use std::time::Duration;

use serde_json::json;
use store::{Expect, KvError, KvQuery, SetOptions, TxOp};

use crate::harness::TestDb;

store_tests! {
    an_entry_is_visible_until_its_ttl_runs_out,
    expired_entries_are_invisible_to_every_read,
    an_expired_entry_counts_as_absent_for_if_absent,
    overwriting_without_ttl_makes_an_entry_permanent,
    reading_an_expired_entry_deletes_it,
    purge_deletes_only_expired_entries_up_to_the_limit,
}

const TTL: Duration = Duration::from_secs(10);

fn with_ttl() -> SetOptions {
    SetOptions {
        ttl: Some(TTL),
        if_absent: false,
    }
}

async fn an_entry_is_visible_until_its_ttl_runs_out(db: TestDb) {
    db.store.kv_set("k", &json!("v"), with_ttl()).await.unwrap();
    db.clock.advance(TTL - Duration::from_millis(1));
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!("v")));
    db.clock.advance(Duration::from_millis(1));
    assert_eq!(db.store.kv_get("k").await.unwrap(), None);
}

async fn expired_entries_are_invisible_to_every_read(db: TestDb) {
    db.store
        .kv_set("live", &json!(1), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_set("mortal", &json!(2), with_ttl())
        .await
        .unwrap();
    db.clock.advance(TTL);

    let page = db.store.kv_list(KvQuery::default()).await.unwrap();
    assert_eq!(page.items, vec![("live".to_string(), json!(1))]);
    let found = db
        .store
        .kv_batch_get(&["live".into(), "mortal".into()])
        .await
        .unwrap();
    assert_eq!(found, vec![("live".to_string(), json!(1))]);
    let error = db
        .store
        .kv_transact(vec![TxOp::Check {
            key: "mortal".into(),
            expect: Expect::Present,
        }])
        .await
        .unwrap_err();
    assert!(matches!(error, KvError::ExpectationFailed { ref key, .. } if key == "mortal"));
    db.store
        .kv_transact(vec![TxOp::Check {
            key: "mortal".into(),
            expect: Expect::Absent,
        }])
        .await
        .unwrap();
}

async fn an_expired_entry_counts_as_absent_for_if_absent(db: TestDb) {
    db.store
        .kv_set("lock", &json!("old holder"), with_ttl())
        .await
        .unwrap();
    let claim = SetOptions {
        ttl: Some(TTL),
        if_absent: true,
    };
    assert!(matches!(
        db.store.kv_set("lock", &json!("new holder"), claim).await,
        Err(KvError::KeyExists { .. })
    ));
    db.clock.advance(TTL);
    db.store
        .kv_set("lock", &json!("new holder"), claim)
        .await
        .unwrap();
    assert_eq!(
        db.store.kv_get("lock").await.unwrap(),
        Some(json!("new holder"))
    );
    // The new entry has a TTL of its own, counted from now.
    db.clock.advance(TTL - Duration::from_millis(1));
    assert_eq!(
        db.store.kv_get("lock").await.unwrap(),
        Some(json!("new holder"))
    );
}

async fn overwriting_without_ttl_makes_an_entry_permanent(db: TestDb) {
    db.store.kv_set("k", &json!(1), with_ttl()).await.unwrap();
    db.store
        .kv_set("k", &json!(2), SetOptions::default())
        .await
        .unwrap();
    db.clock.advance(Duration::from_secs(3600 * 24 * 365));
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!(2)));
}

async fn reading_an_expired_entry_deletes_it(db: TestDb) {
    db.store.kv_set("k", &json!(1), with_ttl()).await.unwrap();
    db.clock.advance(TTL);
    assert_eq!(db.store.kv_get("k").await.unwrap(), None);
    // Nothing is left for the sweeper: the read already removed the row.
    assert_eq!(db.store.kv_purge_expired(100).await.unwrap(), 0);
}

async fn purge_deletes_only_expired_entries_up_to_the_limit(db: TestDb) {
    for i in 0..5 {
        db.store
            .kv_set(&format!("short:{i}"), &json!(i), with_ttl())
            .await
            .unwrap();
    }
    db.store
        .kv_set(
            "long",
            &json!("l"),
            SetOptions {
                ttl: Some(TTL * 10),
                if_absent: false,
            },
        )
        .await
        .unwrap();
    db.store
        .kv_set("forever", &json!("f"), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(db.store.kv_purge_expired(100).await.unwrap(), 0);

    db.clock.advance(TTL);
    assert_eq!(db.store.kv_purge_expired(3).await.unwrap(), 3);
    assert_eq!(db.store.kv_purge_expired(3).await.unwrap(), 2);
    assert_eq!(db.store.kv_purge_expired(3).await.unwrap(), 0);

    // What survives is visible when the clock goes back: the sweep did not
    // touch entries that were still live.
    db.clock.set(crate::harness::start_instant());
    let page = db.store.kv_list(KvQuery::default()).await.unwrap();
    let keys: Vec<&str> = page.items.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["forever", "long"]);
}
