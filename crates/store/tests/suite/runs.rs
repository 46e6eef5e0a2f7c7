//! Runs: the state machine's guards, logs, leases, history pages, pruning.

use std::time::Duration;

use store::{
    Heartbeat, HttpCall, Lease, LogAppend, LogQuery, NewRun, OccurrenceKind, PruneRuns, Run,
    RunError, RunFilter, RunFinish, RunStart, RunStatus, RunWrites, Store, StoreError, Trigger,
};

use crate::{
    fixtures::{
        NODE, assert_status, at, claim_all, claim_occurrence, create_job, finish_as, lease, line,
        queue_run, running_run,
    },
    harness::TestDb,
};

store_tests! {
    a_fenced_attempts_late_writes_are_refused_even_when_its_node_runs_the_retry,
    a_superseded_attempts_writes_are_refused_when_its_node_claimed_the_run_again,
    a_queued_run_is_of_the_current_version_unless_one_is_named,
    run_inserts_are_checked,
    every_transition_applies_exactly_where_the_state_graph_allows,
    only_the_node_running_a_run_may_finish_it,
    a_follow_up_is_queued_with_its_finish_and_only_if_it_applies,
    a_finish_stores_result_error_http_calls_and_duration,
    queued_runs_wait_for_not_before,
    a_job_without_overlap_starts_its_queued_runs_one_at_a_time_in_order,
    a_job_allowing_overlap_starts_all_its_queued_runs,
    a_claim_finds_a_claimable_run_behind_many_waiting_their_turn,
    a_starting_claim_records_the_start_in_its_own_commit,
    a_commit_of_ends_claims_the_next_runs_and_sees_those_ends,
    a_commit_of_ends_that_fails_claims_nothing,
    a_commit_of_ends_tells_the_nodes_which_runs_moved_and_that_runs_ended,
    a_claim_takes_only_the_runs_it_accepts_oldest_first_and_stops_at_a_refusal,
    heartbeats_renew_held_leases_and_report_cancel_requests,
    expired_leases_become_interrupted_runs,
    logs_are_stored_during_and_at_the_end_of_a_run,
    a_group_commit_applies_the_first_start_and_finish_of_each_run_only,
    run_lists_page_newest_first_with_filters,
    pruning_keeps_the_newest_runs_and_recent_days_and_never_live_runs,
    live_counts_and_the_next_queued_instant,
    the_previous_outcome_ignores_skips_and_cancels,
}

