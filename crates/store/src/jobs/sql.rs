//! The SQL statements on jobs and their versions. Text both dialects share is
//! a `const`; text that differs is a field of [`JobSql`], whose [`SQLITE`]
//! and [`POSTGRES`] values the store picks per engine.

use crate::sql::dialect_statements;
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

dialect_statements! {
    /// The statements on jobs and their versions whose text differs between the
    /// dialects.
    pub(crate) struct JobSql {
        /// `$1` id → `version`, locking the job's row until commit.
        pub(crate) job_version_for_update: &'static str,
        /// Job list page: `$1` name after which to start, `$2` search text or
        /// NULL, `$3` enabled or NULL, `$4` limit, `$5` newest run's status
        /// (`none`: never ran) or NULL, `$6` `,tag,` or NULL, `$7` owner text
        /// or NULL.
        pub(crate) job_list: &'static str,
        /// `$1` search, `$2` enabled, `$3` `,tag,`, `$4` owner text as in
        /// `job_list` → how many jobs match.
        pub(crate) job_count: &'static str,
        /// `$1` search, `$2` enabled, `$3` the newest run's status (`none`:
        /// never ran), `$4` `,tag,`, `$5` owner text → how many jobs match.
        pub(crate) job_count_by_last_run: &'static str,
        /// `$1` JSON array of job ids, `$2` runs per job → `job_id`, `id`,
        /// `status`, `scheduled_for_ms`, `started_at_ms`, `finished_at_ms` of
        /// each job's newest runs.
        pub(crate) runs_recent_of_jobs: &'static str,
    }
}

/// SQLite: JSON is checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: JobSql = JobSql {
    job_version_for_update: "SELECT version FROM jobs WHERE id = $1",
    job_list: concat!(
        job_select!(),
        " WHERE j.name > $1 \
           AND ($2 IS NULL OR instr(lower(j.name), lower($2)) > 0) \
           AND ($3 IS NULL OR j.enabled = $3) \
           AND ($5 IS NULL OR ($5 = 'none' AND lr.id IS NULL) OR lr.status = $5) \
           AND ($6 IS NULL OR instr(j.tags, $6) > 0) \
           AND ($7 IS NULL OR instr(lower(j.owner), lower($7)) > 0) \
         ORDER BY j.name ",
        crate::sql::bound_limit!("$4")
    ),
    // Without a status filter the newest runs are not joined: one index
    // lookup per job costs more than the whole count.
    job_count: "SELECT count(*) FROM jobs j \
        WHERE ($1 IS NULL OR instr(lower(j.name), lower($1)) > 0) \
          AND ($2 IS NULL OR j.enabled = $2) \
          AND ($3 IS NULL OR instr(j.tags, $3) > 0) \
          AND ($4 IS NULL OR instr(lower(j.owner), lower($4)) > 0)",
    job_count_by_last_run: "SELECT count(*) FROM jobs j \
        LEFT JOIN runs lr ON lr.id = (SELECT max(id) FROM runs WHERE job_id = j.id) \
        WHERE ($1 IS NULL OR instr(lower(j.name), lower($1)) > 0) \
          AND ($2 IS NULL OR j.enabled = $2) \
          AND (($3 = 'none' AND lr.id IS NULL) OR lr.status = $3) \
          AND ($4 IS NULL OR instr(j.tags, $4) > 0) \
          AND ($5 IS NULL OR instr(lower(j.owner), lower($5)) > 0)",
    // Per job, the id of its `$2`-th newest run bounds an index range scan
    // of `runs_by_job`; the materialised id list keeps the jobs outermost.
    runs_recent_of_jobs: "WITH j AS MATERIALIZED (SELECT value AS job_id FROM json_each($1)) \
        SELECT r.job_id, r.id, r.status, r.scheduled_for_ms, r.started_at_ms, r.finished_at_ms \
        FROM j CROSS JOIN runs r \
        WHERE r.job_id = j.job_id \
          AND r.id >= COALESCE((SELECT r2.id FROM runs r2 WHERE r2.job_id = j.job_id \
                                ORDER BY r2.id DESC LIMIT 1 OFFSET $2 - 1), 0)",
};

