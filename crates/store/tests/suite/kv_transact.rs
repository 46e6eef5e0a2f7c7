//! All-or-nothing transactions with expectations.

use std::sync::Arc;

use serde_json::{Value, json};
use store::{Expect, KvError, MAX_BATCH, SetOptions, TxOp};
use tokio::sync::Barrier;

use crate::harness::TestDb;

store_tests! {
    a_transaction_applies_every_operation,
    a_failed_expectation_aborts_everything_and_names_the_key,
    the_first_failed_expectation_in_operation_order_is_reported,
    expectations_see_the_entries_as_they_were_before_the_transaction,
    writes_apply_in_operation_order,
    equality_compares_numbers_by_value,
    a_database_failure_during_the_writes_rolls_back_earlier_writes,
    invalid_operations_are_refused_before_the_database,
    concurrent_compare_and_set_increments_lose_no_update,
    concurrent_claims_of_one_absent_key_have_exactly_one_winner,
}

fn set(key: &str, value: Value, expect: Option<Expect>) -> TxOp {
    TxOp::Set {
        key: key.into(),
        value,
        ttl: None,
        expect,
    }
}

async fn a_transaction_applies_every_operation(db: TestDb) {
    db.store
        .kv_set("b", &json!({"v": 1}), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_set("c", &json!("doomed"), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_set("d", &json!("kept"), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_transact(vec![
            set("a", json!("new"), Some(Expect::Absent)),
            set("b", json!({"v": 2}), Some(Expect::Equals(json!({"v": 1})))),
            TxOp::Delete {
                key: "c".into(),
                expect: Some(Expect::Present),
            },
            TxOp::Check {
                key: "d".into(),
                expect: Expect::Present,
            },
            set("e", json!(5), None),
            TxOp::Delete {
                key: "missing".into(),
                expect: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("a").await.unwrap(), Some(json!("new")));
    assert_eq!(db.store.kv_get("b").await.unwrap(), Some(json!({"v": 2})));
    assert_eq!(db.store.kv_get("c").await.unwrap(), None);
    assert_eq!(db.store.kv_get("d").await.unwrap(), Some(json!("kept")));
    assert_eq!(db.store.kv_get("e").await.unwrap(), Some(json!(5)));
    db.store.kv_transact(vec![]).await.unwrap();
}

async fn a_failed_expectation_aborts_everything_and_names_the_key(db: TestDb) {
    db.store
        .kv_set("y", &json!("still here"), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_set("z", &json!(2), SetOptions::default())
        .await
        .unwrap();
    let error = db
        .store
        .kv_transact(vec![
            set("x", json!("written?"), None),
            TxOp::Delete {
                key: "y".into(),
                expect: None,
            },
            TxOp::Check {
                key: "z".into(),
                expect: Expect::Equals(json!(1)),
            },
        ])
        .await
        .unwrap_err();
    match &error {
        KvError::ExpectationFailed { key, expected } => {
            assert_eq!(key, "z");
            assert_eq!(expected, &Expect::Equals(json!(1)));
        }
        other => panic!("unexpected error: {other:?}"),
    }
    assert!(error.to_string().contains("\"z\""), "{error}");
    assert_eq!(db.store.kv_get("x").await.unwrap(), None);
    assert_eq!(
        db.store.kv_get("y").await.unwrap(),
        Some(json!("still here"))
    );
}

async fn the_first_failed_expectation_in_operation_order_is_reported(db: TestDb) {
    db.store
        .kv_set("present", &json!(1), SetOptions::default())
        .await
        .unwrap();
    let error = db
        .store
        .kv_transact(vec![
            TxOp::Check {
                key: "present".into(),
                expect: Expect::Present,
            },
            set("present", json!(2), Some(Expect::Absent)),
            TxOp::Check {
                key: "missing".into(),
                expect: Expect::Present,
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, KvError::ExpectationFailed { key, expected: Expect::Absent } if key == "present"),
        "{error:?}"
    );
    let error = db
        .store
        .kv_transact(vec![TxOp::Delete {
            key: "missing".into(),
            expect: Some(Expect::Equals(json!(null))),
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, KvError::ExpectationFailed { key, .. } if key == "missing"),
        "{error:?}"
    );
}

async fn expectations_see_the_entries_as_they_were_before_the_transaction(db: TestDb) {
    // The Check does not see the Set before it.
    let error = db
        .store
        .kv_transact(vec![
            set("k", json!(1), None),
            TxOp::Check {
                key: "k".into(),
                expect: Expect::Present,
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(error, KvError::ExpectationFailed { .. }),
        "{error:?}"
    );
    assert_eq!(db.store.kv_get("k").await.unwrap(), None);
}

async fn writes_apply_in_operation_order(db: TestDb) {
    db.store
        .kv_set("b", &json!("old"), SetOptions::default())
        .await
        .unwrap();
    db.store
        .kv_transact(vec![
            set("a", json!(1), None),
            TxOp::Delete {
                key: "a".into(),
                expect: None,
            },
            TxOp::Delete {
                key: "b".into(),
                expect: None,
            },
            set("b", json!("new"), None),
        ])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("a").await.unwrap(), None);
    assert_eq!(db.store.kv_get("b").await.unwrap(), Some(json!("new")));
}

async fn equality_compares_numbers_by_value(db: TestDb) {
    db.store
        .kv_set(
            "n",
            &json!({"count": 1, "ratio": 0.5}),
            SetOptions::default(),
        )
        .await
        .unwrap();
    db.store
        .kv_transact(vec![set(
            "n",
            json!(2),
            Some(Expect::Equals(json!({"ratio": 0.5, "count": 1.0}))),
        )])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("n").await.unwrap(), Some(json!(2)));
}

async fn a_database_failure_during_the_writes_rolls_back_earlier_writes(db: TestDb) {
    db.store
        .kv_set("a", &json!("before"), SetOptions::default())
        .await
        .unwrap();
    db.poison_writes_of_key_named_poison().await;
    let result = db
        .store
        .kv_transact(vec![
            set("a", json!("after"), Some(Expect::Present)),
            TxOp::Delete {
                key: "a2".into(),
                expect: None,
            },
            set("poison", json!(1), None),
        ])
        .await;
    assert!(matches!(result, Err(KvError::Database(_))), "{result:?}");
    assert_eq!(db.store.kv_get("a").await.unwrap(), Some(json!("before")));
    // Locks were released: the next transaction goes through.
    db.store
        .kv_transact(vec![set("a", json!("after"), Some(Expect::Present))])
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("a").await.unwrap(), Some(json!("after")));
}

async fn invalid_operations_are_refused_before_the_database(db: TestDb) {
    let result = db
        .store
        .kv_transact(vec![
            set("ok", json!(1), None),
            TxOp::Check {
                key: String::new(),
                expect: Expect::Absent,
            },
        ])
        .await;
    assert!(
        matches!(result, Err(KvError::InvalidKey { .. })),
        "{result:?}"
    );
    assert_eq!(db.store.kv_get("ok").await.unwrap(), None);

    let too_many = (0..=MAX_BATCH)
        .map(|i| set(&format!("k{i}"), json!(i), None))
        .collect();
    assert!(matches!(
        db.store.kv_transact(too_many).await,
        Err(KvError::TooMany { .. })
    ));
}

async fn concurrent_compare_and_set_increments_lose_no_update(db: TestDb) {
    const TASKS: u64 = 4;
    const INCREMENTS: u64 = 15;
    db.store
        .kv_set("counter", &json!(0), SetOptions::default())
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut conflicts = 0_u64;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.kv_get("counter").await.unwrap().unwrap();
                        let next = json!(current.as_u64().unwrap() + 1);
                        match store
                            .kv_transact(vec![set("counter", next, Some(Expect::Equals(current)))])
                            .await
                        {
                            Ok(()) => break,
                            Err(KvError::ExpectationFailed { .. }) => conflicts += 1,
                            Err(other) => panic!("unexpected error: {other}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        db.store.kv_get("counter").await.unwrap(),
        Some(json!(TASKS * INCREMENTS))
    );
}

async fn concurrent_claims_of_one_absent_key_have_exactly_one_winner(db: TestDb) {
    const CONTENDERS: usize = 4;
    for round in 0..10 {
        let key = format!("claim:{round}");
        let barrier = Arc::new(Barrier::new(CONTENDERS));
        let tasks: Vec<_> = (0..CONTENDERS)
            .map(|contender| {
                let (store, barrier, key) = (db.store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .kv_transact(vec![
                            set(&key, json!(contender), Some(Expect::Absent)),
                            set(&format!("{key}:by:{contender}"), json!(true), None),
                        ])
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (contender, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(()) => winners.push(contender),
                Err(KvError::ExpectationFailed { .. }) => {}
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(
            db.store.kv_get(&key).await.unwrap(),
            Some(json!(winners[0]))
        );
        let markers = db
            .store
            .kv_list(store::KvQuery {
                prefix: Some(format!("{key}:by:")),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            markers.items,
            vec![(format!("{key}:by:{}", winners[0]), json!(true))]
        );
    }
}