async fn a_queued_run_is_of_the_current_version_unless_one_is_named(db: TestDb) {
    let job = create_job(&db.store, "v").await;
    db.store
        .job_update(&store::JobUpdate {
            id: job.id,
            spec: crate::fixtures::scheduled_spec("v"),
            expected_version: None,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let run = db
        .store
        .run_insert(&NewRun {
            params: Some(serde_json::json!({"k": 1})),
            state: Some(serde_json::json!([1, 2])),
            event: Some(serde_json::json!({"body": "x"})),
            parent_run_id: Some(77),
            not_before: at(5),
            scheduled_for: Some(at(3)),
            attempt: 2,
            ..NewRun::new(job.id, Trigger::Retry, at(1))
        })
        .await
        .unwrap();
    assert_status(&run, RunStatus::Queued);
    assert_eq!(run.job_version, 2);
    assert_eq!(run.attempt, 2);
    assert_eq!(run.queued_at, at(1));
    assert_eq!(run.not_before, at(5));
    assert_eq!(run.scheduled_for, Some(at(3)));
    assert_eq!(run.params, Some(serde_json::json!({"k": 1})));
    assert_eq!(run.state, Some(serde_json::json!([1, 2])));
    assert_eq!(run.parent_run_id, Some(77));
    assert_eq!(run.started_at, None);
    assert_eq!(run.log_lines, 0);
    assert_eq!(db.store.run_get(run.id).await.unwrap(), Some(run));
    let old = db
        .store
        .run_insert(&NewRun {
            job_version: Some(1),
            ..NewRun::new(job.id, Trigger::Api, at(1))
        })
        .await
        .unwrap();
    assert_eq!(old.job_version, 1);
}

async fn run_inserts_are_checked(db: TestDb) {
    let error = db
        .store
        .run_insert(&NewRun::new(12345, Trigger::Manual, at(0)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::JobNotFound { .. }), "{error}");
    let job = create_job(&db.store, "checked").await;
    for bad in [
        NewRun {
            attempt: 0,
            ..NewRun::new(job.id, Trigger::Manual, at(0))
        },
        NewRun::new(job.id, Trigger::Schedule, at(0)),
        NewRun::new(job.id, Trigger::CatchUp, at(0)),
    ] {
        let error = db.store.run_insert(&bad).await.unwrap_err();
        assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    }
    assert_eq!(db.store.runs_active_count(job.id).await.unwrap().queued, 0);
}

/// Puts a fresh job's only run into `status` through the store's own methods.
async fn run_in(db: &TestDb, name: &str, status: RunStatus) -> Run {
    match status {
        RunStatus::Queued => {
            let job = create_job(&db.store, name).await;
            queue_run(&db.store, job.id).await
        }
        RunStatus::Running => running_run(db, name).await,
        RunStatus::Succeeded | RunStatus::Failed | RunStatus::TimedOut | RunStatus::Interrupted => {
            let run = running_run(db, name).await;
            let applied = db
                .store
                .runs_finish_if_running(&[finish_as(run.id, NODE, status, at(2))])
                .await
                .unwrap();
            assert_eq!(applied, [true]);
            db.store.run_get(run.id).await.unwrap().unwrap()
        }
        RunStatus::Cancelled => {
            let job = create_job(&db.store, name).await;
            let run = queue_run(&db.store, job.id).await;
            db.store
                .run_cancel_if_queued(run.id, at(1))
                .await
                .unwrap()
                .unwrap()
        }
        RunStatus::Skipped => {
            let job = create_job(&db.store, name).await;
            claim_occurrence(&db.store, job.id, OccurrenceKind::Skipped)
                .await
                .remove(0)
        }
        RunStatus::Missed => {
            let job = create_job(&db.store, name).await;
            claim_occurrence(&db.store, job.id, OccurrenceKind::Missed { count: 3 })
                .await
                .remove(0)
        }
    }
}

/// Tries the one transition method that leads to `to`; returns whether it applied.
async fn try_transition(store: &Store, run: &Run, to: RunStatus) -> bool {
    let far_future = at(1_000_000);
    match to {
        RunStatus::Running => {
            let claimed = store
                .runs_claim_queued(&claim_all("node-b", far_future))
                .await
                .unwrap();
            assert!(claimed.iter().all(|c| c.run.id == run.id));
            !claimed.is_empty()
        }
        RunStatus::Cancelled if run.status == RunStatus::Queued => store
            .run_cancel_if_queued(run.id, at(3))
            .await
            .unwrap()
            .is_some(),
        RunStatus::Interrupted => {
            let interrupted = store
                .runs_interrupt_if_lease_expired(far_future, 10)
                .await
                .unwrap();
            !interrupted.is_empty()
        }
        RunStatus::Queued | RunStatus::Skipped | RunStatus::Missed => false,
        _ => {
            let finish = finish_as(
                run.id,
                run.node.clone().unwrap_or_else(|| NODE.into()),
                to,
                at(4),
            );
            store.runs_finish_if_running(&[finish]).await.unwrap()[0]
        }
    }
}

async fn every_transition_applies_exactly_where_the_state_graph_allows(db: TestDb) {
    let mut case = 0;
    for &from in RunStatus::ALL {
        for &to in RunStatus::ALL {
            // Each case on its own job, so no other run can be claimed or
            // interrupted; earlier cases' runs are ended or deleted.
            case += 1;
            let run = run_in(&db, &format!("case-{case}"), from).await;
            assert_status(&run, from);
            // Cancelling a running run is its node's finish as cancelled.
            let applied = try_transition(&db.store, &run, to).await;
            assert_eq!(
                applied,
                from.can_become(to),
                "{from} → {to}: the store and the state graph disagree"
            );
            let after = db.store.run_get(run.id).await.unwrap().unwrap();
            let expected = if applied { to } else { from };
            assert_status(&after, expected);
            db.store.job_delete(run.job_id, "x").await.unwrap();
        }
    }
    assert_eq!(case, 81);
    // The arrows other transactions take as one of their statements: a
    // replacing claim cancels a chain's queued chunk, a queue job's cancel
    // its queued event runs, and event runs are claimed by their queue's
    // limit. Each applies from `queued` only.
    for arrow in [
        Arrow::ReplaceChain,
        Arrow::CancelQueueJob,
        Arrow::ClaimEvent,
    ] {
        for &from in RunStatus::ALL {
            case += 1;
            let name = format!("case-{case}");
            let (run, queue_job) = match arrow.kind_in(&db, &name, from).await {
                Some(made) => made,
                // Skipped and missed rows are occurrences, never chunks or
                // events: the arrow meets a plain run in that status.
                None => (run_in(&db, &name, from).await, None),
            };
            assert_status(&run, from);
            arrow.take(&db.store, &run, queue_job).await;
            let after = db.store.run_get(run.id).await.unwrap().unwrap();
            let to = arrow.to();
            // The arrow starts from `queued`; from anywhere else it must not apply.
            let applies = from == RunStatus::Queued && from.can_become(to);
            let expected = if applies { to } else { from };
            assert_eq!(
                after.status, expected,
                "{from} → {to} by {arrow:?}: the store and the state graph disagree"
            );
            db.store.job_delete(run.job_id, "x").await.unwrap();
        }
    }
    assert_eq!(case, 81 + 3 * 9);
}

/// The state graph's arrows taken inside other transactions.
#[derive(Debug, Clone, Copy)]
enum Arrow {
    /// queued → cancelled: a claim replacing the job's runs ends its chain.
    ReplaceChain,
    /// queued → cancelled: `cancel()` of the run's queue job.
    CancelQueueJob,
    /// queued → running: an event run claimed by its queue's limit.
    ClaimEvent,
}

impl Arrow {
    fn to(self) -> RunStatus {
        match self {
            Arrow::ReplaceChain | Arrow::CancelQueueJob => RunStatus::Cancelled,
            Arrow::ClaimEvent => RunStatus::Running,
        }
    }

    /// A fresh job's run of the kind this arrow moves (a chain's second
    /// chunk, or an event run with its queue job) in `status`; `None` when
    /// no run of that kind can be in it.
    async fn kind_in(
        self,
        db: &TestDb,
        name: &str,
        status: RunStatus,
    ) -> Option<(Run, Option<i64>)> {
        if matches!(status, RunStatus::Skipped | RunStatus::Missed) {
            return None;
        }
        let (queued, queue_job) = match self {
            Arrow::ReplaceChain => {
                let first = running_run(db, name).await;
                let chunk = NewRun {
                    job_version: Some(first.job_version),
                    parent_run_id: Some(first.id),
                    chain_id: Some(first.id),
                    ..NewRun::new(first.job_id, Trigger::Continuation, at(2))
                };
                let finish = RunFinish::succeeded(lease(first.id, NODE), at(2), None)
                    .with_follow_up(Some(chunk));
                let written = db
                    .store
                    .runs_write_if_running(&RunWrites {
                        appends: Vec::new(),
                        finishes: vec![finish],
                        starts: Vec::new(),
                    })
                    .await
                    .unwrap();
                (written.follow_ups[0].clone().unwrap(), None)
            }
            Arrow::CancelQueueJob | Arrow::ClaimEvent => {
                let queue = format!("q-{name}");
                db.store
                    .job_create(&store::NewJob {
                        spec: store::JobSpec {
                            queue: Some(queue.clone()),
                            ..store::JobSpec::new(name, "return 1")
                        },
                        next_fire_at: None,
                        actor: "tester".into(),
                    })
                    .await
                    .unwrap();
                let pushed = db
                    .store
                    .queue_push(&store::QueuePush {
                        queue,
                        events: vec![store::NewQueueEvent {
                            body: serde_json::json!(1),
                            delay: Duration::ZERO,
                            concurrency_limit: None,
                        }],
                        now: at(0),
                    })
                    .await
                    .unwrap();
                (pushed.runs[0].clone(), Some(pushed.queue_job_id))
            }
        };
        let run = match status {
            RunStatus::Queued => queued,
            RunStatus::Cancelled => db
                .store
                .run_cancel_if_queued(queued.id, at(3))
                .await
                .unwrap()
                .unwrap(),
            _ => {
                let claimed = db
                    .store
                    .runs_claim_queued(&claim_all(NODE, at(10)))
                    .await
                    .unwrap();
                assert_eq!(claimed.len(), 1);
                let running = claimed[0].run.clone();
                if status != RunStatus::Running {
                    let applied = db
                        .store
                        .runs_finish_if_running(&[finish_as(running.id, NODE, status, at(11))])
                        .await
                        .unwrap();
                    assert_eq!(applied, [true]);
                }
                db.store.run_get(running.id).await.unwrap().unwrap()
            }
        };
        Some((run, queue_job))
    }

    /// Takes the arrow through the store method whose transaction holds it.
    async fn take(self, store: &Store, run: &Run, queue_job: Option<i64>) {
        match self {
            Arrow::ReplaceChain => {
                let claims = [store::OccurrenceClaim {
                    job_id: run.job_id,
                    expected_next_fire_at: at(1),
                    new_next_fire_at: Some(at(2)),
                }];
                store
                    .occurrences_claim(&claims, at(12), |_, _| store::OccurrencePlan {
                        rows: Vec::new(),
                        cancel_running: true,
                        abandon: false,
                    })
                    .await
                    .unwrap();
            }
            Arrow::CancelQueueJob => {
                if let Some(queue_job) = queue_job {
                    let queue = run.event.as_ref().map_or_else(String::new, |event| {
                        event["queueName"].as_str().unwrap_or_default().to_owned()
                    });
                    store
                        .queue_job_cancel(&queue, queue_job, at(12))
                        .await
                        .unwrap();
                }
            }
            Arrow::ClaimEvent => {
                store
                    .runs_claim_queued(&claim_all("node-b", at(1_000_000)))
                    .await
                    .unwrap();
            }
        }
    }
}

async fn only_the_node_running_a_run_may_finish_it(db: TestDb) {
    let run = running_run(&db, "owned").await;
    let finish = |node: &str| {
        RunFinish::succeeded(lease(run.id, node), at(3), Some(serde_json::json!(1)))
            .with_logs(vec![line("x")])
    };
    assert_eq!(
        db.store
            .runs_finish_if_running(&[finish("node-b")])
            .await
            .unwrap(),
        [false]
    );
    let still = db.store.run_get(run.id).await.unwrap().unwrap();
    assert_status(&still, RunStatus::Running);
    assert_eq!(still.log_lines, 0);
    assert_eq!(
        db.store
            .runs_finish_if_running(&[finish(NODE)])
            .await
            .unwrap(),
        [true]
    );
    // A second finish (a duplicate report) does not apply either.
    assert_eq!(
        db.store
            .runs_finish_if_running(&[finish(NODE)])
            .await
            .unwrap(),
        [false]
    );
    // No finish can report a status other than a final one: `RunFinish`
    // has a constructor per final status (checked by the compiler).
}

async fn a_finish_stores_result_error_http_calls_and_duration(db: TestDb) {
    let run = running_run(&db, "detailed").await;
    let call = HttpCall {
        method: "GET".into(),
        url: "https://example.atlassian.net/rest/api/3/myself".into(),
        status: Some(200),
        duration_ms: 42,
        retries: 1,
        error: None,
        response_size: Some(512),
    };
    let error = RunError {
        message: "TypeError: x is not a function".into(),
        stack: Some("at job (script.js:3:5)".into()),
        line: Some(3),
        column: Some(5),
    };
    let finished_at = at(0) + Duration::from_millis(1234);
    db.store
        .runs_finish_if_running(&[RunFinish::failed(
            lease(run.id, NODE),
            finished_at,
            Some(error.clone()),
        )
        .with_http_calls(vec![call.clone()])])
        .await
        .unwrap();
    let run = db.store.run_get(run.id).await.unwrap().unwrap();
    assert_status(&run, RunStatus::Failed);
    assert_eq!(run.finished_at, Some(finished_at));
    assert_eq!(run.duration_ms, Some(1234));
    assert_eq!(run.error, Some(error));
    assert_eq!(run.http_calls, [call]);
    assert_eq!(run.result, None, "only a success has a result");
    assert_eq!(run.lease_expires_at, None);
    assert_eq!(run.node.as_deref(), Some(NODE));

    // A finish stamped before the start (a clock step) never precedes it.
    let early = running_run(&db, "clock-step").await;
    db.store
        .runs_finish_if_running(&[RunFinish::succeeded(
            lease(early.id, NODE),
            at(0) - Duration::from_secs(5),
            Some(serde_json::json!({"partial": [1, "two"]})),
        )])
        .await
        .unwrap();
    let early = db.store.run_get(early.id).await.unwrap().unwrap();
    assert_eq!(
        early.result,
        Some(serde_json::json!({"partial": [1, "two"]}))
    );
    assert_eq!(early.finished_at, early.started_at);
}

async fn queued_runs_wait_for_not_before(db: TestDb) {
    let job = create_job(&db.store, "later").await;
    let run = db
        .store
        .run_insert(&NewRun {
            not_before: at(30),
            ..NewRun::new(job.id, Trigger::Retry, at(0))
        })
        .await
        .unwrap();
    assert!(
        db.store
            .runs_claim_queued(&claim_all(NODE, at(29)))
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(30)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let claimed = &claimed[0];
    assert_eq!(claimed.run.id, run.id);
    assert_status(&claimed.run, RunStatus::Running);
    assert_eq!(claimed.run.started_at, None, "a claim is not a start");
    assert_eq!(claimed.run.lease_expires_at, Some(at(60)));
    assert_eq!(claimed.run.node.as_deref(), Some(NODE));
    assert_eq!(claimed.spec.name, "later");
    assert_eq!(claimed.spec.script, "return 1");
}

async fn a_job_without_overlap_starts_its_queued_runs_one_at_a_time_in_order(db: TestDb) {
    let job = create_job(&db.store, "serial").await;
    let first = queue_run(&db.store, job.id).await;
    let second = queue_run(&db.store, job.id).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(1)))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        [first.id]
    );
    assert!(
        db.store
            .runs_claim_queued(&claim_all("node-b", at(1)))
            .await
            .unwrap()
            .is_empty(),
        "the second waits while the first runs"
    );
    db.store
        .runs_finish_if_running(&[RunFinish::succeeded(lease(first.id, NODE), at(2), None)])
        .await
        .unwrap();
    let claimed = db
        .store
        .runs_claim_queued(&claim_all("node-b", at(2)))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        [second.id]
    );
}

