//! Key-value storage behind `storage` and `kvs` (FORGE-API §3).
//!
//! [`KvStore`] is what a backend implements; it receives only validated
//! input. Every rule of §3 (key syntax, value size and depth, page and batch
//! sizes) is checked here, in [`call`], with the error message the script
//! sees. [`MemoryKvStore`] is a complete in-memory backend, custom entities
//! included (`memory_entity`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::entity::{Condition, EntityCatalog, EntityQuery, FilterRequest, check_query};
use crate::memory_entity::MemoryEntities;

/// One key-value store (and its secrets) shared by all jobs of an instance.
///
/// Implementations see validated keys and values only. Secrets live apart
/// from ordinary keys and never appear in [`KvStore::list`].
#[async_trait::async_trait]
pub trait KvStore: Send + Sync {
    /// The value of `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError>;
    /// Stores `value`; with `if_absent`, fails with [`KvError::KeyExists`] when the key is taken.
    async fn set(
        &self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        if_absent: bool,
    ) -> Result<(), KvError>;
    /// Removes `key`; succeeds when it is absent.
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Up to `limit` entries whose key starts with `prefix`, in ascending key
    /// order, after the position `cursor` (a `next_cursor` of an earlier page).
    async fn list(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<KvPage, KvError>;
    /// The entries present among `keys`, in the order of `keys`.
    async fn batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, KvError>;
    /// Stores every item, all or nothing.
    async fn batch_set(&self, items: Vec<KvSetItem>) -> Result<(), KvError>;
    /// Removes every key, all or nothing.
    async fn batch_delete(&self, keys: &[String]) -> Result<(), KvError>;
    /// Applies every operation or none: fails with [`KvError::ConditionFailed`]
    /// when a check does not hold.
    async fn transact(&self, ops: Vec<KvOp>) -> Result<(), KvError>;
    /// The secret `key`, or `None`.
    async fn secret_get(&self, key: &str) -> Result<Option<Value>, KvError>;
    /// Stores a secret.
    async fn secret_set(&self, key: &str, value: Value) -> Result<(), KvError>;
    /// Removes a secret; succeeds when it is absent.
    async fn secret_delete(&self, key: &str) -> Result<(), KvError>;

    /// Makes the store's indexes of every entity those of `catalog`,
    /// building new or changed ones from the values already stored.
    async fn entity_declare(&self, catalog: &EntityCatalog) -> Result<(), KvError> {
        let _ = catalog;
        Ok(())
    }
    /// The value of `key` in `entity`, or `None`.
    async fn entity_get(&self, entity: &str, key: &str) -> Result<Option<Value>, KvError> {
        let _ = (entity, key);
        Err(no_entities())
    }
    /// Stores `value` under `key` in `entity`, indexed by its declared indexes.
    async fn entity_set(&self, entity: &str, key: &str, value: Value) -> Result<(), KvError> {
        let _ = (entity, key, value);
        Err(no_entities())
    }
    /// Removes `key` from `entity`; succeeds when it is absent.
    async fn entity_delete(&self, entity: &str, key: &str) -> Result<(), KvError> {
        let _ = (entity, key);
        Err(no_entities())
    }
    /// One page of the values `query` selects through its index, in index
    /// order, keeping those `keep` accepts (filters run on the rows the
    /// index found).
    async fn entity_query(
        &self,
        query: EntityQuery,
        keep: &(dyn for<'v> Fn(&'v Value) -> bool + Send + Sync),
    ) -> Result<KvPage, KvError> {
        let _ = (query, keep);
        Err(no_entities())
    }
}

/// What a store without custom entities answers.
fn no_entities() -> KvError {
    KvError::Backend("this storage backend has no custom entities".to_owned())
}

/// One page of [`KvStore::list`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KvPage {
    /// `(key, value)` in ascending key order.
    pub items: Vec<(String, Value)>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One item of [`KvStore::batch_set`] or a set in [`KvStore::transact`].
