//! Many runs in a row: time per run and resident memory along the way.
//!
//! `cargo run --release -p runtime --example churn -- [RUNS] [SCRIPT]`
//!
//! Under `perf stat -e task-clock` it also gives the CPU time per run.

use std::time::Instant;

use runtime::{Executor, ExecutorConfig, RunSpec};

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let script = args.next().unwrap_or_else(|| String::from("return 1+1"));
    let executor = Executor::new(ExecutorConfig { worker_threads: 1 }).expect("executor starts");
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime to wait on");
    let spec = RunSpec::new(script);
    let started = Instant::now();
    for run in 1..=runs {
        let outcome = waiter.block_on(executor.start(spec.clone()).outcome());
        if run == 1 {
            println!(
                "status {:?}, result {}, script heap {} KiB",
                outcome.status,
                outcome.result,
                outcome.peak_memory_bytes / 1024
            );
        }
        if run % (runs / 4).max(1) == 0 {
            println!("after {run:>6} runs: RSS {} KiB", resident_kib());
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{runs} runs in {:.2?}: {:.1} µs per run (wall clock)",
        elapsed,
        elapsed.as_secs_f64() * 1e6 / runs as f64
    );
    let engines = executor.engines();
    println!(
        "engines: {} started, {} runs reused one",
        engines.started, engines.reused
    );
}
