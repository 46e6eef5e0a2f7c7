//! Workers: executing claimed runs through the runtime, following their
//! logs, reporting their ends; and the feeder that claims queued runs
//! whenever a worker is free.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use runtime::{LogStream, Outcome, RunSpec};
use store::{
    ClaimCandidate, ClaimedRun, JobSpec, LogAppend, Run, RunClaim, RunError, RunFinish, RunStart,
    RunStatus, Trigger,
};

use crate::{
    budget::{ClaimReservation, Slot},
    core::{Core, far_future},
    ended::run_ended,
    events::RunEvent,
    live::StopReason,
    to_store,
};

/// How long the feeder waits before retrying after a database error.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);
/// How long a run's end may wait to be written before the feeder is woken
/// to claim for its freed worker on its own. Normally the commit that
/// writes the end claims the next run for the worker ([`Refill`]); when
/// the database is slow, or the run's row is locked, the worker does not
/// wait for that commit.
const END_WRITE_GRACE: Duration = Duration::from_millis(50);

/// Starts executing `run` (already `running` for this node) in its slot.
pub(crate) fn start_run(core: &Arc<Core>, run: Run, spec: JobSpec, slot: Slot) {
    launch(core, run, spec, slot);
}

/// A run claimed to start on this node, with its worker and memory.
pub(crate) struct Start {
    pub(crate) run: Run,
    pub(crate) spec: JobSpec,
    pub(crate) slot: Slot,
}

/// Starts `runs` at `at` (their claimed instant, by the scheduler's clock)
/// from one task: one timer and one wake-up for the whole batch, each
/// start only handing the script to the executor, so the last run of a
/// large batch starts moments after the first. Never before `at`: the
/// timer is re-armed if the clock has not reached it yet.
pub(crate) fn start_batch_at(core: &Arc<Core>, runs: Vec<Start>, at: jiff::Timestamp) {
    if runs.is_empty() {
        return;
    }
    let core = core.clone();
    let pending = PendingStart::new(&core);
    tokio::spawn(async move {
        while core.now() < at {
            tokio::time::sleep_until(core.deadline(at)).await;
        }
        for start in runs {
            launch(&core, start.run, start.spec, start.slot);
        }
        drop(pending);
    });
}

/// A start shutdown must wait for, counted in `Core::pending_starts` from
/// its creation until it is dropped: a batch until its runs are launched,
/// a launched run until it is live (or given up). Without it a shutdown
/// could stop the node between a run's committed start and its script,
/// leaving a `running` row that nothing executes.
struct PendingStart(Arc<Core>);

impl PendingStart {
    fn new(core: &Arc<Core>) -> PendingStart {
        core.pending_starts.send_modify(|pending| *pending += 1);
        PendingStart(core.clone())
    }
}

impl Drop for PendingStart {
    fn drop(&mut self) {
        self.0.pending_starts.send_modify(|pending| *pending -= 1);
    }
}

/// Records the run's start, then hands it to the executor and follows it,
/// on a task of its own.
fn launch(core: &Arc<Core>, run: Run, spec: JobSpec, slot: Slot) {
    let started = core.now();
    if run.trigger == Trigger::Schedule
        && let Some(scheduled_for) = run.scheduled_for
    {
        let late = started.duration_since(scheduled_for);
        core.metrics
            .fire_lateness
            .observe(Duration::try_from(late).unwrap_or(Duration::ZERO));
    }
    let core = core.clone();
    let pending = PendingStart::new(&core);
    // A claimed run is running on this node: it has a lease.
    let lease = run.lease().unwrap_or_else(|| store::Lease {
        run_id: run.id,
        node: core.config.node_id.clone(),
        token: run.lease_token,
    });
    tokio::spawn(async move {
        // The start is committed before the script runs: a node that dies
        // from here on leaves a run that began (interrupted at its restart),
        // never one that ran unrecorded and would run again as if it had not.
        // A run the feeder claimed has its start in the claim's commit; a
        // run claimed ahead of its instant records it now, with the others
        // of its batch in one group commit.
        let began = run.started_at.is_some()
            || core
                .writer
                .started(RunStart {
                    lease: lease.clone(),
                    started_at: started,
                })
                .await;
        // A start the store refused, or one written so late that the lease
        // is (nearly) gone, is another node's run by now: executing it here
        // could overlap that node's attempt.
        let held_until = run
            .lease_expires_at
            .unwrap_or_else(|| core.lease_until(started));
        if !began || !lease_left(&core, held_until) {
            tracing::warn!(
                run = run.id,
                job = run.job_id,
                "not starting the run: this node no longer holds its lease"
            );
            drop(slot);
            core.wake_feeder.notify_one();
            return;
        }
        if let Some(refusal) = core.budget.refusal(&spec) {
            drop(pending);
            let ended = Ended {
                outcome: refused(refusal),
                at: core.now(),
                flushed: 0,
                reason: StopReason::None,
            };
            finish(&core, &run, lease, &spec, ended).await;
            release(&core, slot);
            return;
        }
        let handle = core.executor.start(run_spec(&core, &run, &spec));
        let stop = core
            .live
            .register(lease.clone(), handle.control(), held_until);
        drop(pending);
        core.events
            .send(RunEvent::of(&run, RunStatus::Running, started));
        let pump = tokio::spawn(pump_logs(core.clone(), lease.clone(), handle.logs()));
        let outcome = handle.outcome().await;
        // The run ended now, before its worker is freed: a run the freed
        // worker takes next (the next of an overlap `queue` job, say) is
        // claimed at a later instant, so it never seems to start before
        // this one ended.
        let ended_at = core.now();
        // The script is over and its memory given back (the executor
        // reports a run that held more than a few MiB only after dropping
        // its context): the worker and the memory are free now, and the
        // group commit that writes this run's end claims the next run for
        // them in the same transaction (`Refill`). The feeder is not woken
        // here: it would take them first, in a transaction of its own. It
        // is woken once the end is written.
        drop(slot);
        let flushed = pump.await.unwrap_or(0);
        let ended = Ended {
            outcome,
            at: ended_at,
            flushed,
            reason: stop.reason(),
        };
        finish(&core, &run, lease, &spec, ended).await;
    });
}

