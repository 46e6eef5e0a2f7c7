//! Runs: inserting queued runs, reading history and logs, pruning it.
//!
//! Every change of a run's status lives in [`transition`]; occurrence
//! claims (the exactly-once firing transaction) in [`claim`]; what a
//! restarting node takes back from its previous incarnation in [`recover`].

pub(crate) mod claim;
#[cfg(test)]
mod plan_tests;
pub(crate) mod recover;
mod requested;
pub(crate) mod sql;
pub(crate) mod transition;
mod types;

use jiff::Timestamp;
use serde_json::Value;

use crate::{
    codec::{
        Columns, decode_id_cursor, encode_cursor, instant, list_limit, ms, opt_from_json,
        opt_instant, opt_to_json, parse_enum, small,
    },
    error::{DbResultExt, StoreError},
    feed::notify_runs_queued,
    shared::Page,
    store::{Store, with_backend, with_writer},
};

pub use self::requested::{RequestedRun, RequestedRuns};
pub use self::types::{
    HttpCall, Lease, LogLevel, LogLine, RecentRun, Run, RunError, RunLogLine, RunStatus,
    RunSummary, Trigger,
};

/// A queued run to insert (manual, API, retry, continuation or event runs;
/// occurrences are inserted by [`Store::occurrences_claim`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The job.
    pub job_id: i64,
    /// The version to run; `None` for the job's current version.
    pub job_version: Option<i64>,
    /// What creates it.
    pub trigger: Trigger,
    /// 1 for a first attempt; a retry is the failed run's attempt + 1.
    pub attempt: u32,
    /// The occurrence it is for (a retry keeps its run's occurrence).
    pub scheduled_for: Option<Timestamp>,
    /// The earliest instant a worker may start it.
    pub not_before: Timestamp,
    /// The run it retries or continues.
    pub parent_run_id: Option<i64>,
    /// Parameters overriding the job's.
    pub params: Option<Value>,
    /// A chain's state for `context.state`.
    pub state: Option<Value>,
    /// The queue event it consumes.
    pub event: Option<Value>,
    /// The chain it belongs to (a chain's next chunk, or a retry of a
    /// chunk). When it is the id of the run whose finish queues it, that
    /// run joins the chain as its first chunk in the same transaction.
    pub chain_id: Option<i64>,
    /// The instant it is queued at.
    pub now: Timestamp,
}

impl NewRun {
    /// A first attempt of the job's current version, startable at once.
    pub fn new(job_id: i64, trigger: Trigger, now: Timestamp) -> NewRun {
        NewRun {
            job_id,
            job_version: None,
            trigger,
            attempt: 1,
            scheduled_for: None,
            not_before: now,
            parent_run_id: None,
            params: None,
            state: None,
            event: None,
            chain_id: None,
            now,
        }
    }
}

/// A [`NewRun`] checked and encoded for binding.
pub(crate) struct EncodedNewRun<'a> {
    pub(crate) new: &'a NewRun,
    pub(crate) params: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) event: Option<String>,
}

impl<'a> EncodedNewRun<'a> {
    pub(crate) fn of(new: &'a NewRun) -> Result<Self, StoreError> {
        if new.attempt == 0 {
            return Err(StoreError::Invalid {
                what: "attempt",
                reason: "attempts count from 1".into(),
            });
        }
        if matches!(new.trigger, Trigger::Schedule | Trigger::CatchUp) {
            return Err(StoreError::Invalid {
                what: "trigger",
                reason: "occurrences are inserted by occurrences_claim".into(),
            });
        }
        let state = opt_to_json("state", new.state.as_ref())?;
        if let Some(state) = &state
            && state.len() > crate::chains::MAX_STATE_BYTES
        {
            return Err(StoreError::Invalid {
                what: "state",
                reason: format!(
                    "a chain's state is {} bytes as JSON; the limit is {} bytes (1 MiB)",
                    state.len(),
                    crate::chains::MAX_STATE_BYTES
                ),
            });
        }
        Ok(EncodedNewRun {
            new,
            params: opt_to_json("params", new.params.as_ref())?,
            state,
            event: opt_to_json("event", new.event.as_ref())?,
        })
    }
}

/// Inserts the queued run `$encoded` ([`EncodedNewRun`]) on `$conn`;
/// evaluates to `Result<Row, StoreError>` ([`StoreError::JobNotFound`]
/// when the job does not exist).
macro_rules! insert_queued {
    ($encoded:expr, $conn:expr) => {{
        let encoded: &$crate::runs::EncodedNewRun<'_> = $encoded;
        let new = encoded.new;
        let row = sqlx::query($crate::runs::sql::RUN_INSERT_QUEUED)
            .bind(new.job_id)
            .bind(new.job_version)
            .bind(new.trigger.as_str())
            .bind(i64::from(new.attempt))
            .bind($crate::codec::opt_ms(new.scheduled_for))
            .bind($crate::codec::ms(new.now))
            .bind($crate::codec::ms(new.not_before))
            .bind(new.parent_run_id)
            .bind(encoded.params.as_deref())
            .bind(encoded.state.as_deref())
            .bind(encoded.event.as_deref())
            .bind(new.chain_id)
            .fetch_optional($conn)
            .await
            .db()?;
        row.ok_or_else(|| $crate::error::StoreError::JobNotFound {
            job: new.job_id.to_string(),
        })
    }};
}
pub(crate) use insert_queued;

