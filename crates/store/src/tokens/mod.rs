//! API tokens: a random secret shown once, stored only as its SHA-256 hash.

pub(crate) mod sql;

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    codec::{Columns, instant, ms, opt_instant, parse_enum},
    error::{DbResultExt, StoreError},
    store::{Store, with_backend, with_writer},
};

/// Every token's secret starts with this, so leaked ones are easy to spot.
pub const TOKEN_PREFIX: &str = "cw_";
/// How often at most a token's `last_used_at` is written (verifying must
/// not cost a write per request).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read jobs, runs and logs.
    Viewer,
    /// Also create, change, run and delete jobs.
    Editor,
    /// Also manage tokens and settings.
    Admin,
}

impl Role {
    /// The role as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = crate::shared::UnknownValue;
    fn from_str(text: &str) -> Result<Role, Self::Err> {
        match text {
            "admin" => Ok(Role::Admin),
            "editor" => Ok(Role::Editor),
            "viewer" => Ok(Role::Viewer),
            _ => Err(crate::shared::UnknownValue {
                kind: "Role",
                value: text.to_string(),
            }),
        }
    }
}

/// A token as the store keeps it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its id.
    pub id: i64,
    /// A label for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used (to the minute).
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked; a revoked token verifies as nothing.
    pub revoked_at: Option<Timestamp>,
}

/// A token to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// A label for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Use this secret (e.g. `CLOCKWORK_ADMIN_TOKEN`) instead of generating
    /// one; at least 16 characters.
    pub secret: Option<String>,
}

impl Store {
    /// Creates a token; returns it and its secret, which is not stored and
    /// cannot be shown again.
    pub async fn token_create(&self, new: &NewToken) -> Result<(ApiToken, String), StoreError> {
        let secret = match &new.secret {
            Some(secret) if secret.chars().count() >= 16 => secret.clone(),
            Some(_) => {
                return Err(StoreError::Invalid {
                    what: "token secret",
                    reason: "must be at least 16 characters".into(),
                });
            }
            None => generate_secret(),
        };
        let now = self.now_ms();
        let hash = hash_secret(&secret);
        let (id,): (i64,) = with_writer!(self, |pool, _sql| {
            sqlx::query_as(sql::TOKEN_INSERT)
                .bind(&new.name)
                .bind(new.role.as_str())
                .bind(hash.as_slice())
                .bind(now)
                .fetch_one(pool)
                .await
                .db()
                .map_err(|error| {
                    if error.is_unique_violation() {
                        StoreError::Invalid {
                            what: "token secret",
                            reason: "another token has this secret".into(),
                        }
                    } else {
                        StoreError::Database(error)
                    }
                })?
        });
        let token = ApiToken {
            id,
            name: new.name.clone(),
            role: new.role,
            created_at: instant(now)?,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((token, secret))
    }

    /// The live token whose secret this is, or `None`. Records the use (at
    /// most once a minute per token).
    pub async fn token_verify(
        &self,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<ApiToken>, StoreError> {
        let hash = hash_secret(secret);
        let token = with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::TOKEN_BY_HASH)
                .bind(hash.as_slice())
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_token).transpose()?
        });
        let Some(token) = token else {
            return Ok(None);
        };
        let now_ms = ms(now);
        if token
            .last_used_at
            .is_none_or(|used| now_ms - ms(used) >= LAST_USED_RESOLUTION_MS)
        {
            with_writer!(self, |pool, _sql| {
                sqlx::query(sql::TOKEN_TOUCH)
                    .bind(token.id)
                    .bind(now_ms)
                    .bind(now_ms - LAST_USED_RESOLUTION_MS)
                    .execute(pool)
                    .await
                    .db()?;
            });
        }
        Ok(Some(token))
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn token_list(&self) -> Result<Vec<ApiToken>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::TOKEN_LIST).fetch_all(pool).await.db()?;
            rows.iter().map(decode_token).collect()
        })
    }

    /// Revokes a token; returns whether a live token was revoked.
    pub async fn token_revoke(&self, id: i64) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let revoked = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::TOKEN_REVOKE)
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(revoked == 1)
    }

    /// How many tokens are not revoked (0 on a fresh database: the server
    /// then bootstraps an admin token).
    pub async fn tokens_live_count(&self) -> Result<u64, StoreError> {
        let (count,): (i64,) = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::TOKENS_LIVE_COUNT)
                .fetch_one(pool)
                .await
                .db()?
        });
        Ok(crate::codec::count(count))
    }
}

/// `cw_` and 32 random bytes in URL-safe base64 (256 bits: guessing is hopeless,
/// so a plain hash without salt is enough).
fn generate_secret() -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn decode_token(row: &impl Columns) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: row.i64(0)?,
        name: row.text(1)?,
        role: parse_enum("token role", &row.text(2)?)?,
        created_at: instant(row.i64(3)?)?,
        last_used_at: opt_instant(row.opt_i64(4)?)?,
        revoked_at: opt_instant(row.opt_i64(5)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_prefixed_and_distinct() {
        let a = generate_secret();
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, generate_secret());
    }

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Viewer);
        for role in [Role::Admin, Role::Editor, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
    }
}
