//! Exactly-once firing: claiming occurrences.
//!
//! `jobs.next_fire_at_ms` is the next occurrence of a job not yet claimed.
//! Claiming occurrence T of job J is one transaction that
//! 1. advances J's `next_fire_at_ms` from T to the next occurrence with a
//!    compare-and-set (`… WHERE id = J AND next_fire_at_ms = T`) — of two
//!    claimers (two nodes, or a node racing itself), exactly one matches;
//! 2. reads J's live runs (for the overlap policy), asks the caller's plan
//!    which rows to write, and inserts them (queued, running for this
//!    node, skipped, missed, catch-up);
//! 3. marks running runs cancel-requested when the plan replaces them (and
//!    cancels their chain's queued next chunk: a chain counts as running).
//!
//! A lost compare-and-set inserts nothing for that job. The partial unique
//! index `runs_one_row_per_occurrence` makes a second row for (J, T)
//! impossible even if this logic were wrong. Many jobs due together are
//! claimed in one transaction with one statement per step, not per job.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::{
    codec::{commit_or_rollback, id_array, ms, parse_enum, to_json},
    error::{DbResultExt, StoreError},
    feed::{CANCEL_PREFIX, notify_runs, notify_runs_queued},
    jobs::{JobSpec, Overlap},
    runs::{ActiveRuns, decode_run},
    runs::{Run, RunStatus, Trigger},
    store::{Store, with_writer},
};

/// One job's due occurrence to claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccurrenceClaim {
    /// The job.
    pub job_id: i64,
    /// The `next_fire_at` the caller saw: the claim applies only if the job
    /// still has it.
    pub expected_next_fire_at: Timestamp,
    /// The job's next occurrence after this claim (`None`: it never fires again).
    pub new_next_fire_at: Option<Timestamp>,
}

/// What the claim transaction read about a job whose compare-and-set won:
/// the input of the caller's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job.
    pub job_id: i64,
    /// Its current version (the runs inserted get it).
    pub version: i64,
    /// Its current overlap policy.
    pub overlap: Overlap,
    /// Its live runs.
    pub active: ActiveRuns,
    /// The memory limit of its current version's runs, in MiB: what a run
    /// started now reserves of the node's memory budget.
    pub memory_limit_mb: u32,
}

/// The rows a plan writes for one claimed job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OccurrencePlan {
    /// The rows, at most one per occurrence instant.
    pub rows: Vec<OccurrenceRow>,
    /// Mark the job's running runs cancel-requested (overlap `replace`).
    pub cancel_running: bool,
    /// Write nothing for any job of this claim: the whole transaction is
    /// rolled back and [`StoreError::ClaimAbandoned`] returned (the caller
    /// found its plan stale — time moved past it while the claim waited
    /// for the database — and claims again with what is due by now).
    pub abandon: bool,
}

/// One row for one occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceRow {
    /// The occurrence.
    pub scheduled_for: Timestamp,
    /// `schedule`, or `catch_up` for a misfired occurrence run late.
    pub trigger: Trigger,
    /// What the row is.
    pub kind: OccurrenceKind,
}

/// What an occurrence row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OccurrenceKind {
    /// Waiting for any node's workers.
    Queued,
    /// Started at once by the claiming node, which has a free worker (saves
    /// a round trip).
    Running {
        /// The claiming node.
        node: String,
        /// Its lease on the run.
        lease_until: Timestamp,
    },
    /// Not run: another run was active (overlap `skip`).
    Skipped,
    /// Not run: the scheduler was down; stands for `count` occurrences.
    Missed {
        /// How many occurrences (at least 1).
        count: u64,
    },
}

/// What a won claim wrote for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedOccurrences {
    /// The job.
    pub job_id: i64,
    /// The rows inserted, in plan order.
    pub runs: Vec<Run>,
    /// The job version's spec, when a row was inserted running (the
    /// claiming node executes it now).
    pub spec: Option<JobSpec>,
    /// Running runs marked cancel-requested, with their nodes.
    pub cancel_requested: Vec<(i64, String)>,
}

/// One row as the insert statement takes it.
#[derive(Serialize)]
struct RowJson<'a> {
    job_id: i64,
    job_version: i64,
    trigger: &'static str,
    status: &'static str,
    scheduled_for: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    node: Option<&'a str>,
    lease: Option<i64>,
    missed_count: Option<i64>,
}

