//! The SQL statements on runs, their logs and occurrence claims. Text both
//! dialects share is a `const`; text that differs is a field of [`RunSql`],
//! whose [`SQLITE`] and [`POSTGRES`] values the store picks per engine.

use crate::sql::{bound_limit, dialect_statements, sqlite_ids};

/// A JSON array of ids in parameter `$n` as the right side of `= ANY`, on
/// PostgreSQL: an array computed once, so each id is one index probe. (An
/// `IN (SELECT json_array_elements_text(…))` the planner may join as a
/// filter against every live row instead: 177 ms for 256 jobs with 7,600
/// live rows, against 1.6 ms this way.)
macro_rules! pg_any_id {
    ($param:literal) => {
        concat!(
            "ANY(ARRAY(SELECT json_array_elements_text(",
            $param,
            "::json)::bigint))"
        )
    };
}
/// The columns of a run, in the order `runs::decode_run` reads them.
macro_rules! run_columns {
    () => {
        "id, job_id, job_version, trigger, status, attempt, scheduled_for_ms, queued_at_ms, \
         not_before_ms, started_at_ms, finished_at_ms, node, lease_expires_at_ms, \
         cancel_requested, missed_count, parent_run_id, params, state, event, result, error, \
         http_calls, log_lines, chain_id, lease_token"
    };
}
pub(crate) use run_columns;

/// `run_columns!` qualified with the table name, for statements that join.
macro_rules! qualified_run_columns {
    () => {
        "runs.id, runs.job_id, runs.job_version, runs.trigger, runs.status, runs.attempt, \
         runs.scheduled_for_ms, runs.queued_at_ms, runs.not_before_ms, runs.started_at_ms, \
         runs.finished_at_ms, runs.node, runs.lease_expires_at_ms, runs.cancel_requested, \
         runs.missed_count, runs.parent_run_id, runs.params, runs.state, runs.event, \
         runs.result, runs.error, runs.http_calls, runs.log_lines, runs.chain_id, \
         runs.lease_token"
    };
}

/// The next window of queued plain runs due by `$1`, in claim order
/// (`not_before`, then id), after the key (`$2` not before, `$3` id); at
/// most `$4` → `id`, `not_before_ms`. An ordered walk of the `runs_queued`
/// index that stops at the limit: a claim never reads the whole backlog.
pub(crate) const RUNS_QUEUED_WINDOW: &str = concat!(
    "SELECT id, not_before_ms FROM runs \
     WHERE status = 'queued' AND not_before_ms <= $1 AND (not_before_ms, id) > ($2, $3) \
       AND queue_event_id IS NULL \
     ORDER BY not_before_ms, id ",
    bound_limit!("$4")
);

/// Of the queued runs a window lists (`$in_window`, a condition on alias
/// `r`, and its first and last keys `($4, $5)` and `($6, $7)`), those a
/// worker may start now: due, and — unless the job allows overlap — the
/// oldest queued run of a job with no running run, so each job's runs start
/// one at a time and in order; a chain's queued chunk goes before every
/// other queued run of its job (the chain is one execution, whatever was
/// queued while it went on). Queue event runs are claimed apart
/// (`queues::QueueSql::claimable_events`): they neither follow nor hold up
/// the overlap policy.
macro_rules! claimable_queued_runs {
    ($now:literal, $in_window:expr) => {
        concat!(
            "SELECT r.id, r.job_id, r.job_version, r.not_before_ms FROM runs r \
         JOIN jobs j ON j.id = r.job_id \
         WHERE ",
            $in_window,
            " AND (r.not_before_ms, r.id) >= ($4, $5) AND (r.not_before_ms, r.id) <= ($6, $7) \
           AND r.status = 'queued' AND r.not_before_ms <= ",
            $now,
            " \
           AND r.queue_event_id IS NULL \
           AND (j.overlap = 'allow' OR ( \
               NOT EXISTS (SELECT 1 FROM runs o \
                           WHERE o.job_id = r.job_id AND o.status = 'running' \
                             AND o.queue_event_id IS NULL) \
               AND NOT EXISTS (SELECT 1 FROM runs e \
                               WHERE e.job_id = r.job_id AND e.status = 'queued' \
                                 AND e.queue_event_id IS NULL \
                                 AND ((e.chain_id IS NOT NULL AND r.chain_id IS NULL) \
                                      OR ((e.chain_id IS NULL) = (r.chain_id IS NULL) \
                                          AND e.id < r.id)))))"
        )
    };
}

