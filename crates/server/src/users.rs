//! `/api/v1/users…` and `/api/v1/tokens…` (admin only): the people who
//! sign in to the web UI, and API tokens. Passwords are write-only; a
//! token's secret is shown once, in the answer that creates it. Every
//! change is audited with the admin who made it.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{ApiToken, NewToken, NewUser, Role, User, UserUpdate};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::Admin,
    extract::{ApiJson, ApiPath},
    model::{Items, RoleDoc},
    problem::ApiError,
};

/// A user as the API shows it (never its password).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct UserView {
    /// The sign-in name.
    name: String,
    /// Its role.
    #[schema(value_type = RoleDoc)]
    role: Role,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// A disabled user cannot sign in.
    disabled: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            name: user.name,
            role: user.role,
            created_at: user.created_at,
            disabled: user.disabled,
        }
    }
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserInput {
    /// Letters, digits, `.`, `_`, `-`, `@`; 1 to 100 characters.
    name: String,
    /// At least 8 characters; stored only as an Argon2id hash.
    password: String,
    /// `admin`, `editor` or `viewer`.
    #[schema(value_type = RoleDoc)]
    role: Role,
}

/// Body of `PATCH /users/{name}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserPatch {
    /// A new role.
    #[serde(default)]
    #[schema(value_type = Option<RoleDoc>)]
    role: Option<Role>,
    /// A new password (ends the user's sessions).
    #[serde(default)]
    password: Option<String>,
    /// Disable (ends the user's sessions) or enable.
    #[serde(default)]
    disabled: Option<bool>,
}

/// The user path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct UserPath {
    /// The user's name.
    name: String,
}

/// Every user, by name.
#[utoipa::path(get, path = "/users", tag = "users",
    responses(
        (status = 200, body = Items<UserView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Items<UserView>>, ApiError> {
    let users = state.store().user_list().await?;
    Ok(Json(Items {
        items: users.into_iter().map(UserView::from).collect(),
    }))
}

/// Creates a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = UserInput,
    responses(
        (status = 201, body = UserView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "The name is taken"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Admin,
    ApiJson(input): ApiJson<UserInput>,
) -> Result<Response, ApiError> {
    let user = state
        .store()
        .user_create(&NewUser {
            name: input.name,
            role: input.role,
            password: input.password,
        })
        .await?;
    state
        .audit(
            caller.actor(),
            "user.create",
            &format!("user:{}", user.name),
            json!({"role": user.role.as_str()}),
        )
        .await;
    let location = format!("/api/v1/users/{}", user.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserView::from(user)),
    )
        .into_response())
}

/// Changes a user's role, password or disabled flag.
#[utoipa::path(patch, path = "/users/{name}", tag = "users", params(UserPath), request_body = UserPatch,
    responses(
        (status = 200, body = UserView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn patch_user(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<UserPath>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let update = UserUpdate {
        role: patch.role,
        password: patch.password,
        disabled: patch.disabled,
    };
    let user = state
        .store()
        .user_update(&path.name, &update)
        .await?
        .ok_or_else(|| user_not_found(&path.name))?;
    state
        .audit(
            caller.actor(),
            "user.update",
            &format!("user:{}", user.name),
            json!({
                "role": update.role.map(Role::as_str),
                "password_changed": update.password.is_some(),
                "disabled": update.disabled,
            }),
        )
        .await;
    Ok(Json(user.into()))
}

/// Deletes a user and ends its sessions.
#[utoipa::path(delete, path = "/users/{name}", tag = "users", params(UserPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<StatusCode, ApiError> {
    if !state.store().user_delete(&path.name).await? {
        return Err(user_not_found(&path.name));
    }
    state
        .audit(
            caller.actor(),
            "user.delete",
            &format!("user:{}", path.name),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn user_not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("no user named {name:?}"))
}

/// An API token as the API shows it (never its secret, except once on creation).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct TokenView {
    /// Its id.
    id: i64,
    /// A label for people.
    name: String,
    /// Its role.
    #[schema(value_type = RoleDoc)]
    role: Role,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// When it was last used (to the minute).
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<Timestamp>,
    /// When it was revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    revoked_at: Option<Timestamp>,
    /// The secret: only in the answer to `POST /tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<ApiToken> for TokenView {
    fn from(token: ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            role: token.role,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
            token: None,
        }
    }
}

/// Body of `POST /tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenInput {
    /// A label for people, 1 to 200 characters.
    name: String,
    /// `admin`, `editor` or `viewer`.
    #[schema(value_type = RoleDoc)]
    role: Role,
}

/// The token path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TokenPath {
    /// The token's id.
    id: i64,
}

/// Every token, revoked ones included, oldest first.
#[utoipa::path(get, path = "/tokens", tag = "tokens",
    responses(
        (status = 200, body = Items<TokenView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Items<TokenView>>, ApiError> {
    let tokens = state.store().token_list().await?;
    Ok(Json(Items {
        items: tokens.into_iter().map(TokenView::from).collect(),
    }))
}

/// Creates a token; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = TokenInput,
    responses(
        (status = 201, body = TokenView, description = "Created; `token` is the secret, shown only now"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Admin,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<Response, ApiError> {
    let chars = input.name.chars().count();
    if chars == 0 || chars > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let (token, secret) = state
        .store()
        .token_create(&NewToken {
            name: input.name,
            role: input.role,
            secret: None,
        })
        .await?;
    state
        .audit(
            caller.actor(),
            "token.create",
            &format!("token:{}", token.id),
            json!({"name": token.name, "role": token.role.as_str()}),
        )
        .await;
    let mut view = TokenView::from(token);
    view.token = Some(secret);
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(view),
    )
        .into_response())
}

/// Revokes a token (it and its sessions stop working at once).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(TokenPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json", description = "No live token has this id"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<TokenPath>,
) -> Result<StatusCode, ApiError> {
    if !state.store().token_revoke(path.id).await? {
        return Err(ApiError::NotFound(format!(
            "no live token with id {}",
            path.id
        )));
    }
    state
        .audit(
            caller.actor(),
            "token.revoke",
            &format!("token:{}", path.id),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}
