//! A job's types: the spec its author writes ([`JobSpec`], checked against
//! the store's bounds), its policies, and the job and its versions as read
//! back. Serialisable with serde in `snake_case`; instants are
//! [`Timestamp`]s (stored as Unix milliseconds).

use std::{collections::BTreeMap, fmt};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    chains::ChainSummary,
    error::SpecProblem,
    runs::{RecentRun, RunSummary},
    shared::{Page, string_enum},
};

/// The largest script, in bytes of UTF-8.
pub const MAX_SCRIPT_BYTES: usize = 1024 * 1024;
/// The longest job name, in characters.
pub const MAX_JOB_NAME_CHARS: usize = 200;
/// The shortest and longest allowed run timeout, in seconds (1 s, 24 h).
pub const TIMEOUT_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 1..=86_400;
/// The memory limit of a job that sets none, in MiB.
pub const DEFAULT_MEMORY_LIMIT_MB: u32 = 256;
/// The allowed memory limits, in MiB.
pub const MEMORY_LIMIT_MB_RANGE: std::ops::RangeInclusive<u32> = 1..=16_384;
/// The allowed total attempts of a run (1 = no retries).
pub const MAX_ATTEMPTS_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// One version of a job: what its author writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Unique name: letters, digits, `.`, `_`, `-`; not only digits (so a
    /// path segment is either an id or a name).
    pub name: String,
    /// Free text for people.
    #[serde(default)]
    pub description: String,
    /// The script, in either form; at most [`MAX_SCRIPT_BYTES`].
    pub script: String,
    /// The language of `script` (versions saved before it existed are JavaScript).
    #[serde(default)]
    pub language: Language,
    /// When it fires; `None` for a job that only runs on demand.
    #[serde(default)]
    pub schedule: Option<JobSchedule>,
    /// Whether the schedule fires. [`Job::spec`] shows the live flag, which
    /// pause and resume change without a new version.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Wall-clock limit of one run, within [`TIMEOUT_SECONDS_RANGE`].
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
    /// Heap limit of one run, within [`MEMORY_LIMIT_MB_RANGE`].
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u32,
    /// What happens when an occurrence comes while a run is active.
    #[serde(default)]
    pub overlap: Overlap,
    /// What happens to occurrences that passed while nothing was running.
    #[serde(default)]
    pub misfire: Misfire,
    /// Retries of failed, timed-out and interrupted runs.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// `context.params` of every run (a manual run may pass its own).
    #[serde(default = "empty_object")]
    pub params: Value,
    /// The named user credential `asUser()` uses, if any.
    #[serde(default)]
    pub run_as: Option<String>,
    /// How much of this job's history is kept.
    #[serde(default)]
    pub retention: RetentionPolicy,
    /// The `@forge/events` queue key this job consumes: each event pushed
    /// to it becomes an `event` run. Unique among jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The exported function a module-style script is called as (Forge's
    /// `handler: index.trigger`); `None`: `run`, `handler`, the default
    /// export or the only exported function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// `process.env` of every run: name → value, or `secret:NAME` for the
    /// stored secret `NAME` (Forge's `forge variables set`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Short words to find the job by (`GET /jobs?tag=`): at most
    /// [`MAX_TAGS`], each a tag as [`is_tag`] says, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Who looks after the job (a name or an e-mail address; free text, at
    /// most [`MAX_OWNER_CHARS`] characters on one line). Empty: nobody named.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
}

/// The longest owner, in characters.
pub const MAX_OWNER_CHARS: usize = 200;

/// The most `env` entries a job may have.
const MAX_ENV_ENTRIES: usize = 100;
/// The longest `env` value, in bytes.
const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;

impl JobSpec {
    /// A spec with every default: enabled, no schedule.
    pub fn new(name: impl Into<String>, script: impl Into<String>) -> JobSpec {
        JobSpec {
            name: name.into(),
            description: String::new(),
            script: script.into(),
            language: Language::JavaScript,
            schedule: None,
            enabled: true,
            timeout_seconds: default_timeout_seconds(),
            memory_limit_mb: default_memory_limit_mb(),
            overlap: Overlap::default(),
            misfire: Misfire::default(),
            retry: RetryPolicy::default(),
            params: empty_object(),
            run_as: None,
            retention: RetentionPolicy::default(),
            queue: None,
            handler: None,
            env: BTreeMap::new(),
            tags: Vec::new(),
            owner: String::new(),
        }
    }

