//! A job as the API reads and writes it: [`JobInput`] (what clients send),
//! [`JobView`] and the list's [`JobListItem`] (what they get back), its
//! versions and its newest runs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{
    Job, JobSchedule, JobSpec, JobVersion, Language, Misfire, Overlap, RetentionPolicy,
    RetryPolicy, RunStatus, RunSummary, Trigger,
};
use utoipa::ToSchema;

use super::{LanguageDoc, MisfireDoc, OverlapDoc, QueueCountsView, RunStatusDoc, TriggerDoc};

/// The fields of a job as read that [`JobInput`] accepts and ignores, so a
/// job read can be sent back; an unknown-field error does not offer them.
pub const READ_ONLY_JOB_FIELDS: &[&str] = &[
    "progress",
    "id",
    "next_fire_at",
    "last_run",
    "created_at",
    "updated_at",
    "schedule_description",
    "recent_runs",
    "avg_duration_ms",
];

/// A job as clients write it (`POST /jobs`, `PUT /jobs/{job}`, and the
/// result of a merge patch). Omitted fields take their defaults.
///
/// The read-only fields of [`JobView`] are accepted so a client can send
/// back what it read: `version`, when present, is the version the change is
/// based on (a mismatch is a 409 conflict); the others are ignored. Any
/// other unknown field is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    // Keep `READ_ONLY_JOB_FIELDS` below in step with the read-only fields.
    /// Unique name: letters, digits, `.`, `_`, `-`, not only digits.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it fires; `null` or absent for a job that only runs on demand.
    #[serde(default)]
    pub schedule: Option<ScheduleInput>,
    /// The JavaScript, in script or module form; at most 1 MiB.
    pub script: String,
    /// The language of `script`: `javascript` (default) or `typescript`
    /// (types are stripped before each run, never checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<LanguageDoc>)]
    pub language: Option<Language>,
    /// Whether the schedule fires (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Wall-clock limit of one run, 1-86400 (default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Heap limit of one run in MiB (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mb: Option<u32>,
    /// What happens when an occurrence comes while a run is active (default `skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OverlapDoc>)]
    pub overlap: Option<Overlap>,
    /// What happens to occurrences missed while the scheduler was down (default `run_once`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<MisfireDoc>)]
    pub misfire: Option<Misfire>,
    /// Retries of failed, timed-out and interrupted runs (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryInput>,
    /// `context.params` of every run, a JSON object (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// The named user credential `asUser()` uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    /// How much history is kept (default 1000 runs and 30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionInput>,
    /// The `@forge/events` queue key this job consumes (`^[a-zA-Z0-9-_]+$`,
    /// unique among jobs): each pushed event becomes an `event` run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The exported function a module-style script is called as, like
    /// Forge's `handler: index.trigger` (default: `run`, `handler`, the
    /// default export, or the only exported function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// `process.env` of every run: name → value, or `secret:NAME` for the
    /// stored secret `NAME` (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Short words to find the job by (`GET /jobs?tag=`): at most 20, each
    /// 1 to 40 letters, digits, `.`, `_` or `-`, each once (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Who looks after the job: a name or an e-mail address, one line of at
    /// most 200 characters. Absent when a signed-in user creates a job: that
    /// user's name; otherwise empty (nobody named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub progress: Option<Value>,
    /// Read-only in [`JobView`]; when sent, the version this change is based on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub id: Option<Value>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub next_fire_at: Option<Value>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub last_run: Option<Value>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub created_at: Option<Value>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub updated_at: Option<Value>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub schedule_description: Option<Value>,
    /// Read-only (job lists); ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub recent_runs: Option<Value>,
    /// Read-only (job lists); ignored.
    #[serde(default, skip_serializing)]
    #[schema(read_only)]
    pub avg_duration_ms: Option<Value>,
}

