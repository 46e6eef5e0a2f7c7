//! Timeouts, misfires after downtime, retries with backoff, expired leases.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use store::{
    Clock, LogQuery, ManualClock, Misfire, NewRun, RetryPolicy, RunClaim, RunFilter, RunStatus,
    Trigger,
};

use crate::harness::{TestEnv, eventually, is, scheduled, spec, wait_for};

scheduler_tests! {
    a_timeout_leaves_a_timed_out_row_with_its_logs,
    misfire_run_once_records_missed_and_catches_up_once,
    misfire_skip_records_only_missed,
    misfire_run_all_catches_up_every_occurrence_up_to_the_cap,
    failed_runs_are_retried_with_exponential_backoff,
    an_expired_lease_becomes_an_interrupted_run_that_is_retried,
}

fn instant(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn a_timeout_leaves_a_timed_out_row_with_its_logs(env: TestEnv) {
    let mut job = spec("too-slow", "console.log('started'); while (true) {}");
    job.timeout_seconds = 1;
    let job = env.create_job(job, None).await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    let ended = wait_for(&mut events, "the run times out", |e| {
        e.run_id == run.id && e.status.is_terminal()
    })
    .await;
    assert_eq!(ended.status, RunStatus::TimedOut);
    handle.shutdown(Duration::from_secs(5)).await;
    let run = env.store.run_get(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::TimedOut);
    assert!(run.error.is_some());
    let duration = run.duration_ms.unwrap();
    assert!((900..5000).contains(&duration), "{duration} ms");
    let logs = env
        .store
        .run_logs(&LogQuery {
            run_id: run.id,
            after_seq: 0,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(logs[0].message, "started");
}

/// A job firing at second 0 of every minute whose pending occurrence is
/// 00:00 while the clock says 00:10:30: eleven occurrences passed while
/// the scheduler was "down", all later than the misfire threshold.
///
/// The scheduler claims them while it starts, possibly before a test could
/// subscribe to its events, so this waits on the claim's own effect: the
/// job's next occurrence moved past the clock, in the claim's transaction.
async fn start_after_downtime(
    env: &TestEnv,
    misfire: Misfire,
    max_catch_up: usize,
) -> (scheduler::SchedulerHandle, i64) {
    let clock = Arc::new(ManualClock::new(instant("2026-01-01T00:10:30Z")));
    let mut job = scheduled("minutely", "0 * * * * *", "return 'caught up'");
    job.misfire = misfire;
    let job = env
        .create_job(job, Some(instant("2026-01-01T00:00:00Z")))
        .await;
    let mut config = env.config("node-a");
    config.max_catch_up = max_catch_up;
    let handle = env.start_with_clock(config, clock).await;
    eventually("the claim", || async {
        let now = env.store.job_get(&store::JobRef::Id(job.id)).await.unwrap();
        now.and_then(|j| j.next_fire_at) == Some(instant("2026-01-01T00:11:00Z"))
    })
    .await;
    (handle, job.id)
}

async fn rows(env: &TestEnv, job_id: i64) -> Vec<store::Run> {
    let mut runs = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job_id),
            limit: 500,
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    runs.reverse();
    runs
}

async fn misfire_run_once_records_missed_and_catches_up_once(env: TestEnv) {
    let (handle, job_id) = start_after_downtime(&env, Misfire::RunOnce, 100).await;
    let mut events = handle.events();
    let runs = rows(&env, job_id).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Missed);
    assert_eq!(runs[0].missed_count, Some(10));
    assert_eq!(runs[0].scheduled_for, Some(instant("2026-01-01T00:00:00Z")));
    assert_eq!(runs[1].trigger, Trigger::CatchUp);
    assert_eq!(runs[1].scheduled_for, Some(instant("2026-01-01T00:10:00Z")));
    if runs[1].status != RunStatus::Succeeded {
        wait_for(
            &mut events,
            "the catch-up succeeds",
            is(RunStatus::Succeeded),
        )
        .await;
    }
    handle.shutdown(Duration::from_secs(5)).await;
    let job = env
        .store
        .job_get(&store::JobRef::Id(job_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_fire_at, Some(instant("2026-01-01T00:11:00Z")));
    let catch_up = env.store.run_get(runs[1].id).await.unwrap().unwrap();
    assert_eq!(catch_up.status, RunStatus::Succeeded);
    assert_eq!(catch_up.result, Some(serde_json::json!("caught up")));
}

async fn misfire_skip_records_only_missed(env: TestEnv) {
    let (handle, job_id) = start_after_downtime(&env, Misfire::Skip, 100).await;
    handle.shutdown(Duration::from_secs(5)).await;
    let runs = rows(&env, job_id).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Missed);
    assert_eq!(runs[0].missed_count, Some(11));
}

async fn misfire_run_all_catches_up_every_occurrence_up_to_the_cap(env: TestEnv) {
    let (handle, job_id) = start_after_downtime(&env, Misfire::RunAll, 4).await;
    let mut events = handle.events();
    let runs = rows(&env, job_id).await;
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Missed);
    assert_eq!(runs[0].missed_count, Some(7));
    let catch_ups: Vec<_> = runs[1..]
        .iter()
        .map(|r| (r.trigger, r.scheduled_for.unwrap()))
        .collect();
    assert_eq!(
        catch_ups,
        ["07", "08", "09", "10"]
            .iter()
            .map(|m| (Trigger::CatchUp, instant(&format!("2026-01-01T00:{m}:00Z"))))
            .collect::<Vec<_>>()
    );
    // They run one after the other (overlap skip allows one at a time).
    // Events were followed before the rows were read, so each catch-up not
    // yet succeeded in the rows has its event still to come.
    let mut pending: Vec<i64> = runs[1..]
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| r.id)
        .collect();
    while !pending.is_empty() {
        let done = wait_for(&mut events, "the catch-ups succeed", |e| {
            pending.contains(&e.run_id) && e.status == RunStatus::Succeeded
        })
        .await;
        pending.retain(|id| *id != done.run_id);
    }
    handle.shutdown(Duration::from_secs(5)).await;
    let runs = rows(&env, job_id).await;
    let starts: Vec<Timestamp> = runs[1..].iter().map(|r| r.started_at.unwrap()).collect();
    assert!(runs[1..].iter().all(|r| r.status == RunStatus::Succeeded));
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in order");
}

