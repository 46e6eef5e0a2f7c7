//! `GET /api/v1/jobs?limit=50` over 10,000 jobs with ~120,000 runs, through
//! the real router on a real port: the web UI's jobs page (the page, its
//! total, and each job's 20 newest runs in one query). SQLite file in a
//! temporary directory; PostgreSQL too when `CLOCKWORK_BENCH_POSTGRES=1`.
//!
//! `cargo bench -p server --bench jobs_list`

#![allow(clippy::unwrap_used)] // a benchmark fails loudly

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use server::AppState;
use sqlx::{AssertSqlSafe, Connection, Executor};
use store::{JobSchedule, JobSpec, NewJob, NewToken, Role, Store};
use tokio::runtime::Runtime;

const JOBS: i64 = 10_000;

/// 10,000 jobs (copies of one made by the store) and `i % 25` runs each.
async fn fill(store: &Store, url: &str, postgres: bool) {
    let mut spec = JobSpec::new("template", "return 1");
    spec.schedule = Some(JobSchedule {
        cron: "*/5 * * * *".into(),
        timezone: "UTC".into(),
    });
    let template = store
        .job_create(&NewJob {
            spec,
            next_fire_at: None,
            actor: "bench".into(),
        })
        .await
        .unwrap()
        .id;
    let sql = if postgres {
        format!(
            "INSERT INTO jobs (id, name, version, enabled, overlap, misfire, keep_runs, keep_days, \
                 created_at_ms, updated_at_ms) \
             SELECT i + 10, 'job-' || lpad(i::text, 5, '0'), 1, TRUE, 'skip', 'run_once', \
                 1000, 30, 0, 0 FROM generate_series(1, {JOBS}) i; \
             INSERT INTO job_versions (job_id, version, spec, actor, created_at_ms) \
             SELECT j.id, 1, jsonb_set(t.spec::jsonb, '{{name}}', to_jsonb(j.name::text))::text, \
                 'bench', 0 FROM jobs j, (SELECT spec FROM job_versions WHERE job_id = {template}) t \
             WHERE j.id <> {template}; \
             INSERT INTO runs (id, job_id, job_version, trigger, status, attempt, queued_at_ms, \
                 not_before_ms, started_at_ms, finished_at_ms) \
             SELECT i * 100 + k, i + 10, 1, 'manual', \
                 CASE WHEN (i + k) % 3 = 0 THEN 'failed' ELSE 'succeeded' END, 1, k * 1000, \
                 k * 1000, k * 1000, k * 1000 + (i % 7) * 10 + k \
             FROM generate_series(1, {JOBS}) i, generate_series(1, 24) k WHERE k <= i % 25; \
             DELETE FROM jobs WHERE id = {template}; ANALYZE;"
        )
    } else {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {JOBS}) \
             INSERT INTO jobs (id, name, version, enabled, overlap, misfire, keep_runs, keep_days, \
                 created_at_ms, updated_at_ms) \
             SELECT i + 10, printf('job-%05d', i), 1, 1, 'skip', 'run_once', 1000, 30, 0, 0 FROM n; \
             INSERT INTO job_versions (job_id, version, spec, actor, created_at_ms) \
             SELECT j.id, 1, json_set(t.spec, '$.name', j.name), 'bench', 0 \
             FROM jobs j, (SELECT spec FROM job_versions WHERE job_id = {template}) t \
             WHERE j.id <> {template}; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {JOBS}), \
                  k(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM k WHERE k < 24) \
             INSERT INTO runs (id, job_id, job_version, trigger, status, attempt, queued_at_ms, \
                 not_before_ms, started_at_ms, finished_at_ms) \
             SELECT i * 100 + k, i + 10, 1, 'manual', \
                 CASE WHEN (i + k) % 3 = 0 THEN 'failed' ELSE 'succeeded' END, 1, k * 1000, \
                 k * 1000, k * 1000, k * 1000 + (i % 7) * 10 + k \
             FROM n, k WHERE k <= i % 25; \
             DELETE FROM jobs WHERE id = {template}; ANALYZE;"
        )
    };
    if postgres {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        conn.execute(sqlx::raw_sql(AssertSqlSafe(sql)))
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        conn.execute(sqlx::raw_sql(AssertSqlSafe(sql)))
            .await
            .unwrap();
    }
}

fn bench_engine(c: &mut Criterion, runtime: &Runtime, name: &str, store: Store, url: &str) {
    let postgres = name == "postgres";
    let (addr, token) = runtime.block_on(async {
        fill(&store, url, postgres).await;
        let (_, token) = store
            .token_create(&NewToken {
                name: "bench".into(),
                role: Role::Viewer,
                secret: None,
            })
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server::serve(
            listener,
            AppState::new(store),
            std::future::pending(),
        ));
        (addr, token)
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group(format!("jobs_list/{name}"));
    group.measurement_time(Duration::from_secs(10));
    for (label, query) in [
        ("first page of 50", "limit=50"),
        ("status=failed, 50", "limit=50&status=failed"),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let response = client
                        .get(format!("http://{addr}/api/v1/jobs?{query}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.bytes().await.unwrap();
                    assert!(body.len() > 1000);
                });
            });
        });
    }
    group.finish();
}

fn jobs_list(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clockwork.db");
    let store = runtime.block_on(Store::open_sqlite(&path)).unwrap();
    let url = format!("sqlite://{}", path.display());
    bench_engine(c, &runtime, "sqlite", store, &url);
    if std::env::var("CLOCKWORK_BENCH_POSTGRES").as_deref() == Ok("1") {
        let base = std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let schema = format!("bench_jobs_{}", std::process::id());
        runtime.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            admin
                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE SCHEMA {schema}"
                ))))
                .await
                .unwrap();
        });
        let url = format!("{base}?options=-c%20search_path%3D{schema}");
        let store = runtime.block_on(Store::open(&url)).unwrap();
        bench_engine(c, &runtime, "postgres", store, &url);
        runtime.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            admin
                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP SCHEMA {schema} CASCADE"
                ))))
                .await
                .unwrap();
        });
    }
}

criterion_group!(benches, jobs_list);
criterion_main!(benches);
