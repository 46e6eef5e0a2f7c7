//! `@forge/events` queues: pushes with their runs in one transaction,
//! event states following their runs, the concurrency limit in claims,
//! paused consumers, cancel, and re-queueing interrupted events.

use std::time::Duration;

use serde_json::json;
use store::{
    JobSpec, JobUpdate, NewJob, NewQueueEvent, NewRun, QueueCounts, QueuePush, RunFinish,
    RunStatus, StoreError, Trigger,
};

use crate::{
    fixtures::{NODE, assert_status, at, claim_all, finish_as, queue_run},
    harness::TestDb,
};

store_tests! {
    a_queue_key_is_validated_and_has_one_consumer,
    a_push_writes_its_events_and_one_event_run_each,
    a_push_to_a_key_no_job_consumes_fails_and_writes_nothing,
    recent_queue_jobs_count_their_own_events,
    event_states_follow_their_runs_and_retries,
    the_concurrency_limit_holds_within_and_across_claims,
    a_limit_counts_the_unlimited_runs_ahead_and_never_holds_them_up,
    a_full_push_keeps_its_order_and_one_event_per_run,
    event_runs_ignore_the_overlap_policy,
    a_paused_consumers_events_wait,
    cancel_drops_the_events_not_yet_started,
    interrupted_events_are_requeued_until_the_attempt_limit,
}

fn consumer(name: &str, queue: &str) -> JobSpec {
    JobSpec {
        queue: Some(queue.into()),
        ..JobSpec::new(name, "return event.body")
    }
}

async fn create_consumer(db: &TestDb, name: &str, queue: &str) -> store::Job {
    db.store
        .job_create(&NewJob {
            spec: consumer(name, queue),
            next_fire_at: None,
            actor: "tester".into(),
        })
        .await
        .unwrap()
}

fn events(n: usize, limit: Option<u32>) -> Vec<NewQueueEvent> {
    (0..n)
        .map(|i| NewQueueEvent {
            body: json!({ "i": i }),
            delay: Duration::ZERO,
            concurrency_limit: limit,
        })
        .collect()
}

async fn push(db: &TestDb, queue: &str, events: Vec<NewQueueEvent>) -> store::QueuePushed {
    db.store
        .queue_push(&QueuePush {
            queue: queue.into(),
            events,
            now: at(0),
        })
        .await
        .unwrap()
}

fn finish(run: &store::Run, status: RunStatus, follow_up: Option<NewRun>) -> RunFinish {
    finish_as(run.id, NODE, status, at(1)).with_follow_up(follow_up)
}

async fn counts(db: &TestDb, queue: &str, queue_job_id: i64) -> QueueCounts {
    db.store
        .queue_job_get(queue, queue_job_id)
        .await
        .unwrap()
        .unwrap()
        .counts
}

async fn a_queue_key_is_validated_and_has_one_consumer(db: TestDb) {
    for bad in ["a b", "", "a/b", &"k".repeat(101)] {
        let error = db
            .store
            .job_create(&NewJob {
                spec: consumer("bad", bad),
                next_fire_at: None,
                actor: "t".into(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::InvalidSpec(problem) if problem.field == "queue"),
            "{bad:?}: {error:?}"
        );
    }
    let first = create_consumer(&db, "first", "imports").await;
    assert_eq!(first.spec.queue.as_deref(), Some("imports"));
    let error = db
        .store
        .job_create(&NewJob {
            spec: consumer("second", "imports"),
            next_fire_at: None,
            actor: "t".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::InvalidSpec(problem) if problem.field == "queue"
            && problem.reason.contains("\"first\"")),
        "{error:?}"
    );
    assert!(
        db.store
            .job_get(&store::JobRef::Name("second".into()))
            .await
            .unwrap()
            .is_none()
    );
    // Re-saving the consumer keeps its key; moving the key frees it.
    let mut moved = consumer("first", "imports-2");
    moved.script = "return 2".into();
    db.store
        .job_update(&JobUpdate {
            id: first.id,
            spec: moved,
            expected_version: None,
            next_fire_at: None,
            actor: "t".into(),
        })
        .await
        .unwrap();
    create_consumer(&db, "second", "imports").await;
}

async fn a_push_writes_its_events_and_one_event_run_each(db: TestDb) {
    let job = create_consumer(&db, "consumer", "work").await;
    let mut batch = events(3, Some(2));
    batch[2].delay = Duration::from_secs(60);
    let pushed = push(&db, "work", batch).await;
    assert_eq!(pushed.job_id, job.id);
    assert_eq!(pushed.runs.len(), 3);
    for (i, run) in pushed.runs.iter().enumerate() {
        assert_status(run, RunStatus::Queued);
        assert_eq!(run.trigger, Trigger::Event);
        assert_eq!(run.job_id, job.id);
        let event = run.event.as_ref().unwrap();
        assert_eq!(event["body"], json!({ "i": i }));
        assert_eq!(event["jobId"], pushed.queue_job_id.to_string());
        assert_eq!(event["queueName"], "work");
        assert!(event["eventId"].as_str().unwrap().parse::<i64>().is_ok());
    }
    assert_eq!(pushed.runs[0].not_before, at(0));
    assert_eq!(pushed.runs[2].not_before, at(60));
    assert_eq!(
        counts(&db, "work", pushed.queue_job_id).await,
        QueueCounts {
            in_progress: 3,
            ..QueueCounts::default()
        }
    );
    let job_view = db
        .store
        .queue_job_get("work", pushed.queue_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job_view.events, 3);
    assert!(
        db.store
            .queue_job_get("other", pushed.queue_job_id)
            .await
            .unwrap()
            .is_none()
    );
    let summary = db.store.queue_of_job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (summary.queue.as_str(), summary.counts.in_progress),
        ("work", 3)
    );
    let recent = db.store.queue_jobs_recent("work", 10).await.unwrap();
    assert_eq!(recent.len(), 1);
}

