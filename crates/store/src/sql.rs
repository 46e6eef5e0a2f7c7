//! Every SQL statement the store runs, side by side for both dialects.
//!
//! `$n` placeholders work on both engines. The dialects differ only where
//! PostgreSQL's `json` column needs a cast from and to text, in how a JSON
//! array of keys becomes rows, and in how a guarded transaction excludes
//! other writers; statements that are the same text on both live in
//! [`common`]. Instants are Unix milliseconds (`i64`) everywhere.

/// The columns of a run, in the order `runs::decode_run` reads them.
macro_rules! run_columns {
    () => {
        "id, job_id, job_version, trigger, status, attempt, scheduled_for_ms, queued_at_ms, \
         not_before_ms, started_at_ms, finished_at_ms, node, lease_expires_at_ms, \
         cancel_requested, missed_count, parent_run_id, params, state, event, result, error, \
         http_calls, log_lines, chain_id"
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
         runs.result, runs.error, runs.http_calls, runs.log_lines, runs.chain_id"
    };
}
pub(crate) use qualified_run_columns;

/// `delivery_columns!` qualified with the table name.
macro_rules! qualified_delivery_columns {
    () => {
        "notification_deliveries.id, notification_deliveries.channel_id, \
         notification_deliveries.job_id, notification_deliveries.run_id, \
         notification_deliveries.event, notification_deliveries.payload, \
         notification_deliveries.status, notification_deliveries.attempts, \
         notification_deliveries.next_attempt_at_ms, notification_deliveries.last_error, \
         notification_deliveries.created_at_ms, notification_deliveries.updated_at_ms"
    };
}

/// A job with its current spec and its newest run, in the order
/// `jobs::decode_job` reads them; alias `j` for the job.
macro_rules! job_select {
    () => {
        "SELECT j.id, j.version, j.enabled, j.next_fire_at_ms, j.created_at_ms, \
             j.updated_at_ms, v.spec, lr.id, lr.status, lr.trigger, lr.scheduled_for_ms, \
             lr.started_at_ms, lr.finished_at_ms \
         FROM jobs j \
         JOIN job_versions v ON v.job_id = j.id AND v.version = j.version \
         LEFT JOIN runs lr ON lr.id = (SELECT max(id) FROM runs WHERE job_id = j.id)"
    };
}

/// The columns of a notification delivery, in the order
/// `notify::decode_delivery` reads them.
macro_rules! delivery_columns {
    () => {
        "id, channel_id, job_id, run_id, event, payload, status, attempts, \
         next_attempt_at_ms, last_error, created_at_ms, updated_at_ms"
    };
}

/// The ids of queued runs a worker may start now (alias `r`): due, and —
/// unless the job allows overlap — the oldest queued run of a job with no
/// running run, so each job's runs start one at a time and in order; a
/// chain's queued chunk goes before every other queued run of its job (the
/// chain is one execution, whatever was queued while it went on). Queue
/// event runs are claimed apart (`queues::QueueSql::claim_events`): they
/// neither follow nor hold up the overlap policy.
macro_rules! claimable_queued_runs {
    () => {
        "SELECT r.id FROM runs r JOIN jobs j ON j.id = r.job_id \
         WHERE r.status = 'queued' AND r.not_before_ms <= $2 \
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
    };
}

/// A JSON array of ids in parameter `$n`, as a subquery, on SQLite.
macro_rules! sqlite_ids {
    ($param:literal) => {
        concat!("(SELECT value FROM json_each(", $param, "))")
    };
}

/// A JSON array of ids in parameter `$n`, as a subquery, on PostgreSQL.
macro_rules! pg_ids {
    ($param:literal) => {
        concat!(
            "(SELECT json_array_elements_text(",
            $param,
            "::json)::bigint)"
        )
    };
}

/// The statements whose text differs between the dialects.
pub(crate) struct Dialect {
    /// Starts a transaction that will write and must not be overtaken by
    /// another writer between its reads and its writes.
    pub(crate) begin_write: &'static str,
    /// Run first inside a `kv_transact` transaction: excludes every other kv
    /// writer until commit (SQLite's `BEGIN IMMEDIATE` already does).
    pub(crate) lock_kv_for_transact: Option<&'static str>,

    /// `$1` key → `value` (JSON text), `expires_at_ms`.
    pub(crate) kv_get: &'static str,
    /// `$1` key, `$2` JSON text, `$3` expires_at_ms, `$4` now.
    pub(crate) kv_upsert: &'static str,
    /// As `kv_upsert`, but changes nothing when a live entry exists.
    pub(crate) kv_insert_if_absent: &'static str,
    /// `$1` prefix (inclusive lower bound), `$2` cursor (exclusive lower
    /// bound, `''` for none), `$3` exclusive upper bound, `$4` now,
    /// `$5` limit → `key`, `value`.
    pub(crate) kv_list_bounded: &'static str,
    /// As `kv_list_bounded` without the upper bound: `$3` now, `$4` limit.
    pub(crate) kv_list_unbounded: &'static str,
    /// `$1` JSON array of keys, `$2` now → `key`, `value` of live entries.
    pub(crate) kv_get_many: &'static str,
    /// `$1` JSON array of keys.
    pub(crate) kv_delete_many: &'static str,
    /// The storage browser: `$1` prefix, `$2` key and `$3` kind (0 entry,
    /// 1 secret, -1 none) after which to start, `$4` now, `$5` exclusive
    /// upper bound or NULL, `$6` limit → `key`, kind, value JSON text (NULL
    /// for secrets), size in bytes (ciphertext for secrets).
    pub(crate) storage_browse: &'static str,

