//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use runtime::{Executor, ExecutorConfig, Outcome, RunSpec, RunStatus};
use serde_json::Value;

pub fn executor() -> Executor {
    Executor::new(ExecutorConfig { worker_threads: 2 }).expect("executor starts")
}

/// Runs `script` with default limits and fresh in-memory services.
pub async fn run(script: &str) -> Outcome {
    run_spec(RunSpec::new(script)).await
}

pub async fn run_spec(spec: RunSpec) -> Outcome {
    executor().start(spec).outcome().await
}

/// Runs `script`, asserts it succeeded and returns its result.
pub async fn result(script: &str) -> Value {
    let outcome = run(script).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "script failed: {:?}\nlogs: {:?}",
        outcome.error,
        outcome.logs
    );
    outcome.result
}

/// Runs `script`, asserts it failed and returns the error message.
pub async fn failure(script: &str) -> String {
    let outcome = run(script).await;
    assert_eq!(
        outcome.status,
        RunStatus::Failed,
        "result: {}",
        outcome.result
    );
    outcome.error.expect("a failed run has an error").message
}

/// The messages of the run's log lines.
pub fn messages(outcome: &Outcome) -> Vec<String> {
    outcome
        .logs
        .iter()
        .map(|line| line.message.clone())
        .collect()
}

pub mod site;