/// Frees the worker and memory of a run refused before its script ran,
/// and tells the feeder. (A run whose script ran frees them when the
/// script ends; its end is written afterwards by the group-commit writer,
/// so for a moment the database may show more `running` runs on a node
/// than it has workers; none of them holds a thread or script memory.)
fn release(core: &Core, slot: Slot) {
    drop(slot);
    core.wake_feeder.notify_one();
}

/// The outcome of a run refused before its script ran.
fn refused(message: String) -> Outcome {
    let error = runtime::ErrorInfo {
        message,
        stack: None,
        line: None,
        column: None,
    };
    not_run(runtime::RunStatus::Failed, Some(error))
}

/// The outcome of a run whose script did not run: nothing logged, called
/// or returned.
fn not_run(status: runtime::RunStatus, error: Option<runtime::ErrorInfo>) -> Outcome {
    Outcome {
        status,
        result: serde_json::Value::Null,
        error,
        logs: Vec::new(),
        http_calls: Vec::new(),
        duration: Duration::ZERO,
        peak_memory_bytes: 0,
        continuation: None,
        retry: None,
    }
}

/// Whether a lease held until `held_until` is further away than the fencing
/// margin, so a run may (still) execute under it.
fn lease_left(core: &Core, held_until: jiff::Timestamp) -> bool {
    let margin = jiff::SignedDuration::try_from(core.config.fence_margin())
        .unwrap_or(jiff::SignedDuration::ZERO);
    core.now() + margin < held_until
}

/// How a run ended, as [`finish`] records it.
struct Ended {
    outcome: Outcome,
    /// When its script ended.
    at: jiff::Timestamp,
    /// Log lines already stored by the pump.
    flushed: usize,
    reason: StopReason,
}

/// Records a run's end (unless its lease was lost) with its follow-up run.
async fn finish(core: &Arc<Core>, run: &Run, lease: store::Lease, spec: &JobSpec, ended: Ended) {
    let Ended {
        mut outcome,
        at: finished_at,
        flushed,
        reason,
    } = ended;
    if reason == StopReason::LeaseLost {
        // Another node has interrupted it already; it is not ours to end.
        // No end is written, so no commit claims for its freed worker.
        core.live.remove(run.id);
        core.wake_feeder.notify_one();
        return;
    }
    crate::chain::refuse_oversized_state(&mut outcome);
    let finish = recorded_end(lease, finished_at, &outcome, reason);
    let status = finish.status();
    let error = finish.error().cloned();
    let follow_up = crate::follow_up::follow_up(
        spec,
        run,
        status,
        Some(&outcome),
        finished_at,
        fastrand::f64(),
    );
    let finish = finish
        .with_http_calls(outcome.http_calls.iter().map(to_store::http_call).collect())
        .with_logs(
            outcome
                .logs
                .get(flushed..)
                .unwrap_or_default()
                .iter()
                .map(to_store::log_line)
                .collect(),
        )
        .with_follow_up(follow_up);
    core.unwritten_ends.add(run.job_id);
    let written = {
        let writing = core.writer.finish(finish);
        tokio::pin!(writing);
        tokio::select! {
            written = &mut writing => written,
            () = tokio::time::sleep(END_WRITE_GRACE) => {
                core.wake_feeder.notify_one();
                writing.await
            }
        }
    };
    core.unwritten_ends.remove(run.job_id);
    // The worker was freed when the script ended, before this end was
    // written: the feeder may have looked then and found nothing. What the
    // end changes — a follow-up queued (a retry, the next chunk), a job
    // no longer running whose queued run may now start — it must see now.
    core.wake_feeder.notify_one();
    core.live.remove(run.id);
    if !written.applied {
        // Dropped, not retried: the row is no longer this node's (another
        // node interrupted it once its lease expired, and may run it again).
        tracing::warn!(
            run = run.id,
            job = run.job_id,
            status = %status.as_str(),
            "the store refused this run's end: this node no longer holds the run"
        );
    }
    if written.applied {
        core.metrics.run_duration.observe(outcome.duration);
        let mut ended = run.clone();
        ended.error = error;
        run_ended(
            core,
            &ended,
            status,
            finished_at,
            written.follow_up.as_ref(),
        );
    }
}

