//! A run's types: its status and the state machine's arrows
//! ([`RunStatus::can_become`]), what created it, its log lines and HTTP
//! call summaries, and the run as read back. Serialisable with serde in
//! `snake_case`; instants are [`Timestamp`]s (stored as Unix milliseconds,
//! so sub-millisecond precision is not kept).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::shared::string_enum;

string_enum! {
    /// The status of a run. See [`RunStatus::can_become`] for the graph.
    pub enum RunStatus {
        /// Waiting for a worker (and for `not_before`).
        Queued => "queued",
        /// A node is executing it and holds its lease.
        Running => "running",
        /// The script completed.
        Succeeded => "succeeded",
        /// The script threw, or broke a limit other than time.
        Failed => "failed",
        /// Its timeout passed.
        TimedOut => "timed_out",
        /// Cancelled before or while running.
        Cancelled => "cancelled",
        /// Its node stopped (lease expired, or shut down before it ended).
        Interrupted => "interrupted",
        /// Its occurrence came while another run was active (overlap `skip`).
        Skipped => "skipped",
        /// Occurrences passed while the scheduler was down; `missed_count` says how many.
        Missed => "missed",
    }
}

impl RunStatus {
    /// Whether the run has ended: every status but `queued` and `running`.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// The run state machine: whether a run in `self` may move to `to`.
    ///
    /// ```text
    /// (insert) ──► queued ──claim──► running ──finish──► succeeded | failed | timed_out | cancelled
    ///                │                  └──lease expired / shutdown──► interrupted
    ///                └──cancel──► cancelled
    /// (insert) ──► skipped | missed            (terminal from birth)
    /// ```
    /// Each arrow is one guarded statement in `runs/transition.rs`; the
    /// store's tests check that exactly these arrows apply.
    pub fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, to),
            (Queued, Running | Cancelled)
                | (
                    Running,
                    Succeeded | Failed | TimedOut | Cancelled | Interrupted
                )
        )
    }

    /// The final statuses the retry policy applies to.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted
        )
    }
}

string_enum! {
    /// What created a run.
    pub enum Trigger {
        /// An occurrence of its schedule.
        Schedule => "schedule",
        /// A person, through the UI or CLI.
        Manual => "manual",
        /// A program, through the REST API.
        Api => "api",
        /// The retry policy, after a failed attempt.
        Retry => "retry",
        /// The misfire policy, for an occurrence that passed during downtime.
        CatchUp => "catch_up",
        /// The previous chunk of a chain called `continueWith`.
        Continuation => "continuation",
        /// A queue event for the job's key.
        Event => "event",
    }
}

string_enum! {
    /// The level of a log line.
    pub enum LogLevel {
        /// `console.debug`.
        Debug => "debug",
        /// `console.log`, `console.info`.
        Info => "info",
        /// `console.warn` and runtime notices.
        Warn => "warn",
        /// `console.error`.
        Error => "error",
    }
}

/// Why a run did not succeed. Positions are 1-based in the user's script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// What went wrong.
    pub message: String,
    /// The JavaScript stack, when there is one.
    #[serde(default)]
    pub stack: Option<String>,
    /// The line, when known.
    #[serde(default)]
    pub line: Option<u32>,
    /// The column, when known.
    #[serde(default)]
    pub column: Option<u32>,
}

impl RunError {
    /// An error with only a message.
    pub fn message(message: impl Into<String>) -> RunError {
        RunError {
            message: message.into(),
            stack: None,
            line: None,
            column: None,
        }
    }
}

/// One outbound HTTP call of a run, as history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCall {
    /// `GET`, `POST`, …
    pub method: String,
    /// The URL without credentials.
    pub url: String,
    /// The final status, if a response arrived.
    pub status: Option<u16>,
    /// From the call's start to its end, retries included.
    pub duration_ms: u64,
    /// Rate-limit retries made.
    pub retries: u32,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The response body's size, if a response arrived.
    pub response_size: Option<u64>,
}

