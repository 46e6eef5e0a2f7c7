//! Jobs: every edit is a new version row; the `jobs` row holds the current
//! version and the scheduling state (`next_fire_at`). Every write is audited
//! in the same transaction and, on PostgreSQL, announced to other nodes on
//! [`JOBS_CHANNEL`](crate::JOBS_CHANNEL) when it commits.

pub(crate) mod sql;
mod types;

use std::fmt;

use jiff::Timestamp;
use serde_json::json;

use crate::{
    codec::{
        Columns, commit_or_rollback, decode_cursor, encode_cursor, from_json, instant, list_limit,
        opt_instant, opt_ms, parse_enum, small,
    },
    error::{DbResultExt, StoreError},
    feed::JOBS_CHANNEL,
    runs::{RecentRun, RunStatus, RunSummary},
    shared::Page,
    store::{Store, with_backend, with_writer},
};

pub use self::types::{
    DEFAULT_MEMORY_LIMIT_MB, Job, JobOverview, JobSchedule, JobSpec, JobVersion, JobsOverview,
    Language, MAX_ATTEMPTS_RANGE, MAX_JOB_NAME_CHARS, MAX_OWNER_CHARS, MAX_SCRIPT_BYTES,
    MAX_TAG_CHARS, MAX_TAGS, MEMORY_LIMIT_MB_RANGE, Misfire, Overlap, RetentionPolicy, RetryPolicy,
    ScheduledJob, TIMEOUT_SECONDS_RANGE, is_tag,
};

/// A job to create (version 1).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What the author wrote.
    pub spec: JobSpec,
    /// Its first occurrence, computed by the caller from the schedule;
    /// ignored (stored as none) when the spec is disabled or unscheduled.
    pub next_fire_at: Option<Timestamp>,
    /// Who creates it, for the audit log.
    pub actor: String,
}

/// A new version of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobUpdate {
    /// The job.
    pub id: i64,
    /// The new spec (it may rename the job).
    pub spec: JobSpec,
    /// Refuse with [`StoreError::VersionConflict`] unless the job is at this
    /// version (optimistic concurrency); `None` overwrites whatever is there.
    pub expected_version: Option<i64>,
    /// The next occurrence under the new spec; ignored when it does not fire.
    pub next_fire_at: Option<Timestamp>,
    /// Who changes it.
    pub actor: String,
}

/// Pauses or resumes a job without a new version.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnable {
    /// The job.
    pub id: i64,
    /// Resume (`true`) or pause (`false`).
    pub enabled: bool,
    /// The next occurrence after resuming; ignored when pausing or when the
    /// job has no schedule.
    pub next_fire_at: Option<Timestamp>,
    /// Who does it.
    pub actor: String,
}

/// A job by id or by name, as API paths name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobRef {
    /// By id.
    Id(i64),
    /// By name.
    Name(String),
}

impl JobRef {
    /// Digits are an id (names may not be only digits); anything else a name.
    pub fn parse(text: &str) -> JobRef {
        match text.parse::<i64>() {
            Ok(id) if text.bytes().all(|b| b.is_ascii_digit()) => JobRef::Id(id),
            _ => JobRef::Name(text.to_string()),
        }
    }
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobRef::Id(id) => write!(f, "{id}"),
            JobRef::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// One page request of [`Store::job_list`]: jobs in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs whose name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Only enabled (`true`) or paused (`false`) jobs.
    pub enabled: Option<bool>,
    /// [`Page::next_cursor`] of the previous page.
    pub cursor: Option<String>,
    /// Jobs per page; 0 means the default (see [`DEFAULT_LIST_LIMIT`](crate::DEFAULT_LIST_LIMIT)).
    pub limit: u32,
    /// Only jobs whose newest run has this status, or that never ran.
    pub last_run: Option<LastRunFilter>,
    /// Only jobs with this tag (exact).
    pub tag: Option<String>,
    /// Only jobs whose owner contains this text (case-insensitive).
    pub owner: Option<String>,
}

/// The `tags` column of a job with `tags`: `,a,b,`, or empty.
fn tag_column(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(",{},", tags.join(","))
    }
}