dialect_statements! {
    /// The statements on runs, their logs and occurrence claims whose text
    /// differs between the dialects.
    pub(crate) struct RunSql {
        /// `$1` JSON array of job ids: locks those jobs in id order (deadlock
        /// free between nodes claiming overlapping sets); SQLite's write lock
        /// already excludes every other claimer.
        pub(crate) jobs_lock_for_claim: Option<&'static str>,
        /// The occurrence compare-and-set: `$1` JSON array of
        /// `{id, expected, next}` → `id`, `version`, `overlap` of the jobs
        /// whose `next_fire_at_ms` was still `expected` (and is now `next`).
        pub(crate) jobs_advance_if_next_fire_at: &'static str,
        /// `$1` JSON array of job ids → `job_id`, `id`, `status` of their live runs.
        pub(crate) runs_active_of_jobs: &'static str,
        /// `$1` JSON array of occurrence rows, `$2` now → the inserted runs
        /// (a row inserted running holds its first lease token, 1, as a
        /// first claim of a queued row would).
        pub(crate) runs_insert_occurrences: &'static str,
        /// Runs asked for ([`RequestedRun`](super::requested::RequestedRun)):
        /// `$1` JSON array of `{job_id, job_version, trigger, attempt,
        /// scheduled_for, now, not_before, parent, params, state, event,
        /// chain}` (`params`, `state` and `event` JSON text as strings) →
        /// the runs inserted, in that order, for the jobs that exist.
        pub(crate) runs_insert_requested: &'static str,
        /// The audit entries of requested runs: `$1` instant, `$2` JSON array
        /// of `{actor, action, target, detail}` (`detail` JSON text).
        pub(crate) audit_insert_requested: &'static str,
        /// `$1` JSON array of job ids → `job_id`, `id`, `node` of the running
        /// runs of those jobs, now marked cancel-requested.
        pub(crate) runs_request_cancel_of_jobs: &'static str,
        /// `$1` JSON array of `{job_id, version}` → `job_id`, `version`, `spec`.
        pub(crate) job_versions_get_many: &'static str,
        /// The queued runs of a window ([`RUNS_QUEUED_WINDOW`]) a worker may
        /// start now, oldest first: `$1` now, `$2` limit, `$3` JSON array of
        /// the window's run ids, `$4`, `$5` its first key (not before, id),
        /// `$6`, `$7` its last → `id`, `job_id`, `job_version`. The keys bound
        /// the read to the window whichever index the planner walks (without
        /// them PostgreSQL may walk `runs_queued_plain` from the queue's head,
        /// filtering by id: every window re-read all those before it).
        /// PostgreSQL locks them (skipping rows another claimer holds) until
        /// the claim commits.
        pub(crate) runs_claimable_queued: &'static str,
        /// queued → running for the runs a claim chose: `$1` node, `$2` lease
        /// until, `$3` JSON array of run ids, `$4` their start (NULL: not
        /// started yet, the node records it when the script begins) → the
        /// claimed runs, each with a new lease token.
        pub(crate) runs_claim_ids: &'static str,
        /// running → terminal for many runs in one statement (one round trip
        /// however many a group commit holds): `$1` JSON array of `{id, node,
        /// token, status, finished_at, result, error, http_calls, lines}`
        /// (`result`, `error` and `http_calls` JSON text as strings; at most
        /// one entry per run) → `id`, `log_lines` after the update,
        /// `cancel_requested` of the runs still held under those leases.
        pub(crate) runs_finish_if_running: &'static str,
        /// The real start of many runs this node claimed (once each): `$1`
        /// JSON array of `{id, node, token, started_at}` → `id` of those
        /// still held under those leases and not started before.
        pub(crate) runs_mark_started_if_running: &'static str,
        /// running → interrupted: `$1` now, `$2` error JSON, `$3` limit.
        pub(crate) runs_interrupt_if_lease_expired: &'static str,
        /// `$1` JSON array of leases `{run_id, node, token}`, `$2` lease until
        /// → `id`, `cancel_requested` of the runs still held under them.
        pub(crate) runs_heartbeat_if_running: &'static str,
        /// `$1` run id, `$2` first seq, `$3` JSON array of `[ts_ms, level, message]`.
        pub(crate) run_logs_insert: &'static str,
    }
}