/// A claim reads the queue a window at a time: a run behind more runs
/// than a window holds, all waiting for their job's running run, is still
/// found (and the waiting runs are not taken).
async fn a_claim_finds_a_claimable_run_behind_many_waiting_their_turn(db: TestDb) {
    let busy = create_job(&db.store, "busy").await;
    let running = queue_run(&db.store, busy.id).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(1)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].run.id, running.id);
    // Far more than the largest window (1,024 runs) wait behind it.
    for _ in 0..1_100 {
        queue_run(&db.store, busy.id).await;
    }
    let free = create_job(&db.store, "free").await;
    let behind = queue_run(&db.store, free.id).await;
    let claim = store::RunClaim {
        limit: 1,
        ..claim_all(NODE, at(1))
    };
    let claimed = db.store.runs_claim_queued(&claim).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        [behind.id],
        "the run behind the waiting ones is found"
    );
    assert!(
        db.store
            .runs_claim_queued(&claim_all(NODE, at(1)))
            .await
            .unwrap()
            .is_empty(),
        "the waiting runs still wait"
    );
}

/// A node that begins the claimed scripts at once claims them started: the
/// start is the claim's instant, written by the claim itself.
async fn a_starting_claim_records_the_start_in_its_own_commit(db: TestDb) {
    let job = create_job(&db.store, "starts").await;
    let run = queue_run(&db.store, job.id).await;
    let claimed = db
        .store
        .runs_start_queued_within(&claim_all(NODE, at(5)), |_| true)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].run.id, run.id);
    assert_status(&claimed[0].run, RunStatus::Running);
    assert_eq!(claimed[0].run.started_at, Some(at(5)));
    let stored = db.store.run_get(run.id).await.unwrap().unwrap();
    assert_eq!(stored.started_at, Some(at(5)), "committed with the claim");
    // A node restarting requeues only runs that never began: this one did.
    let released = db.store.runs_release_of_node(NODE, at(6)).await.unwrap();
    assert_eq!((released.requeued, released.expired), (0, 1));
    let stored = db.store.run_get(run.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Running);
}