/// One run: one execution attempt of one job version, or one occurrence
/// that did not run (`skipped`, `missed`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Its id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// The job version it executes.
    pub job_version: i64,
    /// What created it.
    pub trigger: Trigger,
    /// Where it is in its life.
    pub status: RunStatus,
    /// 1 for the first attempt, then 2, 3, … for retries.
    pub attempt: u32,
    /// The occurrence it is for, when it has one (retries keep it).
    pub scheduled_for: Option<Timestamp>,
    /// When the row was written.
    pub queued_at: Timestamp,
    /// The earliest instant a worker may start it (retry backoff, chain delay).
    pub not_before: Timestamp,
    /// When a node started it.
    pub started_at: Option<Timestamp>,
    /// When it ended (for `skipped`/`missed`: when it was recorded).
    pub finished_at: Option<Timestamp>,
    /// `finished_at − started_at`, when both are known.
    pub duration_ms: Option<i64>,
    /// The node that ran or runs it.
    pub node: Option<String>,
    /// Until when its node's lease holds (running runs only).
    pub lease_expires_at: Option<Timestamp>,
    /// Someone asked for it to be cancelled while it was running.
    pub cancel_requested: bool,
    /// For a `missed` row: how many occurrences it stands for.
    pub missed_count: Option<u64>,
    /// The run this one retries or continues.
    pub parent_run_id: Option<i64>,
    /// Parameters of this run, overriding the job's (manual runs).
    pub params: Option<Value>,
    /// A chain's saved state (`context.state`).
    pub state: Option<Value>,
    /// The queue event it consumes.
    pub event: Option<Value>,
    /// The script's result.
    pub result: Option<Value>,
    /// Why it did not succeed.
    pub error: Option<RunError>,
    /// Its outbound HTTP calls.
    pub http_calls: Vec<HttpCall>,
    /// How many log lines it has stored.
    pub log_lines: u64,
    /// The chain it belongs to (the id of the chain's first chunk), if any.
    pub chain_id: Option<i64>,
    /// Minted anew by every claim (queued → running): names the attempt
    /// that holds the run, see [`Lease`]. Internal to the nodes.
    #[serde(skip)]
    pub lease_token: i64,
}

impl Run {
    /// The lease its node holds on it while it runs (`None` when it is not
    /// running): what that node's writes about this attempt name.
    pub fn lease(&self) -> Option<Lease> {
        match (&self.status, &self.node) {
            (RunStatus::Running, Some(node)) => Some(Lease {
                run_id: self.id,
                node: node.clone(),
                token: self.lease_token,
            }),
            _ => None,
        }
    }
}

/// One attempt's hold on a running run: the node executing it and the
/// token its claim minted. Every write about a running run (its start, log
/// lines, end, lease renewal) names the lease and applies only while the
/// run still has it, so a fenced or superseded attempt — even one of the
/// same node id, after the run was queued again and claimed anew — can
/// write nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The run.
    pub run_id: i64,
    /// The node executing it.
    pub node: String,
    /// The token of the claim that gave the node the run.
    pub token: i64,
}

/// One of a job's recent runs, as the jobs page's strip shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentRun {
    /// Its id.
    pub id: i64,
    /// Its status.
    pub status: RunStatus,
    /// The occurrence it is for.
    pub scheduled_for: Option<Timestamp>,
    /// From start to end, once it ended after starting.
    pub duration_ms: Option<i64>,
}

/// The newest run of a job, as job lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Its id.
    pub id: i64,
    /// Its status.
    pub status: RunStatus,
    /// Its trigger.
    pub trigger: Trigger,
    /// Its occurrence.
    pub scheduled_for: Option<Timestamp>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
}

/// A log line to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was written.
    pub ts: Timestamp,
    /// Its level.
    pub level: LogLevel,
    /// The message. NUL characters are stored as U+FFFD (PostgreSQL text
    /// cannot hold them).
    pub message: String,
}

/// A stored log line with its position in the run's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunLogLine {
    /// 1 for the run's first line, then 2, 3, …
    pub seq: u64,
    /// When it was written.
    pub ts: Timestamp,
    /// Its level.
    pub level: LogLevel,
    /// The message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_graph_has_exactly_the_documented_arrows() {
        let arrows: Vec<(RunStatus, RunStatus)> = RunStatus::ALL
            .iter()
            .flat_map(|&from| RunStatus::ALL.iter().map(move |&to| (from, to)))
            .filter(|&(from, to)| from.can_become(to))
            .collect();
        use RunStatus::*;
        assert_eq!(
            arrows,
            [
                (Queued, Running),
                (Queued, Cancelled),
                (Running, Succeeded),
                (Running, Failed),
                (Running, TimedOut),
                (Running, Cancelled),
                (Running, Interrupted),
            ]
        );
        for status in RunStatus::ALL {
            if status.is_terminal() {
                assert!(RunStatus::ALL.iter().all(|&to| !status.can_become(to)));
            }
        }
    }

    #[test]
    fn enums_round_trip_through_their_text() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), *status);
            assert_eq!(
                serde_json::to_string(status).unwrap(),
                format!("\"{status}\"")
            );
        }
        for trigger in Trigger::ALL {
            assert_eq!(trigger.as_str().parse::<Trigger>().unwrap(), *trigger);
        }
        assert!("Queued".parse::<RunStatus>().is_err());
    }
}