/// SQLite: JSON is checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: RunSql = RunSql {
    jobs_lock_for_claim: None,
    // The JSON is unpacked once into a materialised table; inline, SQLite
    // re-evaluates it for every job row (quadratic in the batch size).
    jobs_advance_if_next_fire_at: "WITH c AS MATERIALIZED (\
            SELECT json_extract(value, '$.id') AS job_id, \
                   json_extract(value, '$.expected') AS expected_ms, \
                   json_extract(value, '$.next') AS next_ms \
            FROM json_each($1)) \
        UPDATE jobs SET next_fire_at_ms = c.next_ms FROM c \
        WHERE jobs.id = c.job_id AND jobs.next_fire_at_ms = c.expected_ms \
        RETURNING id, version, overlap",
    // A chain is one execution: its queued next chunk counts as running.
    runs_active_of_jobs: concat!(
        "SELECT job_id, id, \
             CASE WHEN chain_id IS NULL THEN status ELSE 'running' END AS status FROM runs \
         WHERE status IN ('queued', 'running') AND queue_event_id IS NULL AND job_id IN ",
        sqlite_ids!("$1")
    ),
    runs_insert_occurrences: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
             queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, \
             lease_expires_at_ms, missed_count, lease_token) \
         SELECT json_extract(value, '$.job_id'), json_extract(value, '$.job_version'), \
             json_extract(value, '$.trigger'), json_extract(value, '$.status'), 1, \
             json_extract(value, '$.scheduled_for'), $2, $2, json_extract(value, '$.started_at'), \
             json_extract(value, '$.finished_at'), json_extract(value, '$.node'), \
             json_extract(value, '$.lease'), json_extract(value, '$.missed_count'), \
             CASE WHEN json_extract(value, '$.status') = 'running' THEN 1 ELSE 0 END \
         FROM json_each($1) ORDER BY key \
         RETURNING ",
        run_columns!()
    ),
    // CROSS JOIN keeps the requests outermost: one primary-key lookup each.
    runs_insert_requested: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
             queued_at_ms, not_before_ms, parent_run_id, params, state, event, chain_id) \
         SELECT j.id, COALESCE(json_extract(value, '$.job_version'), j.version), \
             json_extract(value, '$.trigger'), 'queued', json_extract(value, '$.attempt'), \
             json_extract(value, '$.scheduled_for'), json_extract(value, '$.now'), \
             json_extract(value, '$.not_before'), json_extract(value, '$.parent'), \
             json_extract(value, '$.params'), json_extract(value, '$.state'), \
             json_extract(value, '$.event'), json_extract(value, '$.chain') \
         FROM json_each($1) CROSS JOIN jobs j WHERE j.id = json_extract(value, '$.job_id') \
         ORDER BY key \
         RETURNING ",
        run_columns!()
    ),
    audit_insert_requested: "INSERT INTO audit_log (at_ms, actor, action, target, detail) \
        SELECT $1, json_extract(value, '$.actor'), json_extract(value, '$.action'), \
            json_extract(value, '$.target'), json_extract(value, '$.detail') \
        FROM json_each($2) ORDER BY key",
    runs_request_cancel_of_jobs: concat!(
        "UPDATE runs SET cancel_requested = TRUE \
         WHERE status = 'running' AND job_id IN ",
        sqlite_ids!("$1"),
        " RETURNING job_id, id, node"
    ),
    // CROSS JOIN keeps the wanted list outermost: one primary-key lookup each.
    job_versions_get_many: "WITH p AS MATERIALIZED (\
            SELECT json_extract(value, '$.job_id') AS job_id, \
                   json_extract(value, '$.version') AS version \
            FROM json_each($1)) \
        SELECT v.job_id, v.version, v.spec FROM p CROSS JOIN job_versions v \
        WHERE v.job_id = p.job_id AND v.version = p.version",
    runs_claimable_queued: concat!(
        "SELECT id, job_id, job_version FROM (",
        claimable_queued_runs!("$1", concat!("r.id IN ", sqlite_ids!("$3"))),
        " ORDER BY r.not_before_ms, r.id ",
        bound_limit!("$2"),
        ") ORDER BY not_before_ms, id"
    ),
    runs_claim_ids: concat!(
        "UPDATE runs SET status = 'running', node = $1, started_at_ms = $4, \
             lease_expires_at_ms = $2, lease_token = lease_token + 1 \
         WHERE status = 'queued' AND id IN ",
        sqlite_ids!("$3"),
        " RETURNING ",
        run_columns!()
    ),
    runs_finish_if_running: "WITH f AS MATERIALIZED (\
            SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.node') AS node, \
                   json_extract(value, '$.token') AS token, \
                   json_extract(value, '$.status') AS status, \
                   json_extract(value, '$.finished_at') AS finished_at, \
                   json_extract(value, '$.result') AS result, \
                   json_extract(value, '$.error') AS error, \
                   json_extract(value, '$.http_calls') AS http_calls, \
                   json_extract(value, '$.lines') AS lines \
            FROM json_each($1)) \
        UPDATE runs SET status = f.status, \
            finished_at_ms = max(f.finished_at, COALESCE(runs.started_at_ms, f.finished_at)), \
            lease_expires_at_ms = NULL, result = f.result, error = f.error, \
            http_calls = f.http_calls, log_lines = runs.log_lines + f.lines \
        FROM f \
        WHERE runs.id = f.id AND runs.node = f.node AND runs.lease_token = f.token \
          AND runs.status = 'running' \
        RETURNING runs.id, runs.log_lines, runs.cancel_requested",
    runs_mark_started_if_running: "WITH s AS MATERIALIZED (\
            SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.node') AS node, \
                   json_extract(value, '$.token') AS token, \
                   json_extract(value, '$.started_at') AS started_at \
            FROM json_each($1)) \
        UPDATE runs SET started_at_ms = s.started_at FROM s \
        WHERE runs.id = s.id AND runs.node = s.node AND runs.lease_token = s.token \
          AND runs.status = 'running' AND runs.started_at_ms IS NULL \
        RETURNING runs.id",
    runs_interrupt_if_lease_expired: concat!(
        "UPDATE runs SET status = 'interrupted', \
             finished_at_ms = max($1, COALESCE(started_at_ms, $1)), \
             lease_expires_at_ms = NULL, error = $2 \
         WHERE status = 'running' AND lease_expires_at_ms < $1 AND id IN (\
             SELECT id FROM runs WHERE status = 'running' AND lease_expires_at_ms < $1 \
             ORDER BY lease_expires_at_ms ",
        bound_limit!("$3"),
        ") \
         RETURNING ",
        run_columns!()
    ),
    runs_heartbeat_if_running: "WITH h AS MATERIALIZED (\
            SELECT json_extract(value, '$.run_id') AS id, json_extract(value, '$.node') AS node, \
                   json_extract(value, '$.token') AS token \
            FROM json_each($1)) \
        UPDATE runs SET lease_expires_at_ms = $2 FROM h \
        WHERE runs.id = h.id AND runs.node = h.node AND runs.lease_token = h.token \
          AND runs.status = 'running' \
        RETURNING runs.id, runs.cancel_requested",
    run_logs_insert: "INSERT INTO run_logs (run_id, seq, ts_ms, level, message) \
        SELECT $1, $2 + key, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
               json_extract(value, '$[2]') \
        FROM json_each($3)",
};

