//! Run events as they happen on this node: what tests wait on (never
//! sleeps) and what live views can follow.

use jiff::Timestamp;
use store::{RunStatus, Trigger};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind before it misses some.
const CAPACITY: usize = 16_384;

/// A run changed status, as this node saw (or made) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    /// The run.
    pub run_id: i64,
    /// Its job.
    pub job_id: i64,
    /// The status it has now. `running` is sent when execution starts on
    /// this node.
    pub status: RunStatus,
    /// What created it.
    pub trigger: Trigger,
    /// Its occurrence, if any.
    pub scheduled_for: Option<Timestamp>,
    /// Its attempt.
    pub attempt: u32,
    /// When this node saw the change (the scheduler's clock).
    pub at: Timestamp,
}

impl RunEvent {
    pub(crate) fn of(run: &store::Run, status: RunStatus, at: Timestamp) -> RunEvent {
        RunEvent {
            run_id: run.id,
            job_id: run.job_id,
            status,
            trigger: run.trigger,
            scheduled_for: run.scheduled_for,
            attempt: run.attempt,
            at,
        }
    }
}

/// The sending side, shared by the scheduler's tasks.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    sender: broadcast::Sender<RunEvent>,
}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    pub(crate) fn send(&self, event: RunEvent) {
        // Nobody listening is fine.
        let _ = self.sender.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.sender.subscribe()
    }
}
