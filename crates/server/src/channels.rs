//! `/api/v1/channels…` (admin): where failure alerts go — webhook and
//! Slack channels, a real test delivery, and each channel's recent
//! deliveries. A Slack URL holds its secret in the path, so it is
//! write-only: shown as `https://hooks.slack.com/…`, and a PUT that omits
//! it (or sends the masked form back) keeps the stored one.
//!
//! Sending is the scheduler's (it owns alert delivery): a test is one call
//! to `scheduler::send_test_message` through the `scheduler::ChannelSender`
//! the process hands in (`clockwork serve`: the alerts' client). Test sends
//! are not stored as deliveries (a delivery belongs to a run); the answer
//! carries the outcome and the audit log records the attempt.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::{AlertEvent, ChannelKind, ChannelSpec, Delivery, DeliveryStatus, NotificationChannel};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::Admin,
    extract::{ApiJson, ApiPath, ApiQuery},
    model::Items,
    problem::{ApiError, FieldError},
};

/// A channel as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct ChannelView {
    /// Unique name.
    name: String,
    /// `webhook` or `slack`.
    #[schema(value_type = String, example = "slack")]
    kind: ChannelKind,
    /// Where it posts; a Slack URL is masked (`https://hooks.slack.com/…`).
    url: String,
    /// The events it receives.
    #[schema(value_type = Vec<String>, example = json!(["failed", "timed_out"]))]
    events: Vec<AlertEvent>,
    /// Whether it receives anything.
    enabled: bool,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<NotificationChannel> for ChannelView {
    fn from(channel: NotificationChannel) -> Self {
        let spec = channel.spec;
        Self {
            url: shown_url(spec.kind, &spec.url),
            name: spec.name,
            kind: spec.kind,
            events: spec.events,
            enabled: spec.enabled,
            created_at: channel.created_at,
            updated_at: channel.updated_at,
        }
    }
}

/// A channel as written (`POST /channels`, `PUT /channels/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChannelInput {
    /// Unique name (required by POST; in a PUT, when given, the path's).
    #[serde(default)]
    name: Option<String>,
    /// `webhook` or `slack`.
    #[schema(value_type = String, example = "webhook")]
    kind: ChannelKind,
    /// An http(s) URL. In a PUT, omitted (or the masked form) keeps the stored one.
    #[serde(default)]
    url: Option<String>,
    /// The events it receives (default: all of them).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    events: Option<Vec<AlertEvent>>,
    /// Whether it receives anything (default `true`).
    #[serde(default)]
    enabled: Option<bool>,
    /// Read-only; ignored (so a client may send back what it read).
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, then ignored
    created_at: Option<Value>,
    /// Read-only; ignored.
    #[serde(default)]
    #[schema(read_only)]
    #[allow(dead_code)] // accepted, then ignored
    updated_at: Option<Value>,
}

/// The channel path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ChannelPath {
    /// The channel's name.
    name: String,
}

/// How a test delivery went.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct TestDelivery {
    /// Whether the channel answered 2xx.
    delivered: bool,
    /// The HTTP status of the answer, if one came.
    status: Option<u16>,
    /// Why it was not delivered.
    error: Option<String>,
}

/// One delivery of an alert to a channel.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// Its id.
    id: i64,
    /// The job the alert is about.
    job_id: i64,
    /// The run the alert is about.
    run_id: i64,
    /// `failed`, `timed_out`, `interrupted`, `missed` or `recovered`.
    #[schema(value_type = String)]
    event: AlertEvent,
    /// `pending`, `delivered` or `failed` (given up).
    #[schema(value_type = String)]
    status: DeliveryStatus,
    /// Attempts made.
    attempts: u64,
    /// The last failed attempt's error.
    last_error: Option<String>,
    /// When the next attempt is due (pending only).
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<Timestamp>,
    /// When it was enqueued.
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            job_id: delivery.job_id,
            run_id: delivery.run_id,
            event: delivery.event,
            status: delivery.status,
            attempts: delivery.attempts,
            last_error: delivery.last_error,
            next_attempt_at: delivery.next_attempt_at,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
        }
    }
}

/// Query of `GET /channels/{name}/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// How many, 1-500 (default 50).
    limit: Option<u32>,
}

/// Every channel, by name.
#[utoipa::path(get, path = "/channels", tag = "channels",
    responses(
        (status = 200, body = Items<ChannelView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Items<ChannelView>>, ApiError> {
    let channels = state.store().channel_list().await?;
    Ok(Json(Items {
        items: channels.into_iter().map(ChannelView::from).collect(),
    }))
}

/// Creates a channel.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = ChannelInput,
    responses(
        (status = 201, body = ChannelView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "The name is taken"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Admin,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<Response, ApiError> {
    let Some(name) = input.name.clone() else {
        return Err(ApiError::invalid("name", "is required"));
    };
    if state.store().channel_get(&name).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a channel named {name:?} already exists"
        )));
    }
    let spec = spec_of(name, input, None)?;
    let channel = state.store().channel_upsert(&spec).await?;
    audit(&state, caller.actor(), "channel.create", &channel).await;
    let location = format!("/api/v1/channels/{}", path_segment(&channel.spec.name));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ChannelView::from(channel)),
    )
        .into_response())
}

/// `name` as one URL path segment: every byte but the unreserved ones
/// percent-encoded, so any name (spaces, control characters) makes a valid
/// `Location` header.
fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// One channel.
#[utoipa::path(get, path = "/channels/{name}", tag = "channels", params(ChannelPath),
    responses(
        (status = 200, body = ChannelView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Admin,
    ApiPath(path): ApiPath<ChannelPath>,
) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(find(&state, &path.name).await?.into()))
}

