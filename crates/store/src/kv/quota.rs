//! The storage quota: how many keys and bytes the installation's key-value
//! entries, secrets and custom entity values may hold together, and the
//! check every write of any of them passes before it commits.
//!
//! The usage is one row, `storage_usage`, that triggers (migrations 0014,
//! and 0017 for entity values) keep exact in the same transaction as each
//! write. An entity value counts as one key of its entity name, key and
//! JSON text bytes; its index entries are derived and do not count. Every
//! write of entries, secrets or entity values runs in [`within_quota!`]: it locks that row first, writes,
//! reads the row again and commits only if the quota allows the result.
//! Locking the row first orders all storage writers on both engines (SQLite
//! has a single writer anyway): two writers can never both pass the check,
//! and since no writer holds a lock on an entry while it waits for the row,
//! the row adds no deadlock. A write that would leave usage above a limit
//! and higher than it found it fails as a whole; a write that shrinks usage
//! (a delete, a smaller value) always succeeds, even over the quota.
//! Expired entries count until they are deleted; before refusing a write,
//! the check deletes every expired entry and looks again.

use crate::error::{QuotaExceeded, QuotaResource};

/// The limits of [`Store::with_storage_quota`](crate::Store::with_storage_quota).
/// `None` is unlimited, the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageQuota {
    /// The most keys (entries, secrets and entity values together).
    pub max_keys: Option<u64>,
    /// The most bytes: each key's UTF-8 bytes plus its value's JSON text
    /// (entries) or its ciphertext (secrets: the JSON text plus 16 bytes);
    /// an entity value's entity name, key and JSON text.
    pub max_bytes: Option<u64>,
}

/// What the installation's entries, secrets and entity values hold now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageUsage {
    /// Keys: entries (expired ones until deleted), secrets, entity values.
    pub keys: u64,
    /// Bytes, counted as [`StorageQuota::max_bytes`] says.
    pub bytes: u64,
}

impl StorageUsage {
    pub(crate) fn from_row((keys, bytes): (i64, i64)) -> Self {
        // The triggers never drive a count below zero.
        Self {
            keys: u64::try_from(keys).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
        }
    }
}

impl StorageQuota {
    /// Whether the quota lets a write change usage from `before` to `after`:
    /// refused when it leaves a dimension above its limit and higher than it
    /// was, so shrinking always works.
    pub(crate) fn check(
        &self,
        before: StorageUsage,
        after: StorageUsage,
    ) -> Result<(), QuotaExceeded> {
        check_one(QuotaResource::Keys, self.max_keys, before.keys, after.keys)?;
        check_one(
            QuotaResource::Bytes,
            self.max_bytes,
            before.bytes,
            after.bytes,
        )
    }
}

fn check_one(
    resource: QuotaResource,
    limit: Option<u64>,
    usage: u64,
    requested: u64,
) -> Result<(), QuotaExceeded> {
    match limit {
        Some(limit) if requested > limit && requested > usage => Err(QuotaExceeded {
            resource,
            usage,
            requested,
            limit,
        }),
        _ => Ok(()),
    }
}

/// Runs `$body` — writes through `&mut *$tx` with `$sql`'s dialect,
/// evaluating to `Result<T, $error>` — in a write transaction that locks
/// the usage row first and commits only within the store's quota (see the
/// module doc). Evaluates to `T`, returning `$error` from the enclosing
/// function on failure, after a rollback.
macro_rules! within_quota {
    ($store:expr, $error:ty, |$tx:ident, $sql:ident| $body:expr) => {
        $crate::store::with_writer!($store, |pool, $sql| {
            let mut $tx = pool.begin_with($sql.begin_write).await.db()?;
            let outcome: Result<_, $error> = async {
                let read_usage = |statement| sqlx::query_as::<_, (i64, i64)>(statement);
                let before = read_usage($sql.kv.usage_for_update)
                    .fetch_one(&mut *$tx)
                    .await
                    .db()
                    .map($crate::kv::quota::StorageUsage::from_row)?;
                let value = $body?;
                let after = read_usage($crate::kv::sql::USAGE)
                    .fetch_one(&mut *$tx)
                    .await
                    .db()
                    .map($crate::kv::quota::StorageUsage::from_row)?;
                if let Err(exceeded) = $store.storage_quota.check(before, after) {
                    // Expired entries are invisible but still counted:
                    // free them before refusing.
                    let purged = sqlx::query($crate::kv::sql::KV_DELETE_ALL_EXPIRED)
                        .bind($store.now_ms())
                        .execute(&mut *$tx)
                        .await
                        .db()?
                        .rows_affected();
                    if purged == 0 {
                        return Err(exceeded.into());
                    }
                    let after = read_usage($crate::kv::sql::USAGE)
                        .fetch_one(&mut *$tx)
                        .await
                        .db()
                        .map($crate::kv::quota::StorageUsage::from_row)?;
                    $store.storage_quota.check(before, after)?;
                }
                Ok(value)
            }
            .await;
            $crate::kv::finish($tx, outcome).await?
        })
    };
}
pub(crate) use within_quota;

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(keys: u64, bytes: u64) -> StorageUsage {
        StorageUsage { keys, bytes }
    }

    const QUOTA: StorageQuota = StorageQuota {
        max_keys: Some(10),
        max_bytes: Some(1000),
    };

    #[test]
    fn growth_up_to_the_limit_is_allowed() {
        assert_eq!(QUOTA.check(usage(9, 900), usage(10, 1000)), Ok(()));
    }

    #[test]
    fn growth_past_a_limit_names_that_limit() {
        let error = QUOTA.check(usage(10, 900), usage(11, 950)).unwrap_err();
        assert_eq!(error.resource, QuotaResource::Keys);
        assert_eq!((error.usage, error.requested, error.limit), (10, 11, 10));
        let error = QUOTA.check(usage(5, 900), usage(5, 1001)).unwrap_err();
        assert_eq!(error.resource, QuotaResource::Bytes);
        let message = error.to_string();
        assert!(message.contains("from 900 to 1001 bytes"), "{message}");
        assert!(message.contains("limit of 1000 bytes"), "{message}");
        assert!(message.contains("[limits] storage_mb"), "{message}");
    }

    #[test]
    fn shrinking_is_allowed_even_over_the_limit() {
        assert_eq!(QUOTA.check(usage(20, 5000), usage(19, 4000)), Ok(()));
        assert_eq!(QUOTA.check(usage(20, 5000), usage(20, 5000)), Ok(()));
    }

    #[test]
    fn no_limit_allows_anything() {
        let unlimited = StorageQuota::default();
        assert_eq!(
            unlimited.check(usage(0, 0), usage(u64::MAX, u64::MAX)),
            Ok(())
        );
    }
}