/// What the tag filter looks for in the `tags` column: `,tag,`.
fn tag_needle(tag: Option<&str>) -> Option<String> {
    tag.filter(|tag| !tag.is_empty())
        .map(|tag| format!(",{tag},"))
}

/// A filter on a job's newest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastRunFilter {
    /// The job has no run at all.
    Never,
    /// The newest run has this status.
    Status(RunStatus),
}

impl LastRunFilter {
    /// The value the list statements compare with: a status, or `none`.
    fn as_str(self) -> &'static str {
        match self {
            LastRunFilter::Never => "none",
            LastRunFilter::Status(status) => status.as_str(),
        }
    }
}

const JOB_CURSOR: &str = "job";

/// The columns a spec fixes on the `jobs` row.
struct JobColumns<'a> {
    name: &'a str,
    enabled: bool,
    cron: Option<&'a str>,
    timezone: Option<&'a str>,
    overlap: &'static str,
    misfire: &'static str,
    keep_runs: i64,
    keep_days: i64,
    next_fire_at_ms: Option<i64>,
    /// `tags` as `,a,b,` (empty without tags), for the tag filter.
    tags: String,
    /// `owner`, for the owner filter.
    owner: &'a str,
    spec_json: String,
}

impl<'a> JobColumns<'a> {
    fn of(spec: &'a JobSpec, next_fire_at: Option<Timestamp>) -> Result<Self, StoreError> {
        spec.check()?;
        let fires = spec.enabled && spec.schedule.is_some();
        Ok(JobColumns {
            name: &spec.name,
            enabled: spec.enabled,
            cron: spec.schedule.as_ref().map(|s| s.cron.as_str()),
            timezone: spec.schedule.as_ref().map(|s| s.timezone.as_str()),
            overlap: spec.overlap.as_str(),
            misfire: spec.misfire.as_str(),
            keep_runs: i64::from(spec.retention.keep_runs),
            keep_days: i64::from(spec.retention.keep_days),
            next_fire_at_ms: if fires { opt_ms(next_fire_at) } else { None },
            tags: tag_column(&spec.tags),
            owner: &spec.owner,
            spec_json: crate::codec::to_json("job spec", spec)?,
        })
    }
}

/// Appends the audit entry of a job change on `$conn` (the change's
/// transaction); evaluates to `Result<(), DatabaseError>`.
macro_rules! audit_job {
    ($conn:expr, $now:expr, $actor:expr, $action:expr, $id:expr, $detail:expr) => {
        sqlx::query(crate::audit::sql::AUDIT_INSERT)
            .bind($now)
            .bind($actor)
            .bind($action)
            .bind(format!("job:{}", $id))
            .bind($detail.to_string())
            .execute($conn)
            .await
            .db()
            .map(drop)
    };
}

/// Tells other nodes (PostgreSQL) on `$conn` that job `$id` changed, at
/// commit; evaluates to `Result<(), DatabaseError>`.
macro_rules! notify_job {
    ($notify:expr, $conn:expr, $id:expr) => {
        match $notify {
            Some(notify) => sqlx::query(notify)
                .bind(JOBS_CHANNEL)
                .bind($id.to_string())
                .execute($conn)
                .await
                .db()
                .map(drop),
            None => Ok(()),
        }
    };
}

/// Sets the queue key job `$id` consumes on `$conn` (the save's
/// transaction); evaluates to `Result<(), StoreError>`: a key another job
/// consumes is an invalid `queue` naming that job.
macro_rules! set_queue {
    ($conn:expr, $id:expr, $queue:expr) => {{
        let queue: Option<&str> = $queue;
        let id: i64 = $id;
        let taken: Option<(String,)> = match queue {
            Some(queue) => {
                sqlx::query_as("SELECT name FROM jobs WHERE queue_key = $1 AND id <> $2")
                    .bind(queue)
                    .bind(id)
                    .fetch_optional(&mut *$conn)
                    .await
                    .db()?
            }
            None => None,
        };
        match taken {
            Some((other,)) => Err(StoreError::InvalidSpec(crate::error::SpecProblem {
                field: "queue",
                reason: format!("is already consumed by job {other:?}; a queue has one consumer"),
            })),
            None => sqlx::query("UPDATE jobs SET queue_key = $2 WHERE id = $1")
                .bind(id)
                .bind(queue)
                .execute($conn)
                .await
                .db()
                .map(drop)
                .map_err(|error| {
                    unique_to(error, || {
                        StoreError::InvalidSpec(crate::error::SpecProblem {
                            field: "queue",
                            reason: "is already consumed by another job; a queue has one consumer"
                                .into(),
                        })
                    })
                }),
        }
    }};
}
pub(crate) use set_queue;

