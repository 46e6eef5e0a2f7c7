//! The SQL statements on `@forge/events` queues. Text both dialects share
//! is a `const`; text that differs is a field of [`QueueSql`], whose
//! [`SQLITE`] and [`POSTGRES`] values the store picks per engine.

use crate::sql::dialect_statements;

dialect_statements! {
    /// The queue statements whose text differs between the dialects.
    pub(crate) struct QueueSql {
        /// Taken first in a transaction that claims event runs or re-queues
        /// events: claims of event runs are serialised across nodes, so each
        /// sees the others' running runs when it counts against a limit.
        pub(crate) lock: Option<&'static str>,
        /// The event runs a worker may start now, oldest first: `$1` now,
        /// `$2` limit → `id`, `job_id`, `job_version` (`runs_claim_ids`
        /// claims the chosen ones). A run is claimable when it is due, its
        /// job is enabled (a paused consumer's events wait), and its queue
        /// has fewer running runs than its limit, counting the runs listed
        /// before it (its rank among the queue's due runs).
        pub(crate) claimable_events: &'static str,
    }
}

/// Due event runs ranked per queue, and each queue's running count.
macro_rules! claimable_event_runs {
    ($enabled:literal) => {
        concat!(
            "WITH due AS (\
                SELECT r.id, r.job_id, r.job_version, r.not_before_ms, e.queue, e.concurrency_limit, \
                    row_number() OVER (PARTITION BY e.queue \
                                       ORDER BY r.not_before_ms, r.id) AS pos \
                FROM runs r \
                JOIN queue_events e ON e.id = r.queue_event_id \
                JOIN jobs j ON j.id = r.job_id \
                WHERE r.status = 'queued' AND r.queue_event_id IS NOT NULL \
                  AND r.not_before_ms <= $1 AND j.enabled = ",
            $enabled,
            "), busy AS (\
                SELECT e.queue, count(*) AS n FROM runs r \
                JOIN queue_events e ON e.id = r.queue_event_id \
                WHERE r.status = 'running' AND r.queue_event_id IS NOT NULL \
                GROUP BY e.queue) \
             SELECT due.id, due.job_id, due.job_version FROM due \
             LEFT JOIN busy ON busy.queue = due.queue \
             WHERE due.concurrency_limit IS NULL \
                OR COALESCE(busy.n, 0) + due.pos <= due.concurrency_limit \
             ORDER BY due.not_before_ms, due.id LIMIT $2"
        )
    };
}

/// SQLite: its write lock already serialises claimers.
pub(crate) const SQLITE: QueueSql = QueueSql {
    lock: None,
    claimable_events: claimable_event_runs!("1"),
};

/// PostgreSQL: a transaction-scoped advisory lock serialises event claims
/// (other claims never touch event runs, so they are not held up).
pub(crate) const POSTGRES: QueueSql = QueueSql {
    lock: Some("SELECT pg_advisory_xact_lock(7301004)"),
    claimable_events: claimable_event_runs!("TRUE"),
};

pub(crate) const CONSUMER_OF: &str = "SELECT id FROM jobs WHERE queue_key = $1";
pub(crate) const QUEUE_JOB_INSERT: &str = "INSERT INTO queue_jobs (queue, job_id, events, created_at_ms) \
    VALUES ($1, $2, $3, $4) RETURNING id";
pub(crate) const QUEUE_EVENT_INSERT: &str = "INSERT INTO queue_events \
        (queue_job_id, queue, job_id, body, concurrency_limit, created_at_ms) \
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
pub(crate) const QUEUE_JOB_GET: &str = "SELECT id, queue, job_id, events, created_at_ms FROM queue_jobs \
    WHERE id = $1 AND queue = $2";
pub(crate) const QUEUE_JOB_COUNTS: &str = "SELECT status, count(*) FROM queue_events \
    WHERE queue_job_id = $1 GROUP BY status";
pub(crate) const QUEUE_COUNTS: &str = "SELECT status, count(*) FROM queue_events \
    WHERE queue = $1 GROUP BY status";
pub(crate) const QUEUE_JOBS_RECENT: &str = "SELECT id, queue, job_id, events, created_at_ms FROM queue_jobs \
    WHERE queue = $1 ORDER BY id DESC LIMIT $2";
/// `$1` queue job, `$2` now: its pending events without a live run (an
/// interrupted run not re-queued yet) are cancelled too.
pub(crate) const QUEUE_JOB_CANCEL_ORPHANS: &str = "UPDATE queue_events \
    SET status = 'cancelled', settled_at_ms = $2 \
    WHERE queue_job_id = $1 AND status = 'pending' AND NOT EXISTS (\
        SELECT 1 FROM runs r WHERE r.queue_event_id = queue_events.id \
          AND r.status IN ('queued', 'running'))";
/// `$1` limit: pending events with no queued or running run.
pub(crate) const ORPHANS: &str = "SELECT e.id, e.queue_job_id, e.queue, e.job_id, e.body FROM queue_events e \
    WHERE e.status = 'pending' AND NOT EXISTS (\
        SELECT 1 FROM runs r WHERE r.queue_event_id = e.id \
          AND r.status IN ('queued', 'running')) \
    ORDER BY e.id LIMIT $1";
/// `$1` event → its newest run's id, attempt and event JSON.
pub(crate) const LAST_RUN_OF_EVENT: &str = "SELECT id, attempt, event FROM runs \
    WHERE queue_event_id = $1 ORDER BY id DESC LIMIT 1";
/// `$1` event, `$2` now.
pub(crate) const EVENT_FAIL_IF_PENDING: &str = "UPDATE queue_events SET status = 'failed', \
    settled_at_ms = $2 WHERE id = $1 AND status = 'pending'";
/// `$1` job → its queue key.
pub(crate) const QUEUE_OF_JOB: &str = "SELECT queue_key FROM jobs WHERE id = $1";
