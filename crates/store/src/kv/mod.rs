//! The key-value store scripts use: entries, listing, batches, transactions.
//!
//! Rules shared by every operation:
//! - an entry whose TTL has run out is invisible everywhere, as if deleted;
//!   [`Store::kv_get`] deletes one it meets, [`Store::kv_purge_expired`]
//!   sweeps the rest;
//! - keys sort by Unicode code point on both engines;
//! - an operation that returns an error has written nothing;
//! - writes of entries, secrets and entity values stay within the storage
//!   quota (`quota`).
//!
//! How concurrent writers are kept apart, on both engines: every write runs
//! in one transaction that first locks the storage usage row (`quota`), so
//! writers of entries and secrets go one at a time, including other nodes',
//! while readers are never blocked. SQLite's `BEGIN IMMEDIATE` takes the
//! database's single write lock up front anyway; on PostgreSQL the row lock
//! is what lets [`Store::kv_transact`] read its expectations and write with
//! no other writer in between (per-key locks could not lock keys that do
//! not exist yet, as `Expect::Absent` needs), and what keeps two writers
//! from both passing the quota check. The exact usage count needs that
//! order; the transactions last milliseconds.

pub(crate) mod quota;
pub(crate) mod sql;

use std::{
    collections::{HashMap, HashSet},
    fmt,
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::{
    error::{DatabaseError, DbResultExt, QuotaExceeded},
    kv::quota::{StorageUsage, within_quota},
    store::{Store, with_backend},
};

/// Why a key-value operation failed. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// `if_absent` was asked for and the key holds a live value.
    #[error("key {key:?} already exists")]
    KeyExists {
        /// The key.
        key: String,
    },
    /// An expectation of [`Store::kv_transact`](crate::Store::kv_transact)
    /// did not hold; the whole transaction was abandoned.
    #[error("transaction aborted: key {key:?} was expected to be {expected}")]
    ExpectationFailed {
        /// The key whose expectation failed (the first in operation order).
        key: String,
        /// What was expected of it.
        expected: Expect,
    },
    /// The key is empty, too long, or contains a NUL character.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key (NUL characters shown escaped).
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
        /// [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES).
        max: usize,
    },
    /// A list cursor that this store did not hand out.
    #[error("invalid list cursor")]
    InvalidCursor,
    /// More keys or operations in one call than the store accepts.
    #[error("{len} entries in one call, more than the store's limit of {max}")]
    TooMany {
        /// How many were given.
        len: usize,
        /// [`MAX_BATCH`](crate::MAX_BATCH).
        max: usize,
    },
    /// A stored value is not JSON any more (the database was edited by hand).
    #[error("stored value of key {key:?} is not valid JSON")]
    CorruptValue {
        /// The key.
        key: String,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The write would take storage above its quota; see [`QuotaExceeded`].
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// The database failed.
    #[error("key-value store failure")]
    Database(#[from] DatabaseError),
}

/// Entries per [`Store::kv_list`] page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// The most entries one [`Store::kv_list`] page holds; larger limits are clamped.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The most keys, items or operations one batch or transaction call accepts.
pub const MAX_BATCH: usize = 1000;
/// The longest key, in characters (also a CHECK constraint).
pub const MAX_KEY_CHARS: usize = 500;
/// The largest value, in bytes of JSON text (also a CHECK constraint). The
/// runtime enforces the script API's smaller limit; this only keeps the
/// database sane.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// How [`Store::kv_set`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// The entry disappears this long after the write; `None` keeps it until
    /// deleted or overwritten. Overwriting replaces the TTL too.
    pub ttl: Option<Duration>,
    /// Write only if no live entry has the key; otherwise fail with
    /// [`KvError::KeyExists`]. An expired entry counts as absent.
    pub if_absent: bool,
}

/// One page request of [`Store::kv_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvQuery {
    /// Only keys that start with this string (compared exactly: no pattern
    /// characters).
    pub prefix: Option<String>,
    /// Entries per page, clamped to `1..=`[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// [`KvPage::next_cursor`] of the previous page, to continue after it.
    pub cursor: Option<String>,
}

