//! The SQL statements on users. Text both dialects share is a `const`.
/// The columns `users::decode_user` reads.
macro_rules! user_columns {
    () => {
        "id, name, role, disabled, created_at_ms, updated_at_ms"
    };
}

/// `$1` name, `$2` role, `$3` password hash, `$4` now → the user.
pub(crate) const USER_INSERT: &str = concat!(
    "INSERT INTO users (name, role, password_hash, disabled, created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING ",
    user_columns!()
);

/// Every user by name.
pub(crate) const USER_LIST: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY name");

/// `$1` name.
pub(crate) const USER_GET: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE name = $1");

/// How many users exist.
pub(crate) const USERS_COUNT: &str = "SELECT count(*) FROM users";

/// `$1` name → `password_hash`.
pub(crate) const USER_PASSWORD_HASH: &str = "SELECT password_hash FROM users WHERE name = $1";

/// `$1` name, `$2` role or NULL, `$3` hash or NULL, `$4` disabled or
/// NULL (NULL keeps the value), `$5` now → the user.
pub(crate) const USER_UPDATE: &str = concat!(
    "UPDATE users SET role = COALESCE($2, role), \
         password_hash = COALESCE($3, password_hash), \
         disabled = COALESCE($4, disabled), updated_at_ms = $5 \
     WHERE name = $1 RETURNING ",
    user_columns!()
);

/// `$1` name.
pub(crate) const USER_DELETE: &str = "DELETE FROM users WHERE name = $1";
