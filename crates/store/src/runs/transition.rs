//! The run state machine: every change of a run's status, each one guarded
//! SQL statement whose condition is in its name, reporting whether it
//! applied. [`RunStatus::can_become`] documents the same graph; the store's
//! tests check each arrow against these statements, and that every other
//! transition does not apply.
//!
//! ```text
//! queued ──runs_claim_queued──────────────► running      (plain runs by overlap, event runs by
//!                                                          their queue's concurrency limit)
//! queued ──run_cancel_if_queued───────────► cancelled
//! queued ──cancel_queued_chunks_of_jobs!──► cancelled    (overlap `replace` ends a chain,
//!                                                          in `occurrences_claim`)
//! queued ──cancel_queued_runs_of_queue_job!► cancelled   (`cancel()` of a queue job,
//!                                                          in `queue_job_cancel`)
//! running ─runs_write_if_running (finish)─► succeeded | failed | timed_out | cancelled | interrupted
//! running ─runs_interrupt_if_lease_expired► interrupted
//! ```
//! The two macros are the arrows other transactions take (a claim, a queue
//! job's cancel) as one of their statements. Inserts (`run_insert` →
//! queued; `occurrences_claim` → queued, running, skipped, missed) live
//! beside them in `runs` and `claim`. Leases (`runs_heartbeat_if_running`)
//! and cancel requests (`run_request_cancel_if_running`) change no status
//! but are guarded the same way: only the attempt holding a running run's
//! [`Lease`] (its node and the token its claim minted) may touch it. A finish's status comes from its constructor
//! ([`RunFinish::succeeded`], …): a running run can report no other.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::{
    codec::{Columns, commit_or_rollback, from_json, id_array, ms, opt_to_json, to_json},
    error::{DbResultExt, StoreError},
    feed::{
        CANCEL_PREFIX, RUN_IDS_PER_NOTICE, RUN_PROGRESS_CHANNEL, RUNS_CHANNEL, RUNS_FINISHED,
        notify_runs, notify_runs_queued,
    },
    jobs::JobSpec,
    runs::sql,
    runs::{HttpCall, Lease, LogLine, Run, RunError, RunStatus},
    runs::{NewRun, decode_run, log_lines_json},
    store::{Store, with_writer},
};

/// A claim of queued runs by one node's workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunClaim {
    /// The claiming node.
    pub node: String,
    /// The current instant: only runs whose `not_before` has come.
    pub now: Timestamp,
    /// The lease the node takes on each claimed run.
    pub lease_until: Timestamp,
    /// At most this many runs.
    pub limit: u32,
}

/// A queued run a claim may take, as [`Store::runs_claim_queued_within`]
/// offers it.
#[derive(Debug, Clone, Copy)]
pub struct ClaimCandidate<'a> {
    /// The run.
    pub run_id: i64,
    /// The spec of its job version (its limits).
    pub spec: &'a JobSpec,
}

/// A run a node claimed, with what it needs to execute it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// The run, now `running` on the claiming node.
    pub run: Run,
    /// The spec of the run's job version.
    pub spec: JobSpec,
}

/// The end of a running run, as its node reports it: built by the
/// constructor of its final status ([`RunFinish::succeeded`],
/// [`RunFinish::failed`], …), so no other status can be reported.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFinish {
    /// The run's lease: the finish applies only while the run still has it.
    pub lease: Lease,
    /// `succeeded`, `failed`, `timed_out`, `cancelled` or `interrupted`.
    status: RunStatus,
    /// When it ended (never stored before its start).
    pub finished_at: Timestamp,
    /// The script's result (only a success has one).
    result: Option<serde_json::Value>,
    /// Why it did not succeed.
    error: Option<RunError>,
    /// Its outbound HTTP calls.
    http_calls: Vec<HttpCall>,
    /// Log lines not yet stored by [`LogAppend`]s.
    logs: Vec<LogLine>,
    /// A run to queue in the same transaction if (and only if) this finish
    /// applies: the retry of a failed attempt or a chain's next chunk. A
    /// crash can then never lose it, nor can two reports create it twice.
    follow_up: Option<NewRun>,
}

impl RunFinish {
    fn ended(
        lease: Lease,
        status: RunStatus,
        finished_at: Timestamp,
        error: Option<RunError>,
    ) -> RunFinish {
        RunFinish {
            lease,
            status,
            finished_at,
            result: None,
            error,
            http_calls: Vec::new(),
            logs: Vec::new(),
            follow_up: None,
        }
    }

    /// running → succeeded, with the script's result (`None`: none stored).
    pub fn succeeded(
        lease: Lease,
        finished_at: Timestamp,
        result: Option<serde_json::Value>,
    ) -> RunFinish {
        RunFinish {
            result,
            ..RunFinish::ended(lease, RunStatus::Succeeded, finished_at, None)
        }
    }

