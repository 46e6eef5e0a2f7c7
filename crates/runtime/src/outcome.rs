//! How a run ended: [`Outcome`] and what it carries.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use egress::CallRecord;

/// How a run ended. Every field serialises; statuses in `snake_case`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The final status.
    pub status: RunStatus,
    /// The script's JSON result (`null` when it returned nothing or did not succeed).
    pub result: Value,
    /// Why the run did not succeed; `null` when it did.
    pub error: Option<ErrorInfo>,
    /// Console output and runtime notices, in order, capped by the log limit.
    pub logs: Vec<LogLine>,
    /// Every outbound HTTP call, in order.
    pub http_calls: Vec<CallRecord>,
    /// Wall-clock time from start to end.
    #[serde(rename = "duration_ms", with = "duration_ms")]
    pub duration: Duration,
    /// The most memory the script's heap held at once.
    pub peak_memory_bytes: u64,
    /// The next chunk of a chain (`context.continueWith`); only on success.
    pub continuation: Option<Continuation>,
    /// A queue consumer returned an `InvocationError`: the event asks to be retried.
    pub retry: Option<RetryRequest>,
}

/// The final status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The script returned (or its handler resolved).
    Succeeded,
    /// A thrown error, an unhandled rejection, a syntax error or a broken limit.
    Failed,
    /// The wall-clock limit passed.
    TimedOut,
    /// [`RunHandle::cancel`](crate::RunHandle::cancel) was called.
    Cancelled,
}

impl RunStatus {
    /// The status as it is serialised (`succeeded`, `failed`, `timed_out`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a run did not succeed. Positions are 1-based, in the user's own text,
/// columns in characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// `TypeError: x is not a function`, `memory limit exceeded (256 MiB)`, …
    pub message: String,
    /// The JavaScript stack, when there is one.
    pub stack: Option<String>,
    /// The line in the user's script, when known.
    pub line: Option<u32>,
    /// The column in the user's script, when known.
    pub column: Option<u32>,
}

impl ErrorInfo {
    /// An error without a position (limits, host failures).
    pub(crate) fn message(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            stack: None,
            line: None,
            column: None,
        }
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was written.
    pub ts: jiff::Timestamp,
    /// Its level.
    pub level: LogLevel,
    /// The formatted message.
    pub message: String,
    /// The script's output, or a notice the runtime wrote about the log
    /// itself (its message says the same in words).
    #[serde(default, skip_serializing_if = "LogKind::is_output")]
    pub kind: LogKind,
}

/// What a [`LogLine`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// Written by the script (`console.*`) or a runtime notice about the
    /// run, such as a rate-limit retry.
    #[default]
    Output,
    /// The run's last line when the log limit dropped `lines` lines of
    /// `bytes` bytes.
    Truncated {
        /// How many lines were dropped.
        lines: u64,
        /// Their message bytes.
        bytes: u64,
    },
}

impl LogKind {
    fn is_output(&self) -> bool {
        *self == LogKind::Output
    }
}

/// The level of a log line. `console.log` writes `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// `console.debug`.
    Debug,
    /// `console.log`, `console.info`.
    Info,
    /// `console.warn`, and runtime notices such as rate-limit retries.
    Warn,
    /// `console.error`.
    Error,
}

/// The next chunk of a chain, from `context.continueWith(state, { delaySeconds })`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Continuation {
    /// The state the next chunk sees as `context.state`.
    pub state: Value,
    /// How long to wait before the next chunk starts.
    pub delay_seconds: u64,
}

/// A queue consumer's request to be retried (`return new InvocationError({…})`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryRequest {
    /// How long to wait before the retry, when the script said
    /// (`retryAfter` seconds, fractions honoured to the millisecond).
    pub retry_after: Option<std::time::Duration>,
    /// The script's reason code, when given.
    pub retry_reason: Option<String>,
    /// Data the retry receives in `event.retryContext.retryData`.
    pub retry_data: Option<Value>,
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}
