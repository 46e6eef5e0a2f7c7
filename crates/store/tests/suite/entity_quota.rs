//! Custom entity values count toward the storage quota (migration 0017):
//! one key each, of the entity name, key and JSON text bytes; index entries
//! are derived and do not count. A write past the quota fails as a whole,
//! deletes and shrinks always work, and the migration backfills.

use serde_json::json;
use store::{EntityError, EntityIndex, QuotaResource, StorageQuota, StorageUsage, Store};

use crate::harness::TestDb;

store_tests! {
    entity_values_count_their_entity_key_and_json_bytes,
    an_entity_write_past_the_quota_fails_and_writes_nothing,
    entity_deletes_and_shrinks_work_even_over_the_quota,
    the_migration_backfills_the_usage_of_existing_entities,
}

fn usage(keys: u64, bytes: u64) -> StorageUsage {
    StorageUsage { keys, bytes }
}

/// "task" with one index on `n`, so every write also writes index rows.
async fn declare_task(store: &Store) {
    let by_n = EntityIndex {
        name: "by-n".into(),
        partition: vec![],
        range: "n".into(),
    };
    store.entity_declare("task", &[by_n]).await.unwrap();
}

async fn entity_values_count_their_entity_key_and_json_bytes(db: TestDb) {
    let store = &db.store;
    declare_task(store).await;
    // "task" (4) + "é" (2) + {"n":1} (7); the index entry is not counted.
    store
        .entity_set("task", "é", &json!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(1, 13));
    // Rewriting replaces the value's bytes: {"n":10} is 8.
    store
        .entity_set("task", "é", &json!({"n": 10}))
        .await
        .unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(1, 14));
    // A kv entry of the same key is another key.
    store
        .kv_set("é", &json!(1), Default::default())
        .await
        .unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(2, 14 + 3));
    store.entity_delete("task", "é").await.unwrap();
    store.kv_delete("é").await.unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(0, 0));
}

async fn an_entity_write_past_the_quota_fails_and_writes_nothing(db: TestDb) {
    declare_task(&db.store).await;
    let store = db.store.clone().with_storage_quota(StorageQuota {
        max_keys: Some(2),
        max_bytes: Some(30),
    });
    store
        .entity_set("task", "a", &json!({"n": 1}))
        .await
        .unwrap();
    store
        .entity_set("task", "b", &json!({"n": 2}))
        .await
        .unwrap();
    let before = store.storage_usage().await.unwrap();
    assert_eq!(before, usage(2, 24));

    let refused = |error: EntityError| match error {
        EntityError::QuotaExceeded(exceeded) => exceeded,
        other => panic!("expected a quota error, got {other:?}"),
    };
    let keys = refused(
        store
            .entity_set("task", "c", &json!({"n": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(keys.resource, QuotaResource::Keys);
    assert!(keys.to_string().contains("custom entity values"), "{keys}");
    // Growing a value past the byte limit is refused too.
    let bytes = refused(
        store
            .entity_set("task", "a", &json!({"n": 1, "note": "longer"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(bytes.resource, QuotaResource::Bytes);

    // Nothing of either write landed: not the value, not its index entry.
    assert_eq!(store.storage_usage().await.unwrap(), before);
    assert_eq!(store.entity_get("task", "c").await.unwrap(), None);
    assert_eq!(
        store.entity_get("task", "a").await.unwrap(),
        Some(json!({"n": 1}))
    );
    let query = store::EntityQuery {
        entity: "task".into(),
        index: "by-n".into(),
        partition: vec![],
        range: store::EntityRange::All,
        descending: false,
        cursor: None,
        limit: 10,
    };
    let page = store.entity_query(&query, &|_| true).await.unwrap();
    let found: Vec<_> = page.items.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(found, ["a", "b"]);
}

async fn entity_deletes_and_shrinks_work_even_over_the_quota(db: TestDb) {
    declare_task(&db.store).await;
    for key in ["a", "b", "c"] {
        db.store
            .entity_set("task", key, &json!({"n": 1, "pad": "xxxxxxxx"}))
            .await
            .unwrap();
    }
    // A quota lowered below what is stored.
    let store = db.store.clone().with_storage_quota(StorageQuota {
        max_keys: Some(1),
        max_bytes: Some(10),
    });
    store
        .entity_set("task", "a", &json!({"n": 1}))
        .await
        .unwrap();
    store.entity_delete("task", "b").await.unwrap();
    store.entity_delete("task", "absent").await.unwrap();
    assert_eq!(
        store.entity_get("task", "a").await.unwrap(),
        Some(json!({"n": 1}))
    );
    assert_eq!(store.entity_get("task", "b").await.unwrap(), None);
    let pad = r#"{"n":1,"pad":"xxxxxxxx"}"#.len() as u64;
    assert_eq!(
        store.storage_usage().await.unwrap(),
        usage(2, 2 * 5 + 7 + pad)
    );
}

async fn the_migration_backfills_the_usage_of_existing_entities(db: TestDb) {
    declare_task(&db.store).await;
    db.store
        .entity_set("task", "a", &json!({"n": 1}))
        .await
        .unwrap();
    db.store
        .kv_set("ab", &json!("é"), Default::default())
        .await
        .unwrap();
    let expected = db.store.storage_usage().await.unwrap();
    assert_eq!(expected, usage(2, 12 + 6));
    // The database as it was before 0017, its counter blind to entities.
    db.execute_raw(
        "DROP TRIGGER entity_value_usage_insert; DROP TRIGGER entity_value_usage_update; \
         DROP TRIGGER entity_value_usage_delete; \
         UPDATE storage_usage SET keys = 1, bytes = 6;",
        "DROP FUNCTION entity_value_usage CASCADE; \
         UPDATE storage_usage SET keys = 1, bytes = 6;",
    )
    .await;
    db.execute_raw(
        include_str!("../../migrations/sqlite/0017_entities_count_toward_the_quota.sql"),
        include_str!("../../migrations/postgres/0017_entities_count_toward_the_quota.sql"),
    )
    .await;

    let store = db.reopen().await;
    assert_eq!(store.storage_usage().await.unwrap(), expected);
    // And the triggers count entities again from there.
    store
        .entity_set("task", "b", &json!({"n": 2}))
        .await
        .unwrap();
    assert_eq!(store.storage_usage().await.unwrap(), usage(3, 18 + 12));
}
