//! The scheduler's error type.

/// Why a scheduler operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The scheduler has shut down.
    #[error("the scheduler has shut down")]
    Stopped,
}