#[derive(Debug, Clone, PartialEq)]
pub struct KvSetItem {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// When the entry expires, if it does.
    pub ttl: Option<Duration>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// Store a value.
    Set(KvSetItem),
    /// Remove a key.
    Delete {
        /// The key.
        key: String,
    },
    /// A condition the whole transaction depends on.
    Check {
        /// The key.
        key: String,
        /// What must hold.
        expect: KvExpect,
    },
}

/// The condition of a [`KvOp::Check`].
#[derive(Debug, Clone, PartialEq)]
pub enum KvExpect {
    /// The key must not exist.
    Absent,
    /// The key must exist.
    Present,
    /// The key must hold exactly this value.
    Equals(Value),
}

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// `set` with `if_absent` (`keyPolicy: 'FAIL_IF_EXISTS'`) found the key taken.
    #[error("key \"{0}\" already exists")]
    KeyExists(String),
    /// A transaction's check did not hold; nothing was applied.
    #[error("transaction condition on key \"{0}\" does not hold; nothing was changed")]
    ConditionFailed(String),
    /// The write would take the installation's storage above its quota;
    /// nothing was changed. The message names the quota, the usage and the
    /// setting that raises it.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The backend failed (database unreachable, …).
    #[error("storage failed: {0}")]
    Backend(String),
}

// ---------------------------------------------------------------------------
// Validation (FORGE-API §3)

/// Longest key, in characters.
pub(crate) const MAX_KEY_CHARS: usize = 500;
/// Largest value, as JSON.
pub(crate) const MAX_VALUE_BYTES: usize = 240 * 1024;
/// Deepest nesting of objects and arrays in a value.
pub(crate) const MAX_VALUE_DEPTH: usize = 31;
/// Default and largest page of a query.
pub(crate) const DEFAULT_PAGE: usize = 10;
pub(crate) const MAX_PAGE: usize = 100;
/// Most keys in one batch call, most operations in one transaction.
pub(crate) const MAX_BATCH: usize = 25;
/// Longest TTL: one year.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// JavaScript's `\s`.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '#' | '-') || is_js_space(c)
}

pub(crate) fn validate_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    let valid = (1..=MAX_KEY_CHARS).contains(&chars)
        && key.chars().all(is_key_char)
        && !key.chars().all(is_js_space);
    if valid {
        return Ok(());
    }
    let shown: String = key.chars().take(60).collect();
    let ellipsis = if chars > 60 { "…" } else { "" };
    Err(format!(
        "Invalid key \"{shown}{ellipsis}\": a key is 1 to {MAX_KEY_CHARS} characters of \
         a-z, A-Z, 0-9, ':', '.', '_', '-', '#' and whitespace, and not only whitespace"
    ))
}

pub(crate) fn validate_value(key: &str, value: &Value) -> Result<(), String> {
    let depth = json_depth(value);
    if depth > MAX_VALUE_DEPTH {
        return Err(format!(
            "Value for key \"{key}\" is nested {depth} levels deep; the limit is {MAX_VALUE_DEPTH}"
        ));
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |json| json.len());
    if size > MAX_VALUE_BYTES {
        return Err(format!(
            "Value for key \"{key}\" is {size} bytes as JSON; the limit is {MAX_VALUE_BYTES} bytes (240 KiB)"
        ));
    }
    Ok(())
}

/// Levels of objects and arrays: a scalar is 0, `{}` and `[]` are 1.
pub(crate) fn json_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// `{ value, unit }` as in `kvs.set(key, value, { ttl: { value: 5, unit: 'MINUTES' } })`.
#[derive(Debug, Deserialize)]
pub(crate) struct Ttl {
    value: f64,
    unit: String,
}

