//! `/api/v1/jobs…`: create, read, replace, patch, delete, list, versions,
//! pause and resume. Each handler parses, validates, makes one call — the
//! store for reads (the list is one `jobs_overview` read), the scheduler's
//! [`JobSaves`](scheduler::JobSaves) for changes, which decides the next
//! fire instant — and maps the result; the store audits every change in
//! its transaction.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;
use store::{Job, JobFilter, JobRef, JobSpec, LastRunFilter, Trigger};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::{Editor, Viewer},
    chains::ChainProgressView,
    extract::{ApiJson, ApiPath, ApiQuery, parse_value},
    model::{
        JobInput, JobListItem, JobPage, JobVersionView, JobView, Page, RecentRunView, RunView,
    },
    problem::ApiError,
    validate,
};

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only jobs whose name contains this text (case-insensitive).
    q: Option<String>,
    /// The same as `q` (its earlier name).
    search: Option<String>,
    /// Only jobs whose newest run has this status (`succeeded`, `failed`,
    /// …), or `none` for jobs that never ran.
    status: Option<String>,
    /// Only enabled (`true`) or paused (`false`) jobs.
    enabled: Option<bool>,
    /// Only jobs with this tag (exact).
    tag: Option<String>,
    /// Only jobs whose owner contains this text (case-insensitive).
    owner: Option<String>,
    /// Jobs per page, 1-500 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The job path parameter: an id, or a name.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct JobPath {
    /// The job's id, or its name.
    job: String,
}

impl JobPath {
    /// The id or name as written.
    pub(crate) fn job(&self) -> &str {
        &self.job
    }
}

/// Lists jobs in name order, a page at a time.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses(
        (status = 200, body = JobPage, description = "A page of jobs without their scripts, each with its 20 newest runs; `total` counts every match"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<JobPage>, ApiError> {
    let last_run = match query.status.as_deref() {
        None | Some("") => None,
        Some("none") => Some(LastRunFilter::Never),
        Some(text) => Some(LastRunFilter::Status(text.parse().map_err(|_| {
            ApiError::invalid(
                "status",
                format!("{text:?} is not a run status (or `none` for jobs that never ran)"),
            )
        })?)),
    };
    let filter = JobFilter {
        search: query.q.or(query.search),
        enabled: query.enabled,
        cursor: query.cursor,
        limit: validate::limit(query.limit)?,
        last_run,
        tag: query.tag.filter(|tag| !tag.is_empty()),
        owner: query.owner.filter(|owner| !owner.is_empty()),
    };
    let overview = state.store().jobs_overview(&filter, RECENT_RUNS).await?;
    let items = overview
        .page
        .items
        .into_iter()
        .map(|item| {
            let mut job = JobView::from(item.job);
            // A page of jobs is for finding one: its scripts (up to 1 MiB
            // each) would make every refresh heavy.
            job.script = None;
            job.progress.chain = item.newest_chain.as_ref().map(ChainProgressView::from);
            JobListItem {
                job,
                recent_runs: item
                    .recent_runs
                    .into_iter()
                    .map(RecentRunView::from)
                    .collect(),
                avg_duration_ms: item.avg_duration_ms,
            }
        })
        .collect();
    Ok(Json(JobPage {
        items,
        next_cursor: overview.page.next_cursor,
        total: overview.total,
    }))
}

/// Runs per job in the jobs list's strip.
const RECENT_RUNS: u32 = 20;

/// Creates a job (version 1).
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = JobInput,
    responses(
        (status = 201, body = JobView, description = "Created; `Location` names it"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "The name is taken"),
        (status = 413, body = crate::Problem, content_type = "application/problem+json"),
        (status = 415, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json", description = "Invalid fields, each with its path"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Editor,
    ApiJson(input): ApiJson<JobInput>,
) -> Result<Response, ApiError> {
    let spec = checked_spec(&state, &input).await?;
    create_job(&state, spec, &caller).await
}

/// The spec a save of `input` would store (with the configured defaults),
/// checked as every save is.
async fn checked_spec(state: &AppState, input: &JobInput) -> Result<JobSpec, ApiError> {
    let spec = state.spec_of(input);
    validate::job(
        &spec,
        state.run_as_names(),
        state.memory_budget_mb(),
        state.now(),
    )
    .await?;
    Ok(spec)
}

async fn create_job(
    state: &AppState,
    mut spec: JobSpec,
    caller: &Editor,
) -> Result<Response, ApiError> {
    // A job someone creates in the UI is theirs unless they name another
    // owner; a token is a program, not a person to ask about the job.
    if spec.owner.is_empty()
        && let Some(user) = caller.0.signed_in_user()
    {
        user.clone_into(&mut spec.owner);
    }
    let job = state.job_saves().create(spec, caller.actor()).await?;
    let location = format!("/api/v1/jobs/{}", job.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(JobView::from(job)),
    )
        .into_response())
}

/// One job, by id or name.
#[utoipa::path(get, path = "/jobs/{job}", tag = "jobs", params(JobPath),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<JobPath>,
) -> Result<Json<JobView>, ApiError> {
    let mut view =
        crate::chains::with_progress(&state, JobView::from(find(&state, &path.job).await?)).await?;
    view.progress.queue = crate::queues::progress_of(&state, view.id).await?;
    Ok(Json(view))
}