impl Store {
    /// Creates a job at version 1. A taken name is [`StoreError::NameTaken`].
    pub async fn job_create(&self, new: &NewJob) -> Result<Job, StoreError> {
        let columns = JobColumns::of(&new.spec, new.next_fire_at)?;
        let now = self.now_ms();
        let name_taken = || StoreError::NameTaken {
            name: new.spec.name.clone(),
        };
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let (id,): (i64,) = sqlx::query_as(sql::JOB_INSERT)
                    .bind(columns.name)
                    .bind(columns.enabled)
                    .bind(columns.cron)
                    .bind(columns.timezone)
                    .bind(columns.overlap)
                    .bind(columns.misfire)
                    .bind(columns.keep_runs)
                    .bind(columns.keep_days)
                    .bind(columns.next_fire_at_ms)
                    .bind(now)
                    .bind(&columns.tags)
                    .bind(columns.owner)
                    .fetch_one(&mut *tx)
                    .await
                    .db()
                    .map_err(|error| unique_to(error, name_taken))?;
                crate::jobs::set_queue!(&mut *tx, id, new.spec.queue.as_deref())?;
                sqlx::query(sql::JOB_VERSION_INSERT)
                    .bind(id)
                    .bind(1_i64)
                    .bind(&columns.spec_json)
                    .bind(&new.actor)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                audit_job!(
                    &mut *tx,
                    now,
                    &new.actor,
                    "job.create",
                    id,
                    json!({"name": columns.name, "version": 1})
                )?;
                notify_job!(sql.notify, &mut *tx, id)?;
                let row = sqlx::query(sql::JOB_GET_BY_ID)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .db()?;
                decode_job(&row)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Saves a new version of a job and makes it current.
    pub async fn job_update(&self, update: &JobUpdate) -> Result<Job, StoreError> {
        let columns = JobColumns::of(&update.spec, update.next_fire_at)?;
        let now = self.now_ms();
        let name_taken = || StoreError::NameTaken {
            name: update.spec.name.clone(),
        };
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let current: Option<(i64,)> = sqlx::query_as(sql.jobs.job_version_for_update)
                    .bind(update.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                let Some((current,)) = current else {
                    return Err(StoreError::JobNotFound {
                        job: update.id.to_string(),
                    });
                };
                if let Some(expected) = update.expected_version
                    && expected != current
                {
                    return Err(StoreError::VersionConflict {
                        id: update.id,
                        expected,
                        actual: current,
                    });
                }
                let version = current + 1;
                sqlx::query(sql::JOB_UPDATE)
                    .bind(update.id)
                    .bind(version)
                    .bind(columns.name)
                    .bind(columns.enabled)
                    .bind(columns.cron)
                    .bind(columns.timezone)
                    .bind(columns.overlap)
                    .bind(columns.misfire)
                    .bind(columns.keep_runs)
                    .bind(columns.keep_days)
                    .bind(columns.next_fire_at_ms)
                    .bind(now)
                    .bind(&columns.tags)
                    .bind(columns.owner)
                    .execute(&mut *tx)
                    .await
                    .db()
                    .map_err(|error| unique_to(error, name_taken))?;
                crate::jobs::set_queue!(&mut *tx, update.id, update.spec.queue.as_deref())?;
                sqlx::query(sql::JOB_VERSION_INSERT)
                    .bind(update.id)
                    .bind(version)
                    .bind(&columns.spec_json)
                    .bind(&update.actor)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                audit_job!(
                    &mut *tx,
                    now,
                    &update.actor,
                    "job.update",
                    update.id,
                    json!({"name": columns.name, "version": version})
                )?;
                notify_job!(sql.notify, &mut *tx, update.id)?;
                let row = sqlx::query(sql::JOB_GET_BY_ID)
                    .bind(update.id)
                    .fetch_one(&mut *tx)
                    .await
                    .db()?;
                decode_job(&row)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Pauses or resumes a job: no new version, but audited.
    pub async fn job_set_enabled(&self, change: &JobEnable) -> Result<Job, StoreError> {
        let now = self.now_ms();
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let scheduled: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM jobs WHERE id = $1 AND schedule_cron IS NOT NULL",
                )
                .bind(change.id)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
                let next = if change.enabled && scheduled.is_some() {
                    opt_ms(change.next_fire_at)
                } else {
                    None
                };
                let updated: Option<(i64,)> = sqlx::query_as(sql::JOB_SET_ENABLED)
                    .bind(change.id)
                    .bind(change.enabled)
                    .bind(next)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                if updated.is_none() {
                    return Err(StoreError::JobNotFound {
                        job: change.id.to_string(),
                    });
                }
                let action = if change.enabled {
                    "job.resume"
                } else {
                    "job.pause"
                };
                audit_job!(&mut *tx, now, &change.actor, action, change.id, json!({}))?;
                notify_job!(sql.notify, &mut *tx, change.id)?;
                let row = sqlx::query(sql::JOB_GET_BY_ID)
                    .bind(change.id)
                    .fetch_one(&mut *tx)
                    .await
                    .db()?;
                decode_job(&row)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Deletes a job with its versions, runs and logs. Returns whether it existed.
    pub async fn job_delete(&self, id: i64, actor: &str) -> Result<bool, StoreError> {
        let now = self.now_ms();
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let deleted: Option<(String,)> = sqlx::query_as(sql::JOB_DELETE)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                let Some((name,)) = deleted else {
                    return Ok(false);
                };
                audit_job!(
                    &mut *tx,
                    now,
                    actor,
                    "job.delete",
                    id,
                    json!({"name": name})
                )?;
                notify_job!(sql.notify, &mut *tx, id)?;
                Ok(true)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// The job with this id or name, with its current spec and newest run.
    pub async fn job_get(&self, job: &JobRef) -> Result<Option<Job>, StoreError> {
        let row = with_backend!(self, |pool, _sql| {
            let query = match job {
                JobRef::Id(id) => sqlx::query(sql::JOB_GET_BY_ID).bind(*id),
                JobRef::Name(name) => sqlx::query(sql::JOB_GET_BY_NAME).bind(name.as_str()),
            };
            match query.fetch_optional(pool).await.db()? {
                Some(row) => Some(decode_job(&row)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// One page of jobs in name order (code point order on both engines).
    pub async fn job_list(&self, filter: &JobFilter) -> Result<Page<Job>, StoreError> {
        let after = match &filter.cursor {
            Some(cursor) => decode_cursor(JOB_CURSOR, cursor)?,
            None => String::new(),
        };
        let limit = list_limit(filter.limit);
        let search = filter.search.as_deref().filter(|s| !s.is_empty());
        let owner = filter.owner.as_deref().filter(|s| !s.is_empty());
        let mut items = with_backend!(self, |pool, sql| {
            let rows = sqlx::query(sql.jobs.job_list)
                .bind(&after)
                .bind(search)
                .bind(filter.enabled)
                .bind(i64::from(limit) + 1)
                .bind(filter.last_run.map(LastRunFilter::as_str))
                .bind(tag_needle(filter.tag.as_deref()))
                .bind(owner)
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(decode_job).collect::<Result<Vec<_>, _>>()?
        });
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|job| encode_cursor(JOB_CURSOR, &job.spec.name))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// How many jobs match `filter`'s search, enabled and last-run
    /// conditions (its cursor and limit are ignored).
    pub async fn job_count(&self, filter: &JobFilter) -> Result<u64, StoreError> {
        let search = filter.search.as_deref().filter(|s| !s.is_empty());
        let owner = filter.owner.as_deref().filter(|s| !s.is_empty());
        let (n,): (i64,) = with_backend!(self, |pool, sql| {
            let query = match filter.last_run {
                None => sqlx::query_as(sql.jobs.job_count)
                    .bind(search)
                    .bind(filter.enabled)
                    .bind(tag_needle(filter.tag.as_deref()))
                    .bind(owner),
                Some(last_run) => sqlx::query_as(sql.jobs.job_count_by_last_run)
                    .bind(search)
                    .bind(filter.enabled)
                    .bind(last_run.as_str())
                    .bind(tag_needle(filter.tag.as_deref()))
                    .bind(owner),
            };
            query.fetch_one(pool).await.db()?
        });
        Ok(crate::codec::count(n))
    }

    /// The jobs page in one read: a page of jobs matching `filter`, how many
    /// match in all, and for each job its `recent` newest runs, their mean
    /// duration and its newest chain — a fixed number of queries whatever
    /// the page's size.
    pub async fn jobs_overview(
        &self,
        filter: &JobFilter,
        recent: u32,
    ) -> Result<JobsOverview, StoreError> {
        let page = self.job_list(filter).await?;
        let total = self.job_count(filter).await?;
        let ids: Vec<i64> = page.items.iter().map(|job| job.id).collect();
        let mut runs = self.runs_recent_of_jobs(&ids, recent).await?;
        let mut chains = self.chains_newest_of_jobs(&ids).await?;
        let items = page
            .items
            .into_iter()
            .map(|job| {
                let recent_runs = runs.remove(&job.id).unwrap_or_default();
                JobOverview {
                    avg_duration_ms: mean_duration_ms(&recent_runs),
                    newest_chain: chains.remove(&job.id),
                    recent_runs,
                    job,
                }
            })
            .collect();
        Ok(JobsOverview {
            page: Page {
                items,
                next_cursor: page.next_cursor,
            },
            total,
        })
    }

    /// The newest `per_job` runs of each of `job_ids`, newest first, in one
    /// query (one index range per job): the jobs page's strip of recent runs.
    pub async fn runs_recent_of_jobs(
        &self,
        job_ids: &[i64],
        per_job: u32,
    ) -> Result<std::collections::HashMap<i64, Vec<RecentRun>>, StoreError> {
        let mut recent: std::collections::HashMap<i64, Vec<RecentRun>> =
            std::collections::HashMap::with_capacity(job_ids.len());
        if job_ids.is_empty() || per_job == 0 {
            return Ok(recent);
        }
        let ids = crate::codec::id_array(job_ids.iter().copied());
        /// `job_id`, `id`, `status`, scheduled for, started, finished.
        type Row = (i64, i64, String, Option<i64>, Option<i64>, Option<i64>);
        let rows: Vec<Row> = with_backend!(self, |pool, sql| {
            sqlx::query_as(sql.jobs.runs_recent_of_jobs)
                .bind(&ids)
                .bind(i64::from(per_job))
                .fetch_all(pool)
                .await
                .db()?
        });
        for (job_id, id, status, scheduled_for, started, finished) in rows {
            let duration_ms = match (started, finished) {
                (Some(started), Some(finished)) => Some(finished - started),
                _ => None,
            };
            recent.entry(job_id).or_default().push(RecentRun {
                id,
                status: parse_enum("run status", &status)?,
                scheduled_for: opt_instant(scheduled_for)?,
                duration_ms,
            });
        }
        for runs in recent.values_mut() {
            runs.sort_by_key(|run| std::cmp::Reverse(run.id));
        }
        Ok(recent)
    }

    /// Every version of a job, newest first (empty when the job does not exist).
    pub async fn job_versions(&self, id: i64) -> Result<Vec<JobVersion>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::JOB_VERSIONS)
                .bind(id)
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(decode_version).collect()
        })
    }

    /// One version of a job.
    pub async fn job_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<JobVersion>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::JOB_VERSION_GET)
                .bind(id)
                .bind(version)
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_version).transpose()
        })
    }

