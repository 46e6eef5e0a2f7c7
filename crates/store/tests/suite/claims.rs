//! Exactly-once firing and disjoint claims, including between concurrent
//! claimers on separate connections (two "nodes").

use std::{collections::HashSet, time::Duration};

use store::{
    ClaimedJob, NewJob, OccurrenceClaim, OccurrenceKind, OccurrencePlan, OccurrenceRow, Overlap,
    RunStatus, StoreError, Trigger,
};

use crate::{
    fixtures::{NODE, at, claim_all, create_job, queue_run, running_run, scheduled_spec},
    harness::TestDb,
};

store_tests! {
    a_claim_advances_the_job_and_writes_the_planned_rows,
    a_lost_compare_and_set_writes_nothing,
    the_plan_sees_live_runs_and_the_current_overlap_policy,
    rows_started_by_the_claimer_come_with_the_spec,
    replacing_marks_the_running_run_cancel_requested,
    a_second_row_for_one_occurrence_is_impossible,
    an_invalid_plan_is_refused_and_rolls_back_the_claim,
    many_jobs_are_claimed_in_one_call,
    concurrent_claimers_fire_each_occurrence_exactly_once,
    concurrent_workers_claim_disjoint_queued_runs,
    claimed_runs_carry_their_own_versions_spec,
}

fn one_row(kind: OccurrenceKind) -> impl FnMut(&OccurrenceClaim, &ClaimedJob) -> OccurrencePlan {
    move |claim, _| OccurrencePlan {
        rows: vec![OccurrenceRow {
            scheduled_for: claim.expected_next_fire_at,
            trigger: Trigger::Schedule,
            kind: kind.clone(),
        }],
        cancel_running: false,
        abandon: false,
    }
}

fn claim_of(job_id: i64, expected: i64, next: i64) -> OccurrenceClaim {
    OccurrenceClaim {
        job_id,
        expected_next_fire_at: at(expected),
        new_next_fire_at: Some(at(next)),
    }
}

