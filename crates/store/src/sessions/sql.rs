//! The SQL statements on sessions. Text both dialects share is a `const`.
/// `$1` user id → `name`, `role` of that enabled user.
pub(crate) const SESSION_OWNER_USER: &str =
    "SELECT name, role FROM users WHERE id = $1 AND NOT disabled";

/// `$1` token id → `name`, `role` of that live token.
pub(crate) const SESSION_OWNER_TOKEN: &str =
    "SELECT name, role FROM api_tokens WHERE id = $1 AND revoked_at_ms IS NULL";

/// `$1` id hash, `$2` user, `$3` token, `$4` role, `$5` csrf, `$6` now,
/// `$7` expires.
pub(crate) const SESSION_INSERT: &str = "INSERT INTO sessions (id_hash, user_id, \
        token_id, role, csrf_token, created_at_ms, expires_at_ms, last_seen_at_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $6)";

/// `$1` id hash, `$2` now → owner ids, the owner's current name and
/// role, csrf, created, expires, last seen — only while the session and
/// its owner are live.
pub(crate) const SESSION_BY_HASH: &str = "SELECT s.user_id, s.token_id, \
        COALESCE(u.name, t.name), COALESCE(u.role, t.role), s.csrf_token, \
        s.created_at_ms, s.expires_at_ms, s.last_seen_at_ms \
    FROM sessions s \
    LEFT JOIN users u ON u.id = s.user_id AND NOT u.disabled \
    LEFT JOIN api_tokens t ON t.id = s.token_id AND t.revoked_at_ms IS NULL \
    WHERE s.id_hash = $1 AND s.expires_at_ms > $2 \
      AND (u.id IS NOT NULL OR t.id IS NOT NULL)";

/// `$1` id hash, `$2` now, `$3` new expiry.
pub(crate) const SESSION_TOUCH: &str = "UPDATE sessions \
    SET last_seen_at_ms = $2, expires_at_ms = $3 WHERE id_hash = $1";

/// `$1` id hash.
pub(crate) const SESSION_DELETE: &str = "DELETE FROM sessions WHERE id_hash = $1";

/// `$1` user id.
pub(crate) const SESSIONS_DELETE_OF_USER: &str = "DELETE FROM sessions WHERE user_id = $1";

/// `$1` now, `$2` sessions created at or before this are too old.
pub(crate) const SESSIONS_PURGE: &str =
    "DELETE FROM sessions WHERE expires_at_ms <= $1 OR created_at_ms <= $2";
