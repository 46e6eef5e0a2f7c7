//! Graceful shutdown, cancellation, live logs, retention, metrics.

use std::time::Duration;

use store::{
    AuditFilter, JobSpec, LogQuery, RetentionPolicy, RunAudit, RunFilter, RunStatus, StoreError,
    Trigger,
};

use crate::harness::{TestEnv, eventually, is, spec, wait_for, wait_for_n};

scheduler_tests! {
    shutdown_lets_runs_finish_within_the_grace_period_then_interrupts_them,
    running_and_queued_runs_can_be_cancelled,
    runs_asked_for_at_once_are_each_queued_audited_and_run,
    live_logs_fan_out_and_are_stored_while_the_run_goes_on,
    history_is_pruned_to_each_jobs_retention,
    the_audit_log_is_pruned_by_its_configured_age,
    metrics_count_runs_by_job_and_status,
    a_restarted_node_queues_again_what_never_began_and_interrupts_the_rest,
    the_previous_processs_late_writes_cannot_touch_the_run_its_node_claimed_again,
}

async fn shutdown_lets_runs_finish_within_the_grace_period_then_interrupts_them(env: TestEnv) {
    let quick = env
        .create_job(
            spec(
                "quick",
                "await new Promise(r => setTimeout(r, 300)); return 1",
            ),
            None,
        )
        .await;
    let stuck = env
        .create_job(spec("stuck", "await new Promise(() => {})"), None)
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let quick_run = handle
        .run_now(quick.id, None, Trigger::Manual)
        .await
        .unwrap();
    let stuck_run = handle
        .run_now(stuck.id, None, Trigger::Manual)
        .await
        .unwrap();
    wait_for_n(&mut events, 2, "both start", is(RunStatus::Running)).await;
    handle.shutdown(Duration::from_secs(1)).await;
    let quick_run = env.store.run_get(quick_run.id).await.unwrap().unwrap();
    let stuck_run = env.store.run_get(stuck_run.id).await.unwrap().unwrap();
    assert_eq!(quick_run.status, RunStatus::Succeeded);
    assert_eq!(stuck_run.status, RunStatus::Interrupted);
    assert!(stuck_run.error.unwrap().message.contains("shut down"));
    assert_eq!(stuck_run.lease_expires_at, None);
    // Stopped claiming: a run queued now stays queued for other nodes.
    let later = env
        .store
        .run_insert(&store::NewRun::new(
            quick.id,
            Trigger::Manual,
            jiff::Timestamp::now(),
        ))
        .await
        .unwrap();
    handle.poke();
    assert_eq!(
        env.store.run_get(later.id).await.unwrap().unwrap().status,
        RunStatus::Queued
    );
    handle.shutdown(Duration::from_secs(1)).await; // a second call is harmless
}

