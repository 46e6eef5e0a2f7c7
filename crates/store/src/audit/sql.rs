//! The SQL statements on the audit log. Text both dialects share is a
//! `const`.
/// `$1` at, `$2` actor, `$3` action, `$4` target, `$5` detail → `id`.
pub(crate) const AUDIT_INSERT: &str = "INSERT INTO audit_log \
    (at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id";

/// `$1` instant (ms) before which entries go, `$2` most deleted → rows.
pub(crate) const AUDIT_PRUNE: &str = concat!(
    "DELETE FROM audit_log WHERE id IN \
    (SELECT id FROM audit_log WHERE at_ms < $1 ORDER BY id ",
    crate::sql::bound_limit!("$2"),
    ")"
);

/// `$1` id below which to start, `$2` limit.
pub(crate) const AUDIT_LIST: &str = concat!(
    "SELECT id, at_ms, actor, action, target, detail \
    FROM audit_log WHERE id < $1 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` id below which to start, `$2` limit, `$3` actor or NULL, `$4` target
/// or NULL.
pub(crate) const AUDIT_SEARCH: &str = concat!(
    "SELECT id, at_ms, actor, action, target, detail \
    FROM audit_log WHERE id < $1 \
    AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR target = $4) \
    ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);
