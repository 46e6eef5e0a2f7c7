//! A queue's events by state, as the API shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A queue's (or one queue job's) events by state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueCountsView {
    /// The queue key.
    pub key: String,
    /// Consumed successfully.
    pub succeeded: u64,
    /// Waiting, running, or waiting for a retry.
    pub in_progress: u64,
    /// The consumer failed for good.
    pub failed: u64,
    /// Dropped by `cancel()` before they ran.
    pub cancelled: u64,
}

impl QueueCountsView {
    /// The counts of queue `key`.
    pub fn of(key: &str, counts: store::QueueCounts) -> Self {
        Self {
            key: key.to_owned(),
            succeeded: counts.succeeded,
            in_progress: counts.in_progress,
            failed: counts.failed,
            cancelled: counts.cancelled,
        }
    }
}
