//! Users of the web UI: a name, a role and a password kept only as an
//! Argon2id hash (PHC string: salt and parameters included).
//!
//! Why Argon2id: it is the first choice of current password-storage
//! guidance (memory-hard, so GPU guessing is expensive), and the `argon2`
//! crate is pure Rust on digests the store already builds. Verification
//! compares hashes in constant time (the crate's `Output` comparison), and
//! an unknown name costs one hash too, so timing does not tell which names
//! exist. Hashing runs on a blocking thread: it takes tens of milliseconds
//! by design and must not stall the async workers.

pub(crate) mod sql;

use std::sync::LazyLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use jiff::Timestamp;
use serde::Serialize;

use crate::{
    codec::{Columns, count, instant, parse_enum},
    error::{DbResultExt, StoreError},
    store::{Store, with_backend, with_writer},
    tokens::Role,
};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The longest user name.
pub const MAX_USER_NAME_CHARS: usize = 100;

/// A user as the store keeps it (never the password or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Its id.
    pub id: i64,
    /// Its unique sign-in name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// A disabled user cannot sign in and its sessions are ended.
    pub disabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Sign-in name: letters, digits, `.`, `_`, `-`, `@`; 1 to 100 characters.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The password, at least [`MIN_PASSWORD_CHARS`] characters.
    pub password: String,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// A new role.
    pub role: Option<Role>,
    /// A new password (ends the user's sessions).
    pub password: Option<String>,
    /// Disable (ends the user's sessions) or enable.
    pub disabled: Option<bool>,
}

/// A hash of a random password nobody knows: an unknown name is verified
/// against it so that it costs as much as a known one.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_password("clockwork-no-such-user-password").ok());

impl Store {
    /// Creates a user. A taken name is [`StoreError::Conflict`].
    pub async fn user_create(&self, new: &NewUser) -> Result<User, StoreError> {
        check_user_name(&new.name)?;
        check_password(&new.password)?;
        let hash = hash_password_blocking(new.password.clone()).await?;
        let now = self.now_ms();
        let row = with_writer!(self, |pool, _sql| {
            let row = sqlx::query(sql::USER_INSERT)
                .bind(&new.name)
                .bind(new.role.as_str())
                .bind(&hash)
                .bind(now)
                .fetch_one(pool)
                .await
                .db()
                .map_err(|error| {
                    if error.is_unique_violation() {
                        StoreError::Conflict(format!("a user named {:?} already exists", new.name))
                    } else {
                        StoreError::Database(error)
                    }
                })?;
            decode_user(&row)?
        });
        Ok(row)
    }

    /// Every user by name.
    pub async fn user_list(&self) -> Result<Vec<User>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::USER_LIST).fetch_all(pool).await.db()?;
            rows.iter().map(decode_user).collect()
        })
    }

    /// The user with this name.
    pub async fn user_get(&self, name: &str) -> Result<Option<User>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::USER_GET)
                .bind(name)
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_user).transpose()
        })
    }

    /// How many users exist.
    pub async fn users_count(&self) -> Result<u64, StoreError> {
        let (n,): (i64,) = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::USERS_COUNT)
                .fetch_one(pool)
                .await
                .db()?
        });
        Ok(count(n))
    }

    /// Changes a user; `None` when no user has this name. A new password
    /// or disabling ends every session of the user, in the same transaction.
    pub async fn user_update(
        &self,
        name: &str,
        update: &UserUpdate,
    ) -> Result<Option<User>, StoreError> {
        if let Some(password) = &update.password {
            check_password(password)?;
        }
        let hash = match &update.password {
            Some(password) => Some(hash_password_blocking(password.clone()).await?),
            None => None,
        };
        let end_sessions = update.password.is_some() || update.disabled == Some(true);
        let now = self.now_ms();
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let row = sqlx::query(sql::USER_UPDATE)
                    .bind(name)
                    .bind(update.role.map(Role::as_str))
                    .bind(hash.as_deref())
                    .bind(update.disabled)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let user = decode_user(&row)?;
                if end_sessions {
                    sqlx::query(crate::sessions::sql::SESSIONS_DELETE_OF_USER)
                        .bind(user.id)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                Ok(Some(user))
            }
            .await;
            crate::codec::commit_or_rollback(tx, outcome).await
        })
    }

    /// Deletes a user and its sessions; returns whether it existed.
    pub async fn user_delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::USER_DELETE)
                .bind(name)
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// The enabled user with this name and password, or `None` — whether
    /// the name is unknown, the password wrong or the user disabled (the
    /// caller must not tell which).
    pub async fn user_authenticate(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<(String,)> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::USER_PASSWORD_HASH)
                .bind(name)
                .fetch_optional(pool)
                .await
                .db()?
        });
        let known = row.is_some();
        let hash = match row {
            Some((hash,)) => hash,
            None => DUMMY_HASH.clone().unwrap_or_default(),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|error| StoreError::Invalid {
                what: "password",
                reason: format!("hashing was interrupted: {error}"),
            })?;
        if !(known && matches) {
            return Ok(None);
        }
        let user = self.user_get(name).await?;
        Ok(user.filter(|user| !user.disabled))
    }
}

fn check_user_name(name: &str) -> Result<(), StoreError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_USER_NAME_CHARS {
        return Err(StoreError::Invalid {
            what: "name",
            reason: format!("must be 1 to {MAX_USER_NAME_CHARS} characters"),
        });
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(StoreError::Invalid {
            what: "name",
            reason: "may hold only letters, digits, '.', '_', '-' and '@'".into(),
        });
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), StoreError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid {
            what: "password",
            reason: format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(StoreError::Invalid {
            what: "password",
            reason: format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        });
    }
    Ok(())
}

async fn hash_password_blocking(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| StoreError::Invalid {
            what: "password",
            reason: format!("hashing was interrupted: {error}"),
        })?
}

/// Argon2id with the crate's default (OWASP-recommended) parameters and a
/// fresh random salt.
fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| StoreError::Invalid {
            what: "password",
            reason: error.to_string(),
        })
}

/// Constant-time comparison happens inside `verify_password`.
fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

pub(crate) fn decode_user(row: &impl Columns) -> Result<User, StoreError> {
    Ok(User {
        id: row.i64(0)?,
        name: row.text(1)?,
        role: parse_enum("user role", &row.text(2)?)?,
        disabled: row.bool(3)?,
        created_at: instant(row.i64(4)?)?,
        updated_at: instant(row.i64(5)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify_only_their_password() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsf", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_user_name("ada.lovelace@example").is_ok());
        assert!(check_user_name("").is_err());
        assert!(check_user_name("has space").is_err());
        assert!(check_user_name(&"x".repeat(101)).is_err());
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
    }

    /// Issue 13 point 7: refusing an unknown name does the same password
    /// work as refusing a known one. By design `user_authenticate` verifies
    /// the password against `DUMMY_HASH` when the name is unknown; this
    /// holds that hash to a real one's algorithm, version and cost, so the
    /// verification is a full Argon2id run (not an early "not a hash").
    #[test]
    fn an_unknown_name_is_verified_against_a_hash_as_costly_as_a_real_one() {
        let dummy = DUMMY_HASH.clone().expect("the dummy hash is made");
        let real = hash_password("correct horse").unwrap();
        let dummy = PasswordHash::new(&dummy).unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(
            dummy.params, real.params,
            "the same memory, time and parallelism cost"
        );
        assert_eq!(
            dummy.hash.map(|hash| hash.len()),
            real.hash.map(|hash| hash.len())
        );
        assert!(!verify_password(
            "correct horse",
            &DUMMY_HASH.clone().unwrap()
        ));
    }
}
