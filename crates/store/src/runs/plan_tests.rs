//! On PostgreSQL the claim statements walk their partial indexes in claim
//! order whatever the tables' statistics say: here none at all (a freshly
//! migrated schema, never analysed) under a backlog like the one issue 10's
//! benchmark builds — where the planner, left to itself, reads every queued
//! event run with a bitmap scan and sorts them before the `LIMIT`.

use super::*;
use crate::{
    plans::{Frame, Param, plan, sqlite_program},
    store::Backend,
};

const NOW: i64 = 1_765_000_030_000;
/// The fire loop's batch (`claim_batch`).
const CLAIM_BATCH: i64 = 256;

/// 1,000 jobs firing every second with 20 s of history, 5,000 queued
/// run-now runs of one job, 5,000 queued queue events and 10 running runs:
/// about 31,000 rows, inserted without `ANALYZE`.
const BACKLOG: &str = "
INSERT INTO jobs (name, version, enabled, schedule_cron, schedule_tz, overlap, misfire,
    keep_runs, keep_days, next_fire_at_ms, created_at_ms, updated_at_ms)
SELECT 'every-' || g, 1, TRUE, '* * * * * *', 'UTC', 'skip', 'run_once', 100, 30,
    1765000000000, 0, 0 FROM generate_series(1, 1000) g;
INSERT INTO jobs (name, version, enabled, overlap, misfire, keep_runs, keep_days,
    created_at_ms, updated_at_ms, queue_key)
VALUES ('trivial', 1, TRUE, 'allow', 'run_once', 100, 30, 0, 0, NULL),
       ('consumer', 1, TRUE, 'skip', 'run_once', 100, 30, 0, 0, 'bench');
INSERT INTO job_versions SELECT id, 1, '{}', 'tester', 0 FROM jobs;
INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms,
    queued_at_ms, not_before_ms, started_at_ms, finished_at_ms)
SELECT j, 1, 'schedule', CASE WHEN s % 3 = 0 THEN 'succeeded' ELSE 'skipped' END, 1,
    1765000000000 + s * 1000, 1765000000000 + s * 1000, 1765000000000 + s * 1000,
    CASE WHEN s % 3 = 0 THEN 1765000000000 + s * 1000 END, 1765000000000 + s * 1000 + 5
FROM generate_series(1, 1000) j, generate_series(0, 19) s;
INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms,
    queued_at_ms, not_before_ms)
SELECT j, 1, 'schedule', 'queued', 1, 1765000020000, 1765000020000, 1765000020000
FROM generate_series(1, 1000) j;
INSERT INTO runs (job_id, job_version, trigger, status, attempt, queued_at_ms, not_before_ms)
SELECT (SELECT id FROM jobs WHERE name = 'trivial'), 1, 'api', 'queued', 1,
    1765000020000 + g, 1765000020000 + g FROM generate_series(1, 5000) g;
UPDATE runs SET status = 'running', node = 'n1', lease_expires_at_ms = 1765000080000,
    started_at_ms = 1765000020000, lease_token = 1
WHERE status = 'queued' AND job_id <= 10;
INSERT INTO queue_jobs (queue, job_id, events, created_at_ms)
SELECT 'bench', id, 5000, 0 FROM jobs WHERE name = 'consumer';
INSERT INTO queue_events (queue_job_id, queue, job_id, body, created_at_ms)
SELECT q.id, 'bench', q.job_id, '{}', 0 FROM queue_jobs q, generate_series(1, 5000);
INSERT INTO runs (job_id, job_version, trigger, status, attempt, queued_at_ms,
    not_before_ms, event)
SELECT e.job_id, 1, 'event', 'queued', 1, 1765000020000, 1765000020000,
    json_build_object('eventId', e.id)::text FROM queue_events e;
";

/// Checks that `statement`, planned as a claim transaction plans it, reads
/// `runs` through `index` and never whole; returns the plan.
async fn assert_walks(
    store: &Store,
    what: &str,
    statement: &str,
    params: &[Param],
    index: &str,
) -> String {
    let plan = plan(store, Frame::Claim, statement, params).await;
    assert!(
        plan.contains(&format!("using {index} on runs")),
        "{what} reads runs through {index}:\n{plan}"
    );
    for whole in ["Seq Scan on runs", "Bitmap Heap Scan on runs"] {
        assert!(
            !plan.contains(whole),
            "{what} reads every row it might want ({whole}):\n{plan}"
        );
    }
    plan
}