/// Creates or replaces a channel.
#[utoipa::path(put, path = "/channels/{name}", tag = "channels", params(ChannelPath), request_body = ChannelInput,
    responses(
        (status = 200, body = ChannelView, description = "Replaced"),
        (status = 201, body = ChannelView, description = "Created"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn replace(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<ChannelPath>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<Response, ApiError> {
    if input.name.as_ref().is_some_and(|name| *name != path.name) {
        return Err(ApiError::invalid(
            "name",
            format!("must be {:?}, the name in the path", path.name),
        ));
    }
    let existing = state.store().channel_get(&path.name).await?;
    let created = existing.is_none();
    let spec = spec_of(path.name, input, existing.as_ref())?;
    let channel = state.store().channel_upsert(&spec).await?;
    let action = if created {
        "channel.create"
    } else {
        "channel.update"
    };
    audit(&state, caller.actor(), action, &channel).await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ChannelView::from(channel))).into_response())
}

/// Deletes a channel and its deliveries.
#[utoipa::path(delete, path = "/channels/{name}", tag = "channels", params(ChannelPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<ChannelPath>,
) -> Result<StatusCode, ApiError> {
    if !state.store().channel_delete(&path.name).await? {
        return Err(not_found(&path.name));
    }
    state
        .audit(
            caller.actor(),
            "channel.delete",
            &format!("channel:{}", path.name),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message to the channel now (one real attempt, not stored).
#[utoipa::path(post, path = "/channels/{name}/test", tag = "channels", params(ChannelPath),
    responses(
        (status = 200, body = TestDelivery, description = "Attempted; `delivered` says whether it arrived"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json", description = "This server cannot send"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<ChannelPath>,
) -> Result<Json<TestDelivery>, ApiError> {
    let channel = find(&state, &path.name).await?;
    let sender = state.channel_sender()?;
    let sent = scheduler::send_test_message(sender, &channel.spec).await;
    let outcome = TestDelivery {
        delivered: sent.delivered,
        status: sent.status,
        error: sent.error,
    };
    state
        .audit(
            caller.actor(),
            "channel.test",
            &format!("channel:{}", channel.spec.name),
            json!({"delivered": outcome.delivered, "status": outcome.status}),
        )
        .await;
    Ok(Json(outcome))
}

/// A channel's recent deliveries, newest first.
#[utoipa::path(get, path = "/channels/{name}/deliveries", tag = "channels", params(ChannelPath, DeliveriesQuery),
    responses(
        (status = 200, body = Items<DeliveryView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    _caller: Admin,
    ApiPath(path): ApiPath<ChannelPath>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Items<DeliveryView>>, ApiError> {
    let limit = crate::validate::limit(query.limit)?;
    let channel = find(&state, &path.name).await?;
    let deliveries = state
        .store()
        .deliveries_of_channel(channel.id, limit)
        .await?;
    Ok(Json(Items {
        items: deliveries.into_iter().map(DeliveryView::from).collect(),
    }))
}

async fn find(state: &AppState, name: &str) -> Result<NotificationChannel, ApiError> {
    state
        .store()
        .channel_get(name)
        .await?
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("no channel named {name:?}"))
}

async fn audit(state: &AppState, actor: &str, action: &str, channel: &NotificationChannel) {
    state
        .audit(
            actor,
            action,
            &format!("channel:{}", channel.spec.name),
            json!({"kind": channel.spec.kind.as_str(), "enabled": channel.spec.enabled}),
        )
        .await;
}

/// The spec an input describes; `existing` supplies an omitted or masked URL.
fn spec_of(
    name: String,
    input: ChannelInput,
    existing: Option<&NotificationChannel>,
) -> Result<ChannelSpec, ApiError> {
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
    let kept = existing.map(|channel| channel.spec.url.clone());
    let url = match (input.url, kept) {
        (Some(url), Some(kept)) if url == shown_url(input.kind, &kept) => Some(kept),
        (Some(url), _) => Some(url),
        (None, kept) => kept,
    };
    match &url {
        None => errors.push(FieldError::new("url", "is required")),
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            errors.push(FieldError::new("url", "must be an http:// or https:// URL"));
        }
        Some(url) if url.contains('…') => {
            errors.push(FieldError::new(
                "url",
                "is a masked URL; send the full URL, or omit it to keep the stored one",
            ));
        }
        Some(_) => {}
    }
    if input.events.as_ref().is_some_and(Vec::is_empty) {
        errors.push(FieldError::new(
            "events",
            "must name at least one event (or set `enabled` to false)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(ChannelSpec {
        name,
        kind: input.kind,
        url: url.unwrap_or_default(),
        events: input.events.unwrap_or_else(|| {
            vec![
                AlertEvent::Failed,
                AlertEvent::TimedOut,
                AlertEvent::Interrupted,
                AlertEvent::Missed,
                AlertEvent::Recovered,
            ]
        }),
        enabled: input.enabled.unwrap_or(true),
    })
}

/// A Slack URL's path is its secret: shown as `scheme://host/…`.
fn shown_url(kind: ChannelKind, url: &str) -> String {
    if kind != ChannelKind::Slack {
        return url.to_owned();
    }
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let host_end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    format!("{}/…", &url[..host_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_urls_are_masked_after_the_host() {
        assert_eq!(
            shown_url(
                ChannelKind::Slack,
                "https://hooks.slack.com/services/T000/B000/XXXX"
            ),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_url(ChannelKind::Webhook, "https://example.com/hook?k=1"),
            "https://example.com/hook?k=1"
        );
    }

    #[test]
    fn a_location_segment_encodes_everything_but_unreserved_bytes() {
        assert_eq!(path_segment("ops-alerts_1.x~"), "ops-alerts_1.x~");
        assert_eq!(path_segment("a b/\u{10}é"), "a%20b%2F%10%C3%A9");
    }
}
