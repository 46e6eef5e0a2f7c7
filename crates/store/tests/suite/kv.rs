//! Single-entry reads and writes.

use std::sync::Arc;

use serde_json::{Value, json};
use store::{KvError, MAX_VALUE_BYTES, SetOptions};
use tokio::sync::Barrier;

use crate::harness::TestDb;

store_tests! {
    a_missing_key_reads_as_none,
    values_round_trip_exactly,
    a_set_overwrites_the_previous_value,
    delete_removes_and_succeeds_when_absent,
    if_absent_refuses_a_present_key_and_keeps_its_value,
    if_absent_writes_an_absent_key,
    concurrent_if_absent_sets_of_one_key_have_exactly_one_winner,
    invalid_keys_are_refused_before_the_database,
    oversized_values_are_refused,
}

async fn a_missing_key_reads_as_none(db: TestDb) {
    assert_eq!(db.store.kv_get("nothing-here").await.unwrap(), None);
}

async fn values_round_trip_exactly(db: TestDb) {
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(-42),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5e300),
        json!(0.1),
        json!("plain"),
        json!("unicode é 日本語 😀, quotes \" and \\ and NUL \u{0} and \u{1f}"),
        json!([]),
        json!({}),
        json!({"z": 1, "a": [1, {"nested": [true, null, "x"]}], "m": {"deep": {"er": 2}}}),
    ];
    for (i, value) in values.iter().enumerate() {
        let key = format!("value:{i}");
        db.store
            .kv_set(&key, value, SetOptions::default())
            .await
            .unwrap();
        assert_eq!(
            db.store.kv_get(&key).await.unwrap().as_ref(),
            Some(value),
            "{key}"
        );
    }
}

async fn a_set_overwrites_the_previous_value(db: TestDb) {
    db.store
        .kv_set("k", &json!(1), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_set("k", &json!({"v": 2}), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!({"v": 2})));
}

async fn delete_removes_and_succeeds_when_absent(db: TestDb) {
    db.store
        .kv_set("k", &json!("v"), SetOptions::default())
        .await
        .unwrap();
    db.store.kv_delete("k").await.unwrap();
    assert_eq!(db.store.kv_get("k").await.unwrap(), None);
    db.store.kv_delete("k").await.unwrap();
    db.store.kv_delete("never-existed").await.unwrap();
}

async fn if_absent_refuses_a_present_key_and_keeps_its_value(db: TestDb) {
    db.store
        .kv_set("k", &json!("first"), SetOptions::default())
        .await
        .unwrap();
    let error = db
        .store
        .kv_set(
            "k",
            &json!("second"),
            SetOptions {
                if_absent: true,
                ttl: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, KvError::KeyExists { key } if key == "k"),
        "{error:?}"
    );
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!("first")));
}

async fn if_absent_writes_an_absent_key(db: TestDb) {
    let options = SetOptions {
        if_absent: true,
        ttl: None,
    };
    db.store
        .kv_set("k", &json!("first"), options)
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!("first")));
    db.store.kv_delete("k").await.unwrap();
    db.store
        .kv_set("k", &json!("again"), options)
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("k").await.unwrap(), Some(json!("again")));
}

async fn concurrent_if_absent_sets_of_one_key_have_exactly_one_winner(db: TestDb) {
    const ROUNDS: usize = 20;
    let options = SetOptions {
        if_absent: true,
        ttl: None,
    };
    for round in 0..ROUNDS {
        let key = format!("race:{round}");
        let barrier = Arc::new(Barrier::new(2));
        let contenders: Vec<_> = (0..2)
            .map(|contender| {
                let (store, barrier, key) = (db.store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.kv_set(&key, &json!(contender), options).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (contender, task) in contenders.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(()) => winners.push(contender),
                Err(KvError::KeyExists { .. }) => {}
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(
            db.store.kv_get(&key).await.unwrap(),
            Some(json!(winners[0]))
        );
    }
}

async fn invalid_keys_are_refused_before_the_database(db: TestDb) {
    let too_long = "k".repeat(501);
    for key in ["", too_long.as_str(), "nul\0inside"] {
        let set = db.store.kv_set(key, &json!(1), SetOptions::default()).await;
        assert!(
            matches!(set, Err(KvError::InvalidKey { .. })),
            "{key:?}: {set:?}"
        );
        assert!(matches!(
            db.store.kv_get(key).await,
            Err(KvError::InvalidKey { .. })
        ));
        assert!(matches!(
            db.store.kv_delete(key).await,
            Err(KvError::InvalidKey { .. })
        ));
    }
    let longest = "é".repeat(500);
    db.store
        .kv_set(&longest, &json!(1), SetOptions::default())
        .await
        .unwrap();
    assert_eq!(db.store.kv_get(&longest).await.unwrap(), Some(json!(1)));
}

async fn oversized_values_are_refused(db: TestDb) {
    // Two quotes make the JSON text one byte too large.
    let too_large = Value::String("x".repeat(MAX_VALUE_BYTES - 1));
    let error = db
        .store
        .kv_set("big", &too_large, SetOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, KvError::ValueTooLarge { .. }), "{error:?}");
    assert_eq!(db.store.kv_get("big").await.unwrap(), None);

    let largest = Value::String("x".repeat(MAX_VALUE_BYTES - 2));
    db.store
        .kv_set("big", &largest, SetOptions::default())
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("big").await.unwrap(), Some(largest));
}