/// PostgreSQL: `json` columns cast from and to text; row locks where SQLite
/// relies on its single writer.
pub(crate) const POSTGRES: RunSql = RunSql {
    jobs_lock_for_claim: Some(concat!(
        "SELECT id FROM jobs WHERE id = ",
        pg_any_id!("$1"),
        " ORDER BY id FOR UPDATE"
    )),
    jobs_advance_if_next_fire_at: "UPDATE jobs SET next_fire_at_ms = c.next \
        FROM json_to_recordset($1::json) AS c(id bigint, expected bigint, next bigint) \
        WHERE jobs.id = c.id AND jobs.next_fire_at_ms = c.expected \
        RETURNING jobs.id, jobs.version, jobs.overlap",
    // A chain is one execution: its queued next chunk counts as running.
    runs_active_of_jobs: concat!(
        "SELECT job_id, id, \
             CASE WHEN chain_id IS NULL THEN status ELSE 'running' END AS status FROM runs \
         WHERE status IN ('queued', 'running') AND queue_event_id IS NULL AND job_id = ",
        pg_any_id!("$1")
    ),
    runs_insert_occurrences: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
             queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, \
             lease_expires_at_ms, missed_count, lease_token) \
         SELECT r.job_id, r.job_version, r.trigger, r.status, 1, r.scheduled_for, $2, $2, \
             r.started_at, r.finished_at, r.node, r.lease, r.missed_count, \
             CASE WHEN r.status = 'running' THEN 1 ELSE 0 END \
         FROM json_to_recordset($1::json) AS r(job_id bigint, \
             job_version bigint, trigger text, status text, scheduled_for bigint, \
             started_at bigint, finished_at bigint, node text, lease bigint, \
             missed_count bigint) \
         RETURNING ",
        run_columns!()
    ),
    runs_insert_requested: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
             queued_at_ms, not_before_ms, parent_run_id, params, state, event, chain_id) \
         SELECT j.id, COALESCE((r.v ->> 'job_version')::bigint, j.version), r.v ->> 'trigger', \
             'queued', (r.v ->> 'attempt')::bigint, (r.v ->> 'scheduled_for')::bigint, \
             (r.v ->> 'now')::bigint, (r.v ->> 'not_before')::bigint, \
             (r.v ->> 'parent')::bigint, r.v ->> 'params', r.v ->> 'state', r.v ->> 'event', \
             (r.v ->> 'chain')::bigint \
         FROM json_array_elements($1::json) WITH ORDINALITY AS r(v, n) \
         JOIN jobs j ON j.id = (r.v ->> 'job_id')::bigint \
         ORDER BY r.n \
         RETURNING ",
        run_columns!()
    ),
    audit_insert_requested: "INSERT INTO audit_log (at_ms, actor, action, target, detail) \
        SELECT $1, e.v ->> 'actor', e.v ->> 'action', e.v ->> 'target', e.v ->> 'detail' \
        FROM json_array_elements($2::json) WITH ORDINALITY AS e(v, n) ORDER BY e.n",
    runs_request_cancel_of_jobs: concat!(
        "UPDATE runs SET cancel_requested = TRUE \
         WHERE status = 'running' AND job_id = ",
        pg_any_id!("$1"),
        " RETURNING job_id, id, node"
    ),
    job_versions_get_many: "SELECT v.job_id, v.version, v.spec FROM job_versions v \
        JOIN json_to_recordset($1::json) AS p(job_id bigint, version bigint) \
          ON v.job_id = p.job_id AND v.version = p.version",
    // A materialised CTE: the locked, limited set is computed exactly once.
    runs_claimable_queued: concat!(
        "WITH picked AS MATERIALIZED (",
        // An array computed once: the primary key drives the scan.
        claimable_queued_runs!("$1", concat!("r.id = ", pg_any_id!("$3"))),
        " ORDER BY r.not_before_ms, r.id LIMIT $2 FOR UPDATE OF r SKIP LOCKED) \
         SELECT id, job_id, job_version FROM picked ORDER BY not_before_ms, id"
    ),
    runs_claim_ids: concat!(
        "UPDATE runs SET status = 'running', node = $1, started_at_ms = $4, \
             lease_expires_at_ms = $2, lease_token = lease_token + 1 \
         WHERE status = 'queued' AND id = ",
        pg_any_id!("$3"),
        " RETURNING ",
        run_columns!()
    ),
    runs_finish_if_running: "UPDATE runs SET status = f.status, \
            finished_at_ms = greatest(f.finished_at, runs.started_at_ms), \
            lease_expires_at_ms = NULL, result = f.result, error = f.error, \
            http_calls = f.http_calls, log_lines = runs.log_lines + f.lines \
        FROM json_to_recordset($1::json) AS f(id bigint, node text, token bigint, \
            status text, finished_at bigint, result text, error text, http_calls text, \
            lines bigint) \
        WHERE runs.id = f.id AND runs.node = f.node AND runs.lease_token = f.token \
          AND runs.status = 'running' \
        RETURNING runs.id, runs.log_lines, runs.cancel_requested",
    runs_mark_started_if_running: "UPDATE runs SET started_at_ms = s.started_at \
        FROM json_to_recordset($1::json) AS s(id bigint, node text, token bigint, \
            started_at bigint) \
        WHERE runs.id = s.id AND runs.node = s.node AND runs.lease_token = s.token \
          AND runs.status = 'running' AND runs.started_at_ms IS NULL \
        RETURNING runs.id",
    runs_interrupt_if_lease_expired: concat!(
        "WITH picked AS MATERIALIZED (\
             SELECT id FROM runs WHERE status = 'running' AND lease_expires_at_ms < $1 \
             ORDER BY lease_expires_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE runs SET status = 'interrupted', finished_at_ms = greatest($1, started_at_ms), \
             lease_expires_at_ms = NULL, error = $2 \
         FROM picked \
         WHERE runs.id = picked.id AND runs.status = 'running' \
           AND runs.lease_expires_at_ms < $1 \
         RETURNING ",
        qualified_run_columns!()
    ),
    runs_heartbeat_if_running: "UPDATE runs SET lease_expires_at_ms = $2 \
        FROM json_to_recordset($1::json) AS h(run_id bigint, node text, token bigint) \
        WHERE runs.id = h.run_id AND runs.node = h.node AND runs.lease_token = h.token \
          AND runs.status = 'running' \
        RETURNING runs.id, runs.cancel_requested",
    run_logs_insert: "INSERT INTO run_logs (run_id, seq, ts_ms, level, message) \
        SELECT $1, $2 + t.ord - 1, (t.e->>0)::bigint, t.e->>1, t.e->>2 \
        FROM json_array_elements($3::json) WITH ORDINALITY AS t(e, ord)",
};