fn parse_ttl(ttl: Option<Ttl>) -> Result<Option<Duration>, String> {
    let Some(ttl) = ttl else {
        return Ok(None);
    };
    let unit_seconds = match ttl.unit.as_str() {
        "SECONDS" => 1.0,
        "MINUTES" => 60.0,
        "HOURS" => 3600.0,
        "DAYS" => 86400.0,
        other => {
            return Err(format!(
                "Invalid ttl unit \"{other}\": use 'SECONDS', 'MINUTES', 'HOURS' or 'DAYS'"
            ));
        }
    };
    let seconds = ttl.value * unit_seconds;
    if !(ttl.value.is_finite() && ttl.value > 0.0 && seconds <= MAX_TTL.as_secs_f64()) {
        return Err(format!(
            "Invalid ttl {} {}: it must be positive and at most 365 days",
            ttl.value, ttl.unit
        ));
    }
    Ok(Some(Duration::from_secs_f64(seconds)))
}

// ---------------------------------------------------------------------------
// The calls a script makes

/// What a storage call from JavaScript asks for (JSON from the prelude).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub(crate) enum KvRequest {
    Get {
        key: String,
    },
    #[serde(rename_all = "camelCase")]
    Set {
        key: String,
        value: Value,
        ttl: Option<Ttl>,
        #[serde(default)]
        if_absent: bool,
    },
    Delete {
        key: String,
    },
    #[serde(rename_all = "camelCase")]
    Query {
        prefix: String,
        limit: Option<f64>,
        cursor: Option<String>,
    },
    BatchGet {
        keys: Vec<String>,
    },
    BatchSet {
        items: Vec<BatchSetItem>,
    },
    BatchDelete {
        keys: Vec<String>,
    },
    Transact {
        ops: Vec<TransactOp>,
    },
    GetSecret {
        key: String,
    },
    SetSecret {
        key: String,
        value: Value,
    },
    DeleteSecret {
        key: String,
    },
    EntityGet {
        entity: String,
        key: String,
    },
    EntitySet {
        entity: String,
        key: String,
        value: Value,
    },
    EntityDelete {
        entity: String,
        key: String,
    },
    #[serde(rename_all = "camelCase")]
    EntityQuery {
        entity: String,
        index: Option<String>,
        partition: Option<Vec<Value>>,
        #[serde(rename = "where")]
        condition: Option<Condition>,
        filters: Option<FilterRequest>,
        sort: Option<String>,
        limit: Option<f64>,
        cursor: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
pub(crate) struct BatchSetItem {
    key: String,
    value: Value,
    ttl: Option<Ttl>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum TransactOp {
    #[serde(rename_all = "camelCase")]
    Set {
        key: String,
        value: Value,
        ttl: Option<Ttl>,
        #[serde(default)]
        if_absent: bool,
    },
    Delete {
        key: String,
    },
    Check {
        key: String,
        exists: Option<bool>,
        equals: Option<Value>,
    },
}

/// A failed storage call: the message the script's `Error` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvCallError(pub(crate) String);

impl From<String> for KvCallError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<KvError> for KvCallError {
    fn from(error: KvError) -> Self {
        Self(error.to_string())
    }
}

/// Validates and performs one storage call against the run's declared
/// entities; the answer is JSON for the prelude.
pub(crate) async fn call(
    store: &dyn KvStore,
    entities: &EntityCatalog,
    request: KvRequest,
) -> Result<Value, KvCallError> {
    match request {
        KvRequest::Get { key } => {
            validate_key(&key)?;
            Ok(found(store.get(&key).await?))
        }
        KvRequest::Set {
            key,
            value,
            ttl,
            if_absent,
        } => {
            validate_key(&key)?;
            validate_value(&key, &value)?;
            let ttl = parse_ttl(ttl)?;
            store.set(&key, value, ttl, if_absent).await?;
            Ok(Value::Null)
        }
        KvRequest::Delete { key } => {
            validate_key(&key)?;
            store.delete(&key).await?;
            Ok(Value::Null)
        }
        KvRequest::Query {
            prefix,
            limit,
            cursor,
        } => query(store, &prefix, limit, cursor.as_deref()).await,
        KvRequest::BatchGet { keys } => {
            validate_batch(&keys)?;
            let entries = store.batch_get(&keys).await?;
            Ok(json!({
                "successfulKeys": entries
                    .into_iter()
                    .map(|(key, value)| json!({ "key": key, "value": value }))
                    .collect::<Vec<_>>(),
                "failedKeys": [],
            }))
        }
        KvRequest::BatchSet { items } => {
            let keys: Vec<String> = items.iter().map(|item| item.key.clone()).collect();
            validate_batch(&keys)?;
            let mut valid = Vec::with_capacity(items.len());
            for item in items {
                validate_value(&item.key, &item.value)?;
                valid.push(KvSetItem {
                    key: item.key,
                    value: item.value,
                    ttl: parse_ttl(item.ttl)?,
                });
            }
            store.batch_set(valid).await?;
            Ok(batch_answer(keys))
        }
        KvRequest::BatchDelete { keys } => {
            validate_batch(&keys)?;
            store.batch_delete(&keys).await?;
            Ok(batch_answer(keys))
        }
        KvRequest::Transact { ops } => {
            store.transact(transaction(ops)?).await?;
            Ok(Value::Null)
        }
        KvRequest::GetSecret { key } => {
            validate_key(&key)?;
            Ok(found(store.secret_get(&key).await?))
        }
        KvRequest::SetSecret { key, value } => {
            validate_key(&key)?;
            validate_value(&key, &value)?;
            store.secret_set(&key, value).await?;
            Ok(Value::Null)
        }
        KvRequest::DeleteSecret { key } => {
            validate_key(&key)?;
            store.secret_delete(&key).await?;
            Ok(Value::Null)
        }
        KvRequest::EntityGet { entity, key } => {
            entities.entity(&entity)?;
            validate_key(&key)?;
            Ok(found(store.entity_get(&entity, &key).await?))
        }
        KvRequest::EntitySet { entity, key, value } => {
            validate_key(&key)?;
            validate_value(&key, &value)?;
            entities.entity(&entity)?.check_value(&key, &value)?;
            store.entity_set(&entity, &key, value).await?;
            Ok(Value::Null)
        }
        KvRequest::EntityDelete { entity, key } => {
            entities.entity(&entity)?;
            validate_key(&key)?;
            store.entity_delete(&entity, &key).await?;
            Ok(Value::Null)
        }
        KvRequest::EntityQuery {
            entity,
            index,
            partition,
            condition,
            filters,
            sort,
            limit,
            cursor,
        } => {
            let entity = entities.entity(&entity)?;
            let limit = page_limit(limit)?;
            let checked = check_query(
                entity, index, partition, condition, filters, sort, cursor, limit,
            )?;
            let filter = checked.filter;
            let page = store
                .entity_query(checked.query, &move |value| filter.matches(value))
                .await?;
            Ok(page_answer(page))
        }
    }
}

fn found(value: Option<Value>) -> Value {
    match value {
        Some(value) => json!({ "found": true, "value": value }),
        None => json!({ "found": false }),
    }
}

fn batch_answer(keys: Vec<String>) -> Value {
    json!({
        "successfulKeys": keys.into_iter().map(|key| json!({ "key": key })).collect::<Vec<_>>(),
        "failedKeys": [],
    })
}

async fn query(
    store: &dyn KvStore,
    prefix: &str,
    limit: Option<f64>,
    cursor: Option<&str>,
) -> Result<Value, KvCallError> {
    if !prefix.is_empty() {
        validate_prefix(prefix)?;
    }
    let page = store.list(prefix, page_limit(limit)?, cursor).await?;
    Ok(page_answer(page))
}

/// A query's page size: the default, or a whole number from 1 to the maximum.
fn page_limit(limit: Option<f64>) -> Result<usize, KvCallError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n.fract() == 0.0 && (1.0..=MAX_PAGE as f64).contains(&n) => Ok(n as usize),
        Some(n) => Err(KvCallError(format!(
            "Invalid limit {n}: a query returns 1 to {MAX_PAGE} results per page"
        ))),
    }
}