impl Default for KvQuery {
    fn default() -> Self {
        Self {
            prefix: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

/// One page of [`Store::kv_list`].
#[derive(Debug, Clone, PartialEq)]
pub struct KvPage {
    /// Entries in ascending key order.
    pub items: Vec<(String, Value)>,
    /// Present when more entries follow; opaque, pass it back as
    /// [`KvQuery::cursor`].
    pub next_cursor: Option<String>,
}

/// One entry to write with [`Store::kv_batch_set`].
#[derive(Debug, Clone, PartialEq)]
pub struct KvItem {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// As [`SetOptions::ttl`].
    pub ttl: Option<Duration>,
}

/// What a [`TxOp`] requires of its key's live entry when the transaction starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// No live entry.
    Absent,
    /// A live entry, whatever its value.
    Present,
    /// A live entry whose value equals this one. Numbers compare by value,
    /// as in JavaScript: `1` equals `1.0`.
    Equals(Value),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Absent => f.write_str("absent"),
            Expect::Present => f.write_str("present"),
            Expect::Equals(_) => f.write_str("equal to the given value"),
        }
    }
}

/// One operation of [`Store::kv_transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    /// Write an entry.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Value,
        /// As [`SetOptions::ttl`].
        ttl: Option<Duration>,
        /// Required of the key before the transaction, if anything.
        expect: Option<Expect>,
    },
    /// Delete an entry (no error when absent).
    Delete {
        /// The key.
        key: String,
        /// Required of the key before the transaction, if anything.
        expect: Option<Expect>,
    },
    /// Write nothing; only require something of the key.
    Check {
        /// The key.
        key: String,
        /// Required of the key before the transaction.
        expect: Expect,
    },
}

impl TxOp {
    fn key(&self) -> &str {
        match self {
            TxOp::Set { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => key,
        }
    }

    fn expectation(&self) -> Option<&Expect> {
        match self {
            TxOp::Set { expect, .. } | TxOp::Delete { expect, .. } => expect.as_ref(),
            TxOp::Check { expect, .. } => Some(expect),
        }
    }
}

/// A write of a transaction or batch, validated and encoded before the
/// database is touched.
enum Write<'a> {
    Set {
        key: &'a str,
        json: String,
        expires_at_ms: Option<i64>,
    },
    Delete {
        key: &'a str,
    },
}

/// Runs one prepared [`Write`] on `$conn` (a transaction) with `$sql`'s
/// dialect; evaluates to `Result<(), DatabaseError>`.
macro_rules! apply_write {
    ($write:expr, $now:expr, $sql:expr, $conn:expr) => {
        match $write {
            Write::Set {
                key,
                json,
                expires_at_ms,
            } => sqlx::query($sql.kv.kv_upsert)
                .bind(*key)
                .bind(json)
                .bind(*expires_at_ms)
                .bind($now)
                .execute($conn)
                .await
                .db()
                .map(drop),
            Write::Delete { key } => sqlx::query(sql::KV_DELETE)
                .bind(*key)
                .execute($conn)
                .await
                .db()
                .map(drop),
        }
    };
}
impl Store {
    /// The live value of `key`, or `None` when absent or expired.
    pub async fn kv_get(&self, key: &str) -> Result<Option<Value>, KvError> {
        check_key(key)?;
        let now = self.now_ms();
        let row: Option<(String, Option<i64>)> = with_backend!(self, |pool, sql| {
            sqlx::query_as(sql.kv.kv_get)
                .bind(key)
                .fetch_optional(pool)
                .await
                .db()?
        });
        match row {
            None => Ok(None),
            Some((_, Some(expires_at_ms))) if expires_at_ms <= now => {
                self.delete_if_expired(key, now).await?;
                Ok(None)
            }
            Some((json, _)) => decode(key, &json).map(Some),
        }
    }

