//! Builders shared by the job and run tests.

use std::time::Duration;

use jiff::Timestamp;
use store::{
    ClaimedJob, JobSchedule, JobSpec, Lease, LogLevel, LogLine, NewJob, NewRun, OccurrenceClaim,
    OccurrenceKind, OccurrencePlan, OccurrenceRow, Run, RunClaim, RunError, RunFinish, RunStatus,
    Store, Trigger,
};

use crate::harness::{TestDb, start_instant};

pub(crate) const NODE: &str = "node-a";

pub(crate) fn at(seconds: i64) -> Timestamp {
    start_instant() + Duration::from_secs(seconds as u64)
}

pub(crate) fn scheduled_spec(name: &str) -> JobSpec {
    JobSpec {
        schedule: Some(JobSchedule {
            cron: "* * * * * *".into(),
            timezone: "UTC".into(),
        }),
        ..JobSpec::new(name, "return 1")
    }
}

pub(crate) async fn create_job(store: &Store, name: &str) -> store::Job {
    store
        .job_create(&NewJob {
            spec: scheduled_spec(name),
            next_fire_at: Some(at(1)),
            actor: "tester".into(),
        })
        .await
        .unwrap()
}

pub(crate) async fn queue_run(store: &Store, job_id: i64) -> Run {
    store
        .run_insert(&NewRun::new(job_id, Trigger::Manual, at(0)))
        .await
        .unwrap()
}

pub(crate) fn claim_all(node: &str, now: Timestamp) -> RunClaim {
    RunClaim {
        node: node.into(),
        now,
        lease_until: now + Duration::from_secs(30),
        limit: 100,
    }
}

/// Queues a run of a fresh job and claims it on [`NODE`].
pub(crate) async fn running_run(db: &TestDb, name: &str) -> Run {
    let job = create_job(&db.store, name).await;
    let queued = queue_run(&db.store, job.id).await;
    let claimed = db
        .store
        .runs_claim_queued(&claim_all(NODE, at(0)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].run.id, queued.id);
    assert_eq!(claimed[0].run.started_at, None, "a claim is not a start");
    start(&db.store, queued.id, at(0)).await;
    db.store.run_get(queued.id).await.unwrap().unwrap()
}

/// Records that run `id`'s script began at `instant` on [`NODE`], as the
/// node's workers do when they launch it.
pub(crate) async fn start(store: &Store, id: i64, instant: jiff::Timestamp) {
    store
        .runs_write_if_running(&store::RunWrites {
            starts: vec![store::RunStart {
                lease: lease(id, NODE),
                started_at: instant,
            }],
            ..store::RunWrites::default()
        })
        .await
        .unwrap();
}

/// The lease `node` holds on run `id` after the run's first claim (whose
/// token is 1).
pub(crate) fn lease(id: i64, node: impl Into<String>) -> Lease {
    Lease {
        run_id: id,
        node: node.into(),
        token: 1,
    }
}

/// The finish of a run ending in `status` (a final status), with no
/// result or error, by the attempt of its first claim.
pub(crate) fn finish_as(
    id: i64,
    node: impl Into<String>,
    status: RunStatus,
    finished_at: Timestamp,
) -> RunFinish {
    let lease = lease(id, node);
    match status {
        RunStatus::Succeeded => RunFinish::succeeded(lease.clone(), finished_at, None),
        RunStatus::Failed => RunFinish::failed(lease.clone(), finished_at, None),
        RunStatus::TimedOut => RunFinish::timed_out(lease.clone(), finished_at, None),
        RunStatus::Cancelled => RunFinish::cancelled(lease.clone(), finished_at, None),
        RunStatus::Interrupted => {
            RunFinish::interrupted(lease.clone(), finished_at, RunError::message("interrupted"))
        }
        other => panic!("{other} is not a status a running run ends in"),
    }
}

pub(crate) fn line(message: &str) -> LogLine {
    LogLine {
        ts: at(0),
        level: LogLevel::Info,
        message: message.into(),
    }
}

/// Claims occurrence `at(1)` of `job_id` with one row of `kind`.
pub(crate) async fn claim_occurrence(store: &Store, job_id: i64, kind: OccurrenceKind) -> Vec<Run> {
    let claims = [OccurrenceClaim {
        job_id,
        expected_next_fire_at: at(1),
        new_next_fire_at: Some(at(2)),
    }];
    let claimed = store
        .occurrences_claim(&claims, at(1), |claim, _job: &ClaimedJob| OccurrencePlan {
            rows: vec![OccurrenceRow {
                scheduled_for: claim.expected_next_fire_at,
                trigger: Trigger::Schedule,
                kind: kind.clone(),
            }],
            cancel_running: false,
            abandon: false,
        })
        .await
        .unwrap();
    claimed.into_iter().flat_map(|c| c.runs).collect()
}

pub(crate) fn assert_status(run: &Run, status: RunStatus) {
    assert_eq!(run.status, status, "{run:?}");
}