fn page_answer(page: KvPage) -> Value {
    let results: Vec<Value> = page
        .items
        .into_iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    json!({ "results": results, "nextCursor": page.next_cursor })
}

/// A prefix is a key's beginning: the same characters, possibly blank-ended.
fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.chars().count() <= MAX_KEY_CHARS && prefix.chars().all(is_key_char) {
        return Ok(());
    }
    Err(format!(
        "Invalid prefix \"{prefix}\": keys only contain a-z, A-Z, 0-9, ':', '.', '_', '-', '#' and whitespace"
    ))
}

fn validate_batch(keys: &[String]) -> Result<(), String> {
    if keys.is_empty() || keys.len() > MAX_BATCH {
        return Err(format!(
            "A batch holds 1 to {MAX_BATCH} keys, not {}",
            keys.len()
        ));
    }
    keys.iter().try_for_each(|key| validate_key(key))
}

fn transaction(ops: Vec<TransactOp>) -> Result<Vec<KvOp>, String> {
    if ops.is_empty() || ops.len() > MAX_BATCH {
        return Err(format!(
            "A transaction holds 1 to {MAX_BATCH} operations, not {}",
            ops.len()
        ));
    }
    let mut valid = Vec::with_capacity(ops.len() + 1);
    for op in ops {
        match op {
            TransactOp::Set {
                key,
                value,
                ttl,
                if_absent,
            } => {
                validate_key(&key)?;
                validate_value(&key, &value)?;
                if if_absent {
                    valid.push(KvOp::Check {
                        key: key.clone(),
                        expect: KvExpect::Absent,
                    });
                }
                valid.push(KvOp::Set(KvSetItem {
                    key,
                    value,
                    ttl: parse_ttl(ttl)?,
                }));
            }
            TransactOp::Delete { key } => {
                validate_key(&key)?;
                valid.push(KvOp::Delete { key });
            }
            TransactOp::Check {
                key,
                exists,
                equals,
            } => {
                validate_key(&key)?;
                let expect = match (exists, equals) {
                    (None, Some(value)) => KvExpect::Equals(value),
                    (Some(true), None) => KvExpect::Present,
                    (Some(false), None) => KvExpect::Absent,
                    _ => {
                        return Err(format!(
                            "Invalid check on key \"{key}\": give either {{ exists: true | false }} or {{ equals: value }}"
                        ));
                    }
                };
                valid.push(KvOp::Check { key, expect });
            }
        }
    }
    Ok(valid)
}