    /// Sends a notification to other nodes (`$1` channel, `$2` payload);
    /// delivered when the transaction commits. SQLite has one node: none.
    pub(crate) notify: Option<&'static str>,

    /// `$1` id → `version`, locking the job's row until commit.
    pub(crate) job_version_for_update: &'static str,
    /// Job list page: `$1` name after which to start, `$2` search text or
    /// NULL, `$3` enabled or NULL, `$4` limit, `$5` newest run's status
    /// (`none`: never ran) or NULL.
    pub(crate) job_list: &'static str,
    /// `$1` search, `$2` enabled, as in `job_list` → how many jobs match.
    pub(crate) job_count: &'static str,
    /// As `job_count`, also `$3` the newest run's status (`none`: never ran).
    pub(crate) job_count_by_last_run: &'static str,
    /// `$1` JSON array of job ids, `$2` runs per job → `job_id`, `id`,
    /// `status`, `scheduled_for_ms`, `started_at_ms`, `finished_at_ms` of
    /// each job's newest runs.
    pub(crate) runs_recent_of_jobs: &'static str,

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
    /// `$1` JSON array of occurrence rows, `$2` now → the inserted runs.
    pub(crate) runs_insert_occurrences: &'static str,
    /// `$1` JSON array of job ids → `job_id`, `id`, `node` of the running
    /// runs of those jobs, now marked cancel-requested.
    pub(crate) runs_request_cancel_of_jobs: &'static str,
    /// `$1` JSON array of `{job_id, version}` → `job_id`, `version`, `spec`.
    pub(crate) job_versions_get_many: &'static str,

    /// queued → running: `$1` node, `$2` now, `$3` lease until, `$4` limit.
    pub(crate) runs_claim_queued: &'static str,
    /// running → terminal: `$1` id, `$2` node, `$3` status, `$4` finished
    /// at, `$5` result, `$6` error, `$7` HTTP calls, `$8` new log lines →
    /// `log_lines` after the update, `cancel_requested`.
    pub(crate) run_finish_if_running: &'static str,
    /// running → interrupted: `$1` now, `$2` error JSON, `$3` limit.
    pub(crate) runs_interrupt_if_lease_expired: &'static str,
    /// `$1` JSON array of run ids, `$2` node, `$3` lease until → `id`,
    /// `cancel_requested` of the runs still running on that node.
    pub(crate) runs_heartbeat_if_running: &'static str,
    /// `$1` run id, `$2` first seq, `$3` JSON array of `[ts_ms, level, message]`.
    pub(crate) run_logs_insert: &'static str,

    /// `$1` now, `$2` claimed until, `$3` limit → due deliveries, now
    /// invisible to other claimers until `$2`.
    pub(crate) deliveries_claim_due: &'static str,

    /// Queue statements (`queues`).
    pub(crate) queues: &'static crate::queues::QueueSql,
}