    /// Checks every bound the store knows (names, sizes, ranges). Cron
    /// syntax, zones and script syntax are checked by the layers that know
    /// them. Returns the first problem with the field path it concerns.
    pub fn check(&self) -> Result<(), SpecProblem> {
        check_job_name(&self.name)?;
        let problem = |field: &'static str, reason: String| Err(SpecProblem { field, reason });
        if self.script.len() > MAX_SCRIPT_BYTES {
            return problem(
                "script",
                format!(
                    "is {} bytes, more than the limit of {MAX_SCRIPT_BYTES}",
                    self.script.len()
                ),
            );
        }
        if let Some(schedule) = &self.schedule {
            if schedule.cron.trim().is_empty() || schedule.cron.len() > 1000 {
                return problem("schedule.cron", "must be 1 to 1000 characters".into());
            }
            if schedule.timezone.is_empty() || schedule.timezone.len() > 100 {
                return problem("schedule.timezone", "must be 1 to 100 characters".into());
            }
        }
        if !TIMEOUT_SECONDS_RANGE.contains(&self.timeout_seconds) {
            return problem(
                "timeout_seconds",
                "must be between 1 and 86400 (24 hours)".into(),
            );
        }
        if !MEMORY_LIMIT_MB_RANGE.contains(&self.memory_limit_mb) {
            return problem("memory_limit_mb", "must be between 1 and 16384".into());
        }
        if !MAX_ATTEMPTS_RANGE.contains(&self.retry.max_attempts) {
            return problem("retry.max_attempts", "must be between 1 and 100".into());
        }
        if self.retry.backoff_seconds > 86_400 {
            return problem(
                "retry.backoff_seconds",
                "must be at most 86400 (24 hours)".into(),
            );
        }
        if self.retention.keep_runs == 0 || self.retention.keep_runs > 1_000_000 {
            return problem(
                "retention.keep_runs",
                "must be between 1 and 1000000".into(),
            );
        }
        if self.retention.keep_days == 0 || self.retention.keep_days > 36_500 {
            return problem("retention.keep_days", "must be between 1 and 36500".into());
        }
        if !self.params.is_object() {
            return problem("params", "must be a JSON object".into());
        }
        if let Some(queue) = &self.queue {
            crate::queues::check_queue_key(queue).map_err(|reason| SpecProblem {
                field: "queue",
                reason,
            })?;
        }
        if self.description.len() > 10_000 {
            return problem("description", "must be at most 10000 bytes".into());
        }
        if let Some(handler) = &self.handler
            && !is_identifier(handler)
        {
            return problem(
                "handler",
                "must be the name of an exported function (letters, digits, _ and $, not starting with a digit; at most 200 characters)".into(),
            );
        }
        check_tags(&self.tags)?;
        check_owner(&self.owner)?;
        check_env(&self.env)
    }
}

/// The most tags a job has.
pub const MAX_TAGS: usize = 20;
/// The longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;

/// Whether `tag` is a tag: 1 to [`MAX_TAG_CHARS`] letters, digits, `.`, `_`, `-`.
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG_CHARS
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `tags`: short words, each once.
fn check_tags(tags: &[String]) -> Result<(), SpecProblem> {
    let problem = |reason: String| {
        Err(SpecProblem {
            field: "tags",
            reason,
        })
    };
    if tags.len() > MAX_TAGS {
        return problem(format!("may have at most {MAX_TAGS} tags"));
    }
    for (i, tag) in tags.iter().enumerate() {
        if !is_tag(tag) {
            return problem(format!(
                "{tag:?} is not a tag: use 1 to {MAX_TAG_CHARS} letters, digits, '.', '_' or '-'"
            ));
        }
        if tags[..i].contains(tag) {
            return problem(format!("{tag:?} is listed twice"));
        }
    }
    Ok(())
}

/// `owner`: one line of at most [`MAX_OWNER_CHARS`] characters.
fn check_owner(owner: &str) -> Result<(), SpecProblem> {
    let reason = if owner.chars().count() > MAX_OWNER_CHARS {
        format!("must be at most {MAX_OWNER_CHARS} characters")
    } else if owner.chars().any(char::is_control) {
        "must be one line without control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(SpecProblem {
        field: "owner",
        reason,
    })
}

/// A JavaScript identifier as an export name is written (ASCII, ≤ 200 characters).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && name.len() <= 200
}

/// `env`: names as shells write them, bounded values, `secret:` naming a secret.
fn check_env(env: &BTreeMap<String, String>) -> Result<(), SpecProblem> {
    let problem = |reason: String| {
        Err(SpecProblem {
            field: "env",
            reason,
        })
    };
    if env.len() > MAX_ENV_ENTRIES {
        return problem(format!("may have at most {MAX_ENV_ENTRIES} variables"));
    }
    for (name, value) in env {
        let valid_name = name.len() <= 200
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return problem(format!(
                "variable {name:?}: names are letters, digits and _, not starting with a digit"
            ));
        }
        if value.len() > MAX_ENV_VALUE_BYTES {
            return problem(format!(
                "variable {name}: the value is more than {MAX_ENV_VALUE_BYTES} bytes"
            ));
        }
        if value
            .strip_prefix("secret:")
            .is_some_and(|secret| secret.trim().is_empty())
        {
            return problem(format!(
                "variable {name}: 'secret:' must be followed by the secret's name"
            ));
        }
    }
    Ok(())
}

