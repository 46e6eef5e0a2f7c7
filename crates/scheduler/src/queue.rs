//! `@forge/events` queues over the store: [`StoreQueue`], the
//! [`runtime::QueueBackend`] runs of a server get, and the retry rules of
//! event runs.
//!
//! Which run follows an event run that ended:
//! - it **returned** an `InvocationError`: a `retry` run after `retryAfter`
//!   seconds (0 when not given, at most 900), with `event.retryContext =
//!   { retryCount, retryReason, retryData }`, while the event has had
//!   fewer than [`INVOCATION_ERROR_MAX_ATTEMPTS`] attempts (Forge's limit:
//!   the first attempt and 4 retries) — the job's retry policy does not
//!   count here;
//! - it **threw** or timed out: the job's retry policy, as for any run;
//! - it was **interrupted** (its node stopped or died): a retry at once
//!   while it has had fewer than the larger of
//!   [`INTERRUPTED_EVENT_MAX_ATTEMPTS`] and the job's `max_attempts`. An
//!   interruption the sweeper finds (a dead node) is re-queued by the
//!   store in one transaction ([`store::Store::queue_events_requeue_orphans`]),
//!   so no event is lost between two writes.
//!
//! Event runs do not follow the job's overlap policy: they run alongside
//! each other and the job's other runs, up to the queue's concurrency
//! limit (claims count it in the database, across nodes).

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use runtime::{Outcome, QueueBackend, QueueError, QueueEvent, QueueJobStats};
use serde_json::{Value, json};
use store::{
    JobSpec, NewQueueEvent, NewRun, QueuePush, Run, RunStatus, Store, StoreError, Trigger,
};
use tokio::sync::Notify;

use crate::policy;

/// Attempts of an event whose consumer keeps returning `InvocationError`.
pub const INVOCATION_ERROR_MAX_ATTEMPTS: u32 = 5;
/// Attempts of an event whose runs keep being interrupted, at least.
pub const INTERRUPTED_EVENT_MAX_ATTEMPTS: u32 = 5;
/// The longest `retryAfter`, in seconds (as `delayInSeconds`).
const MAX_RETRY_AFTER_SECONDS: u64 = 900;

/// The queue backend of a server: pushes are persisted with their runs
/// before `push` returns; stats and `cancel()` read and change the
/// database, so they work from any run on any node, across restarts.
#[derive(Clone)]
pub struct StoreQueue {
    store: Store,
    runs_queued: Arc<Notify>,
}

impl std::fmt::Debug for StoreQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreQueue").finish_non_exhaustive()
    }
}

impl StoreQueue {
    /// A backend over `store` that notifies `runs_queued` after each push;
    /// give the same `Notify` to [`SchedulerConfig::runs_queued`](crate::SchedulerConfig::runs_queued)
    /// so the node's workers start the events at once.
    pub fn new(store: Store, runs_queued: Arc<Notify>) -> StoreQueue {
        StoreQueue { store, runs_queued }
    }
}

/// The limit of a push's `concurrency` option: `{ key, limit }` (Forge's
/// shape; the limit applies to the whole queue) or a bare number.
fn concurrency_limit(value: Option<&Value>) -> Result<Option<u32>, QueueError> {
    let limit = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object.get("limit"),
        Some(number @ Value::Number(_)) => Some(number),
        Some(_) => None,
    };
    limit
        .and_then(Value::as_u64)
        .filter(|limit| (1..=10_000).contains(limit))
        .and_then(|limit| u32::try_from(limit).ok())
        .map(Some)
        .ok_or_else(|| {
            QueueError::Backend(
                "Invalid concurrency: expected { key, limit } with limit a whole number from 1 to 10000"
                    .to_owned(),
            )
        })
}

fn backend_error(error: StoreError) -> QueueError {
    match error {
        StoreError::NoConsumer { .. } => QueueError::NoConsumer(error.to_string()),
        other => QueueError::Backend(other.to_string()),
    }
}

fn not_found(queue: &str, job_id: &str) -> QueueError {
    QueueError::JobNotFound {
        queue: queue.to_owned(),
        job_id: job_id.to_owned(),
    }
}

