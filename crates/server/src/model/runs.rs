//! A run as the API shows it: [`RunView`] with its error, HTTP calls and
//! queue event, and its log lines.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{HttpCall, LogLevel, Run, RunError, RunLogLine, RunStatus, Trigger};
use utoipa::ToSchema;

use super::{LogLevelDoc, RunStatusDoc, TriggerDoc};

/// The queue event a run consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunEventView {
    /// The event's id (`event.eventId`).
    pub id: String,
    /// The queue key (`event.queueName`).
    pub queue: String,
    /// The event's body.
    pub body: Value,
    /// The queue job it belongs to (`event.jobId`, what `push` returned).
    pub queue_job_id: String,
    /// `event.retryContext` of a retry: `retryCount`, `retryReason`, `retryData`.
    pub retry_context: Option<Value>,
}

impl RunEventView {
    fn of(event: &Value) -> Option<Self> {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            id: text("eventId")?,
            queue: text("queueName")?,
            body: event.get("body").cloned().unwrap_or(Value::Null),
            queue_job_id: text("jobId")?,
            retry_context: event.get("retryContext").cloned(),
        })
    }
}

/// One run of a job: an execution attempt, or an occurrence that did not
/// run (`skipped`, `missed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunView {
    /// Its id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// The job version it executes.
    pub job_version: i64,
    /// What created it.
    #[schema(value_type = TriggerDoc)]
    pub trigger: Trigger,
    /// Where it is in its life.
    #[schema(value_type = RunStatusDoc)]
    pub status: RunStatus,
    /// The occurrence it is for (retries keep it).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    /// When it was queued (for `skipped`/`missed`: recorded).
    #[schema(value_type = String, format = DateTime)]
    pub queued_at: Timestamp,
    /// When its script began (a claim is not a start): `null` while it
    /// waits, and for a run whose node died before it began.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<i64>,
    /// For an occurrence's run (`schedule` or `catch_up`): how late its
    /// script began after the occurrence's instant, in milliseconds.
    pub lateness_ms: Option<i64>,
    /// 1 for the first attempt, then 2, 3, … for retries.
    pub attempt: u32,
    /// The script's result.
    pub result: Option<Value>,
    /// Why it did not succeed.
    pub error: Option<RunErrorView>,
    /// How many log lines it has stored.
    pub log_lines: u64,
    /// Its outbound HTTP calls.
    pub http_calls: Vec<HttpCallView>,
    /// The node that ran or runs it.
    pub node: Option<String>,
    /// For a `missed` run: how many occurrences it stands for.
    pub missed_count: Option<u64>,
    /// The chain it belongs to (`GET /chains/{id}`); `null` when not part of one.
    #[serde(default)]
    pub chain_id: Option<i64>,
    /// The queue event it consumes; `null` for a run that is not an event's.
    pub event: Option<RunEventView>,
}

impl From<Run> for RunView {
    fn from(run: Run) -> Self {
        Self {
            id: run.id,
            job_id: run.job_id,
            job_version: run.job_version,
            trigger: run.trigger,
            status: run.status,
            scheduled_for: run.scheduled_for,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms: run.duration_ms,
            lateness_ms: lateness_ms(&run),
            attempt: run.attempt,
            result: run.result,
            error: run.error.map(RunErrorView::from),
            log_lines: run.log_lines,
            http_calls: run.http_calls.into_iter().map(HttpCallView::from).collect(),
            node: run.node,
            missed_count: run.missed_count,
            chain_id: run.chain_id,
            event: run.event.as_ref().and_then(RunEventView::of),
        }
    }
}

/// How late an occurrence's run began: its start minus its instant.
fn lateness_ms(run: &Run) -> Option<i64> {
    if !matches!(run.trigger, Trigger::Schedule | Trigger::CatchUp) {
        return None;
    }
    let started = run.started_at?.as_millisecond();
    Some(started - run.scheduled_for?.as_millisecond())
}

/// Why a run did not succeed; positions are 1-based in the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunErrorView {
    /// What went wrong.
    pub message: String,
    /// The JavaScript stack, when there is one.
    pub stack: Option<String>,
    /// The line, when known.
    pub line: Option<u32>,
    /// The column, when known.
    pub column: Option<u32>,
}

impl From<RunError> for RunErrorView {
    fn from(error: RunError) -> Self {
        Self {
            message: error.message,
            stack: error.stack,
            line: error.line,
            column: error.column,
        }
    }
}

/// One outbound HTTP call of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HttpCallView {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL, without credentials.
    pub url: String,
    /// The final status, if a response arrived.
    pub status: Option<u16>,
    /// From the call's start to its end, retries included.
    pub duration_ms: u64,
    /// Rate-limit retries made.
    pub retries: u32,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The response body's size in bytes, if a response arrived.
    pub response_size: Option<u64>,
}

impl From<HttpCall> for HttpCallView {
    fn from(call: HttpCall) -> Self {
        Self {
            method: call.method,
            url: call.url,
            status: call.status,
            duration_ms: call.duration_ms,
            retries: call.retries,
            error: call.error,
            response_size: call.response_size,
        }
    }
}

/// One stored log line of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLineView {
    /// 1 for the run's first line, then 2, 3, …; pass the last one as `after`.
    pub seq: u64,
    /// When it was written.
    #[schema(value_type = String, format = DateTime)]
    pub ts: Timestamp,
    /// Its level.
    #[schema(value_type = LogLevelDoc)]
    pub level: LogLevel,
    /// The message.
    pub message: String,
}

impl From<RunLogLine> for LogLineView {
    fn from(line: RunLogLine) -> Self {
        Self {
            seq: line.seq,
            ts: line.ts,
            level: line.level,
            message: line.message,
        }
    }
}
