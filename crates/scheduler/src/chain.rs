//! Chains on the scheduler side: the rules for which run follows a chunk
//! (applied by `follow_up`) and the state size check at a chunk's end.
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

/// The retry of an interrupted chunk (`run` is part of a chain) beyond the
/// job's retry policy: at once, while it has had fewer than
/// [`INTERRUPTED_CHUNK_ATTEMPTS`].
pub(crate) fn resume_interrupted(
    spec: &JobSpec,
    run: &Run,
    status: RunStatus,
    now: Timestamp,
) -> Option<NewRun> {
    let limit = spec.retry.max_attempts.max(INTERRUPTED_CHUNK_ATTEMPTS);
    if status != RunStatus::Interrupted || run.attempt >= limit {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use runtime::Continuation;

    /// A chunk's success that continues with `state` after `delay_seconds`.
    pub(crate) fn outcome(state: serde_json::Value, delay_seconds: u64) -> Outcome {
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