/// A cron expression and its zone, as clients write them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// 5 fields, or 6 with leading seconds, or a macro such as `@hourly`.
    pub cron: String,
    /// The IANA zone its wall-clock times are in (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// A retry policy, as clients write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryInput {
    /// Attempts in total, the first included, 1-100 (default 1: no retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Wait before the first retry; doubled for each later one, with jitter (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_seconds: Option<u32>,
}

/// A retention policy, as clients write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    /// The newest runs kept (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<u32>,
    /// Days an ended run is kept (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
}

impl JobInput {
    /// The spec this input describes, with every omitted field at its default.
    pub fn to_spec(&self) -> JobSpec {
        let mut spec = JobSpec::new(&self.name, &self.script);
        spec.language = self.language.unwrap_or_default();
        if let Some(description) = &self.description {
            spec.description.clone_from(description);
        }
        spec.schedule = self.schedule.as_ref().map(|s| JobSchedule {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
        });
        spec.enabled = self.enabled.unwrap_or(spec.enabled);
        spec.timeout_seconds = self.timeout_seconds.unwrap_or(spec.timeout_seconds);
        spec.memory_limit_mb = self.memory_limit_mb.unwrap_or(spec.memory_limit_mb);
        spec.overlap = self.overlap.unwrap_or(spec.overlap);
        spec.misfire = self.misfire.unwrap_or(spec.misfire);
        if let Some(retry) = self.retry {
            spec.retry = RetryPolicy {
                max_attempts: retry.max_attempts.unwrap_or(spec.retry.max_attempts),
                backoff_seconds: retry.backoff_seconds.unwrap_or(spec.retry.backoff_seconds),
            };
        }
        if let Some(params) = &self.params {
            spec.params = params.clone();
        }
        spec.run_as.clone_from(&self.run_as);
        spec.queue.clone_from(&self.queue);
        spec.handler.clone_from(&self.handler);
        if let Some(env) = &self.env {
            spec.env.clone_from(env);
        }
        if let Some(tags) = &self.tags {
            spec.tags.clone_from(tags);
        }
        if let Some(owner) = &self.owner {
            spec.owner.clone_from(owner);
        }
        if let Some(retention) = self.retention {
            spec.retention = RetentionPolicy {
                keep_runs: retention.keep_runs.unwrap_or(spec.retention.keep_runs),
                keep_days: retention.keep_days.unwrap_or(spec.retention.keep_days),
            };
        }
        spec
    }
}

impl From<&JobSpec> for JobInput {
    /// Every field spelled out: what a merge patch is applied to.
    fn from(spec: &JobSpec) -> Self {
        Self {
            name: spec.name.clone(),
            description: Some(spec.description.clone()),
            schedule: spec.schedule.as_ref().map(ScheduleInput::from),
            script: spec.script.clone(),
            language: Some(spec.language),
            enabled: Some(spec.enabled),
            timeout_seconds: Some(spec.timeout_seconds),
            memory_limit_mb: Some(spec.memory_limit_mb),
            overlap: Some(spec.overlap),
            misfire: Some(spec.misfire),
            retry: Some(RetryInput {
                max_attempts: Some(spec.retry.max_attempts),
                backoff_seconds: Some(spec.retry.backoff_seconds),
            }),
            params: Some(spec.params.clone()),
            run_as: spec.run_as.clone(),
            retention: Some(RetentionInput {
                keep_runs: Some(spec.retention.keep_runs),
                keep_days: Some(spec.retention.keep_days),
            }),
            queue: spec.queue.clone(),
            handler: spec.handler.clone(),
            env: Some(spec.env.clone()),
            // Left out when empty, so job files of untagged jobs stay as they were.
            tags: (!spec.tags.is_empty()).then(|| spec.tags.clone()),
            // Likewise for jobs without an owner.
            owner: (!spec.owner.is_empty()).then(|| spec.owner.clone()),
            progress: None,
            version: None,
            id: None,
            next_fire_at: None,
            last_run: None,
            created_at: None,
            updated_at: None,
            schedule_description: None,
            recent_runs: None,
            avg_duration_ms: None,
        }
    }
}

