//! The runtime's [`runtime::KvStore`] over a [`Store`]: what scripts reach
//! with Forge `storage` and `@forge/kvs`, persisted in Clockwork's database.
//!
//! The runtime has already checked every key, value, page size and batch
//! size against the script API's rules (which are stricter than the
//! store's), so this adapter only translates calls and errors. Errors keep
//! their meaning: a taken key is [`runtime::KvError::KeyExists`], a failed
//! transaction check is [`runtime::KvError::ConditionFailed`] naming its key,
//! a write beyond the storage quota is [`runtime::KvError::QuotaExceeded`]
//! with the store's message, and everything else is a backend failure with its whole cause chain
//! (never a secret's value: the store's errors name keys only).

use std::fmt;
use std::time::Duration;

use runtime::{
    EntityCatalog, EntityQuery, EntityRange, KvError as ScriptKvError, KvExpect, KvOp, KvSetItem,
    KvStore,
};
use serde_json::Value;
use store::{EntityError, Expect, KvError, KvItem, KvQuery, SecretError, SetOptions, Store, TxOp};

/// Scripts' key-value storage and secrets in a [`Store`].
///
/// Every script of an instance shares it (Forge has one store per app
/// installation). Secrets need a store opened with
/// [`Store::with_secret_key`]; without one, secret calls fail clearly.
#[derive(Clone)]
pub struct ScriptStorage {
    store: Store,
}

impl ScriptStorage {
    /// Storage for scripts in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl fmt::Debug for ScriptStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptStorage")
            .field("engine", &self.store.engine())
            .finish()
    }
}

#[async_trait::async_trait]
impl KvStore for ScriptStorage {
    async fn get(&self, key: &str) -> Result<Option<Value>, ScriptKvError> {
        self.store.kv_get(key).await.map_err(from_kv)
    }

    async fn set(
        &self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        if_absent: bool,
    ) -> Result<(), ScriptKvError> {
        self.store
            .kv_set(key, &value, SetOptions { ttl, if_absent })
            .await
            .map_err(from_kv)
    }

    async fn delete(&self, key: &str) -> Result<(), ScriptKvError> {
        self.store.kv_delete(key).await.map_err(from_kv)
    }

    async fn list(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<runtime::KvPage, ScriptKvError> {
        let query = KvQuery {
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            // The runtime caps pages at 100; saturating keeps any larger
            // request a (clamped) request rather than a wrapped one.
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            cursor: cursor.map(str::to_owned),
        };
        let page = self.store.kv_list(query).await.map_err(from_kv)?;
        Ok(runtime::KvPage {
            items: page.items,
            next_cursor: page.next_cursor,
        })
    }

    async fn batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, ScriptKvError> {
        self.store.kv_batch_get(keys).await.map_err(from_kv)
    }

    async fn batch_set(&self, items: Vec<KvSetItem>) -> Result<(), ScriptKvError> {
        let items = items
            .into_iter()
            .map(|item| KvItem {
                key: item.key,
                value: item.value,
                ttl: item.ttl,
            })
            .collect();
        self.store.kv_batch_set(items).await.map_err(from_kv)
    }

    async fn batch_delete(&self, keys: &[String]) -> Result<(), ScriptKvError> {
        self.store.kv_batch_delete(keys).await.map_err(from_kv)
    }

    async fn transact(&self, ops: Vec<KvOp>) -> Result<(), ScriptKvError> {
        let ops = ops.into_iter().map(tx_op).collect();
        self.store.kv_transact(ops).await.map_err(from_kv)
    }

    async fn secret_get(&self, key: &str) -> Result<Option<Value>, ScriptKvError> {
        self.store.secret_get(key).await.map_err(from_secret)
    }

    async fn secret_set(&self, key: &str, value: Value) -> Result<(), ScriptKvError> {
        self.store
            .secret_set(key, &value)
            .await
            .map_err(from_secret)
    }

    async fn secret_delete(&self, key: &str) -> Result<(), ScriptKvError> {
        self.store.secret_delete(key).await.map_err(from_secret)
    }

    async fn entity_declare(&self, catalog: &EntityCatalog) -> Result<(), ScriptKvError> {
        for entity in catalog.entities() {
            let indexes: Vec<store::EntityIndex> = entity
                .indexes
                .iter()
                .map(|index| store::EntityIndex {
                    name: index.name.clone(),
                    partition: index.partition.clone(),
                    range: index.range.clone(),
                })
                .collect();
            let declared = self
                .store
                .entity_declare(&entity.name, &indexes)
                .await
                .map_err(from_entity)?;
            for index in &declared.built {
                tracing::info!(entity = %entity.name, index, "custom entity index built");
            }
            for index in &declared.dropped {
                tracing::info!(entity = %entity.name, index, "custom entity index dropped");
            }
        }
        Ok(())
    }

    async fn entity_get(&self, entity: &str, key: &str) -> Result<Option<Value>, ScriptKvError> {
        self.store
            .entity_get(entity, key)
            .await
            .map_err(from_entity)
    }

    async fn entity_set(&self, entity: &str, key: &str, value: Value) -> Result<(), ScriptKvError> {
        self.store
            .entity_set(entity, key, &value)
            .await
            .map_err(from_entity)
    }

    async fn entity_delete(&self, entity: &str, key: &str) -> Result<(), ScriptKvError> {
        self.store
            .entity_delete(entity, key)
            .await
            .map_err(from_entity)
    }

    async fn entity_query(
        &self,
        query: EntityQuery,
        keep: &(dyn for<'v> Fn(&'v Value) -> bool + Send + Sync),
    ) -> Result<runtime::KvPage, ScriptKvError> {
        let query = store::EntityQuery {
            entity: query.entity,
            index: query.index,
            partition: query.partition,
            range: match query.range {
                EntityRange::All => store::EntityRange::All,
                EntityRange::Prefix(prefix) => store::EntityRange::Prefix(prefix),
                EntityRange::Between(lower, upper) => store::EntityRange::Between(lower, upper),
            },
            descending: query.descending,
            cursor: query.cursor,
            // The runtime caps pages at 100; saturating keeps a larger one clamped.
            limit: u32::try_from(query.limit).unwrap_or(u32::MAX),
        };
        let page = self
            .store
            .entity_query(&query, keep)
            .await
            .map_err(from_entity)?;
        Ok(runtime::KvPage {
            items: page.items,
            next_cursor: page.next_cursor,
        })
    }
}

