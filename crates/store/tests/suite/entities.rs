//! Custom entities: values, their index entries, declarations, and queries
//! walking one index in either direction through cursors.

use std::ops::Bound::{Excluded, Included, Unbounded};

use serde_json::{Value, json};
use store::{EntityError, EntityIndex, EntityPage, EntityQuery, EntityRange, Store};

use crate::harness::TestDb;

store_tests! {
    values_round_trip_and_deletes_are_idempotent,
    every_range_condition_selects_its_values,
    partitions_separate_values_and_sort_goes_both_ways,
    cursors_page_through_ties_in_both_directions,
    values_without_an_indexed_attribute_are_left_out,
    rewriting_a_value_moves_its_entries,
    declaring_a_new_index_builds_it_from_stored_values,
    dropped_indexes_are_refused,
    filters_see_every_row_and_long_rejections_end_with_a_cursor,
    bad_cursors_keys_and_bounds_are_refused,
}

fn index(name: &str, partition: &[&str], range: &str) -> EntityIndex {
    EntityIndex {
        name: name.into(),
        partition: partition.iter().map(|p| p.to_string()).collect(),
        range: range.into(),
    }
}

fn query(index: &str, partition: Vec<Value>, range: EntityRange) -> EntityQuery {
    EntityQuery {
        entity: "reminder".into(),
        index: index.into(),
        partition,
        range,
        descending: false,
        cursor: None,
        limit: 100,
    }
}

fn keys(page: &EntityPage) -> Vec<&str> {
    page.items.iter().map(|(key, _)| key.as_str()).collect()
}

async fn run(store: &Store, q: &EntityQuery) -> EntityPage {
    store.entity_query(q, &|_| true).await.unwrap()
}

/// The reminder entity with `by-ts` (range ts) and `by-day` (partition day, range ts).
async fn reminders(store: &Store, rows: &[(&str, &str, i64)]) {
    store
        .entity_declare(
            "reminder",
            &[index("by-ts", &[], "ts"), index("by-day", &["day"], "ts")],
        )
        .await
        .unwrap();
    for (key, day, ts) in rows {
        store
            .entity_set("reminder", key, &json!({"day": day, "ts": ts, "text": key}))
            .await
            .unwrap();
    }
}

async fn values_round_trip_and_deletes_are_idempotent(db: TestDb) {
    let store = &db.store;
    assert_eq!(store.entity_get("reminder", "a").await.unwrap(), None);
    let value = json!({"ts": 1.5, "nested": {"list": [1, "x"]}, "ok": true});
    store.entity_set("reminder", "a", &value).await.unwrap();
    assert_eq!(
        store.entity_get("reminder", "a").await.unwrap(),
        Some(value)
    );
    // Another entity's key of the same name is another value; so is kv's.
    assert_eq!(store.entity_get("other", "a").await.unwrap(), None);
    assert_eq!(store.kv_get("a").await.unwrap(), None);
    store.entity_delete("reminder", "a").await.unwrap();
    store.entity_delete("reminder", "a").await.unwrap();
    assert_eq!(store.entity_get("reminder", "a").await.unwrap(), None);
}

async fn every_range_condition_selects_its_values(db: TestDb) {
    let store = &db.store;
    reminders(
        store,
        &[
            ("a", "mon", 10),
            ("b", "mon", 20),
            ("c", "tue", 30),
            ("d", "tue", 40),
        ],
    )
    .await;
    let by_ts = |range| query("by-ts", vec![], range);
    let between = |lower, upper| by_ts(EntityRange::Between(lower, upper));
    let cases = [
        (by_ts(EntityRange::All), vec!["a", "b", "c", "d"]),
        (between(Included(json!(20)), Included(json!(20))), vec!["b"]),
        (
            between(Included(json!(20)), Included(json!(30))),
            vec!["b", "c"],
        ),
        (between(Excluded(json!(20)), Unbounded), vec!["c", "d"]),
        (between(Included(json!(20)), Unbounded), vec!["b", "c", "d"]),
        (between(Unbounded, Excluded(json!(30))), vec!["a", "b"]),
        (between(Unbounded, Included(json!(30))), vec!["a", "b", "c"]),
        (
            between(Included(json!(15.5)), Excluded(json!(1e9))),
            vec!["b", "c", "d"],
        ),
        (between(Included(json!(50)), Unbounded), vec![]),
    ];
    for (q, expected) in cases {
        assert_eq!(keys(&run(store, &q).await), expected, "{:?}", q.range);
    }
    store
        .entity_declare("reminder", &[index("by-day-name", &[], "day")])
        .await
        .unwrap();
    let by_day = |range| query("by-day-name", vec![], range);
    let tuesday = run(store, &by_day(EntityRange::Prefix("tu".into()))).await;
    assert_eq!(keys(&tuesday), ["c", "d"]);
    let none = run(store, &by_day(EntityRange::Prefix("w".into()))).await;
    assert!(none.items.is_empty());
}

