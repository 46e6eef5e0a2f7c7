//! Leases: the heartbeat that keeps this node's running runs its own, and
//! the sweeper that turns runs whose lease expired — their node died, hung
//! or lost the database — into `interrupted` runs and retries them.

use std::sync::Arc;

use store::{Heartbeat, RunStatus};

use crate::{core::Core, ended::run_ended, live::StopReason};

/// Runs interrupted per statement.
const SWEEP_BATCH: u32 = 100;

/// Renews the leases of this node's live runs every third of the lease;
/// stops runs the node no longer holds and runs someone asked to cancel.
pub(crate) async fn heartbeat(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(core.config.heartbeat_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => beat(&core).await,
            _ = stop.changed() => return,
        }
    }
}

async fn beat(core: &Core) {
    let run_ids = core.live.ids();
    if run_ids.is_empty() {
        return;
    }
    let now = core.now();
    let heartbeat = Heartbeat {
        node: core.config.node_id.clone(),
        run_ids,
        lease_until: core.lease_until(now),
    };
    match core.store.runs_heartbeat_if_running(&heartbeat).await {
        Ok(states) => {
            for state in states {
                if !state.held {
                    core.live.stop(state.run_id, StopReason::LeaseLost);
                } else if state.cancel_requested {
                    core.live.stop(state.run_id, StopReason::Cancelled);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot renew run leases"),
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