impl Store {
    /// Claims due occurrences of many jobs in one transaction (see the
    /// module docs). `plan` is called once per job whose compare-and-set
    /// won, with what the transaction read, and returns the rows to write;
    /// it must not block. Returns what was written for each won job, in
    /// claim order; jobs whose claim lost are left out (another claimer
    /// took the occurrence, or the job changed — re-read it).
    pub async fn occurrences_claim<F>(
        &self,
        claims: &[OccurrenceClaim],
        now: Timestamp,
        plan: F,
    ) -> Result<Vec<ClaimedOccurrences>, StoreError>
    where
        F: FnMut(&OccurrenceClaim, &ClaimedJob) -> OccurrencePlan + Send,
    {
        let claimed = self.claim_occurrences(claims, now, plan).await;
        self.observe_write(claimed)
    }

    async fn claim_occurrences<F>(
        &self,
        claims: &[OccurrenceClaim],
        now: Timestamp,
        mut plan: F,
    ) -> Result<Vec<ClaimedOccurrences>, StoreError>
    where
        F: FnMut(&OccurrenceClaim, &ClaimedJob) -> OccurrencePlan + Send,
    {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let cas = claims
            .iter()
            .map(|claim| {
                json!({
                    "id": claim.job_id,
                    "expected": ms(claim.expected_next_fire_at),
                    "next": claim.new_next_fire_at.map(ms),
                })
            })
            .collect::<Vec<_>>();
        let cas = to_json("occurrence claims", &cas)?;
        let all_ids = id_array(claims.iter().map(|claim| claim.job_id));
        let now_ms = ms(now);
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_claim).await.db()?;
            let outcome = async {
                if let Some(lock) = sql.runs.jobs_lock_for_claim {
                    sqlx::query(lock)
                        .bind(&all_ids)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                let won: Vec<(i64, i64, String)> =
                    sqlx::query_as(sql.runs.jobs_advance_if_next_fire_at)
                        .bind(&cas)
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                if won.is_empty() {
                    return Ok(Vec::new());
                }
                let won_ids = id_array(won.iter().map(|(id, _, _)| *id));
                let live: Vec<(i64, i64, String)> = sqlx::query_as(sql.runs.runs_active_of_jobs)
                    .bind(&won_ids)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let mut won = claimed_jobs(&won, &live)?;
                // Read before planning: a run starts here only if its
                // memory limit fits the node's budget.
                let specs = crate::runs::transition::specs_of!(
                    self,
                    won.values().map(|job| (job.job_id, job.version)),
                    sql,
                    tx
                )?;
                for job in won.values_mut() {
                    if let Some(spec) = specs.get(&(job.job_id, job.version)) {
                        job.memory_limit_mb = spec.memory_limit_mb;
                    }
                }

                let mut plans = Vec::with_capacity(won.len());
                for claim in claims {
                    if let Some(job) = won.get(&claim.job_id) {
                        let planned = plan(claim, job);
                        if planned.abandon {
                            return Err(StoreError::ClaimAbandoned);
                        }
                        check_plan(&planned)?;
                        plans.push((*job, planned));
                    }
                }

                let rows = plans
                    .iter()
                    .flat_map(|(job, planned)| {
                        planned
                            .rows
                            .iter()
                            .map(move |row| row_json(job, row, now_ms))
                    })
                    .collect::<Vec<_>>();
                let inserted = if rows.is_empty() {
                    Vec::new()
                } else {
                    let rows = sqlx::query(sql.runs.runs_insert_occurrences)
                        .bind(to_json("occurrence rows", &rows)?)
                        .bind(now_ms)
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                    rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?
                };

                let replacing = plans
                    .iter()
                    .filter(|(_, planned)| planned.cancel_running)
                    .map(|(job, _)| job.job_id)
                    .collect::<Vec<_>>();
                let cancelled: Vec<(i64, i64, String)> = if replacing.is_empty() {
                    Vec::new()
                } else {
                    sqlx::query_as(sql.runs.runs_request_cancel_of_jobs)
                        .bind(id_array(replacing.iter().copied()))
                        .fetch_all(&mut *tx)
                        .await
                        .db()?
                };

                // A replaced chain ends: its queued next chunk is cancelled
                // with the request to cancel its running one.
                crate::runs::transition::cancel_queued_chunks_of_jobs!(
                    replacing.iter().copied(),
                    now_ms,
                    tx
                )?;

                if inserted.iter().any(|run| run.status == RunStatus::Queued) {
                    notify_runs_queued!(sql.notify, &mut *tx)?;
                }
                for (_, run_id, _) in &cancelled {
                    notify_runs!(sql.notify, format!("{CANCEL_PREFIX}{run_id}"), &mut *tx)?;
                }
                Ok(assemble(&plans, inserted, cancelled, specs))
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }
}

/// The won jobs by id, with their live run counts.
fn claimed_jobs(
    won: &[(i64, i64, String)],
    live: &[(i64, i64, String)],
) -> Result<HashMap<i64, ClaimedJob>, StoreError> {
    let mut jobs = won
        .iter()
        .map(|(id, version, overlap)| {
            Ok((
                *id,
                ClaimedJob {
                    job_id: *id,
                    version: *version,
                    overlap: parse_enum("overlap policy", overlap)?,
                    active: ActiveRuns::default(),
                    memory_limit_mb: crate::jobs::DEFAULT_MEMORY_LIMIT_MB,
                },
            ))
        })
        .collect::<Result<HashMap<_, _>, StoreError>>()?;
    for (job_id, _, status) in live {
        if let Some(job) = jobs.get_mut(job_id) {
            match status.as_str() {
                "queued" => job.active.queued += 1,
                _ => job.active.running += 1,
            }
        }
    }
    Ok(jobs)
}

/// Refuses plans the schema would refuse, with a clear reason.
fn check_plan(plan: &OccurrencePlan) -> Result<(), StoreError> {
    let invalid = |reason: &str| {
        Err(StoreError::Invalid {
            what: "occurrence plan",
            reason: reason.to_string(),
        })
    };
    let mut instants = std::collections::HashSet::new();
    for row in &plan.rows {
        if !matches!(row.trigger, Trigger::Schedule | Trigger::CatchUp) {
            return invalid("occurrence rows are triggered by schedule or catch_up");
        }
        if matches!(
            row.kind,
            OccurrenceKind::Skipped | OccurrenceKind::Missed { .. }
        ) && row.trigger != Trigger::Schedule
        {
            return invalid("skipped and missed rows have the schedule trigger");
        }
        if matches!(row.kind, OccurrenceKind::Missed { count: 0 }) {
            return invalid("a missed row stands for at least one occurrence");
        }
        if !instants.insert(row.scheduled_for) {
            return invalid("two rows for one occurrence");
        }
    }
    Ok(())
}

fn row_json<'a>(job: &ClaimedJob, row: &'a OccurrenceRow, now_ms: i64) -> RowJson<'a> {
    let (status, started_at, finished_at, node, lease, missed_count) = match &row.kind {
        OccurrenceKind::Queued => (RunStatus::Queued, None, None, None, None, None),
        // It starts when its script begins (the node records that).
        OccurrenceKind::Running { node, lease_until } => (
            RunStatus::Running,
            None,
            None,
            Some(node.as_str()),
            Some(ms(*lease_until)),
            None,
        ),
        OccurrenceKind::Skipped => (RunStatus::Skipped, None, Some(now_ms), None, None, None),
        OccurrenceKind::Missed { count } => (
            RunStatus::Missed,
            None,
            Some(now_ms),
            None,
            None,
            Some(i64::try_from(*count).unwrap_or(i64::MAX)),
        ),
    };
    RowJson {
        job_id: job.job_id,
        job_version: job.version,
        trigger: row.trigger.as_str(),
        status: status.as_str(),
        scheduled_for: ms(row.scheduled_for),
        started_at,
        finished_at,
        node,
        lease,
        missed_count,
    }
}