/// The commit that records a run's end tells every node (PostgreSQL) both
/// that this run moved on (live log streams follow it) and that runs ended
/// (queued runs waiting behind them may start): two notices, sent by one
/// statement. SQLite has no other node and no feed.
async fn a_commit_of_ends_tells_the_nodes_which_runs_moved_and_that_runs_ended(db: TestDb) {
    let Some(mut feed) = db.store.change_feed().await.unwrap() else {
        assert_eq!(
            db.store.engine(),
            store::Engine::Sqlite,
            "only SQLite has no feed"
        );
        return;
    };
    let run = running_run(&db, "told").await;
    let writes = RunWrites {
        finishes: vec![finish_as(run.id, NODE, RunStatus::Succeeded, at(4))],
        ..RunWrites::default()
    };
    let applied = db.store.runs_write_if_running(&writes).await.unwrap();
    assert_eq!(applied.finished, [true]);
    let (mut moved, mut ended) = (false, false);
    while !(moved && ended) {
        let change = tokio::time::timeout(Duration::from_secs(10), feed.next())
            .await
            .unwrap_or_else(|_| panic!("no notice (moved {moved}, ended {ended})"))
            .unwrap();
        match change {
            store::Change::RunsProgressed(ids) if ids.contains(&run.id) => moved = true,
            store::Change::RunsFinished => ended = true,
            _ => {}
        }
    }
}

/// The group commit that records a run's end claims the next queued runs
/// in the same transaction, after the end: the next run of a job that
/// allows no overlap (which a claim before that commit could not take) is
/// claimed, started at the claim's instant.
async fn a_commit_of_ends_claims_the_next_runs_and_sees_those_ends(db: TestDb) {
    let first = running_run(&db, "serial").await;
    let next = queue_run(&db.store, first.job_id).await;
    let other = create_job(&db.store, "other").await;
    let other = queue_run(&db.store, other.id).await;
    let writes = RunWrites {
        finishes: vec![finish_as(first.id, NODE, RunStatus::Succeeded, at(4))],
        ..RunWrites::default()
    };
    let mut offered = Vec::new();
    let (applied, claimed) = db
        .store
        .runs_write_then_start_queued_within(&writes, &claim_all(NODE, at(5)), |candidate| {
            offered.push(candidate.run_id);
            true
        })
        .await
        .unwrap();
    assert_eq!(applied.finished, [true]);
    assert_eq!(offered, [next.id, other.id], "oldest first");
    assert_eq!(
        claimed.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        [next.id, other.id]
    );
    for claimed in &claimed {
        assert_status(&claimed.run, RunStatus::Running);
        assert_eq!(claimed.run.started_at, Some(at(5)));
    }
    let ended = db.store.run_get(first.id).await.unwrap().unwrap();
    assert_status(&ended, RunStatus::Succeeded);
    let stored = db.store.run_get(next.id).await.unwrap().unwrap();
    assert_eq!(stored.started_at, Some(at(5)), "committed with the end");

    // With no end to write, it is a claim: the job's run is running now.
    let (applied, claimed) = db
        .store
        .runs_write_then_start_queued_within(&RunWrites::default(), &claim_all(NODE, at(6)), |_| {
            true
        })
        .await
        .unwrap();
    assert_eq!(applied, store::RunWritesApplied::default());
    assert!(claimed.is_empty(), "{claimed:?}");
}