async fn a_claim_advances_the_job_and_writes_the_planned_rows(db: TestDb) {
    let job = create_job(&db.store, "fires").await; // next_fire_at = at(1)
    let claimed = db
        .store
        .occurrences_claim(&[claim_of(job.id, 1, 9)], at(5), |claim, claimed| {
            assert_eq!(claimed.job_id, job.id);
            assert_eq!(claimed.version, 1);
            OccurrencePlan {
                rows: vec![
                    OccurrenceRow {
                        scheduled_for: claim.expected_next_fire_at,
                        trigger: Trigger::Schedule,
                        kind: OccurrenceKind::Missed { count: 3 },
                    },
                    OccurrenceRow {
                        scheduled_for: at(4),
                        trigger: Trigger::CatchUp,
                        kind: OccurrenceKind::Queued,
                    },
                ],
                cancel_running: false,
                abandon: false,
            }
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let runs = &claimed[0].runs;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Missed);
    assert_eq!(runs[0].missed_count, Some(3));
    assert_eq!(runs[0].scheduled_for, Some(at(1)));
    assert_eq!(runs[0].finished_at, Some(at(5)));
    assert_eq!(runs[1].status, RunStatus::Queued);
    assert_eq!(runs[1].trigger, Trigger::CatchUp);
    assert_eq!(runs[1].scheduled_for, Some(at(4)));
    assert_eq!(runs[1].queued_at, at(5));
    assert_eq!(claimed[0].spec, None, "nothing started on the claimer");
    let job = db
        .store
        .job_get(&store::JobRef::Id(job.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_fire_at, Some(at(9)));
    // A claim that ends the schedule.
    let ended = db
        .store
        .occurrences_claim(
            &[OccurrenceClaim {
                job_id: job.id,
                expected_next_fire_at: at(9),
                new_next_fire_at: None,
            }],
            at(9),
            one_row(OccurrenceKind::Skipped),
        )
        .await
        .unwrap();
    assert_eq!(ended[0].runs[0].status, RunStatus::Skipped);
    assert!(
        db.store.jobs_scheduled().await.unwrap()[0]
            .next_fire_at
            .is_none()
    );
}

async fn a_lost_compare_and_set_writes_nothing(db: TestDb) {
    let job = create_job(&db.store, "raced").await;
    let mut planned = false;
    let claimed = db
        .store
        .occurrences_claim(&[claim_of(job.id, 2, 3)], at(2), |_, _| {
            planned = true;
            OccurrencePlan::default()
        })
        .await
        .unwrap();
    assert!(claimed.is_empty());
    assert!(!planned, "the plan is asked only for won claims");
    assert_eq!(db.store.runs_active_count(job.id).await.unwrap().queued, 0);
    // A paused job has no next instant: its claim loses too.
    db.store
        .job_set_enabled(&store::JobEnable {
            id: job.id,
            enabled: false,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let claimed = db
        .store
        .occurrences_claim(
            &[claim_of(job.id, 1, 2)],
            at(1),
            one_row(OccurrenceKind::Queued),
        )
        .await
        .unwrap();
    assert!(claimed.is_empty());
    assert!(
        db.store
            .occurrences_claim(&[], at(1), one_row(OccurrenceKind::Queued))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_plan_sees_live_runs_and_the_current_overlap_policy(db: TestDb) {
    let run = running_run(&db, "busy").await;
    queue_run(&db.store, run.job_id).await;
    let mut spec = scheduled_spec("busy");
    spec.overlap = Overlap::QueueOne;
    db.store
        .job_update(&store::JobUpdate {
            id: run.job_id,
            spec,
            expected_version: None,
            next_fire_at: Some(at(1)),
            actor: "x".into(),
        })
        .await
        .unwrap();
    let mut seen = None;
    db.store
        .occurrences_claim(&[claim_of(run.job_id, 1, 2)], at(1), |claim, job| {
            seen = Some(*job);
            one_row(OccurrenceKind::Skipped)(claim, job)
        })
        .await
        .unwrap();
    let seen = seen.unwrap();
    assert_eq!(seen.overlap, Overlap::QueueOne);
    assert_eq!(seen.version, 2);
    assert_eq!((seen.active.queued, seen.active.running), (1, 1));
}

async fn rows_started_by_the_claimer_come_with_the_spec(db: TestDb) {
    let job = create_job(&db.store, "direct").await;
    let claimed = db
        .store
        .occurrences_claim(
            &[claim_of(job.id, 1, 2)],
            at(1),
            one_row(OccurrenceKind::Running {
                node: NODE.into(),
                lease_until: at(31),
            }),
        )
        .await
        .unwrap();
    let run = &claimed[0].runs[0];
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.started_at, None, "it starts when its script begins");
    assert_eq!(run.node.as_deref(), Some(NODE));
    assert_eq!(run.lease_expires_at, Some(at(31)));
    assert_eq!(claimed[0].spec.as_ref().unwrap().name, "direct");
}

async fn replacing_marks_the_running_run_cancel_requested(db: TestDb) {
    let run = running_run(&db, "replaced").await;
    let claimed = db
        .store
        .occurrences_claim(&[claim_of(run.job_id, 1, 2)], at(1), |claim, _| {
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
    assert_eq!(claimed[0].cancel_requested, [(run.id, NODE.to_string())]);
    assert!(
        db.store
            .run_get(run.id)
            .await
            .unwrap()
            .unwrap()
            .cancel_requested
    );
    // The replacement waits until the replaced run has ended.
    assert!(
        db.store
            .runs_claim_queued(&claim_all(NODE, at(2)))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_second_row_for_one_occurrence_is_impossible(db: TestDb) {
    let job = create_job(&db.store, "unique").await;
    crate::fixtures::claim_occurrence(&db.store, job.id, OccurrenceKind::Queued).await;
    let insert = format!(
        "INSERT INTO runs (job_id, job_version, trigger, status, attempt, scheduled_for_ms, \
         queued_at_ms, not_before_ms) VALUES ({}, 1, 'catch_up', 'queued', 1, {}, 0, 0)",
        job.id,
        at(1).as_millisecond()
    );
    let error = db.try_execute_raw(&insert, &insert).await.unwrap_err();
    assert!(
        error.to_string().contains("UNIQUE")
            || error.to_string().contains("runs_one_row_per_occurrence"),
        "{error}"
    );
    // Retries of the occurrence are separate rows.
    let retry = insert.replace("'catch_up'", "'retry'");
    db.execute_raw(&retry, &retry).await;
}

async fn an_invalid_plan_is_refused_and_rolls_back_the_claim(db: TestDb) {
    let job = create_job(&db.store, "bad-plan").await;
    let twice = |claim: &OccurrenceClaim, _: &ClaimedJob| OccurrencePlan {
        rows: vec![
            OccurrenceRow {
                scheduled_for: claim.expected_next_fire_at,
                trigger: Trigger::Schedule,
                kind: OccurrenceKind::Queued,
            };
            2
        ],
        cancel_running: false,
        abandon: false,
    };
    let error = db
        .store
        .occurrences_claim(&[claim_of(job.id, 1, 2)], at(1), twice)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    for bad in [
        OccurrenceRow {
            scheduled_for: at(1),
            trigger: Trigger::CatchUp,
            kind: OccurrenceKind::Skipped,
        },
        OccurrenceRow {
            scheduled_for: at(1),
            trigger: Trigger::Schedule,
            kind: OccurrenceKind::Missed { count: 0 },
        },
        OccurrenceRow {
            scheduled_for: at(1),
            trigger: Trigger::Manual,
            kind: OccurrenceKind::Queued,
        },
    ] {
        let error = db
            .store
            .occurrences_claim(&[claim_of(job.id, 1, 2)], at(1), |_, _| OccurrencePlan {
                rows: vec![bad.clone()],
                cancel_running: false,
                abandon: false,
            })
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    }
    let job = db
        .store
        .job_get(&store::JobRef::Id(job.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_fire_at, Some(at(1)), "the claim was rolled back");
    assert_eq!(job.last_run, None);
}

async fn many_jobs_are_claimed_in_one_call(db: TestDb) {
    let mut claims = Vec::new();
    for i in 0..300 {
        let job = create_job(&db.store, &format!("bulk-{i}")).await;
        claims.push(claim_of(job.id, 1, 2));
    }
    // One stale claim among them loses alone.
    claims[7].expected_next_fire_at = at(0);
    let claimed = db
        .store
        .occurrences_claim(&claims, at(1), one_row(OccurrenceKind::Queued))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 299);
    assert!(claimed.iter().all(|c| c.runs.len() == 1));
    let order: Vec<i64> = claimed.iter().map(|c| c.job_id).collect();
    let expected: Vec<i64> = claims
        .iter()
        .filter(|c| c.expected_next_fire_at == at(1))
        .map(|c| c.job_id)
        .collect();
    assert_eq!(order, expected, "results come in claim order");
    assert_eq!(db.store.runs_live_counts().await.unwrap().queued, 299);
}

async fn concurrent_claimers_fire_each_occurrence_exactly_once(db: TestDb) {
    let node_a = db.reopen().await;
    let node_b = db.reopen().await;
    let mut jobs = Vec::new();
    for i in 0..20 {
        jobs.push(create_job(&db.store, &format!("contended-{i}")).await.id);
    }
    // Both nodes claim every job's occurrences 1..=10, in opposite job
    // orders, as fast as they can.
    let claimer = |store: store::Store, node: &'static str, reverse: bool| {
        let mut order = jobs.clone();
        if reverse {
            order.reverse();
        }
        tokio::spawn(async move {
            let mut won = 0;
            for second in 1..=10 {
                let claims: Vec<OccurrenceClaim> = order
                    .iter()
                    .map(|&job| claim_of(job, second, second + 1))
                    .collect();
                let claimed = store
                    .occurrences_claim(
                        &claims,
                        at(second),
                        one_row(OccurrenceKind::Running {
                            node: node.into(),
                            lease_until: at(100),
                        }),
                    )
                    .await
                    .unwrap();
                won += claimed.len();
            }
            won
        })
    };
    let a = claimer(node_a, "node-a", false);
    let b = claimer(node_b, "node-b", true);
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    // Each claimer tries every occurrence in order, and a job only advances
    // by a claim, so every one of the 200 occurrences is claimed — once.
    let page = db
        .store
        .runs_list(&store::RunFilter {
            limit: 500,
            ..store::RunFilter::default()
        })
        .await
        .unwrap();
    let rows: Vec<(i64, jiff::Timestamp)> = page
        .items
        .iter()
        .map(|r| (r.job_id, r.scheduled_for.unwrap()))
        .collect();
    let unique: HashSet<_> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len(), "an occurrence has two rows");
    assert_eq!(rows.len(), a + b);
    assert_eq!(a + b, 200, "{a} + {b}");
}

async fn concurrent_workers_claim_disjoint_queued_runs(db: TestDb) {
    let mut spec = scheduled_spec("wide");
    spec.overlap = Overlap::Allow;
    let job = db
        .store
        .job_create(&NewJob {
            spec,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let mut queued = HashSet::new();
    for _ in 0..120 {
        queued.insert(queue_run(&db.store, job.id).await.id);
    }
    let worker = |store: store::Store, node: &'static str| {
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .runs_claim_queued(&store::RunClaim {
                        limit: 7,
                        ..claim_all(node, at(1) + Duration::from_millis(1))
                    })
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                assert!(claimed.iter().all(|c| c.run.node.as_deref() == Some(node)));
                mine.extend(claimed.into_iter().map(|c| c.run.id));
            }
        })
    };
    let a = worker(db.reopen().await, "node-a");
    let b = worker(db.reopen().await, "node-b");
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let a: HashSet<i64> = a.into_iter().collect();
    let b: HashSet<i64> = b.into_iter().collect();
    assert!(a.is_disjoint(&b), "a run was claimed twice");
    let all: HashSet<i64> = a.union(&b).copied().collect();
    assert_eq!(all, queued);
}

/// Each claimed run comes with the spec of its own job version, whether
/// that version was read by an earlier claim (claims keep the specs they
/// read) or is new since, alone or beside the other version in one claim.
async fn claimed_runs_carry_their_own_versions_spec(db: TestDb) {
    let spec = |script: &str| store::JobSpec {
        overlap: Overlap::Allow,
        ..store::JobSpec::new("versions", script)
    };
    let job = db
        .store
        .job_create(&NewJob {
            spec: spec("return 1"),
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let script_of_claim = |claimed: Vec<store::ClaimedRun>| {
        claimed
            .into_iter()
            .map(|c| (c.run.job_version, c.spec.script))
            .collect::<Vec<_>>()
    };
    queue_run(&db.store, job.id).await;
    let first = db.store.runs_claim_queued(&claim_all(NODE, at(0))).await;
    assert_eq!(script_of_claim(first.unwrap()), [(1, "return 1".into())]);
    db.store
        .job_update(&store::JobUpdate {
            id: job.id,
            spec: spec("return 2"),
            expected_version: None,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    queue_run(&db.store, job.id).await;
    let second = db.store.runs_claim_queued(&claim_all(NODE, at(0))).await;
    assert_eq!(script_of_claim(second.unwrap()), [(2, "return 2".into())]);
    for version in [1, 2] {
        db.store
            .run_insert(&store::NewRun {
                job_version: Some(version),
                ..store::NewRun::new(job.id, Trigger::Manual, at(0))
            })
            .await
            .unwrap();
    }
    let both = db.store.runs_claim_queued(&claim_all(NODE, at(0))).await;
    assert_eq!(
        script_of_claim(both.unwrap()),
        [(1, "return 1".into()), (2, "return 2".into())]
    );
}
