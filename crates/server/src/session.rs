//! `/api/v1/session`: signing in to the web UI (a user's password, or an
//! API token) for an HttpOnly, SameSite=Strict session cookie, reading the
//! current session, and signing out.
//!
//! Wrong credentials are one 401 whatever was wrong (unknown name, wrong
//! password, disabled user, revoked token), so the answer never tells
//! which names exist. Every sign-in and failed attempt is audited.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{Role, Session, SessionOwner};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    auth::{SESSION_COOKIE, check_csrf, current_session, session_cookie},
    extract::ApiJson,
    model::RoleDoc,
    problem::ApiError,
    throttle::{ClientAddress, Subject},
};

/// Body of `POST /session`: a user's name and password, or an API token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    /// A user's name (with `password`).
    #[serde(default)]
    username: Option<String>,
    /// The user's password.
    #[serde(default)]
    password: Option<String>,
    /// An API token, instead of a name and password.
    #[serde(default)]
    token: Option<String>,
}

/// Who is signed in, and the token state changes must echo.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    /// The user (or the token that signed in).
    user: SessionUser,
    /// Send it as `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
    /// When the session ends unless used again.
    #[schema(value_type = String, format = DateTime)]
    expires_at: jiff::Timestamp,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionUser {
    /// The user's (or token's) name.
    name: String,
    /// Its role.
    #[schema(value_type = RoleDoc)]
    role: Role,
    /// `user` (password) or `token` (an API token signed in).
    kind: &'static str,
}

impl From<Session> for SessionView {
    fn from(session: Session) -> Self {
        Self {
            user: SessionUser {
                name: session.name,
                role: session.role,
                kind: match session.owner {
                    SessionOwner::User(_) => "user",
                    SessionOwner::Token(_) => "token",
                },
            },
            csrf_token: session.csrf_token,
            expires_at: session.expires_at,
        }
    }
}

const WRONG_CREDENTIALS: &str = "the name and password, or the token, are not valid";

/// Signs in; sets the session cookie.
#[utoipa::path(post, path = "/session", tag = "session", request_body = SignIn,
    responses(
        (status = 200, body = SessionView, description = "Signed in; `Set-Cookie: clockwork_session=…; HttpOnly; SameSite=Strict; Path=/`"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json", description = "Wrong credentials (which part is not said)"),
        (status = 429, body = crate::Problem, content_type = "application/problem+json", description = "Too many failed attempts for this account or from this address; `Retry-After` says when to try again"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let mut subjects: Vec<Subject> = client.map(Subject::Client).into_iter().collect();
    if let Some(username) = &body.username {
        subjects.push(Subject::Account(username.clone()));
    }
    if let Some(retry_after) = state.sign_in_throttle().wait(&subjects, state.now()) {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let owner = match (&body.username, &body.password, &body.token) {
        (Some(username), Some(password), None) => {
            let user = state.store().user_authenticate(username, password).await?;
            match user {
                Some(user) => SessionOwner::User(user.id),
                None => return refuse(&state, &subjects, json!({"username": username})).await,
            }
        }
        (None, None, Some(token)) => match state.store().token_verify(token, state.now()).await? {
            Some(token) => SessionOwner::Token(token.id),
            None => return refuse(&state, &subjects, json!({"token": true})).await,
        },
        (Some(_), None, None) => {
            return Err(ApiError::invalid("password", "is required with `username`"));
        }
        (None, Some(_), None) => {
            return Err(ApiError::invalid("username", "is required with `password`"));
        }
        (None, None, None) => {
            return Err(ApiError::invalid(
                ".",
                "send `username` and `password`, or `token`",
            ));
        }
        (_, _, Some(_)) => {
            return Err(ApiError::invalid(
                "token",
                "send either `token` or `username` and `password`, not both",
            ));
        }
    };
    state.sign_in_throttle().succeeded(&subjects);
    let (session, id) = state.store().session_create(owner, state.now()).await?;
    // Ended sessions are deleted here, a cheap indexed delete, rather than
    // by a timer of their own.
    if let Err(error) = state.store().sessions_purge_expired(state.now()).await {
        tracing::warn!(error = %crate::problem::ErrorChain(&error), "cannot delete ended sessions");
    }
    state
        .audit(
            &session.name,
            "session.sign_in",
            &match owner {
                SessionOwner::User(id) => format!("user:{id}"),
                SessionOwner::Token(id) => format!("token:{id}"),
            },
            json!({}),
        )
        .await;
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        store::SESSION_MAX_AGE.as_secs(),
        if is_https(&headers) { "; Secure" } else { "" }
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(ApiError::internal)?;
    Ok((
        [(header::SET_COOKIE, cookie), no_store()],
        Json(SessionView::from(session)),
    )
        .into_response())
}

async fn refuse(
    state: &AppState,
    subjects: &[Subject],
    detail: serde_json::Value,
) -> Result<Response, ApiError> {
    state.sign_in_throttle().failed(subjects, state.now());
    state
        .audit("anonymous", "session.sign_in_failed", "session", detail)
        .await;
    Err(ApiError::Unauthorized(WRONG_CREDENTIALS))
}

/// The current session (from the cookie).
#[utoipa::path(get, path = "/session", tag = "session",
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json", description = "No live session"),
    ))]
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cookie = session_cookie(&headers).ok_or(ApiError::Unauthorized("not signed in"))?;
    let session = current_session(&state, cookie)
        .await?
        .ok_or(ApiError::Unauthorized(
            "the session has ended; sign in again",
        ))?;
    Ok(([no_store()], Json(SessionView::from(session))).into_response())
}

/// Signs out: ends the session and clears the cookie. Needs `X-CSRF-Token`
/// while the session is live; without one (or with an ended one) it only
/// clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json", description = "`X-CSRF-Token` missing or wrong"),
    ))]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(cookie) = session_cookie(&headers)
        && let Some(session) = current_session(&state, cookie).await?
    {
        check_csrf(&axum::http::Method::DELETE, &headers, &session)?;
        state.store().session_delete(cookie).await?;
        state
            .audit(&session.name, "session.sign_out", "session", json!({}))
            .await;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let clear = HeaderValue::from_str(&clear).map_err(ApiError::internal)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// Whether the client reached us over https (directly, or through a proxy
/// that says so): only then is the cookie marked `Secure`, which a browser
/// would otherwise refuse to send back over plain http.
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn no_store() -> (header::HeaderName, HeaderValue) {
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}
