//! What follows a run that ended: the one place that decides it, as a
//! `match` on the kind of run calling the pure rules of each kind.
//!
//! - any run that **succeeded** having called `context.continueWith`: the
//!   chain's next chunk ([`chain::next_chunk`]);
//! - an **event** run (it consumes a `@forge/events` queue): the queue's
//!   retry rules ([`queue::event_retry`]), which fall back to the job's
//!   retry policy;
//! - a **chain chunk** (a run past a chain's first chunk): the job's retry
//!   policy, then the chain's resumption of an interrupted chunk
//!   ([`chain::resume_interrupted`]);
//! - a **plain** run: the job's retry policy ([`policy::retry`]).
//!
//! Every rule is a pure function of the run, its job's spec, its outcome,
//! the instant and a jitter, so callers (a worker recording an end, the
//! sweeper interrupting a dead node's runs) hand the decision to the
//! store's transaction and it is never lost between two writes.

use jiff::Timestamp;
use runtime::Outcome;
use serde_json::Value;
use store::{JobSpec, NewRun, Run, RunStatus};

use crate::{chain, policy, queue};

/// The kinds of runs whose follow-ups differ.
enum Kind<'a> {
    /// Consumes a queue event (the event, as the run saw it).
    Event(&'a Value),
    /// A chunk of a chain after its first.
    ChainChunk,
    /// Any other run (a chain's first chunk is one until it continues).
    Plain,
}

fn kind(run: &Run) -> Kind<'_> {
    match (&run.event, run.chain_id) {
        (Some(event), _) => Kind::Event(event),
        (None, Some(_)) => Kind::ChainChunk,
        (None, None) => Kind::Plain,
    }
}

