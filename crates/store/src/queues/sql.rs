//! The SQL statements on `@forge/events` queues. Text both dialects share
//! is a `const`; text that differs is a field of [`QueueSql`], whose
//! [`SQLITE`] and [`POSTGRES`] values the store picks per engine.

use crate::{runs::sql::run_columns, sql::dialect_statements};

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
        /// A push's events in one statement: `$1` queue job, `$2` queue,
        /// `$3` job, `$4` created at, `$5` JSON array of `{body, limit}`
        /// (`body` the event body as JSON text) → their ids, ascending in
        /// array order (rows are inserted in that order).
        pub(crate) events_insert: &'static str,
        /// A push's queued `event` runs in one statement: `$1` job, `$2`
        /// now, `$3` JSON array of `{event, not_before}` (`event` the run's
        /// event as JSON text) → the inserted runs, ids ascending in array
        /// order; no row when the job does not exist.
        pub(crate) event_runs_insert: &'static str,
    }
}

/// The event runs a worker may start now, in two parts. Runs of events
/// without a limit are always claimable: the oldest due ones come straight
/// from `runs_queued_events`, however long the backlog. Only queues with a
/// pending limited event (`queue_events_limited_pending`, usually none) pay
/// for the ranking: their due runs numbered per queue, a limited run
/// claimable while the queue's running runs plus its rank stay within its
/// limit. The ranking is gated on `limited` having a row (PostgreSQL plans
/// an uncorrelated `EXISTS` as a one-time filter): without the gate it
/// joined every due event run before finding no limited queue to match
/// (17 ms for a claim of 10 behind 2,400 queued events, the claim's
/// largest cost; 0.3 ms with it). `$runs` names the index of due event
/// runs (SQLite, without statistics, would rather sort every queued event
/// run by status), and `$join` keeps the small side first on SQLite
/// (`CROSS JOIN` fixes its join order).
macro_rules! claimable_event_runs {
    ($enabled:literal, $runs:literal, $join:literal) => {
        concat!(
            "SELECT id, job_id, job_version FROM (\
                SELECT * FROM (\
                    SELECT r.id, r.job_id, r.job_version, r.not_before_ms FROM ",
            $runs,
            " JOIN queue_events e ON e.id = r.queue_event_id \
                    JOIN jobs j ON j.id = r.job_id \
                    WHERE r.status = 'queued' AND r.queue_event_id IS NOT NULL \
                      AND r.not_before_ms <= $1 AND j.enabled = ",
            $enabled,
            " AND e.concurrency_limit IS NULL \
                    ORDER BY r.not_before_ms, r.id ",
            crate::sql::bound_limit!("$2"),
            ") AS unlimited \
                UNION ALL \
                SELECT * FROM (\
                    WITH limited AS MATERIALIZED (\
                        SELECT DISTINCT queue FROM queue_events \
                        WHERE status = 'pending' AND concurrency_limit IS NOT NULL), \
                    due AS (\
                        SELECT r.id, r.job_id, r.job_version, r.not_before_ms, e.queue, \
                            e.concurrency_limit, \
                            row_number() OVER (PARTITION BY e.queue \
                                               ORDER BY r.not_before_ms, r.id) AS pos \
                        FROM limited l ",
            $join,
            " queue_events e ON e.queue = l.queue AND e.status = 'pending' ",
            $join,
            " runs r ON r.queue_event_id = e.id AND r.status = 'queued' ",
            $join,
            " jobs j ON j.id = r.job_id \
                        WHERE r.not_before_ms <= $1 AND j.enabled = ",
            $enabled,
            " AND EXISTS (SELECT 1 FROM limited)), \
                    busy AS (\
                        SELECT e.queue, count(*) AS n FROM limited l ",
            $join,
            " queue_events e ON e.queue = l.queue AND e.status = 'pending' ",
            $join,
            " runs r ON r.queue_event_id = e.id AND r.status = 'running' \
                        GROUP BY e.queue) \
                    SELECT due.id, due.job_id, due.job_version, due.not_before_ms FROM due \
                    LEFT JOIN busy ON busy.queue = due.queue \
                    WHERE due.concurrency_limit IS NOT NULL \
                      AND COALESCE(busy.n, 0) + due.pos <= due.concurrency_limit) AS ranked \
            ) AS claimable ORDER BY not_before_ms, id ",
            crate::sql::bound_limit!("$2")
        )
    };
}

/// SQLite: its write lock already serialises claimers.
pub(crate) const SQLITE: QueueSql = QueueSql {
    lock: None,
    claimable_events: claimable_event_runs!(
        "1",
        "runs r INDEXED BY runs_queued_events",
        "CROSS JOIN"
    ),
    events_insert: "INSERT INTO queue_events \
            (queue_job_id, queue, job_id, body, concurrency_limit, created_at_ms) \
        SELECT $1, $2, $3, json_extract(value, '$.body'), json_extract(value, '$.limit'), $4 \
        FROM json_each($5) ORDER BY key \
        RETURNING id",
    event_runs_insert: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, queued_at_ms, \
             not_before_ms, event) \
         SELECT j.id, j.version, 'event', 'queued', 1, $2, \
             json_extract(value, '$.not_before'), json_extract(value, '$.event') \
         FROM json_each($3) CROSS JOIN jobs j WHERE j.id = $1 ORDER BY key \
         RETURNING ",
        run_columns!()
    ),
};