async fn failed_runs_are_retried_with_exponential_backoff(env: TestEnv) {
    let start = instant("2026-03-01T12:00:00Z");
    let clock = Arc::new(ManualClock::new(start));
    let mut job = spec("flaky", "throw new Error('boom')");
    job.retry = RetryPolicy {
        max_attempts: 3,
        backoff_seconds: 60,
    };
    let job = env.create_job(job, None).await;
    let handle = env
        .start_with_clock(env.config("node-a"), clock.clone())
        .await;
    let mut events = handle.events();
    let first = handle.run_now(job.id, None, Trigger::Api).await.unwrap();
    let mut previous = first.id;
    for attempt in 1..=3u32 {
        let failed = wait_for(&mut events, "an attempt fails", |e| {
            e.run_id == previous && e.status.is_terminal()
        })
        .await;
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.attempt, attempt);
        if attempt == 3 {
            break;
        }
        let retry = wait_for(&mut events, "a retry is queued", |e| {
            e.status == RunStatus::Queued && e.trigger == Trigger::Retry
        })
        .await;
        let queued = env.store.run_get(retry.run_id).await.unwrap().unwrap();
        assert_eq!(queued.attempt, attempt + 1);
        assert_eq!(queued.parent_run_id, Some(previous));
        // 60 s × 2^(attempt−1), equal jitter: in its upper half.
        let nominal = 60_000 * 2i64.pow(attempt - 1);
        let wait = queued.not_before.as_millisecond() - clock.now().as_millisecond();
        assert!(
            (nominal / 2..=nominal).contains(&wait),
            "attempt {attempt}: waits {wait} ms, nominal {nominal} ms"
        );
        // Not before its time…
        clock.advance(Duration::from_millis((wait - 1) as u64));
        handle.poke();
        assert_eq!(
            env.store
                .run_get(retry.run_id)
                .await
                .unwrap()
                .unwrap()
                .status,
            RunStatus::Queued
        );
        // …and at it.
        clock.advance(Duration::from_millis(1));
        handle.poke();
        previous = retry.run_id;
    }
    handle.shutdown(Duration::from_secs(5)).await;
    let runs = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 3, "no fourth attempt");
    assert!(runs.iter().all(|r| r.status == RunStatus::Failed));
}

async fn an_expired_lease_becomes_an_interrupted_run_that_is_retried(env: TestEnv) {
    let start = instant("2026-03-01T12:00:00Z");
    let clock = Arc::new(ManualClock::new(start));
    let mut job = spec("orphaned", "return 'second try'");
    job.retry = RetryPolicy {
        max_attempts: 2,
        backoff_seconds: 2,
    };
    let job = env.create_job(job, None).await;
    // A node claimed it and died: nobody renews its lease.
    env.store
        .run_insert(&NewRun::new(job.id, Trigger::Manual, start))
        .await
        .unwrap();
    let claimed = env
        .store
        .runs_claim_queued(&RunClaim {
            node: "dead-node".into(),
            now: start,
            lease_until: start + Duration::from_secs(10),
            limit: 1,
        })
        .await
        .unwrap();
    let orphan = claimed[0].run.id;
    clock.advance(Duration::from_secs(11));
    let handle = env
        .start_with_clock(env.config("node-a"), clock.clone())
        .await;
    let mut events = handle.events();
    // Start-up swept it already.
    let run = env.store.run_get(orphan).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    assert!(run.error.unwrap().message.contains("lease"));
    let retries = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            status: Some(RunStatus::Queued),
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].trigger, Trigger::Retry);
    assert_eq!(retries[0].attempt, 2);
    clock.advance(Duration::from_secs(3));
    handle.poke();
    let done = wait_for(&mut events, "the retry succeeds", |e| {
        e.run_id == retries[0].id && e.status.is_terminal()
    })
    .await;
    assert_eq!(done.status, RunStatus::Succeeded);
    handle.shutdown(Duration::from_secs(5)).await;
}
