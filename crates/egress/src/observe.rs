//! What a caller learns about a call while it runs and after it ends.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::human_duration;

/// Watches one call: every rate-limit retry as it is decided, and the
/// [`CallRecord`] once the call ends.
///
/// Called from the client's runtime threads, so implementations must be cheap
/// and must not block (push to a channel or a mutex-guarded vector, log a line).
pub trait Observer: Send + Sync {
    /// A rate-limited answer is about to be retried after `retry.wait`.
    fn on_retry(&self, retry: &RetryNotice) {
        let _ = retry;
    }

    /// The call ended: exactly once per call, whether it returned a response,
    /// failed, or was abandoned by its caller (its future dropped).
    fn on_complete(&self, record: &CallRecord) {
        let _ = record;
    }
}

/// One retry of a rate-limited product request, reported before the wait.
///
/// Its `Display` is a ready log line:
/// `GET https://acme.atlassian.net/rest/api/3/search answered 429 Too Many Requests; retry 1 of 4 in 2.0 s (Retry-After)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryNotice {
    /// The request method.
    pub method: Method,
    /// The request URL, redacted.
    pub url: String,
    /// The status that triggers the retry (429 or 503).
    pub status: StatusCode,
    /// Which retry this is: 1 for the first.
    pub retry: u32,
    /// The most retries the policy allows.
    pub max_retries: u32,
    /// How long the call waits before retrying.
    pub wait: Duration,
    /// Where the wait comes from.
    pub reason: WaitReason,
}

impl fmt::Display for RetryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} answered {}; retry {} of {} in {} ({})",
            self.method,
            self.url,
            self.status,
            self.retry,
            self.max_retries,
            human_duration(self.wait),
            self.reason
        )
    }
}

/// Where a retry wait comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// The `Retry-After` header (seconds or an HTTP date).
    RetryAfter,
    /// The `X-RateLimit-Reset` header (a timestamp or epoch seconds).
    RateLimitReset,
    /// Neither header was usable: exponential backoff with jitter.
    Backoff,
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitReason::RetryAfter => "Retry-After",
            WaitReason::RateLimitReset => "X-RateLimit-Reset",
            WaitReason::Backoff => "backoff",
        })
    }
}

/// One logical call as run history keeps it: retries and redirects inside it
/// are not separate records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request URL without credentials (see [`redact_url`](crate::redact_url)).
    pub url: String,
    /// The final status, if a response arrived.
    pub status: Option<u16>,
    /// From the call's start to its end, all retries included.
    pub duration_ms: u64,
    /// Rate-limit retries made.
    pub retries: u32,
    /// Why the call failed, if it did (the [`Error`]'s message).
    pub error: Option<String>,
    /// The final response body's size in bytes, if a response arrived.
    pub response_size: Option<u64>,
}

/// Builds the call's record as it progresses and hands it to the observer
/// exactly once: on [`finish`](Self::finish), or on drop if the call was
/// abandoned first.
pub(crate) struct Recorder {
    observer: Option<std::sync::Arc<dyn Observer>>,
    method: Method,
    url: String,
    started: Instant,
    retries: u32,
    finished: bool,
}

impl Recorder {
    pub(crate) fn start(
        observer: Option<std::sync::Arc<dyn Observer>>,
        method: Method,
        redacted_url: String,
    ) -> Self {
        Recorder {
            observer,
            method,
            url: redacted_url,
            started: Instant::now(),
            retries: 0,
            finished: false,
        }
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    pub(crate) fn retry(&mut self, notice: &RetryNotice) {
        self.retries += 1;
        if let Some(observer) = &self.observer {
            observer.on_retry(notice);
        }
    }

    pub(crate) fn finish(
        mut self,
        status: Option<StatusCode>,
        size: Option<u64>,
        error: Option<&Error>,
    ) {
        self.finished = true;
        self.emit(status, size, error.map(ToString::to_string));
    }

    fn emit(&self, status: Option<StatusCode>, size: Option<u64>, error: Option<String>) {
        let Some(observer) = &self.observer else {
            return;
        };
        let duration = self.started.elapsed();
        observer.on_complete(&CallRecord {
            method: self.method.to_string(),
            url: self.url.clone(),
            status: status.map(|status| status.as_u16()),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            retries: self.retries,
            error,
            response_size: size,
        });
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.finished {
            self.emit(
                None,
                None,
                Some("cancelled: the caller stopped waiting before the call finished".to_owned()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_notice_reads_as_a_log_line() {
        let notice = RetryNotice {
            method: Method::GET,
            url: "https://acme.atlassian.net/rest/api/3/search".into(),
            status: StatusCode::TOO_MANY_REQUESTS,
            retry: 1,
            max_retries: 4,
            wait: Duration::from_secs(2),
            reason: WaitReason::RetryAfter,
        };
        assert_eq!(
            notice.to_string(),
            "GET https://acme.atlassian.net/rest/api/3/search answered 429 Too Many Requests; \
             retry 1 of 4 in 2.0 s (Retry-After)"
        );
    }

    #[test]
    fn call_record_serialises_with_plain_field_names() {
        let record = CallRecord {
            method: "GET".into(),
            url: "https://h/p".into(),
            status: Some(200),
            duration_ms: 12,
            retries: 1,
            error: None,
            response_size: Some(5),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "method": "GET", "url": "https://h/p", "status": 200, "duration_ms": 12,
                "retries": 1, "error": null, "response_size": 5
            })
        );
        let back: CallRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
