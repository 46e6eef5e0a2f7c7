//! Leases: the heartbeat that keeps this node's running runs its own, and
//! the sweeper that turns runs whose lease expired — their node died, hung
//! or lost the database — into `interrupted` runs and retries them.

use std::sync::Arc;

use store::{Heartbeat, RunStatus};

use crate::{core::Core, ended::run_ended, live::StopReason};

/// Runs interrupted per statement.
const SWEEP_BATCH: u32 = 100;

/// Renews the leases of this node's live runs every third of the lease
/// (sooner again after a failure); stops runs the node no longer holds and
/// runs someone asked to cancel; and fences: a run whose lease could not be
/// renewed is stopped here before that lease can expire elsewhere.
pub(crate) async fn heartbeat(core: Arc<Core>, stop: tokio::sync::watch::Receiver<bool>) {
    tokio::join!(renew(core.clone(), stop.clone()), fence(core, stop));
}

async fn renew(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut next = tokio::time::Instant::now() + core.config.heartbeat_every();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                let renewed = beat(&core).await;
                let wait = if renewed {
                    core.config.heartbeat_every()
                } else {
                    core.config.heartbeat_retry()
                };
                next = tokio::time::Instant::now() + wait;
            }
            _ = stop.changed() => return,
        }
    }
}

/// One renewal; `false` when the database did not take it.
async fn beat(core: &Core) -> bool {
    let leases = core.live.leases();
    if leases.is_empty() {
        return true;
    }
    let now = core.now();
    let heartbeat = Heartbeat {
        leases,
        lease_until: core.lease_until(now),
    };
    match core.store.runs_heartbeat_if_running(&heartbeat).await {
        Ok(states) => {
            let held = states.iter().filter(|state| state.held);
            core.live
                .renewed(held.map(|state| state.run_id), heartbeat.lease_until);
            for state in states {
                if !state.held {
                    core.live.stop(state.run_id, StopReason::LeaseLost);
                } else if state.cancel_requested {
                    core.live.stop(state.run_id, StopReason::Cancelled);
                }
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, "cannot renew run leases");
            false
        }
    }
}

/// Stops every live run whose lease is within the fencing margin of its
/// end: the renewals did not get through, so another node may soon see the
/// lease expire and start the retry. Wakes for the earliest such instant,
/// and at least every heartbeat period (a run registered meanwhile holds a
/// lease of its own that ends later than that).
async fn fence(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let margin = jiff::SignedDuration::try_from(core.config.fence_margin())
        .unwrap_or(jiff::SignedDuration::ZERO);
    loop {
        let fenced = core.live.fence_leases_ending_by(core.now() + margin);
        for run_id in fenced {
            tracing::warn!(
                run = run_id,
                node = %core.config.node_id,
                "stopped the run: its lease could not be renewed (the database does not answer), and another node may take it over once the lease expires"
            );
        }
        let poll = tokio::time::Instant::now() + core.config.heartbeat_every();
        let next = core
            .live
            .earliest_lease_end()
            .map(|end| core.deadline(end - margin))
            .map_or(poll, |at| at.min(poll));
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Releases what this node id's previous process held (it crashed or was
/// killed: nothing executes those runs any more): runs it claimed but never
/// began are queued again, the others' leases end now, so the sweep that
/// follows interrupts them (and queues their retries) before the first
/// claim — their jobs are not seen busy for a whole lease.
pub(crate) async fn release_previous_incarnation(core: &Core) {
    let node = &core.config.node_id;
    match core.store.runs_release_of_node(node, core.now()).await {
        Ok(release) if release.requeued + release.expired > 0 => tracing::info!(
            %node,
            requeued = release.requeued,
            interrupted = release.expired,
            "took back the runs of this node's previous process"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(
            %error,
            "cannot take back this node's previous runs; their leases will expire"
        ),
    }
}

/// Sweeps at start and then every sweep interval.
pub(crate) async fn sweeper(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(core.config.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                sweep(&core).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Interrupts every run whose lease has expired and queues its retry per
/// its job's policy (or a chain's resumption) in the same transaction.
/// Returns how many runs it interrupted.
pub(crate) async fn sweep(core: &Arc<Core>) -> usize {
    let mut swept = 0;
    loop {
        let now = core.now();
        let interrupted = match core
            .store
            .runs_interrupt_if_lease_expired_then(now, SWEEP_BATCH, |run, spec| {
                crate::follow_up::follow_up(
                    spec,
                    run,
                    RunStatus::Interrupted,
                    None,
                    now,
                    fastrand::f64(),
                )
            })
            .await
        {
            Ok(runs) => runs,
            Err(error) => {
                tracing::warn!(%error, "cannot interrupt runs whose lease expired");
                return swept;
            }
        };
        let count = interrupted.len();
        swept += count;
        for (run, retry) in interrupted {
            tracing::info!(run = run.id, job = run.job_id, node = ?run.node, "run interrupted: its lease expired");
            run_ended(core, &run, RunStatus::Interrupted, now, retry.as_ref());
        }
        if count < SWEEP_BATCH as usize {
            swept += crate::queue::requeue_orphans(core).await;
            if swept > 0 {
                core.wake_feeder.notify_one();
            }
            return swept;
        }
    }
}
