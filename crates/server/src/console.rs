//! `POST /api/v1/console/run`: runs an ad hoc script (the script console,
//! the editor's Test run) and streams its log and outcome as server-sent
//! events over the POST response.
//!
//! The handler parses, makes one call — `scheduler::ConsoleRuns::start`,
//! which owns the executor and the environment the process hands in — and
//! streams the run it gets back. Nothing is stored in run history; the
//! audit log records that a console run happened, and each secret the
//! script reads (`console_storage`). When the client goes away the run is
//! cancelled.

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::{Stream, stream};
use runtime::{LogStream, RunControl, RunHandle};
use scheduler::{ConsoleRun, to_store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::LogLevel;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    auth::Editor,
    console_storage::AuditedSecrets,
    extract::ApiJson,
    jobs,
    model::{HttpCallView, LogLevelDoc, RunErrorView},
    problem::ApiError,
};

/// The default time limit of a console run.
const DEFAULT_TIMEOUT_SECONDS: u32 = 60;

/// Body of `POST /console/run`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsoleRequest {
    /// The JavaScript, in script or module form; at most 1 MiB.
    script: String,
    /// `javascript` (default) or `typescript` (types are stripped, not checked).
    #[serde(default)]
    #[schema(value_type = Option<crate::model::LanguageDoc>)]
    language: Option<runtime::Language>,
    /// `context.params`, a JSON object (default: the job's, or `{}`).
    #[serde(default)]
    params: Option<Value>,
    /// Wall-clock limit, 1-86400 seconds (default 60).
    #[serde(default)]
    timeout_seconds: Option<u32>,
    /// A job's id or name: run with its `run_as` credential, memory limit
    /// and (unless `params` is given) its params.
    #[serde(default)]
    job: Option<String>,
}

/// One log line of a console run (`event: log`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsoleLogLine {
    /// 1, 2, 3, … in the order written.
    seq: u64,
    /// When it was written.
    #[schema(value_type = String, format = DateTime)]
    ts: jiff::Timestamp,
    /// Its level.
    #[schema(value_type = LogLevelDoc)]
    level: LogLevel,
    /// The message.
    message: String,
}

/// How a console run ended (`event: outcome`, exactly once, last).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsoleOutcome {
    /// `succeeded`, `failed`, `timed_out` or `cancelled`.
    status: &'static str,
    /// The script's result (`null` unless it succeeded).
    result: Value,
    /// Why it did not succeed; a syntax error has its `line` and `column`.
    error: Option<RunErrorView>,
    /// From start to end.
    duration_ms: u64,
    /// Its outbound HTTP calls.
    http_calls: Vec<HttpCallView>,
    /// Whether lines were dropped at the log limit (a last line says how many).
    logs_truncated: bool,
}

