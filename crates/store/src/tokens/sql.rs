//! The SQL statements on API tokens. Text both dialects share is a `const`.
/// `$1` name, `$2` role, `$3` hash, `$4` now → `id`.
pub(crate) const TOKEN_INSERT: &str = "INSERT INTO api_tokens \
    (name, role, token_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id";

/// `$1` hash → the live token.
pub(crate) const TOKEN_BY_HASH: &str = "SELECT id, name, role, created_at_ms, \
    last_used_at_ms, revoked_at_ms FROM api_tokens \
    WHERE token_hash = $1 AND revoked_at_ms IS NULL";

/// `$1` id, `$2` now, `$3` a last use at or before this is refreshed.
pub(crate) const TOKEN_TOUCH: &str = "UPDATE api_tokens SET last_used_at_ms = $2 \
    WHERE id = $1 AND (last_used_at_ms IS NULL OR last_used_at_ms <= $3)";

/// Every token, revoked ones included, oldest first.
pub(crate) const TOKEN_LIST: &str = "SELECT id, name, role, created_at_ms, \
    last_used_at_ms, revoked_at_ms FROM api_tokens ORDER BY id";

/// `$1` id, `$2` now.
pub(crate) const TOKEN_REVOKE: &str = "UPDATE api_tokens SET revoked_at_ms = $2 \
    WHERE id = $1 AND revoked_at_ms IS NULL";

/// How many tokens are not revoked.
pub(crate) const TOKENS_LIVE_COUNT: &str =
    "SELECT count(*) FROM api_tokens WHERE revoked_at_ms IS NULL";
