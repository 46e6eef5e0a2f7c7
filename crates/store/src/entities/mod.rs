//! Custom entities: JSON values kept under (entity, key), each held by the
//! entity's declared indexes, and queried one index at a time.
//!
//! An index has partition attributes (matched for equality) and one range
//! attribute (compared, and the order of results). A value is in an index
//! when every one of those attributes is a top-level boolean, number or
//! string of the value; otherwise the index leaves it out. Entries are
//! rows of `entity_index` whose primary key is (entity, index, partition,
//! range, key) with typed values encoded so byte order is value order
//! (`position.rs`): a query is one range scan of that B-tree, in either
//! direction, resumed after a cursor.
//!
//! The declarations are the store's too: [`Store::entity_declare`] records
//! which indexes an entity has and builds a new or changed one from the
//! values already stored, and every write indexes a value by the recorded
//! declarations, in the same transaction as the value. So entries always
//! match the values, whichever node wrote them.
//!
//! The store knows no attribute types or Forge rules (the runtime checks
//! those); it only keeps values and their index entries consistent.

mod position;
pub(crate) mod sql;

use std::{collections::BTreeMap, ops::Bound};

use serde_json::{Value, json};

use crate::{
    error::{DatabaseError, DbResultExt, QuotaExceeded},
    kv::{MAX_VALUE_BYTES, finish, key_problem, quota::within_quota, shown_key},
    store::{Engine, Store, with_backend, with_writer},
};
use position::{Position, Span};

/// Why an entity operation failed. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// The key is empty, too long, or contains a NUL character.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as shown.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value's JSON text is larger than the store accepts.
    #[error("value of key {key:?} is {size} bytes as JSON, more than the store's limit of {max}")]
    ValueTooLarge {
        /// The key.
        key: String,
        /// The JSON text's size in bytes.
        size: usize,
        /// [`MAX_VALUE_BYTES`].
        max: usize,
    },
    /// The queried index was never declared with [`Store::entity_declare`].
    #[error("entity {entity:?} has no index {index:?}")]
    UnknownIndex {
        /// The entity.
        entity: String,
        /// The index.
        index: String,
    },
    /// A partition value or range bound is not a boolean, number or string.
    #[error("index values are booleans, numbers or strings, not {0}")]
    NotIndexable(Value),
    /// A query cursor that this store did not hand out.
    #[error("invalid entity query cursor")]
    InvalidCursor,
    /// A stored value or declaration is not JSON any more (edited by hand).
    #[error("stored entity data of {what:?} is not valid JSON")]
    Corrupt {
        /// The key or index.
        what: String,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The write would take storage above its quota (entity values count,
    /// see `kv::quota`).
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// The database failed.
    #[error("custom entity store failure")]
    Database(#[from] DatabaseError),
}

/// One index of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityIndex {
    /// Its name, unique within the entity.
    pub name: String,
    /// Attributes a query gives values for, in this order.
    pub partition: Vec<String>,
    /// The attribute a query compares and sorts by.
    pub range: String,
}

impl EntityIndex {
    /// The declaration as stored, to tell a changed one apart.
    fn spec(&self) -> String {
        json!({ "partition": self.partition, "range": self.range }).to_string()
    }

    fn from_spec(name: String, spec: &str) -> Result<Self, EntityError> {
        let corrupt = |source| EntityError::Corrupt {
            what: name.clone(),
            source,
        };
        #[derive(serde::Deserialize)]
        struct Spec {
            partition: Vec<String>,
            range: String,
        }
        let spec: Spec = serde_json::from_str(spec).map_err(corrupt)?;
        Ok(Self {
            name,
            partition: spec.partition,
            range: spec.range,
        })
    }

    /// Where `value` sits in this index, or `None` when it is not in it.
    fn entry(&self, value: &Value) -> Option<(Vec<u8>, Vec<u8>)> {
        let object = value.as_object()?;
        let partition: Vec<Value> = self
            .partition
            .iter()
            .map(|attribute| object.get(attribute).cloned())
            .collect::<Option<_>>()?;
        Some((
            position::partition(&partition)?,
            position::scalar(object.get(&self.range)?)?,
        ))
    }
}

/// Which range values a query selects.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityRange {
    /// All of them.
    All,
    /// Strings that start with this one.
    Prefix(String),
    /// Values between two bounds (of one type: booleans, numbers or strings).
    Between(Bound<Value>, Bound<Value>),
}

