//! Chains: runs linked by `context.continueWith` into one logical execution.
//!
//! A chain has no table of its own. Every run of a chain carries
//! `chain_id`, the id of the chain's first chunk: the run that first ended
//! successfully with a continuation joins its own chain (its `chain_id`
//! becomes its id) in the transaction that records its end and queues the
//! next chunk (`runs_write_if_running`). Next chunks and retries of chunks
//! inherit the id. This module reads chains back — one summary per chain
//! (status, chunks done, times, the newest state's size), its runs in
//! order, its live runs — and holds the state size limit.
//!
//! A chain is `running` while one of its runs is queued or running;
//! otherwise its status is that of its newest run (a chain that finished
//! normally ends with a chunk that `succeeded` without continuing).

pub(crate) mod sql;

use std::collections::HashMap;

use jiff::Timestamp;

use crate::{
    codec::{count, id_array, opt_instant, parse_enum},
    error::{DbResultExt, StoreError},
    runs::decode_run,
    runs::{Run, RunStatus},
    store::{Store, with_backend},
};

/// The largest state (as JSON text) a chunk may hand to the next: 1 MiB.
pub const MAX_STATE_BYTES: usize = 1024 * 1024;

/// When a finish queues the first continuation of a run that is not yet in
/// a chain (`new.chain_id` is the finishing run's own id), makes that run
/// the chain's first chunk, on the finish's transaction `$conn`.
macro_rules! join_first_chunk {
    ($finish_id:expr, $encoded:expr, $conn:expr) => {{
        let encoded: &$crate::runs::EncodedNewRun<'_> = $encoded;
        if encoded.new.chain_id == Some($finish_id) {
            sqlx::query($crate::runs::sql::RUN_JOIN_OWN_CHAIN)
                .bind($finish_id)
                .execute($conn)
                .await
                .db()?;
        }
    }};
}
pub(crate) use join_first_chunk;

/// A chain as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// The chain's id: the id of its first chunk.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// `running` while a run of it is queued or running; otherwise the
    /// status of its newest run.
    pub status: RunStatus,
    /// Its runs: chunks and retries of chunks.
    pub runs: u64,
    /// Its chunks that succeeded.
    pub chunks_done: u64,
    /// When its first chunk started.
    pub started_at: Option<Timestamp>,
    /// When its last run ended; `None` while it is running.
    pub finished_at: Option<Timestamp>,
    /// The time its runs spent executing, summed, in milliseconds.
    pub total_duration_ms: i64,
    /// The size of the newest saved state (as JSON text), in bytes.
    pub latest_state_bytes: u64,
}

/// A chain with its runs in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// The chain as a whole.
    pub summary: ChainSummary,
    /// Its runs, oldest first.
    pub runs: Vec<Run>,
}

type SummaryRow = (
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    String,
    i64,
);

impl Store {
    /// The chain with this id, summary only; `None` when no run has it.
    /// Its `total_duration_ms` counts execution only (see `sql::CHAIN_SUMMARY`).
    pub async fn chain_summary(&self, id: i64) -> Result<Option<ChainSummary>, StoreError> {
        let lease_expired = crate::runs::transition::lease_expired_error()?;
        let row: Option<SummaryRow> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::CHAIN_SUMMARY)
                .bind(id)
                .bind(&lease_expired)
                .fetch_optional(pool)
                .await
                .db()?
        });
        row.map(decode_summary).transpose()
    }

    /// The chain with this id and its runs in order; `None` when no run has it.
    pub async fn chain_get(&self, id: i64) -> Result<Option<Chain>, StoreError> {
        let Some(summary) = self.chain_summary(id).await? else {
            return Ok(None);
        };
        let runs = with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::CHAIN_RUNS)
                .bind(id)
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?
        });
        Ok(Some(Chain { summary, runs }))
    }

    /// The job's newest chain (running or ended), if it ever had one.
    pub async fn chain_newest_of_job(
        &self,
        job_id: i64,
    ) -> Result<Option<ChainSummary>, StoreError> {
        let (newest,): (Option<i64>,) = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::CHAIN_NEWEST_OF_JOB)
                .bind(job_id)
                .fetch_one(pool)
                .await
                .db()?
        });
        match newest {
            Some(id) => self.chain_summary(id).await,
            None => Ok(None),
        }
    }

    /// The newest chain (running or ended) of each of `job_ids` that ever
    /// had one, by job id, in one query.
    pub(crate) async fn chains_newest_of_jobs(
        &self,
        job_ids: &[i64],
    ) -> Result<HashMap<i64, ChainSummary>, StoreError> {
        if job_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = id_array(job_ids.iter().copied());
        let lease_expired = crate::runs::transition::lease_expired_error()?;
        let rows: Vec<SummaryRow> = with_backend!(self, |pool, sql| {
            sqlx::query_as(sql.chains.chains_newest_of_jobs)
                .bind(&ids)
                .bind(&lease_expired)
                .fetch_all(pool)
                .await
                .db()?
        });
        rows.into_iter()
            .map(|row| decode_summary(row).map(|summary| (summary.job_id, summary)))
            .collect()
    }

    /// The ids of the chain's queued and running runs (at most one, as
    /// chunks run one after the other).
    pub async fn chain_live_runs(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::CHAIN_LIVE_RUNS)
                .bind(id)
                .fetch_all(pool)
                .await
                .db()?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

fn decode_summary(row: SummaryRow) -> Result<ChainSummary, StoreError> {
    let (id, job_id, runs, done, live, started, finished, busy, last_status, state_bytes) = row;
    let status = if live > 0 {
        RunStatus::Running
    } else {
        parse_enum("run status", &last_status)?
    };
    Ok(ChainSummary {
        id,
        job_id,
        status,
        runs: count(runs),
        chunks_done: count(done),
        started_at: opt_instant(started)?,
        finished_at: if live > 0 {
            None
        } else {
            opt_instant(finished)?
        },
        total_duration_ms: busy,
        latest_state_bytes: count(state_bytes),
    })
}
