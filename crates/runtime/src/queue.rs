//! `@forge/events` queues behind `Queue` (FORGE-API §4).
//!
//! The runtime validates pushes (event count, total size, delays) and hands
//! them to a [`QueueBackend`]; delivering events to the consuming job is the
//! backend's business (the scheduler's). [`MemoryQueue`] records pushes in
//! memory, for tests and one-off runs.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Most events in one push.
pub(crate) const MAX_EVENTS: usize = 50;
/// Most bytes of event bodies, as JSON, in one push.
pub(crate) const MAX_PUSH_BYTES: usize = 200 * 1024;
/// Longest delay of an event.
pub(crate) const MAX_DELAY_SECONDS: u64 = 900;

/// Where queued events go.
#[async_trait::async_trait]
pub trait QueueBackend: Send + Sync {
    /// Enqueues validated events on `queue`; returns the id of the job they form.
    async fn push(&self, queue: &str, events: Vec<QueueEvent>) -> Result<String, QueueError>;
    /// Counts of the job's events by state.
    async fn stats(&self, queue: &str, job_id: &str) -> Result<QueueJobStats, QueueError>;
    /// Drops the job's events that have not started.
    async fn cancel(&self, queue: &str, job_id: &str) -> Result<(), QueueError>;
}

/// One event of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    /// The consumer's `event.body`.
    pub body: Value,
    /// How long to wait before delivering it.
    pub delay: Duration,
    /// The push's `concurrency` option, passed through as written.
    pub concurrency: Option<Value>,
}

/// `getStats()` of a queue job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueJobStats {
    /// Events consumed successfully.
    pub success: u64,
    /// Events waiting or running.
    pub in_progress: u64,
    /// Events whose consumer failed for good.
    pub failed: u64,
}

/// A queue failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// No such job on this queue.
    #[error("no job \"{job_id}\" on queue \"{queue}\"")]
    JobNotFound {
        /// The queue.
        queue: String,
        /// The job id asked for.
        job_id: String,
    },
    /// No job consumes the queue (the message says how to fix it).
    #[error("{0}")]
    NoConsumer(String),
    /// The backend failed.
    #[error("queue failed: {0}")]
    Backend(String),
}

/// What a queue call from JavaScript asks for (JSON from the prelude).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub(crate) enum QueueRequest {
    Push {
        queue: String,
        events: Vec<PushedEvent>,
    },
    #[serde(rename_all = "camelCase")]
    Stats { queue: String, job_id: String },
    #[serde(rename_all = "camelCase")]
    Cancel { queue: String, job_id: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushedEvent {
    body: Value,
    delay_in_seconds: Option<f64>,
    concurrency: Option<Value>,
}

/// Validates and performs one queue call; the answer is JSON for the prelude.
pub(crate) async fn call(
    backend: &dyn QueueBackend,
    request: QueueRequest,
) -> Result<Value, String> {
    match request {
        QueueRequest::Push { queue, events } => {
            let events = validate_push(events)?;
            let job_id = backend
                .push(&queue, events)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({ "jobId": job_id }))
        }
        QueueRequest::Stats { queue, job_id } => {
            let stats = backend
                .stats(&queue, &job_id)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_value(stats).map_err(|e| e.to_string())
        }
        QueueRequest::Cancel { queue, job_id } => {
            backend
                .cancel(&queue, &job_id)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Value::Null)
        }
    }
}

