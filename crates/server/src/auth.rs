//! Bearer-token authentication and role checks, as extractors.
//!
//! A handler names the least role it needs by its argument type:
//! [`Viewer`] reads, [`Editor`] changes jobs and runs. Each verifies the
//! `Authorization: Bearer …` token against the store (which keeps only its
//! hash) and refuses a missing or unknown token with 401 and a token whose
//! role is too low with 403, before the handler runs.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use store::{ApiToken, Role};

use crate::{app::AppState, problem::ApiError};

/// Whoever made the request: a live token with at least the viewer role.
#[derive(Debug, Clone)]
pub struct Viewer(pub ApiToken);

/// A live token with at least the editor role.
#[derive(Debug, Clone)]
pub struct Editor(pub ApiToken);

impl Viewer {
    /// The name recorded as the actor of what this caller does.
    pub fn actor(&self) -> &str {
        &self.0.name
    }
}

impl Editor {
    /// The name recorded as the actor of what this caller does.
    pub fn actor(&self) -> &str {
        &self.0.name
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Role::Viewer).await.map(Viewer)
    }
}

impl FromRequestParts<AppState> for Editor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, Role::Editor).await.map(Editor)
    }
}

async fn authenticate(parts: &Parts, state: &AppState, least: Role) -> Result<ApiToken, ApiError> {
    let secret = bearer_secret(parts)?;
    let token = state
        .store()
        .token_verify(secret, state.now())
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::Unauthorized(
            "the bearer token is unknown or revoked",
        ))?;
    if token.role < least {
        return Err(ApiError::Forbidden(format!(
            "this needs the {} role; the token {:?} has the {} role",
            least.as_str(),
            token.name,
            token.role.as_str()
        )));
    }
    Ok(token)
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