/// `$1` job id, `$2` version or NULL for the current one, `$3` trigger,
/// `$4` attempt, `$5` scheduled for, `$6` now, `$7` not before, `$8`
/// parent run, `$9` params, `$10` state, `$11` event, `$12` chain → the run.
pub(crate) const RUN_INSERT_QUEUED: &str = concat!(
    "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
         queued_at_ms, not_before_ms, parent_run_id, params, state, event, chain_id) \
     SELECT id, COALESCE($2, version), $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12 \
     FROM jobs WHERE id = $1 \
     RETURNING ",
    run_columns!()
);

/// `$1` id.
pub(crate) const RUN_GET: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1");

/// `$1` id below which to start, `$2` limit.
pub(crate) const RUNS_LIST_ALL: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE id < $1 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` id below which to start, `$2` limit, `$3` status.
pub(crate) const RUNS_LIST_BY_STATUS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE id < $1 AND status = $3 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` id below which to start, `$2` limit, `$3` job.
pub(crate) const RUNS_LIST_BY_JOB: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE id < $1 AND job_id = $3 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` id below which to start, `$2` limit, `$3` job, `$4` status.
pub(crate) const RUNS_LIST_BY_JOB_AND_STATUS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE id < $1 AND job_id = $3 AND status = $4 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` job → `status`, count of its live runs.
pub(crate) const RUNS_ACTIVE_COUNT: &str = "SELECT status, count(*) FROM runs \
    WHERE job_id = $1 AND status IN ('queued', 'running') GROUP BY status";