/// Entity failures the script can act on keep their message alone; the
/// database's keep their causes.
fn from_entity(error: EntityError) -> ScriptKvError {
    match error {
        EntityError::InvalidCursor => {
            ScriptKvError::Backend("invalid cursor: pass a nextCursor of this query".into())
        }
        EntityError::UnknownIndex { entity, index } => ScriptKvError::Backend(format!(
            "index '{index}' of entity '{entity}' is not built in the database yet: \
             restart Clockwork after declaring it, on every node"
        )),
        EntityError::QuotaExceeded(exceeded) => ScriptKvError::QuotaExceeded(exceeded.to_string()),
        other => ScriptKvError::Backend(with_causes(&other)),
    }
}

fn tx_op(op: KvOp) -> TxOp {
    match op {
        KvOp::Set(item) => TxOp::Set {
            key: item.key,
            value: item.value,
            ttl: item.ttl,
            expect: None,
        },
        KvOp::Delete { key } => TxOp::Delete { key, expect: None },
        KvOp::Check { key, expect } => TxOp::Check {
            key,
            expect: match expect {
                KvExpect::Absent => Expect::Absent,
                KvExpect::Present => Expect::Present,
                KvExpect::Equals(value) => Expect::Equals(value),
            },
        },
    }
}

fn from_kv(error: KvError) -> ScriptKvError {
    match error {
        KvError::KeyExists { key } => ScriptKvError::KeyExists(key),
        KvError::ExpectationFailed { key, .. } => ScriptKvError::ConditionFailed(key),
        KvError::QuotaExceeded(exceeded) => ScriptKvError::QuotaExceeded(exceeded.to_string()),
        other => ScriptKvError::Backend(with_causes(&other)),
    }
}

fn from_secret(error: SecretError) -> ScriptKvError {
    match error {
        SecretError::QuotaExceeded(exceeded) => ScriptKvError::QuotaExceeded(exceeded.to_string()),
        other => ScriptKvError::Backend(with_causes(&other)),
    }
}

