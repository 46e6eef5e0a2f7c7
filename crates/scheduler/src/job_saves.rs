//! Job saves: the one call the API makes to create, replace, pause, resume
//! or delete a job.
//!
//! When a job fires is the scheduler's business, so a save decides the
//! job's next fire instant here, writes it with the job in one store
//! transaction (audited there), and tells the running scheduler, if this
//! process has one, to re-read the job (other nodes hear of it through the
//! database). A process without a scheduler (an API-only server, tests)
//! saves the same way: the next scheduler to load the job fires it.

use std::sync::Arc;

use jiff::Timestamp;
use store::{Clock, Job, JobEnable, JobSpec, JobUpdate, NewJob, Store};

use crate::{SchedulerError, SchedulerHandle, handle::next_fire_after};

/// Saves jobs with their next fire instant. Cheap to clone.
#[derive(Clone)]
pub struct JobSaves {
    store: Store,
    clock: Arc<dyn Clock>,
    scheduler: Option<SchedulerHandle>,
}

impl std::fmt::Debug for JobSaves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSaves")
            .field("scheduler", &self.scheduler)
            .finish_non_exhaustive()
    }
}

impl JobSaves {
    /// Saves into `store`, reading "now" from `clock`; no scheduler is told.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            scheduler: None,
        }
    }

    /// The same saves, each also told to `scheduler` (this process's).
    pub fn with_scheduler(self, scheduler: SchedulerHandle) -> Self {
        Self {
            scheduler: Some(scheduler),
            ..self
        }
    }

    /// Creates a job (version 1) from a checked spec; it first fires at
    /// its schedule's first occurrence after now.
    pub async fn create(&self, spec: JobSpec, actor: &str) -> Result<Job, SchedulerError> {
        let next_fire_at = first_fire(&spec, self.clock.now());
        let job = self
            .store
            .job_create(&NewJob {
                spec,
                next_fire_at,
                actor: actor.to_owned(),
            })
            .await?;
        self.changed(job.id);
        Ok(job)
    }

    /// Replaces `current` with a new version from a checked spec; a spec
    /// identical to the current one changes nothing. The store refuses the
    /// write if the job moved past `current.version` meanwhile.
    pub async fn replace(
        &self,
        current: Job,
        spec: JobSpec,
        actor: &str,
    ) -> Result<Job, SchedulerError> {
        if current.spec == spec {
            return Ok(current);
        }
        let next_fire_at = next_fire_after_edit(&current, &spec, self.clock.now());
        let job = self
            .store
            .job_update(&JobUpdate {
                id: current.id,
                spec,
                expected_version: Some(current.version),
                next_fire_at,
                actor: actor.to_owned(),
            })
            .await?;
        self.changed(job.id);
        Ok(job)
    }

    /// Pauses (`false`) or resumes (`true`) `current` without a new
    /// version; resuming fires from now on (occurrences passed while paused
    /// are not caught up). Already so: nothing changes.
    pub async fn set_enabled(
        &self,
        current: Job,
        enabled: bool,
        actor: &str,
    ) -> Result<Job, SchedulerError> {
        if current.spec.enabled == enabled {
            return Ok(current);
        }
        let spec = JobSpec {
            enabled,
            ..current.spec
        };
        let job = self
            .store
            .job_set_enabled(&JobEnable {
                id: current.id,
                enabled,
                next_fire_at: first_fire(&spec, self.clock.now()),
                actor: actor.to_owned(),
            })
            .await?;
        self.changed(job.id);
        Ok(job)
    }

    /// Deletes a job with its versions, runs and logs; `false` when there
    /// was no such job.
    pub async fn delete(&self, id: i64, actor: &str) -> Result<bool, SchedulerError> {
        let deleted = self.store.job_delete(id, actor).await?;
        if deleted {
            self.changed(id);
        }
        Ok(deleted)
    }

    fn changed(&self, id: i64) {
        if let Some(scheduler) = &self.scheduler {
            scheduler.job_changed(id);
        }
    }
}

/// The first occurrence after `now` of an enabled, scheduled spec; `None`
/// when it does not fire (disabled, unscheduled, or never again). The spec
/// has been checked, so its expression and zone parse.
fn first_fire(spec: &JobSpec, now: Timestamp) -> Option<Timestamp> {
    if !spec.enabled {
        return None;
    }
    let schedule = spec.schedule.as_ref()?;
    next_fire_after(schedule, now).ok().flatten()
}

/// The next occurrence to store when `current` is replaced by `spec`.
///
/// While the schedule and the enabled flag stay the same, the job keeps its
/// pending occurrence: recomputing it from "now" could step over an
/// occurrence that is due this very moment and that the scheduler is about
/// to claim. A changed schedule starts afresh from `now`.
fn next_fire_after_edit(current: &Job, spec: &JobSpec, now: Timestamp) -> Option<Timestamp> {
    let same_timing =
        current.spec.schedule == spec.schedule && current.spec.enabled == spec.enabled;
    if same_timing {
        current.next_fire_at
    } else {
        first_fire(spec, now)
    }
}
