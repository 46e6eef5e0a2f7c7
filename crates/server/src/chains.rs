//! `/api/v1/chains/{id}…`: a chain of runs (`context.continueWith`) as one
//! logical execution, cancelling it, and the chain part of a job's
//! `progress`.

use axum::{Json, extract::State, http::StatusCode};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use store::{ChainSummary, Run, RunStatus, Trigger};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::{Editor, Viewer},
    extract::ApiPath,
    model::JobView,
    problem::ApiError,
};

/// The chain path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ChainPath {
    /// The chain's id (the id of its first chunk).
    id: i64,
}

/// A chain as a job's progress shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainProgressView {
    /// The chain's id (`GET /chains/{id}`).
    pub id: i64,
    /// `running` while a chunk is queued or running, else its newest run's status.
    #[schema(value_type = crate::model::RunStatusDoc)]
    pub status: RunStatus,
    /// Chunks that succeeded.
    pub chunks_done: u64,
    /// When its first chunk started.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// The size of the newest saved state, in bytes of JSON.
    pub latest_state_bytes: u64,
}

impl From<&ChainSummary> for ChainProgressView {
    fn from(chain: &ChainSummary) -> Self {
        Self {
            id: chain.id,
            status: chain.status,
            chunks_done: chain.chunks_done,
            started_at: chain.started_at,
            latest_state_bytes: chain.latest_state_bytes,
        }
    }
}

/// A chain of runs as one logical execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChainView {
    /// Its id: the id of its first chunk.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// `running` while a chunk is queued or running; otherwise the status
    /// of its newest run (`succeeded` when the last chunk did not continue).
    #[schema(value_type = crate::model::RunStatusDoc)]
    pub status: RunStatus,
    /// Its runs in order: chunks, and retries of chunks (trigger `retry`).
    pub chunks: Vec<ChunkView>,
    /// Chunks that succeeded.
    pub chunks_done: u64,
    /// When its first chunk started.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When its last run ended; `null` while it is running.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// Time its runs spent executing, summed (delays between chunks
    /// excluded; a chunk whose node died counts to its last stored log line,
    /// not to when its expired lease was noticed).
    pub total_duration_ms: i64,
    /// The size of the newest saved state, in bytes of JSON.
    pub latest_state_bytes: u64,
}

/// One run of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChunkView {
    /// The run's id (`GET /runs/{id}`).
    pub id: i64,
    /// Its status.
    #[schema(value_type = crate::model::RunStatusDoc)]
    pub status: RunStatus,
    /// `continuation`, `retry`, or what started the chain for the first chunk.
    #[schema(value_type = crate::model::TriggerDoc)]
    pub trigger: Trigger,
    /// 1, or 2, 3, … for retries of a chunk.
    pub attempt: u32,
    /// The earliest instant it could start (its delay).
    #[schema(value_type = String, format = DateTime)]
    pub not_before: Timestamp,
    /// When it started.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<i64>,
}

impl From<Run> for ChunkView {
    fn from(run: Run) -> Self {
        Self {
            id: run.id,
            status: run.status,
            trigger: run.trigger,
            attempt: run.attempt,
            not_before: run.not_before,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
        }
    }
}

/// One chain with its chunks in order.
#[utoipa::path(get, path = "/chains/{id}", tag = "runs", params(ChainPath),
    responses(
        (status = 200, body = ChainView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<ChainPath>,
) -> Result<Json<ChainView>, ApiError> {
    Ok(Json(find(&state, path.id).await?))
}

/// Cancels a chain: its queued next chunk at once, or its running chunk
/// (which then queues no next one). The chain ends `cancelled`.
#[utoipa::path(post, path = "/chains/{id}/cancel", tag = "runs", params(ChainPath),
    responses(
        (status = 202, body = ChainView, description = "Cancelled, or cancellation requested"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "The chain has already ended"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<ChainPath>,
) -> Result<(StatusCode, Json<ChainView>), ApiError> {
    let scheduler = state.scheduler()?;
    let chain = find(&state, path.id).await?;
    if !scheduler.cancel_chain(chain.id).await? {
        let chain = find(&state, path.id).await?;
        return Err(ApiError::Conflict(format!(
            "chain {} has already ended: it is {}",
            chain.id, chain.status
        )));
    }
    state
        .audit(
            caller.actor(),
            "chain.cancel",
            &format!("chain:{}", chain.id),
            serde_json::json!({"job_id": chain.job_id}),
        )
        .await;
    Ok((StatusCode::ACCEPTED, Json(find(&state, path.id).await?)))
}

/// The chain with this id, or a 404.
async fn find(state: &AppState, id: i64) -> Result<ChainView, ApiError> {
    let chain = state
        .store()
        .chain_get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no chain with id {id}")))?;
    let summary = chain.summary;
    Ok(ChainView {
        id: summary.id,
        job_id: summary.job_id,
        status: summary.status,
        chunks: chain.runs.into_iter().map(ChunkView::from).collect(),
        chunks_done: summary.chunks_done,
        started_at: summary.started_at,
        finished_at: summary.finished_at,
        total_duration_ms: summary.total_duration_ms,
        latest_state_bytes: summary.latest_state_bytes,
    })
}

/// Fills the chain part of a job view's progress.
pub(crate) async fn with_progress(
    state: &AppState,
    mut view: JobView,
) -> Result<JobView, ApiError> {
    view.progress.chain = state
        .store()
        .chain_newest_of_job(view.id)
        .await?
        .as_ref()
        .map(ChainProgressView::from);
    Ok(view)
}