/// One page request of [`Store::runs_list`]: runs newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this job's runs.
    pub job_id: Option<i64>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// [`Page::next_cursor`] of the previous page.
    pub cursor: Option<String>,
    /// Runs per page; 0 means the default.
    pub limit: u32,
}

/// A request of [`Store::run_logs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQuery {
    /// The run.
    pub run_id: i64,
    /// Only lines after this one (0 for the start).
    pub after_seq: u64,
    /// At most this many lines (clamped to 1..=10,000).
    pub limit: u32,
}

/// How many runs of a job (or of all jobs) are live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActiveRuns {
    /// Waiting for a worker.
    pub queued: u64,
    /// Being executed.
    pub running: u64,
}

/// What [`Store::runs_prune`] deletes: ended runs of one job beyond either bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneRuns {
    /// The job.
    pub job_id: i64,
    /// Keep this many newest runs.
    pub keep_runs: u32,
    /// Keep runs that ended less than this many days before `now`.
    pub keep_days: u32,
    /// The current instant.
    pub now: Timestamp,
    /// Delete at most this many runs (their logs go with them).
    pub batch: u32,
}

const RUN_CURSOR: &str = "run";

impl Store {
    /// Inserts a queued run of an existing job and returns it; on PostgreSQL
    /// tells every node's workers. [`StoreError::JobNotFound`] when the job
    /// does not exist.
    pub async fn run_insert(&self, new: &NewRun) -> Result<Run, StoreError> {
        let inserted = self.insert_queued_run(new).await;
        self.observe_write(inserted)
    }

    async fn insert_queued_run(&self, new: &NewRun) -> Result<Run, StoreError> {
        let encoded = EncodedNewRun::of(new)?;
        with_writer!(self, |pool, sql| {
            // One statement is a transaction of its own: on SQLite one round
            // trip to the writing connection instead of three (`BEGIN`, the
            // insert, `COMMIT`), and the writer is held that much shorter.
            // PostgreSQL's notification must commit with the run.
            if sql.notify.is_none() {
                let row = insert_queued!(&encoded, pool)?;
                return decode_run(&row);
            }
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let row = insert_queued!(&encoded, &mut *tx)?;
                let run = decode_run(&row)?;
                notify_runs_queued!(sql.notify, &mut *tx)?;
                Ok(run)
            }
            .await;
            crate::codec::commit_or_rollback(tx, outcome).await
        })
    }

    /// The run with this id.
    pub async fn run_get(&self, id: i64) -> Result<Option<Run>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::RUN_GET)
                .bind(id)
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_run).transpose()
        })
    }

    /// One page of runs, newest first.
    pub async fn runs_list(&self, filter: &RunFilter) -> Result<Page<Run>, StoreError> {
        let before = match &filter.cursor {
            Some(cursor) => decode_id_cursor(RUN_CURSOR, cursor)?,
            None => i64::MAX,
        };
        let limit = list_limit(filter.limit);
        let fetch = i64::from(limit) + 1;
        let status = filter.status.map(RunStatus::as_str);
        let mut items = with_backend!(self, |pool, _sql| {
            let query = match (filter.job_id, status) {
                (None, None) => sqlx::query(sql::RUNS_LIST_ALL).bind(before).bind(fetch),
                (None, Some(status)) => sqlx::query(sql::RUNS_LIST_BY_STATUS)
                    .bind(before)
                    .bind(fetch)
                    .bind(status),
                (Some(job), None) => sqlx::query(sql::RUNS_LIST_BY_JOB)
                    .bind(before)
                    .bind(fetch)
                    .bind(job),
                (Some(job), Some(status)) => sqlx::query(sql::RUNS_LIST_BY_JOB_AND_STATUS)
                    .bind(before)
                    .bind(fetch)
                    .bind(job)
                    .bind(status),
            };
            let rows = query.fetch_all(pool).await.db()?;
            rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?
        });
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|run| encode_cursor(RUN_CURSOR, &run.id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Stored log lines of a run, in order.
    pub async fn run_logs(&self, query: &LogQuery) -> Result<Vec<RunLogLine>, StoreError> {
        let after = i64::try_from(query.after_seq).unwrap_or(i64::MAX);
        let limit = i64::from(query.limit.clamp(1, 10_000));
        with_backend!(self, |pool, _sql| {
            let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(sql::RUN_LOGS)
                .bind(query.run_id)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await
                .db()?;
            rows.into_iter()
                .map(|(seq, ts_ms, level, message)| {
                    Ok(RunLogLine {
                        seq: crate::codec::count(seq),
                        ts: instant(ts_ms)?,
                        level: parse_enum("log level", &level)?,
                        message,
                    })
                })
                .collect()
        })
    }

    /// How many runs of a job are queued and running.
    pub async fn runs_active_count(&self, job_id: i64) -> Result<ActiveRuns, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql::RUNS_ACTIVE_COUNT)
                .bind(job_id)
                .fetch_all(pool)
                .await
                .db()?;
            Ok(active_from_counts(rows))
        })
    }

    /// How many runs of all jobs are queued and running (for metrics).
    pub async fn runs_live_counts(&self) -> Result<ActiveRuns, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows: Vec<(String, i64)> = sqlx::query_as(sql::RUNS_LIVE_COUNTS)
                .fetch_all(pool)
                .await
                .db()?;
            Ok(active_from_counts(rows))
        })
    }

    /// The earliest instant after `now` at which a queued run becomes
    /// startable (retry backoff, chain delays): when workers should look again.
    pub async fn runs_next_queued_after(
        &self,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let (next,): (Option<i64>,) = sqlx::query_as(sql::RUNS_NEXT_QUEUED_AFTER)
                .bind(ms(now))
                .fetch_one(pool)
                .await
                .db()?;
            opt_instant(next)
        })
    }

    /// The status of the newest ended run of `job_id` before run `run_id`
    /// that ran or was missed: tells a recovery (success after failure) apart.
    pub async fn run_previous_outcome(
        &self,
        job_id: i64,
        run_id: i64,
    ) -> Result<Option<RunStatus>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row: Option<(String,)> = sqlx::query_as(sql::RUN_PREVIOUS_OUTCOME)
                .bind(job_id)
                .bind(run_id)
                .fetch_optional(pool)
                .await
                .db()?;
            row.map(|(status,)| parse_enum("run status", &status))
                .transpose()
        })
    }

    /// Deletes up to `batch` ended runs of one job (with their logs) that
    /// are beyond the newest `keep_runs` or ended more than `keep_days`
    /// before `now`; returns how many. Queued and running runs are never
    /// deleted. Call again while it returns `batch`.
    pub async fn runs_prune(&self, prune: &PruneRuns) -> Result<u64, StoreError> {
        let cutoff = ms(prune.now) - i64::from(prune.keep_days) * 86_400_000;
        with_writer!(self, |pool, _sql| {
            let deleted = sqlx::query(sql::RUNS_PRUNE)
                .bind(prune.job_id)
                .bind(i64::from(prune.keep_runs))
                .bind(cutoff)
                .bind(i64::from(prune.batch.max(1)))
                .execute(pool)
                .await
                .db()?
                .rows_affected();
            Ok(deleted)
        })
    }
}

