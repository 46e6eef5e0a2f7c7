//! `/api/v1/audit` (admin only): the audit log the store records, who
//! changed what and when, newest first, filtered by job and by actor.

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{AuditFilter, AuditRecord, JobRef};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState, auth::Admin, extract::ApiQuery, model::Page, problem::ApiError, validate,
};

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only entries on this job: its id (also of a deleted job) or the name
    /// of an existing job. Matches the entries whose target is `job:<id>`.
    job: Option<String>,
    /// Only entries by this actor: a user's or a token's name (exact).
    actor: Option<String>,
    /// Entries per page, 1-500 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct AuditView {
    /// Its id; entries are numbered in the order they were written.
    id: i64,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    at: Timestamp,
    /// Who: a user's or token's name, `system`, or `anonymous` for a failed sign-in.
    actor: String,
    /// What, dotted: `job.create`, `job.update`, `run.start`, `token.revoke`, …
    action: String,
    /// On what: `job:42`, `run:7`, `user:ana`, …
    target: String,
    /// Details of the change (never a secret).
    detail: Value,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> Self {
        Self {
            id: record.id,
            at: record.at,
            actor: record.actor,
            action: record.action,
            target: record.target,
            detail: record.detail,
        }
    }
}

/// The audit log, newest first, a page at a time.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, body = Page<AuditView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json", description = "`job` names no job"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Admin,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    let limit = validate::limit(query.limit)?;
    let target = match query.job.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(job) => Some(format!("job:{}", job_id(&state, job).await?)),
    };
    let filter = AuditFilter {
        actor: query.actor.filter(|actor| !actor.trim().is_empty()),
        target,
    };
    let page = state
        .store()
        .audit_search(&filter, query.cursor.as_deref(), limit)
        .await?;
    Ok(Json(page.into()))
}

/// The id `job` names: an id as written (a deleted job's entries stay
/// findable), or the id of the existing job of that name.
async fn job_id(state: &AppState, job: &str) -> Result<i64, ApiError> {
    match JobRef::parse(job) {
        JobRef::Id(id) => Ok(id),
        JobRef::Name(_) => Ok(crate::jobs::find(state, job).await?.id),
    }
}