/// SQLite: JSON is stored as checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_kv_for_transact: None,

    kv_get: "SELECT value, expires_at_ms FROM kv WHERE key = $1",
    kv_upsert: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                VALUES ($1, $2, $3, $4) \
                ON CONFLICT (key) DO UPDATE SET \
                    value = excluded.value, \
                    expires_at_ms = excluded.expires_at_ms, \
                    updated_at_ms = excluded.updated_at_ms",
    kv_insert_if_absent: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                          VALUES ($1, $2, $3, $4) \
                          ON CONFLICT (key) DO UPDATE SET \
                              value = excluded.value, \
                              expires_at_ms = excluded.expires_at_ms, \
                              updated_at_ms = excluded.updated_at_ms \
                          WHERE kv.expires_at_ms <= excluded.updated_at_ms",
    kv_list_bounded: "SELECT key, value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key LIMIT $5",
    kv_list_unbounded: "SELECT key, value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key LIMIT $4",
    kv_get_many: "SELECT key, value FROM kv \
                  WHERE key IN (SELECT value FROM json_each($1)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv WHERE key IN (SELECT value FROM json_each($1))",
    storage_browse: "SELECT key, kind, value, size FROM (\
            SELECT key, 0 AS kind, value, length(CAST(value AS BLOB)) AS size FROM kv \
            WHERE key >= $1 AND ($5 IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 0 > $3)) \
              AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
            UNION ALL \
            SELECT key, 1 AS kind, NULL AS value, length(ciphertext) AS size FROM secret \
            WHERE key >= $1 AND ($5 IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 1 > $3))) \
        ORDER BY key, kind LIMIT $6",

    notify: None,

    job_version_for_update: "SELECT version FROM jobs WHERE id = $1",
    job_list: concat!(
        job_select!(),
        " WHERE j.name > $1 \
           AND ($2 IS NULL OR instr(lower(j.name), lower($2)) > 0) \
           AND ($3 IS NULL OR j.enabled = $3) \
           AND ($5 IS NULL OR ($5 = 'none' AND lr.id IS NULL) OR lr.status = $5) \
         ORDER BY j.name LIMIT $4"
    ),
    // Without a status filter the newest runs are not joined: one index
    // lookup per job costs more than the whole count.
    job_count: "SELECT count(*) FROM jobs j \
        WHERE ($1 IS NULL OR instr(lower(j.name), lower($1)) > 0) \
          AND ($2 IS NULL OR j.enabled = $2)",
    job_count_by_last_run: "SELECT count(*) FROM jobs j \
        LEFT JOIN runs lr ON lr.id = (SELECT max(id) FROM runs WHERE job_id = j.id) \
        WHERE ($1 IS NULL OR instr(lower(j.name), lower($1)) > 0) \
          AND ($2 IS NULL OR j.enabled = $2) \
          AND (($3 = 'none' AND lr.id IS NULL) OR lr.status = $3)",
    // Per job, the id of its `$2`-th newest run bounds an index range scan
    // of `runs_by_job`; the materialised id list keeps the jobs outermost.
    runs_recent_of_jobs: "WITH j AS MATERIALIZED (SELECT value AS job_id FROM json_each($1)) \
        SELECT r.job_id, r.id, r.status, r.scheduled_for_ms, r.started_at_ms, r.finished_at_ms \
        FROM j CROSS JOIN runs r \
        WHERE r.job_id = j.job_id \
          AND r.id >= COALESCE((SELECT r2.id FROM runs r2 WHERE r2.job_id = j.job_id \
                                ORDER BY r2.id DESC LIMIT 1 OFFSET $2 - 1), 0)",

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
             lease_expires_at_ms, missed_count) \
         SELECT json_extract(value, '$.job_id'), json_extract(value, '$.job_version'), \
             json_extract(value, '$.trigger'), json_extract(value, '$.status'), 1, \
             json_extract(value, '$.scheduled_for'), $2, $2, json_extract(value, '$.started_at'), \
             json_extract(value, '$.finished_at'), json_extract(value, '$.node'), \
             json_extract(value, '$.lease'), json_extract(value, '$.missed_count') \
         FROM json_each($1) ORDER BY key \
         RETURNING ",
        run_columns!()
    ),
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

    runs_claim_queued: concat!(
        "UPDATE runs SET status = 'running', node = $1, started_at_ms = $2, \
             lease_expires_at_ms = $3 \
         WHERE status = 'queued' AND id IN (",
        claimable_queued_runs!(),
        " ORDER BY r.not_before_ms, r.id LIMIT $4) RETURNING ",
        run_columns!()
    ),
    run_finish_if_running: "UPDATE runs SET status = $3, finished_at_ms = max($4, started_at_ms), \
            lease_expires_at_ms = NULL, result = $5, error = $6, http_calls = $7, \
            log_lines = log_lines + $8 \
        WHERE id = $1 AND node = $2 AND status = 'running' \
        RETURNING log_lines, cancel_requested",
    runs_interrupt_if_lease_expired: concat!(
        "UPDATE runs SET status = 'interrupted', finished_at_ms = max($1, started_at_ms), \
             lease_expires_at_ms = NULL, error = $2 \
         WHERE status = 'running' AND lease_expires_at_ms < $1 AND id IN (\
             SELECT id FROM runs WHERE status = 'running' AND lease_expires_at_ms < $1 \
             ORDER BY lease_expires_at_ms LIMIT $3) \
         RETURNING ",
        run_columns!()
    ),
    runs_heartbeat_if_running: concat!(
        "UPDATE runs SET lease_expires_at_ms = $3 \
         WHERE status = 'running' AND node = $2 AND id IN ",
        sqlite_ids!("$1"),
        " RETURNING id, cancel_requested"
    ),
    run_logs_insert: "INSERT INTO run_logs (run_id, seq, ts_ms, level, message) \
        SELECT $1, $2 + key, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
               json_extract(value, '$[2]') \
        FROM json_each($3)",

    deliveries_claim_due: concat!(
        "UPDATE notification_deliveries \
         SET next_attempt_at_ms = $2, attempts = attempts + 1, updated_at_ms = $1 \
         WHERE status = 'pending' AND id IN (\
             SELECT id FROM notification_deliveries \
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ORDER BY next_attempt_at_ms LIMIT $3) \
         RETURNING ",
        delivery_columns!()
    ),

    queues: &crate::queues::SQLITE,
};