async fn partitions_separate_values_and_sort_goes_both_ways(db: TestDb) {
    let store = &db.store;
    reminders(
        store,
        &[
            ("a", "mon", 10),
            ("b", "mon", 20),
            ("c", "tue", 5),
            ("d", "mon", 15),
        ],
    )
    .await;
    let monday = query("by-day", vec![json!("mon")], EntityRange::All);
    assert_eq!(keys(&run(store, &monday).await), ["a", "d", "b"]);
    let descending = EntityQuery {
        descending: true,
        ..monday.clone()
    };
    assert_eq!(keys(&run(store, &descending).await), ["b", "d", "a"]);
    let below = EntityQuery {
        range: EntityRange::Between(Unbounded, Excluded(json!(20))),
        ..descending
    };
    assert_eq!(keys(&run(store, &below).await), ["d", "a"]);
    let elsewhere = query("by-day", vec![json!("wed")], EntityRange::All);
    assert!(run(store, &elsewhere).await.items.is_empty());
}

async fn cursors_page_through_ties_in_both_directions(db: TestDb) {
    let store = &db.store;
    // Ties on ts are ordered by key; pages of 2 must neither skip nor repeat.
    let rows: Vec<(String, i64)> = (0..9)
        .map(|i| (format!("k{i}"), i64::from(i / 3)))
        .collect();
    let rows: Vec<(&str, &str, i64)> = rows.iter().map(|(k, ts)| (k.as_str(), "d", *ts)).collect();
    reminders(store, &rows).await;
    for descending in [false, true] {
        let mut q = EntityQuery {
            limit: 2,
            descending,
            ..query("by-day", vec![json!("d")], EntityRange::All)
        };
        let mut seen = Vec::new();
        loop {
            let page = run(store, &q).await;
            seen.extend(keys(&page).iter().map(|k| k.to_string()));
            match page.next_cursor {
                Some(cursor) => q.cursor = Some(cursor),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..9).map(|i| format!("k{i}")).collect();
        if descending {
            expected.reverse();
        }
        assert_eq!(seen, expected, "descending: {descending}");
    }
    // A full last page has no cursor.
    let exact = EntityQuery {
        limit: 9,
        ..query("by-ts", vec![], EntityRange::All)
    };
    assert_eq!(run(store, &exact).await.next_cursor, None);
}

async fn values_without_an_indexed_attribute_are_left_out(db: TestDb) {
    let store = &db.store;
    reminders(store, &[("a", "mon", 1)]).await;
    for (key, value) in [
        ("no-ts", json!({"day": "mon"})),
        ("null-ts", json!({"day": "mon", "ts": null})),
        ("object-ts", json!({"day": "mon", "ts": {"at": 1}})),
        ("no-object", json!([1, 2])),
    ] {
        store.entity_set("reminder", key, &value).await.unwrap();
        assert_eq!(
            store.entity_get("reminder", key).await.unwrap(),
            Some(value)
        );
    }
    let all = query("by-ts", vec![], EntityRange::All);
    assert_eq!(keys(&run(store, &all).await), ["a"]);
}

async fn rewriting_a_value_moves_its_entries(db: TestDb) {
    let store = &db.store;
    reminders(store, &[("a", "mon", 1), ("b", "mon", 2)]).await;
    store
        .entity_set("reminder", "a", &json!({"day": "tue", "ts": 3}))
        .await
        .unwrap();
    let monday = query("by-day", vec![json!("mon")], EntityRange::All);
    assert_eq!(keys(&run(store, &monday).await), ["b"]);
    let all = query("by-ts", vec![], EntityRange::All);
    assert_eq!(keys(&run(store, &all).await), ["b", "a"]);
    store.entity_delete("reminder", "b").await.unwrap();
    assert_eq!(keys(&run(store, &all).await), ["a"]);
    assert!(run(store, &monday).await.items.is_empty());
}

async fn declaring_a_new_index_builds_it_from_stored_values(db: TestDb) {
    let store = &db.store;
    reminders(store, &[("a", "mon", 2), ("b", "tue", 1)]).await;
    let declared = store
        .entity_declare(
            "reminder",
            &[
                index("by-ts", &[], "ts"),
                index("by-day", &[], "day"),
                index("by-text", &[], "text"),
            ],
        )
        .await
        .unwrap();
    // by-day changed (no partition now) and by-text is new: both built.
    assert_eq!(declared.built, ["by-day", "by-text"]);
    assert!(declared.dropped.is_empty());
    let by_day = query("by-day", vec![], EntityRange::All);
    assert_eq!(keys(&run(store, &by_day).await), ["a", "b"]);
    let by_text = EntityQuery {
        descending: true,
        ..query("by-text", vec![], EntityRange::All)
    };
    assert_eq!(keys(&run(store, &by_text).await), ["b", "a"]);
    // The same declaration again changes nothing.
    let again = store
        .entity_declare(
            "reminder",
            &[
                index("by-ts", &[], "ts"),
                index("by-day", &[], "day"),
                index("by-text", &[], "text"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(again, store::EntityDeclared::default());
}

async fn dropped_indexes_are_refused(db: TestDb) {
    let store = &db.store;
    reminders(store, &[("a", "mon", 2)]).await;
    let declared = store
        .entity_declare("reminder", &[index("by-ts", &[], "ts")])
        .await
        .unwrap();
    assert_eq!(declared.dropped, ["by-day"]);
    let gone = query("by-day", vec![json!("mon")], EntityRange::All);
    let error = store.entity_query(&gone, &|_| true).await.unwrap_err();
    assert!(
        matches!(&error, EntityError::UnknownIndex { entity, index } if entity == "reminder" && index == "by-day"),
        "{error:?}"
    );
    // Writes after the drop no longer index it; the value is still there.
    store
        .entity_set("reminder", "b", &json!({"day": "mon", "ts": 1}))
        .await
        .unwrap();
    let all = query("by-ts", vec![], EntityRange::All);
    assert_eq!(keys(&run(store, &all).await), ["b", "a"]);
}

async fn filters_see_every_row_and_long_rejections_end_with_a_cursor(db: TestDb) {
    let store = &db.store;
    let rows: Vec<(String, i64)> = (0..1005)
        .map(|i| (format!("k{i:04}"), i64::from(i)))
        .collect();
    let rows: Vec<(&str, &str, i64)> = rows.iter().map(|(k, ts)| (k.as_str(), "d", *ts)).collect();
    reminders(store, &rows[..20]).await;
    let even = |value: &Value| value["ts"].as_i64().is_some_and(|ts| ts % 2 == 0);
    let mut q = EntityQuery {
        limit: 3,
        ..query("by-ts", vec![], EntityRange::All)
    };
    let page = store.entity_query(&q, &even).await.unwrap();
    assert_eq!(keys(&page), ["k0000", "k0002", "k0004"]);
    q.cursor = page.next_cursor;
    let page = store.entity_query(&q, &even).await.unwrap();
    assert_eq!(keys(&page), ["k0006", "k0008", "k0010"]);
    // 1005 rows and a filter that only takes the last: the first call stops
    // after reading 1000 rows with an empty page and a cursor.
    reminders(store, &rows[20..]).await;
    let last = |value: &Value| value["ts"] == json!(1004);
    let mut q = query("by-ts", vec![], EntityRange::All);
    let first = store.entity_query(&q, &last).await.unwrap();
    assert!(first.items.is_empty());
    q.cursor = first.next_cursor;
    assert!(q.cursor.is_some());
    let second = store.entity_query(&q, &last).await.unwrap();
    assert_eq!(keys(&second), ["k1004"]);
    assert_eq!(second.next_cursor, None);
}

async fn bad_cursors_keys_and_bounds_are_refused(db: TestDb) {
    let store = &db.store;
    reminders(store, &[("a", "mon", 1)]).await;
    let bad_cursor = EntityQuery {
        cursor: Some("not a cursor".into()),
        ..query("by-ts", vec![], EntityRange::All)
    };
    assert!(matches!(
        store.entity_query(&bad_cursor, &|_| true).await,
        Err(EntityError::InvalidCursor)
    ));
    let object_bound = query(
        "by-ts",
        vec![],
        EntityRange::Between(Included(json!({"a": 1})), Unbounded),
    );
    assert!(matches!(
        store.entity_query(&object_bound, &|_| true).await,
        Err(EntityError::NotIndexable(v)) if v == json!({"a": 1})
    ));
    let null_partition = query("by-day", vec![json!(null)], EntityRange::All);
    assert!(matches!(
        store.entity_query(&null_partition, &|_| true).await,
        Err(EntityError::NotIndexable(Value::Null))
    ));
    assert!(matches!(
        store.entity_set("reminder", "", &json!({})).await,
        Err(EntityError::InvalidKey { .. })
    ));
}