/// Query of `PUT /jobs/{job}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReplaceQuery {
    /// `true`: check the job as a save would and answer 204, writing
    /// nothing (`clockwork job apply` checks every file before it applies any).
    dry_run: Option<bool>,
}

/// Replaces a job with a new version; creates it when the path names a
/// job that does not exist yet by the body's name (declarative upsert).
/// A body identical to the current version changes nothing.
#[utoipa::path(put, path = "/jobs/{job}", tag = "jobs", params(JobPath, ReplaceQuery), request_body = JobInput,
    responses(
        (status = 204, description = "`dry_run=true`: the job would be saved; nothing was written"),
        (status = 200, body = JobView, description = "Replaced (or unchanged)"),
        (status = 201, body = JobView, description = "Created"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "Stale `version`, or the new name is taken"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn replace(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
    ApiQuery(query): ApiQuery<ReplaceQuery>,
    ApiJson(input): ApiJson<JobInput>,
) -> Result<Response, ApiError> {
    let spec = checked_spec(&state, &input).await?;
    let job_ref = JobRef::parse(&path.job);
    let current = state.store().job_get(&job_ref).await?;
    if query.dry_run == Some(true) {
        return match (&current, &job_ref) {
            (None, JobRef::Name(name)) if *name != spec.name => Err(ApiError::invalid(
                "name",
                format!("must be {name:?}, the name in the path, to create that job"),
            )),
            (None, JobRef::Id(_)) => Err(not_found(&path.job)),
            _ => Ok(StatusCode::NO_CONTENT.into_response()),
        };
    }
    match current {
        Some(current) => {
            let job = update_job(&state, current, spec, input.version, caller.actor()).await?;
            Ok(Json(JobView::from(job)).into_response())
        }
        None => match job_ref {
            JobRef::Name(name) if name == spec.name => create_job(&state, spec, &caller).await,
            JobRef::Name(name) => Err(ApiError::invalid(
                "name",
                format!("must be {name:?}, the name in the path, to create that job"),
            )),
            JobRef::Id(_) => Err(not_found(&path.job)),
        },
    }
}

/// Changes some fields of a job: the body is a JSON merge patch (RFC 7396)
/// of its [`JobInput`] form (`null` resets a field to its default). A
/// `version` in the patch is the version the change is based on.
#[utoipa::path(patch, path = "/jobs/{job}", tag = "jobs", params(JobPath),
    request_body(content = Object, content_type = "application/merge-patch+json",
        description = "A JSON merge patch of the job's writable fields"),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn patch(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Json<JobView>, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::invalid(
            ".",
            "a merge patch must be a JSON object",
        ));
    }
    let current = find(&state, &path.job).await?;
    let mut document =
        serde_json::to_value(JobInput::from(&current.spec)).map_err(ApiError::internal)?;
    merge_patch(&mut document, patch);
    let input: JobInput = parse_value(document)?;
    let spec = checked_spec(&state, &input).await?;
    let job = update_job(&state, current, spec, input.version, caller.actor()).await?;
    Ok(Json(job.into()))
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(&key);
            } else {
                merge_patch(target.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

async fn update_job(
    state: &AppState,
    current: Job,
    spec: JobSpec,
    expected_version: Option<i64>,
    actor: &str,
) -> Result<Job, ApiError> {
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(ApiError::Conflict(format!(
            "job {} is at version {}, not the expected version {expected}",
            current.id, current.version
        )));
    }
    let id = current.id;
    let job = state.job_saves().replace(current, spec, actor).await?;
    state.forget_job_name(id);
    Ok(job)
}

/// Deletes a job with its versions, runs and logs.
#[utoipa::path(delete, path = "/jobs/{job}", tag = "jobs", params(JobPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
) -> Result<StatusCode, ApiError> {
    let job = find(&state, &path.job).await?;
    if !state.job_saves().delete(job.id, caller.actor()).await? {
        return Err(not_found(&path.job));
    }
    state.forget_job_name(job.id);
    Ok(StatusCode::NO_CONTENT)
}

