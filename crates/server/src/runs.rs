//! `/api/v1/jobs/{job}/runs` and `/api/v1/runs/{id}…`: run history, one
//! run, and its stored logs.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use store::{LogQuery, Run, RunFilter, RunStatus};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::{Editor, HeldCredential, Viewer},
    extract::{ApiPath, ApiQuery},
    jobs::{self, JobPath},
    live_logs,
    model::{LogLineView, Page, RunView},
    problem::ApiError,
    validate,
};

/// Query of `GET /jobs/{job}/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only runs in this status.
    #[param(value_type = Option<crate::model::RunStatusDoc>)]
    status: Option<RunStatus>,
    /// Runs per page, 1-500 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The run path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RunPath {
    /// The run's id.
    id: i64,
}

/// Query of `GET /runs/{id}/logs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Only lines after this `seq` (default 0: from the start).
    after: Option<u64>,
    /// Lines per page, 1-10000 (default 1000).
    limit: Option<u32>,
}

/// The most log lines one page holds.
const MAX_LOG_PAGE: u32 = 10_000;
/// Log lines per page when `limit` is not given.
const DEFAULT_LOG_PAGE: u32 = 1_000;

/// A page of a run's stored log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// The lines, in order.
    pub items: Vec<LogLineView>,
    /// Present when the page is full: pass it as `after` for the next page.
    pub next_after: Option<u64>,
}

/// A job's runs, newest first, a page at a time.
#[utoipa::path(get, path = "/jobs/{job}/runs", tag = "runs", params(JobPath, RunsQuery),
    responses(
        (status = 200, body = Page<RunView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<JobPath>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<Json<Page<RunView>>, ApiError> {
    let limit = validate::limit(query.limit)?;
    let job = jobs::find(&state, path.job()).await?;
    let page = state
        .store()
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            status: query.status,
            cursor: query.cursor,
            limit,
        })
        .await?;
    Ok(Json(page.into()))
}

/// One run.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs", params(RunPath),
    responses(
        (status = 200, body = RunView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<RunPath>,
) -> Result<Json<RunView>, ApiError> {
    Ok(Json(find(&state, path.id).await?.into()))
}

/// A run's log lines. As JSON: the stored lines, a page at a time. With
/// `Accept: text/event-stream`: every line after `after` (or the
/// `Last-Event-ID` header) as `log` events with the line's `seq` as id,
/// live while the run goes on, a `run` event (data: the RunView) each time
/// its status changes, then one `end` event carrying the run.
#[utoipa::path(get, path = "/runs/{id}/logs", tag = "runs", params(RunPath, LogsQuery),
    responses(
        (status = 200, body = LogPage, description = "JSON page, or a `text/event-stream` of `log` events (data: a LogLineView) and `run` events on status changes (data: the RunView), ending with an `end` event (data: the RunView)"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn logs(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<RunPath>,
    ApiQuery(query): ApiQuery<LogsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if wants_event_stream(&headers) {
        let run = find(&state, path.id).await?;
        let after = match query.after {
            Some(after) => after,
            None => last_event_id(&headers)?,
        };
        let held = HeldCredential::of(&headers);
        return Ok(live_logs::stream(state, run.id, after, held).into_response());
    }
    let limit = match query.limit {
        None => DEFAULT_LOG_PAGE,
        Some(limit @ 1..=MAX_LOG_PAGE) => limit,
        Some(_) => {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LOG_PAGE}"),
            ));
        }
    };
    let run = find(&state, path.id).await?;
    let lines = state
        .store()
        .run_logs(&LogQuery {
            run_id: run.id,
            after_seq: query.after.unwrap_or(0),
            limit,
        })
        .await?;
    let full = lines.len() == limit as usize;
    let next_after = lines.last().filter(|_| full).map(|line| line.seq);
    Ok(Json(LogPage {
        items: lines.into_iter().map(LogLineView::from).collect(),
        next_after,
    })
    .into_response())
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.split(';').next().unwrap_or("").trim() == "text/event-stream")
}

/// The `Last-Event-ID` a reconnecting client sends: the last `seq` it saw.
fn last_event_id(headers: &HeaderMap) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(0),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::BadRequest("Last-Event-ID must be a log line's seq".to_owned())
            }),
    }
}

/// Cancels a run: a queued one at once, a running one by stopping it
/// (it ends `cancelled` shortly after, on whichever node runs it).
#[utoipa::path(post, path = "/runs/{id}/cancel", tag = "runs", params(RunPath),
    responses(
        (status = 202, body = RunView, description = "Cancelled, or cancellation requested"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "The run has already ended"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<RunPath>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let scheduler = state.scheduler()?;
    let run = find(&state, path.id).await?;
    if !scheduler.cancel(run.id).await? {
        let run = find(&state, path.id).await?;
        return Err(ApiError::Conflict(format!(
            "run {} has already ended: it is {}",
            run.id, run.status
        )));
    }
    state
        .audit(
            caller.actor(),
            "run.cancel",
            &format!("run:{}", run.id),
            serde_json::json!({"job_id": run.job_id}),
        )
        .await;
    let run = find(&state, path.id).await?;
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// The run with this id, or a 404.
pub(crate) async fn find(state: &AppState, id: i64) -> Result<Run, ApiError> {
    state
        .store()
        .run_get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no run with id {id}")))
}