#[async_trait::async_trait]
impl QueueBackend for StoreQueue {
    async fn push(&self, queue: &str, events: Vec<QueueEvent>) -> Result<String, QueueError> {
        let events = events
            .into_iter()
            .map(|event| {
                Ok(NewQueueEvent {
                    concurrency_limit: concurrency_limit(event.concurrency.as_ref())?,
                    body: event.body,
                    delay: event.delay,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        let pushed = self
            .store
            .queue_push(&QueuePush {
                queue: queue.to_owned(),
                events,
                now: Timestamp::now(),
            })
            .await
            .map_err(backend_error)?;
        self.runs_queued.notify_one();
        Ok(pushed.queue_job_id.to_string())
    }

    async fn stats(&self, queue: &str, job_id: &str) -> Result<QueueJobStats, QueueError> {
        let id: i64 = job_id.parse().map_err(|_| not_found(queue, job_id))?;
        let job = self
            .store
            .queue_job_get(queue, id)
            .await
            .map_err(backend_error)?
            .ok_or_else(|| not_found(queue, job_id))?;
        Ok(QueueJobStats {
            success: job.counts.succeeded,
            in_progress: job.counts.in_progress,
            failed: job.counts.failed,
        })
    }

    async fn cancel(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        let id: i64 = job_id.parse().map_err(|_| not_found(queue, job_id))?;
        self.store
            .queue_job_cancel(queue, id, Timestamp::now())
            .await
            .map_err(backend_error)?
            .ok_or_else(|| not_found(queue, job_id))?;
        // Freed concurrency slots never matter: cancelled runs were queued.
        Ok(())
    }
}

/// The retry of an event run that ended in `status` (not a success):
/// the queue's rules for an `InvocationError` and an interruption, else
/// the job's retry policy with the event's retry context.
pub(crate) fn event_retry(
    spec: &JobSpec,
    run: &Run,
    event: &Value,
    status: RunStatus,
    outcome: Option<&Outcome>,
    now: Timestamp,
    jitter: f64,
) -> Option<NewRun> {
    let retry = |delay: Duration, context: Value| NewRun {
        attempt: run.attempt + 1,
        not_before: now + delay,
        parent_run_id: Some(run.id),
        params: run.params.clone(),
        event: Some(with_retry_context(event, context)),
        ..NewRun::new(run.job_id, Trigger::Retry, now)
    };
    if status == RunStatus::Failed
        && let Some(request) = outcome.and_then(|outcome| outcome.retry.as_ref())
    {
        if run.attempt >= INVOCATION_ERROR_MAX_ATTEMPTS {
            return None;
        }
        let delay = request
            .retry_after
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(MAX_RETRY_AFTER_SECONDS));
        return Some(retry(
            delay,
            json!({
                "retryCount": run.attempt,
                "retryReason": request.retry_reason,
                "retryData": request.retry_data,
            }),
        ));
    }
    if status == RunStatus::Interrupted {
        let most = INTERRUPTED_EVENT_MAX_ATTEMPTS.max(spec.retry.max_attempts);
        return (run.attempt < most).then(|| {
            retry(
                Duration::ZERO,
                json!({ "retryCount": run.attempt, "retryReason": "INTERRUPTED" }),
            )
        });
    }
    policy::retry(spec, run, status, now, jitter).map(|mut next| {
        next.event = Some(with_retry_context(
            event,
            json!({ "retryCount": run.attempt, "retryReason": status.as_str().to_uppercase() }),
        ));
        next
    })
}

/// Re-queues events whose last run was interrupted without a successor
/// (the sweeper found their node dead); returns how many were re-queued.
pub(crate) async fn requeue_orphans(core: &crate::core::Core) -> usize {
    let now = core.now();
    match core
        .store
        .queue_events_requeue_orphans(now, INTERRUPTED_EVENT_MAX_ATTEMPTS, 500)
        .await
    {
        Ok(runs) => {
            for run in &runs {
                core.events
                    .send(crate::events::RunEvent::of(run, RunStatus::Queued, now));
            }
            runs.len()
        }
        Err(error) => {
            tracing::warn!(%error, "cannot re-queue interrupted queue events");
            0
        }
    }
}

fn with_retry_context(event: &Value, context: Value) -> Value {
    let mut event = event.clone();
    if let Value::Object(object) = &mut event {
        object.insert("retryContext".to_owned(), context);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_takes_forges_shape_or_a_number() {
        assert_eq!(concurrency_limit(None).unwrap(), None);
        assert_eq!(
            concurrency_limit(Some(&json!({"key": "k", "limit": 10}))).unwrap(),
            Some(10)
        );
        assert_eq!(concurrency_limit(Some(&json!(3))).unwrap(), Some(3));
        for bad in [
            json!({"key": "k"}),
            json!(0),
            json!("5"),
            json!({"limit": 1.5}),
        ] {
            assert!(concurrency_limit(Some(&bad)).is_err(), "{bad}");
        }
    }
}