fn validate_push(events: Vec<PushedEvent>) -> Result<Vec<QueueEvent>, String> {
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(format!(
            "push accepts 1 to {MAX_EVENTS} events, not {}",
            events.len()
        ));
    }
    let size: usize = events
        .iter()
        .map(|event| serde_json::to_vec(&event.body).map_or(usize::MAX, |json| json.len()))
        .fold(0, usize::saturating_add);
    if size > MAX_PUSH_BYTES {
        return Err(format!(
            "push payload is {size} bytes as JSON; the limit is {MAX_PUSH_BYTES} bytes (200 KB) per push"
        ));
    }
    events
        .into_iter()
        .map(|event| {
            let delay = match event.delay_in_seconds {
                None => Duration::ZERO,
                Some(seconds) => seconds_to_millis(seconds)
                    .filter(|delay| *delay <= Duration::from_secs(MAX_DELAY_SECONDS))
                    .ok_or_else(|| {
                        format!(
                            "Invalid delayInSeconds {seconds}: it must be a number from 0 to {MAX_DELAY_SECONDS}"
                        )
                    })?,
            };
            Ok(QueueEvent {
                body: event.body,
                delay,
                concurrency: event.concurrency,
            })
        })
        .collect()
}

/// A number of seconds from a script (Forge types delays as numbers: `0.5`
/// is valid), to the millisecond; `None` for negative or non-finite ones.
pub(crate) fn seconds_to_millis(seconds: f64) -> Option<Duration> {
    if !seconds.is_finite() || seconds < 0.0 || seconds > u32::MAX as f64 {
        return None;
    }
    Some(Duration::from_millis((seconds * 1000.0).round() as u64))
}

/// A [`QueueBackend`] in memory: records pushes; nothing consumes them
/// unless a test marks events done with [`MemoryQueue::finish_event`].
#[derive(Debug, Default)]
pub struct MemoryQueue {
    state: Mutex<MemoryQueueState>,
}

#[derive(Debug, Default)]
struct MemoryQueueState {
    next_job: u64,
    jobs: HashMap<String, MemoryJob>,
}

#[derive(Debug, Clone)]
struct MemoryJob {
    queue: String,
    events: Vec<(QueueEvent, EventState)>,
}

/// Where an event of a [`MemoryQueue`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    /// Not consumed yet.
    Pending,
    /// Consumed successfully.
    Succeeded,
    /// The consumer failed for good.
    Failed,
    /// Dropped by `cancel()` before it started.
    Cancelled,
}

impl MemoryQueue {
    /// An empty queue backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryQueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events pushed as job `job_id`, with their states.
    pub fn job(&self, job_id: &str) -> Option<(String, Vec<(QueueEvent, EventState)>)> {
        self.lock()
            .jobs
            .get(job_id)
            .map(|job| (job.queue.clone(), job.events.clone()))
    }

    /// Marks event `index` of a job as consumed; returns whether it existed.
    pub fn finish_event(&self, job_id: &str, index: usize, succeeded: bool) -> bool {
        let mut state = self.lock();
        let Some((_, event_state)) = state
            .jobs
            .get_mut(job_id)
            .and_then(|job| job.events.get_mut(index))
        else {
            return false;
        };
        *event_state = if succeeded {
            EventState::Succeeded
        } else {
            EventState::Failed
        };
        true
    }

    fn find<'s>(
        state: &'s mut MemoryQueueState,
        queue: &str,
        job_id: &str,
    ) -> Result<&'s mut MemoryJob, QueueError> {
        state
            .jobs
            .get_mut(job_id)
            .filter(|job| job.queue == queue)
            .ok_or_else(|| QueueError::JobNotFound {
                queue: queue.to_owned(),
                job_id: job_id.to_owned(),
            })
    }
}

#[async_trait::async_trait]
impl QueueBackend for MemoryQueue {
    async fn push(&self, queue: &str, events: Vec<QueueEvent>) -> Result<String, QueueError> {
        let mut state = self.lock();
        state.next_job += 1;
        let job_id = format!("{queue}#{}", state.next_job);
        state.jobs.insert(
            job_id.clone(),
            MemoryJob {
                queue: queue.to_owned(),
                events: events
                    .into_iter()
                    .map(|event| (event, EventState::Pending))
                    .collect(),
            },
        );
        Ok(job_id)
    }