/// The run that follows `run` ending in `status` with `outcome` (`None`
/// when its node died and nothing of it is known), if any.
pub(crate) fn follow_up(
    spec: &JobSpec,
    run: &Run,
    status: RunStatus,
    outcome: Option<&Outcome>,
    now: Timestamp,
    jitter: f64,
) -> Option<NewRun> {
    if status == RunStatus::Succeeded {
        return chain::next_chunk(run, outcome?, now);
    }
    match kind(run) {
        Kind::Event(event) => queue::event_retry(spec, run, event, status, outcome, now, jitter),
        Kind::ChainChunk => policy::retry(spec, run, status, now, jitter)
            .or_else(|| chain::resume_interrupted(spec, run, status, now)),
        Kind::Plain => policy::retry(spec, run, status, now, jitter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    mod plain {
        use store::{RetryPolicy, Trigger};

        use super::*;

        fn run(attempt: u32) -> Run {
            Run {
                id: 7,
                job_id: 1,
                job_version: 3,
                trigger: Trigger::Schedule,
                status: RunStatus::Running,
                attempt,
                scheduled_for: Some(t(0)),
                queued_at: t(0),
                not_before: t(0),
                started_at: Some(t(0)),
                finished_at: None,
                duration_ms: None,
                node: Some("n".into()),
                lease_expires_at: None,
                cancel_requested: false,
                missed_count: None,
                parent_run_id: None,
                params: Some(serde_json::json!({"p": 1})),
                state: None,
                event: None,
                result: None,
                error: None,
                http_calls: Vec::new(),
                log_lines: 0,
                chain_id: None,
                lease_token: 0,
            }
        }

        #[test]
        fn failed_attempts_are_retried_while_attempts_remain() {
            let mut spec = JobSpec::new("j", "");
            spec.retry = RetryPolicy {
                max_attempts: 3,
                backoff_seconds: 10,
            };
            for status in [
                RunStatus::Failed,
                RunStatus::TimedOut,
                RunStatus::Interrupted,
            ] {
                let retry = follow_up(&spec, &run(1), status, None, t(5), 0.0).unwrap();
                assert_eq!(retry.trigger, Trigger::Retry);
                assert_eq!(retry.attempt, 2);
                assert_eq!(retry.scheduled_for, Some(t(0)));
                assert_eq!(retry.not_before, t(10));
                assert_eq!(retry.parent_run_id, Some(7));
                assert_eq!(retry.params, Some(serde_json::json!({"p": 1})));
            }
            assert_eq!(
                follow_up(&spec, &run(3), RunStatus::Failed, None, t(5), 0.0),
                None
            );
            assert_eq!(
                follow_up(&spec, &run(1), RunStatus::Cancelled, None, t(5), 0.0),
                None
            );
            assert_eq!(
                follow_up(&spec, &run(1), RunStatus::Succeeded, None, t(5), 0.0),
                None
            );
            spec.retry.max_attempts = 1;
            assert_eq!(
                follow_up(&spec, &run(1), RunStatus::Failed, None, t(5), 0.0),
                None
            );
        }
    }

    mod chains {
        use store::{RetryPolicy, Trigger};

        use super::*;
        use crate::chain::{INTERRUPTED_CHUNK_ATTEMPTS, tests::outcome};

        fn chunk(attempt: u32, chain_id: Option<i64>) -> Run {
            Run {
                id: 7,
                job_id: 1,
                job_version: 3,
                trigger: Trigger::Continuation,
                status: RunStatus::Running,
                attempt,
                scheduled_for: None,
                queued_at: t(0),
                not_before: t(0),
                started_at: Some(t(0)),
                finished_at: None,
                duration_ms: None,
                node: Some("n".into()),
                lease_expires_at: None,
                cancel_requested: false,
                missed_count: None,
                parent_run_id: Some(6),
                params: None,
                state: Some(serde_json::json!({"cursor": 500})),
                event: None,
                result: None,
                error: None,
                http_calls: Vec::new(),
                log_lines: 0,
                chain_id,
                lease_token: 0,
            }
        }

        #[test]
        fn the_next_chunk_carries_the_state_the_delay_and_the_chain() {
            let spec = JobSpec::new("j", "");
            let first = Run {
                trigger: Trigger::Schedule,
                state: None,
                ..chunk(1, None)
            };
            let next = follow_up(
                &spec,
                &first,
                RunStatus::Succeeded,
                Some(&outcome(serde_json::json!({"cursor": 1000}), 30)),
                t(10),
                0.5,
            )
            .unwrap();
            assert_eq!(next.trigger, Trigger::Continuation);
            assert_eq!(next.chain_id, Some(7), "the first chunk names the chain");
            assert_eq!(next.state, Some(serde_json::json!({"cursor": 1000})));
            assert_eq!(next.not_before, t(40));
            assert_eq!(next.job_version, Some(3));
            assert_eq!(next.parent_run_id, Some(7));
            let later = follow_up(
                &spec,
                &chunk(1, Some(2)),
                RunStatus::Succeeded,
                Some(&outcome(serde_json::json!(null), 0)),
                t(10),
                0.5,
            )
            .unwrap();
            assert_eq!(later.chain_id, Some(2), "later chunks keep it");
            assert_eq!(later.not_before, t(10));
        }

        #[test]
        fn an_interrupted_chunk_is_resumed_without_retries_configured_up_to_a_bound() {
            let spec = JobSpec::new("j", "");
            assert_eq!(spec.retry.max_attempts, 1);
            let retry = follow_up(
                &spec,
                &chunk(1, Some(2)),
                RunStatus::Interrupted,
                None,
                t(10),
                0.5,
            )
            .unwrap();
            assert_eq!(retry.trigger, Trigger::Retry);
            assert_eq!(retry.attempt, 2);
            assert_eq!(retry.not_before, t(10), "at once");
            assert_eq!(retry.state, Some(serde_json::json!({"cursor": 500})));
            assert_eq!(retry.chain_id, Some(2));
            assert_eq!(
                follow_up(
                    &spec,
                    &chunk(INTERRUPTED_CHUNK_ATTEMPTS, Some(2)),
                    RunStatus::Interrupted,
                    None,
                    t(10),
                    0.5
                ),
                None,
                "bounded"
            );
            for status in [RunStatus::Failed, RunStatus::TimedOut, RunStatus::Cancelled] {
                assert_eq!(
                    follow_up(&spec, &chunk(1, Some(2)), status, None, t(10), 0.5),
                    None,
                    "{status} follows the job's policy alone"
                );
            }
            assert_eq!(
                follow_up(
                    &spec,
                    &chunk(1, None),
                    RunStatus::Interrupted,
                    None,
                    t(10),
                    0.5
                ),
                None,
                "not a chain yet"
            );
        }

        #[test]
        fn with_retries_configured_an_interrupted_chunk_follows_the_jobs_policy_first() {
            let mut spec = JobSpec::new("j", "");
            spec.retry = RetryPolicy {
                max_attempts: 2,
                backoff_seconds: 10,
            };
            let retry = follow_up(
                &spec,
                &chunk(1, Some(2)),
                RunStatus::Interrupted,
                None,
                t(0),
                0.0,
            )
            .unwrap();
            assert_eq!(retry.not_before, t(5), "the job's backoff");
            assert_eq!(retry.chain_id, Some(2));
            let resumed = follow_up(
                &spec,
                &chunk(2, Some(2)),
                RunStatus::Interrupted,
                None,
                t(0),
                0.0,
            )
            .unwrap();
            assert_eq!(resumed.attempt, 3);
            assert_eq!(resumed.not_before, t(0));
        }
    }

    mod events {
        use std::time::Duration;

        use runtime::RetryRequest;
        use serde_json::json;
        use store::Trigger;

        use super::*;
        use crate::queue::{INTERRUPTED_EVENT_MAX_ATTEMPTS, INVOCATION_ERROR_MAX_ATTEMPTS};

        fn event_run(attempt: u32) -> Run {
            Run {
                id: 7,
                job_id: 3,
                job_version: 1,
                trigger: Trigger::Event,
                status: RunStatus::Running,
                attempt,
                scheduled_for: None,
                queued_at: t(0),
                not_before: t(0),
                started_at: Some(t(0)),
                finished_at: None,
                duration_ms: None,
                node: Some("n".into()),
                lease_expires_at: Some(t(30)),
                cancel_requested: false,
                missed_count: None,
                parent_run_id: None,
                params: None,
                state: None,
                event: Some(
                    json!({"body": {"n": 1}, "jobId": "4", "eventId": "9", "queueName": "q"}),
                ),
                result: None,
                error: None,
                http_calls: Vec::new(),
                log_lines: 0,
                chain_id: None,
                lease_token: 0,
            }
        }

        fn outcome(retry: Option<RetryRequest>) -> Outcome {
            Outcome {
                status: runtime::RunStatus::Failed,
                result: Value::Null,
                error: None,
                logs: Vec::new(),
                http_calls: Vec::new(),
                duration: Duration::ZERO,
                peak_memory_bytes: 0,
                continuation: None,
                retry,
            }
        }

        #[test]
        fn an_invocation_error_retries_after_its_delay_with_a_retry_context() {
            let spec = JobSpec::new("consumer", "");
            let request = RetryRequest {
                retry_after: Some(Duration::from_secs(2)),
                retry_reason: Some("FUNCTION_UPSTREAM_RATE_LIMITED".into()),
                retry_data: Some(json!({"page": 2})),
            };
            let next = follow_up(
                &spec,
                &event_run(1),
                RunStatus::Failed,
                Some(&outcome(Some(request.clone()))),
                t(10),
                0.5,
            )
            .unwrap();
            assert_eq!(next.trigger, Trigger::Retry);
            assert_eq!(next.attempt, 2);
            assert_eq!(next.not_before, t(12));
            assert_eq!(next.parent_run_id, Some(7));
            let event = next.event.unwrap();
            assert_eq!(event["eventId"], "9");
            assert_eq!(
                event["retryContext"],
                json!({"retryCount": 1, "retryReason": "FUNCTION_UPSTREAM_RATE_LIMITED", "retryData": {"page": 2}})
            );
            // The fifth attempt is the last, whatever the job's policy.
            let last = follow_up(
                &spec,
                &event_run(INVOCATION_ERROR_MAX_ATTEMPTS),
                RunStatus::Failed,
                Some(&outcome(Some(request))),
                t(10),
                0.5,
            );
            assert_eq!(last, None);
        }

        #[test]
        fn a_thrown_error_follows_the_jobs_policy_and_interruptions_always_retry() {
            let mut spec = JobSpec::new("consumer", "");
            let thrown = follow_up(
                &spec,
                &event_run(1),
                RunStatus::Failed,
                Some(&outcome(None)),
                t(0),
                0.5,
            );
            assert_eq!(thrown, None, "max_attempts 1: no retry");
            spec.retry.max_attempts = 2;
            spec.retry.backoff_seconds = 0;
            let thrown = follow_up(
                &spec,
                &event_run(1),
                RunStatus::Failed,
                Some(&outcome(None)),
                t(0),
                0.5,
            )
            .unwrap();
            assert_eq!(thrown.event.unwrap()["retryContext"]["retryCount"], 1);
            spec.retry.max_attempts = 1;
            let interrupted = follow_up(
                &spec,
                &event_run(1),
                RunStatus::Interrupted,
                None,
                t(0),
                0.5,
            )
            .unwrap();
            assert_eq!(interrupted.not_before, t(0));
            assert_eq!(
                follow_up(
                    &spec,
                    &event_run(INTERRUPTED_EVENT_MAX_ATTEMPTS),
                    RunStatus::Interrupted,
                    None,
                    t(0),
                    0.5
                ),
                None
            );
            let mut plain = event_run(1);
            plain.event = None;
            assert_eq!(
                follow_up(&spec, &plain, RunStatus::Failed, None, t(0), 0.5),
                None
            );
        }
    }
}
