//! Measures how far past its deadline each adversarial script runs.
//!
//! `cargo run --release -p runtime --example overrun [-- ROUNDS]`
//!
//! Each script runs ROUNDS times (default 20) with a 100 ms timeout, one at a
//! time; the overrun is the run's duration minus the timeout.

use std::time::Duration;

use runtime::{Executor, ExecutorConfig, RunSpec, RunStatus};

const TIMEOUT: Duration = Duration::from_millis(100);

const SCRIPTS: [(&str, &str); 11] = [
    ("busy loop", "while (true) {}"),
    (
        "native allocation loop",
        "while (true) new Array(1e6).fill(0)",
    ),
    ("catastrophic regex", "/(a+)+$/.test('a'.repeat(40) + '!')"),
    (
        "string doubling",
        "let s = 'x'; while (true) { s += s; if (s.length > 1 << 24) s = 'x'; }",
    ),
    ("never-settling await", "await new Promise(() => {})"),
    (
        "caught interrupts",
        "for (;;) { try { while (true) new Array(1e5).fill(1) } catch (e) {} }",
    ),
    (
        "busy interval",
        "setInterval(() => { for (let i = 0; i < 1e7; i++); }, 0); await new Promise(() => {})",
    ),
    (
        "logging forever",
        "while (true) console.log('x'.repeat(1000))",
    ),
    (
        "typed-array fill loop",
        "const a = new Uint8Array(1e8); while (true) a.fill(1)",
    ),
    (
        "caught fill loop",
        "const a = new Uint8Array(2e8); for (;;) { try { a.fill(1) } catch {} }",
    ),
    (
        "string search loop",
        "const s = 'ab'.repeat(2e7); while (true) s.indexOf('abc')",
    ),
];

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20);
    let executor = Executor::new(ExecutorConfig::default()).expect("executor starts");
    println!(
        "timeout {} ms, {rounds} rounds each; overrun in ms (min / median / max)",
        TIMEOUT.as_millis()
    );
    for (name, script) in SCRIPTS {
        let mut overruns = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let mut spec = RunSpec::new(script);
            spec.limits.timeout = TIMEOUT;
            let outcome = executor.start(spec).outcome().await;
            assert_eq!(
                outcome.status,
                RunStatus::TimedOut,
                "{name}: {:?}",
                outcome.error
            );
            overruns.push(outcome.duration.saturating_sub(TIMEOUT).as_secs_f64() * 1000.0);
        }
        overruns.sort_by(f64::total_cmp);
        println!(
            "{name:<24} {:>7.2} / {:>7.2} / {:>7.2}",
            overruns[0],
            overruns[rounds / 2],
            overruns[rounds - 1]
        );
    }
}