/// The ends and the claim commit together or not at all: a commit the
/// store refuses (a follow-up of a job that does not exist) leaves the
/// run running and the queued runs queued.
async fn a_commit_of_ends_that_fails_claims_nothing(db: TestDb) {
    let first = running_run(&db, "refused").await;
    let other = create_job(&db.store, "waiting").await;
    let waiting = queue_run(&db.store, other.id).await;
    let writes =
        RunWrites {
            finishes: vec![
                finish_as(first.id, NODE, RunStatus::Failed, at(4))
                    .with_follow_up(Some(NewRun::new(424_242, Trigger::Retry, at(4)))),
            ],
            ..RunWrites::default()
        };
    let refused = db
        .store
        .runs_write_then_start_queued_within(&writes, &claim_all(NODE, at(5)), |_| true)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let stored = db.store.run_get(first.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Running);
    let stored = db.store.run_get(waiting.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Queued);
    assert_eq!(stored.node, None);
}

async fn a_claim_takes_only_the_runs_it_accepts_oldest_first_and_stops_at_a_refusal(db: TestDb) {
    let mut queued = Vec::new();
    for (name, memory) in [("small", 100), ("large", 900), ("behind", 100)] {
        let job = db
            .store
            .job_create(&store::NewJob {
                spec: store::JobSpec {
                    memory_limit_mb: memory,
                    ..crate::fixtures::scheduled_spec(name)
                },
                next_fire_at: Some(at(1)),
                actor: "tester".into(),
            })
            .await
            .unwrap();
        queued.push(queue_run(&db.store, job.id).await.id);
    }
    // Room for 500 MiB: the first fits, the second does not, and the third
    // is not offered although it would fit (no overtaking).
    let mut room = 500;
    let mut offered = Vec::new();
    let claimed = db
        .store
        .runs_claim_queued_within(&claim_all(NODE, at(1)), |candidate| {
            offered.push((candidate.run_id, candidate.spec.memory_limit_mb));
            let fits = candidate.spec.memory_limit_mb <= room;
            if fits {
                room -= candidate.spec.memory_limit_mb;
            }
            fits
        })
        .await
        .unwrap();
    assert_eq!(offered, [(queued[0], 100), (queued[1], 900)]);
    assert_eq!(
        claimed.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        [queued[0]]
    );
    assert_eq!(claimed[0].spec.memory_limit_mb, 100);
    for id in &queued[1..] {
        let run = db.store.run_get(*id).await.unwrap().unwrap();
        assert_status(&run, RunStatus::Queued);
    }
    // Refusing the first claims nothing; accepting all claims the rest.
    assert!(
        db.store
            .runs_claim_queued_within(&claim_all(NODE, at(1)), |_| false)
            .await
            .unwrap()
            .is_empty()
    );
    let rest = db
        .store
        .runs_claim_queued(&claim_all("node-b", at(1)))
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|c| c.run.id).collect::<Vec<_>>(),
        &queued[1..]
    );
}