    /// Every enabled job with a schedule: what the scheduler's heap is built
    /// from. Reads no scripts, so it stays fast for 100,000 jobs.
    pub async fn jobs_scheduled(&self) -> Result<Vec<ScheduledJob>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::JOBS_SCHEDULED)
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(decode_scheduled).collect()
        })
    }

    /// The job's scheduling state, if it is enabled and has a schedule.
    pub async fn job_scheduled(&self, id: i64) -> Result<Option<ScheduledJob>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::JOB_SCHEDULED)
                .bind(id)
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_scheduled).transpose()
        })
    }

    /// Retention policies of up to `limit` jobs with ids above `after_id`,
    /// in id order: the pruner walks every job with it.
    pub async fn jobs_retention(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, RetentionPolicy)>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sql::JOBS_RETENTION)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .db()?;
            rows.into_iter()
                .map(|(id, keep_runs, keep_days)| {
                    Ok((
                        id,
                        RetentionPolicy {
                            keep_runs: small("keep_runs", keep_runs)?,
                            keep_days: small("keep_days", keep_days)?,
                        },
                    ))
                })
                .collect()
        })
    }
}

/// Maps a unique violation to the error `conflict` builds.
fn unique_to(error: crate::DatabaseError, conflict: impl FnOnce() -> StoreError) -> StoreError {
    if error.is_unique_violation() {
        conflict()
    } else {
        StoreError::Database(error)
    }
}