/// Groups what was written by job, in claim order, rows in plan order.
fn assemble(
    plans: &[(ClaimedJob, OccurrencePlan)],
    inserted: Vec<Run>,
    cancelled: Vec<(i64, i64, String)>,
    specs: HashMap<(i64, i64), JobSpec>,
) -> Vec<ClaimedOccurrences> {
    let mut by_job: HashMap<i64, Vec<Run>> = HashMap::new();
    for run in inserted {
        by_job.entry(run.job_id).or_default().push(run);
    }
    let mut cancelled_by_job: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for (job_id, run_id, node) in cancelled {
        cancelled_by_job
            .entry(job_id)
            .or_default()
            .push((run_id, node));
    }
    plans
        .iter()
        .map(|(job, planned)| {
            let starting = planned
                .rows
                .iter()
                .any(|row| matches!(row.kind, OccurrenceKind::Running { .. }));
            let mut runs = by_job.remove(&job.job_id).unwrap_or_default();
            runs.sort_by_key(|run| {
                planned
                    .rows
                    .iter()
                    .position(|row| Some(row.scheduled_for) == run.scheduled_for)
            });
            ClaimedOccurrences {
                job_id: job.job_id,
                spec: starting
                    .then(|| specs.get(&(job.job_id, job.version)).cloned())
                    .flatten(),
                runs,
                cancel_requested: cancelled_by_job.remove(&job.job_id).unwrap_or_default(),
            }
        })
        .collect()
}