/// Every saved version of a job, newest first.
#[utoipa::path(get, path = "/jobs/{job}/versions", tag = "jobs", params(JobPath),
    responses(
        (status = 200, body = Page<JobVersionView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn versions(
    State(state): State<AppState>,
    _caller: Viewer,
    ApiPath(path): ApiPath<JobPath>,
) -> Result<Json<Page<JobVersionView>>, ApiError> {
    let job = find(&state, &path.job).await?;
    let versions = state.store().job_versions(job.id).await?;
    Ok(Json(Page {
        items: versions.into_iter().map(JobVersionView::from).collect(),
        next_cursor: None,
    }))
}

/// Stops the schedule from firing (no new version; audited).
#[utoipa::path(post, path = "/jobs/{job}/pause", tag = "jobs", params(JobPath),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
) -> Result<Json<JobView>, ApiError> {
    set_enabled(&state, &path.job, false, caller.actor()).await
}

/// Lets the schedule fire again from now on (occurrences passed while
/// paused are not caught up).
#[utoipa::path(post, path = "/jobs/{job}/resume", tag = "jobs", params(JobPath),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
) -> Result<Json<JobView>, ApiError> {
    set_enabled(&state, &path.job, true, caller.actor()).await
}

async fn set_enabled(
    state: &AppState,
    job: &str,
    enabled: bool,
    actor: &str,
) -> Result<Json<JobView>, ApiError> {
    let current = find(state, job).await?;
    let job = state
        .job_saves()
        .set_enabled(current, enabled, actor)
        .await?;
    Ok(Json(job.into()))
}

/// Body of `POST /jobs/{job}/run` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRequest {
    /// Parameters for this run (`context.params`), instead of the job's.
    #[serde(default)]
    params: Option<Value>,
    /// `manual` (a person, through the CLI or UI) or `api` (a program; the default).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "manual")]
    trigger: Option<Trigger>,
}

/// Queues a run of the job's current version now; any free worker starts it.
#[utoipa::path(post, path = "/jobs/{job}/run", tag = "jobs", params(JobPath),
    request_body(content = RunRequest, description = "Optional; `{}` or no body runs with the job's params"),
    responses(
        (status = 202, body = RunView, description = "Queued"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json", description = "No scheduler in this server"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn run_now(
    State(state): State<AppState>,
    caller: Editor,
    ApiPath(path): ApiPath<JobPath>,
    body: Option<ApiJson<RunRequest>>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let ApiJson(request) = body.unwrap_or(ApiJson(RunRequest::default()));
    if request
        .params
        .as_ref()
        .is_some_and(|params| !params.is_object())
    {
        return Err(ApiError::invalid("params", "must be a JSON object"));
    }
    let trigger = match request.trigger {
        None => Trigger::Api,
        Some(trigger @ (Trigger::Api | Trigger::Manual)) => trigger,
        Some(_) => {
            return Err(ApiError::invalid(
                "trigger",
                "must be \"manual\" or \"api\"",
            ));
        }
    };
    let scheduler = state.scheduler()?;
    let job = find(&state, &path.job).await?;
    // The run and its audit entry commit together (on PostgreSQL: one
    // commit per request instead of two).
    let audit = store::RunAudit {
        actor: caller.actor().to_owned(),
        action: "run.start".to_owned(),
        detail: serde_json::json!({"job_id": job.id, "trigger": trigger.as_str()}),
    };
    let (run, audited) = scheduler
        .run_now_audited(job.id, request.params, trigger, &audit)
        .await?;
    if let Err(error) = audited {
        tracing::error!(action = %audit.action, target = %format!("run:{}", run.id), error = %crate::problem::ErrorChain(&error), "cannot write the audit entry");
    }
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// The job a path names, or a 404.
pub(crate) async fn find(state: &AppState, job: &str) -> Result<Job, ApiError> {
    state
        .store()
        .job_get(&JobRef::parse(job))
        .await?
        .ok_or_else(|| not_found(job))
}

fn not_found(job: &str) -> ApiError {
    ApiError::NotFound(format!("no job with id or name {job:?}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "keep": 1});
        merge_patch(&mut target, json!({"a": "z", "c": {"f": null}, "new": [1]}));
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e"}, "keep": 1, "new": [1]})
        );
        let mut target = json!({"schedule": null});
        merge_patch(&mut target, json!({"schedule": {"cron": "@daily"}}));
        assert_eq!(target, json!({"schedule": {"cron": "@daily"}}));
    }
}
