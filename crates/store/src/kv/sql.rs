//! The SQL statements on key-value entries and the storage browser. Text both
//! dialects share is a `const`; text that differs is a field of [`KvSql`],
//! whose [`SQLITE`] and [`POSTGRES`] values the store picks per engine.

use crate::sql::dialect_statements;
dialect_statements! {
    /// The statements on key-value entries and the storage browser whose text
    /// differs between the dialects.
    pub(crate) struct KvSql {
        /// Run first in every transaction that writes entries or secrets:
        /// → `keys`, `bytes` of the usage row, locked until commit so that
        /// storage writers go one at a time (SQLite's `BEGIN IMMEDIATE`
        /// already makes them).
        pub(crate) usage_for_update: &'static str,
        /// `$1` key → `value` (JSON text), `expires_at_ms`.
        pub(crate) kv_get: &'static str,
        /// `$1` key, `$2` JSON text, `$3` expires_at_ms, `$4` now.
        pub(crate) kv_upsert: &'static str,
        /// As `kv_upsert`, but changes nothing when a live entry exists.
        pub(crate) kv_insert_if_absent: &'static str,
        /// `$1` prefix (inclusive lower bound), `$2` cursor (exclusive lower
        /// bound, `''` for none), `$3` exclusive upper bound, `$4` now,
        /// `$5` limit → `key`, `value`.
        pub(crate) kv_list_bounded: &'static str,
        /// As `kv_list_bounded` without the upper bound: `$3` now, `$4` limit.
        pub(crate) kv_list_unbounded: &'static str,
        /// `$1` JSON array of keys, `$2` now → `key`, `value` of live entries.
        pub(crate) kv_get_many: &'static str,
        /// `$1` JSON array of keys.
        pub(crate) kv_delete_many: &'static str,
        /// The storage browser: `$1` prefix, `$2` key and `$3` kind (0 entry,
        /// 1 secret, -1 none) after which to start, `$4` now, `$5` exclusive
        /// upper bound or NULL, `$6` limit → `key`, kind, value JSON text (NULL
        /// for secrets), size in bytes (ciphertext for secrets).
        pub(crate) storage_browse: &'static str,
    }
}

/// SQLite: JSON is checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: KvSql = KvSql {
    usage_for_update: "SELECT keys, bytes FROM storage_usage WHERE id = 1",
    kv_get: "SELECT value, expires_at_ms FROM kv WHERE key = $1",
    kv_upsert: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                VALUES ($1, $2, $3, $4) \
                ON CONFLICT (key) DO UPDATE SET \
                    value = excluded.value, \
                    expires_at_ms = excluded.expires_at_ms, \
                    updated_at_ms = excluded.updated_at_ms",
    kv_insert_if_absent: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                          VALUES ($1, $2, $3, $4) \
                          ON CONFLICT (key) DO UPDATE SET \
                              value = excluded.value, \
                              expires_at_ms = excluded.expires_at_ms, \
                              updated_at_ms = excluded.updated_at_ms \
                          WHERE kv.expires_at_ms <= excluded.updated_at_ms",
    kv_list_bounded: concat!(
        "SELECT key, value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key ",
        crate::sql::bound_limit!("$5")
    ),
    kv_list_unbounded: concat!(
        "SELECT key, value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key ",
        crate::sql::bound_limit!("$4")
    ),
    kv_get_many: "SELECT key, value FROM kv \
                  WHERE key IN (SELECT value FROM json_each($1)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv WHERE key IN (SELECT value FROM json_each($1))",
    storage_browse: concat!(
        "SELECT key, kind, value, size FROM (\
            SELECT key, 0 AS kind, value, length(CAST(value AS BLOB)) AS size FROM kv \
            WHERE key >= $1 AND ($5 IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 0 > $3)) \
              AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
            UNION ALL \
            SELECT key, 1 AS kind, NULL AS value, length(ciphertext) AS size FROM secret \
            WHERE key >= $1 AND ($5 IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 1 > $3))) \
        ORDER BY key, kind ",
        crate::sql::bound_limit!("$6")
    ),
};

/// PostgreSQL: `json` columns cast from and to text; row locks where SQLite
/// relies on its single writer.
pub(crate) const POSTGRES: KvSql = KvSql {
    usage_for_update: "SELECT keys, bytes FROM storage_usage WHERE id = 1 FOR UPDATE",
    kv_get: "SELECT value::text AS value, expires_at_ms FROM kv WHERE key = $1",
    kv_upsert: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                VALUES ($1, $2::json, $3, $4) \
                ON CONFLICT (key) DO UPDATE SET \
                    value = excluded.value, \
                    expires_at_ms = excluded.expires_at_ms, \
                    updated_at_ms = excluded.updated_at_ms",
    kv_insert_if_absent: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                          VALUES ($1, $2::json, $3, $4) \
                          ON CONFLICT (key) DO UPDATE SET \
                              value = excluded.value, \
                              expires_at_ms = excluded.expires_at_ms, \
                              updated_at_ms = excluded.updated_at_ms \
                          WHERE kv.expires_at_ms <= excluded.updated_at_ms",
    kv_list_bounded: concat!(
        "SELECT key, value::text AS value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key ",
        crate::sql::bound_limit!("$5")
    ),
    kv_list_unbounded: concat!(
        "SELECT key, value::text AS value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key ",
        crate::sql::bound_limit!("$4")
    ),
    kv_get_many: "SELECT key, value::text AS value FROM kv \
                  WHERE key IN (SELECT json_array_elements_text($1::json)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv \
                     WHERE key IN (SELECT json_array_elements_text($1::json))",
    storage_browse: concat!(
        "SELECT key, kind, value, size FROM (\
            SELECT key, 0::bigint AS kind, value::text AS value, \
                octet_length(value::text)::bigint AS size FROM kv \
            WHERE key >= $1 AND ($5::text IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 0 > $3::bigint)) \
              AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
            UNION ALL \
            SELECT key, 1::bigint AS kind, NULL::text AS value, \
                octet_length(ciphertext)::bigint AS size FROM secret \
            WHERE key >= $1 AND ($5::text IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 1 > $3::bigint))) AS s \
        ORDER BY key, kind ",
        crate::sql::bound_limit!("$6")
    ),
};

/// `$1` key.
pub(crate) const KV_DELETE: &str = "DELETE FROM kv WHERE key = $1";

/// `$1` key, `$2` now: deletes the entry only if it has expired by now.
pub(crate) const KV_DELETE_IF_EXPIRED: &str =
    "DELETE FROM kv WHERE key = $1 AND expires_at_ms <= $2";

/// `$1` now, `$2` limit: deletes up to limit expired entries, oldest first.
pub(crate) const KV_PURGE_EXPIRED: &str = concat!(
    "DELETE FROM kv WHERE key IN (\
        SELECT key FROM kv WHERE expires_at_ms <= $1 \
        ORDER BY expires_at_ms ",
    crate::sql::bound_limit!("$2"),
    ")"
);

/// `$1` now: deletes every expired entry (to free their quota).
pub(crate) const KV_DELETE_ALL_EXPIRED: &str = "DELETE FROM kv WHERE expires_at_ms <= $1";

/// → `keys`, `bytes` of the storage usage row.
pub(crate) const USAGE: &str = "SELECT keys, bytes FROM storage_usage WHERE id = 1";
