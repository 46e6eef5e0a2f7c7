//! Many runs at once, each awaiting one slow product request: the wall time
//! until every run has ended, and the process's peak resident memory.
//!
//! `cargo bench -p clockwork --bench concurrent_runs -- [RUNS] [DELAY_MS] [ROUNDS] [SCRIPT]`
//! (defaults 1000, 200, 3, `product`; `SCRIPT` `fetch` uses a bare `fetch`
//! instead, `none` makes no request, to split the cost). Targets: 1,000 runs awaiting 200 ms each done
//! within 500 ms wall, within 300 MiB peak RSS (issue 10).
//!
//! Each run is a script with the whole Forge surface in use
//! (`api.asApp().requestJira(route…)` with a Basic credential) on one
//! [`runtime::Executor`] wired as `clockwork` wires it: the egress client on
//! a runtime of its own. The HTTP server answering after `DELAY_MS` is this
//! same binary started again as a child process (`serve-slow`), so the peak
//! RSS (`VmHWM` of /proc/self/status) is the runs' alone. It needs about two
//! file descriptors per run.

// Benchmark setup may unwrap: a failure here is a broken benchmark.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::{
    Credential, Executor, ExecutorConfig, MemoryKvStore, MemoryQueue, RunSpec, RunStatus, Services,
    Sites,
};

const PRODUCT_SCRIPT: &str = "import api, { route } from '@forge/api';\n\
    const response = await api.asApp().requestJira(route`/rest/api/3/slow`);\n\
    return (await response.json()).ok;";
const FETCH_SCRIPT: &str = "const response = await fetch(context.params.url);\n\
    return (await response.json()).ok;";
const NO_REQUEST_SCRIPT: &str = "return true;";

fn main() {
    // `cargo bench` passes `--bench`; numbers are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if args.first().map(String::as_str) == Some("serve-slow") {
        serve_slow(args.get(1).and_then(|ms| ms.parse().ok()).unwrap_or(200));
        return;
    }
    let number = |index: usize, default: usize| {
        args.get(index)
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let (runs, delay_ms, rounds) = (number(0, 1000), number(1, 200), number(2, 3));
    let script = match args.get(3).map(String::as_str) {
        None | Some("product") => PRODUCT_SCRIPT,
        Some("fetch") => FETCH_SCRIPT,
        Some("none") => NO_REQUEST_SCRIPT,
        Some(other) => panic!("SCRIPT is product, fetch or none, not {other}"),
    };

    let mut server = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["serve-slow", &delay_ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut base = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut base)
        .unwrap();
    let base = base.trim().to_owned();

    let http_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client =
        http_runtime.block_on(async { egress::Client::new(egress::Policy::default()).unwrap() });
    let executor = Executor::new(ExecutorConfig::default()).unwrap();
    let waiter = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut spec = RunSpec::new(script);
    spec.params = serde_json::json!({ "url": format!("{base}/slow") });
    spec.sites = Sites {
        jira_url: Some(base.clone()),
        app: Some(Credential::Basic {
            email: "bot@acme.test".into(),
            api_token: "token".into(),
        }),
        ..Sites::default()
    };
    spec.services = Services {
        kv: Arc::new(MemoryKvStore::new()),
        entities: Arc::default(),
        queue: Arc::new(MemoryQueue::new()),
        http: Some(client),
    };

    println!(
        "{runs} concurrent runs, each awaiting a {delay_ms} ms answer from {base}; {} script threads",
        ExecutorConfig::default().worker_threads
    );
    println!("RSS before the first round: {} MiB", kib("VmRSS") / 1024);
    for round in 1..=rounds {
        let cpu_before = cpu_ms();
        let started = Instant::now();
        let handles: Vec<_> = (0..runs).map(|_| executor.start(spec.clone())).collect();
        let launched = started.elapsed();
        let outcomes = waiter.block_on(async {
            let mut outcomes = Vec::with_capacity(runs);
            for handle in handles {
                outcomes.push(handle.outcome().await);
            }
            outcomes
        });
        let wall = started.elapsed();
        let cpu = cpu_ms() - cpu_before;
        let failed: Vec<_> = outcomes
            .iter()
            .filter(|outcome| outcome.status != RunStatus::Succeeded)
            .collect();
        assert!(
            failed.is_empty(),
            "{} runs did not succeed, e.g. {:?}",
            failed.len(),
            failed[0].error
        );
        let mut durations: Vec<Duration> = outcomes.iter().map(|o| o.duration).collect();
        durations.sort_unstable();
        let mut heaps: Vec<u64> = outcomes.iter().map(|o| o.peak_memory_bytes).collect();
        heaps.sort_unstable();
        println!(
            "round {round}: all {runs} done in {:.0} ms wall (started in {:.0} ms), {cpu} ms CPU; per run median {:.0} ms, max {:.0} ms; script heap median {} KiB; peak RSS so far {} MiB",
            wall.as_secs_f64() * 1e3,
            launched.as_secs_f64() * 1e3,
            durations[runs / 2].as_secs_f64() * 1e3,
            durations[runs - 1].as_secs_f64() * 1e3,
            heaps[runs / 2] / 1024,
            kib("VmHWM") / 1024,
        );
    }
    println!(
        "peak RSS (VmHWM) {} MiB, RSS now {} MiB",
        kib("VmHWM") / 1024,
        kib("VmRSS") / 1024
    );
}

/// The server child ends with the benchmark, even when it panics.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU time of the whole process (every thread, user and system), in ms,
/// from /proc/self/stat (clock ticks, 100 per second on Linux).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after the name.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    (fields[0] + fields[1]) * 10
}

/// A field of /proc/self/status, in KiB.
fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The child: answers every request after `delay_ms`, prints its base URL.
fn serve_slow(delay_ms: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move || async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            ([("content-type", "application/json")], "{\"ok\":true}")
        });
        axum::serve(listener, app).await.unwrap();
    });
}