/// The index condition of the plan's scan of `runs` through `index`.
fn index_condition<'a>(plan: &'a str, index: &str) -> &'a str {
    let scan = format!("using {index} on runs");
    let mut lines = plan.lines().skip_while(|line| !line.contains(&scan));
    lines.next();
    lines
        .next()
        .filter(|line| line.contains("Index Cond"))
        .unwrap_or("")
}

fn ids(ids: impl IntoIterator<Item = i64>) -> Param {
    Param::Text(crate::codec::id_array(ids))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claims_walk_their_indexes_on_a_database_never_analysed() {
    let schema = test_support::PgSchema::create("claim_plan_test").await;
    let store = Store::open(schema.url()).await.unwrap();
    let Backend::Postgres(pool) = &store.backend else {
        unreachable!("opened on PostgreSQL")
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(BACKLOG))
        .execute(pool)
        .await
        .unwrap();
    let analysed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() \
           AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(analysed, 0, "the tables have no statistics");

    // A window deep in the queue: one a claim reads after the runs before
    // it turned out to be waiting their turn.
    let window: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, not_before_ms FROM runs WHERE status = 'queued' AND queue_event_id IS NULL \
         ORDER BY not_before_ms, id OFFSET 4000 LIMIT 40",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let sql = &crate::sql::POSTGRES;
    assert_walks(
        &store,
        "the window of queued plain runs",
        sql::RUNS_QUEUED_WINDOW,
        &[
            Param::Int(NOW),
            Param::Int(i64::MIN),
            Param::Int(i64::MIN),
            Param::Int(40),
        ],
        "runs_queued_plain",
    )
    .await;
    let claimable = assert_walks(
        &store,
        "the claimable runs of a window",
        sql.runs.runs_claimable_queued,
        &[
            Param::Int(NOW),
            Param::Int(10),
            ids(window.iter().map(|(id, _)| *id)),
            Param::Int(window[0].1),
            Param::Int(window[0].0),
            Param::Int(window[39].1),
            Param::Int(window[39].0),
        ],
        "runs_queued_plain",
    )
    .await;
    assert!(
        index_condition(&claimable, "runs_queued_plain").contains("ROW(not_before_ms, id) >="),
        "the window's keys bound the walk, not the queue's head:\n{claimable}"
    );
    assert_walks(
        &store,
        "the claimable event runs",
        sql.queues.claimable_events,
        &[Param::Int(NOW), Param::Int(10)],
        "runs_queued_events",
    )
    .await;
    assert_walks(
        &store,
        "the sweep of expired leases",
        sql.runs.runs_interrupt_if_lease_expired,
        &[Param::Int(NOW), Param::Text("{}".into()), Param::Int(100)],
        "runs_lease",
    )
    .await;
    assert_walks(
        &store,
        "the live runs of a batch of jobs due",
        sql.runs.runs_active_of_jobs,
        &[ids(1..=CLAIM_BATCH)],
        "runs_active",
    )
    .await;

    store.close().await;
    schema.drop().await;
}

/// On SQLite the statements of every claim read their `LIMIT` from its
/// parameter when they run. A bare bound `LIMIT ?` is folded into the
/// program with the value bound, and the statement is prepared again for
/// every execution (sqlx binds anew each time, and a binding of a folded
/// parameter expires the statement): 9 % of the SQLite worker thread under
/// `Queue.push` went to `sqlite3Reprepare`. `EXPLAIN` with a distinctive
/// limit bound shows which: folded, the program loads it as a constant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claims_are_not_prepared_again_for_each_limit() {
    const LIMIT: i64 = 7_777;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("clockwork.db"))
        .await
        .unwrap();
    let sql = &crate::sql::SQLITE;
    let claims = [
        (
            "the window of queued plain runs",
            sql::RUNS_QUEUED_WINDOW,
            vec![
                Param::Int(NOW),
                Param::Int(i64::MIN),
                Param::Int(i64::MIN),
                Param::Int(LIMIT),
            ],
        ),
        (
            "the claimable runs of a window",
            sql.runs.runs_claimable_queued,
            vec![
                Param::Int(NOW),
                Param::Int(LIMIT),
                ids([1, 2]),
                Param::Int(0),
                Param::Int(1),
                Param::Int(0),
                Param::Int(2),
            ],
        ),
        (
            "the claimable event runs",
            sql.queues.claimable_events,
            vec![Param::Int(NOW), Param::Int(LIMIT)],
        ),
        (
            "the sweep of expired leases",
            sql.runs.runs_interrupt_if_lease_expired,
            vec![Param::Int(NOW), Param::Text("{}".into()), Param::Int(LIMIT)],
        ),
        (
            "the claim of due alert deliveries",
            sql.deliveries.deliveries_claim_due,
            vec![Param::Int(NOW), Param::Int(NOW), Param::Int(LIMIT)],
        ),
    ];
    for (what, statement, params) in claims {
        let program = sqlite_program(&store, statement, &params).await;
        assert!(
            program.iter().any(|(opcode, _)| opcode == "MustBeInt"),
            "{what}: no limit read at run time in {program:?}"
        );
        assert!(
            !program
                .iter()
                .any(|(opcode, p1)| opcode == "Integer" && *p1 == LIMIT),
            "{what}: the bound limit is folded into the program: {program:?}"
        );
    }
    store.close().await;
}

