//! Chains: joining a chain in the finish transaction, reading chains back,
//! chunks before other queued runs, overlap and retention around chains.

use serde_json::json;
use store::{
    ClaimedJob, LogAppend, LogLevel, LogLine, MAX_STATE_BYTES, NewRun, OccurrenceClaim,
    OccurrenceKind, OccurrencePlan, OccurrenceRow, PruneRuns, Run, RunFinish, RunStatus, RunWrites,
    StoreError, Trigger,
};

use crate::{
    fixtures::{NODE, assert_status, at, claim_all, create_job, finish_as, queue_run, running_run},
    harness::TestDb,
};

store_tests! {
    a_continuation_makes_its_run_the_first_chunk_in_the_finish_transaction,
    a_cancel_request_ends_the_chain_even_when_the_chunk_succeeds,
    a_chains_queued_chunk_starts_before_other_queued_runs_of_its_job,
    occurrence_claims_count_a_chain_between_chunks_as_running,
    pruning_never_deletes_runs_of_a_chain_still_going,
    a_state_over_one_mib_is_refused,
    unknown_chains_are_none,
    an_expired_chunks_resumption_is_queued_in_the_interrupt_transaction,
    a_chains_total_duration_counts_execution_not_lease_waits,
}

fn finish(run: &Run, status: RunStatus, seconds: i64, follow_up: Option<NewRun>) -> RunFinish {
    finish_as(run.id, NODE, status, at(seconds)).with_follow_up(follow_up)
}

/// The next chunk of `run` with `state`, as the scheduler builds it.
fn next_chunk(run: &Run, state: serde_json::Value, seconds: i64, delay: i64) -> NewRun {
    NewRun {
        job_version: Some(run.job_version),
        state: Some(state),
        parent_run_id: Some(run.id),
        not_before: at(seconds + delay),
        chain_id: Some(run.chain_id.unwrap_or(run.id)),
        ..NewRun::new(run.job_id, Trigger::Continuation, at(seconds))
    }
}

async fn write(db: &TestDb, finish: RunFinish) -> Option<Run> {
    let applied = db
        .store
        .runs_write_if_running(&RunWrites {
            appends: Vec::new(),
            finishes: vec![finish],
            starts: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(applied.finished, [true]);
    applied.follow_ups.into_iter().next().unwrap()
}

/// Claims the queued runs and starts them at once, as a node does.
async fn claim_one(db: &TestDb, seconds: i64) -> Vec<Run> {
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(seconds)))
        .await
        .unwrap();
    let mut runs = Vec::new();
    for claimed in claimed {
        crate::fixtures::start(&db.store, claimed.run.id, at(seconds)).await;
        runs.push(db.store.run_get(claimed.run.id).await.unwrap().unwrap());
    }
    runs
}

async fn a_continuation_makes_its_run_the_first_chunk_in_the_finish_transaction(db: TestDb) {
    let first = running_run(&db, "walker").await;
    assert_eq!(first.chain_id, None, "not a chain until it continues");
    let state = json!({"cursor": 500});
    let second = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            2,
            Some(next_chunk(&first, state.clone(), 2, 3)),
        ),
    )
    .await
    .unwrap();
    let chain_id = first.id;
    assert_eq!(
        db.store.run_get(first.id).await.unwrap().unwrap().chain_id,
        Some(chain_id)
    );
    assert_status(&second, RunStatus::Queued);
    assert_eq!(second.trigger, Trigger::Continuation);
    assert_eq!(second.chain_id, Some(chain_id));
    assert_eq!(second.state, Some(state.clone()));
    assert_eq!(second.not_before, at(5));

    let going = db.store.chain_summary(chain_id).await.unwrap().unwrap();
    assert_eq!(going.id, chain_id);
    assert_eq!(going.job_id, first.job_id);
    assert_eq!(going.status, RunStatus::Running);
    assert_eq!((going.runs, going.chunks_done), (2, 1));
    assert_eq!(going.started_at, Some(at(0)));
    assert_eq!(going.finished_at, None, "a chain still going has no end");
    assert_eq!(going.total_duration_ms, 2_000);
    assert_eq!(
        going.latest_state_bytes,
        serde_json::to_string(&state).unwrap().len() as u64
    );
    assert_eq!(
        db.store.chain_live_runs(chain_id).await.unwrap(),
        [second.id]
    );
    assert_eq!(
        db.store
            .chain_newest_of_job(first.job_id)
            .await
            .unwrap()
            .unwrap(),
        going
    );

    let claimed = claim_one(&db, 5).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, second.id);
    assert_eq!(
        write(&db, finish(&claimed[0], RunStatus::Succeeded, 9, None)).await,
        None
    );
    let done = db.store.chain_get(chain_id).await.unwrap().unwrap();
    assert_eq!(done.summary.status, RunStatus::Succeeded);
    assert_eq!(done.summary.chunks_done, 2);
    assert_eq!(done.summary.finished_at, Some(at(9)));
    assert_eq!(done.summary.total_duration_ms, 6_000);
    assert_eq!(
        done.runs.iter().map(|run| run.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    assert!(db.store.chain_live_runs(chain_id).await.unwrap().is_empty());
}

async fn a_cancel_request_ends_the_chain_even_when_the_chunk_succeeds(db: TestDb) {
    let first = running_run(&db, "cancelled-walker").await;
    assert_eq!(
        db.store
            .run_request_cancel_if_running(first.id)
            .await
            .unwrap()
            .as_deref(),
        Some(NODE)
    );
    let next = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!(1), 1, 0)),
        ),
    )
    .await;
    assert_eq!(next, None, "a cancelled chunk queues no next chunk");
    assert_eq!(
        db.store
            .runs_active_count(first.job_id)
            .await
            .unwrap()
            .queued,
        0
    );
}

