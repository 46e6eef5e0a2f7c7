//! Chains on the scheduler side: which run follows a chunk, the state size
//! check at a chunk's end, and cancelling a whole chain.
//!
//! The rules, all decided here and in the store's claim statements:
//! - a run that succeeds with `context.continueWith(state, {delaySeconds})`
//!   queues the next chunk (trigger `continuation`, same job version and
//!   params, `context.state = state`, startable `delaySeconds` after the
//!   end) in the transaction that records its end; the chain's id is the
//!   id of its first chunk;
//! - a state larger than [`store::MAX_STATE_BYTES`] fails the chunk (the
//!   runtime already refuses it in `continueWith`; this guards the store);
//! - a chunk that failed or timed out follows the job's retry policy; a
//!   chunk that was *interrupted* (its node shut down, died or lost its
//!   lease) is always retried from its own input state: by the job's retry
//!   policy while it has attempts left, then at once, up to
//!   [`INTERRUPTED_CHUNK_ATTEMPTS`] attempts in all — a node's death must not
//!   end a chain, but a chunk that kills every node it runs on must not loop
//!   for ever. The first chunk is not yet part of a chain while it runs
//!   (nothing says it will continue), so it follows the job's policy alone;
//! - cancelling any run of a chain ends the chain (a chunk whose cancel was
//!   requested queues no next chunk, even if it succeeded).

use std::time::Duration;

use jiff::Timestamp;
use runtime::{ErrorInfo, Outcome};
use store::{JobSpec, NewRun, Run, RunStatus, Trigger};

use crate::{SchedulerError, SchedulerHandle, policy};

/// Attempts in all an interrupted chunk gets when the job's retry policy
/// allows fewer.
pub const INTERRUPTED_CHUNK_ATTEMPTS: u32 = 5;

/// The next chunk after `run` succeeded with `outcome`, if it continued.
pub(crate) fn next_chunk(run: &Run, outcome: &Outcome, now: Timestamp) -> Option<NewRun> {
    let continuation = outcome.continuation.as_ref()?;
    Some(NewRun {
        job_version: Some(run.job_version),
        state: Some(continuation.state.clone()),
        params: run.params.clone(),
        parent_run_id: Some(run.id),
        not_before: now + Duration::from_secs(continuation.delay_seconds),
        chain_id: Some(run.chain_id.unwrap_or(run.id)),
        ..NewRun::new(run.job_id, Trigger::Continuation, now)
    })
}

/// The retry of an interrupted chunk beyond the job's retry policy: at
/// once, while it has had fewer than [`INTERRUPTED_CHUNK_ATTEMPTS`].
pub(crate) fn resume_interrupted(
    spec: &JobSpec,
    run: &Run,
    status: RunStatus,
    now: Timestamp,
) -> Option<NewRun> {
    let limit = spec.retry.max_attempts.max(INTERRUPTED_CHUNK_ATTEMPTS);
    if run.chain_id.is_none() || status != RunStatus::Interrupted || run.attempt >= limit {
        return None;
    }
    Some(NewRun {
        attempt: run.attempt + 1,
        job_version: Some(run.job_version),
        scheduled_for: run.scheduled_for,
        parent_run_id: Some(run.id),
        params: run.params.clone(),
        state: run.state.clone(),
        chain_id: run.chain_id,
        ..NewRun::new(run.job_id, Trigger::Retry, now)
    })
}

/// Turns a success whose continuation state is too large into a failure
/// saying why, so the store never sees the state.
pub(crate) fn refuse_oversized_state(outcome: &mut Outcome) {
    let Some(continuation) = &outcome.continuation else {
        return;
    };
    let bytes = serde_json::to_string(&continuation.state).map_or(usize::MAX, |text| text.len());
    if bytes <= store::MAX_STATE_BYTES || outcome.status != runtime::RunStatus::Succeeded {
        return;
    }
    outcome.status = runtime::RunStatus::Failed;
    outcome.continuation = None;
    outcome.result = serde_json::Value::Null;
    outcome.error = Some(ErrorInfo {
        message: format!(
            "continueWith: the state is {bytes} bytes as JSON; the limit is {} bytes (1 MiB)",
            store::MAX_STATE_BYTES
        ),
        stack: None,
        line: None,
        column: None,
    });
}

/// Cancels the chain's queued or running run (so the chain ends). Returns
/// `false` when the chain has no live run. A chunk that ends while this
/// runs may have queued the next one: looked for again, a few times.
pub(crate) async fn cancel(
    handle: &SchedulerHandle,
    store: &store::Store,
    chain_id: i64,
) -> Result<bool, SchedulerError> {
    for _ in 0..3 {
        let live = store.chain_live_runs(chain_id).await?;
        if live.is_empty() {
            return Ok(false);
        }
        let mut cancelled = false;
        for run_id in live {
            cancelled |= handle.cancel(run_id).await?;
        }
        if cancelled {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The run that follows `run` ending in `status`: the policy's follow-up,
/// or the resumption of an interrupted chunk the policy would drop.
pub(crate) fn follow_up(
    spec: &JobSpec,
    run: &Run,
    status: RunStatus,
    outcome: Option<&Outcome>,
    now: Timestamp,
    jitter: f64,
) -> Option<NewRun> {
    policy::follow_up(spec, run, status, outcome, now, jitter)
        .or_else(|| resume_interrupted(spec, run, status, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::Continuation;
    use store::RetryPolicy;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

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
        }
    }

    fn outcome(state: serde_json::Value, delay_seconds: u64) -> Outcome {
        Outcome {
            status: runtime::RunStatus::Succeeded,
            result: serde_json::json!(1),
            error: None,
            logs: Vec::new(),
            http_calls: Vec::new(),
            duration: Duration::from_millis(5),
            peak_memory_bytes: 0,
            continuation: Some(Continuation {
                state,
                delay_seconds,
            }),
            retry: None,
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

    #[test]
    fn an_oversized_state_fails_the_chunk() {
        let mut big = outcome(serde_json::json!("x".repeat(store::MAX_STATE_BYTES)), 0);
        refuse_oversized_state(&mut big);
        assert_eq!(big.status, runtime::RunStatus::Failed);
        assert_eq!(big.continuation, None);
        let message = big.error.unwrap().message;
        assert!(message.contains("1048578 bytes"), "{message}");
        assert!(message.contains("1 MiB"), "{message}");
        let mut fits = outcome(serde_json::json!("x".repeat(store::MAX_STATE_BYTES - 2)), 0);
        refuse_oversized_state(&mut fits);
        assert_eq!(fits.status, runtime::RunStatus::Succeeded);
        assert!(fits.continuation.is_some());
    }
}
