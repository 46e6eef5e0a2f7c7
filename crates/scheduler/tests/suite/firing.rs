//! Exact firing, overlap, job changes, two nodes on one database.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use jiff::Timestamp;
use store::{JobRef, Overlap, RunFilter, RunStatus, Trigger};

use scheduler::RunEvent;

use crate::harness::{TestEnv, is, next_second, scheduled, wait_for, wait_for_n};

scheduler_tests! {
    a_six_field_cron_fires_at_the_right_seconds,
    overlap_skip_leaves_skipped_rows,
    overlap_replace_cancels_the_running_run,
    a_job_created_while_running_fires_when_told,
    two_schedulers_on_one_database_never_run_an_occurrence_twice,
}

async fn a_six_field_cron_fires_at_the_right_seconds(env: TestEnv) {
    // Every second whose number is even.
    let job = env
        .create_job(scheduled("even-seconds", "*/2 * * * * *", "return 1"), None)
        .await;
    let first = next_second(Duration::from_millis(500));
    let first = if first.as_second() % 2 == 0 {
        first
    } else {
        first + Duration::from_secs(1)
    };
    env.store
        .job_set_enabled(&store::JobEnable {
            id: job.id,
            enabled: true,
            next_fire_at: Some(first),
            actor: "t".into(),
        })
        .await
        .unwrap();
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let started = wait_for_n(&mut events, 3, "three starts", is(RunStatus::Running)).await;
    for (i, event) in started.iter().enumerate() {
        let scheduled_for = event.scheduled_for.unwrap();
        assert_eq!(scheduled_for, first + Duration::from_secs(2 * i as u64));
        assert_eq!(scheduled_for.subsec_nanosecond(), 0);
        assert!(
            event.at >= scheduled_for,
            "started before its instant: {event:?}"
        );
        assert_eq!(event.trigger, Trigger::Schedule);
    }
    wait_for(&mut events, "third run ends", |e| {
        e.run_id == started[2].run_id && e.status == RunStatus::Succeeded
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    let runs = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert!(runs.items.len() >= 3);
    for run in &runs.items {
        assert_eq!(run.scheduled_for.unwrap().as_second() % 2, 0);
        assert!(run.started_at.unwrap() >= run.scheduled_for.unwrap());
    }
    let metrics = handle.metrics().await.unwrap();
    assert!(metrics.fire_lateness.count >= 3);
}

async fn overlap_skip_leaves_skipped_rows(env: TestEnv) {
    let job = env
        .create_job(
            scheduled(
                "slow",
                "* * * * * *",
                "await new Promise(r => setTimeout(r, 2500)); return 'done'",
            ),
            Some(next_second(Duration::from_millis(300))),
        )
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let skipped = wait_for_n(
        &mut events,
        2,
        "two skipped occurrences",
        is(RunStatus::Skipped),
    )
    .await;
    handle.shutdown(Duration::from_secs(10)).await;
    let rows = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            status: Some(RunStatus::Skipped),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    let ids: HashSet<i64> = rows.items.iter().map(|r| r.id).collect();
    for event in &skipped {
        assert!(ids.contains(&event.run_id));
    }
    for row in &rows.items {
        assert_eq!(row.trigger, Trigger::Schedule);
        assert!(row.finished_at.is_some() && row.started_at.is_none());
    }
    let succeeded = env
        .store
        .runs_list(&RunFilter {
            job_id: Some(job.id),
            status: Some(RunStatus::Succeeded),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert!(
        !succeeded.items.is_empty(),
        "the running one finished in the grace period"
    );
}

async fn overlap_replace_cancels_the_running_run(env: TestEnv) {
    let mut spec = scheduled("replaced", "* * * * * *", "await new Promise(() => {})");
    spec.overlap = Overlap::Replace;
    env.create_job(spec, Some(next_second(Duration::from_millis(300))))
        .await;
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let first = wait_for(&mut events, "first start", is(RunStatus::Running)).await;
    let cancelled = wait_for(&mut events, "first cancelled", is(RunStatus::Cancelled)).await;
    assert_eq!(cancelled.run_id, first.run_id);
    let second = wait_for(&mut events, "replacement starts", is(RunStatus::Running)).await;
    assert!(second.scheduled_for > first.scheduled_for);
    handle.shutdown(Duration::ZERO).await;
    let run = env.store.run_get(first.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
}

async fn a_job_created_while_running_fires_when_told(env: TestEnv) {
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let at = next_second(Duration::from_millis(300));
    let job = env
        .create_job(scheduled("late-comer", "* * * * * *", "return 2"), Some(at))
        .await;
    handle.job_changed(job.id);
    let started = wait_for(&mut events, "the new job fires", is(RunStatus::Running)).await;
    assert_eq!(started.job_id, job.id);
    assert_eq!(started.scheduled_for, Some(at));
    // Paused: it stops firing.
    env.store
        .job_set_enabled(&store::JobEnable {
            id: job.id,
            enabled: false,
            next_fire_at: None,
            actor: "t".into(),
        })
        .await
        .unwrap();
    handle.job_changed(job.id);
    handle.shutdown(Duration::from_secs(5)).await;
    let job = env
        .store
        .job_get(&JobRef::Id(job.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_fire_at, None);
}

async fn two_schedulers_on_one_database_never_run_an_occurrence_twice(env: TestEnv) {
    let first = next_second(Duration::from_millis(500));
    for i in 0..10 {
        let mut spec = scheduled(&format!("shared-{i}"), "* * * * * *", "return 1");
        spec.overlap = Overlap::Allow;
        env.create_job(spec, Some(first)).await;
    }
    let a = env.start(env.config("node-a")).await;
    let b = scheduler::Scheduler::start(
        env.config("node-b"),
        env.reopen().await,
        env.executor.clone(),
        std::sync::Arc::new(store::SystemClock),
    )
    .await
    .unwrap();
    let (mut events_a, mut events_b) = (a.events(), b.events());
    // Executions (starts) per occurrence, from both nodes.
    let mut executions: HashMap<(i64, Option<Timestamp>), Vec<String>> = HashMap::new();
    fn record(
        executions: &mut HashMap<(i64, Option<Timestamp>), Vec<String>>,
        event: RunEvent,
        node: &str,
    ) {
        if event.status == RunStatus::Running {
            executions
                .entry((event.job_id, event.scheduled_for))
                .or_default()
                .push(node.to_string());
        }
    }
    // Until every job's first four occurrences have started somewhere.
    let last = first + Duration::from_secs(3);
    let covered = |executions: &HashMap<(i64, Option<Timestamp>), Vec<String>>| {
        executions
            .keys()
            .filter(|(_, at)| at.is_some_and(|at| at <= last))
            .count()
            == 40
    };
    tokio::time::timeout(crate::harness::PATIENCE, async {
        loop {
            tokio::select! {
                event = events_a.recv() => record(&mut executions, event.unwrap(), "a"),
                event = events_b.recv() => record(&mut executions, event.unwrap(), "b"),
            }
            if covered(&executions) {
                break;
            }
        }
    })
    .await
    .expect("every occurrence started");
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
    while let Ok(event) = events_a.try_recv() {
        record(&mut executions, event, "a");
    }
    while let Ok(event) = events_b.try_recv() {
        record(&mut executions, event, "b");
    }
    for (occurrence, nodes) in &executions {
        assert_eq!(nodes.len(), 1, "{occurrence:?} executed on {nodes:?}");
    }
    let nodes: HashSet<&String> = executions.values().flatten().collect();
    println!("occurrences run per node: {:?}", {
        let mut per_node: HashMap<&String, usize> = HashMap::new();
        for node in executions.values().flatten() {
            *per_node.entry(node).or_default() += 1;
        }
        per_node
    });
    assert!(!nodes.is_empty());
}