/// PostgreSQL: `json` columns cast from and to text; row locks where SQLite
/// relies on its single writer.
pub(crate) const POSTGRES: JobSql = JobSql {
    job_version_for_update: "SELECT version FROM jobs WHERE id = $1 FOR UPDATE",
    job_list: concat!(
        job_select!(),
        " WHERE j.name > $1 \
           AND ($2::text IS NULL OR strpos(lower(j.name), lower($2)) > 0) \
           AND ($3::boolean IS NULL OR j.enabled = $3) \
           AND ($5::text IS NULL OR ($5 = 'none' AND lr.id IS NULL) OR lr.status = $5) \
           AND ($6::text IS NULL OR strpos(j.tags, $6) > 0) \
           AND ($7::text IS NULL OR strpos(lower(j.owner), lower($7)) > 0) \
         ORDER BY j.name ",
        crate::sql::bound_limit!("$4")
    ),
    job_count: "SELECT count(*) FROM jobs j \
        WHERE ($1::text IS NULL OR strpos(lower(j.name), lower($1)) > 0) \
          AND ($2::boolean IS NULL OR j.enabled = $2) \
          AND ($3::text IS NULL OR strpos(j.tags, $3) > 0) \
          AND ($4::text IS NULL OR strpos(lower(j.owner), lower($4)) > 0)",
    // LATERAL halves the time of the `max(id)` join over 10,000 jobs here.
    job_count_by_last_run: "SELECT count(*) FROM jobs j \
        LEFT JOIN LATERAL (SELECT id, status FROM runs WHERE job_id = j.id \
                           ORDER BY id DESC LIMIT 1) lr ON TRUE \
        WHERE ($1::text IS NULL OR strpos(lower(j.name), lower($1)) > 0) \
          AND ($2::boolean IS NULL OR j.enabled = $2) \
          AND (($3::text = 'none' AND lr.id IS NULL) OR lr.status = $3) \
          AND ($4::text IS NULL OR strpos(j.tags, $4) > 0) \
          AND ($5::text IS NULL OR strpos(lower(j.owner), lower($5)) > 0)",
    runs_recent_of_jobs: "SELECT r.job_id, r.id, r.status, r.scheduled_for_ms, \
            r.started_at_ms, r.finished_at_ms \
        FROM json_array_elements_text($1::json) AS j(id) \
        CROSS JOIN LATERAL (SELECT job_id, id, status, scheduled_for_ms, started_at_ms, \
                finished_at_ms FROM runs WHERE job_id = j.id::bigint \
                ORDER BY id DESC LIMIT $2) r",
};

/// The job columns the scheduler needs; alias-free, for `jobs_scheduled`.
macro_rules! scheduled_job_select {
    () => {
        "SELECT id, version, schedule_cron, schedule_tz, next_fire_at_ms, overlap, misfire \
         FROM jobs WHERE enabled AND schedule_cron IS NOT NULL"
    };
}

/// `$1` name, `$2` enabled, `$3` cron, `$4` zone, `$5` overlap, `$6`
/// misfire, `$7` keep_runs, `$8` keep_days, `$9` next fire, `$10` now,
/// `$11` tags (`,a,b,`), `$12` owner → `id`.
pub(crate) const JOB_INSERT: &str = "INSERT INTO jobs (name, version, enabled, \
        schedule_cron, schedule_tz, overlap, misfire, keep_runs, keep_days, \
        next_fire_at_ms, created_at_ms, updated_at_ms, tags, owner) \
    VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12) RETURNING id";

/// `$1` id, `$2` version, `$3`..`$10` as in `JOB_INSERT`'s `$1`..`$8`,
/// `$11` next fire, `$12` now, `$13` tags, `$14` owner.
pub(crate) const JOB_UPDATE: &str = "UPDATE jobs SET version = $2, name = $3, \
        enabled = $4, schedule_cron = $5, schedule_tz = $6, overlap = $7, misfire = $8, \
        keep_runs = $9, keep_days = $10, next_fire_at_ms = $11, updated_at_ms = $12, \
        tags = $13, owner = $14 \
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
pub(crate) const JOBS_RETENTION: &str = concat!(
    "SELECT id, keep_runs, keep_days FROM jobs \
    WHERE id > $1 ORDER BY id ",
    crate::sql::bound_limit!("$2")
);