/// A job name that breaks the rules of [`JobSpec::name`], and why.
fn check_job_name(name: &str) -> Result<(), SpecProblem> {
    let problem = |reason: &str| {
        Err(SpecProblem {
            field: "name",
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.chars().count() > MAX_JOB_NAME_CHARS {
        return problem("must be 1 to 200 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return problem("may contain only letters, digits, '.', '_' and '-'");
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return problem("must not be only digits (that would read as a job id)");
    }
    Ok(())
}

fn default_true() -> bool {
    true
}
fn default_timeout_seconds() -> u32 {
    900
}
fn default_memory_limit_mb() -> u32 {
    DEFAULT_MEMORY_LIMIT_MB
}
fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}
fn default_timezone() -> String {
    "UTC".to_string()
}

/// A cron expression and the IANA zone it is read in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSchedule {
    /// 5 or 6 fields, or a macro.
    pub cron: String,
    /// IANA zone name; `UTC` when not given.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

string_enum! {
    /// The language a job's script is written in.
    #[derive(Default)]
    pub enum Language {
        /// JavaScript, run as written (the default, and what versions saved
        /// before the field existed were).
        #[default]
        JavaScript => "javascript",
        /// TypeScript: types are stripped before the script runs.
        TypeScript => "typescript",
    }
}

string_enum! {
    /// What happens when an occurrence comes while a run of the job is
    /// queued or running.
    #[derive(Default)]
    pub enum Overlap {
        /// Record a `skipped` run for the occurrence (the default).
        #[default]
        Skip => "skip",
        /// Queue it behind the running one, unless one is already queued.
        QueueOne => "queue_one",
        /// Run it alongside.
        Allow => "allow",
        /// Cancel the running one, then run it.
        Replace => "replace",
    }
}

string_enum! {
    /// What happens to occurrences that passed while nothing was firing
    /// (downtime, a paused process).
    #[derive(Default)]
    pub enum Misfire {
        /// One `missed` row counting them, and one catch-up run (the default).
        #[default]
        RunOnce => "run_once",
        /// Only the `missed` row.
        Skip => "skip",
        /// A catch-up run for each, at most 100; older ones are counted missed.
        RunAll => "run_all",
    }
}

/// Retries of runs that ended `failed`, `timed_out` or `interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in total, the first included: 1 (the default) never retries.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first retry; each later one doubles it (with jitter).
    #[serde(default = "default_backoff_seconds")]
    pub backoff_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            backoff_seconds: default_backoff_seconds(),
        }
    }
}

fn default_max_attempts() -> u32 {
    1
}
fn default_backoff_seconds() -> u32 {
    30
}

/// How much history of a job is kept: runs beyond either bound are pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// The newest runs kept (default 1,000).
    #[serde(default = "default_keep_runs")]
    pub keep_runs: u32,
    /// Days a finished run is kept (default 30).
    #[serde(default = "default_keep_days")]
    pub keep_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            keep_runs: default_keep_runs(),
            keep_days: default_keep_days(),
        }
    }
}

fn default_keep_runs() -> u32 {
    1000
}
fn default_keep_days() -> u32 {
    30
}

/// A job as it is now: its current version's spec and its scheduling state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// Its current version, from 1.
    pub version: i64,
    /// The current version's spec; `enabled` is the live flag.
    pub spec: JobSpec,
    /// The next occurrence not yet claimed; `None` when it does not fire.
    pub next_fire_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed (edit, pause, resume).
    pub updated_at: Timestamp,
    /// Its newest run, if any.
    pub last_run: Option<RunSummary>,
}

/// One saved version of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobVersion {
    /// The job.
    pub job_id: i64,
    /// The version, from 1.
    pub version: i64,
    /// The spec as saved.
    pub spec: JobSpec,
    /// Who saved it.
    pub actor: String,
    /// When.
    pub created_at: Timestamp,
}

/// What the scheduler needs of an enabled job with a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// The job.
    pub id: i64,
    /// Its current version.
    pub version: i64,
    /// Its schedule.
    pub schedule: JobSchedule,
    /// The next occurrence not yet claimed.
    pub next_fire_at: Option<Timestamp>,
    /// Its overlap policy.
    pub overlap: Overlap,
    /// Its misfire policy.
    pub misfire: Misfire,
}