    async fn stats(&self, queue: &str, job_id: &str) -> Result<QueueJobStats, QueueError> {
        let mut state = self.lock();
        let job = Self::find(&mut state, queue, job_id)?;
        let count = |wanted: EventState| {
            job.events
                .iter()
                .filter(|(_, state)| *state == wanted)
                .count() as u64
        };
        Ok(QueueJobStats {
            success: count(EventState::Succeeded),
            in_progress: count(EventState::Pending),
            failed: count(EventState::Failed),
        })
    }

    async fn cancel(&self, queue: &str, job_id: &str) -> Result<(), QueueError> {
        let mut state = self.lock();
        let job = Self::find(&mut state, queue, job_id)?;
        for (_, event_state) in &mut job.events {
            if *event_state == EventState::Pending {
                *event_state = EventState::Cancelled;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn request(queue: &MemoryQueue, json: Value) -> Result<Value, String> {
        call(queue, serde_json::from_value(json).unwrap()).await
    }

    #[tokio::test]
    async fn push_limits() {
        let queue = MemoryQueue::new();
        let events: Vec<Value> = (0..51).map(|i| json!({"body": {"i": i}})).collect();
        assert_eq!(
            request(
                &queue,
                json!({"op": "push", "queue": "q", "events": events})
            )
            .await,
            Err("push accepts 1 to 50 events, not 51".into())
        );
        assert_eq!(
            request(&queue, json!({"op": "push", "queue": "q", "events": []})).await,
            Err("push accepts 1 to 50 events, not 0".into())
        );
        let big = "x".repeat(MAX_PUSH_BYTES);
        let error = request(
            &queue,
            json!({"op": "push", "queue": "q", "events": [{"body": {"s": big}}]}),
        )
        .await
        .unwrap_err();
        assert!(
            error.starts_with("push payload is 204808 bytes as JSON"),
            "{error}"
        );
        for delay in [-1.0, 901.0, 900.001] {
            let error = request(
                &queue,
                json!({"op": "push", "queue": "q", "events": [{"body": {}, "delayInSeconds": delay}]}),
            )
            .await
            .unwrap_err();
            assert!(error.starts_with("Invalid delayInSeconds"), "{error}");
        }
    }

    #[tokio::test]
    async fn push_stats_and_cancel() {
        let queue = MemoryQueue::new();
        let answer = request(
            &queue,
            json!({"op": "push", "queue": "q", "events": [
                {"body": {"n": 1}, "delayInSeconds": 900},
                {"body": {"n": 2}, "delayInSeconds": 0.5},
                {"body": {"n": 3}},
            ]}),
        )
        .await
        .unwrap();
        let job_id = answer["jobId"].as_str().unwrap().to_owned();
        let (name, events) = queue.job(&job_id).unwrap();
        assert_eq!(name, "q");
        assert_eq!(events[0].0.delay, Duration::from_secs(900));
        assert_eq!(
            events[1].0.delay,
            Duration::from_millis(500),
            "fractions are honoured"
        );
        assert!(queue.finish_event(&job_id, 0, true));
        assert!(queue.finish_event(&job_id, 1, false));
        let stats = request(
            &queue,
            json!({"op": "stats", "queue": "q", "jobId": job_id}),
        )
        .await
        .unwrap();
        assert_eq!(stats, json!({"success": 1, "inProgress": 1, "failed": 1}));
        request(
            &queue,
            json!({"op": "cancel", "queue": "q", "jobId": job_id}),
        )
        .await
        .unwrap();
        let stats = request(
            &queue,
            json!({"op": "stats", "queue": "q", "jobId": job_id}),
        )
        .await
        .unwrap();
        assert_eq!(stats["inProgress"], 0);
        assert_eq!(
            request(
                &queue,
                json!({"op": "stats", "queue": "other", "jobId": job_id})
            )
            .await,
            Err(format!("no job \"{job_id}\" on queue \"other\""))
        );
    }
}