// ---------------------------------------------------------------------------
// In memory

/// A [`KvStore`] in memory: for tests and one-off runs.
#[derive(Debug, Default)]
pub struct MemoryKvStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    entries: BTreeMap<String, MemoryEntry>,
    secrets: HashMap<String, Value>,
    entities: MemoryEntities,
}

#[derive(Debug, Clone)]
struct MemoryEntry {
    value: Value,
    expires: Option<Instant>,
}

impl MemoryEntry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl MemoryKvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryState {
    fn get(&self, key: &str, now: Instant) -> Option<&Value> {
        self.entries
            .get(key)
            .filter(|entry| entry.live(now))
            .map(|entry| &entry.value)
    }

    fn put(&mut self, item: KvSetItem, now: Instant) {
        let expires = item.ttl.map(|ttl| now + ttl);
        self.entries.insert(
            item.key,
            MemoryEntry {
                value: item.value,
                expires,
            },
        );
    }
}

#[async_trait::async_trait]
impl KvStore for MemoryKvStore {
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        Ok(self.lock().get(key, Instant::now()).cloned())
    }

    async fn set(
        &self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        if_absent: bool,
    ) -> Result<(), KvError> {
        let now = Instant::now();
        let mut state = self.lock();
        if if_absent && state.get(key, now).is_some() {
            return Err(KvError::KeyExists(key.to_owned()));
        }
        state.put(
            KvSetItem {
                key: key.to_owned(),
                value,
                ttl,
            },
            now,
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.lock().entries.remove(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<KvPage, KvError> {
        let now = Instant::now();
        let state = self.lock();
        let start = match cursor {
            Some(after) => std::ops::Bound::Excluded(after.to_owned()),
            None => std::ops::Bound::Included(prefix.to_owned()),
        };
        let mut matching = state
            .entries
            .range((start, std::ops::Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, entry)| entry.live(now));
        let items: Vec<(String, Value)> = matching
            .by_ref()
            .take(limit)
            .map(|(key, entry)| (key.clone(), entry.value.clone()))
            .collect();
        let more = matching.next().is_some();
        let next_cursor = if more {
            items.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        Ok(KvPage { items, next_cursor })
    }

    async fn batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, KvError> {
        let now = Instant::now();
        let state = self.lock();
        Ok(keys
            .iter()
            .filter_map(|key| {
                state
                    .get(key, now)
                    .map(|value| (key.clone(), value.clone()))
            })
            .collect())
    }

    async fn batch_set(&self, items: Vec<KvSetItem>) -> Result<(), KvError> {
        let now = Instant::now();
        let mut state = self.lock();
        for item in items {
            state.put(item, now);
        }
        Ok(())
    }

    async fn batch_delete(&self, keys: &[String]) -> Result<(), KvError> {
        let mut state = self.lock();
        for key in keys {
            state.entries.remove(key);
        }
        Ok(())
    }

    async fn transact(&self, ops: Vec<KvOp>) -> Result<(), KvError> {
        let now = Instant::now();
        let mut state = self.lock();
        for op in &ops {
            if let KvOp::Check { key, expect } = op {
                let current = state.get(key, now);
                let holds = match expect {
                    KvExpect::Absent => current.is_none(),
                    KvExpect::Present => current.is_some(),
                    KvExpect::Equals(value) => current == Some(value),
                };
                if !holds {
                    return Err(KvError::ConditionFailed(key.clone()));
                }
            }
        }
        for op in ops {
            match op {
                KvOp::Set(item) => state.put(item, now),
                KvOp::Delete { key } => {
                    state.entries.remove(&key);
                }
                KvOp::Check { .. } => {}
            }
        }
        Ok(())
    }

    async fn secret_get(&self, key: &str) -> Result<Option<Value>, KvError> {
        Ok(self.lock().secrets.get(key).cloned())
    }

    async fn secret_set(&self, key: &str, value: Value) -> Result<(), KvError> {
        self.lock().secrets.insert(key.to_owned(), value);
        Ok(())
    }

    async fn secret_delete(&self, key: &str) -> Result<(), KvError> {
        self.lock().secrets.remove(key);
        Ok(())
    }

    async fn entity_declare(&self, catalog: &EntityCatalog) -> Result<(), KvError> {
        self.lock().entities.declare(catalog);
        Ok(())
    }

    async fn entity_get(&self, entity: &str, key: &str) -> Result<Option<Value>, KvError> {
        Ok(self.lock().entities.get(entity, key))
    }

    async fn entity_set(&self, entity: &str, key: &str, value: Value) -> Result<(), KvError> {
        self.lock().entities.set(entity, key, value);
        Ok(())
    }

    async fn entity_delete(&self, entity: &str, key: &str) -> Result<(), KvError> {
        self.lock().entities.delete(entity, key);
        Ok(())
    }

    async fn entity_query(
        &self,
        query: EntityQuery,
        keep: &(dyn for<'v> Fn(&'v Value) -> bool + Send + Sync),
    ) -> Result<KvPage, KvError> {
        self.lock().entities.query(&query, keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        for good in [
            "a",
            "A-z_0.9:#x",
            "with space",
            &"k".repeat(500),
            " padded ",
        ] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in ["", "   ", "\t", "a/b", "ü", "a?b", "a*", &"k".repeat(501)] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            validate_key("a/b").unwrap_err(),
            "Invalid key \"a/b\": a key is 1 to 500 characters of a-z, A-Z, 0-9, ':', '.', '_', '-', '#' \
             and whitespace, and not only whitespace"
        );
    }

    #[test]
    fn value_size_and_depth_limits() {
        let nested = |levels: usize| {
            let mut value = json!(1);
            for _ in 0..levels {
                value = json!([value]);
            }
            value
        };
        assert!(validate_value("k", &nested(31)).is_ok());
        assert_eq!(
            validate_value("k", &nested(32)).unwrap_err(),
            "Value for key \"k\" is nested 32 levels deep; the limit is 31"
        );
        // A JSON string of n characters takes n + 2 bytes.
        assert!(validate_value("k", &json!("x".repeat(MAX_VALUE_BYTES - 2))).is_ok());
        assert_eq!(
            validate_value("k", &json!("x".repeat(MAX_VALUE_BYTES - 1))).unwrap_err(),
            "Value for key \"k\" is 245761 bytes as JSON; the limit is 245760 bytes (240 KiB)"
        );
    }

    #[test]
    fn ttl_units_and_bounds() {
        let ttl = |value: f64, unit: &str| {
            parse_ttl(Some(Ttl {
                value,
                unit: unit.into(),
            }))
        };
        assert_eq!(ttl(2.0, "MINUTES").unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(ttl(1.0, "DAYS").unwrap(), Some(Duration::from_secs(86400)));
        assert!(ttl(0.0, "SECONDS").is_err());
        assert!(ttl(366.0, "DAYS").is_err());
        assert!(
            ttl(1.0, "WEEKS")
                .unwrap_err()
                .contains("Invalid ttl unit \"WEEKS\"")
        );
    }

    async fn request(store: &MemoryKvStore, json: Value) -> Result<Value, KvCallError> {
        call(
            store,
            &EntityCatalog::default(),
            serde_json::from_value(json).unwrap(),
        )
        .await
    }

    #[tokio::test]
    async fn query_pages_in_key_order_with_cursor() {
        let store = MemoryKvStore::new();
        for i in (0..25).rev() {
            store
                .set(&format!("job:{i:02}"), json!(i), None, false)
                .await
                .unwrap();
        }
        store.set("other", json!(0), None, false).await.unwrap();
        let page = request(&store, json!({"op": "query", "prefix": "job:"}))
            .await
            .unwrap();
        let results = page["results"].as_array().unwrap();
        assert_eq!(results.len(), DEFAULT_PAGE);
        assert_eq!(results[0], json!({"key": "job:00", "value": 0}));
        let cursor = page["nextCursor"].as_str().unwrap();
        let page = request(
            &store,
            json!({"op": "query", "prefix": "job:", "limit": 100, "cursor": cursor}),
        )
        .await
        .unwrap();
        assert_eq!(page["results"].as_array().unwrap().len(), 15);
        assert_eq!(page["results"][0]["key"], "job:10");
        assert_eq!(page["nextCursor"], Value::Null);
        for limit in [0.0, 101.0, 2.5] {
            let error = request(&store, json!({"op": "query", "prefix": "", "limit": limit}))
                .await
                .unwrap_err();
            assert!(error.0.starts_with("Invalid limit"), "{error:?}");
        }
    }

    #[tokio::test]
    async fn set_if_absent_and_ttl_expiry() {
        let store = MemoryKvStore::new();
        store.set("k", json!(1), None, true).await.unwrap();
        assert_eq!(
            store.set("k", json!(2), None, true).await,
            Err(KvError::KeyExists("k".into()))
        );
        store
            .set("gone", json!(1), Some(Duration::ZERO), false)
            .await
            .unwrap();
        assert_eq!(store.get("gone").await.unwrap(), None);
        store.set("gone", json!(2), None, true).await.unwrap();
    }

    #[tokio::test]
    async fn batches_are_limited_to_25_keys() {
        let store = MemoryKvStore::new();
        let keys: Vec<String> = (0..26).map(|i| format!("k{i}")).collect();
        let error = request(&store, json!({"op": "batchGet", "keys": keys}))
            .await
            .unwrap_err();
        assert_eq!(error.0, "A batch holds 1 to 25 keys, not 26");
        let items: Vec<Value> = (0..25)
            .map(|i| json!({"key": format!("k{i}"), "value": i}))
            .collect();
        let answer = request(&store, json!({"op": "batchSet", "items": items}))
            .await
            .unwrap();
        assert_eq!(answer["successfulKeys"].as_array().unwrap().len(), 25);
        let answer = request(
            &store,
            json!({"op": "batchGet", "keys": ["k3", "missing", "k1"]}),
        )
        .await
        .unwrap();
        assert_eq!(
            answer["successfulKeys"],
            json!([{"key": "k3", "value": 3}, {"key": "k1", "value": 1}])
        );
    }

    #[tokio::test]
    async fn transactions_apply_all_or_nothing() {
        let store = MemoryKvStore::new();
        store.set("a", json!(1), None, false).await.unwrap();
        let failing = json!({"op": "transact", "ops": [
            {"type": "set", "key": "b", "value": 2},
            {"type": "delete", "key": "a"},
            {"type": "check", "key": "a", "equals": 5},
        ]});
        let error = request(&store, failing).await.unwrap_err();
        assert_eq!(
            error.0,
            "transaction condition on key \"a\" does not hold; nothing was changed"
        );
        assert_eq!(store.get("b").await.unwrap(), None);
        assert_eq!(store.get("a").await.unwrap(), Some(json!(1)));
        let passing = json!({"op": "transact", "ops": [
            {"type": "check", "key": "a", "equals": 1},
            {"type": "check", "key": "b", "exists": false},
            {"type": "set", "key": "b", "value": 2, "ifAbsent": true},
            {"type": "delete", "key": "a"},
        ]});
        request(&store, passing).await.unwrap();
        assert_eq!(store.get("b").await.unwrap(), Some(json!(2)));
        assert_eq!(store.get("a").await.unwrap(), None);
        let ops: Vec<Value> = (0..26)
            .map(|i| json!({"type": "delete", "key": format!("k{i}")}))
            .collect();
        let error = request(&store, json!({"op": "transact", "ops": ops}))
            .await
            .unwrap_err();
        assert_eq!(error.0, "A transaction holds 1 to 25 operations, not 26");
        let error = request(
            &store,
            json!({"op": "transact", "ops": [{"type": "check", "key": "a"}]}),
        )
        .await
        .unwrap_err();
        assert!(error.0.starts_with("Invalid check on key \"a\""));
    }

    #[tokio::test]
    async fn secrets_are_apart_from_keys() {
        let store = MemoryKvStore::new();
        request(
            &store,
            json!({"op": "setSecret", "key": "token", "value": "s3cret"}),
        )
        .await
        .unwrap();
        assert_eq!(
            request(&store, json!({"op": "get", "key": "token"}))
                .await
                .unwrap(),
            json!({"found": false})
        );
        let page = request(&store, json!({"op": "query", "prefix": ""}))
            .await
            .unwrap();
        assert_eq!(page["results"], json!([]));
        assert_eq!(
            request(&store, json!({"op": "getSecret", "key": "token"}))
                .await
                .unwrap(),
            json!({"found": true, "value": "s3cret"})
        );
        request(&store, json!({"op": "deleteSecret", "key": "token"}))
            .await
            .unwrap();
        request(&store, json!({"op": "deleteSecret", "key": "token"}))
            .await
            .unwrap();
        assert_eq!(store.secret_get("token").await.unwrap(), None);
    }
}