    /// running → failed: the script threw or broke a limit other than time.
    pub fn failed(lease: Lease, finished_at: Timestamp, error: Option<RunError>) -> RunFinish {
        RunFinish::ended(lease, RunStatus::Failed, finished_at, error)
    }

    /// running → timed_out: its time limit passed.
    pub fn timed_out(lease: Lease, finished_at: Timestamp, error: Option<RunError>) -> RunFinish {
        RunFinish::ended(lease, RunStatus::TimedOut, finished_at, error)
    }

    /// running → cancelled: someone asked for it.
    pub fn cancelled(lease: Lease, finished_at: Timestamp, error: Option<RunError>) -> RunFinish {
        RunFinish::ended(lease, RunStatus::Cancelled, finished_at, error)
    }

    /// running → interrupted: its node stopped before it ended.
    pub fn interrupted(lease: Lease, finished_at: Timestamp, error: RunError) -> RunFinish {
        RunFinish::ended(lease, RunStatus::Interrupted, finished_at, Some(error))
    }

    /// The status it ends in.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// The script's result, if it succeeded with one.
    pub fn result(&self) -> Option<&serde_json::Value> {
        self.result.as_ref()
    }

    /// Why it did not succeed, when known.
    pub fn error(&self) -> Option<&RunError> {
        self.error.as_ref()
    }

    /// The same finish storing `logs` (the lines not yet appended) with it.
    pub fn with_logs(mut self, logs: Vec<LogLine>) -> RunFinish {
        self.logs = logs;
        self
    }

    /// The same finish storing `http_calls` with it.
    pub fn with_http_calls(mut self, http_calls: Vec<HttpCall>) -> RunFinish {
        self.http_calls = http_calls;
        self
    }

    /// The same finish queueing `follow_up` with it.
    pub fn with_follow_up(mut self, follow_up: Option<NewRun>) -> RunFinish {
        self.follow_up = follow_up;
        self
    }
}

/// Log lines of a running run, stored while it runs so a crash keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAppend {
    /// The run's lease: the lines are stored only while the run still has it.
    pub lease: Lease,
    /// The new lines, in order.
    pub lines: Vec<LogLine>,
}

/// The real start of a claimed run: the instant its script began. A claim
/// leaves `started_at` empty, so a run whose node died before it began
/// shows no start, and a restarting node can queue it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The run's lease: the start is recorded only while the run still has it.
    pub lease: Lease,
    /// When its script began.
    pub started_at: Timestamp,
}

/// What one node writes about its runs in one transaction (group commit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunWrites {
    /// Starts of runs; applied before anything else.
    pub starts: Vec<RunStart>,
    /// Log lines of runs still going; applied first.
    pub appends: Vec<LogAppend>,
    /// Ends of runs.
    pub finishes: Vec<RunFinish>,
}

/// Which writes of a [`RunWrites`] applied (the run was still running on
/// that lease), in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunWritesApplied {
    /// One per start.
    pub started: Vec<bool>,
    /// One per append.
    pub appended: Vec<bool>,
    /// One per finish.
    pub finished: Vec<bool>,
    /// One per finish: the follow-up run queued with it, if any.
    pub follow_ups: Vec<Option<Run>>,
}

/// A renewal of the leases a node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The leases a node holds on its running runs.
    pub leases: Vec<Lease>,
    /// The new end of their leases.
    pub lease_until: Timestamp,
}

/// What a heartbeat learnt of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseState {
    /// The run.
    pub run_id: i64,
    /// The node still holds it (its lease is renewed). When `false` the run
    /// is no longer this node's (interrupted, deleted): stop executing it.
    pub held: bool,
    /// Someone asked for it to be cancelled.
    pub cancel_requested: bool,
}

/// queued → cancelled for the queued chunks of the chains of each job in
/// `$job_ids` (an iterator of ids), at `$now_ms`, on `$conn`: a replaced
/// chain ends. Evaluates to `Result<(), StoreError>`.
macro_rules! cancel_queued_chunks_of_jobs {
    ($job_ids:expr, $now_ms:expr, $conn:expr) => {{
        let mut outcome = Ok(());
        for job_id in $job_ids {
            if let Err(error) = sqlx::query($crate::runs::sql::CANCEL_QUEUED_CHUNKS_OF_JOB)
                .bind(job_id)
                .bind($now_ms)
                .execute(&mut *$conn)
                .await
                .db()
            {
                outcome = Err(error);
                break;
            }
        }
        outcome
    }};
}
pub(crate) use cancel_queued_chunks_of_jobs;

