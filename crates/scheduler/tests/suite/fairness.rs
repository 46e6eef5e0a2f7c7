//! Fair under abuse: scripts that never yield and scripts that eat memory
//! share the machine instead of stopping the node. A heartbeat job keeps
//! firing on time while they are live, and each of them ends with its own
//! status at its own limit.
//!
//! Timing-sensitive: `.config/nextest.toml` runs these tests alone.

use std::time::Duration;

use jiff::Timestamp;
use store::{JobSpec, RunFilter, RunStatus, Trigger};

use crate::harness::{TestEnv, scheduled, spec, wait_for, wait_for_n};

scheduler_tests! {
    a_heartbeat_keeps_its_time_while_endless_loops_and_memory_bombs_run,
}

/// Lateness at script entry the heartbeat must keep (p99).
const HEARTBEAT_LATENESS: Duration = Duration::from_millis(50);
/// How far past its limit a bad run may end.
const LIMIT_SLACK: Duration = Duration::from_millis(100);
const BUSY_TIMEOUT_SECONDS: u32 = 4;
const BOMB_MEMORY_MB: u32 = 64;
const BOMBS: usize = 4;

async fn a_heartbeat_keeps_its_time_while_endless_loops_and_memory_bombs_run(env: TestEnv) {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let endless = 4 * cores;
    let heartbeat = env
        .create_job(
            JobSpec {
                timeout_seconds: 5,
                ..scheduled("heartbeat", "* * * * * *", "return Date.now()")
            },
            Some(Timestamp::now() + Duration::from_secs(1)),
        )
        .await;
    let busy = env
        .create_job(
            JobSpec {
                timeout_seconds: BUSY_TIMEOUT_SECONDS,
                ..spec("endless", "while (true) {}")
            },
            None,
        )
        .await;
    // Grows by about 100 KB per step with some work between steps, so it
    // is live for a while before it reaches its cap.
    let bomb = env
        .create_job(
            JobSpec {
                memory_limit_mb: BOMB_MEMORY_MB,
                timeout_seconds: 60,
                ..spec(
                    "bomb",
                    "const hog = [];\n\
                     for (;;) { hog.push(new Array(1e4).fill(Math.random())); for (let i = 0; i < 2e4; i++) {} }",
                )
            },
            None,
        )
        .await;
    let mut config = env.config("node-a");
    config.workers = endless + BOMBS + 8;
    let handle = env.start(config).await;
    let mut events = handle.events();
    wait_for(&mut events, "the first heartbeat", |event| {
        event.job_id == heartbeat.id && event.status == RunStatus::Succeeded
    })
    .await;
    let abuse_started = Timestamp::now();
    let mut bad = Vec::new();
    for _ in 0..endless {
        bad.push(
            handle
                .run_now(busy.id, None, Trigger::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    for _ in 0..BOMBS {
        bad.push(
            handle
                .run_now(bomb.id, None, Trigger::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    let ended = wait_for_n(&mut events, bad.len(), "every bad run ends", |event| {
        bad.contains(&event.run_id) && event.status.is_terminal()
    })
    .await;
    // One heartbeat more, begun after the last bad run ended.
    let last_bad_end = ended.iter().map(|event| event.at).max().unwrap();
    wait_for(&mut events, "a heartbeat after the abuse", |event| {
        event.job_id == heartbeat.id
            && event.status == RunStatus::Succeeded
            && event.scheduled_for.is_some_and(|at| at > last_bad_end)
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;

    let mut overruns = Vec::new();
    for id in &bad {
        let run = env.store.run_get(*id).await.unwrap().unwrap();
        let took = Duration::from_millis(u64::try_from(run.duration_ms.unwrap()).unwrap());
        if run.job_id == busy.id {
            assert_eq!(run.status, RunStatus::TimedOut, "{run:?}");
            let limit = Duration::from_secs(u64::from(BUSY_TIMEOUT_SECONDS));
            assert!(took >= limit, "ended before its limit: {took:?}");
            overruns.push(took - limit);
        } else {
            assert_eq!(run.status, RunStatus::Failed, "{run:?}");
            assert_eq!(
                run.error.unwrap().message,
                format!("memory limit exceeded ({BOMB_MEMORY_MB} MiB)")
            );
        }
    }
    let mut problems = Vec::new();
    if overruns.iter().any(|overrun| *overrun > LIMIT_SLACK) {
        problems.push(format!(
            "endless runs ended this long after their limit: {overruns:?}"
        ));
    }

    let beats = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(heartbeat.id),
            limit: 1000,
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    let statuses: Vec<RunStatus> = beats.iter().map(|run| run.status).collect();
    assert!(
        beats.iter().all(|run| run.status == RunStatus::Succeeded),
        "every heartbeat ran and succeeded: {statuses:?}"
    );
    let mut lateness: Vec<Duration> = beats
        .iter()
        .filter(|run| run.scheduled_for.is_some_and(|at| at >= abuse_started))
        .map(entry_lateness)
        .collect();
    assert!(
        lateness.len() >= usize::try_from(BUSY_TIMEOUT_SECONDS).unwrap(),
        "heartbeats fired while the abuse lasted: {lateness:?}"
    );
    lateness.sort_unstable();
    let p99 = lateness[(lateness.len() * 99).div_ceil(100) - 1];
    if p99 > HEARTBEAT_LATENESS {
        problems.push(format!(
            "heartbeat lateness at script entry, p99 {p99:?}: {lateness:?}"
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// How long after its instant the heartbeat's script began (it returns
/// `Date.now()` as its first statement).
fn entry_lateness(run: &store::Run) -> Duration {
    let entered = run
        .result
        .as_ref()
        .and_then(serde_json::Value::as_i64)
        .unwrap();
    let due = run.scheduled_for.unwrap().as_millisecond();
    Duration::from_millis(u64::try_from(entered - due).unwrap_or(0))
}