impl From<&JobSchedule> for ScheduleInput {
    fn from(schedule: &JobSchedule) -> Self {
        Self {
            cron: schedule.cron.clone(),
            timezone: schedule.timezone.clone(),
        }
    }
}

/// A job as the API shows it: its current version's spec and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Free text for people.
    pub description: String,
    /// When it fires; `null` for a job that only runs on demand.
    pub schedule: Option<ScheduleInput>,
    /// The schedule in English (`At 09:00 on the last Friday of the month`).
    #[serde(default)]
    pub schedule_description: Option<String>,
    /// The script; left out of `GET /jobs` pages (read the job for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The language of `script`.
    #[schema(value_type = LanguageDoc)]
    pub language: Language,
    /// Whether the schedule fires (pause and resume change it without a new version).
    pub enabled: bool,
    /// Wall-clock limit of one run.
    pub timeout_seconds: u32,
    /// Heap limit of one run in MiB.
    pub memory_limit_mb: u32,
    /// Overlap policy.
    #[schema(value_type = OverlapDoc)]
    pub overlap: Overlap,
    /// Misfire policy.
    #[schema(value_type = MisfireDoc)]
    pub misfire: Misfire,
    /// Retry policy.
    pub retry: RetryView,
    /// `context.params` of every run.
    pub params: Value,
    /// The user credential `asUser()` uses.
    pub run_as: Option<String>,
    /// How much history is kept.
    pub retention: RetentionView,
    /// The queue key it consumes; `null` when it consumes none.
    pub queue: Option<String>,
    /// The exported function a module is called as; `null`: the default choice.
    #[serde(default)]
    pub handler: Option<String>,
    /// `process.env` of every run (`secret:NAME` values as written, never resolved).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its tags, in the order written.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Who looks after it (free text); empty when nobody is named.
    #[serde(default)]
    pub owner: String,
    /// What a UI draws of work in progress: the newest chain and the
    /// consumed queue's events (filled by `GET /jobs` and `GET /jobs/{job}`).
    pub progress: ProgressView,
    /// The current version, from 1; every edit adds one.
    pub version: i64,
    /// The next occurrence not yet fired; `null` when it does not fire.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_fire_at: Option<Timestamp>,
    /// Its newest run.
    pub last_run: Option<RunSummaryView>,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Progress of a job's long work. Each part is optional so that other
/// kinds of progress can sit beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    /// The job's newest chain, going or ended; `null` when it has none.
    #[serde(default)]
    pub chain: Option<crate::chains::ChainProgressView>,
    /// The events of the queue it consumes, by state; `null` when it
    /// consumes no queue (or outside `GET /jobs/{job}`).
    #[serde(default)]
    pub queue: Option<QueueCountsView>,
}

/// A retry policy as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryView {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry, in seconds.
    pub backoff_seconds: u32,
}

/// A retention policy as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetentionView {
    /// The newest runs kept.
    pub keep_runs: u32,
    /// Days an ended run is kept.
    pub keep_days: u32,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let spec = job.spec;
        Self {
            id: job.id,
            name: spec.name,
            description: spec.description,
            schedule_description: spec
                .schedule
                .as_ref()
                .and_then(|schedule| cron::Schedule::parse(&schedule.cron).ok())
                .map(|schedule| schedule.describe()),
            schedule: spec.schedule.as_ref().map(ScheduleInput::from),
            script: Some(spec.script),
            language: spec.language,
            enabled: spec.enabled,
            timeout_seconds: spec.timeout_seconds,
            memory_limit_mb: spec.memory_limit_mb,
            overlap: spec.overlap,
            misfire: spec.misfire,
            retry: RetryView {
                max_attempts: spec.retry.max_attempts,
                backoff_seconds: spec.retry.backoff_seconds,
            },
            params: spec.params,
            run_as: spec.run_as,
            retention: RetentionView {
                keep_runs: spec.retention.keep_runs,
                keep_days: spec.retention.keep_days,
            },
            queue: spec.queue,
            handler: spec.handler,
            env: spec.env,
            tags: spec.tags,
            owner: spec.owner,
            progress: ProgressView::default(),
            version: job.version,
            next_fire_at: job.next_fire_at,
            last_run: job.last_run.map(RunSummaryView::from),
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// A job as the jobs page lists it: the job, its 20 newest runs and their
/// average duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobListItem {
    /// The job.
    #[serde(flatten)]
    pub job: JobView,
    /// Its newest runs (at most 20), newest first.
    pub recent_runs: Vec<RecentRunView>,
    /// The mean duration of those that ran to an end, in milliseconds.
    pub avg_duration_ms: Option<i64>,
}