/// A row of `job_select!`.
pub(crate) fn decode_job(row: &impl Columns) -> Result<Job, StoreError> {
    let mut spec: JobSpec = from_json("job spec", &row.text(6)?)?;
    spec.enabled = row.bool(2)?;
    let last_run = match row.opt_i64(7)? {
        None => None,
        Some(id) => Some(RunSummary {
            id,
            status: parse_enum("run status", &row.text(8)?)?,
            trigger: parse_enum("run trigger", &row.text(9)?)?,
            scheduled_for: opt_instant(row.opt_i64(10)?)?,
            started_at: opt_instant(row.opt_i64(11)?)?,
            finished_at: opt_instant(row.opt_i64(12)?)?,
        }),
    };
    Ok(Job {
        id: row.i64(0)?,
        version: row.i64(1)?,
        spec,
        next_fire_at: opt_instant(row.opt_i64(3)?)?,
        created_at: instant(row.i64(4)?)?,
        updated_at: instant(row.i64(5)?)?,
        last_run,
    })
}

fn decode_version(row: &impl Columns) -> Result<JobVersion, StoreError> {
    Ok(JobVersion {
        job_id: row.i64(0)?,
        version: row.i64(1)?,
        spec: from_json("job spec", &row.text(2)?)?,
        actor: row.text(3)?,
        created_at: instant(row.i64(4)?)?,
    })
}