    async fn delete_if_expired(&self, key: &str, now: i64) -> Result<(), KvError> {
        within_quota!(self, KvError, |tx, sql| {
            sqlx::query(sql::KV_DELETE_IF_EXPIRED)
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await
                .db()
                .map(drop)
        });
        Ok(())
    }

    /// Writes `value` under `key`, replacing any previous value and TTL.
    ///
    /// With [`SetOptions::if_absent`], fails with [`KvError::KeyExists`] when
    /// a live entry exists; of concurrent such writes of one key, exactly one
    /// succeeds.
    pub async fn kv_set(
        &self,
        key: &str,
        value: &Value,
        options: SetOptions,
    ) -> Result<(), KvError> {
        check_key(key)?;
        let json = encode(key, value)?;
        let now = self.now_ms();
        let expires_at_ms = expiry(now, options.ttl);
        let written = within_quota!(self, KvError, |tx, sql| {
            let statement = if options.if_absent {
                sql.kv.kv_insert_if_absent
            } else {
                sql.kv.kv_upsert
            };
            sqlx::query(statement)
                .bind(key)
                .bind(&json)
                .bind(expires_at_ms)
                .bind(now)
                .execute(&mut *tx)
                .await
                .db()
                .map(|done| done.rows_affected())
        });
        if written == 0 {
            return Err(KvError::KeyExists {
                key: key.to_string(),
            });
        }
        Ok(())
    }