/// `error: cause: cause…` on one line, as a script's error message carries it.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    //! The adapter on both engines: a fresh SQLite file, and a fresh
    //! PostgreSQL schema in the test database (as the suite's harness does).

    use std::sync::Arc;

    use serde_json::json;
    use store::{ManualClock, SecretKey, StorageQuota};

    use super::*;

    /// Runs `test` on SQLite, then on PostgreSQL, each time with a fresh
    /// database, a manual clock and a secret key.
    async fn on_both_engines<F, Fut>(test: F)
    where
        F: Fn(ScriptStorage, Arc<ManualClock>) -> Fut,
        Fut: Future<Output = ()>,
    {
        on_both_engines_within(StorageQuota::default(), test).await;
    }

    /// As `on_both_engines`, with the store limited to `quota`.
    async fn on_both_engines_within<F, Fut>(quota: StorageQuota, test: F)
    where
        F: Fn(ScriptStorage, Arc<ManualClock>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open_sqlite(dir.path().join("clockwork.db"))
            .await
            .unwrap();
        let (storage, clock) = prepared(sqlite.with_storage_quota(quota));
        test(storage, clock).await;

        let schema = test_support::PgSchema::create("script_storage_test").await;
        let postgres = Store::open(schema.url()).await.unwrap();
        let (storage, clock) = prepared(postgres.clone().with_storage_quota(quota));
        test(storage, clock).await;
        postgres.close().await;
        schema.drop().await;
    }

    fn prepared(store: Store) -> (ScriptStorage, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let store = store
            .with_clock(clock.clone())
            .with_secret_key(SecretKey::generate());
        (ScriptStorage::new(store), clock)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_round_trip_expire_and_refuse_taken_keys() {
        on_both_engines(|kv, clock| async move {
            assert_eq!(kv.get("k").await.unwrap(), None);
            kv.set("k", json!({"n": 1}), None, false).await.unwrap();
            assert_eq!(kv.get("k").await.unwrap(), Some(json!({"n": 1})));
            assert_eq!(
                kv.set("k", json!(2), None, true).await,
                Err(ScriptKvError::KeyExists("k".into()))
            );
            assert_eq!(kv.get("k").await.unwrap(), Some(json!({"n": 1})));
            kv.delete("k").await.unwrap();
            kv.delete("k").await.unwrap();
            kv.set("k", json!(3), None, true).await.unwrap();

            kv.set("short", json!(true), Some(Duration::from_secs(5)), false)
                .await
                .unwrap();
            clock.advance(Duration::from_secs(6));
            assert_eq!(kv.get("short").await.unwrap(), None);
            kv.set("short", json!(false), None, true).await.unwrap();
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_follow_their_cursor_and_bad_cursors_are_backend_errors() {
        on_both_engines(|kv, _clock| async move {
            for i in 0..5 {
                kv.set(&format!("job:{i}"), json!(i), None, false)
                    .await
                    .unwrap();
            }
            kv.set("other", json!(0), None, false).await.unwrap();
            let first = kv.list("job:", 2, None).await.unwrap();
            assert_eq!(
                first.items,
                vec![("job:0".into(), json!(0)), ("job:1".into(), json!(1))]
            );
            let cursor = first.next_cursor.unwrap();
            let second = kv.list("job:", 2, Some(&cursor)).await.unwrap();
            assert_eq!(second.items[0].0, "job:2");
            let last = kv
                .list("job:", 2, second.next_cursor.as_deref())
                .await
                .unwrap();
            assert_eq!(last.items, vec![("job:4".into(), json!(4))]);
            assert_eq!(last.next_cursor, None);
            assert_eq!(kv.list("", 100, None).await.unwrap().items.len(), 6);
            assert_eq!(
                kv.list("job:", 2, Some("not a cursor")).await,
                Err(ScriptKvError::Backend("invalid list cursor".into()))
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_apply_whole() {
        on_both_engines(|kv, _clock| async move {
            kv.batch_set(vec![
                KvSetItem {
                    key: "a".into(),
                    value: json!(1),
                    ttl: None,
                },
                KvSetItem {
                    key: "b".into(),
                    value: json!(2),
                    ttl: Some(Duration::from_secs(60)),
                },
            ])
            .await
            .unwrap();
            let keys: Vec<String> = ["b", "missing", "a"].map(String::from).into();
            assert_eq!(
                kv.batch_get(&keys).await.unwrap(),
                vec![("b".into(), json!(2)), ("a".into(), json!(1))]
            );
            kv.batch_delete(&keys).await.unwrap();
            assert!(kv.batch_get(&keys).await.unwrap().is_empty());
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transactions_name_the_failed_condition_and_change_nothing() {
        on_both_engines(|kv, _clock| async move {
            kv.set("count", json!(1), None, false).await.unwrap();
            let bump = |expected: Value| {
                vec![
                    KvOp::Check {
                        key: "count".into(),
                        expect: KvExpect::Equals(expected),
                    },
                    KvOp::Check {
                        key: "lock".into(),
                        expect: KvExpect::Absent,
                    },
                    KvOp::Set(KvSetItem {
                        key: "count".into(),
                        value: json!(2),
                        ttl: None,
                    }),
                    KvOp::Delete {
                        key: "stale".into(),
                    },
                ]
            };
            assert_eq!(
                kv.transact(bump(json!(7))).await,
                Err(ScriptKvError::ConditionFailed("count".into()))
            );
            assert_eq!(kv.get("count").await.unwrap(), Some(json!(1)));
            kv.set("stale", json!("x"), None, false).await.unwrap();
            kv.transact(bump(json!(1))).await.unwrap();
            assert_eq!(kv.get("count").await.unwrap(), Some(json!(2)));
            assert_eq!(kv.get("stale").await.unwrap(), None);
            assert_eq!(
                kv.transact(vec![KvOp::Check {
                    key: "stale".into(),
                    expect: KvExpect::Present,
                }])
                .await,
                Err(ScriptKvError::ConditionFailed("stale".into()))
            );
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_live_apart_from_entries() {
        on_both_engines(|kv, _clock| async move {
            kv.secret_set("token", json!("s3cr3t")).await.unwrap();
            assert_eq!(kv.secret_get("token").await.unwrap(), Some(json!("s3cr3t")));
            assert_eq!(kv.get("token").await.unwrap(), None);
            assert!(kv.list("", 100, None).await.unwrap().items.is_empty());
            kv.secret_delete("token").await.unwrap();
            kv.secret_delete("token").await.unwrap();
            assert_eq!(kv.secret_get("token").await.unwrap(), None);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_beyond_the_quota_are_quota_errors_and_change_nothing() {
        let quota = StorageQuota {
            max_keys: Some(2),
            max_bytes: None,
        };
        on_both_engines_within(quota, |kv, _clock| async move {
            kv.set("a", json!(1), None, false).await.unwrap();
            kv.secret_set("token", json!("s3cret")).await.unwrap();
            let Err(ScriptKvError::QuotaExceeded(message)) =
                kv.set("b", json!(2), None, false).await
            else {
                panic!("a third key is beyond the quota");
            };
            assert!(
                message.starts_with("storage quota exceeded: ")
                    && message.contains("from 2 to 3 keys")
                    && message.contains("[limits] storage_keys"),
                "{message}"
            );
            let batch = kv
                .batch_set(vec![
                    KvSetItem {
                        key: "a".into(),
                        value: json!(10),
                        ttl: None,
                    },
                    KvSetItem {
                        key: "c".into(),
                        value: json!(3),
                        ttl: None,
                    },
                ])
                .await;
            assert!(
                matches!(batch, Err(ScriptKvError::QuotaExceeded(_))),
                "{batch:?}"
            );
            assert_eq!(kv.get("a").await.unwrap(), Some(json!(1)));
            assert!(matches!(
                kv.secret_set("other", json!(1)).await,
                Err(ScriptKvError::QuotaExceeded(_))
            ));
            kv.secret_delete("token").await.unwrap();
            kv.set("b", json!(2), None, false).await.unwrap();
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_script_catches_the_quota_error_and_its_batch_wrote_nothing() {
        let quota = StorageQuota {
            max_keys: Some(3),
            max_bytes: None,
        };
        on_both_engines_within(quota, |kv, _clock| async move {
            let script = "await kvs.set('a', 1);\n\
                          let message;\n\
                          try { await kvs.batchSet([{ key: 'b', value: 2 }, { key: 'c', value: 3 }, \
                          { key: 'd', value: 4 }]); } catch (e) { message = e.message; }\n\
                          return { message, b: await kvs.get('b') ?? null }";
            let mut spec = runtime::RunSpec::new(script);
            spec.services.kv = Arc::new(kv);
            let executor = runtime::Executor::new(runtime::ExecutorConfig { worker_threads: 1 })
                .unwrap();
            let outcome = executor.start(spec).outcome().await;
            assert_eq!(outcome.status, runtime::RunStatus::Succeeded, "{outcome:?}");
            let message = outcome.result["message"].as_str().unwrap().to_owned();
            assert!(
                message.starts_with("storage quota exceeded: ")
                    && message.contains("from 1 to 4 keys, above the limit of 3 keys")
                    && message.contains("[limits] storage_keys"),
                "{message}"
            );
            assert_eq!(outcome.result["b"], json!(null));
        })
        .await;
    }

    #[tokio::test]
    async fn secrets_without_a_key_and_database_failures_are_backend_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("clockwork.db"))
            .await
            .unwrap();
        let kv = ScriptStorage::new(store.clone());
        assert_eq!(
            kv.secret_set("token", json!(1)).await,
            Err(ScriptKvError::Backend(
                "secrets are unavailable: no secret key is configured".into()
            ))
        );
        store.close().await;
        let Err(ScriptKvError::Backend(message)) = kv.get("k").await else {
            panic!("a closed pool is a backend failure");
        };
        assert!(
            message.starts_with("key-value store failure: "),
            "the cause is kept: {message}"
        );
    }
}