fn run_spec(core: &Core, run: &Run, spec: &JobSpec) -> RunSpec {
    let (sites, services) = core.config.environment.prepare(spec, run);
    crate::run_spec(
        spec,
        crate::RunIdentity::of_run(run, &spec.name),
        sites,
        services,
    )
}

/// How the run's end is recorded: a cancellation is `cancelled` only when
/// someone asked for it; the node stopping makes it `interrupted`.
fn recorded_end(
    lease: store::Lease,
    finished_at: jiff::Timestamp,
    outcome: &Outcome,
    reason: StopReason,
) -> RunFinish {
    let error = outcome.error.as_ref().map(to_store::run_error);
    match outcome.status {
        runtime::RunStatus::Succeeded => {
            RunFinish::succeeded(lease, finished_at, Some(outcome.result.clone()))
        }
        runtime::RunStatus::Failed => RunFinish::failed(lease, finished_at, error),
        runtime::RunStatus::TimedOut => RunFinish::timed_out(lease, finished_at, error),
        runtime::RunStatus::Cancelled if reason == StopReason::Cancelled => {
            RunFinish::cancelled(lease, finished_at, error)
        }
        runtime::RunStatus::Cancelled if reason == StopReason::Fenced => RunFinish::interrupted(
            lease,
            finished_at,
            RunError::message(
                "interrupted: the node could not renew its lease (the database did not answer), so it stopped the run before another node could take it over",
            ),
        ),
        runtime::RunStatus::Cancelled => RunFinish::interrupted(
            lease,
            finished_at,
            RunError::message("interrupted: the node shut down before the run ended"),
        ),
    }
}

/// A claim of queued runs for the workers free now, made by the group
/// commit that records the ends of the runs that freed them, in the same
/// transaction: one commit per cycle of the workers instead of two (the
/// ends, then the feeder's claim). It takes each worker only when it
/// accepts a run for it ([`Budget::claim_as_taken`]): should the commit
/// wait long for the database, the feeder may take the workers meanwhile.
/// Counted as a pending start from before it looks at `stopping` until its
/// runs are launched, so a shutdown waits for the runs it claims, as it
/// waits for the feeder's.
///
/// [`Budget::claim_as_taken`]: crate::budget::Budget::claim_as_taken
pub(crate) struct Refill {
    pub(crate) claim: RunClaim,
    pub(crate) reservation: ClaimReservation,
    reserved: usize,
    _pending: PendingStart,
}

impl Refill {
    /// A claim for every free worker (up to `claim_batch`), if any is free
    /// and the scheduler is not stopping.
    pub(crate) fn reserve(core: &Arc<Core>) -> Option<Refill> {
        if !core.backlog.load(Ordering::Relaxed) {
            return None;
        }
        let pending = PendingStart::new(core);
        if core.is_stopping() {
            return None;
        }
        let free = core.budget.free_workers().min(core.config.claim_batch);
        if free == 0 {
            return None;
        }
        let reservation = core.budget.claim_as_taken()?;
        let now = core.now();
        Some(Refill {
            claim: RunClaim {
                node: core.config.node_id.clone(),
                now,
                lease_until: core.lease_until(now),
                limit: u32::try_from(free).unwrap_or(u32::MAX),
            },
            reservation,
            reserved: free,
            _pending: pending,
        })
    }

    /// Whether the claim takes `candidate` (its memory fits).
    pub(crate) fn offer(
        reservation: &mut ClaimReservation,
        core: &Core,
        candidate: &ClaimCandidate<'_>,
    ) -> bool {
        reservation.offer(&core.budget, candidate)
    }

