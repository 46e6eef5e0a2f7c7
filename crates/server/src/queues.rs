//! `/api/v1/queues/{key}…`: a `@forge/events` queue's consumer, its events
//! by state and its recent queue jobs; one queue job's stats (what a
//! script's `getJob(jobId).getStats()` returns, plus cancelled events).

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use store::QueueJob;
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::Viewer,
    extract::{ApiPath, ApiQuery},
    model::QueueCountsView,
    problem::ApiError,
    validate,
};

/// The queue path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct QueuePath {
    /// The queue key.
    key: String,
}

/// The queue job path parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct QueueJobPath {
    /// The queue key.
    key: String,
    /// The queue job's id (`jobId`, what `push` returned).
    queue_job_id: String,
}

/// Query of `GET /queues/{key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueueQuery {
    /// Recent queue jobs listed, 1-500 (default 50).
    limit: Option<u32>,
}

/// A queue: its consumer, its events by state, its newest queue jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueView {
    /// The queue key.
    key: String,
    /// The job consuming it; `null` when none does now.
    job_id: Option<i64>,
    /// Every event pushed to it, by state.
    counts: QueueCountsView,
    /// Its newest queue jobs (pushes), newest first.
    recent_jobs: Vec<QueueJobView>,
}

/// One queue job: the events of one `push`, by state.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueJobView {
    /// Its id (`jobId`).
    id: String,
    /// The queue key.
    queue: String,
    /// The consuming job.
    job_id: i64,
    /// Events pushed.
    events: u64,
    /// When it was pushed.
    #[schema(value_type = String, format = DateTime)]
    created_at: jiff::Timestamp,
    /// Consumed successfully (`getStats().success`).
    succeeded: u64,
    /// Waiting, running or waiting for a retry (`getStats().inProgress`).
    in_progress: u64,
    /// The consumer failed for good (`getStats().failed`).
    failed: u64,
    /// Dropped by `cancel()` before they ran.
    cancelled: u64,
}

impl From<QueueJob> for QueueJobView {
    fn from(job: QueueJob) -> Self {
        Self {
            id: job.id.to_string(),
            queue: job.queue,
            job_id: job.job_id,
            events: job.events,
            created_at: job.created_at,
            succeeded: job.counts.succeeded,
            in_progress: job.counts.in_progress,
            failed: job.counts.failed,
            cancelled: job.counts.cancelled,
        }
    }
}

fn check_key(key: &str) -> Result<(), ApiError> {
    store::check_queue_key(key).map_err(|reason| ApiError::invalid("key", reason))
}

/// A queue's consumer, counts and newest queue jobs.
#[utoipa::path(get, path = "/queues/{key}", tag = "queues", params(QueuePath, QueueQuery),
    responses(
        (status = 200, body = QueueView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<QueuePath>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<QueueView>, ApiError> {
    check_key(&path.key)?;
    let limit = validate::limit(query.limit)?;
    let summary = state
        .store()
        .queue_summary(&path.key)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no job consumes queue {:?} and nothing was pushed to it",
                path.key
            ))
        })?;
    let recent = state.store().queue_jobs_recent(&path.key, limit).await?;
    Ok(Json(QueueView {
        counts: QueueCountsView::of(&summary.queue, summary.counts),
        key: summary.queue,
        job_id: summary.job_id,
        recent_jobs: recent.into_iter().map(QueueJobView::from).collect(),
    }))
}

/// One queue job's stats.
#[utoipa::path(get, path = "/queues/{key}/jobs/{queue_job_id}", tag = "queues",
    params(QueueJobPath),
    responses(
        (status = 200, body = QueueJobView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn job(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<QueueJobPath>,
) -> Result<Json<QueueJobView>, ApiError> {
    check_key(&path.key)?;
    let not_found = || {
        ApiError::NotFound(format!(
            "no job {:?} on queue {:?}",
            path.queue_job_id, path.key
        ))
    };
    let id: i64 = path.queue_job_id.parse().map_err(|_| not_found())?;
    let job = state
        .store()
        .queue_job_get(&path.key, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(job.into()))
}

/// `progress.queue` of a job: the counts of the queue it consumes.
pub(crate) async fn progress_of(
    state: &AppState,
    job_id: i64,
) -> Result<Option<QueueCountsView>, ApiError> {
    Ok(state
        .store()
        .queue_of_job(job_id)
        .await?
        .map(|summary| QueueCountsView::of(&summary.queue, summary.counts)))
}