/// One page request of [`Store::entity_query`].
#[derive(Debug, Clone, PartialEq)]
pub struct EntityQuery {
    /// The entity.
    pub entity: String,
    /// The index walked.
    pub index: String,
    /// The partition attributes' values, in the index's order.
    pub partition: Vec<Value>,
    /// The range attribute's condition.
    pub range: EntityRange,
    /// Largest range value first (ties: largest key first).
    pub descending: bool,
    /// [`EntityPage::next_cursor`] of the previous page.
    pub cursor: Option<String>,
    /// Results per page, clamped to `1..=`[`crate::MAX_PAGE_SIZE`].
    pub limit: u32,
}

/// One page of [`Store::entity_query`].
#[derive(Debug, Clone, PartialEq)]
pub struct EntityPage {
    /// `(key, value)` in index order.
    pub items: Vec<(String, Value)>,
    /// Present when the walk can go on; opaque.
    pub next_cursor: Option<String>,
}

/// What [`Store::entity_declare`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityDeclared {
    /// Indexes built from the stored values (new or changed declarations).
    pub built: Vec<String>,
    /// Indexes no longer declared, whose entries were removed.
    pub dropped: Vec<String>,
}

/// Puts `$value` of `$key` in `$index` on `$conn` (a transaction), when
/// the value has the index's attributes; `?` on a database failure.
macro_rules! insert_entry {
    ($conn:expr, $entity:expr, $index:expr, $key:expr, $value:expr) => {
        if let Some((partition, range)) = $index.entry($value) {
            sqlx::query(sql::INSERT_ENTRY)
                .bind($entity)
                .bind(&$index.name)
                .bind(partition)
                .bind(range)
                .bind($key)
                .execute($conn)
                .await
                .db()?;
        }
    };
}

/// The most index rows one [`Store::entity_query`] call reads when a
/// filter rejects rows; a page may then be short, with a cursor to go on.
pub const MAX_ENTITY_SCAN: usize = 1000;