/// queued → cancelled for the event runs of queue job `$queue_job_id` that
/// have not started, at `$now_ms`, on `$conn`. Evaluates to
/// `Result<u64, StoreError>`: how many.
macro_rules! cancel_queued_runs_of_queue_job {
    ($queue_job_id:expr, $now_ms:expr, $conn:expr) => {
        sqlx::query($crate::runs::sql::CANCEL_QUEUED_RUNS_OF_QUEUE_JOB)
            .bind($queue_job_id)
            .bind($now_ms)
            .execute($conn)
            .await
            .db()
            .map(|done| done.rows_affected())
    };
}
pub(crate) use cancel_queued_runs_of_queue_job;

/// The queued runs a claim reads at a time, per run it may claim, and the
/// bounds of that window: enough that a few runs waiting their turn do not
/// cost a second window, few enough that a claim of one run reads little.
const WINDOW_PER_CLAIMED: i64 = 4;
const WINDOW_MIN: i64 = 32;
const WINDOW_MAX: i64 = 1_024;

/// The error recorded on runs whose lease expired.
const LEASE_EXPIRED: &str =
    "the node running it stopped renewing its lease (it crashed, hung or lost the database)";

/// The stored `error` of a run interrupted because its lease expired.
pub(crate) fn lease_expired_error() -> Result<String, StoreError> {
    to_json("run error", &RunError::message(LEASE_EXPIRED))
}

impl Store {
    /// queued → running: claims up to `limit` queued runs whose time has
    /// come for `node`, oldest first, and returns them with their specs.
    /// A job that does not allow overlap has at most one running run, and
    /// its queued runs start in the order they were queued; queue event
    /// runs instead respect their queue's concurrency limit and wait while
    /// their job is paused. On PostgreSQL,
    /// rows other nodes are claiming are skipped (`FOR UPDATE SKIP
    /// LOCKED`), so concurrent claimers get disjoint sets without waiting.
    pub async fn runs_claim_queued(&self, claim: &RunClaim) -> Result<Vec<ClaimedRun>, StoreError> {
        self.runs_claim_queued_within(claim, |_| true).await
    }