/// One of a job's recent runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecentRunView {
    /// Its id.
    pub id: i64,
    /// Its status.
    #[schema(value_type = RunStatusDoc)]
    pub status: RunStatus,
    /// The occurrence it is for.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    /// From start to end, once it ended.
    pub duration_ms: Option<i64>,
}

impl From<store::RecentRun> for RecentRunView {
    fn from(run: store::RecentRun) -> Self {
        Self {
            id: run.id,
            status: run.status,
            scheduled_for: run.scheduled_for,
            duration_ms: run.duration_ms,
        }
    }
}

/// One page of the jobs list, with how many jobs match in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    /// The jobs, in name order.
    pub items: Vec<JobListItem>,
    /// Present when more jobs follow: pass it as `cursor` for the next page.
    pub next_cursor: Option<String>,
    /// How many jobs match the filters, on every page.
    pub total: u64,
}

/// A job's newest run, as job views show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunSummaryView {
    /// Its id.
    pub id: i64,
    /// Its status.
    #[schema(value_type = RunStatusDoc)]
    pub status: RunStatus,
    /// What created it.
    #[schema(value_type = TriggerDoc)]
    pub trigger: Trigger,
    /// The occurrence it is for.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<Timestamp>,
    /// When it started.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
}

impl From<RunSummary> for RunSummaryView {
    fn from(run: RunSummary) -> Self {
        Self {
            id: run.id,
            status: run.status,
            trigger: run.trigger,
            scheduled_for: run.scheduled_for,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// One saved version of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobVersionView {
    /// The version, from 1.
    pub version: i64,
    /// Who saved it (the token's name).
    pub actor: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The job as saved, every field spelled out.
    pub spec: JobInput,
}

impl From<JobVersion> for JobVersionView {
    fn from(version: JobVersion) -> Self {
        Self {
            version: version.version,
            actor: version.actor,
            created_at: version.created_at,
            spec: JobInput::from(&version.spec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_round_trips_through_its_input_form() {
        let mut spec = JobSpec::new("nightly", "return 1");
        spec.schedule = Some(JobSchedule {
            cron: "0 2 * * *".into(),
            timezone: "Europe/Berlin".into(),
        });
        spec.overlap = Overlap::QueueOne;
        spec.retry.max_attempts = 3;
        spec.run_as = Some("ops".into());
        assert_eq!(JobInput::from(&spec).to_spec(), spec);
    }

    #[test]
    fn omitted_fields_take_the_store_defaults() {
        let input: JobInput =
            serde_json::from_str(r#"{"name": "a", "script": "return 1"}"#).unwrap();
        assert_eq!(input.to_spec(), JobSpec::new("a", "return 1"));
        let input: JobInput = serde_json::from_str(
            r#"{"name": "a", "script": "", "retry": {"max_attempts": 4}, "schedule": {"cron": "@daily"}}"#,
        )
        .unwrap();
        let spec = input.to_spec();
        assert_eq!(spec.retry.max_attempts, 4);
        assert_eq!(spec.retry.backoff_seconds, 30);
        assert_eq!(spec.schedule.unwrap().timezone, "UTC");
    }
}