fn decode_scheduled(row: &impl Columns) -> Result<ScheduledJob, StoreError> {
    let cron = row.opt_text(2)?;
    let timezone = row.opt_text(3)?;
    let (Some(cron), Some(timezone)) = (cron, timezone) else {
        return Err(StoreError::corrupt(
            "job schedule",
            "a scheduled job has no schedule",
        ));
    };
    Ok(ScheduledJob {
        id: row.i64(0)?,
        version: row.i64(1)?,
        schedule: JobSchedule { cron, timezone },
        next_fire_at: opt_instant(row.opt_i64(4)?)?,
        overlap: parse_enum("overlap policy", &row.text(5)?)?,
        misfire: parse_enum("misfire policy", &row.text(6)?)?,
    })
}

/// The mean duration of the runs that have one, rounded to the nearest
/// millisecond; `None` when none has.
fn mean_duration_ms(runs: &[RecentRun]) -> Option<i64> {
    let durations: Vec<i64> = runs.iter().filter_map(|run| run.duration_ms).collect();
    (!durations.is_empty()).then(|| {
        let sum: i64 = durations.iter().sum();
        let count = i64::try_from(durations.len()).unwrap_or(i64::MAX);
        (sum + count / 2) / count
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_ids_and_anything_else_is_a_name() {
        assert_eq!(JobRef::parse("42"), JobRef::Id(42));
        assert_eq!(JobRef::parse("nightly"), JobRef::Name("nightly".into()));
        assert_eq!(JobRef::parse("+42"), JobRef::Name("+42".into()));
        assert_eq!(JobRef::parse("-1"), JobRef::Name("-1".into()));
        assert_eq!(
            JobRef::parse("99999999999999999999"),
            JobRef::Name("99999999999999999999".into())
        );
    }

    #[test]
    fn ms_round_trip() {
        let t: Timestamp = "2026-01-01T00:00:00.123Z".parse().unwrap();
        assert_eq!(instant(crate::codec::ms(t)).unwrap(), t);
    }
}