/// A queue's recent jobs (read with all their counts at once) each count
/// their own events only, beside another queue's jobs pushed in between.
async fn recent_queue_jobs_count_their_own_events(db: TestDb) {
    create_consumer(&db, "consumer", "work").await;
    create_consumer(&db, "elsewhere", "other").await;
    let first = push(&db, "work", events(2, None)).await;
    let between = push(&db, "other", events(3, None)).await;
    let last = push(&db, "work", events(1, None)).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    let run_of = |id: i64| {
        claimed
            .iter()
            .find(|c| c.run.id == id)
            .map(|c| c.run.clone())
            .unwrap()
    };
    let applied = db
        .store
        .runs_finish_if_running(&[
            finish(&run_of(first.runs[0].id), RunStatus::Succeeded, None),
            finish(&run_of(between.runs[0].id), RunStatus::Failed, None),
            finish(&run_of(between.runs[1].id), RunStatus::Succeeded, None),
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true; 3]);
    let recent = db.store.queue_jobs_recent("work", 10).await.unwrap();
    let seen = recent
        .iter()
        .map(|job| (job.id, job.counts))
        .collect::<Vec<_>>();
    assert_eq!(
        seen,
        [
            (
                last.queue_job_id,
                QueueCounts {
                    in_progress: 1,
                    ..QueueCounts::default()
                }
            ),
            (
                first.queue_job_id,
                QueueCounts {
                    succeeded: 1,
                    in_progress: 1,
                    ..QueueCounts::default()
                }
            ),
        ]
    );
    let other = db.store.queue_jobs_recent("other", 10).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        other[0].counts,
        QueueCounts {
            succeeded: 1,
            in_progress: 1,
            failed: 1,
            cancelled: 0
        }
    );
}