/// PostgreSQL: a transaction-scoped advisory lock serialises event claims
/// (other claims never touch event runs, so they are not held up).
pub(crate) const POSTGRES: QueueSql = QueueSql {
    lock: Some("SELECT pg_advisory_xact_lock(7301004)"),
    claimable_events: claimable_event_runs!("TRUE", "runs r", "JOIN"),
    events_insert: "INSERT INTO queue_events \
            (queue_job_id, queue, job_id, body, concurrency_limit, created_at_ms) \
        SELECT $1, $2, $3, e.v ->> 'body', (e.v ->> 'limit')::bigint, $4 \
        FROM json_array_elements($5::json) WITH ORDINALITY AS e(v, n) ORDER BY e.n \
        RETURNING id",
    event_runs_insert: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, queued_at_ms, \
             not_before_ms, event) \
         SELECT j.id, j.version, 'event', 'queued', 1, $2, \
             (r.v ->> 'not_before')::bigint, r.v ->> 'event' \
         FROM json_array_elements($3::json) WITH ORDINALITY AS r(v, n) \
         CROSS JOIN jobs j WHERE j.id = $1 ORDER BY r.n \
         RETURNING ",
        run_columns!()
    ),
};

pub(crate) const CONSUMER_OF: &str = "SELECT id FROM jobs WHERE queue_key = $1";
pub(crate) const QUEUE_JOB_INSERT: &str = "INSERT INTO queue_jobs (queue, job_id, events, created_at_ms) \
    VALUES ($1, $2, $3, $4) RETURNING id";
pub(crate) const QUEUE_JOB_GET: &str = "SELECT id, queue, job_id, events, created_at_ms FROM queue_jobs \
    WHERE id = $1 AND queue = $2";
pub(crate) const QUEUE_JOB_COUNTS: &str = "SELECT status, count(*) FROM queue_events \
    WHERE queue_job_id = $1 GROUP BY status";
pub(crate) const QUEUE_COUNTS: &str = "SELECT status, count(*) FROM queue_events \
    WHERE queue = $1 GROUP BY status";
pub(crate) const QUEUE_JOBS_RECENT: &str = concat!(
    "SELECT id, queue, job_id, events, created_at_ms FROM queue_jobs \
    WHERE queue = $1 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);
/// The counts of the queue jobs of queue `$1` with ids from `$2` to `$3`
/// (a page of `QUEUE_JOBS_RECENT`) in one statement → `queue_job_id`,
/// `status`, count: one range of `queue_events_by_job`, where a statement
/// per queue job cost a round trip each (100 for the queue's page).
pub(crate) const QUEUE_JOBS_COUNTS_BETWEEN: &str = "SELECT queue_job_id, status, count(*) \
    FROM queue_events WHERE queue_job_id BETWEEN $2 AND $3 AND queue = $1 \
    GROUP BY queue_job_id, status";
/// `$1` queue job, `$2` now: its pending events without a live run (an
/// interrupted run not re-queued yet) are cancelled too.
pub(crate) const QUEUE_JOB_CANCEL_ORPHANS: &str = "UPDATE queue_events \
    SET status = 'cancelled', settled_at_ms = $2 \
    WHERE queue_job_id = $1 AND status = 'pending' AND NOT EXISTS (\
        SELECT 1 FROM runs r WHERE r.queue_event_id = queue_events.id \
          AND r.status IN ('queued', 'running'))";
/// `$1` limit: pending events with no queued or running run.
pub(crate) const ORPHANS: &str = concat!(
    "SELECT e.id, e.queue_job_id, e.queue, e.job_id, e.body FROM queue_events e \
    WHERE e.status = 'pending' AND NOT EXISTS (\
        SELECT 1 FROM runs r WHERE r.queue_event_id = e.id \
          AND r.status IN ('queued', 'running')) \
    ORDER BY e.id ",
    crate::sql::bound_limit!("$1")
);
/// `$1` event → its newest run's id, attempt and event JSON.
pub(crate) const LAST_RUN_OF_EVENT: &str = "SELECT id, attempt, event FROM runs \
    WHERE queue_event_id = $1 ORDER BY id DESC LIMIT 1";
/// `$1` event, `$2` now.
pub(crate) const EVENT_FAIL_IF_PENDING: &str = "UPDATE queue_events SET status = 'failed', \
    settled_at_ms = $2 WHERE id = $1 AND status = 'pending'";
/// `$1` job → its queue key.
pub(crate) const QUEUE_OF_JOB: &str = "SELECT queue_key FROM jobs WHERE id = $1";
