//! Web UI sessions: a random id (the cookie) kept only as its SHA-256
//! hash, owned by a user or by the API token that signed in, with a CSRF
//! token and an expiry.
//!
//! A session is only as good as its owner: verifying joins the user (not
//! disabled) or the token (not revoked) and answers with the owner's
//! current role, so a demotion or a revocation takes effect on the next
//! request. Expiry is sliding ([`SESSION_IDLE`] after the last use, the
//! use recorded at most once a minute) and capped at [`SESSION_MAX_AGE`]
//! after sign-in.

pub(crate) mod sql;

use std::time::Duration;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::{
    codec::{Columns, instant, ms, parse_enum},
    error::{DbResultExt, StoreError},
    store::{Store, with_backend, with_writer},
    tokens::Role,
};

/// A session not used for this long has ended.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);
/// A session ends this long after sign-in, however much it is used.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How often at most a session's last use is written.
const TOUCH_RESOLUTION_MS: i64 = 60_000;

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOwner {
    /// A user who signed in with a password (its id).
    User(i64),
    /// An API token exchanged for a cookie (its id).
    Token(i64),
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who it belongs to.
    pub owner: SessionOwner,
    /// The user's or token's name: the actor of what the session does.
    pub name: String,
    /// The owner's current role.
    pub role: Role,
    /// The value a state-changing request must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it ends unless used again.
    pub expires_at: Timestamp,
}

fn ms_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Starts a session for `owner`; returns it and its id (the cookie
    /// value), which is not stored and cannot be read back.
    pub async fn session_create(
        &self,
        owner: SessionOwner,
        now: Timestamp,
    ) -> Result<(Session, String), StoreError> {
        let id = random_text();
        let csrf = random_text();
        let now_ms = ms(now);
        let expires = now_ms + ms_of(SESSION_IDLE);
        let (user_id, token_id) = match owner {
            SessionOwner::User(id) => (Some(id), None),
            SessionOwner::Token(id) => (None, Some(id)),
        };
        // The owner's name and role now; verification re-reads them on every
        // use, so a change between this read and the insert cannot widen access.
        let owner_row: Option<(String, String)> = with_backend!(self, |pool, _sql| {
            let query = match owner {
                SessionOwner::User(id) => sqlx::query_as(sql::SESSION_OWNER_USER).bind(id),
                SessionOwner::Token(id) => sqlx::query_as(sql::SESSION_OWNER_TOKEN).bind(id),
            };
            query.fetch_optional(pool).await.db()?
        });
        let Some((name, role)) = owner_row else {
            return Err(StoreError::Invalid {
                what: "session owner",
                reason: "no enabled user or live token has this id".into(),
            });
        };
        with_writer!(self, |pool, _sql| {
            sqlx::query(sql::SESSION_INSERT)
                .bind(hash_id(&id).as_slice())
                .bind(user_id)
                .bind(token_id)
                .bind(&role)
                .bind(&csrf)
                .bind(now_ms)
                .bind(expires)
                .execute(pool)
                .await
                .db()?;
        });
        let session = Session {
            owner,
            name,
            role: parse_enum("session role", &role)?,
            csrf_token: csrf,
            created_at: instant(now_ms)?,
            expires_at: instant(expires)?,
        };
        Ok((session, id))
    }

    /// The live session with this id, or `None` (unknown, expired, or its
    /// owner disabled, deleted or revoked). Records the use, sliding the
    /// expiry, at most once a minute.
    pub async fn session_verify(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let now_ms = ms(now);
        let hash = hash_id(id);
        let row = with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::SESSION_BY_HASH)
                .bind(hash.as_slice())
                .bind(now_ms)
                .fetch_optional(pool)
                .await
                .db()?;
            match row {
                Some(row) => Some(decode_session(&row)?),
                None => None,
            }
        });
        let Some((session, last_seen)) = row else {
            return Ok(None);
        };
        let max_end = ms(session.created_at) + ms_of(SESSION_MAX_AGE);
        if now_ms >= max_end {
            return Ok(None);
        }
        if now_ms - last_seen >= TOUCH_RESOLUTION_MS {
            let expires = (now_ms + ms_of(SESSION_IDLE)).min(max_end);
            with_writer!(self, |pool, _sql| {
                sqlx::query(sql::SESSION_TOUCH)
                    .bind(hash.as_slice())
                    .bind(now_ms)
                    .bind(expires)
                    .execute(pool)
                    .await
                    .db()?;
            });
            return Ok(Some(Session {
                expires_at: instant(expires)?,
                ..session
            }));
        }
        Ok(Some(session))
    }

    /// Ends the session with this id; returns whether it existed.
    pub async fn session_delete(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::SESSION_DELETE)
                .bind(hash_id(id).as_slice())
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Deletes sessions that ended by `now`; returns how many.
    pub async fn sessions_purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let max_age_ms = ms_of(SESSION_MAX_AGE);
        Ok(with_writer!(self, |pool, _sql| {
            sqlx::query(sql::SESSIONS_PURGE)
                .bind(ms(now))
                .bind(ms(now).saturating_sub(max_age_ms))
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        }))
    }
}

/// 32 random bytes in URL-safe base64: unguessable, so a plain hash is enough.
fn random_text() -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_id(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A row of `SESSION_BY_HASH`, with its last use in milliseconds.
fn decode_session(row: &impl Columns) -> Result<(Session, i64), StoreError> {
    let owner = match (row.opt_i64(0)?, row.opt_i64(1)?) {
        (Some(user), None) => SessionOwner::User(user),
        (None, Some(token)) => SessionOwner::Token(token),
        _ => {
            return Err(StoreError::corrupt(
                "session",
                "a session belongs to exactly one user or token",
            ));
        }
    };
    Ok((
        Session {
            owner,
            name: row.text(2)?,
            role: parse_enum("session role", &row.text(3)?)?,
            csrf_token: row.text(4)?,
            created_at: instant(row.i64(5)?)?,
            expires_at: instant(row.i64(6)?)?,
        },
        row.i64(7)?,
    ))
}