async fn running_and_queued_runs_can_be_cancelled(env: TestEnv) {
    let job = env
        .create_job(spec("cancellable", "await new Promise(() => {})"), None)
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let running = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "it starts", |e| {
        e.run_id == running.id && e.status == RunStatus::Running
    })
    .await;
    // A second run of a no-overlap job waits behind the first.
    let queued = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    assert!(handle.cancel(queued.id).await.unwrap());
    assert!(handle.cancel(running.id).await.unwrap());
    wait_for(&mut events, "the running one ends", |e| {
        e.run_id == running.id && e.status.is_terminal()
    })
    .await;
    assert_eq!(
        env.store.run_get(running.id).await.unwrap().unwrap().status,
        RunStatus::Cancelled
    );
    assert_eq!(
        env.store.run_get(queued.id).await.unwrap().unwrap().status,
        RunStatus::Cancelled
    );
    assert!(!handle.cancel(running.id).await.unwrap(), "already ended");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Many people ask for runs at the same moment (they are queued in group
/// commits): each gets a run of the job it asked for, with its own audit
/// entry, and every run executes; one asking for a job that does not exist
/// is told so without holding back the others.
async fn runs_asked_for_at_once_are_each_queued_audited_and_run(env: TestEnv) {
    const ASKED: usize = 40;
    let first = env.create_job(spec("first", "return 1"), None).await;
    let second = env.create_job(spec("second", "return 2"), None).await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let mut asking = tokio::task::JoinSet::new();
    for who in 0..=ASKED {
        let handle = handle.clone();
        // The last one asks for a job that does not exist.
        let job_id = match who {
            ASKED => 424_242,
            even if even % 2 == 0 => first.id,
            _ => second.id,
        };
        asking.spawn(async move {
            let audit = RunAudit {
                actor: format!("person-{who}"),
                action: "run.start".into(),
                detail: serde_json::json!({ "job_id": job_id }),
            };
            let queued = handle
                .run_now_audited(job_id, None, Trigger::Api, &audit)
                .await;
            (who, job_id, queued)
        });
    }
    let mut runs = Vec::new();
    while let Some(asked) = asking.join_next().await {
        let (who, job_id, queued) = asked.unwrap();
        if who == ASKED {
            assert!(
                matches!(
                    queued,
                    Err(scheduler::SchedulerError::Store(
                        StoreError::JobNotFound { .. }
                    ))
                ),
                "{queued:?}"
            );
            continue;
        }
        let (run, audited) = queued.unwrap();
        audited.unwrap();
        assert_eq!(run.job_id, job_id, "person-{who}");
        assert_eq!(run.trigger, Trigger::Api);
        let entries = env
            .store
            .audit_search(
                &AuditFilter {
                    actor: Some(format!("person-{who}")),
                    target: None,
                },
                None,
                10,
            )
            .await
            .unwrap()
            .items;
        assert_eq!(entries.len(), 1, "person-{who}: {entries:?}");
        assert_eq!(entries[0].target, format!("run:{}", run.id));
        runs.push(run.id);
    }
    runs.sort_unstable();
    runs.dedup();
    assert_eq!(runs.len(), ASKED, "one run each");
    let ended = wait_for_n(&mut events, ASKED, "every run ends", |e| {
        e.status.is_terminal() && runs.binary_search(&e.run_id).is_ok()
    })
    .await;
    assert!(
        ended.iter().all(|e| e.status == RunStatus::Succeeded),
        "{ended:?}"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn live_logs_fan_out_and_are_stored_while_the_run_goes_on(env: TestEnv) {
    let job = env
        .create_job(
            spec(
                "chatty",
                "console.log('one'); console.warn('two'); await new Promise(() => {})",
            ),
            None,
        )
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "it starts", |e| {
        e.run_id == run.id && e.status == RunStatus::Running
    })
    .await;
    let mut first = handle.subscribe_logs(run.id).unwrap();
    let mut second = handle.subscribe_logs(run.id).unwrap();
    for stream in [&mut first, &mut second] {
        assert_eq!(stream.next().await.unwrap().message, "one");
        assert_eq!(stream.next().await.unwrap().message, "two");
    }
    let store = env.store.clone();
    eventually("the lines are stored while it runs", || {
        let store = store.clone();
        async move {
            let lines = store
                .run_logs(&LogQuery {
                    run_id: run.id,
                    after_seq: 0,
                    limit: 10,
                })
                .await
                .unwrap();
            lines.len() == 2
        }
    })
    .await;
    assert_eq!(
        env.store.run_get(run.id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    handle.cancel(run.id).await.unwrap();
    assert!(first.next().await.is_none(), "the stream ends with the run");
    wait_for(&mut events, "it ends", |e| {
        e.run_id == run.id && e.status.is_terminal()
    })
    .await;
    assert!(handle.subscribe_logs(run.id).is_none());
    let stored = env
        .store
        .run_logs(&LogQuery {
            run_id: run.id,
            after_seq: 0,
            limit: 10,
        })
        .await
        .unwrap();
    let messages: Vec<&str> = stored.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["one", "two"], "no line stored twice");
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn history_is_pruned_to_each_jobs_retention(env: TestEnv) {
    let job = env
        .create_job(
            JobSpec {
                retention: RetentionPolicy {
                    keep_runs: 2,
                    keep_days: 30,
                },
                ..spec("short-memory", "return 1")
            },
            None,
        )
        .await;
    let mut config = env.config("node-a");
    config.retention_interval = Duration::from_millis(200);
    let handle = env.start(config).await;
    let mut events = handle.events();
    for _ in 0..5 {
        let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
        wait_for(&mut events, "a run ends", |e| {
            e.run_id == run.id && e.status.is_terminal()
        })
        .await;
    }
    let store = env.store.clone();
    eventually("history shrinks to 2 runs", || {
        let store = store.clone();
        async move {
            store
                .runs_list(&RunFilter {
                    job_id: Some(job.id),
                    ..RunFilter::default()
                })
                .await
                .unwrap()
                .items
                .len()
                == 2
        }
    })
    .await;
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Issue 13 point 7: `[retention] audit_days` — the retention pass deletes
/// audit entries older than the configured age and keeps the newer ones.
async fn the_audit_log_is_pruned_by_its_configured_age(env: TestEnv) {
    let entry = |action: &str| store::AuditEntry {
        actor: "tester".into(),
        action: action.into(),
        target: "job:1".into(),
        detail: serde_json::json!({}),
    };
    let now = jiff::Timestamp::now();
    let long_ago = now - jiff::SignedDuration::from_hours(31 * 24);
    let then = env
        .store
        .clone()
        .with_clock(std::sync::Arc::new(store::ManualClock::new(long_ago)));
    then.audit_append(&entry("old.entry")).await.unwrap();
    env.store
        .audit_append(&entry("recent.entry"))
        .await
        .unwrap();
    let mut config = env.config("node-a");
    config.audit_days = Some(30);
    config.retention_interval = Duration::from_millis(200);
    let handle = env.start(config).await;
    let store = env.store.clone();
    eventually("the entry older than 30 days is deleted", || {
        let store = store.clone();
        async move {
            let actions: Vec<String> = store
                .audit_list(None, 100)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|record| record.action)
                .collect();
            !actions.iter().any(|action| action == "old.entry")
                && actions.iter().any(|action| action == "recent.entry")
        }
    })
    .await;
    handle.shutdown(Duration::from_secs(1)).await;
}

async fn metrics_count_runs_by_job_and_status(env: TestEnv) {
    let good = env.create_job(spec("good", "return 1"), None).await;
    let bad = env
        .create_job(spec("bad", "throw new Error('x')"), None)
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    for job in [good.id, good.id, bad.id] {
        let run = handle.run_now(job, None, Trigger::Manual).await.unwrap();
        wait_for(&mut events, "a run ends", |e| {
            e.run_id == run.id && e.status.is_terminal()
        })
        .await;
    }
    let metrics = handle.metrics().await.unwrap();
    let count = |job, status| {
        metrics
            .runs
            .iter()
            .find(|r| r.job_id == job && r.status == status)
            .map_or(0, |r| r.count)
    };
    assert_eq!(count(good.id, RunStatus::Succeeded), 2);
    assert_eq!(count(bad.id, RunStatus::Failed), 1);
    assert_eq!(metrics.run_duration.count, 3);
    assert_eq!(
        (metrics.queued, metrics.running, metrics.running_here),
        (0, 0, 0)
    );
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Its previous process (same node id) died holding two runs: one claimed
/// but never begun (killed inside the claim-ahead window), one executing.
/// The restarted node queues the first again — it runs as attempt 1,
/// nothing of it is interrupted — and interrupts the second at once, though
/// its lease still has a minute to go.
async fn a_restarted_node_queues_again_what_never_began_and_interrupts_the_rest(env: TestEnv) {
    let mut quick = spec("quick", "return 1");
    quick.overlap = store::Overlap::Allow;
    let job = env.create_job(quick, None).await;
    // Whole milliseconds, as stored.
    let now = jiff::Timestamp::from_millisecond(jiff::Timestamp::now().as_millisecond()).unwrap();
    let queued = || store::NewRun::new(job.id, Trigger::Manual, now);
    let unstarted = env.store.run_insert(&queued()).await.unwrap();
    let begun = env.store.run_insert(&queued()).await.unwrap();
    let lease = Duration::from_secs(60);
    let claimed = env
        .store
        .runs_claim_queued(&store::RunClaim {
            node: "node-a".into(),
            now,
            lease_until: now + lease,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        claimed.iter().all(|c| c.run.started_at.is_none()),
        "a claim is not a start"
    );
    let start = store::RunStart {
        lease: store::Lease {
            run_id: begun.id,
            node: "node-a".into(),
            token: 1,
        },
        started_at: now,
    };
    env.store
        .runs_write_if_running(&store::RunWrites {
            starts: vec![start],
            ..store::RunWrites::default()
        })
        .await
        .unwrap();

    let mut config = env.config("node-a");
    config.lease = lease;
    let handle = env.start(config).await;
    let mut events = handle.events();
    // Taken back before `start` returned: the interruption is already stored.
    let begun = env.store.run_get(begun.id).await.unwrap().unwrap();
    assert_eq!(begun.status, RunStatus::Interrupted, "{begun:?}");
    assert_eq!(begun.started_at, Some(now));
    let ran = wait_for(&mut events, "the unstarted run to succeed", |e| {
        e.run_id == unstarted.id && e.status == RunStatus::Succeeded
    })
    .await;
    assert_eq!(ran.attempt, 1);
    let runs = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 2, "no retry, no second row: {runs:?}");
    let unstarted = runs.iter().find(|r| r.id == unstarted.id).unwrap();
    assert!(unstarted.started_at.unwrap() >= now);
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Its previous process (same node id) claimed a run and was cut off
/// before the script began; the restarted node queues the run again and
/// executes it under a new lease token. When the previous process's
/// writes finally get through — its start, a log line, a renewal, its end
/// — the store refuses every one: the run the restarted node executes
/// keeps going, and ends as that node records it.
async fn the_previous_processs_late_writes_cannot_touch_the_run_its_node_claimed_again(
    env: TestEnv,
) {
    let job = env
        .create_job(spec("held", "await new Promise(() => {})"), None)
        .await;
    let now = jiff::Timestamp::now();
    let run = env
        .store
        .run_insert(&store::NewRun::new(job.id, Trigger::Manual, now))
        .await
        .unwrap();
    let claimed = env
        .store
        .runs_claim_queued(&store::RunClaim {
            node: "node-a".into(),
            now,
            lease_until: now + Duration::from_secs(60),
            limit: 1,
        })
        .await
        .unwrap();
    let old = claimed[0].run.lease().unwrap();

    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    // The restarted node may start it before an event subscription could
    // exist (the claim itself records the start): look at the row.
    eventually("the restarted node to start it", || async {
        let row = env.store.run_get(run.id).await.unwrap().unwrap();
        row.status == RunStatus::Running && row.started_at.is_some()
    })
    .await;
    let executing = env.store.run_get(run.id).await.unwrap().unwrap();
    let new = executing.lease().unwrap();
    assert_eq!(new.node, old.node);
    assert_ne!(new.token, old.token);

    let late = env
        .store
        .runs_write_if_running(&store::RunWrites {
            starts: vec![store::RunStart {
                lease: old.clone(),
                started_at: now,
            }],
            appends: vec![store::LogAppend {
                lease: old.clone(),
                lines: vec![store::LogLine {
                    ts: now,
                    level: store::LogLevel::Info,
                    message: "late".into(),
                }],
            }],
            finishes: vec![store::RunFinish::succeeded(old.clone(), now, None)],
        })
        .await
        .unwrap();
    assert_eq!(
        (late.started, late.appended, late.finished),
        (vec![false], vec![false], vec![false])
    );
    let renewal = env
        .store
        .runs_heartbeat_if_running(&store::Heartbeat {
            leases: vec![old],
            lease_until: now + Duration::from_secs(600),
        })
        .await
        .unwrap();
    assert!(!renewal[0].held);
    let still = env.store.run_get(run.id).await.unwrap().unwrap();
    assert_eq!(still.status, RunStatus::Running);
    assert_eq!(still.started_at, executing.started_at);
    assert_eq!(still.log_lines, 0);

    assert!(handle.cancel(run.id).await.unwrap());
    wait_for(&mut events, "the restarted node to end it", |e| {
        e.run_id == run.id && e.status.is_terminal()
    })
    .await;
    assert_eq!(
        env.store.run_get(run.id).await.unwrap().unwrap().status,
        RunStatus::Cancelled
    );
    handle.shutdown(Duration::from_secs(1)).await;
}
