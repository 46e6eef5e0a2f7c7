//! What every task of one scheduler shares.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use runtime::Executor;
use store::{Clock, Store};
use tokio::sync::{Notify, Semaphore, watch};

use crate::{
    config::SchedulerConfig, events::Events, live::Live, metrics::Metrics, writer::Writer,
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
    /// One permit per worker: a run executes only while it holds one.
    pub(crate) permits: Arc<Semaphore>,
    /// Tells the feeder queued runs may be claimable (a run was queued or
    /// ended, a retry's time came).
    pub(crate) wake_feeder: Arc<Notify>,
    /// Tells the alert deliverer deliveries were enqueued.
    pub(crate) wake_deliverer: Notify,
    /// `true` once the scheduler stops claiming.
    pub(crate) stopping: watch::Sender<bool>,
    /// Batches claimed ahead of their instant and not yet started: shutdown
    /// waits for them to become live runs (at most the claim-ahead time).
    pub(crate) pending_starts: watch::Sender<usize>,
}

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