/// One job as the jobs page shows it ([`Store::jobs_overview`](crate::Store::jobs_overview)).
#[derive(Debug, Clone, PartialEq)]
pub struct JobOverview {
    /// The job.
    pub job: Job,
    /// Its newest runs, newest first.
    pub recent_runs: Vec<RecentRun>,
    /// The mean duration of those of them that started and ended, rounded
    /// to the millisecond; `None` when none did.
    pub avg_duration_ms: Option<i64>,
    /// Its newest chain, going or ended; `None` when it never had one.
    pub newest_chain: Option<ChainSummary>,
}

/// A page of the jobs page and how many jobs match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsOverview {
    /// The jobs, in name order.
    pub page: Page<JobOverview>,
    /// How many jobs match the filter, on every page.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_with_only_the_required_fields_gets_every_default() {
        let spec: JobSpec =
            serde_json::from_str(r#"{"name": "nightly", "script": "return 1"}"#).unwrap();
        assert_eq!(spec, JobSpec::new("nightly", "return 1"));
        assert_eq!(spec.timeout_seconds, 900);
        assert_eq!(spec.overlap, Overlap::Skip);
        assert_eq!(spec.misfire, Misfire::RunOnce);
        assert_eq!(spec.retry.max_attempts, 1);
        assert_eq!(spec.retention.keep_runs, 1000);
        assert_eq!(spec.retention.keep_days, 30);
    }

    #[test]
    fn handler_and_env_are_checked() {
        let mut spec = JobSpec::new("a", "");
        spec.handler = Some("trigger".into());
        spec.env.insert("REGION".into(), "eu".into());
        spec.env.insert("API_KEY".into(), "secret:jira-key".into());
        assert_eq!(spec.check(), Ok(()));
        let bad = |edit: &dyn Fn(&mut JobSpec)| {
            let mut spec = spec.clone();
            edit(&mut spec);
            spec.check().unwrap_err()
        };
        assert_eq!(
            bad(&|s| s.handler = Some("index.trigger".into())).field,
            "handler"
        );
        assert_eq!(bad(&|s| s.handler = Some("1x".into())).field, "handler");
        let problem = bad(&|s| {
            s.env.insert("NOT-A-NAME".into(), "x".into());
        });
        assert_eq!(problem.field, "env");
        assert!(problem.reason.contains("NOT-A-NAME"), "{problem}");
        let problem = bad(&|s| {
            s.env.insert("T".into(), "secret: ".into());
        });
        assert!(problem.reason.contains("secret's name"), "{problem}");
        let problem = bad(&|s| {
            s.env
                .insert("BIG".into(), "x".repeat(MAX_ENV_VALUE_BYTES + 1));
        });
        assert!(problem.reason.contains("BIG"), "{problem}");
        let problem = bad(&|s| {
            s.env = (0..=MAX_ENV_ENTRIES)
                .map(|i| (format!("V{i}"), String::new()))
                .collect();
        });
        assert!(problem.reason.contains("at most 100"), "{problem}");
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["env"]["API_KEY"], "secret:jira-key");
        assert_eq!(serde_json::from_value::<JobSpec>(json).unwrap(), spec);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<JobSpec>(r#"{"name": "a", "script": "", "colour": 1}"#)
            .unwrap_err();
        assert!(error.to_string().contains("colour"), "{error}");
    }

    #[test]
    fn spec_bounds_name_the_field() {
        let base = JobSpec::new("ok-name_1.x", "");
        assert_eq!(base.check(), Ok(()));
        let cases: Vec<(JobSpec, &str)> = vec![
            (JobSpec::new("", ""), "name"),
            (JobSpec::new("12345", ""), "name"),
            (JobSpec::new("with space", ""), "name"),
            (JobSpec::new("x".repeat(201), ""), "name"),
            (
                JobSpec::new("a", "x".repeat(MAX_SCRIPT_BYTES + 1)),
                "script",
            ),
            (
                JobSpec {
                    timeout_seconds: 86_401,
                    ..base.clone()
                },
                "timeout_seconds",
            ),
            (
                JobSpec {
                    timeout_seconds: 0,
                    ..base.clone()
                },
                "timeout_seconds",
            ),
            (
                JobSpec {
                    retry: RetryPolicy {
                        max_attempts: 0,
                        backoff_seconds: 1,
                    },
                    ..base.clone()
                },
                "retry.max_attempts",
            ),
            (
                JobSpec {
                    retention: RetentionPolicy {
                        keep_runs: 0,
                        keep_days: 1,
                    },
                    ..base.clone()
                },
                "retention.keep_runs",
            ),
            (
                JobSpec {
                    params: Value::Bool(true),
                    ..base.clone()
                },
                "params",
            ),
            (
                JobSpec {
                    schedule: Some(JobSchedule {
                        cron: " ".into(),
                        timezone: "UTC".into(),
                    }),
                    ..base.clone()
                },
                "schedule.cron",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(spec.check().unwrap_err().field, field, "{spec:?}");
        }
    }
}