/// PostgreSQL: `json` columns cast from and to text; a table lock in
/// SHARE ROW EXCLUSIVE mode gives transactions SQLite's one-writer-at-a-time
/// guarantee (readers are never blocked).
pub(crate) const POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_kv_for_transact: Some("LOCK TABLE kv IN SHARE ROW EXCLUSIVE MODE"),

    kv_get: "SELECT value::text AS value, expires_at_ms FROM kv WHERE key = $1",
    kv_upsert: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                VALUES ($1, $2::json, $3, $4) \
                ON CONFLICT (key) DO UPDATE SET \
                    value = excluded.value, \
                    expires_at_ms = excluded.expires_at_ms, \
                    updated_at_ms = excluded.updated_at_ms",
    kv_insert_if_absent: "INSERT INTO kv (key, value, expires_at_ms, updated_at_ms) \
                          VALUES ($1, $2::json, $3, $4) \
                          ON CONFLICT (key) DO UPDATE SET \
                              value = excluded.value, \
                              expires_at_ms = excluded.expires_at_ms, \
                              updated_at_ms = excluded.updated_at_ms \
                          WHERE kv.expires_at_ms <= excluded.updated_at_ms",
    kv_list_bounded: "SELECT key, value::text AS value FROM kv \
                      WHERE key >= $1 AND key > $2 AND key < $3 \
                        AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
                      ORDER BY key LIMIT $5",
    kv_list_unbounded: "SELECT key, value::text AS value FROM kv \
                        WHERE key >= $1 AND key > $2 \
                          AND (expires_at_ms IS NULL OR expires_at_ms > $3) \
                        ORDER BY key LIMIT $4",
    kv_get_many: "SELECT key, value::text AS value FROM kv \
                  WHERE key IN (SELECT json_array_elements_text($1::json)) \
                    AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    kv_delete_many: "DELETE FROM kv \
                     WHERE key IN (SELECT json_array_elements_text($1::json))",
    storage_browse: "SELECT key, kind, value, size FROM (\
            SELECT key, 0::bigint AS kind, value::text AS value, \
                octet_length(value::text)::bigint AS size FROM kv \
            WHERE key >= $1 AND ($5::text IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 0 > $3::bigint)) \
              AND (expires_at_ms IS NULL OR expires_at_ms > $4) \
            UNION ALL \
            SELECT key, 1::bigint AS kind, NULL::text AS value, \
                octet_length(ciphertext)::bigint AS size FROM secret \
            WHERE key >= $1 AND ($5::text IS NULL OR key < $5) \
              AND (key > $2 OR (key = $2 AND 1 > $3::bigint))) AS s \
        ORDER BY key, kind LIMIT $6",

    notify: Some("SELECT pg_notify($1, $2)"),

    job_version_for_update: "SELECT version FROM jobs WHERE id = $1 FOR UPDATE",
    job_list: concat!(
        job_select!(),
        " WHERE j.name > $1 \
           AND ($2::text IS NULL OR strpos(lower(j.name), lower($2)) > 0) \
           AND ($3::boolean IS NULL OR j.enabled = $3) \
           AND ($5::text IS NULL OR ($5 = 'none' AND lr.id IS NULL) OR lr.status = $5) \
         ORDER BY j.name LIMIT $4"
    ),
    job_count: "SELECT count(*) FROM jobs j \
        WHERE ($1::text IS NULL OR strpos(lower(j.name), lower($1)) > 0) \
          AND ($2::boolean IS NULL OR j.enabled = $2)",
    // LATERAL halves the time of the `max(id)` join over 10,000 jobs here.
    job_count_by_last_run: "SELECT count(*) FROM jobs j \
        LEFT JOIN LATERAL (SELECT id, status FROM runs WHERE job_id = j.id \
                           ORDER BY id DESC LIMIT 1) lr ON TRUE \
        WHERE ($1::text IS NULL OR strpos(lower(j.name), lower($1)) > 0) \
          AND ($2::boolean IS NULL OR j.enabled = $2) \
          AND (($3::text = 'none' AND lr.id IS NULL) OR lr.status = $3)",
    runs_recent_of_jobs: "SELECT r.job_id, r.id, r.status, r.scheduled_for_ms, \
            r.started_at_ms, r.finished_at_ms \
        FROM json_array_elements_text($1::json) AS j(id) \
        CROSS JOIN LATERAL (SELECT job_id, id, status, scheduled_for_ms, started_at_ms, \
                finished_at_ms FROM runs WHERE job_id = j.id::bigint \
                ORDER BY id DESC LIMIT $2) r",

    jobs_lock_for_claim: Some(concat!(
        "SELECT id FROM jobs WHERE id IN ",
        pg_ids!("$1"),
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
         WHERE status IN ('queued', 'running') AND queue_event_id IS NULL AND job_id IN ",
        pg_ids!("$1")
    ),
    runs_insert_occurrences: concat!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
             queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, \
             lease_expires_at_ms, missed_count) \
         SELECT r.job_id, r.job_version, r.trigger, r.status, 1, r.scheduled_for, $2, $2, \
             r.started_at, r.finished_at, r.node, r.lease, r.missed_count \
         FROM json_to_recordset($1::json) AS r(job_id bigint, \
             job_version bigint, trigger text, status text, scheduled_for bigint, \
             started_at bigint, finished_at bigint, node text, lease bigint, \
             missed_count bigint) \
         RETURNING ",
        run_columns!()
    ),
    runs_request_cancel_of_jobs: concat!(
        "UPDATE runs SET cancel_requested = TRUE \
         WHERE status = 'running' AND job_id IN ",
        pg_ids!("$1"),
        " RETURNING job_id, id, node"
    ),
    job_versions_get_many: "SELECT v.job_id, v.version, v.spec FROM job_versions v \
        JOIN json_to_recordset($1::json) AS p(job_id bigint, version bigint) \
          ON v.job_id = p.job_id AND v.version = p.version",

    // A materialised CTE: the locked, limited set is computed exactly once
    // (as an `IN` subquery it may be re-evaluated and exceed the limit).
    runs_claim_queued: concat!(
        "WITH picked AS MATERIALIZED (",
        claimable_queued_runs!(),
        " ORDER BY r.not_before_ms, r.id LIMIT $4 FOR UPDATE OF r SKIP LOCKED) \
         UPDATE runs SET status = 'running', node = $1, started_at_ms = $2, \
             lease_expires_at_ms = $3 \
         FROM picked WHERE runs.id = picked.id AND runs.status = 'queued' RETURNING ",
        qualified_run_columns!()
    ),
    run_finish_if_running: "UPDATE runs SET status = $3, \
            finished_at_ms = greatest($4, started_at_ms), \
            lease_expires_at_ms = NULL, result = $5, error = $6, http_calls = $7, \
            log_lines = log_lines + $8 \
        WHERE id = $1 AND node = $2 AND status = 'running' \
        RETURNING log_lines, cancel_requested",
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
    runs_heartbeat_if_running: concat!(
        "UPDATE runs SET lease_expires_at_ms = $3 \
         WHERE status = 'running' AND node = $2 AND id IN ",
        pg_ids!("$1"),
        " RETURNING id, cancel_requested"
    ),
    run_logs_insert: "INSERT INTO run_logs (run_id, seq, ts_ms, level, message) \
        SELECT $1, $2 + t.ord - 1, (t.e->>0)::bigint, t.e->>1, t.e->>2 \
        FROM json_array_elements($3::json) WITH ORDINALITY AS t(e, ord)",

    deliveries_claim_due: concat!(
        "WITH picked AS MATERIALIZED (\
             SELECT id FROM notification_deliveries \
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ORDER BY next_attempt_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE notification_deliveries \
         SET next_attempt_at_ms = $2, attempts = attempts + 1, updated_at_ms = $1 \
         FROM picked \
         WHERE notification_deliveries.id = picked.id \
           AND notification_deliveries.status = 'pending' \
         RETURNING ",
        qualified_delivery_columns!()
    ),

    queues: &crate::queues::POSTGRES,
};

