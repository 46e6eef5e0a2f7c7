//! Latency of single-entry `kv_set` and `kv_get` on each engine, one
//! operation at a time, as a script issues them.
//!
//! SQLite: a WAL file in a temporary directory (synchronous=NORMAL).
//! PostgreSQL: a throwaway schema in the database at
//! `CLOCKWORK_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! skipped when unreachable.
//!
//! Run: `cargo bench -p store --bench kv`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use store::{SetOptions, Store};
use tokio::runtime::Runtime;

/// Distinct keys the benchmarks cycle through.
const KEYS: usize = 1000;

fn value() -> Value {
    json!({"issue": "OPS-1234", "lastRun": "2026-01-01T00:00:00Z", "count": 42, "tags": ["a", "b"]})
}

fn key(i: usize) -> String {
    format!("bench:job:{:04}", i % KEYS)
}

fn bench_engine(c: &mut Criterion, runtime: &Runtime, engine: &str, store: &Store) {
    let value = value();
    runtime.block_on(async {
        for i in 0..KEYS {
            store
                .kv_set(&key(i), &value, SetOptions::default())
                .await
                .unwrap();
        }
    });

    let mut i = 0;
    c.bench_function(&format!("kv_set/{engine}"), |b| {
        b.iter(|| {
            i += 1;
            runtime
                .block_on(store.kv_set(&key(i), &value, SetOptions::default()))
                .unwrap();
        })
    });

    let mut i = 0;
    c.bench_function(&format!("kv_get/{engine}"), |b| {
        b.iter(|| {
            i += 1;
            black_box(runtime.block_on(store.kv_get(&key(i))).unwrap().unwrap());
        })
    });
}

fn sqlite(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime
        .block_on(Store::open_sqlite(dir.path().join("bench.db")))
        .unwrap();
    bench_engine(c, &runtime, "sqlite", &store);
    runtime.block_on(store.close());
}

fn postgres(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let base = std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("store_bench_{}", std::process::id());
    let Ok(mut admin) = runtime.block_on(PgConnection::connect(&base)) else {
        eprintln!("PostgreSQL unreachable at {base}: skipping its benchmarks");
        return;
    };
    let mut run = |sql: String| {
        runtime
            .block_on(admin.execute(sqlx::raw_sql(AssertSqlSafe(sql))))
            .unwrap();
    };
    run(format!("CREATE SCHEMA {schema}"));
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let store = runtime.block_on(Store::open(&url)).unwrap();
    bench_engine(c, &runtime, "postgres", &store);
    runtime.block_on(store.close());
    run(format!("DROP SCHEMA {schema} CASCADE"));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(4));
    targets = sqlite, postgres
}
criterion_main!(benches);