fn active_from_counts(rows: Vec<(String, i64)>) -> ActiveRuns {
    let mut active = ActiveRuns::default();
    for (status, count) in rows {
        match status.as_str() {
            "queued" => active.queued = crate::codec::count(count),
            "running" => active.running = crate::codec::count(count),
            _ => {}
        }
    }
    active
}

/// Log lines as the insert statement takes them: `[[ts_ms, level, message], …]`.
pub(crate) fn log_lines_json(lines: &[LogLine]) -> Result<String, StoreError> {
    let rows: Vec<(i64, &str, String)> = lines
        .iter()
        .map(|line| {
            (
                ms(line.ts),
                line.level.as_str(),
                line.message.replace('\0', "\u{FFFD}"),
            )
        })
        .collect();
    crate::codec::to_json("log lines", &rows)
}

/// A row of `run_columns!`.
pub(crate) fn decode_run(row: &impl Columns) -> Result<Run, StoreError> {
    let started_at = opt_instant(row.opt_i64(9)?)?;
    let finished_at = opt_instant(row.opt_i64(10)?)?;
    let duration_ms = match (started_at, finished_at) {
        (Some(start), Some(end)) => Some(ms(end) - ms(start)),
        _ => None,
    };
    let http_calls = opt_from_json("run http calls", row.opt_text(21)?)?.unwrap_or_default();
    Ok(Run {
        id: row.i64(0)?,
        job_id: row.i64(1)?,
        job_version: row.i64(2)?,
        trigger: parse_enum("run trigger", &row.text(3)?)?,
        status: parse_enum("run status", &row.text(4)?)?,
        attempt: small("run attempt", row.i64(5)?)?,
        scheduled_for: opt_instant(row.opt_i64(6)?)?,
        queued_at: instant(row.i64(7)?)?,
        not_before: instant(row.i64(8)?)?,
        started_at,
        finished_at,
        duration_ms,
        node: row.opt_text(11)?,
        lease_expires_at: opt_instant(row.opt_i64(12)?)?,
        cancel_requested: row.bool(13)?,
        missed_count: row.opt_i64(14)?.map(crate::codec::count),
        parent_run_id: row.opt_i64(15)?,
        params: opt_from_json("run params", row.opt_text(16)?)?,
        state: opt_from_json("run state", row.opt_text(17)?)?,
        event: opt_from_json("run event", row.opt_text(18)?)?,
        result: opt_from_json("run result", row.opt_text(19)?)?,
        error: opt_from_json("run error", row.opt_text(20)?)?,
        http_calls,
        log_lines: crate::codec::count(row.i64(22)?),
        chain_id: row.opt_i64(23)?,
        lease_token: row.i64(24)?,
    })
}