    /// queued → running, like [`Store::runs_claim_queued`], for only the
    /// runs `take` accepts: it is offered the claimable runs one at a time,
    /// oldest first (plain runs, then event runs), with their job versions'
    /// specs, and the claim ends at the first it refuses — so a run that
    /// does not fit (the node's memory budget) stays `queued`, ahead of the
    /// runs behind it, for this node later or any node with room.
    pub async fn runs_claim_queued_within<F>(
        &self,
        claim: &RunClaim,
        take: F,
    ) -> Result<Vec<ClaimedRun>, StoreError>
    where
        F: FnMut(&ClaimCandidate<'_>) -> bool + Send,
    {
        let claimed = self.claim_queued(claim, None, take).await;
        self.observe_write(claimed)
    }

    /// Like [`Store::runs_claim_queued_within`], for a node that begins the
    /// claimed runs' scripts at once: the claim records their start
    /// (`started_at` = `claim.now`) in its own commit, so starting them
    /// costs no second write. A node that dies after this commit leaves
    /// runs that began (interrupted at its restart), as after any start.
    pub async fn runs_start_queued_within<F>(
        &self,
        claim: &RunClaim,
        take: F,
    ) -> Result<Vec<ClaimedRun>, StoreError>
    where
        F: FnMut(&ClaimCandidate<'_>) -> bool + Send,
    {
        let claimed = self.claim_queued(claim, Some(claim.now), take).await;
        self.observe_write(claimed)
    }

    /// queued → cancelled. Returns the cancelled run, or `None` when the run
    /// was not queued (already started, ended, or unknown).
    pub async fn run_cancel_if_queued(
        &self,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Run>, StoreError> {
        with_writer!(self, |pool, _sql| {
            let row = sqlx::query(sql::RUN_CANCEL_IF_QUEUED)
                .bind(id)
                .bind(ms(now))
                .fetch_optional(pool)
                .await
                .db()?;
            row.as_ref().map(decode_run).transpose()
        })
    }

    /// Marks a running run cancel-requested and tells its node (PostgreSQL:
    /// a notification; every node: its next heartbeat). Returns the node
    /// running it, or `None` when the run is not running. The run's status
    /// changes only when its node finishes it as `cancelled`.
    pub async fn run_request_cancel_if_running(
        &self,
        id: i64,
    ) -> Result<Option<String>, StoreError> {
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let node: Option<(String,)> = sqlx::query_as(sql::RUN_REQUEST_CANCEL_IF_RUNNING)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                if node.is_some() {
                    notify_runs!(sql.notify, format!("{CANCEL_PREFIX}{id}"), &mut *tx)?;
                }
                Ok(node.map(|(node,)| node))
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// running → its final status, for each finish whose run is still
    /// running on the finishing node; all in one transaction. Returns which
    /// applied.
    pub async fn runs_finish_if_running(
        &self,
        finishes: &[RunFinish],
    ) -> Result<Vec<bool>, StoreError> {
        let writes = RunWrites {
            finishes: finishes.to_vec(),
            ..RunWrites::default()
        };
        Ok(self.runs_write_if_running(&writes).await?.finished)
    }

    /// Stores log lines of running runs (only for the node running each);
    /// all in one transaction. Returns which applied.
    pub async fn run_logs_append_if_running(
        &self,
        appends: &[LogAppend],
    ) -> Result<Vec<bool>, StoreError> {
        let writes = RunWrites {
            appends: appends.to_vec(),
            ..RunWrites::default()
        };
        Ok(self.runs_write_if_running(&writes).await?.appended)
    }

    /// Group commit: starts, log appends, then finishes (running → final status,
    /// with the remaining log lines), all in one transaction, each guarded
    /// by "still running on this node". On PostgreSQL, other nodes hear
    /// that runs finished (runs queued behind them may start).
    pub async fn runs_write_if_running(
        &self,
        writes: &RunWrites,
    ) -> Result<RunWritesApplied, StoreError> {
        let written = self.write_if_running(writes).await;
        self.observe_write(written)
    }

    /// A group commit, as [`Store::runs_write_if_running`], and then in
    /// the same transaction a claim of queued runs started at once, as
    /// [`Store::runs_start_queued_within`]: one commit (one fsync on
    /// PostgreSQL, one turn of the writing connection on SQLite) records the
    /// ends of a node's runs and hands their workers the next runs. The
    /// claim sees the ended runs ended, so the next queued run of a job
    /// that allows no overlap may start in the same commit. Returns what
    /// the writes applied and the runs claimed.
    pub async fn runs_write_then_start_queued_within<F>(
        &self,
        writes: &RunWrites,
        claim: &RunClaim,
        take: F,
    ) -> Result<(RunWritesApplied, Vec<ClaimedRun>), StoreError>
    where
        F: FnMut(&ClaimCandidate<'_>) -> bool + Send,
    {
        let done = self
            .write_and_claim(writes, Some((claim, Some(claim.now))), take)
            .await;
        self.observe_write(done)
    }

    async fn claim_queued<F>(
        &self,
        claim: &RunClaim,
        started_at: Option<Timestamp>,
        take: F,
    ) -> Result<Vec<ClaimedRun>, StoreError>
    where
        F: FnMut(&ClaimCandidate<'_>) -> bool + Send,
    {
        let (_, claimed) = self
            .write_and_claim(&RunWrites::default(), Some((claim, started_at)), take)
            .await?;
        Ok(claimed)
    }

    async fn write_if_running(&self, writes: &RunWrites) -> Result<RunWritesApplied, StoreError> {
        let (applied, _) = self.write_and_claim(writes, None, |_| true).await?;
        Ok(applied)
    }

    /// The group commit of `writes` (starts, log appends, then finishes,
    /// each guarded by "still running on this node") and then, when
    /// `claim` is given, a claim of queued runs (started at its instant
    /// when one is given), in one transaction: a node whose runs ended
    /// takes the next ones in the commit that records those ends, and the
    /// claim sees them ended (a job that allows no overlap may start its
    /// next queued run).
    async fn write_and_claim<F>(
        &self,
        writes: &RunWrites,
        claim: Option<(&RunClaim, Option<Timestamp>)>,
        mut take: F,
    ) -> Result<(RunWritesApplied, Vec<ClaimedRun>), StoreError>
    where
        F: FnMut(&ClaimCandidate<'_>) -> bool + Send,
    {
        let appends = writes
            .appends
            .iter()
            .map(|append| Ok((append, log_lines_json(&append.lines)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let finishes = writes
            .finishes
            .iter()
            .map(EncodedFinish::of)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let writing = !(appends.is_empty() && finishes.is_empty() && writes.starts.is_empty());
        if !writing && claim.is_none() {
            return Ok((RunWritesApplied::default(), Vec::new()));
        }
        let starts = starts_json(&writes.starts)?;
        let finishes_json = finishes_json(&finishes)?;
        with_writer!(self, |pool, sql| {
            let begin = if claim.is_some() {
                sql.begin_claim
            } else {
                sql.begin_write
            };
            let mut tx = pool.begin_with(begin).await.db()?;
            let outcome = async {
                let applied = if writing {
                    async {
                        let mut applied = RunWritesApplied::default();
                        let started: Vec<i64> = match &starts {
                            Some(starts) => {
                                sqlx::query_scalar(sql.runs.runs_mark_started_if_running)
                                    .bind(starts)
                                    .fetch_all(&mut *tx)
                                    .await
                                    .db()?
                            }
                            None => Vec::new(),
                        };
                        let started: HashSet<i64> = started.into_iter().collect();
                        applied.started =
                            first_of_each_run(writes.starts.iter().map(|start| start.lease.run_id))
                                .map(|(run_id, first)| first && started.contains(&run_id))
                                .collect();
                        for (append, lines_json) in &appends {
                            let lines = i64::try_from(append.lines.len()).unwrap_or(i64::MAX);
                            let counted: Option<(i64,)> =
                                sqlx::query_as(sql::RUN_COUNT_LOGS_IF_RUNNING)
                                    .bind(append.lease.run_id)
                                    .bind(&append.lease.node)
                                    .bind(lines)
                                    .bind(append.lease.token)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .db()?;
                            if let Some((total,)) = counted
                                && lines > 0
                            {
                                sqlx::query(sql.runs.run_logs_insert)
                                    .bind(append.lease.run_id)
                                    .bind(total - lines + 1)
                                    .bind(lines_json)
                                    .execute(&mut *tx)
                                    .await
                                    .db()?;
                            }
                            applied.appended.push(counted.is_some());
                        }
                        let finished: Vec<(i64, i64, bool)> = match &finishes_json {
                            Some(finishes) => sqlx::query_as(sql.runs.runs_finish_if_running)
                                .bind(finishes)
                                .fetch_all(&mut *tx)
                                .await
                                .db()?,
                            None => Vec::new(),
                        };
                        let finished: HashMap<i64, (i64, bool)> = finished
                            .into_iter()
                            .map(|(run_id, total, cancel)| (run_id, (total, cancel)))
                            .collect();
                        let firsts = first_of_each_run(finishes.iter().map(|finish| finish.id));
                        for (finish, (_, first)) in finishes.iter().zip(firsts) {
                            // A second finish of a run in one batch finds it ended.
                            let counted = finished.get(&finish.id).copied().filter(|_| first);
                            if let Some((total, _)) = counted
                                && finish.lines > 0
                            {
                                sqlx::query(sql.runs.run_logs_insert)
                                    .bind(finish.id)
                                    .bind(total - finish.lines + 1)
                                    .bind(&finish.lines_json)
                                    .execute(&mut *tx)
                                    .await
                                    .db()?;
                            }
                            let follow_up = match (&counted, &finish.follow_up) {
                                // Cancelling a chunk ends its chain, even when the
                                // chunk succeeded before it saw the request.
                                (Some((_, true)), Some(new))
                                    if new.new.trigger == crate::runs::Trigger::Continuation =>
                                {
                                    None
                                }
                                (Some(_), Some(new)) => {
                                    crate::chains::join_first_chunk!(finish.id, new, &mut *tx);
                                    let row = crate::runs::insert_queued!(new, &mut *tx)?;
                                    Some(decode_run(&row)?)
                                }
                                _ => None,
                            };
                            applied.finished.push(counted.is_some());
                            applied.follow_ups.push(follow_up);
                        }
                        let finished = applied.finished.contains(&true);
                        // The finished notice rides in the statement of the
                        // last progress notice (every run whose end applied
                        // is among the runs that progressed): one round trip
                        // fewer for every commit that ends runs.
                        if let (Some(notify), Some(notify_with_runs)) =
                            (sql.notify_in_schema, sql.notify_in_schema_and_runs)
                        {
                            let progressed = progressed(writes, &applied);
                            let mut chunks = progressed.chunks(RUN_IDS_PER_NOTICE).peekable();
                            while let Some(ids) = chunks.next() {
                                let last = chunks.peek().is_none();
                                let query = if last && finished {
                                    sqlx::query(notify_with_runs)
                                        .bind(RUN_PROGRESS_CHANNEL)
                                        .bind(comma_separated(ids))
                                        .bind(RUNS_CHANNEL)
                                        .bind(RUNS_FINISHED)
                                } else {
                                    sqlx::query(notify)
                                        .bind(RUN_PROGRESS_CHANNEL)
                                        .bind(comma_separated(ids))
                                };
                                query.execute(&mut *tx).await.db()?;
                            }
                        }
                        if finished && applied.follow_ups.iter().any(Option::is_some) {
                            notify_runs_queued!(sql.notify, &mut *tx)?;
                        }
                        Ok::<_, StoreError>(applied)
                    }
                    .await?
                } else {
                    RunWritesApplied::default()
                };
                let Some((claim, started_at)) = claim else {
                    return Ok((applied, Vec::new()));
                };
                let claimed = async {
                    // Windows of the queue in claim order, each filtered by the
                    // overlap policy, until enough are found or the queue ends:
                    // runs waiting their turn at the head cost one more window,
                    // never a scan of the whole backlog.
                    let limit = i64::from(claim.limit);
                    let window = (limit * WINDOW_PER_CLAIMED).clamp(WINDOW_MIN, WINDOW_MAX);
                    let mut after = (i64::MIN, i64::MIN);
                    let mut plain: Vec<(i64, i64, i64)> = Vec::new();
                    let mut room = limit;
                    while room > 0 {
                        let keys: Vec<(i64, i64)> = sqlx::query_as(sql::RUNS_QUEUED_WINDOW)
                            .bind(ms(claim.now))
                            .bind(after.0)
                            .bind(after.1)
                            .bind(window)
                            .fetch_all(&mut *tx)
                            .await
                            .db()?;
                        let (
                            Some(&(first_id, first_not_before)),
                            Some(&(last_id, last_not_before)),
                        ) = (keys.first(), keys.last())
                        else {
                            break;
                        };
                        let found: Vec<(i64, i64, i64)> =
                            sqlx::query_as(sql.runs.runs_claimable_queued)
                                .bind(ms(claim.now))
                                .bind(room)
                                .bind(id_array(keys.iter().map(|(id, _)| *id)))
                                .bind(first_not_before)
                                .bind(first_id)
                                .bind(last_not_before)
                                .bind(last_id)
                                .fetch_all(&mut *tx)
                                .await
                                .db()?;
                        room -= i64::try_from(found.len()).unwrap_or(i64::MAX);
                        plain.extend(found);
                        if i64::try_from(keys.len()).unwrap_or(i64::MAX) < window {
                            break;
                        }
                        after = (last_not_before, last_id);
                    }
                    let mut specs = specs_of!(self, versions(&plain), sql, tx)?;
                    let (mut chosen, open) = offer(&plain, &specs, &mut take);
                    // Queue event runs: their own candidates, with the queue's
                    // concurrency limit instead of the overlap policy.
                    let room = i64::from(claim.limit) - i64::try_from(chosen.len()).unwrap_or(0);
                    if open && room > 0 {
                        if let Some(lock) = sql.queues.lock {
                            sqlx::query(lock).execute(&mut *tx).await.db()?;
                        }
                        let events: Vec<(i64, i64, i64)> =
                            sqlx::query_as(sql.queues.claimable_events)
                                .bind(ms(claim.now))
                                .bind(room)
                                .fetch_all(&mut *tx)
                                .await
                                .db()?;
                        specs.extend(specs_of!(self, versions(&events), sql, tx)?);
                        let (more, _) = offer(&events, &specs, &mut take);
                        chosen.extend(more);
                    }
                    if chosen.is_empty() {
                        return Ok(Vec::new());
                    }
                    let rows = sqlx::query(sql.runs.runs_claim_ids)
                        .bind(&claim.node)
                        .bind(ms(claim.lease_until))
                        .bind(id_array(chosen.iter().copied()))
                        .bind(started_at.map(ms))
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                    let mut runs = rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?;
                    runs.sort_by_key(|run| (run.not_before, run.id));
                    runs.into_iter()
                        .map(|run| {
                            let spec = specs
                                .get(&(run.job_id, run.job_version))
                                .cloned()
                                .ok_or_else(|| {
                                    StoreError::corrupt(
                                        "job version",
                                        "a run's job version is missing",
                                    )
                                })?;
                            Ok(ClaimedRun { run, spec })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                }
                .await?;
                Ok((applied, claimed))
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// running → interrupted, for up to `limit` runs whose lease expired
    /// before `now` (their node died, hung or lost the database). Returns
    /// them, so the caller can apply the retry policy.
    pub async fn runs_interrupt_if_lease_expired(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        let interrupted = self
            .runs_interrupt_if_lease_expired_then(now, limit, |_, _| None)
            .await?;
        Ok(interrupted.into_iter().map(|(run, _)| run).collect())
    }

    /// As [`Store::runs_interrupt_if_lease_expired`], and queues in the same
    /// transaction the run `follow_up` returns for each interrupted run
    /// (given with its job version's spec): its retry, or a chain's
    /// resumption, can then never be lost between two transactions, nor can
    /// a chain be seen without a live run in between. Returns each
    /// interrupted run with its follow-up.
    pub async fn runs_interrupt_if_lease_expired_then<F>(
        &self,
        now: Timestamp,
        limit: u32,
        mut follow_up: F,
    ) -> Result<Vec<(Run, Option<Run>)>, StoreError>
    where
        F: FnMut(&Run, &JobSpec) -> Option<NewRun> + Send,
    {
        let error = lease_expired_error()?;
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_claim).await.db()?;
            let outcome = async {
                let rows = sqlx::query(sql.runs.runs_interrupt_if_lease_expired)
                    .bind(ms(now))
                    .bind(&error)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let mut runs = rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?;
                runs.sort_by_key(|run| run.id);
                let wanted = runs
                    .iter()
                    .map(|run| json!({"job_id": run.job_id, "version": run.job_version}))
                    .collect::<Vec<_>>();
                let specs = if runs.is_empty() {
                    std::collections::HashMap::new()
                } else {
                    let rows = sqlx::query(sql.runs.job_versions_get_many)
                        .bind(to_json("job versions", &wanted)?)
                        .fetch_all(&mut *tx)
                        .await
                        .db()?;
                    decode_specs(&rows)?
                };
                let mut interrupted = Vec::with_capacity(runs.len());
                for run in runs {
                    let new = specs
                        .get(&(run.job_id, run.job_version))
                        .and_then(|spec| follow_up(&run, spec));
                    let queued = match &new {
                        Some(new) => {
                            let encoded = crate::runs::EncodedNewRun::of(new)?;
                            let row = crate::runs::insert_queued!(&encoded, &mut *tx)?;
                            Some(decode_run(&row)?)
                        }
                        None => None,
                    };
                    interrupted.push((run, queued));
                }
                if !interrupted.is_empty() {
                    notify_runs!(sql.notify, RUNS_FINISHED, &mut *tx)?;
                    if interrupted.iter().any(|(_, queued)| queued.is_some()) {
                        notify_runs_queued!(sql.notify, &mut *tx)?;
                    }
                }
                Ok(interrupted)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Renews the leases of a node's running runs; reports, per run in the
    /// order given, whether the node still holds it and whether someone
    /// asked for it to be cancelled.
    pub async fn runs_heartbeat_if_running(
        &self,
        heartbeat: &Heartbeat,
    ) -> Result<Vec<LeaseState>, StoreError> {
        if heartbeat.leases.is_empty() {
            return Ok(Vec::new());
        }
        let leases = to_json("leases", &heartbeat.leases)?;
        let held: Vec<(i64, bool)> = with_writer!(self, |pool, sql| {
            sqlx::query_as(sql.runs.runs_heartbeat_if_running)
                .bind(&leases)
                .bind(ms(heartbeat.lease_until))
                .fetch_all(pool)
                .await
                .db()?
        });
        let held: std::collections::HashMap<i64, bool> = held.into_iter().collect();
        Ok(heartbeat
            .leases
            .iter()
            .map(|&Lease { run_id, .. }| LeaseState {
                run_id,
                held: held.contains_key(&run_id),
                cancel_requested: held.get(&run_id).copied().unwrap_or(false),
            })
            .collect())
    }
}

/// The runs a group commit moved on: started, given log lines, or ended.
fn progressed(writes: &RunWrites, applied: &RunWritesApplied) -> Vec<i64> {
    let started = writes
        .starts
        .iter()
        .zip(&applied.started)
        .filter(|(_, applied)| **applied)
        .map(|(start, _)| start.lease.run_id);
    let appended = writes
        .appends
        .iter()
        .zip(&applied.appended)
        .filter(|(append, applied)| **applied && !append.lines.is_empty())
        .map(|(append, _)| append.lease.run_id);
    let finished = writes
        .finishes
        .iter()
        .zip(&applied.finished)
        .filter(|(_, applied)| **applied)
        .map(|(finish, _)| finish.lease.run_id);
    let mut ids: Vec<i64> = started.chain(appended).chain(finished).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn comma_separated(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Each run id with whether it is the run's first write of its kind in a
/// batch: only the first can apply (it ends or starts the run), as if the
/// writes ran one after another.
fn first_of_each_run(ids: impl Iterator<Item = i64>) -> impl Iterator<Item = (i64, bool)> {
    let mut seen = HashSet::new();
    ids.map(move |run_id| (run_id, seen.insert(run_id)))
}

/// A start as `runs_mark_started_if_running` takes it.
#[derive(Serialize)]
struct StartJson<'a> {
    id: i64,
    node: &'a str,
    token: i64,
    started_at: i64,
}

/// The first start of each run, as one JSON array; `None` when there is none.
fn starts_json(starts: &[RunStart]) -> Result<Option<String>, StoreError> {
    let firsts = first_of_each_run(starts.iter().map(|start| start.lease.run_id));
    let rows = starts
        .iter()
        .zip(firsts)
        .filter(|(_, (_, first))| *first)
        .map(|(start, _)| StartJson {
            id: start.lease.run_id,
            node: &start.lease.node,
            token: start.lease.token,
            started_at: ms(start.started_at),
        })
        .collect::<Vec<_>>();
    if rows.is_empty() {
        return Ok(None);
    }
    to_json("run starts", &rows).map(Some)
}

/// A finish as `runs_finish_if_running` takes it.
#[derive(Serialize)]
struct FinishJson<'a> {
    id: i64,
    node: &'a str,
    token: i64,
    status: &'static str,
    finished_at: i64,
    result: Option<&'a str>,
    error: Option<&'a str>,
    http_calls: &'a str,
    lines: i64,
}

/// The first finish of each run, as one JSON array; `None` when there is none.
fn finishes_json(finishes: &[EncodedFinish<'_>]) -> Result<Option<String>, StoreError> {
    let firsts = first_of_each_run(finishes.iter().map(|finish| finish.id));
    let rows = finishes
        .iter()
        .zip(firsts)
        .filter(|(_, (_, first))| *first)
        .map(|(finish, _)| FinishJson {
            id: finish.id,
            node: finish.node,
            token: finish.token,
            status: finish.status,
            finished_at: finish.finished_at_ms,
            result: finish.result.as_deref(),
            error: finish.error.as_deref(),
            http_calls: &finish.http_calls,
            lines: finish.lines,
        })
        .collect::<Vec<_>>();
    if rows.is_empty() {
        return Ok(None);
    }
    to_json("run finishes", &rows).map(Some)
}

/// A finish with its values encoded for binding.
struct EncodedFinish<'a> {
    follow_up: Option<crate::runs::EncodedNewRun<'a>>,
    id: i64,
    node: &'a str,
    token: i64,
    status: &'static str,
    finished_at_ms: i64,
    result: Option<String>,
    error: Option<String>,
    http_calls: String,
    lines: i64,
    lines_json: String,
}

impl<'a> EncodedFinish<'a> {
    fn of(finish: &'a RunFinish) -> Result<Self, StoreError> {
        Ok(EncodedFinish {
            follow_up: finish
                .follow_up
                .as_ref()
                .map(crate::runs::EncodedNewRun::of)
                .transpose()?,
            id: finish.lease.run_id,
            node: &finish.lease.node,
            token: finish.lease.token,
            status: finish.status.as_str(),
            finished_at_ms: ms(finish.finished_at),
            result: opt_to_json("run result", finish.result.as_ref())?,
            error: opt_to_json("run error", finish.error.as_ref())?,
            http_calls: to_json("run http calls", &finish.http_calls)?,
            lines: i64::try_from(finish.logs.len()).unwrap_or(i64::MAX),
            lines_json: log_lines_json(&finish.logs)?,
        })
    }
}

/// The specs of the job versions `$versions` (`(job_id, version)` pairs)
/// by pair: those `$store` read before from its cache, the others read in
/// transaction `$tx` with `$sql`'s `job_versions_get_many` (and remembered).
/// A macro: the same text for either driver.
macro_rules! specs_of {
    ($store:expr, $versions:expr, $sql:ident, $tx:ident) => {
        async {
            let (mut specs, missing) = $store.specs.split($versions);
            if missing.is_empty() {
                return Ok::<_, StoreError>(specs);
            }
            let wanted = missing
                .iter()
                .map(|(job_id, version)| {
                    serde_json::json!({"job_id": job_id, "version": version})
                })
                .collect::<Vec<_>>();
            let rows = sqlx::query($sql.runs.job_versions_get_many)
                .bind(to_json("job versions", &wanted)?)
                .fetch_all(&mut *$tx)
                .await
                .db()?;
            let read = $crate::runs::transition::decode_specs(&rows)?;
            $store.specs.remember(&read);
            specs.extend(read);
            Ok(specs)
        }
        .await
    };
}
pub(crate) use specs_of;

/// The `(job_id, version)` of each candidate.
fn versions(candidates: &[(i64, i64, i64)]) -> impl Iterator<Item = (i64, i64)> + '_ {
    candidates
        .iter()
        .map(|(_, job_id, version)| (*job_id, *version))
}

/// The ids of the `candidates` `take` accepts, in order, up to the first it
/// refuses; and whether it refused none (the claim may go on).
fn offer<F>(
    candidates: &[(i64, i64, i64)],
    specs: &std::collections::HashMap<(i64, i64), JobSpec>,
    take: &mut F,
) -> (Vec<i64>, bool)
where
    F: FnMut(&ClaimCandidate<'_>) -> bool,
{
    let mut chosen = Vec::with_capacity(candidates.len());
    for (run_id, job_id, version) in candidates {
        // A version without a spec is reported by the claim's decoding.
        let Some(spec) = specs.get(&(*job_id, *version)) else {
            chosen.push(*run_id);
            continue;
        };
        if !take(&ClaimCandidate {
            run_id: *run_id,
            spec,
        }) {
            return (chosen, false);
        }
        chosen.push(*run_id);
    }
    (chosen, true)
}

pub(crate) fn decode_specs(
    rows: &[impl Columns],
) -> Result<std::collections::HashMap<(i64, i64), JobSpec>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok((
                (row.i64(0)?, row.i64(1)?),
                from_json("job spec", &row.text(2)?)?,
            ))
        })
        .collect()
}