async fn a_chains_queued_chunk_starts_before_other_queued_runs_of_its_job(db: TestDb) {
    let first = running_run(&db, "ordered").await;
    // A manual run queued while the first chunk runs…
    let waiting = queue_run(&db.store, first.job_id).await;
    // …and the next chunk, queued later and due later.
    let chunk = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!({"page": 2}), 1, 10)),
        ),
    )
    .await
    .unwrap();
    assert!(
        claim_one(&db, 5).await.is_empty(),
        "nothing starts while the chain waits for its delay"
    );
    let claimed = claim_one(&db, 11).await;
    assert_eq!(
        claimed.iter().map(|run| run.id).collect::<Vec<_>>(),
        [chunk.id]
    );
    assert!(claim_one(&db, 12).await.is_empty(), "one run at a time");
    write(&db, finish(&claimed[0], RunStatus::Succeeded, 13, None)).await;
    let claimed = claim_one(&db, 14).await;
    assert_eq!(
        claimed.iter().map(|run| run.id).collect::<Vec<_>>(),
        [waiting.id],
        "the queued run starts once the chain has ended"
    );
}

async fn occurrence_claims_count_a_chain_between_chunks_as_running(db: TestDb) {
    let first = running_run(&db, "replaced").await;
    let chunk = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!(1), 1, 60)),
        ),
    )
    .await
    .unwrap();
    let claims = [OccurrenceClaim {
        job_id: first.job_id,
        expected_next_fire_at: at(1),
        new_next_fire_at: Some(at(2)),
    }];
    let mut seen = None;
    let claimed = db
        .store
        .occurrences_claim(&claims, at(2), |claim, job: &ClaimedJob| {
            seen = Some(job.active);
            OccurrencePlan {
                rows: vec![OccurrenceRow {
                    scheduled_for: claim.expected_next_fire_at,
                    trigger: Trigger::Schedule,
                    kind: OccurrenceKind::Queued,
                }],
                cancel_running: true,
                abandon: false,
            }
        })
        .await
        .unwrap();
    let seen = seen.unwrap();
    assert_eq!(
        (seen.queued, seen.running),
        (0, 1),
        "the chain's queued chunk counts as running"
    );
    assert_eq!(claimed[0].runs.len(), 1);
    let cancelled = db.store.run_get(chunk.id).await.unwrap().unwrap();
    assert_status(&cancelled, RunStatus::Cancelled);
    assert_eq!(cancelled.finished_at, Some(at(2)));
    let chain = db.store.chain_summary(first.id).await.unwrap().unwrap();
    assert_eq!(chain.status, RunStatus::Cancelled);
    assert_eq!(chain.finished_at, Some(at(2)));
}

async fn pruning_never_deletes_runs_of_a_chain_still_going(db: TestDb) {
    let first = running_run(&db, "kept").await;
    let mut chunk = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!(1), 1, 0)),
        ),
    )
    .await
    .unwrap();
    for step in 0..3 {
        let claimed = claim_one(&db, 2 + step * 2).await;
        assert_eq!(claimed[0].id, chunk.id);
        chunk = write(
            &db,
            finish(
                &claimed[0],
                RunStatus::Succeeded,
                3 + step * 2,
                Some(next_chunk(&claimed[0], json!(step), 3 + step * 2, 0)),
            ),
        )
        .await
        .unwrap();
    }
    let prune = PruneRuns {
        job_id: first.job_id,
        keep_runs: 1,
        keep_days: 1,
        now: at(30),
        batch: 100,
    };
    assert_eq!(db.store.runs_prune(&prune).await.unwrap(), 0);
    assert_eq!(
        db.store
            .chain_summary(first.id)
            .await
            .unwrap()
            .unwrap()
            .runs,
        5
    );
    // Once the chain has ended, its history follows the job's retention.
    db.store
        .run_cancel_if_queued(chunk.id, at(20))
        .await
        .unwrap();
    assert_eq!(db.store.runs_prune(&prune).await.unwrap(), 4);
    assert!(db.store.run_get(chunk.id).await.unwrap().is_some());
}