/// `$1` now → the earliest future `not_before_ms` of a queued run.
pub(crate) const RUNS_NEXT_QUEUED_AFTER: &str = "SELECT min(not_before_ms) FROM runs \
    WHERE status = 'queued' AND not_before_ms > $1";

/// Counts of runs by status across all jobs (live statuses only).
pub(crate) const RUNS_LIVE_COUNTS: &str = "SELECT status, count(*) FROM runs \
    WHERE status IN ('queued', 'running') GROUP BY status";

/// queued → cancelled: `$1` id, `$2` now.
pub(crate) const RUN_CANCEL_IF_QUEUED: &str = concat!(
    "UPDATE runs SET status = 'cancelled', finished_at_ms = $2 \
     WHERE id = $1 AND status = 'queued' RETURNING ",
    run_columns!()
);

/// `$1` id → `node` of the running run now marked cancel-requested.
pub(crate) const RUN_REQUEST_CANCEL_IF_RUNNING: &str = "UPDATE runs \
    SET cancel_requested = TRUE WHERE id = $1 AND status = 'running' RETURNING node";

/// `$1` node: runs it claimed whose script never began go back to the
/// queue (nothing of them ran, so nothing is interrupted).
pub(crate) const RUNS_REQUEUE_UNSTARTED_OF_NODE: &str = "UPDATE runs \
    SET status = 'queued', node = NULL, lease_expires_at_ms = NULL \
    WHERE status = 'running' AND node = $1 AND started_at_ms IS NULL";