async fn a_job_allowing_overlap_starts_all_its_queued_runs(db: TestDb) {
    let mut spec = crate::fixtures::scheduled_spec("parallel");
    spec.overlap = store::Overlap::Allow;
    let job = db
        .store
        .job_create(&store::NewJob {
            spec,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    for _ in 0..3 {
        queue_run(&db.store, job.id).await;
    }
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(1)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let limited = {
        for _ in 0..3 {
            queue_run(&db.store, job.id).await;
        }
        db.store
            .runs_claim_queued(&store::RunClaim {
                limit: 2,
                ..claim_all(NODE, at(1))
            })
            .await
            .unwrap()
    };
    assert_eq!(limited.len(), 2);
}

async fn heartbeats_renew_held_leases_and_report_cancel_requests(db: TestDb) {
    let mine = running_run(&db, "mine").await;
    let other = running_run(&db, "other").await;
    // `other` belongs to another node from here on: finish and re-claim it there.
    db.store
        .runs_finish_if_running(&[RunFinish::succeeded(lease(other.id, NODE), at(1), None)])
        .await
        .unwrap();
    assert_eq!(
        db.store
            .run_request_cancel_if_running(mine.id)
            .await
            .unwrap(),
        Some(NODE.to_string())
    );
    assert_eq!(
        db.store
            .run_request_cancel_if_running(other.id)
            .await
            .unwrap(),
        None,
        "an ended run cannot be asked to cancel"
    );
    let states = db
        .store
        .runs_heartbeat_if_running(&Heartbeat {
            leases: vec![
                lease(mine.id, NODE),
                lease(other.id, NODE),
                lease(999, NODE),
            ],
            lease_until: at(100),
        })
        .await
        .unwrap();
    assert_eq!(
        states
            .iter()
            .map(|s| (s.run_id, s.held, s.cancel_requested))
            .collect::<Vec<_>>(),
        [
            (mine.id, true, true),
            (other.id, false, false),
            (999, false, false)
        ]
    );
    let renewed = db.store.run_get(mine.id).await.unwrap().unwrap();
    assert_eq!(renewed.lease_expires_at, Some(at(100)));
    assert!(renewed.cancel_requested);
    // Another node's heartbeat holds nothing of ours.
    let foreign = db
        .store
        .runs_heartbeat_if_running(&Heartbeat {
            leases: vec![lease(mine.id, "node-b")],
            lease_until: at(200),
        })
        .await
        .unwrap();
    assert!(!foreign[0].held);
    assert_eq!(
        db.store
            .run_get(mine.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        Some(at(100))
    );
    assert!(
        db.store
            .runs_heartbeat_if_running(&Heartbeat {
                leases: Vec::new(),
                lease_until: at(1),
            })
            .await
            .unwrap()
            .is_empty()
    );
}

async fn expired_leases_become_interrupted_runs(db: TestDb) {
    let expiring = running_run(&db, "expiring").await; // lease until at(30)
    let renewed = running_run(&db, "renewed").await;
    db.store
        .runs_heartbeat_if_running(&Heartbeat {
            leases: vec![lease(renewed.id, NODE)],
            lease_until: at(90),
        })
        .await
        .unwrap();
    assert!(
        db.store
            .runs_interrupt_if_lease_expired(at(30), 10)
            .await
            .unwrap()
            .is_empty(),
        "a lease that ends now has not expired yet"
    );
    let interrupted = db
        .store
        .runs_interrupt_if_lease_expired(at(31), 10)
        .await
        .unwrap();
    assert_eq!(interrupted.len(), 1);
    let run = &interrupted[0];
    assert_eq!(run.id, expiring.id);
    assert_status(run, RunStatus::Interrupted);
    assert_eq!(run.finished_at, Some(at(31)));
    assert_eq!(run.lease_expires_at, None);
    assert!(run.error.as_ref().unwrap().message.contains("lease"));
    // The node that lost it can no longer write to it.
    let late = db
        .store
        .runs_write_if_running(&RunWrites {
            appends: vec![LogAppend {
                lease: lease(expiring.id, NODE),
                lines: vec![line("late")],
            }],
            finishes: vec![RunFinish::succeeded(lease(expiring.id, NODE), at(32), None)],
            starts: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(late.appended, [false]);
    assert_eq!(late.finished, [false]);
    assert_status(
        &db.store.run_get(expiring.id).await.unwrap().unwrap(),
        RunStatus::Interrupted,
    );
    assert_status(
        &db.store.run_get(renewed.id).await.unwrap().unwrap(),
        RunStatus::Running,
    );
    // The batch limit holds.
    for i in 0..3 {
        running_run(&db, &format!("batch-{i}")).await;
    }
    assert_eq!(
        db.store
            .runs_interrupt_if_lease_expired(at(1000), 2)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn logs_are_stored_during_and_at_the_end_of_a_run(db: TestDb) {
    let run = running_run(&db, "chatty").await;
    let applied = db
        .store
        .run_logs_append_if_running(&[
            LogAppend {
                lease: lease(run.id, NODE),
                lines: vec![line("one"), line("two")],
            },
            LogAppend {
                lease: lease(run.id, NODE),
                lines: vec![line("three\0nul")],
            },
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true, true]);
    assert_eq!(
        db.store.run_get(run.id).await.unwrap().unwrap().log_lines,
        3
    );
    let mut warn = line("four");
    warn.level = store::LogLevel::Warn;
    db.store
        .runs_finish_if_running(&[RunFinish::succeeded(lease(run.id, NODE), at(5), None)
            .with_logs(vec![warn, line("five")])])
        .await
        .unwrap();
    let all = db
        .store
        .run_logs(&LogQuery {
            run_id: run.id,
            after_seq: 0,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|l| (l.seq, l.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, "one"),
            (2, "two"),
            (3, "three\u{FFFD}nul"),
            (4, "four"),
            (5, "five")
        ]
    );
    assert_eq!(all[3].level, store::LogLevel::Warn);
    assert_eq!(all[0].ts, at(0));
    let tail = db
        .store
        .run_logs(&LogQuery {
            run_id: run.id,
            after_seq: 3,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].seq, 4);
    assert_eq!(
        db.store.run_get(run.id).await.unwrap().unwrap().log_lines,
        5
    );
    // After the end nothing more is appended.
    assert_eq!(
        db.store
            .run_logs_append_if_running(&[LogAppend {
                lease: lease(run.id, NODE),
                lines: vec![line("late")],
            }])
            .await
            .unwrap(),
        [false]
    );
}

async fn run_lists_page_newest_first_with_filters(db: TestDb) {
    let a = create_job(&db.store, "a").await;
    let b = create_job(&db.store, "b").await;
    let mut ids_a = Vec::new();
    for _ in 0..7 {
        ids_a.push(queue_run(&db.store, a.id).await.id);
        queue_run(&db.store, b.id).await;
    }
    db.store
        .run_cancel_if_queued(ids_a[2], at(1))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = db
            .store
            .runs_list(&RunFilter {
                job_id: Some(a.id),
                status: None,
                cursor,
                limit: 3,
            })
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|r| r.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut newest_first = ids_a.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    let cancelled = db
        .store
        .runs_list(&RunFilter {
            job_id: Some(a.id),
            status: Some(RunStatus::Cancelled),
            cursor: None,
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        cancelled.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids_a[2]]
    );
    let all = db.store.runs_list(&RunFilter::default()).await.unwrap();
    assert_eq!(all.items.len(), 14);
    let queued = db
        .store
        .runs_list(&RunFilter {
            status: Some(RunStatus::Queued),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(queued.items.len(), 13);
    let error = db
        .store
        .runs_list(&RunFilter {
            cursor: Some(
                store::JobFilter::default()
                    .search
                    .unwrap_or_else(|| "eA".into()),
            ),
            ..RunFilter::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidCursor), "{error}");
}

async fn pruning_keeps_the_newest_runs_and_recent_days_and_never_live_runs(db: TestDb) {
    let job = create_job(&db.store, "pruned").await;
    let other = create_job(&db.store, "untouched").await;
    let other_run = queue_run(&db.store, other.id).await;
    let live = queue_run(&db.store, job.id).await; // oldest, but queued
    let mut ended = Vec::new();
    for day in 0..6 {
        let run = queue_run(&db.store, job.id).await;
        db.store
            .run_cancel_if_queued(run.id, at(day * 86_400))
            .await
            .unwrap();
        ended.push(run.id);
    }
    let now = at(6 * 86_400);
    let prune = |keep_runs, keep_days, batch| PruneRuns {
        job_id: job.id,
        keep_runs,
        keep_days,
        now,
        batch,
    };
    // Keep 10 runs and 30 days: nothing to do.
    assert_eq!(db.store.runs_prune(&prune(10, 30, 100)).await.unwrap(), 0);
    // Keep 4 runs: of the job's 7 (live + 6 ended), the 3 oldest are
    // beyond; the live one stays, so 2 go, one batch at a time.
    assert_eq!(db.store.runs_prune(&prune(4, 30, 1)).await.unwrap(), 1);
    assert_eq!(db.store.runs_prune(&prune(4, 30, 1)).await.unwrap(), 1);
    assert_eq!(db.store.runs_prune(&prune(4, 30, 1)).await.unwrap(), 0);
    for id in &ended[..2] {
        assert_eq!(db.store.run_get(*id).await.unwrap(), None);
    }
    assert!(db.store.run_get(ended[2]).await.unwrap().is_some());
    // Keep 2 days: runs that ended before day 4 go (days 2 and 3).
    assert_eq!(db.store.runs_prune(&prune(100, 2, 100)).await.unwrap(), 2);
    assert_eq!(db.store.run_get(ended[3]).await.unwrap(), None);
    assert!(db.store.run_get(ended[4]).await.unwrap().is_some());
    assert!(
        db.store.run_get(live.id).await.unwrap().is_some(),
        "live runs stay"
    );
    assert!(db.store.run_get(other_run.id).await.unwrap().is_some());
}

async fn live_counts_and_the_next_queued_instant(db: TestDb) {
    let job = create_job(&db.store, "counted").await;
    running_run(&db, "other").await;
    queue_run(&db.store, job.id).await;
    db.store
        .run_insert(&NewRun {
            not_before: at(50),
            ..NewRun::new(job.id, Trigger::Retry, at(0))
        })
        .await
        .unwrap();
    db.store
        .run_insert(&NewRun {
            not_before: at(40),
            ..NewRun::new(job.id, Trigger::Retry, at(0))
        })
        .await
        .unwrap();
    let active = db.store.runs_active_count(job.id).await.unwrap();
    assert_eq!((active.queued, active.running), (3, 0));
    let live = db.store.runs_live_counts().await.unwrap();
    assert_eq!((live.queued, live.running), (3, 1));
    assert_eq!(
        db.store.runs_next_queued_after(at(0)).await.unwrap(),
        Some(at(40))
    );
    assert_eq!(
        db.store.runs_next_queued_after(at(40)).await.unwrap(),
        Some(at(50))
    );
    assert_eq!(db.store.runs_next_queued_after(at(50)).await.unwrap(), None);
}

async fn the_previous_outcome_ignores_skips_and_cancels(db: TestDb) {
    let failed = run_in(&db, "health", RunStatus::Failed).await;
    let job_id = failed.job_id;
    let cancelled = queue_run(&db.store, job_id).await;
    db.store
        .run_cancel_if_queued(cancelled.id, at(3))
        .await
        .unwrap();
    let latest = queue_run(&db.store, job_id).await;
    assert_eq!(
        db.store
            .run_previous_outcome(job_id, latest.id)
            .await
            .unwrap(),
        Some(RunStatus::Failed)
    );
    assert_eq!(
        db.store
            .run_previous_outcome(job_id, failed.id)
            .await
            .unwrap(),
        None
    );
}

async fn a_follow_up_is_queued_with_its_finish_and_only_if_it_applies(db: TestDb) {
    let run = running_run(&db, "retried").await;
    let retry = NewRun {
        attempt: 2,
        parent_run_id: Some(run.id),
        not_before: at(60),
        ..NewRun::new(run.job_id, Trigger::Retry, at(3))
    };
    let finish = |node: &str| {
        RunFinish::failed(lease(run.id, node), at(3), Some(RunError::message("boom")))
            .with_follow_up(Some(retry.clone()))
    };
    let lost = db
        .store
        .runs_write_if_running(&RunWrites {
            appends: Vec::new(),
            finishes: vec![finish("node-b")],
            starts: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(lost.finished, [false]);
    assert_eq!(lost.follow_ups, [None]);
    assert_eq!(
        db.store.runs_active_count(run.job_id).await.unwrap().queued,
        0
    );
    let applied = db
        .store
        .runs_write_if_running(&RunWrites {
            appends: Vec::new(),
            finishes: vec![finish(NODE)],
            starts: Vec::new(),
        })
        .await
        .unwrap();
    let follow_up = applied.follow_ups[0].clone().unwrap();
    assert_status(&follow_up, RunStatus::Queued);
    assert_eq!(follow_up.trigger, Trigger::Retry);
    assert_eq!(follow_up.attempt, 2);
    assert_eq!(follow_up.parent_run_id, Some(run.id));
    assert_eq!(follow_up.not_before, at(60));
    // An invalid follow-up refuses the whole write before the database.
    let other = running_run(&db, "refused").await;
    let error = db
        .store
        .runs_finish_if_running(&[finish(NODE).with_follow_up(Some(NewRun {
            attempt: 0,
            ..retry.clone()
        }))])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    assert_status(
        &db.store.run_get(other.id).await.unwrap().unwrap(),
        RunStatus::Running,
    );
}

/// The lease token makes the fence per attempt, not per node: a run a node
/// claimed but never began goes back to the queue when that node id starts
/// again (while the earlier process may still be alive, cut off from the
/// database), and the same node id claims it anew. Every write of the
/// earlier attempt — start, log lines, renewal, finish with its follow-up —
/// is refused; the new attempt's apply.
async fn a_superseded_attempts_writes_are_refused_when_its_node_claimed_the_run_again(db: TestDb) {
    let job = create_job(&db.store, "superseded").await;
    let queued = queue_run(&db.store, job.id).await;
    let first = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    let old = first[0].run.lease().expect("a claimed run has a lease");
    assert_eq!(old.run_id, queued.id);

    let released = db.store.runs_release_of_node(NODE, at(1)).await.unwrap();
    assert_eq!(released.requeued, 1);
    let again = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(2)))
        .await
        .unwrap();
    let new = again[0].run.lease().expect("a claimed run has a lease");
    assert_eq!((new.run_id, &new.node), (old.run_id, &old.node));
    assert_ne!(new.token, old.token, "each claim mints a new token");

    let writes_of = |lease: &Lease| RunWrites {
        starts: vec![store::RunStart {
            lease: lease.clone(),
            started_at: at(3),
        }],
        appends: vec![LogAppend {
            lease: lease.clone(),
            lines: vec![line("hello")],
        }],
        finishes: vec![
            RunFinish::failed(lease.clone(), at(4), None).with_follow_up(Some(NewRun {
                attempt: 2,
                parent_run_id: Some(lease.run_id),
                ..NewRun::new(job.id, Trigger::Retry, at(4))
            })),
        ],
    };
    let renew = |lease: &Lease| Heartbeat {
        leases: vec![lease.clone()],
        lease_until: at(60),
    };

    let renewed = db
        .store
        .runs_heartbeat_if_running(&renew(&old))
        .await
        .unwrap();
    assert!(!renewed[0].held);
    let late = db
        .store
        .runs_write_if_running(&writes_of(&old))
        .await
        .unwrap();
    assert_eq!(late.started, [false]);
    assert_eq!(late.appended, [false]);
    assert_eq!(late.finished, [false]);
    assert_eq!(late.follow_ups, [None]);
    let stored = db.store.run_get(queued.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Running);
    assert_eq!((stored.started_at, stored.log_lines), (None, 0));
    assert_eq!(
        stored.lease_expires_at,
        Some(at(32)),
        "the old lease renewed nothing"
    );

    let renewed = db
        .store
        .runs_heartbeat_if_running(&renew(&new))
        .await
        .unwrap();
    assert!(renewed[0].held);
    let current = db
        .store
        .runs_write_if_running(&writes_of(&new))
        .await
        .unwrap();
    assert_eq!(current.started, [true]);
    assert_eq!(current.appended, [true]);
    assert_eq!(current.finished, [true]);
    assert!(current.follow_ups[0].is_some());
    let stored = db.store.run_get(queued.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Failed);
    assert_eq!(stored.log_lines, 1);
}

/// The fencing guarantee at the store: once an attempt's lease expired and
/// another node interrupted it, every late write of that attempt — its
/// start, log lines, lease renewal, finish (with the retry it would queue)
/// — is refused, even when its node has meanwhile claimed the retry.
async fn a_fenced_attempts_late_writes_are_refused_even_when_its_node_runs_the_retry(db: TestDb) {
    let fenced = running_run(&db, "fenced").await;
    // Its lease (30 s from 0) is found expired at 40; the retry is queued
    // in the same transaction and this node claims it at 41.
    let interrupted = db
        .store
        .runs_interrupt_if_lease_expired_then(at(40), 10, |run, _| {
            Some(NewRun {
                attempt: run.attempt + 1,
                parent_run_id: Some(run.id),
                ..NewRun::new(run.job_id, Trigger::Retry, at(40))
            })
        })
        .await
        .unwrap();
    assert_eq!(interrupted.len(), 1);
    let retry = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(41)))
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_ne!(retry[0].run.id, fenced.id);

    let late = RunWrites {
        starts: vec![store::RunStart {
            lease: lease(fenced.id, NODE),
            started_at: at(42),
        }],
        appends: vec![LogAppend {
            lease: lease(fenced.id, NODE),
            lines: vec![line("late")],
        }],
        finishes: vec![
            finish_as(fenced.id, NODE, RunStatus::Failed, at(42)).with_follow_up(Some(NewRun {
                attempt: 2,
                parent_run_id: Some(fenced.id),
                ..NewRun::new(fenced.job_id, Trigger::Retry, at(42))
            })),
        ],
    };
    let applied = db.store.runs_write_if_running(&late).await.unwrap();
    assert_eq!(applied.started, [false]);
    assert_eq!(applied.appended, [false]);
    assert_eq!(applied.finished, [false]);
    assert_eq!(applied.follow_ups, [None]);
    let renewed = db
        .store
        .runs_heartbeat_if_running(&Heartbeat {
            leases: vec![lease(fenced.id, NODE)],
            lease_until: at(72),
        })
        .await
        .unwrap();
    assert!(!renewed[0].held);
    let stored = db.store.run_get(fenced.id).await.unwrap().unwrap();
    assert_status(&stored, RunStatus::Interrupted);
    assert_eq!(stored.log_lines, 0);
    assert_eq!(stored.finished_at, Some(at(40)));
    // No second retry was queued by the refused finish.
    let runs = db
        .store
        .runs_list(&RunFilter {
            job_id: Some(fenced.job_id),
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 2, "{runs:?}");
}

/// A group commit writes its starts and finishes with one statement each;
/// it applies as the writes one after another would: a run's first start
/// and first finish apply, a second one finds the run started or ended,
/// and a write under another node's lease never applies.
async fn a_group_commit_applies_the_first_start_and_finish_of_each_run_only(db: TestDb) {
    let mut claimed = Vec::new();
    for name in ["twice", "once", "elsewhere"] {
        let job = create_job(&db.store, name).await;
        queue_run(&db.store, job.id).await;
        // Claimed, not started: the batch records the starts.
        claimed.extend(
            db.store
                .runs_claim_queued(&claim_all(NODE, at(0)))
                .await
                .unwrap(),
        );
    }
    let [a, b, c] = [0, 1, 2].map(|i| claimed[i].run.clone());
    let start = |id, seconds| RunStart {
        lease: lease(id, NODE),
        started_at: at(seconds),
    };
    let applied = db
        .store
        .runs_write_if_running(&RunWrites {
            starts: vec![start(a.id, 1), start(a.id, 2), start(b.id, 1)],
            appends: Vec::new(),
            finishes: vec![
                RunFinish::succeeded(lease(a.id, NODE), at(3), Some(serde_json::json!({"n": 1})))
                    .with_logs(vec![line("done")]),
                finish_as(a.id, NODE, RunStatus::Failed, at(4)),
                finish_as(b.id, NODE, RunStatus::Failed, at(3)),
                finish_as(c.id, "another-node", RunStatus::Succeeded, at(3)),
            ],
        })
        .await
        .unwrap();
    assert_eq!(applied.started, [true, false, true]);
    assert_eq!(applied.finished, [true, false, true, false]);
    assert_eq!(applied.follow_ups, [None, None, None, None]);
    let a = db.store.run_get(a.id).await.unwrap().unwrap();
    assert_status(&a, RunStatus::Succeeded);
    assert_eq!((a.started_at, a.finished_at), (Some(at(1)), Some(at(3))));
    assert_eq!(a.result, Some(serde_json::json!({"n": 1})));
    assert_eq!(a.log_lines, 1);
    let b = db.store.run_get(b.id).await.unwrap().unwrap();
    assert_status(&b, RunStatus::Failed);
    assert_eq!(b.finished_at, Some(at(3)));
    assert_status(
        &db.store.run_get(c.id).await.unwrap().unwrap(),
        RunStatus::Running,
    );
}