async fn a_state_over_one_mib_is_refused(db: TestDb) {
    let job = create_job(&db.store, "heavy").await;
    let big = "x".repeat(MAX_STATE_BYTES);
    let error = db
        .store
        .run_insert(&NewRun {
            state: Some(json!(big)),
            chain_id: Some(1),
            ..NewRun::new(job.id, Trigger::Continuation, at(0))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { what: "state", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("1 MiB"), "{error}");
    assert_eq!(db.store.runs_active_count(job.id).await.unwrap().queued, 0);
    // Exactly at the limit is fine (the JSON string adds two quotes).
    let fits = "x".repeat(MAX_STATE_BYTES - 2);
    let run = db
        .store
        .run_insert(&NewRun {
            state: Some(json!(fits)),
            ..NewRun::new(job.id, Trigger::Continuation, at(0))
        })
        .await
        .unwrap();
    assert_eq!(run.state, Some(json!(fits)));
}

async fn unknown_chains_are_none(db: TestDb) {
    let job = create_job(&db.store, "plain").await;
    let run = queue_run(&db.store, job.id).await;
    assert_eq!(db.store.chain_summary(run.id).await.unwrap(), None);
    assert_eq!(db.store.chain_get(424242).await.unwrap(), None);
    assert_eq!(db.store.chain_newest_of_job(job.id).await.unwrap(), None);
    assert!(db.store.chain_live_runs(run.id).await.unwrap().is_empty());
}

async fn an_expired_chunks_resumption_is_queued_in_the_interrupt_transaction(db: TestDb) {
    let first = running_run(&db, "orphaned").await;
    let chunk = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!({"cursor": 7}), 1, 0)),
        ),
    )
    .await
    .unwrap();
    let claimed = claim_one(&db, 2).await;
    assert_eq!(claimed[0].id, chunk.id);
    // Its lease (30 s from 2) has expired by 40: resumed with its own state.
    let mut seen_spec = None;
    let interrupted = db
        .store
        .runs_interrupt_if_lease_expired_then(at(40), 10, |run, spec| {
            seen_spec = Some(spec.name.clone());
            Some(NewRun {
                attempt: run.attempt + 1,
                state: run.state.clone(),
                chain_id: run.chain_id,
                parent_run_id: Some(run.id),
                ..NewRun::new(run.job_id, Trigger::Retry, at(40))
            })
        })
        .await
        .unwrap();
    assert_eq!(seen_spec.as_deref(), Some("orphaned"));
    assert_eq!(interrupted.len(), 1);
    let (run, retry) = &interrupted[0];
    assert_eq!(run.id, chunk.id);
    assert_status(run, RunStatus::Interrupted);
    let retry = retry.clone().unwrap();
    assert_status(&retry, RunStatus::Queued);
    assert_eq!(retry.state, Some(json!({"cursor": 7})));
    assert_eq!(retry.chain_id, Some(first.id));
    let chain = db.store.chain_summary(first.id).await.unwrap().unwrap();
    assert_eq!(
        chain.status,
        RunStatus::Running,
        "never seen without a live run"
    );
    // Nothing left to interrupt; a refused follow-up refuses the interrupt too.
    let other = running_run(&db, "refused").await;
    let error = db
        .store
        .runs_interrupt_if_lease_expired_then(at(40), 10, |run, _| {
            Some(NewRun {
                attempt: 0,
                ..NewRun::new(run.job_id, Trigger::Retry, at(40))
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    assert_status(
        &db.store.run_get(other.id).await.unwrap().unwrap(),
        RunStatus::Running,
    );
}

/// A chunk whose node died is interrupted when its lease expires, long
/// after it last executed: the chain's total counts that chunk up to its
/// last stored log line (its last sign of executing), not to the sweep.
async fn a_chains_total_duration_counts_execution_not_lease_waits(db: TestDb) {
    let first = running_run(&db, "resumed").await;
    let chunk = write(
        &db,
        finish(
            &first,
            RunStatus::Succeeded,
            1,
            Some(next_chunk(&first, json!({"cursor": 1}), 1, 0)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(claim_one(&db, 2).await[0].id, chunk.id);
    // It executes and logs until 5, then its node dies.
    let logged = db
        .store
        .run_logs_append_if_running(&[LogAppend {
            lease: store::Lease {
                run_id: chunk.id,
                node: NODE.into(),
                token: 1,
            },
            lines: vec![LogLine {
                ts: at(5),
                level: LogLevel::Info,
                message: "page 1".into(),
            }],
        }])
        .await
        .unwrap();
    assert_eq!(logged, [true]);
    // Its lease (30 s from 2) is found expired at 40; it resumes at 41.
    let interrupted = db
        .store
        .runs_interrupt_if_lease_expired_then(at(40), 10, |run, _| {
            Some(NewRun {
                attempt: run.attempt + 1,
                state: run.state.clone(),
                chain_id: run.chain_id,
                parent_run_id: Some(run.id),
                ..NewRun::new(run.job_id, Trigger::Retry, at(40))
            })
        })
        .await
        .unwrap();
    assert_eq!(interrupted.len(), 1);
    let resumed = claim_one(&db, 41).await;
    write(&db, finish(&resumed[0], RunStatus::Succeeded, 45, None)).await;

    let chain = db.store.chain_summary(first.id).await.unwrap().unwrap();
    // 0–1, 2–5 (not 2–40), 41–45.
    assert_eq!(chain.total_duration_ms, 1_000 + 3_000 + 4_000);
    assert_eq!(chain.runs, 3);
}
