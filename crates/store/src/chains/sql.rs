//! The SQL statements on chains of runs. Text both dialects share is a
//! `const`; text that differs is a field of [`ChainSql`], whose [`SQLITE`]
//! and [`POSTGRES`] values the store picks per engine.

use crate::{
    runs::sql::run_columns,
    sql::{dialect_statements, pg_ids, sqlite_ids},
};
/// The summaries of the chains `$where` selects (a condition on
/// `chain_id`), `$2` being the error of a run interrupted because its lease
/// expired → `chain_id`, `job_id`, runs, succeeded runs, live runs, first
/// start, last end, summed execution time, the newest run's status and its
/// state's size in bytes. A chunk's time counts what it executed: from its
/// start to its end as its node recorded it, or — when its node died and
/// the lease expired (the row's end is when another node noticed, up to a
/// lease later) — to its last stored log line, the last sign of it
/// executing.
macro_rules! chain_summaries {
    ($where:expr) => {
        concat!(
            "WITH s AS (\
                SELECT chain_id, min(job_id) AS job_id, count(*) AS runs, \
                    sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS done, \
                    sum(CASE WHEN status IN ('queued', 'running') THEN 1 ELSE 0 END) AS live, \
                    min(started_at_ms) AS started, max(finished_at_ms) AS finished, \
                    sum(CASE \
                        WHEN started_at_ms IS NULL OR finished_at_ms IS NULL THEN 0 \
                        WHEN status = 'interrupted' AND error = $2 THEN \
                            COALESCE((SELECT max(l.ts_ms) FROM run_logs l \
                                      WHERE l.run_id = r.id), started_at_ms) \
                            - started_at_ms \
                        ELSE finished_at_ms - started_at_ms END) AS busy, \
                    max(id) AS last_id \
                FROM runs r WHERE chain_id ",
            $where,
            " GROUP BY chain_id) \
            SELECT s.chain_id, s.job_id, CAST(s.runs AS BIGINT), CAST(s.done AS BIGINT), \
                CAST(s.live AS BIGINT), s.started, s.finished, CAST(s.busy AS BIGINT), \
                l.status, CAST(COALESCE(octet_length(l.state), 0) AS BIGINT) \
            FROM s JOIN runs l ON l.id = s.last_id"
        )
    };
}

/// The newest chain of each job in `$ids` (a subquery of job ids), as
/// `chain_summaries!` reads them.
macro_rules! newest_chains_of_jobs {
    ($ids:expr) => {
        chain_summaries!(concat!(
            "IN (SELECT max(chain_id) FROM runs \
                 WHERE chain_id IS NOT NULL AND job_id IN ",
            $ids,
            " GROUP BY job_id)"
        ))
    };
}

dialect_statements! {
    /// The statements on chains whose text differs between the dialects.
    pub(crate) struct ChainSql {
        /// `$1` JSON array of job ids, `$2` the lease-expired error → the
        /// summary of each one's newest chain, as `CHAIN_SUMMARY` reads it
        /// (jobs without one: no row).
        pub(crate) chains_newest_of_jobs: &'static str,
    }
}

/// SQLite: `json_each` unpacks the id list.
pub(crate) const SQLITE: ChainSql = ChainSql {
    chains_newest_of_jobs: newest_chains_of_jobs!(sqlite_ids!("$1")),
};

/// PostgreSQL: `json_array_elements_text` unpacks the id list.
pub(crate) const POSTGRES: ChainSql = ChainSql {
    chains_newest_of_jobs: newest_chains_of_jobs!(pg_ids!("$1")),
};

/// `$1` chain, `$2` the lease-expired error → its summary (see
/// `chain_summaries!`).
pub(crate) const CHAIN_SUMMARY: &str = chain_summaries!("= $1");

/// `$1` job → the id of its newest chain (NULL when it has none).
pub(crate) const CHAIN_NEWEST_OF_JOB: &str =
    "SELECT max(chain_id) FROM runs WHERE job_id = $1 AND chain_id IS NOT NULL";

/// `$1` chain → its runs in order.
pub(crate) const CHAIN_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE chain_id = $1 ORDER BY id"
);

/// `$1` chain → `id` of its queued and running runs.
pub(crate) const CHAIN_LIVE_RUNS: &str = "SELECT id FROM runs \
    WHERE chain_id = $1 AND status IN ('queued', 'running') ORDER BY id";