/// Statements with the same text in both dialects.
pub(crate) mod common {
    /// `$1` key.
    pub(crate) const KV_DELETE: &str = "DELETE FROM kv WHERE key = $1";
    /// `$1` key, `$2` now: deletes the entry only if it has expired by now.
    pub(crate) const KV_DELETE_IF_EXPIRED: &str =
        "DELETE FROM kv WHERE key = $1 AND expires_at_ms <= $2";
    /// `$1` now, `$2` limit: deletes up to limit expired entries, oldest first.
    pub(crate) const KV_PURGE_EXPIRED: &str = "DELETE FROM kv WHERE key IN (\
            SELECT key FROM kv WHERE expires_at_ms <= $1 \
            ORDER BY expires_at_ms LIMIT $2)";

    /// `$1` key → `key_version`, `nonce`, `ciphertext`.
    pub(crate) const SECRET_GET: &str =
        "SELECT key_version, nonce, ciphertext FROM secret WHERE key = $1";
    /// `$1` key, `$2` key_version, `$3` nonce, `$4` ciphertext, `$5` now.
    pub(crate) const SECRET_UPSERT: &str = "INSERT INTO secret \
            (key, key_version, nonce, ciphertext, updated_at_ms) \
            VALUES ($1, $2, $3, $4, $5) \
            ON CONFLICT (key) DO UPDATE SET \
                key_version = excluded.key_version, \
                nonce = excluded.nonce, \
                ciphertext = excluded.ciphertext, \
                updated_at_ms = excluded.updated_at_ms";
    /// `$1` key.
    pub(crate) const SECRET_DELETE: &str = "DELETE FROM secret WHERE key = $1";

    /// The job columns the scheduler needs; alias-free, for `jobs_scheduled`.
    macro_rules! scheduled_job_select {
        () => {
            "SELECT id, version, schedule_cron, schedule_tz, next_fire_at_ms, overlap, misfire \
             FROM jobs WHERE enabled AND schedule_cron IS NOT NULL"
        };
    }

