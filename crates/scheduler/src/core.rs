//! What every task of one scheduler shares.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use runtime::Executor;
use store::{Clock, Store};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::{
    budget::Budget, config::SchedulerConfig, events::Events, live::Live, metrics::Metrics,
    writer::Writer,
};

pub(crate) struct Core {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: SchedulerConfig,
    pub(crate) executor: Arc<Executor>,
    pub(crate) live: Live,
    pub(crate) writer: Writer,
    pub(crate) events: Events,
    pub(crate) metrics: Metrics,
    /// The workers and memory budget: a run executes only while it holds
    /// a worker and its memory limit's share of the budget.
    pub(crate) budget: Budget,
    /// Tells the feeder queued runs may be claimable (a run was queued or
    /// ended, a retry's time came).
    pub(crate) wake_feeder: Arc<Notify>,
    /// The last claim of queued runs took as many as it had workers for:
    /// more may be waiting, so the group commit of ends claims for the
    /// freed workers ([`crate::workers::Refill`]). Without a backlog it
    /// would claim nothing at the cost of its statements.
    pub(crate) backlog: std::sync::atomic::AtomicBool,
    /// Ended runs whose alerts are to be enqueued ([`crate::alerts::enqueuer`]).
    pub(crate) alerts_raised: mpsc::UnboundedSender<crate::alerts::Raised>,
    /// Tells the alert deliverer deliveries were enqueued.
    pub(crate) wake_deliverer: Notify,
    /// `true` once the scheduler stops claiming.
    pub(crate) stopping: watch::Sender<bool>,
    /// Runs of each job that ended here but whose end is not stored yet
    /// (the database is slow or down): still `running` in the database,
    /// they must not make the job look busy to the overlap policy.
    pub(crate) unwritten_ends: UnwrittenEnds,
    /// When this scheduler started: an occurrence due before it fell in
    /// the downtime (nothing could fire it) and follows the misfire policy.
    pub(crate) started: Timestamp,
    /// Batches claimed ahead of their instant and not yet started: shutdown
    /// waits for them to become live runs (at most the claim-ahead time).
    pub(crate) pending_starts: watch::Sender<usize>,
    /// Ids of runs whose rows any node moved on (started, stored log lines,
    /// ended), as PostgreSQL's notices report them: live log streams of
    /// runs executing elsewhere read the stored log when they hear one.
    pub(crate) progress: broadcast::Sender<i64>,
}

/// Progress notices buffered per subscriber; one that lags re-reads.
pub(crate) const PROGRESS_BUFFER: usize = 4_096;

impl Core {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The tokio instant at which the scheduler's clock reads `at` (now if
    /// it already has): sleeping until it needs no polling tick.
    pub(crate) fn deadline(&self, at: Timestamp) -> tokio::time::Instant {
        let wait = self.now().duration_until(at);
        let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
        tokio::time::Instant::now() + wait
    }

    pub(crate) fn lease_until(&self, now: Timestamp) -> Timestamp {
        now + self.config.lease
    }

    pub(crate) fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }
}

/// A sleep that never ends, for `select!` arms with nothing to wait for.
pub(crate) fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Runs that ended on this node and wait for their end to be stored, by job.
#[derive(Default)]
pub(crate) struct UnwrittenEnds(std::sync::Mutex<std::collections::HashMap<i64, u64>>);

impl UnwrittenEnds {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A run of `job_id` ended; its end is being written.
    pub(crate) fn add(&self, job_id: i64) {
        *self.lock().entry(job_id).or_default() += 1;
    }

    /// That end is written (or will never be: the run was not ours).
    pub(crate) fn remove(&self, job_id: i64) {
        let mut ends = self.lock();
        if let Some(count) = ends.get_mut(&job_id) {
            *count -= 1;
            if *count == 0 {
                ends.remove(&job_id);
            }
        }
    }

    /// `job` as the overlap policy must see it: its runs that ended here
    /// are not running, whatever their rows still say.
    pub(crate) fn discount(&self, job: &store::ClaimedJob) -> store::ClaimedJob {
        let ended = self.lock().get(&job.job_id).copied().unwrap_or(0);
        let mut job = *job;
        job.active.running = job.active.running.saturating_sub(ended);
        job
    }
}
