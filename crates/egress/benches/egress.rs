//! What the policy point costs, against a local axum server on 127.0.0.1.
//!
//! - `overhead/*`: one small GET, egress `Client::send` versus the same
//!   request on a bare `reqwest::Client`, awaited directly and as a spawned
//!   task (egress runs each call as a task on its runtime); the difference is
//!   the policy work: allow-list, headers, body read, record.
//! - `concurrent_200ms/N`: N calls at once to a handler that waits 200 ms;
//!   the ideal wall time is 200 ms whatever N is.
//!
//! Run: `cargo bench -p egress --bench egress`

// Benchmark setup may unwrap: a failure here is a broken benchmark.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use egress::{CallRecord, Client, Observer, Policy, Request};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `/small` (a 2-byte body) and `/slow` (answers after 200 ms).
fn start_server(runtime: &Runtime) -> String {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/small", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "done"
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    })
}

/// What a run would do with records: keep them.
struct Keep(std::sync::Mutex<Vec<CallRecord>>);

impl Observer for Keep {
    fn on_complete(&self, record: &CallRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

fn overhead(c: &mut Criterion) {
    let runtime = runtime();
    let base = start_server(&runtime);
    let url = format!("{base}/small");
    let client = runtime.block_on(async { Client::new(Policy::default()).unwrap() });
    // A bare reqwest client as egress configures it (no redirects), plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let keep = Arc::new(Keep(std::sync::Mutex::new(Vec::new())));

    let mut group = c.benchmark_group("overhead");
    group.throughput(Throughput::Elements(1));
    group.bench_function("reqwest", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = raw.get(&url).send().await.unwrap();
            assert_eq!(response.bytes().await.unwrap().len(), 2);
        });
    });
    // The same, run as a spawned task as egress runs every call: isolates the
    // policy work from where the future is polled.
    group.bench_function("reqwest_spawned", |b| {
        b.to_async(&runtime).iter(|| async {
            let raw = raw.clone();
            let url = url.clone();
            let bytes = tokio::spawn(async move {
                let response = raw.get(&url).send().await.unwrap();
                response.bytes().await.unwrap()
            });
            assert_eq!(bytes.await.unwrap().len(), 2);
        });
    });
    group.bench_function("egress", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = client.send(Request::get(&url)).await.unwrap();
            assert_eq!(response.body.len(), 2);
        });
    });
    group.bench_function("egress_observed", |b| {
        b.to_async(&runtime).iter(|| async {
            let request = Request::get(&url).observer(keep.clone());
            let response = client.send(request).await.unwrap();
            assert_eq!(response.body.len(), 2);
        });
    });
    group.finish();
}

fn concurrent_slow_calls(c: &mut Criterion) {
    let runtime = runtime();
    let base = start_server(&runtime);
    let url = format!("{base}/slow");
    let client = runtime.block_on(async { Client::new(Policy::default()).unwrap() });

    let mut group = c.benchmark_group("concurrent_200ms");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    for calls in [100u64, 1000, 2000] {
        group.throughput(Throughput::Elements(calls));
        group.bench_with_input(BenchmarkId::from_parameter(calls), &calls, |b, &calls| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let client = client.clone();
                let url = url.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let started = Instant::now();
                        let mut set = JoinSet::new();
                        for _ in 0..calls {
                            set.spawn(client.send(Request::get(&url)));
                        }
                        while let Some(joined) = set.join_next().await {
                            assert!(joined.unwrap().unwrap().ok());
                        }
                        total += started.elapsed();
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, overhead, concurrent_slow_calls);
criterion_main!(benches);
