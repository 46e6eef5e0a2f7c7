//! The node's memory budget (`SchedulerConfig::total_memory_mb`): runs
//! whose memory limits would take the live runs past it wait `queued`
//! instead of pushing the process towards the kernel's OOM killer, and a
//! run that could never fit fails at once with a clear error.
//!
//! `.config/nextest.toml` runs these tests alone: each really allocates
//! about 1.4 GiB, and its peak RSS must be its own.

use std::{collections::HashSet, sync::Arc, time::Duration};

use runtime::{KvStore, MemoryKvStore};
use store::{JobSpec, Run, RunStatus, Trigger};

use crate::harness::{SharedStorage, TestEnv, eventually, spec, wait_for, wait_for_n};

scheduler_tests! {
    six_runs_of_700_mib_wait_queued_while_two_fill_the_budget,
    a_run_larger_than_the_whole_budget_fails_at_once_and_holds_up_nothing,
}

/// What each run allocates and touches (every page, so it is resident).
const RUN_MB: u32 = 700;
/// Each run's limit: its allocation and the engine's own heap.
const LIMIT_MB: u32 = 750;
/// Two runs of 750 MiB fit; a third does not.
const BUDGET_MB: u32 = 1_600;
/// What the process itself may hold beside its runs' heaps (test harness,
/// database pools, tokio, engines' fixed costs): docs/execution.md.
const PROCESS_OVERHEAD_MB: u64 = 200;
const RUNS: usize = 6;

fn hog_script(index: usize) -> String {
    format!(
        "const bytes = new Uint8Array({RUN_MB} * 1024 * 1024);\n\
         for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1;\n\
         await storage.set('held-{index}', true);\n\
         while (!(await storage.get('release'))) await new Promise((r) => setTimeout(r, 20));\n\
         return bytes.length;"
    )
}

async fn six_runs_of_700_mib_wait_queued_while_two_fill_the_budget(env: TestEnv) {
    let storage = Arc::new(MemoryKvStore::new());
    let mut jobs = Vec::new();
    for index in 0..RUNS {
        let job = JobSpec {
            memory_limit_mb: LIMIT_MB,
            timeout_seconds: 300,
            ..spec(&format!("hog-{index}"), &hog_script(index))
        };
        jobs.push(env.create_job(job, None).await);
    }
    let mut config = env.config("node-a");
    config.total_memory_mb = BUDGET_MB;
    config.environment = Arc::new(SharedStorage(storage.clone()));
    let handle = env.start(config).await;
    let mut events = handle.events();
    let mut runs = Vec::new();
    for job in &jobs {
        runs.push(
            handle
                .run_now(job.id, None, Trigger::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    let ours: HashSet<i64> = runs.iter().copied().collect();
    wait_for_n(&mut events, 2, "two runs fill the budget", |event| {
        ours.contains(&event.run_id) && event.status == RunStatus::Running
    })
    .await;
    eventually("both live runs hold their memory", || async {
        let mut held = 0;
        for index in 0..RUNS {
            held += usize::from(
                storage
                    .get(&format!("held-{index}"))
                    .await
                    .unwrap()
                    .is_some(),
            );
        }
        held == 2
    })
    .await;

    // Both live runs hold their memory until released: the other four
    // are visibly queued, and stay so.
    let statuses = statuses(&env, &runs).await;
    assert_eq!(count(&statuses, RunStatus::Running), 2, "{statuses:?}");
    assert_eq!(
        count(&statuses, RunStatus::Queued),
        RUNS - 2,
        "{statuses:?}"
    );

    // Released, every run ends. A run's share is freed when its script
    // ends, a moment before its end is written, so the events may show a
    // third run `running` beside two ending ones; the peak resident memory
    // below is what proves no more than two scripts held memory at once.
    storage
        .set("release", serde_json::json!(true), None, false)
        .await
        .unwrap();
    let mut succeeded = 0;
    while succeeded < RUNS {
        let event = wait_for(&mut events, "every run ends", |event| {
            ours.contains(&event.run_id) && event.status.is_terminal()
        })
        .await;
        assert_eq!(event.status, RunStatus::Succeeded, "{event:?}");
        succeeded += 1;
    }
    handle.shutdown(Duration::from_secs(5)).await;
    for run in statuses_of(&env, &runs).await {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
        assert_eq!(run.result, Some(serde_json::json!(RUN_MB * 1024 * 1024)));
    }

    let peak_mb = peak_rss_mb();
    // The figure docs/execution.md quotes (`--no-capture` shows it).
    eprintln!("peak RSS {peak_mb} MiB with a {BUDGET_MB} MiB budget");
    assert!(
        peak_mb < u64::from(BUDGET_MB) + PROCESS_OVERHEAD_MB,
        "peak RSS {peak_mb} MiB is past the budget ({BUDGET_MB} MiB) and the process's overhead"
    );
    // The runs' memory was really resident: two at once.
    assert!(
        peak_mb > u64::from(2 * RUN_MB),
        "peak RSS {peak_mb} MiB: the runs did not hold their memory"
    );
}

async fn a_run_larger_than_the_whole_budget_fails_at_once_and_holds_up_nothing(env: TestEnv) {
    let huge = env
        .create_job(
            JobSpec {
                memory_limit_mb: 512,
                ..spec("huge", "return 'ran'")
            },
            None,
        )
        .await;
    let small = env
        .create_job(
            JobSpec {
                memory_limit_mb: 64,
                ..spec("small", "return 'ran'")
            },
            None,
        )
        .await;
    let mut config = env.config("node-a");
    config.total_memory_mb = 256;
    let handle = env.start(config).await;
    let mut events = handle.events();
    let huge_run = handle
        .run_now(huge.id, None, Trigger::Manual)
        .await
        .unwrap()
        .id;
    let small_run = handle
        .run_now(small.id, None, Trigger::Manual)
        .await
        .unwrap()
        .id;
    wait_for_n(&mut events, 2, "both runs end", |event| {
        (event.run_id == huge_run || event.run_id == small_run) && event.status.is_terminal()
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;

    let huge_run = env.store.run_get(huge_run).await.unwrap().unwrap();
    assert_eq!(huge_run.status, RunStatus::Failed, "{huge_run:?}");
    assert_eq!(
        huge_run.error.unwrap().message,
        "not started: the job's memory_limit_mb (512 MiB) exceeds this node's memory budget \
         ([limits] total_memory_mb = 256 MiB); lower the job's limit or raise the budget"
    );
    let small_run = env.store.run_get(small_run).await.unwrap().unwrap();
    assert_eq!(small_run.status, RunStatus::Succeeded, "{small_run:?}");
}

async fn statuses(env: &TestEnv, runs: &[i64]) -> Vec<RunStatus> {
    statuses_of(env, runs)
        .await
        .iter()
        .map(|run| run.status)
        .collect()
}

async fn statuses_of(env: &TestEnv, runs: &[i64]) -> Vec<Run> {
    let mut ours = Vec::new();
    for id in runs {
        ours.push(env.store.run_get(*id).await.unwrap().unwrap());
    }
    ours
}

fn count(statuses: &[RunStatus], wanted: RunStatus) -> usize {
    statuses.iter().filter(|status| **status == wanted).count()
}

/// This process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}
