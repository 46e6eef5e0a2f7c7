//! How domain values become column values and back: instants as Unix
//! milliseconds, JSON as text, enums as their names, list cursors as opaque
//! base64 text. Decoding never trusts the database: a row that does not
//! decode is [`StoreError::Corrupt`].

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{Row, postgres::PgRow, sqlite::SqliteRow};

use crate::error::{DbResultExt, StoreError};

/// Entries per page when the caller asks for 0.
pub const DEFAULT_LIST_LIMIT: u32 = 50;
/// The most entries one page of a job, run or audit list holds.
pub const MAX_LIST_LIMIT: u32 = 500;

/// The page size to use for a requested `limit`.
pub(crate) fn list_limit(limit: u32) -> u32 {
    if limit == 0 {
        DEFAULT_LIST_LIMIT
    } else {
        limit.min(MAX_LIST_LIMIT)
    }
}

pub(crate) fn ms(instant: Timestamp) -> i64 {
    instant.as_millisecond()
}

pub(crate) fn opt_ms(instant: Option<Timestamp>) -> Option<i64> {
    instant.map(ms)
}

pub(crate) fn instant(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|error| StoreError::corrupt("instant", error))
}

pub(crate) fn opt_instant(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(instant).transpose()
}

/// JSON text of a value the store built or was given; our types always
/// serialise, so a failure can only come from a caller's map with
/// non-string keys, which JSON cannot express.
pub(crate) fn to_json<T: Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid {
        what,
        reason: error.to_string(),
    })
}

pub(crate) fn opt_to_json<T: Serialize>(
    what: &'static str,
    value: Option<&T>,
) -> Result<Option<String>, StoreError> {
    value.map(|value| to_json(what, value)).transpose()
}

pub(crate) fn from_json<T: DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::corrupt(what, error))
}

pub(crate) fn opt_from_json<T: DeserializeOwned>(
    what: &'static str,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.map(|text| from_json(what, &text)).transpose()
}

pub(crate) fn parse_enum<T: std::str::FromStr>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| StoreError::corrupt(what, error))
}

/// A cursor is `kind:value` in URL-safe base64, so a cursor of one list is
/// refused by another.
pub(crate) fn encode_cursor(kind: &str, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{value}"))
}

pub(crate) fn decode_cursor(kind: &str, cursor: &str) -> Result<String, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_string)
        .ok_or(StoreError::InvalidCursor)
}

pub(crate) fn decode_id_cursor(kind: &str, cursor: &str) -> Result<i64, StoreError> {
    decode_cursor(kind, cursor)?
        .parse()
        .map_err(|_| StoreError::InvalidCursor)
}

/// Typed column access shared by both engines' rows, so each row decoder is
/// written once.
pub(crate) trait Columns {
    fn i64(&self, index: usize) -> Result<i64, StoreError>;
    fn opt_i64(&self, index: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, index: usize) -> Result<String, StoreError>;
    fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError>;
    fn bool(&self, index: usize) -> Result<bool, StoreError>;
}

macro_rules! impl_columns {
    ($row:ty) => {
        impl Columns for $row {
            fn i64(&self, index: usize) -> Result<i64, StoreError> {
                Ok(self.try_get(index).db()?)
            }
            fn opt_i64(&self, index: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.try_get(index).db()?)
            }
            fn text(&self, index: usize) -> Result<String, StoreError> {
                Ok(self.try_get(index).db()?)
            }
            fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
                Ok(self.try_get(index).db()?)
            }
            fn bool(&self, index: usize) -> Result<bool, StoreError> {
                Ok(self.try_get(index).db()?)
            }
        }
    };
}
impl_columns!(SqliteRow);
impl_columns!(PgRow);

/// A non-negative count column as `u64`.
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// `u32` column values the schema keeps in range (attempt, retention).
pub(crate) fn small(what: &'static str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(what, format!("{value} is out of range")))
}

/// Commits when `outcome` is a success; otherwise rolls back at once (so
/// locks are released before the error is returned) and returns the error.
pub(crate) async fn commit_or_rollback<DB: sqlx::Database, T>(
    tx: sqlx::Transaction<'_, DB>,
    outcome: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match outcome {
        Ok(value) => {
            tx.commit().await.db()?;
            Ok(value)
        }
        Err(error) => {
            // The error that aborted the transaction is the one worth
            // reporting; a failed rollback drops the connection, which
            // rolls back too.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// A JSON array of ids, as the batch statements take them.
pub(crate) fn id_array(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.into_iter().collect();
    // A Vec<i64> always serialises.
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_one_list() {
        let cursor = encode_cursor("job", "nightly-sync");
        assert_eq!(decode_cursor("job", &cursor).unwrap(), "nightly-sync");
        assert!(matches!(
            decode_cursor("run", &cursor),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor("job", "%%%"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode_id_cursor("run", &encode_cursor("run", "x")),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(list_limit(0), DEFAULT_LIST_LIMIT);
        assert_eq!(list_limit(7), 7);
        assert_eq!(list_limit(100_000), MAX_LIST_LIMIT);
    }
}
