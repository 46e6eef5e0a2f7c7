//! The SQL statements on scripts' secrets. Text both dialects share is a
//! `const`.
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
