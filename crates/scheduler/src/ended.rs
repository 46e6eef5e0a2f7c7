//! The bookkeeping of a run that ended, whichever task saw it end (a
//! worker recording its finish, the sweeper interrupting a dead node's
//! run, a claim writing a `skipped` or `missed` row, a cancellation):
//! counted in the metrics, announced as a [`RunEvent`], alerted on, and its
//! follow-up (queued in the same transaction) announced too.

use std::sync::Arc;

use jiff::Timestamp;
use store::{Run, RunStatus};

use crate::{core::Core, events::RunEvent};

/// Records that `run` ended in `status` at `at`, with the run queued to
/// follow it, if any.
pub(crate) fn run_ended(
    core: &Arc<Core>,
    run: &Run,
    status: RunStatus,
    at: Timestamp,
    follow_up: Option<&Run>,
) {
    core.metrics.count_run(run.job_id, status);
    core.events.send(RunEvent::of(run, status, at));
    crate::alerts::raise(core, run, status);
    if let Some(next) = follow_up {
        core.events.send(RunEvent::of(next, RunStatus::Queued, at));
    }
}