/// Runs a script now and streams its log, then its outcome.
#[utoipa::path(post, path = "/console/run", tag = "console", request_body = ConsoleRequest,
    responses(
        (status = 200, content_type = "text/event-stream", description = "`event: log` lines (`data`: ConsoleLogLine) as the run goes, then one `event: outcome` (`data`: ConsoleOutcome)"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json", description = "`job` names no job"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json", description = "No script executor in this server"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn run(
    State(state): State<AppState>,
    caller: Editor,
    ApiJson(request): ApiJson<ConsoleRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut errors = Vec::new();
    if request.script.trim().is_empty() {
        errors.push(crate::FieldError::new("script", "must not be empty"));
    }
    if request.script.len() > store::MAX_SCRIPT_BYTES {
        errors.push(crate::FieldError::new(
            "script",
            format!("must be at most {} bytes", store::MAX_SCRIPT_BYTES),
        ));
    }
    if request.params.as_ref().is_some_and(|p| !p.is_object()) {
        errors.push(crate::FieldError::new("params", "must be a JSON object"));
    }
    let timeout = request.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !store::TIMEOUT_SECONDS_RANGE.contains(&timeout) {
        errors.push(crate::FieldError::new(
            "timeout_seconds",
            format!(
                "must be {} to {}",
                store::TIMEOUT_SECONDS_RANGE.start(),
                store::TIMEOUT_SECONDS_RANGE.end()
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let console = state.console()?;
    let job = match &request.job {
        Some(job) => Some(jobs::find(&state, job).await?),
        None => None,
    };
    let run = ConsoleRun {
        script: request.script,
        language: request.language.unwrap_or_default(),
        params: request.params,
        timeout_seconds: timeout,
        job: job.as_ref(),
    };
    state
        .audit(
            caller.actor(),
            "console.run",
            &match &job {
                Some(job) => format!("job:{}", job.id),
                None => "console".to_owned(),
            },
            json!({"script_bytes": run.script.len(), "timeout_seconds": timeout}),
        )
        .await;
    let audited = state.clone();
    let handle = console.start(&run, |storage| {
        Arc::new(AuditedSecrets {
            inner: storage,
            state: audited,
            actor: caller.actor().to_owned(),
        })
    });
    Ok(Sse::new(events(handle)).keep_alive(KeepAlive::default()))
}

/// Cancels the run when dropped before it ended: the response body (and
/// with it this guard) is dropped when the client disconnects.
struct CancelOnDrop(Option<RunControl>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(control) = self.0.take() {
            control.cancel();
        }
    }
}

enum Phase {
    Logs {
        logs: LogStream,
        handle: RunHandle,
        /// Events sent so far (the `seq` of the last).
        seq: u64,
        /// How many of the outcome's log lines those events stand for.
        position: usize,
        guard: CancelOnDrop,
    },
    /// The run ended: lines the live stream did not deliver (a run that
    /// ended before it was followed), then the outcome.
    Tail {
        rest: std::collections::VecDeque<runtime::LogLine>,
        seq: u64,
        outcome: Box<ConsoleOutcome>,
    },
    Done,
}

fn events(handle: RunHandle) -> impl Stream<Item = Result<Event, Infallible>> {
    let phase = Phase::Logs {
        logs: handle.logs(),
        guard: CancelOnDrop(Some(handle.control())),
        handle,
        seq: 0,
        position: 0,
    };
    stream::unfold(phase, |phase| async move {
        match phase {
            Phase::Done => None,
            Phase::Logs {
                mut logs,
                handle,
                seq,
                position,
                mut guard,
            } => match logs.next().await {
                Some(line) => {
                    let position = position + 1;
                    let seq = seq + 1;
                    let event = log_event(seq, line);
                    let phase = Phase::Logs {
                        logs,
                        handle,
                        seq,
                        position,
                        guard,
                    };
                    Some((Ok(event), phase))
                }
                None => {
                    let mut outcome = handle.outcome().await;
                    guard.0 = None;
                    let rest = outcome.logs.split_off(position.min(outcome.logs.len()));
                    let view = Box::new(outcome_view(outcome, rest.last()));
                    next_of_tail(rest.into(), seq, view)
                }
            },
            Phase::Tail { rest, seq, outcome } => next_of_tail(rest, seq, outcome),
        }
    })
}

fn next_of_tail(
    mut rest: std::collections::VecDeque<runtime::LogLine>,
    seq: u64,
    outcome: Box<ConsoleOutcome>,
) -> Option<(Result<Event, Infallible>, Phase)> {
    match rest.pop_front() {
        Some(line) => {
            let seq = seq + 1;
            Some((Ok(log_event(seq, line)), Phase::Tail { rest, seq, outcome }))
        }
        None => Some((Ok(json_event("outcome", &outcome)), Phase::Done)),
    }
}

fn log_event(seq: u64, line: runtime::LogLine) -> Event {
    let view = ConsoleLogLine {
        seq,
        ts: line.ts,
        level: to_store::log_level(line.level),
        message: line.message,
    };
    json_event("log", &view).id(seq.to_string())
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    // Our own views always serialise; an empty object keeps the stream going.
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned()))
}

/// The outcome's event; `tail_last` is the run's last log line when the
/// live stream did not deliver it (the outcome's own lines were split off).
fn outcome_view(outcome: runtime::Outcome, tail_last: Option<&runtime::LogLine>) -> ConsoleOutcome {
    let logs_truncated = tail_last
        .or(outcome.logs.last())
        .is_some_and(is_truncation_marker);
    ConsoleOutcome {
        status: outcome.status.as_str(),
        result: outcome.result,
        error: outcome
            .error
            .as_ref()
            .map(|error| RunErrorView::from(to_store::run_error(error))),
        duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        http_calls: outcome
            .http_calls
            .iter()
            .map(|call| HttpCallView::from(to_store::http_call(call)))
            .collect(),
        logs_truncated,
    }
}

/// The runtime's last line when the log limit dropped lines.
fn is_truncation_marker(line: &runtime::LogLine) -> bool {
    matches!(line.kind, runtime::LogKind::Truncated { .. })
}