async fn a_push_to_a_key_no_job_consumes_fails_and_writes_nothing(db: TestDb) {
    let error = db
        .store
        .queue_push(&QueuePush {
            queue: "nobody".into(),
            events: events(2, None),
            now: at(0),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::NoConsumer { queue } if queue == "nobody"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("no job consumes queue \"nobody\""),
        "{error}"
    );
    assert!(db.store.queue_summary("nobody").await.unwrap().is_none());
    assert_eq!(db.store.runs_live_counts().await.unwrap().queued, 0);
}

async fn event_states_follow_their_runs_and_retries(db: TestDb) {
    create_consumer(&db, "consumer", "q").await;
    let pushed = push(&db, "q", events(4, None)).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    let runs: Vec<_> = claimed.into_iter().map(|c| c.run).collect();
    let retry = NewRun {
        attempt: 2,
        parent_run_id: Some(runs[2].id),
        event: runs[2].event.clone(),
        ..NewRun::new(runs[2].job_id, Trigger::Retry, at(1))
    };
    let applied = db
        .store
        .runs_finish_if_running(&[
            finish(&runs[0], RunStatus::Succeeded, None),
            finish(&runs[1], RunStatus::Failed, None),
            finish(&runs[2], RunStatus::Failed, Some(retry)),
            finish(&runs[3], RunStatus::TimedOut, None),
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true; 4]);
    assert_eq!(
        counts(&db, "q", pushed.queue_job_id).await,
        QueueCounts {
            succeeded: 1,
            in_progress: 1,
            failed: 2,
            cancelled: 0
        }
    );
    // An event never has two live runs, whatever inserts them.
    let duplicate = db
        .store
        .run_insert(&NewRun {
            event: runs[2].event.clone(),
            ..NewRun::new(runs[2].job_id, Trigger::Retry, at(1))
        })
        .await;
    assert!(duplicate.is_err(), "{duplicate:?}");
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(2)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    db.store
        .runs_finish_if_running(&[finish(&claimed[0].run, RunStatus::Succeeded, None)])
        .await
        .unwrap();
    assert_eq!(
        counts(&db, "q", pushed.queue_job_id).await,
        QueueCounts {
            succeeded: 2,
            in_progress: 0,
            failed: 2,
            cancelled: 0
        }
    );
}

async fn the_concurrency_limit_holds_within_and_across_claims(db: TestDb) {
    create_consumer(&db, "limited", "limited").await;
    create_consumer(&db, "free", "free").await;
    push(&db, "limited", events(10, Some(3))).await;
    push(&db, "free", events(5, None)).await;
    let first = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    let of = |claimed: &[store::ClaimedRun], queue: &str| {
        claimed
            .iter()
            .filter(|c| c.run.event.as_ref().unwrap()["queueName"] == queue)
            .count()
    };
    assert_eq!((of(&first, "limited"), of(&first, "free")), (3, 5));
    // Oldest first.
    let bodies: Vec<_> = first
        .iter()
        .filter(|c| c.run.event.as_ref().unwrap()["queueName"] == "limited")
        .map(|c| c.run.event.as_ref().unwrap()["body"]["i"].as_i64().unwrap())
        .collect();
    assert_eq!(bodies, [0, 1, 2]);
    // Another node sees the limit reached.
    assert!(
        db.store
            .runs_claim_queued(&claim_all("node-b", at(0)))
            .await
            .unwrap()
            .is_empty()
    );
    let done = first
        .iter()
        .find(|c| c.run.event.as_ref().unwrap()["queueName"] == "limited")
        .unwrap();
    db.store
        .runs_finish_if_running(&[finish(&done.run, RunStatus::Succeeded, None)])
        .await
        .unwrap();
    let next = db
        .store
        .runs_claim_queued(&claim_all("node-b", at(0)))
        .await
        .unwrap();
    assert_eq!(of(&next, "limited"), 1);
    // A claim with room for fewer takes fewer.
    let mut small = claim_all("node-b", at(0));
    small.limit = 1;
    assert!(db.store.runs_claim_queued(&small).await.unwrap().is_empty());
}

/// A queue whose pushes mix limited and unlimited events: a limited event
/// counts every due run of its queue ahead of it (as it always has), and
/// unlimited events are claimed however busy the queue is.
async fn a_limit_counts_the_unlimited_runs_ahead_and_never_holds_them_up(db: TestDb) {
    create_consumer(&db, "mixed", "mixed").await;
    push(&db, "mixed", events(2, None)).await;
    let limited = push(&db, "mixed", events(3, Some(3))).await;
    let first = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    let limited_ids: Vec<i64> = limited.runs.iter().map(|run| run.id).collect();
    let claimed_limited = first
        .iter()
        .filter(|c| limited_ids.contains(&c.run.id))
        .count();
    // Two unlimited runs rank ahead: only the first limited run fits in 3.
    assert_eq!((first.len(), claimed_limited), (3, 1));
    let more = push(&db, "mixed", events(2, None)).await;
    let second = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    let second_ids: Vec<i64> = second.iter().map(|c| c.run.id).collect();
    let more_ids: Vec<i64> = more.runs.iter().map(|run| run.id).collect();
    assert_eq!(
        second_ids, more_ids,
        "the limit is reached; unlimited runs still go"
    );
}

/// A push of Forge's most events (50) stores them and their runs in push
/// order: run i carries body i and its own event.
async fn a_full_push_keeps_its_order_and_one_event_per_run(db: TestDb) {
    create_consumer(&db, "consumer", "bulk").await;
    let mut batch = events(50, None);
    batch[49].delay = Duration::from_secs(5);
    let pushed = push(&db, "bulk", batch).await;
    assert_eq!(pushed.runs.len(), 50);
    let mut event_ids = Vec::new();
    for (i, run) in pushed.runs.iter().enumerate() {
        let event = run.event.as_ref().unwrap();
        assert_eq!(event["body"], json!({ "i": i }));
        event_ids.push(event["eventId"].as_str().unwrap().parse::<i64>().unwrap());
    }
    assert!(
        event_ids.windows(2).all(|pair| pair[0] < pair[1]),
        "{event_ids:?}"
    );
    assert!(pushed.runs.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert_eq!(pushed.runs[48].not_before, at(0));
    assert_eq!(pushed.runs[49].not_before, at(5));
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 49);
    for claimed in &claimed {
        db.store
            .runs_finish_if_running(&[finish(&claimed.run, RunStatus::Succeeded, None)])
            .await
            .unwrap();
    }
    assert_eq!(
        counts(&db, "bulk", pushed.queue_job_id).await,
        QueueCounts {
            succeeded: 49,
            in_progress: 1,
            ..QueueCounts::default()
        }
    );
}

async fn event_runs_ignore_the_overlap_policy(db: TestDb) {
    let job = create_consumer(&db, "consumer", "q").await;
    push(&db, "q", events(3, None)).await;
    let manual = queue_run(&db.store, job.id).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    // Overlap `skip` would allow one run at a time; events run alongside
    // each other and alongside the job's own run.
    assert_eq!(claimed.len(), 4);
    assert!(claimed.iter().any(|c| c.run.id == manual.id));
}

async fn a_paused_consumers_events_wait(db: TestDb) {
    let job = create_consumer(&db, "consumer", "q").await;
    db.store
        .job_set_enabled(&store::JobEnable {
            id: job.id,
            enabled: false,
            next_fire_at: None,
            actor: "t".into(),
        })
        .await
        .unwrap();
    let pushed = push(&db, "q", events(2, None)).await;
    assert!(
        db.store
            .runs_claim_queued(&claim_all(NODE, at(5)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(counts(&db, "q", pushed.queue_job_id).await.in_progress, 2);
    db.store
        .job_set_enabled(&store::JobEnable {
            id: job.id,
            enabled: true,
            next_fire_at: None,
            actor: "t".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        db.store
            .runs_claim_queued(&claim_all(NODE, at(5)))
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn cancel_drops_the_events_not_yet_started(db: TestDb) {
    create_consumer(&db, "consumer", "q").await;
    let pushed = push(&db, "q", events(5, Some(2))).await;
    let running = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    assert_eq!(running.len(), 2);
    assert_eq!(
        db.store
            .queue_job_cancel("q", pushed.queue_job_id, at(1))
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        counts(&db, "q", pushed.queue_job_id).await,
        QueueCounts {
            in_progress: 2,
            cancelled: 3,
            ..QueueCounts::default()
        }
    );
    for run in &pushed.runs[2..] {
        assert_status(
            &db.store.run_get(run.id).await.unwrap().unwrap(),
            RunStatus::Cancelled,
        );
    }
    db.store
        .runs_finish_if_running(&[finish(&running[0].run, RunStatus::Succeeded, None)])
        .await
        .unwrap();
    assert_eq!(counts(&db, "q", pushed.queue_job_id).await.succeeded, 1);
    assert_eq!(
        db.store
            .queue_job_cancel("q", 999_999, at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.store
            .queue_job_cancel("other", pushed.queue_job_id, at(1))
            .await
            .unwrap(),
        None
    );
}

async fn interrupted_events_are_requeued_until_the_attempt_limit(db: TestDb) {
    create_consumer(&db, "consumer", "q").await;
    let pushed = push(&db, "q", events(1, None)).await;
    let mut attempt = 1;
    let mut now = 0;
    loop {
        let claimed = db
            .store
            .runs_claim_queued(&claim_all(NODE, at(now)))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].run.attempt, attempt);
        // The node dies: its lease expires and the sweeper interrupts the run.
        let interrupted = db
            .store
            .runs_interrupt_if_lease_expired(at(now + 60), 100)
            .await
            .unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(counts(&db, "q", pushed.queue_job_id).await.in_progress, 1);
        let requeued = db
            .store
            .queue_events_requeue_orphans(at(now + 60), 3, 100)
            .await
            .unwrap();
        // Idempotent: a second sweep (another node) finds nothing to do.
        assert!(
            db.store
                .queue_events_requeue_orphans(at(now + 60), 3, 100)
                .await
                .unwrap()
                .is_empty()
        );
        if attempt == 3 {
            assert!(requeued.is_empty());
            break;
        }
        assert_eq!(requeued.len(), 1);
        assert_eq!(requeued[0].trigger, Trigger::Retry);
        assert_eq!(requeued[0].attempt, attempt + 1);
        assert_eq!(requeued[0].parent_run_id, Some(claimed[0].run.id));
        let event = requeued[0].event.as_ref().unwrap();
        assert_eq!(event["body"], json!({"i": 0}));
        assert_eq!(
            event["retryContext"],
            json!({"retryCount": attempt, "retryReason": "INTERRUPTED"})
        );
        attempt += 1;
        now += 60;
    }
    assert_eq!(
        counts(&db, "q", pushed.queue_job_id).await,
        QueueCounts {
            failed: 1,
            ..QueueCounts::default()
        }
    );
}