/// As the claims, every other statement that binds a `LIMIT` on SQLite —
/// the API's pages, a script's storage queries, log reads, pruning and
/// purges — reads it when it runs instead of being prepared again for
/// each execution. Every parameter is bound to the same distinctive value,
/// so a folded limit shows as that constant; a bare `LIMIT $1` is checked
/// to show it, so the check can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_pages_and_purges_are_not_prepared_again_for_each_limit() {
    const LIMIT: i64 = 7_777;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("clockwork.db"))
        .await
        .unwrap();
    let sql = &crate::sql::SQLITE;
    let folded = |program: &[(String, i64)]| {
        program
            .iter()
            .any(|(opcode, p1)| opcode == "Integer" && *p1 == LIMIT)
    };
    let bare = sqlite_program(
        &store,
        "SELECT id FROM runs ORDER BY id LIMIT $1",
        &[Param::Int(LIMIT)],
    )
    .await;
    assert!(folded(&bare), "a bare bound limit is folded: {bare:?}");
    let statements = [
        ("runs, all", sql::RUNS_LIST_ALL),
        ("runs by status", sql::RUNS_LIST_BY_STATUS),
        ("runs by job", sql::RUNS_LIST_BY_JOB),
        ("runs by job and status", sql::RUNS_LIST_BY_JOB_AND_STATUS),
        ("a run's log", sql::RUN_LOGS),
        ("pruning runs", sql::RUNS_PRUNE),
        ("jobs", sql.jobs.job_list),
        ("jobs' retention", crate::jobs::sql::JOBS_RETENTION),
        ("storage, bounded", sql.kv.kv_list_bounded),
        ("storage, unbounded", sql.kv.kv_list_unbounded),
        ("expired storage", crate::kv::sql::KV_PURGE_EXPIRED),
        ("audit", crate::audit::sql::AUDIT_LIST),
        ("audit search", crate::audit::sql::AUDIT_SEARCH),
        ("audit pruning", crate::audit::sql::AUDIT_PRUNE),
        ("deliveries", crate::notify::sql::DELIVERY_LIST),
        (
            "a channel's deliveries",
            crate::notify::sql::DELIVERIES_OF_CHANNEL,
        ),
        (
            "runs owing alerts",
            crate::notify::sql::RUNS_ENDED_WITHOUT_ALERTS,
        ),
        ("a queue's pushes", crate::queues::sql::QUEUE_JOBS_RECENT),
        ("orphaned events", crate::queues::sql::ORPHANS),
        (
            "an entity index, ascending",
            crate::entities::sql::WALK_ASCENDING,
        ),
        (
            "an entity index, descending",
            crate::entities::sql::WALK_DESCENDING,
        ),
    ];
    for (what, statement) in statements {
        let params = vec![Param::Int(LIMIT); highest_parameter(statement)];
        let program = sqlite_program(&store, statement, &params).await;
        assert!(
            !folded(&program),
            "{what}: the bound limit is folded into the program: {program:?}"
        );
    }
    store.close().await;
}

/// The highest `$n` a statement names.
fn highest_parameter(statement: &str) -> usize {
    statement
        .split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}
