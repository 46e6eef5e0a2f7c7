//! Every SQL statement the store runs, side by side for both dialects.
//!
//! `$n` placeholders work on both engines. The dialects differ only where
//! PostgreSQL's `json` column needs a cast from and to text, in how a JSON
//! array of keys becomes rows, and in how a guarded transaction excludes
//! other writers; statements that are the same text on both live in
//! [`common`]. Instants are Unix milliseconds (`i64`) everywhere.

/// The statements whose text differs between the dialects.
pub(crate) struct Dialect {
    /// Starts a transaction that will write and must not be overtaken by
    /// another writer between its reads and its writes.
    pub(crate) begin_write: &'static str,
    /// Run first inside a `kv_transact` transaction: excludes every other kv
    /// writer until commit (SQLite's `BEGIN IMMEDIATE` already does).
    pub(crate) lock_kv_for_transact: Option<&'static str>,

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
}

/// SQLite: JSON is stored as checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_kv_for_transact: None,

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
    kv_list_bounded: "SELECT key, value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key LIMIT $5",
    kv_list_unbounded: "SELECT key, value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key LIMIT $4",
    kv_get_many: "SELECT key, value FROM kv \
                  WHERE key IN (SELECT value FROM json_each($1)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv WHERE key IN (SELECT value FROM json_each($1))",
};

/// PostgreSQL: `json` columns cast from and to text; a table lock in
/// SHARE ROW EXCLUSIVE mode gives transactions SQLite's one-writer-at-a-time
/// guarantee (readers are never blocked).
pub(crate) const POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_kv_for_transact: Some("LOCK TABLE kv IN SHARE ROW EXCLUSIVE MODE"),

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
    kv_list_bounded: "SELECT key, value::text AS value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key LIMIT $5",
    kv_list_unbounded: "SELECT key, value::text AS value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key LIMIT $4",
    kv_get_many: "SELECT key, value::text AS value FROM kv \
                  WHERE key IN (SELECT json_array_elements_text($1::json)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv \
                     WHERE key IN (SELECT json_array_elements_text($1::json))",
};

/// Statements with the same text in both dialects.
pub(crate) mod common {
    /// `$1` key.
    pub(crate) const KV_DELETE: &str = "DELETE FROM kv WHERE key = $1";
    /// `$1` key, `$2` now: deletes the entry only if it has expired by now.
    pub(crate) const KV_DELETE_IF_EXPIRED: &str =
        "DELETE FROM kv WHERE key = $1 AND expires_at_ms <= $2";
    /// `$1` now, `$2` limit: deletes up to limit expired entries, oldest first.
    pub(crate) const KV_PURGE_EXPIRED: &str = "DELETE FROM kv WHERE key IN (\
            SELECT key FROM kv WHERE expires_at_ms <= $1 \
            ORDER BY expires_at_ms LIMIT $2)";

    /// `$1` key → `key_version`, `nonce`, `ciphertext`.
    pub(crate) const SECRET_GET: &str =
        "SELECT key_version, nonce, ciphertext FROM secret WHERE key = $1";
    /// `$1` key, `$2` key_version, `$3` nonce, `$4` ciphertext, `$5` now.
    pub(crate) const SECRET_UPSERT: &str = "INSERT INTO secret \
            (key, key_version, nonce, ciphertext, updated_at_ms) \
            VALUES ($1, $2, $3, $4, $5) \
            ON CONFLICT (key) DO UPDATE SET \
                key_version = excluded.key_version, \
                nonce = excluded.nonce, \
                ciphertext = excluded.ciphertext, \
                updated_at_ms = excluded.updated_at_ms";
    /// `$1` key.
    pub(crate) const SECRET_DELETE: &str = "DELETE FROM secret WHERE key = $1";
}