/// Decides whether a row found in the index is a result.
pub type EntityFilter<'a> = &'a (dyn Fn(&Value) -> bool + Send + Sync + 'a);

impl Store {
    /// Records that `entity` has exactly `indexes`: builds each new or
    /// changed one from the values stored, removes the others' entries. One
    /// transaction, exclusive with every entity write.
    pub async fn entity_declare(
        &self,
        entity: &str,
        indexes: &[EntityIndex],
    ) -> Result<EntityDeclared, EntityError> {
        with_writer!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.begin_write).await.db()?;
            let outcome = async {
                if self.engine() == Engine::Postgres {
                    sqlx::query(sql::LOCK_FOR_DECLARE)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                let stored: Vec<(String, String)> = sqlx::query_as(sql::SPECS)
                    .bind(entity)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let stored: BTreeMap<String, String> = stored.into_iter().collect();
                let mut declared = EntityDeclared::default();
                for name in stored.keys() {
                    if !indexes.iter().any(|index| &index.name == name) {
                        for statement in [sql::DELETE_ENTRIES_OF_INDEX, sql::DELETE_SPEC] {
                            sqlx::query(statement)
                                .bind(entity)
                                .bind(name)
                                .execute(&mut *tx)
                                .await
                                .db()?;
                        }
                        declared.dropped.push(name.clone());
                    }
                }
                let changed: Vec<&EntityIndex> = indexes
                    .iter()
                    .filter(|index| stored.get(&index.name) != Some(&index.spec()))
                    .collect();
                if !changed.is_empty() {
                    let values: Vec<(String, String)> = sqlx::query_as(sql::ALL_VALUES)
                        .bind(entity)
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                    for index in changed {
                        sqlx::query(sql::DELETE_ENTRIES_OF_INDEX)
                            .bind(entity)
                            .bind(&index.name)
                            .execute(&mut *tx)
                            .await
                            .db()?;
                        for (key, json) in &values {
                            insert_entry!(&mut *tx, entity, index, key, &decode(key, json)?);
                        }
                        sqlx::query(sql::UPSERT_SPEC)
                            .bind(entity)
                            .bind(&index.name)
                            .bind(index.spec())
                            .execute(&mut *tx)
                            .await
                            .db()?;
                        declared.built.push(index.name.clone());
                    }
                }
                Ok::<_, EntityError>(declared)
            }
            .await;
            finish(tx, outcome).await
        })
    }

    /// The value of `key` in `entity`, or `None`.
    pub async fn entity_get(&self, entity: &str, key: &str) -> Result<Option<Value>, EntityError> {
        check_key(key)?;
        let json: Option<String> = with_backend!(self, |pool, _dialect| {
            sqlx::query_scalar(sql::GET)
                .bind(entity)
                .bind(key)
                .fetch_optional(pool)
                .await
                .db()?
        });
        json.map(|json| decode(key, &json)).transpose()
    }

    /// Writes `value` under `key` in `entity` and puts it in each declared
    /// index that can hold it, replacing the previous value and entries.
    pub async fn entity_set(
        &self,
        entity: &str,
        key: &str,
        value: &Value,
    ) -> Result<(), EntityError> {
        check_key(key)?;
        let json = value.to_string();
        if json.len() > MAX_VALUE_BYTES {
            return Err(EntityError::ValueTooLarge {
                key: shown_key(key),
                size: json.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        let now = self.now_ms();
        within_quota!(self, EntityError, |tx, _sql| {
            async {
                // The row lock next: a concurrent write of the key waits
                // here, so entries are replaced one write after the other.
                sqlx::query(sql::UPSERT)
                    .bind(entity)
                    .bind(key)
                    .bind(&json)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                sqlx::query(sql::DELETE_ENTRIES_OF_KEY)
                    .bind(entity)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                let specs: Vec<(String, String)> = sqlx::query_as(sql::SPECS)
                    .bind(entity)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                for (name, spec) in specs {
                    let index = EntityIndex::from_spec(name, &spec)?;
                    insert_entry!(&mut *tx, entity, &index, key, value);
                }
                Ok::<(), EntityError>(())
            }
            .await
        });
        Ok(())
    }

    /// Deletes `key` from `entity` and its index entries; succeeds when absent.
    pub async fn entity_delete(&self, entity: &str, key: &str) -> Result<(), EntityError> {
        check_key(key)?;
        // Through the quota's transaction too, though a delete only
        // shrinks usage: its trigger updates the usage row, which every
        // storage writer must lock first (no deadlock, see `kv::quota`).
        within_quota!(self, EntityError, |tx, _sql| {
            async {
                for statement in [sql::DELETE, sql::DELETE_ENTRIES_OF_KEY] {
                    sqlx::query(statement)
                        .bind(entity)
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                Ok::<(), EntityError>(())
            }
            .await
        });
        Ok(())
    }

    /// One page of the values `query` selects, in index order, keeping
    /// only those `keep` accepts. The index narrows the rows; `keep` sees
    /// each of them. When `keep` rejects many, the walk stops after
    /// [`MAX_ENTITY_SCAN`] rows with a short (even empty) page and a cursor.
    pub async fn entity_query(
        &self,
        query: &EntityQuery,
        keep: EntityFilter<'_>,
    ) -> Result<EntityPage, EntityError> {
        self.entity_index_exists(&query.entity, &query.index)
            .await?;
        let partition = position::partition(&query.partition).ok_or_else(|| {
            let odd = query
                .partition
                .iter()
                .find(|v| position::scalar(v).is_none());
            EntityError::NotIndexable(odd.cloned().unwrap_or(Value::Null))
        })?;
        let span = match &query.range {
            EntityRange::All => Span::all(),
            EntityRange::Prefix(prefix) => Span::prefix(prefix),
            EntityRange::Between(lower, upper) => Span::between(lower, upper).ok_or_else(|| {
                let value = match (lower, upper) {
                    (Bound::Included(v) | Bound::Excluded(v), _)
                        if position::scalar(v).is_none() =>
                    {
                        v.clone()
                    }
                    (_, Bound::Included(v) | Bound::Excluded(v)) => v.clone(),
                    _ => Value::Null,
                };
                EntityError::NotIndexable(value)
            })?,
        };
        let limit = query.limit.clamp(1, crate::MAX_PAGE_SIZE) as usize;
        let mut at = match &query.cursor {
            Some(cursor) => Some(Position::from_cursor(cursor).ok_or(EntityError::InvalidCursor)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut last_kept: Option<Position> = None;
        let mut scanned = 0;
        loop {
            let rows = self
                .entity_walk(query, &partition, &span, at.as_ref(), limit + 1)
                .await?;
            let exhausted = rows.len() <= limit;
            let fetched = rows.len();
            for (row, (range, key, json)) in rows.into_iter().enumerate() {
                let here = Position { range, key };
                scanned += 1;
                let value = decode(&here.key, &json)?;
                if keep(&value) {
                    if items.len() == limit {
                        // A result beyond the page: the page ends at the last kept.
                        return Ok(page(items, last_kept));
                    }
                    items.push((here.key.clone(), value));
                    last_kept = Some(here.clone());
                }
                if scanned >= MAX_ENTITY_SCAN {
                    let more = row + 1 < fetched || !exhausted;
                    return Ok(page(items, more.then_some(here)));
                }
                at = Some(here);
            }
            if exhausted {
                return Ok(page(items, None));
            }
        }
    }

    async fn entity_index_exists(&self, entity: &str, index: &str) -> Result<(), EntityError> {
        let specs: Vec<(String, String)> = with_backend!(self, |pool, _dialect| {
            sqlx::query_as(sql::SPECS)
                .bind(entity)
                .fetch_all(pool)
                .await
                .db()?
        });
        if specs.iter().any(|(name, _)| name == index) {
            return Ok(());
        }
        Err(EntityError::UnknownIndex {
            entity: entity.to_owned(),
            index: index.to_owned(),
        })
    }

    /// Up to `fetch` rows of the index from where the walk is (`at`).
    async fn entity_walk(
        &self,
        query: &EntityQuery,
        partition: &[u8],
        span: &Span,
        at: Option<&Position>,
        fetch: usize,
    ) -> Result<Vec<(Vec<u8>, String, String)>, EntityError> {
        let start = Position::start(query.descending);
        let (span, at) = match at {
            Some(at) => (span.resumed(at, query.descending), at),
            None => (span.clone(), &start),
        };
        let statement = if query.descending {
            sql::WALK_DESCENDING
        } else {
            sql::WALK_ASCENDING
        };
        let fetch = i64::try_from(fetch).unwrap_or(i64::MAX);
        let rows = with_backend!(self, |pool, _dialect| {
            sqlx::query_as(statement)
                .bind(&query.entity)
                .bind(&query.index)
                .bind(partition)
                .bind(&span.lower)
                .bind(&span.upper)
                .bind(&at.range)
                .bind(&at.key)
                .bind(fetch)
                .fetch_all(pool)
                .await
                .db()?
        });
        Ok(rows)
    }
}

fn page(items: Vec<(String, Value)>, next: Option<Position>) -> EntityPage {
    EntityPage {
        items,
        next_cursor: next.map(|at| at.cursor()),
    }
}

fn check_key(key: &str) -> Result<(), EntityError> {
    key_problem(key).map_or(Ok(()), |reason| {
        Err(EntityError::InvalidKey {
            key: shown_key(key),
            reason,
        })
    })
}

fn decode(key: &str, json: &str) -> Result<Value, EntityError> {
    serde_json::from_str(json).map_err(|source| EntityError::Corrupt {
        what: shown_key(key),
        source,
    })
}

#[cfg(test)]
mod plan_tests {
    //! The walk is one range scan of `entity_index`'s primary key, in index
    //! order (no sort step), on both engines.

    use super::*;
    use crate::plans::{Frame, Param, on_both_engines, plan};

    fn walk_params() -> Vec<Param> {
        vec![
            Param::Text("reminder".to_owned()),
            Param::Text("by-day".to_owned()),
            Param::Bytes(b"p".to_vec()),
            Param::Bytes(vec![2u8]),
            Param::Bytes(vec![3u8]),
            Param::Bytes(Vec::new()),
            Param::Text(String::new()),
            Param::Int(11),
        ]
    }

    async fn assert_walks_use_the_index(store: &Store) {
        for statement in [sql::WALK_ASCENDING, sql::WALK_DESCENDING] {
            let plan = plan(store, Frame::IndexPossible, statement, &walk_params()).await;
            match store.engine() {
                Engine::Sqlite => {
                    assert!(
                        plan.contains(
                            "SEARCH i USING PRIMARY KEY (entity=? AND index_name=? \
                             AND partition_value=? AND range_value>? AND range_value<?)"
                        ),
                        "{plan}"
                    );
                    assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
                }
                Engine::Postgres => {
                    assert!(plan.contains("Index"), "{plan}");
                    assert!(plan.contains("entity_index_pkey"), "{plan}");
                    assert!(plan.contains("range_value >="), "a range scan: {plan}");
                    assert!(!plan.contains("Sort"), "no sort step: {plan}");
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn walks_are_range_scans_of_the_primary_key_on_both_engines() {
        on_both_engines("entity_plan_test", assert_walks_use_the_index).await;
    }
}