    /// `$1` name, `$2` enabled, `$3` cron, `$4` zone, `$5` overlap, `$6`
    /// misfire, `$7` keep_runs, `$8` keep_days, `$9` next fire, `$10` now → `id`.
    pub(crate) const JOB_INSERT: &str = "INSERT INTO jobs (name, version, enabled, \
            schedule_cron, schedule_tz, overlap, misfire, keep_runs, keep_days, \
            next_fire_at_ms, created_at_ms, updated_at_ms) \
        VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id";
    /// `$1` id, `$2` version, `$3`..`$10` as in `JOB_INSERT`'s `$1`..`$8`,
    /// `$11` next fire, `$12` now.
    pub(crate) const JOB_UPDATE: &str = "UPDATE jobs SET version = $2, name = $3, \
            enabled = $4, schedule_cron = $5, schedule_tz = $6, overlap = $7, misfire = $8, \
            keep_runs = $9, keep_days = $10, next_fire_at_ms = $11, updated_at_ms = $12 \
        WHERE id = $1";
    /// `$1` id, `$2` version, `$3` spec JSON, `$4` actor, `$5` now.
    pub(crate) const JOB_VERSION_INSERT: &str = "INSERT INTO job_versions \
            (job_id, version, spec, actor, created_at_ms) VALUES ($1, $2, $3, $4, $5)";
    /// `$1` id, `$2` enabled, `$3` next fire, `$4` now → `id`.
    pub(crate) const JOB_SET_ENABLED: &str = "UPDATE jobs \
        SET enabled = $2, next_fire_at_ms = $3, updated_at_ms = $4 WHERE id = $1 RETURNING id";
    /// `$1` id → `name` of the deleted job.
    pub(crate) const JOB_DELETE: &str = "DELETE FROM jobs WHERE id = $1 RETURNING name";
    /// `$1` id.
    pub(crate) const JOB_GET_BY_ID: &str = concat!(job_select!(), " WHERE j.id = $1");
    /// `$1` name.
    pub(crate) const JOB_GET_BY_NAME: &str = concat!(job_select!(), " WHERE j.name = $1");
    /// `$1` id → every version, newest first.
    pub(crate) const JOB_VERSIONS: &str = "SELECT job_id, version, spec, actor, created_at_ms \
        FROM job_versions WHERE job_id = $1 ORDER BY version DESC";
    /// `$1` id, `$2` version.
    pub(crate) const JOB_VERSION_GET: &str = "SELECT job_id, version, spec, actor, \
        created_at_ms FROM job_versions WHERE job_id = $1 AND version = $2";
    /// Every enabled job with a schedule.
    pub(crate) const JOBS_SCHEDULED: &str = scheduled_job_select!();
    /// `$1` id: the job if it is enabled and has a schedule.
    pub(crate) const JOB_SCHEDULED: &str = concat!(scheduled_job_select!(), " AND id = $1");
    /// `$1` id after which to start, `$2` limit → `id`, `keep_runs`, `keep_days`.
    pub(crate) const JOBS_RETENTION: &str = "SELECT id, keep_runs, keep_days FROM jobs \
        WHERE id > $1 ORDER BY id LIMIT $2";

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
        " FROM runs WHERE id < $1 ORDER BY id DESC LIMIT $2"
    );
    /// `$1` id below which to start, `$2` limit, `$3` status.
    pub(crate) const RUNS_LIST_BY_STATUS: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id < $1 AND status = $3 ORDER BY id DESC LIMIT $2"
    );
    /// `$1` id below which to start, `$2` limit, `$3` job.
    pub(crate) const RUNS_LIST_BY_JOB: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id < $1 AND job_id = $3 ORDER BY id DESC LIMIT $2"
    );
    /// `$1` id below which to start, `$2` limit, `$3` job, `$4` status.
    pub(crate) const RUNS_LIST_BY_JOB_AND_STATUS: &str = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id < $1 AND job_id = $3 AND status = $4 ORDER BY id DESC LIMIT $2"
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
    /// `$1` id, `$2` node, `$3` new lines → `log_lines` after the update.
    pub(crate) const RUN_COUNT_LOGS_IF_RUNNING: &str = "UPDATE runs \
        SET log_lines = log_lines + $3 WHERE id = $1 AND node = $2 AND status = 'running' \
        RETURNING log_lines";
    /// `$1` run, `$2` seq after which to start, `$3` limit.
    pub(crate) const RUN_LOGS: &str = "SELECT seq, ts_ms, level, message FROM run_logs \
        WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    /// `$1` job, `$2` runs kept, `$3` finished before this are old, `$4`
    /// batch → deletes up to a batch of ended runs beyond either bound;
    /// never a run of a chain still going (its history is one execution).
    pub(crate) const RUNS_PRUNE: &str = "DELETE FROM runs WHERE id IN (\
            SELECT id FROM runs c \
            WHERE job_id = $1 AND status NOT IN ('queued', 'running') \
              AND (c.chain_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs l \
                   WHERE l.chain_id = c.chain_id AND l.status IN ('queued', 'running'))) \
              AND (id <= COALESCE((SELECT id FROM runs WHERE job_id = $1 \
                                   ORDER BY id DESC LIMIT 1 OFFSET $2), 0) \
                   OR finished_at_ms < $3) \
            ORDER BY id LIMIT $4)";
    /// `$1` run id: the run becomes the first chunk of its own chain.
    pub(crate) const RUN_JOIN_OWN_CHAIN: &str =
        "UPDATE runs SET chain_id = id WHERE id = $1 AND chain_id IS NULL";
    /// `$1` chain → `chain_id`, `job_id`, runs, succeeded runs, live runs,
    /// first start, last end, summed run time, the newest run's status and
    /// its state's size in bytes.
    pub(crate) const CHAIN_SUMMARY: &str = "WITH s AS (\
            SELECT chain_id, min(job_id) AS job_id, count(*) AS runs, \
                sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS done, \
                sum(CASE WHEN status IN ('queued', 'running') THEN 1 ELSE 0 END) AS live, \
                min(started_at_ms) AS started, max(finished_at_ms) AS finished, \
                sum(COALESCE(finished_at_ms - started_at_ms, 0)) AS busy, max(id) AS last_id \
            FROM runs WHERE chain_id = $1 GROUP BY chain_id) \
        SELECT s.chain_id, s.job_id, CAST(s.runs AS BIGINT), CAST(s.done AS BIGINT), \
            CAST(s.live AS BIGINT), s.started, s.finished, CAST(s.busy AS BIGINT), l.status, \
            CAST(COALESCE(octet_length(l.state), 0) AS BIGINT) \
        FROM s JOIN runs l ON l.id = s.last_id";
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
    /// `$1` job, `$2` now: queued → cancelled for the job's queued chain
    /// chunks (overlap `replace` ends the chain) → their ids.
    pub(crate) const CHAIN_CANCEL_QUEUED_OF_JOB: &str = "UPDATE runs \
        SET status = 'cancelled', finished_at_ms = $2 \
        WHERE job_id = $1 AND status = 'queued' AND chain_id IS NOT NULL RETURNING id";
    /// `$1` job, `$2` run id → the newest ended run before it that ran or
    /// was missed (skipped and cancelled runs say nothing of health).
    pub(crate) const RUN_PREVIOUS_OUTCOME: &str = "SELECT status FROM runs \
        WHERE job_id = $1 AND id < $2 \
          AND status IN ('succeeded', 'failed', 'timed_out', 'interrupted', 'missed') \
        ORDER BY id DESC LIMIT 1";

    /// `$1` name, `$2` role, `$3` hash, `$4` now → `id`.
    pub(crate) const TOKEN_INSERT: &str = "INSERT INTO api_tokens \
        (name, role, token_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id";
    /// `$1` hash → the live token.
    pub(crate) const TOKEN_BY_HASH: &str = "SELECT id, name, role, created_at_ms, \
        last_used_at_ms, revoked_at_ms FROM api_tokens \
        WHERE token_hash = $1 AND revoked_at_ms IS NULL";
    /// `$1` id, `$2` now, `$3` a last use at or before this is refreshed.
    pub(crate) const TOKEN_TOUCH: &str = "UPDATE api_tokens SET last_used_at_ms = $2 \
        WHERE id = $1 AND (last_used_at_ms IS NULL OR last_used_at_ms <= $3)";
    /// Every token, revoked ones included, oldest first.
    pub(crate) const TOKEN_LIST: &str = "SELECT id, name, role, created_at_ms, \
        last_used_at_ms, revoked_at_ms FROM api_tokens ORDER BY id";
    /// `$1` id, `$2` now.
    pub(crate) const TOKEN_REVOKE: &str = "UPDATE api_tokens SET revoked_at_ms = $2 \
        WHERE id = $1 AND revoked_at_ms IS NULL";
    /// How many tokens are not revoked.
    pub(crate) const TOKENS_LIVE_COUNT: &str =
        "SELECT count(*) FROM api_tokens WHERE revoked_at_ms IS NULL";

    /// The columns `users::decode_user` reads.
    macro_rules! user_columns {
        () => {
            "id, name, role, disabled, created_at_ms, updated_at_ms"
        };
    }
    /// `$1` name, `$2` role, `$3` password hash, `$4` now → the user.
    pub(crate) const USER_INSERT: &str = concat!(
        "INSERT INTO users (name, role, password_hash, disabled, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING ",
        user_columns!()
    );
    /// Every user by name.
    pub(crate) const USER_LIST: &str =
        concat!("SELECT ", user_columns!(), " FROM users ORDER BY name");
    /// `$1` name.
    pub(crate) const USER_GET: &str =
        concat!("SELECT ", user_columns!(), " FROM users WHERE name = $1");
    /// How many users exist.
    pub(crate) const USERS_COUNT: &str = "SELECT count(*) FROM users";
    /// `$1` name → `password_hash`.
    pub(crate) const USER_PASSWORD_HASH: &str = "SELECT password_hash FROM users WHERE name = $1";
    /// `$1` name, `$2` role or NULL, `$3` hash or NULL, `$4` disabled or
    /// NULL (NULL keeps the value), `$5` now → the user.
    pub(crate) const USER_UPDATE: &str = concat!(
        "UPDATE users SET role = COALESCE($2, role), \
             password_hash = COALESCE($3, password_hash), \
             disabled = COALESCE($4, disabled), updated_at_ms = $5 \
         WHERE name = $1 RETURNING ",
        user_columns!()
    );
    /// `$1` name.
    pub(crate) const USER_DELETE: &str = "DELETE FROM users WHERE name = $1";

    /// `$1` user id → `name`, `role` of that enabled user.
    pub(crate) const SESSION_OWNER_USER: &str =
        "SELECT name, role FROM users WHERE id = $1 AND NOT disabled";
    /// `$1` token id → `name`, `role` of that live token.
    pub(crate) const SESSION_OWNER_TOKEN: &str =
        "SELECT name, role FROM api_tokens WHERE id = $1 AND revoked_at_ms IS NULL";
    /// `$1` id hash, `$2` user, `$3` token, `$4` role, `$5` csrf, `$6` now,
    /// `$7` expires.
    pub(crate) const SESSION_INSERT: &str = "INSERT INTO sessions (id_hash, user_id, \
            token_id, role, csrf_token, created_at_ms, expires_at_ms, last_seen_at_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $6)";
    /// `$1` id hash, `$2` now → owner ids, the owner's current name and
    /// role, csrf, created, expires, last seen — only while the session and
    /// its owner are live.
    pub(crate) const SESSION_BY_HASH: &str = "SELECT s.user_id, s.token_id, \
            COALESCE(u.name, t.name), COALESCE(u.role, t.role), s.csrf_token, \
            s.created_at_ms, s.expires_at_ms, s.last_seen_at_ms \
        FROM sessions s \
        LEFT JOIN users u ON u.id = s.user_id AND NOT u.disabled \
        LEFT JOIN api_tokens t ON t.id = s.token_id AND t.revoked_at_ms IS NULL \
        WHERE s.id_hash = $1 AND s.expires_at_ms > $2 \
          AND (u.id IS NOT NULL OR t.id IS NOT NULL)";
    /// `$1` id hash, `$2` now, `$3` new expiry.
    pub(crate) const SESSION_TOUCH: &str = "UPDATE sessions \
        SET last_seen_at_ms = $2, expires_at_ms = $3 WHERE id_hash = $1";
    /// `$1` id hash.
    pub(crate) const SESSION_DELETE: &str = "DELETE FROM sessions WHERE id_hash = $1";
    /// `$1` user id.
    pub(crate) const SESSIONS_DELETE_OF_USER: &str = "DELETE FROM sessions WHERE user_id = $1";
    /// `$1` now, `$2` sessions created at or before this are too old.
    pub(crate) const SESSIONS_PURGE: &str =
        "DELETE FROM sessions WHERE expires_at_ms <= $1 OR created_at_ms <= $2";

    /// `$1` name → key version, nonce, ciphertext, created of its secret.
    pub(crate) const SITE_SECRET: &str = "SELECT secret_key_version, secret_nonce, \
        secret_ciphertext, created_at_ms FROM sites WHERE name = $1";
    /// `$1` name, `$2` product, `$3` base URL, `$4` auth, `$5` email, `$6`
    /// key version, `$7` nonce, `$8` ciphertext, `$9` created, `$10` now.
    pub(crate) const SITE_UPSERT: &str = "INSERT INTO sites (name, product, base_url, auth, \
            email, secret_key_version, secret_nonce, secret_ciphertext, created_at_ms, \
            updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
        ON CONFLICT (name) DO UPDATE SET product = excluded.product, \
            base_url = excluded.base_url, auth = excluded.auth, email = excluded.email, \
            secret_key_version = excluded.secret_key_version, \
            secret_nonce = excluded.secret_nonce, \
            secret_ciphertext = excluded.secret_ciphertext, \
            updated_at_ms = excluded.updated_at_ms";
    /// Every site by name (no secret).
    pub(crate) const SITE_LIST: &str = "SELECT name, product, base_url, auth, email, \
        created_at_ms, updated_at_ms FROM sites ORDER BY name";
    /// Every site by name with its sealed secret.
    pub(crate) const SITE_LIST_WITH_SECRET: &str = "SELECT name, product, base_url, auth, \
        email, created_at_ms, updated_at_ms, secret_key_version, secret_nonce, \
        secret_ciphertext FROM sites ORDER BY name";
    /// `$1` name.
    pub(crate) const SITE_DELETE: &str = "DELETE FROM sites WHERE name = $1";

    /// `$1` at, `$2` actor, `$3` action, `$4` target, `$5` detail → `id`.
    pub(crate) const AUDIT_INSERT: &str = "INSERT INTO audit_log \
        (at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id";
    /// `$1` instant (ms) before which entries go, `$2` most deleted → rows.
    pub(crate) const AUDIT_PRUNE: &str = "DELETE FROM audit_log WHERE id IN \
        (SELECT id FROM audit_log WHERE at_ms < $1 ORDER BY id LIMIT $2)";
    /// `$1` id below which to start, `$2` limit.
    pub(crate) const AUDIT_LIST: &str = "SELECT id, at_ms, actor, action, target, detail \
        FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2";

    /// `$1` name, `$2` kind, `$3` url, `$4` events, `$5` enabled, `$6` now.
    pub(crate) const CHANNEL_UPSERT: &str = "INSERT INTO notification_channels \
            (name, kind, url, events, enabled, created_at_ms, updated_at_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $6) \
        ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url, \
            events = excluded.events, enabled = excluded.enabled, \
            updated_at_ms = excluded.updated_at_ms \
        RETURNING id, name, kind, url, events, enabled, created_at_ms, updated_at_ms";
    /// Every channel by name.
    pub(crate) const CHANNEL_LIST: &str = "SELECT id, name, kind, url, events, enabled, \
        created_at_ms, updated_at_ms FROM notification_channels ORDER BY name";
    /// `$1` name.
    pub(crate) const CHANNEL_DELETE: &str = "DELETE FROM notification_channels WHERE name = $1";
    /// `$1` channel, `$2` job, `$3` run, `$4` event, `$5` payload, `$6` now.
    pub(crate) const DELIVERY_INSERT: &str = "INSERT INTO notification_deliveries \
            (channel_id, job_id, run_id, event, payload, status, next_attempt_at_ms, \
             created_at_ms, updated_at_ms) \
        VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6) \
        ON CONFLICT (channel_id, run_id, event) DO NOTHING";
    /// `$1` id, `$2` status, `$3` next attempt, `$4` error, `$5` now.
    pub(crate) const DELIVERY_RECORD_IF_PENDING: &str = "UPDATE notification_deliveries \
        SET status = $2, next_attempt_at_ms = $3, last_error = COALESCE($4, last_error), \
            updated_at_ms = $5 \
        WHERE id = $1 AND status = 'pending'";
    /// `$1` channel, `$2` limit: its newest deliveries.
    pub(crate) const DELIVERIES_OF_CHANNEL: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM notification_deliveries WHERE channel_id = $1 ORDER BY id DESC LIMIT $2"
    );
    /// `$1` id below which to start, `$2` limit.
    pub(crate) const DELIVERY_LIST: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM notification_deliveries WHERE id < $1 ORDER BY id DESC LIMIT $2"
    );
}
