//! The SQL statements on Jira/Confluence sites. Text both dialects share is a
//! `const`.
/// `$1` name → key version, nonce, ciphertext, created of its secret.
pub(crate) const SITE_SECRET: &str = "SELECT secret_key_version, secret_nonce, \
    secret_ciphertext, created_at_ms FROM sites WHERE name = $1";

/// `$1` name, `$2` product, `$3` base URL, `$4` auth, `$5` email, `$6`
/// key version, `$7` nonce, `$8` ciphertext, `$9` created, `$10` now.
pub(crate) const SITE_UPSERT: &str = "INSERT INTO sites (name, product, base_url, auth, \
        email, secret_key_version, secret_nonce, secret_ciphertext, created_at_ms, \
        updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
    ON CONFLICT (name) DO UPDATE SET product = excluded.product, \
        base_url = excluded.base_url, auth = excluded.auth, email = excluded.email, \
        secret_key_version = excluded.secret_key_version, \
        secret_nonce = excluded.secret_nonce, \
        secret_ciphertext = excluded.secret_ciphertext, \
        updated_at_ms = excluded.updated_at_ms";

/// Every site by name (no secret).
pub(crate) const SITE_LIST: &str = "SELECT name, product, base_url, auth, email, \
    created_at_ms, updated_at_ms FROM sites ORDER BY name";

/// Every site by name with its sealed secret.
pub(crate) const SITE_LIST_WITH_SECRET: &str = "SELECT name, product, base_url, auth, \
    email, created_at_ms, updated_at_ms, secret_key_version, secret_nonce, \
    secret_ciphertext FROM sites ORDER BY name";

/// `$1` name.
pub(crate) const SITE_DELETE: &str = "DELETE FROM sites WHERE name = $1";
