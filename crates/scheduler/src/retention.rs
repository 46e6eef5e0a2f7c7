//! History retention: every retention interval, each job's ended runs
//! beyond its `keep_runs` newest or older than its `keep_days` are deleted
//! with their logs, in small batches so the database's writers are never
//! held up for long.

use std::sync::Arc;

use store::PruneRuns;

use crate::core::Core;

/// Jobs read per page while walking them all.
const JOBS_PER_PAGE: u32 = 1_000;

pub(crate) async fn pruner(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(core.config.retention_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first pass waits one interval: start-up stays fast.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let pruned = prune_all(&core).await;
                if pruned > 0 {
                    tracing::info!(pruned, "pruned run history");
                }
                let pruned = prune_audit(&core).await;
                if pruned > 0 {
                    tracing::info!(pruned, "pruned the audit log");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// One pass over every job; returns how many runs it deleted.
pub(crate) async fn prune_all(core: &Core) -> u64 {
    let mut pruned = 0;
    let mut after = 0;
    loop {
        let jobs = match core.store.jobs_retention(after, JOBS_PER_PAGE).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "cannot read retention policies");
                return pruned;
            }
        };
        let Some(&(last, _)) = jobs.last() else {
            return pruned;
        };
        for (job_id, policy) in jobs {
            let prune = PruneRuns {
                job_id,
                keep_runs: policy.keep_runs,
                keep_days: policy.keep_days,
                now: core.now(),
                batch: core.config.retention_batch,
            };
            loop {
                match core.store.runs_prune(&prune).await {
                    Ok(deleted) => {
                        pruned += deleted;
                        if deleted < u64::from(prune.batch) {
                            break;
                        }
                        // Let other writers in between batches.
                        tokio::task::yield_now().await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, job = job_id, "cannot prune run history");
                        break;
                    }
                }
            }
        }
        after = last;
    }
}

/// Deletes audit entries older than the configured age; returns how many.
pub(crate) async fn prune_audit(core: &Core) -> u64 {
    let Some(days) = core.config.audit_days else {
        return 0;
    };
    let age = jiff::SignedDuration::from_hours(i64::from(days) * 24);
    let Ok(before) = core.now().checked_sub(age) else {
        return 0;
    };
    let mut pruned = 0;
    loop {
        match core
            .store
            .audit_prune(before, core.config.retention_batch)
            .await
        {
            Ok(deleted) => {
                pruned += deleted;
                if deleted < u64::from(core.config.retention_batch) {
                    return pruned;
                }
                tokio::task::yield_now().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot prune the audit log");
                return pruned;
            }
        }
    }
}