    /// Starts the runs the commit claimed. When it claimed fewer than there
    /// were free workers, the feeder is woken: it learns when the next
    /// queued run is due (or finds the run whose memory did not fit).
    pub(crate) fn start(mut self, core: &Arc<Core>, claimed: Vec<ClaimedRun>) {
        let full = claimed.len() == self.reserved;
        core.backlog.store(full, Ordering::Relaxed);
        for claimed in claimed {
            let Some(slot) = self.reservation.slot(claimed.run.id) else {
                break;
            };
            start_run(core, claimed.run, claimed.spec, slot);
        }
        drop(self);
        if !full {
            core.wake_feeder.notify_one();
        }
    }
}

/// Follows a run's live log and stores its lines every flush interval, so
/// a crash keeps what was logged. Returns how many of the run's lines (in
/// `Outcome::logs` numbering) are stored; its finish stores the rest.
async fn pump_logs(core: Arc<Core>, lease: store::Lease, mut stream: LogStream) -> usize {
    let mut position = 0;
    let mut flushed = 0;
    let mut pending = Vec::new();
    let mut tick = tokio::time::interval(core.config.log_flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            line = stream.next() => match line {
                Some(line) => {
                    position += 1;
                    pending.push(to_store::log_line(&line));
                }
                None => return flushed,
            },
            _ = tick.tick(), if !pending.is_empty() => {
                core.writer
                    .append(LogAppend {
                        lease: lease.clone(),
                        lines: std::mem::take(&mut pending),
                    })
                    .await;
                flushed = position;
            }
        }
    }
}

/// Claims queued runs whenever workers are free: when woken (a run was
/// queued or ended here or, on PostgreSQL, on another node), when the next
/// retry or delayed chunk becomes due, and every backstop period.
pub(crate) async fn feed(core: Arc<Core>) {
    let mut stopping = core.stopping.subscribe();
    loop {
        if core.is_stopping() {
            return;
        }
        let next_due = claim_available(&core).await;
        let wake_at = next_due
            .map(|at| core.deadline(at))
            .unwrap_or_else(far_future)
            .min(tokio::time::Instant::now() + core.config.backstop_poll);
        tokio::select! {
            _ = core.wake_feeder.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = stopping.changed() => {}
        }
    }
}

/// Claims as many queued runs as there are free workers and free memory
/// for (oldest first, up to the first whose memory limit does not fit) and
/// starts them. Returns when the next queued run becomes due, if known.
async fn claim_available(core: &Arc<Core>) -> Option<jiff::Timestamp> {
    loop {
        let free = core.budget.free_workers().min(core.config.claim_batch);
        if free == 0 || core.is_stopping() {
            // A run ending wakes the feeder.
            return None;
        }
        let mut reservation = core.budget.claim(free)?;
        let now = core.now();
        let claim = RunClaim {
            node: core.config.node_id.clone(),
            now,
            lease_until: core.lease_until(now),
            limit: u32::try_from(free).unwrap_or(u32::MAX),
        };
        let claimed = core
            .store
            .runs_start_queued_within(&claim, |candidate| {
                reservation.offer(&core.budget, candidate)
            })
            .await;
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot claim queued runs; retrying");
                return Some(now + RETRY_AFTER_ERROR);
            }
        };
        let full = claimed.len() == free;
        core.backlog.store(full, Ordering::Relaxed);
        for claimed in claimed {
            let Some(slot) = reservation.slot(claimed.run.id) else {
                break;
            };
            start_run(core, claimed.run, claimed.spec, slot);
        }
        drop(reservation);
        if !full {
            // Fewer than asked: nothing more is due, or the next run's
            // memory does not fit until a live run ends (which wakes the
            // feeder).
            return match core.store.runs_next_queued_after(core.now()).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "cannot read when queued runs are due");
                    Some(core.now() + RETRY_AFTER_ERROR)
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status a run ending in `status` for `reason` is recorded with.
    fn final_status(status: runtime::RunStatus, reason: StopReason) -> RunStatus {
        let outcome = not_run(status, None);
        let lease = store::Lease {
            run_id: 1,
            node: "n".into(),
            token: 1,
        };
        recorded_end(lease, jiff::Timestamp::UNIX_EPOCH, &outcome, reason).status()
    }

    #[test]
    fn only_a_requested_cancellation_is_recorded_as_cancelled() {
        use runtime::RunStatus as R;
        assert_eq!(
            final_status(R::Cancelled, StopReason::Cancelled),
            RunStatus::Cancelled
        );
        assert_eq!(
            final_status(R::Cancelled, StopReason::Shutdown),
            RunStatus::Interrupted
        );
        assert_eq!(
            final_status(R::Cancelled, StopReason::None),
            RunStatus::Interrupted
        );
        assert_eq!(
            final_status(R::TimedOut, StopReason::Shutdown),
            RunStatus::TimedOut
        );
        assert_eq!(
            final_status(R::Succeeded, StopReason::Cancelled),
            RunStatus::Succeeded
        );
    }
}
