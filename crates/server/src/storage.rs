//! `/api/v1/storage…` (editor): the storage browser over what scripts keep
//! with `storage` / `@forge/kvs` — entries and secrets side by side. A
//! secret's value is never returned (nor decrypted); only its name and size
//! are shown, and it can be deleted (`?secret=true`). Entries can be read,
//! written (a JSON value) and deleted. Changes are audited. Each page also
//! shows the storage quota's usage and limits; a write beyond the quota is
//! a 507 `storage-quota-exceeded` problem.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{KvError, SetOptions, StorageItem, StorageQuota, StorageUsage};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::Editor,
    extract::{ApiJson, ApiPath, ApiQuery},
    problem::ApiError,
    validate,
};

/// One entry of the storage browser.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct StorageItemView {
    /// The key, or the secret's name.
    key: String,
    /// The JSON value; `null` for a secret (never shown).
    value: Option<Value>,
    /// Whether it is a secret.
    secret: bool,
    /// The value's size in bytes.
    size_bytes: u64,
}

impl From<StorageItem> for StorageItemView {
    fn from(item: StorageItem) -> Self {
        Self {
            key: item.key,
            value: item.value,
            secret: item.secret,
            size_bytes: item.size_bytes,
        }
    }
}

/// A page of the storage browser.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct StoragePageView {
    /// Entries and secrets in key order.
    items: Vec<StorageItemView>,
    /// Present when more follow: pass it as `cursor`.
    next_cursor: Option<String>,
    /// What all entries, secrets and custom entity values hold, against the
    /// quota.
    usage: StorageUsageView,
}

/// The storage quota's usage and limits: entries, secrets and custom entity
/// values of every job together (`[limits] storage_keys` and `storage_mb`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct StorageUsageView {
    /// Keys stored: entries (an expired one until it is deleted), secrets and
    /// custom entity values.
    keys: u64,
    /// Bytes stored: each key plus its value's JSON text, or its ciphertext
    /// (an entity value's key counts its entity's name too).
    bytes: u64,
    /// The most keys; `null` when unlimited.
    max_keys: Option<u64>,
    /// The most bytes; `null` when unlimited.
    max_bytes: Option<u64>,
}

impl StorageUsageView {
    fn new(usage: StorageUsage, quota: StorageQuota) -> Self {
        Self {
            keys: usage.keys,
            bytes: usage.bytes,
            max_keys: quota.max_keys,
            max_bytes: quota.max_bytes,
        }
    }
}

/// Query of `GET /storage`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BrowseQuery {
    /// Only keys starting with this text.
    prefix: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page, 1-500 (default 50).
    limit: Option<u32>,
}

/// The key path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct KeyPath {
    /// The key (percent-encoded in the path).
    key: String,
}

/// Query of `DELETE /storage/{key}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    /// Delete the secret of this name instead of the entry.
    #[serde(default)]
    secret: bool,
}

/// Entries and secrets, in key order, a page at a time, with the quota's usage.
#[utoipa::path(get, path = "/storage", tag = "storage", params(BrowseQuery),
    responses(
        (status = 200, body = StoragePageView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn browse(
    State(state): State<AppState>,
    _caller: Editor,
    ApiQuery(query): ApiQuery<BrowseQuery>,
) -> Result<Json<StoragePageView>, ApiError> {
    let limit = match validate::limit(query.limit)? {
        0 => store::DEFAULT_LIST_LIMIT,
        limit => limit,
    };
    let page = state
        .store()
        .storage_browse(
            query.prefix.as_deref().unwrap_or(""),
            query.cursor.as_deref(),
            limit,
        )
        .await?;
    let usage = state.store().storage_usage().await.map_err(kv_error)?;
    Ok(Json(StoragePageView {
        items: page.items.into_iter().map(StorageItemView::from).collect(),
        next_cursor: page.next_cursor,
        usage: StorageUsageView::new(usage, state.store().storage_quota()),
    }))
}

/// One entry (or, when only a secret has this name, the secret without its value).
#[utoipa::path(get, path = "/storage/{key}", tag = "storage", params(KeyPath),
    responses(
        (status = 200, body = StorageItemView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Editor,
    ApiPath(path): ApiPath<KeyPath>,
) -> Result<Json<StorageItemView>, ApiError> {
    let found = exact(&state, &path.key).await?;
    found
        .into_iter()
        .next()
        .map(|item| Json(item.into()))
        .ok_or_else(|| not_found(&path.key))
}

/// Writes an entry: the body is its JSON value.
#[utoipa::path(put, path = "/storage/{key}", tag = "storage", params(KeyPath),
    request_body(content = Object, description = "Any JSON value"),
    responses(
        (status = 200, body = StorageItemView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json", description = "Key or value refused"),
        (status = 507, body = crate::Problem, content_type = "application/problem+json", description = "The write would take storage above its quota (`storage-quota-exceeded`); nothing was written"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<KeyPath>,
    ApiJson(value): ApiJson<Value>,
) -> Result<Json<StorageItemView>, ApiError> {
    state
        .store()
        .kv_set(&path.key, &value, SetOptions::default())
        .await
        .map_err(kv_error)?;
    state
        .audit(
            caller.actor(),
            "storage.set",
            &format!("storage:{}", path.key),
            json!({}),
        )
        .await;
    let size_bytes = u64::try_from(value.to_string().len()).unwrap_or(u64::MAX);
    Ok(Json(StorageItemView {
        key: path.key,
        value: Some(value),
        secret: false,
        size_bytes,
    }))
}

/// Deletes an entry, or with `?secret=true` the secret of this name.
#[utoipa::path(delete, path = "/storage/{key}", tag = "storage", params(KeyPath, DeleteQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<KeyPath>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let found = exact(&state, &path.key).await?;
    if !found.iter().any(|item| item.secret == query.secret) {
        return Err(not_found(&path.key));
    }
    if query.secret {
        state
            .store()
            .secret_delete(&path.key)
            .await
            .map_err(ApiError::internal)?;
    } else {
        state.store().kv_delete(&path.key).await.map_err(kv_error)?;
    }
    state
        .audit(
            caller.actor(),
            if query.secret {
                "storage.delete_secret"
            } else {
                "storage.delete"
            },
            &format!("storage:{}", path.key),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The entry and the secret named exactly `key`, entry first.
async fn exact(state: &AppState, key: &str) -> Result<Vec<StorageItem>, ApiError> {
    let page = state.store().storage_browse(key, None, 2).await?;
    Ok(page
        .items
        .into_iter()
        .filter(|item| item.key == key)
        .collect())
}

fn not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("nothing is stored under {key:?}"))
}

fn kv_error(error: KvError) -> ApiError {
    match error {
        KvError::InvalidKey { reason, .. } => ApiError::invalid("key", reason),
        KvError::ValueTooLarge { size, max, .. } => ApiError::invalid(
            ".",
            format!("the value is {size} bytes as JSON, more than the limit of {max}"),
        ),
        KvError::QuotaExceeded(exceeded) => ApiError::StorageQuotaExceeded(exceeded),
        other => ApiError::internal(other),
    }
}
