//! When a job fires first, computed where a save or a resume decides it.

use jiff::Timestamp;
use store::{Job, JobSpec};

/// The first occurrence after `now` of an enabled, scheduled spec; `None`
/// when it does not fire (disabled, unscheduled, or never again). The spec
/// has been validated, so the expression and zone parse.
pub(crate) fn first_fire(spec: &JobSpec, now: Timestamp) -> Option<Timestamp> {
    if !spec.enabled {
        return None;
    }
    let schedule = spec.schedule.as_ref()?;
    scheduler::next_fire_after(schedule, now).ok().flatten()
}

/// The next occurrence to store when `current` is replaced by `spec`.
///
/// While the schedule and the enabled flag stay the same, the job keeps its
/// pending occurrence: recomputing it from "now" could step over an
/// occurrence that is due this very moment and that the scheduler is about
/// to claim. A changed schedule starts afresh from `now`.
pub(crate) fn next_fire_after_edit(
    current: &Job,
    spec: &JobSpec,
    now: Timestamp,
) -> Option<Timestamp> {
    let same_timing =
        current.spec.schedule == spec.schedule && current.spec.enabled == spec.enabled;
    if same_timing {
        current.next_fire_at
    } else {
        first_fire(spec, now)
    }
}
