//! The runs executing on this node: how to stop each one (and why), and
//! how to follow its log. Live log fan-out is the runtime's: every
//! subscriber gets the lines so far, then each new one.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU8, Ordering},
    },
};

use jiff::Timestamp;
use runtime::{LogStream, RunControl};
use store::Lease;
use tokio::sync::Notify;

/// Why this node stopped a run; decides how its end is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StopReason {
    /// Not stopped.
    None = 0,
    /// Someone cancelled it, or a newer occurrence replaced it: `cancelled`.
    Cancelled = 1,
    /// The node shuts down: `interrupted` (and retried per policy).
    Shutdown = 2,
    /// The node lost its lease (another node interrupted it): record nothing.
    LeaseLost = 3,
    /// The node could not renew its lease in time (the database did not
    /// answer): it stopped the run itself before the lease could expire
    /// elsewhere. Its end is `interrupted`, written only if the store still
    /// finds the run this node's when the write gets through.
    Fenced = 4,
}

impl StopReason {
    fn from_u8(value: u8) -> StopReason {
        match value {
            1 => StopReason::Cancelled,
            2 => StopReason::Shutdown,
            3 => StopReason::LeaseLost,
            4 => StopReason::Fenced,
            _ => StopReason::None,
        }
    }
}

struct LiveRun {
    /// What its writes and renewals name (node and claim token).
    lease: Lease,
    control: RunControl,
    reason: Arc<AtomicU8>,
    /// The end of the lease as this node last wrote it (by its own clock):
    /// the run must be stopped before then if no renewal gets through.
    held_until: Timestamp,
}

/// The registry, shared by the workers, the heartbeat and the handle.
#[derive(Clone, Default)]
pub(crate) struct Live {
    inner: Arc<LiveInner>,
}

#[derive(Default)]
struct LiveInner {
    runs: Mutex<HashMap<i64, LiveRun>>,
    changed: Notify,
}

/// A registered run's view of why it was stopped.
#[derive(Clone)]
pub(crate) struct StopFlag(Arc<AtomicU8>);

impl StopFlag {
    pub(crate) fn reason(&self) -> StopReason {
        StopReason::from_u8(self.0.load(Ordering::Acquire))
    }
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, LiveRun>> {
        self.inner
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a run whose `lease` this node holds until `held_until`.
    pub(crate) fn register(
        &self,
        lease: Lease,
        control: RunControl,
        held_until: Timestamp,
    ) -> StopFlag {
        let reason = Arc::new(AtomicU8::new(StopReason::None as u8));
        self.lock().insert(
            lease.run_id,
            LiveRun {
                lease,
                control,
                reason: reason.clone(),
                held_until,
            },
        );
        StopFlag(reason)
    }

    /// A heartbeat renewed these runs' leases until `until`.
    pub(crate) fn renewed(&self, run_ids: impl IntoIterator<Item = i64>, until: Timestamp) {
        let mut runs = self.lock();
        for run_id in run_ids {
            if let Some(run) = runs.get_mut(&run_id)
                && run.held_until < until
            {
                run.held_until = until;
            }
        }
    }

    /// The earliest end of a lease held here by a run not stopped yet.
    pub(crate) fn earliest_lease_end(&self) -> Option<Timestamp> {
        self.lock()
            .values()
            .filter(|run| run.reason.load(Ordering::Acquire) == StopReason::None as u8)
            .map(|run| run.held_until)
            .min()
    }

    /// Stops, as [`StopReason::Fenced`], every run not stopped yet whose
    /// lease ends at or before `deadline`; returns their ids.
    pub(crate) fn fence_leases_ending_by(&self, deadline: Timestamp) -> Vec<i64> {
        let ids: Vec<i64> = self
            .lock()
            .iter()
            .filter(|(_, run)| {
                run.held_until <= deadline
                    && run.reason.load(Ordering::Acquire) == StopReason::None as u8
            })
            .map(|(&id, _)| id)
            .collect();
        ids.into_iter()
            .filter(|&id| self.stop(id, StopReason::Fenced))
            .collect()
    }

    pub(crate) fn remove(&self, run_id: i64) {
        self.lock().remove(&run_id);
        self.inner.changed.notify_waiters();
    }

    /// Stops a live run for `reason` (the first reason given wins).
    /// Returns whether the run is live here.
    pub(crate) fn stop(&self, run_id: i64, reason: StopReason) -> bool {
        let runs = self.lock();
        let Some(run) = runs.get(&run_id) else {
            return false;
        };
        let _ = run.reason.compare_exchange(
            StopReason::None as u8,
            reason as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        run.control.cancel();
        true
    }

    pub(crate) fn stop_all(&self, reason: StopReason) {
        let ids = self.ids();
        for id in ids {
            self.stop(id, reason);
        }
    }

    pub(crate) fn ids(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    /// The leases of the runs live here, for the heartbeat to renew.
    pub(crate) fn leases(&self) -> Vec<Lease> {
        self.lock().values().map(|run| run.lease.clone()).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn logs(&self, run_id: i64) -> Option<LogStream> {
        self.lock().get(&run_id).map(|run| run.control.logs())
    }

    /// Waits until no run is live here.
    pub(crate) async fn wait_empty(&self) {
        loop {
            let changed = self.inner.changed.notified();
            if self.len() == 0 {
                return;
            }
            changed.await;
        }
    }
}