    /// Deletes `key`; succeeds whether or not it existed.
    pub async fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        check_key(key)?;
        within_quota!(self, KvError, |tx, sql| {
            sqlx::query(sql::KV_DELETE)
                .bind(key)
                .execute(&mut *tx)
                .await
                .db()
                .map(drop)
        });
        Ok(())
    }

    /// One page of live entries in ascending key order, optionally only those
    /// whose key starts with [`KvQuery::prefix`].
    pub async fn kv_list(&self, query: KvQuery) -> Result<KvPage, KvError> {
        let after = match &query.cursor {
            Some(cursor) => decode_cursor(cursor)?,
            None => String::new(),
        };
        let prefix = query.prefix.unwrap_or_default();
        if prefix.contains('\0') {
            // No key holds a NUL (check_key), and PostgreSQL text cannot.
            return Ok(KvPage {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        // One row more than asked tells whether another page follows.
        let fetch = i64::from(limit) + 1;
        let now = self.now_ms();
        let rows: Vec<(String, String)> = match prefix_upper_bound(&prefix) {
            Some(upper) => with_backend!(self, |pool, sql| {
                sqlx::query_as(sql.kv.kv_list_bounded)
                    .bind(&prefix)
                    .bind(&after)
                    .bind(&upper)
                    .bind(now)
                    .bind(fetch)
                    .fetch_all(pool)
                    .await
                    .db()?
            }),
            None => with_backend!(self, |pool, sql| {
                sqlx::query_as(sql.kv.kv_list_unbounded)
                    .bind(&prefix)
                    .bind(&after)
                    .bind(now)
                    .bind(fetch)
                    .fetch_all(pool)
                    .await
                    .db()?
            }),
        };
        let mut items = rows
            .into_iter()
            .map(|(key, json)| decode(&key, &json).map(|value| (key, value)))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|(key, _)| encode_cursor(key))
        } else {
            None
        };
        Ok(KvPage { items, next_cursor })
    }

    /// The live entries among `keys`, in the order of `keys`, each once;
    /// absent and expired keys are left out.
    pub async fn kv_batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, KvError> {
        check_batch_len(keys.len())?;
        keys.iter().try_for_each(|key| check_key(key))?;
        let now = self.now_ms();
        let keys_json = json_array(keys.iter().map(String::as_str));
        let rows: Vec<(String, String)> = with_backend!(self, |pool, sql| {
            sqlx::query_as(sql.kv.kv_get_many)
                .bind(&keys_json)
                .bind(now)
                .fetch_all(pool)
                .await
                .db()?
        });
        let found: HashMap<String, String> = rows.into_iter().collect();
        let mut seen = HashSet::new();
        keys.iter()
            .filter(|key| seen.insert(key.as_str()))
            .filter_map(|key| found.get(key).map(|json| (key, json)))
            .map(|(key, json)| decode(key, json).map(|value| (key.clone(), value)))
            .collect()
    }

    /// Writes every item, or none of them.
    pub async fn kv_batch_set(&self, items: Vec<KvItem>) -> Result<(), KvError> {
        check_batch_len(items.len())?;
        let now = self.now_ms();
        let writes = items
            .iter()
            .map(|item| prepare_set(&item.key, &item.value, item.ttl, now))
            .collect::<Result<Vec<_>, _>>()?;
        within_quota!(self, KvError, |tx, sql| {
            async {
                for write in &writes {
                    apply_write!(write, now, sql, &mut *tx)?;
                }
                Ok::<_, KvError>(())
            }
            .await
        });
        Ok(())
    }

    /// Deletes every listed key that exists, in one atomic statement.
    pub async fn kv_batch_delete(&self, keys: &[String]) -> Result<(), KvError> {
        check_batch_len(keys.len())?;
        keys.iter().try_for_each(|key| check_key(key))?;
        let keys_json = json_array(keys.iter().map(String::as_str));
        within_quota!(self, KvError, |tx, sql| {
            sqlx::query(sql.kv.kv_delete_many)
                .bind(&keys_json)
                .execute(&mut *tx)
                .await
                .db()
                .map(drop)
        });
        Ok(())
    }

    /// Applies every operation, or none.
    ///
    /// All expectations are checked against the entries as they are when the
    /// transaction starts, before anything is written; the first that fails
    /// (in operation order) aborts the transaction with
    /// [`KvError::ExpectationFailed`] naming its key. Then the writes apply in
    /// operation order. No other writer can change the store between the
    /// checks and the writes.
    pub async fn kv_transact(&self, ops: Vec<TxOp>) -> Result<(), KvError> {
        check_batch_len(ops.len())?;
        let now = self.now_ms();
        let writes = ops
            .iter()
            .filter_map(|op| prepare_op(op, now).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let expected_keys = json_array(
            ops.iter()
                .filter(|op| op.expectation().is_some())
                .map(TxOp::key),
        );
        within_quota!(self, KvError, |tx, sql| {
            async {
                let current: Vec<(String, String)> = sqlx::query_as(sql.kv.kv_get_many)
                    .bind(&expected_keys)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                check_expectations(&ops, &current.into_iter().collect())?;
                for write in &writes {
                    apply_write!(write, now, sql, &mut *tx)?;
                }
                Ok::<_, KvError>(())
            }
            .await
        });
        Ok(())
    }

    /// Deletes up to `limit` expired entries, those that expired first
    /// first, and returns how many it deleted. For a background sweeper:
    /// expired entries are already invisible.
    pub async fn kv_purge_expired(&self, limit: u32) -> Result<u64, KvError> {
        let now = self.now_ms();
        let deleted = within_quota!(self, KvError, |tx, sql| {
            sqlx::query(sql::KV_PURGE_EXPIRED)
                .bind(now)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await
                .db()
                .map(|done| done.rows_affected())
        });
        Ok(deleted)
    }

    /// How many keys and bytes the entries and secrets hold now, as the
    /// quota counts them.
    pub async fn storage_usage(&self) -> Result<StorageUsage, KvError> {
        let row = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::USAGE).fetch_one(pool).await.db()?
        });
        Ok(StorageUsage::from_row(row))
    }
}

