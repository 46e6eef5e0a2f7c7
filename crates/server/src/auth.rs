//! Authentication (a bearer token or the web UI's session cookie), the
//! CSRF check of cookie-authenticated changes, and role checks, as
//! extractors.
//!
//! A handler names the least role it needs by its argument type:
//! [`Viewer`] reads, [`Editor`] changes jobs and runs, [`Admin`] manages
//! users, tokens, channels and sites. Each accepts either
//! `Authorization: Bearer <token>` (verified against the store, which
//! keeps only its hash) or the `clockwork_session` cookie. A request that
//! authenticates with the cookie and changes state (any method but GET,
//! HEAD, OPTIONS) must echo the session's CSRF token in `X-CSRF-Token`,
//! else 403 `csrf`: the cookie is sent by the browser on its own, the
//! header only by the UI's own script. No credentials is 401; a role too
//! low is 403 naming the role needed — both before the handler runs.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header, request::Parts},
};
use store::{Role, Session, SessionOwner};

use crate::{app::AppState, problem::ApiError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "clockwork_session";
/// The header a cookie-authenticated change must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who made a request, however they authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's or user's name: the actor recorded for what it does.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// How it authenticated.
    pub via: Via,
}

impl Caller {
    /// The name of the user who signed in with a password, if that is who
    /// calls (not a token, nor a token's session).
    pub fn signed_in_user(&self) -> Option<&str> {
        matches!(self.via, Via::Session(SessionOwner::User(_))).then_some(self.name.as_str())
    }
}

/// How a caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A bearer token (its id).
    Token(i64),
    /// The session cookie of a signed-in user or token.
    Session(SessionOwner),
}

/// A caller with at least the viewer role.
#[derive(Debug, Clone)]
pub struct Viewer(pub Caller);

/// A caller with at least the editor role.
#[derive(Debug, Clone)]
pub struct Editor(pub Caller);

/// A caller with the admin role.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        impl $name {
            /// The name recorded as the actor of what this caller does.
            pub fn actor(&self) -> &str {
                &self.0.name
            }
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                authenticate(parts, state, $role).await.map($name)
            }
        }
    };
}

role_extractor!(Viewer, Role::Viewer);
role_extractor!(Editor, Role::Editor);
role_extractor!(Admin, Role::Admin);

pub(crate) async fn authenticate(
    parts: &Parts,
    state: &AppState,
    least: Role,
) -> Result<Caller, ApiError> {
    let caller = identify(parts, state).await?;
    if caller.role < least {
        return Err(ApiError::Forbidden(format!(
            "this needs the {} role; {:?} has the {} role",
            least.as_str(),
            caller.name,
            caller.role.as_str()
        )));
    }
    Ok(caller)
}

/// The caller a request's credentials name: the bearer token when there is
/// an `Authorization` header (browsers never add one on their own, so no
/// CSRF check), else the session cookie.
async fn identify(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let secret = bearer_secret(parts)?;
        let token = state
            .store()
            .token_verify(secret, state.now())
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::Unauthorized(
                "the bearer token is unknown or revoked",
            ))?;
        return Ok(Caller {
            name: token.name,
            role: token.role,
            via: Via::Token(token.id),
        });
    }
    let Some(cookie) = session_cookie(&parts.headers) else {
        return Err(ApiError::Unauthorized(
            "sign in, or send an API token as `Authorization: Bearer <token>`",
        ));
    };
    let session = current_session(state, cookie)
        .await?
        .ok_or(ApiError::Unauthorized(
            "the session has ended; sign in again",
        ))?;
    check_csrf(&parts.method, &parts.headers, &session)?;
    Ok(Caller {
        name: session.name,
        role: session.role,
        via: Via::Session(session.owner),
    })
}

/// The credentials a request came with, kept by a response that outlives
/// the request (a live log stream) to check that they still hold: a token
/// revoked or a session ended closes the stream.
#[derive(Debug, Clone)]
pub(crate) struct HeldCredential {
    headers: HeaderMap,
}

impl HeldCredential {
    /// The `Authorization` and `Cookie` headers of `headers`.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let mut held = HeaderMap::new();
        for name in [header::AUTHORIZATION, header::COOKIE] {
            for value in headers.get_all(&name) {
                held.append(name.clone(), value.clone());
            }
        }
        HeldCredential { headers: held }
    }

    /// True while they still authenticate a viewer.
    pub(crate) async fn still_valid(&self, state: &AppState) -> bool {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.headers = self.headers.clone();
        authenticate(&parts, state, Role::Viewer).await.is_ok()
    }
}

/// The live session a cookie value names.
pub(crate) async fn current_session(
    state: &AppState,
    cookie: &str,
) -> Result<Option<Session>, ApiError> {
    state
        .store()
        .session_verify(cookie, state.now())
        .await
        .map_err(ApiError::internal)
}

/// A change made with the cookie must carry the session's CSRF token.
pub(crate) fn check_csrf(
    method: &Method,
    headers: &HeaderMap,
    session: &Session,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    match given {
        None => Err(ApiError::Csrf(
            "a change made with the session cookie needs the `X-CSRF-Token` header",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), session.csrf_token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Csrf(
            "the `X-CSRF-Token` header does not match this session",
        )),
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell an attacker how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `clockwork_session` cookie's value, if the request has one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

fn bearer_secret(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "send an API token as `Authorization: Bearer <token>`",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text"))?;
    let (scheme, secret) = value.split_once(' ').ok_or(ApiError::Unauthorized(
        "expected `Authorization: Bearer <token>`",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Ok(secret.trim())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; theme=dark"));
        assert_eq!(session_cookie(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=2; clockwork_session=abc ; y=3"),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        let mut empty = HeaderMap::new();
        empty.insert(
            header::COOKIE,
            HeaderValue::from_static("clockwork_session="),
        );
        assert_eq!(session_cookie(&empty), None);
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