/// `$1` node, `$2` an instant already past: its other running runs'
/// leases end now, so the sweep interrupts (and retries) them at once.
pub(crate) const RUNS_EXPIRE_LEASES_OF_NODE: &str = "UPDATE runs \
    SET lease_expires_at_ms = $2 WHERE status = 'running' AND node = $1";

/// `$1` id, `$2` node, `$3` new lines, `$4` lease token → `log_lines`
/// after the update.
pub(crate) const RUN_COUNT_LOGS_IF_RUNNING: &str = "UPDATE runs \
    SET log_lines = log_lines + $3 \
    WHERE id = $1 AND node = $2 AND lease_token = $4 AND status = 'running' \
    RETURNING log_lines";

/// `$1` run, `$2` seq after which to start, `$3` limit.
pub(crate) const RUN_LOGS: &str = concat!(
    "SELECT seq, ts_ms, level, message FROM run_logs \
    WHERE run_id = $1 AND seq > $2 ORDER BY seq ",
    crate::sql::bound_limit!("$3")
);

/// `$1` job, `$2` runs kept, `$3` finished before this are old, `$4`
/// batch → deletes up to a batch of ended runs beyond either bound;
/// never a run of a chain still going (its history is one execution).
pub(crate) const RUNS_PRUNE: &str = concat!(
    "DELETE FROM runs WHERE id IN (\
        SELECT id FROM runs c \
        WHERE job_id = $1 AND status NOT IN ('queued', 'running') \
          AND (c.chain_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs l \
               WHERE l.chain_id = c.chain_id AND l.status IN ('queued', 'running'))) \
          AND (id <= COALESCE((SELECT id FROM runs WHERE job_id = $1 \
                               ORDER BY id DESC LIMIT 1 OFFSET $2), 0) \
               OR finished_at_ms < $3) \
        ORDER BY id ",
    crate::sql::bound_limit!("$4"),
    ")"
);

/// `$1` run id: the run becomes the first chunk of its own chain.
pub(crate) const RUN_JOIN_OWN_CHAIN: &str =
    "UPDATE runs SET chain_id = id WHERE id = $1 AND chain_id IS NULL";

/// `$1` job, `$2` run id → the newest ended run before it that ran or
/// was missed (skipped and cancelled runs say nothing of health).
pub(crate) const RUN_PREVIOUS_OUTCOME: &str = "SELECT status FROM runs \
    WHERE job_id = $1 AND id < $2 \
      AND status IN ('succeeded', 'failed', 'timed_out', 'interrupted', 'missed') \
    ORDER BY id DESC LIMIT 1";

/// `$1` job, `$2` now: the job's queued chain chunks → their ids.
pub(crate) const CANCEL_QUEUED_CHUNKS_OF_JOB: &str = "UPDATE runs \
    SET status = 'cancelled', finished_at_ms = $2 \
    WHERE job_id = $1 AND status = 'queued' AND chain_id IS NOT NULL RETURNING id";

/// `$1` queue job, `$2` now: its event runs not started (the settle
/// trigger cancels their events) → how many.
pub(crate) const CANCEL_QUEUED_RUNS_OF_QUEUE_JOB: &str = "UPDATE runs \
    SET status = 'cancelled', finished_at_ms = $2 \
    WHERE status = 'queued' AND queue_event_id IN \
        (SELECT id FROM queue_events WHERE queue_job_id = $1 AND status = 'pending')";