/// Commits when `outcome` is a success; otherwise rolls back at once (so
/// locks are released before the error is returned) and returns the error.
pub(crate) async fn finish<DB: sqlx::Database, T, E: From<DatabaseError>>(
    tx: sqlx::Transaction<'_, DB>,
    outcome: Result<T, E>,
) -> Result<T, E> {
    match outcome {
        Ok(value) => tx.commit().await.db().map(|()| value).map_err(E::from),
        Err(error) => {
            // The error that aborted the transaction is the one worth
            // reporting; should the rollback itself fail, the driver drops
            // the connection, which rolls back too.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

fn check_expectations(ops: &[TxOp], current: &HashMap<String, String>) -> Result<(), KvError> {
    for op in ops {
        let Some(expect) = op.expectation() else {
            continue;
        };
        let key = op.key();
        let holds = match (expect, current.get(key)) {
            (Expect::Absent, found) => found.is_none(),
            (Expect::Present, found) => found.is_some(),
            (Expect::Equals(_), None) => false,
            (Expect::Equals(wanted), Some(json)) => json_equal(wanted, &decode(key, json)?),
        };
        if !holds {
            return Err(KvError::ExpectationFailed {
                key: key.to_string(),
                expected: expect.clone(),
            });
        }
    }
    Ok(())
}

fn prepare_op(op: &TxOp, now: i64) -> Result<Option<Write<'_>>, KvError> {
    match op {
        TxOp::Set {
            key, value, ttl, ..
        } => prepare_set(key, value, *ttl, now).map(Some),
        TxOp::Delete { key, .. } => {
            check_key(key)?;
            Ok(Some(Write::Delete { key }))
        }
        TxOp::Check { key, .. } => {
            check_key(key)?;
            Ok(None)
        }
    }
}

fn prepare_set<'a>(
    key: &'a str,
    value: &Value,
    ttl: Option<Duration>,
    now: i64,
) -> Result<Write<'a>, KvError> {
    check_key(key)?;
    Ok(Write::Set {
        key,
        json: encode(key, value)?,
        expires_at_ms: expiry(now, ttl),
    })
}

fn check_batch_len(len: usize) -> Result<(), KvError> {
    if len > MAX_BATCH {
        return Err(KvError::TooMany {
            len,
            max: MAX_BATCH,
        });
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), KvError> {
    key_problem(key).map_or(Ok(()), |reason| {
        Err(KvError::InvalidKey {
            key: shown_key(key),
            reason,
        })
    })
}

/// Why `key` cannot be stored, if it cannot. Shared with secrets.
pub(crate) fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("it is empty")
    } else if key.chars().count() > MAX_KEY_CHARS {
        Some("it is longer than 500 characters")
    } else if key.contains('\0') {
        Some("it contains a NUL character")
    } else {
        None
    }
}

/// A key as errors show it: at most 100 characters.
pub(crate) fn shown_key(key: &str) -> String {
    const SHOWN: usize = 100;
    match key.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_string(),
    }
}

fn encode(key: &str, value: &Value) -> Result<String, KvError> {
    let json = value.to_string();
    if json.len() > MAX_VALUE_BYTES {
        return Err(KvError::ValueTooLarge {
            key: shown_key(key),
            size: json.len(),
            max: MAX_VALUE_BYTES,
        });
    }
    Ok(json)
}

fn decode(key: &str, json: &str) -> Result<Value, KvError> {
    serde_json::from_str(json).map_err(|source| KvError::CorruptValue {
        key: shown_key(key),
        source,
    })
}

/// When an entry written at `now_ms` with `ttl` expires, in Unix milliseconds.
/// Rounds up, so a TTL is never shortened.
fn expiry(now_ms: i64, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|ttl| {
        let ttl_ms = i64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX);
        now_ms.saturating_add(ttl_ms)
    })
}

fn json_array<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    Value::Array(keys.map(|key| Value::String(key.to_string())).collect()).to_string()
}

/// JSON equality with numbers compared by value, as JavaScript sees them.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, x)| y.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

