//! `GET /api/v1/cron/preview`: what an expression means and when it fires.

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Viewer;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, FieldError};
use crate::validate;

/// How many instants a preview lists when `count` is not given.
const DEFAULT_COUNT: u16 = 5;
/// The most instants one preview lists.
const MAX_COUNT: u16 = 100;

/// Query of `GET /cron/preview`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PreviewQuery {
    /// The cron expression: 5 fields, or 6 with leading seconds, or a macro.
    expr: String,
    /// The IANA time zone its wall-clock times are in (default `UTC`).
    tz: Option<String>,
    /// How many instants to list, 1-100 (default 5).
    count: Option<u16>,
    /// List instants strictly after this RFC 3339 instant (default: now).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
}

/// An expression's description and next fire instants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CronPreview {
    /// The expression as given.
    pub expr: String,
    /// The time zone the instants are computed in.
    pub timezone: String,
    /// The expression in English.
    pub description: String,
    /// The next fire instants, `YYYY-MM-DDTHH:MM:SS±HH:MM` with the zone's
    /// offset at each instant.
    pub next: Vec<String>,
}

/// Describes a cron expression and lists its next fire instants.
#[utoipa::path(
    get,
    path = "/cron/preview",
    tag = "cron",
    params(PreviewQuery),
    responses(
        (status = 200, description = "The expression is valid", body = CronPreview),
        (status = 401, description = "No valid credentials",
            body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid expression (with its column), zone or count",
            body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])),
)]
pub(crate) async fn preview(
    _viewer: Viewer,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PreviewQuery>,
) -> Result<Json<CronPreview>, ApiError> {
    let timezone = query.tz.unwrap_or_else(|| "UTC".to_owned());
    let mut errors = Vec::new();
    let schedule = validate::cron(&query.expr, "expr", &mut errors);
    let zone = validate::time_zone(&timezone, "tz", &mut errors);
    let count = query.count.unwrap_or(DEFAULT_COUNT);
    if !(1..=MAX_COUNT).contains(&count) {
        errors.push(FieldError::new(
            "count",
            format!("must be between 1 and {MAX_COUNT}"),
        ));
    }
    let from = match query.from.as_deref().map(str::parse::<Timestamp>) {
        None => state.now(),
        Some(Ok(from)) => from,
        Some(Err(error)) => {
            errors.push(FieldError::new(
                "from",
                format!("expected an RFC 3339 instant like 2026-03-07T12:00:00Z ({error})"),
            ));
            state.now()
        }
    };
    if let (Some(schedule), Some(zone)) = (&schedule, &zone) {
        validate::fires_in(schedule, zone, from, "expr", &mut errors);
    }
    let (Some(schedule), Some(zone), true) = (schedule, zone, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let next = schedule
        .iter_after(from, &zone)
        .take(usize::from(count))
        .map(|instant| cron::format_instant(&instant))
        .collect();
    Ok(Json(CronPreview {
        description: schedule.describe(),
        expr: query.expr,
        timezone,
        next,
    }))
}
