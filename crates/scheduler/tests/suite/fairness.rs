//! Fair under abuse: scripts that never yield and scripts that eat memory
//! share the machine instead of stopping the node. A heartbeat job keeps
//! firing on time while they are live, and each of them ends with its own
//! status at its own limit.
//!
//! What is asserted is behaviour, which holds on a loaded machine too: no
//! heartbeat is skipped or times out, and every bad run ends with its own
//! status, not before its limit and long before a node that failed to stop
//! it would. How late the heartbeat is and how far past their limits the
//! loops end are figures: `cargo bench -p scheduler --bench scheduler --
//! abuse` measures them (docs/execution.md). `.config/nextest.toml` still
//! runs these tests alone, so they do not slow the rest of the suite.

use std::time::Duration;

use jiff::Timestamp;
use store::{JobSpec, RunFilter, RunStatus, Trigger};

use crate::harness::{TestEnv, next_second, scheduled, spec, wait_for, wait_for_n};

scheduler_tests! {
    a_heartbeat_keeps_its_time_while_endless_loops_and_memory_bombs_run,
}

/// Past its limit by this much, a run was not stopped by its limit but by
/// something else (the test's end): a correctness bound, not a speed one.
const NOT_STOPPED: Duration = Duration::from_secs(4);
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
            Some(next_second(Duration::from_millis(300))),
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

    for id in &bad {
        let run = env.store.run_get(*id).await.unwrap().unwrap();
        let took = Duration::from_millis(u64::try_from(run.duration_ms.unwrap()).unwrap());
        if run.job_id == busy.id {
            assert_eq!(run.status, RunStatus::TimedOut, "{run:?}");
            let limit = Duration::from_secs(u64::from(BUSY_TIMEOUT_SECONDS));
            assert!(took >= limit, "ended before its limit: {took:?}");
            assert!(
                took - limit < NOT_STOPPED,
                "an endless run was not stopped at its limit: {took:?}"
            );
        } else {
            assert_eq!(run.status, RunStatus::Failed, "{run:?}");
            assert_eq!(
                run.error.unwrap().message,
                format!("memory limit exceeded ({BOMB_MEMORY_MB} MiB)")
            );
        }
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
        "every heartbeat ran and succeeded, ms from the abuse's start:\n{}",
        timeline(&beats, abuse_started)
    );
    let during_abuse = beats
        .iter()
        .filter(|run| run.scheduled_for.is_some_and(|at| at >= abuse_started))
        .count();
    assert!(
        during_abuse >= usize::try_from(BUSY_TIMEOUT_SECONDS).unwrap(),
        "a heartbeat for every second the abuse lasted: {statuses:?}"
    );
}

/// One line per heartbeat, oldest first: when it was due, written, started
/// and ended, in ms from `origin`, so a failure says where the time went.
fn timeline(beats: &[store::Run], origin: Timestamp) -> String {
    let ms = |at: Option<Timestamp>| at.map(|at| at.as_millisecond() - origin.as_millisecond());
    beats
        .iter()
        .rev()
        .map(|run| {
            format!(
                "{:?} due {:?} queued {:?} started {:?} ended {:?}\n",
                run.status,
                ms(run.scheduled_for),
                ms(Some(run.queued_at)),
                ms(run.started_at),
                ms(run.finished_at),
            )
        })
        .collect()
}