/// The least string greater than every string that starts with `prefix`, or
/// `None` when no string is (empty prefix, or only `char::MAX`).
///
/// Keys compare by code point on both engines, so `prefix <= key < bound`
/// selects exactly the keys starting with `prefix`, using the key index and
/// without pattern characters (`%`, `_`) to escape.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn next_char(c: char) -> Option<char> {
    match c {
        // Surrogates are not characters; the next one after them is U+E000.
        '\u{D7FF}' => Some('\u{E000}'),
        char::MAX => None,
        c => char::from_u32(u32::from(c) + 1),
    }
}

fn encode_cursor(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

fn decode_cursor(cursor: &str) -> Result<String, KvError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| KvError::InvalidCursor)?;
    let key = String::from_utf8(bytes).map_err(|_| KvError::InvalidCursor)?;
    if key_problem(&key).is_some() {
        return Err(KvError::InvalidCursor);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn starts_within_bounds(key: &str, prefix: &str) -> bool {
        key >= prefix && prefix_upper_bound(prefix).is_none_or(|upper| key < upper.as_str())
    }

    #[test]
    fn prefix_bound_is_the_next_string_after_the_prefix() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_upper_bound("a_").as_deref(), Some("a`"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
    }

    #[test]
    fn prefix_bounds_select_exactly_the_keys_with_the_prefix() {
        let keys = [
            "a",
            "a%",
            "a%b",
            "a&",
            "a_",
            "a_b",
            "a`",
            "ab",
            "b",
            "é",
            "éa",
            "\u{D7FF}z",
            "\u{E000}",
            "日本",
            "日本語",
            "😀",
            "\u{10FFFF}",
            "\u{10FFFF}x",
        ];
        let prefixes = ["a", "a%", "a_", "é", "日本", "\u{D7FF}", "\u{10FFFF}", ""];
        for prefix in prefixes {
            for key in keys {
                assert_eq!(
                    starts_within_bounds(key, prefix),
                    key.starts_with(prefix),
                    "key {key:?} prefix {prefix:?}"
                );
            }
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        for key in ["a", "a%_/+=", "日本語 😀"] {
            assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        }
        for bad in ["!!!", "%%", &URL_SAFE_NO_PAD.encode([0xff, 0xfe]), ""] {
            assert!(
                matches!(decode_cursor(bad), Err(KvError::InvalidCursor)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys_are_checked_for_emptiness_length_and_nul() {
        assert_eq!(key_problem("k"), None);
        assert_eq!(key_problem(&"é".repeat(500)), None);
        assert!(key_problem("").is_some());
        assert!(key_problem(&"x".repeat(501)).is_some());
        assert!(key_problem("a\0b").is_some());
    }

    #[test]
    fn shown_keys_are_cut_at_100_characters() {
        assert_eq!(shown_key("short"), "short");
        let shown = shown_key(&"é".repeat(300));
        assert_eq!(shown.chars().count(), 101);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn expiry_rounds_up_and_saturates() {
        assert_eq!(expiry(1_000, None), None);
        assert_eq!(expiry(1_000, Some(Duration::from_secs(2))), Some(3_000));
        assert_eq!(expiry(1_000, Some(Duration::from_micros(1))), Some(1_001));
        assert_eq!(expiry(1_000, Some(Duration::MAX)), Some(i64::MAX));
    }

    #[test]
    fn numbers_compare_by_value_like_javascript() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(json_equal(
            &json!({"a": [1, 2.5]}),
            &json!({"a": [1.0, 2.5]})
        ));
        assert!(json_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_equal(&json!(1), &json!(2)));
        assert!(!json_equal(&json!(-1), &json!(u64::MAX)));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_equal(&json!([1]), &json!([1, 1])));
        assert!(!json_equal(&json!("1"), &json!(1)));
    }

    #[test]
    fn oversized_values_are_refused() {
        let big = Value::String("x".repeat(MAX_VALUE_BYTES));
        assert!(matches!(
            encode("k", &big),
            Err(KvError::ValueTooLarge { size, .. }) if size == MAX_VALUE_BYTES + 2
        ));
    }
}
