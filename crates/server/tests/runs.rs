//! `/api/v1/jobs/{job}/runs` and `/api/v1/runs/{id}…` through the real
//! router, on SQLite and PostgreSQL, over runs the store's own state
//! machine produced.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{Value, json};
use store::{Clock, LogAppend, LogLevel, LogLine, NewRun, RunClaim, RunStatus, Trigger};

engine_tests!(
    a_run_shows_exactly_the_documented_fields,
    runs_list_newest_first_with_paging_and_a_status_filter,
    logs_come_in_order_a_page_at_a_time,
    unknown_runs_and_bad_queries_are_problems,
);

/// Creates job `name` through the API and returns its id.
async fn create_job(server: &TestServer, name: &str) -> i64 {
    let body = json!({"name": name, "script": "return 1"});
    server
        .write("POST", "/api/v1/jobs", Some(&body))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap()
}

/// Queues a manual run, claims it on node `n1`, logs `lines`, and finishes
/// it as `status`; returns its id.
async fn finished_run(server: &TestServer, job_id: i64, status: RunStatus, lines: &[&str]) -> i64 {
    let now = server.clock.now();
    let run = server
        .store
        .run_insert(&NewRun::new(job_id, Trigger::Manual, now))
        .await
        .unwrap();
    let claimed = server
        .store
        .runs_claim_queued(&RunClaim {
            node: "n1".into(),
            now,
            lease_until: now + Duration::from_secs(30),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(claimed[0].run.id, run.id);
    crate::common::start_as(&server.store, run.id, "n1", now).await;
    let log = |message: &str| LogLine {
        ts: now,
        level: LogLevel::Info,
        message: message.to_owned(),
    };
    server
        .store
        .run_logs_append_if_running(&[LogAppend {
            lease: store::Lease {
                run_id: run.id,
                node: "n1".into(),
                token: 1,
            },
            lines: lines.iter().map(|line| log(line)).collect(),
        }])
        .await
        .unwrap();
    server.clock.advance(Duration::from_millis(1500));
    let applied = server
        .store
        .runs_finish_if_running(&[crate::common::finish_as(
            run.id,
            "n1",
            status,
            server.clock.now(),
            Some(json!({"copied": 3})),
        )])
        .await
        .unwrap();
    assert_eq!(applied, [true]);
    run.id
}

async fn a_run_shows_exactly_the_documented_fields(server: TestServer) {
    let job_id = create_job(&server, "sync").await;
    let run_id = finished_run(&server, job_id, RunStatus::Succeeded, &["one", "two"]).await;
    let reply = server.read(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(
        reply.expect(200),
        &json!({
            "id": run_id,
            "job_id": job_id,
            "job_version": 1,
            "trigger": "manual",
            "status": "succeeded",
            "scheduled_for": null,
            "queued_at": "2026-03-07T12:00:00Z",
            "started_at": "2026-03-07T12:00:00Z",
            "finished_at": "2026-03-07T12:00:01.5Z",
            "duration_ms": 1500,
            "lateness_ms": null,
            "attempt": 1,
            "result": {"copied": 3},
            "error": null,
            "log_lines": 2,
            "http_calls": [],
            "node": "n1",
            "missed_count": null,
            "chain_id": null,
            "event": null,
        })
    );
    let job = server.read("/api/v1/jobs/sync").await;
    assert_eq!(job.body["last_run"]["id"], run_id);
    assert_eq!(job.body["last_run"]["status"], "succeeded");
}

async fn runs_list_newest_first_with_paging_and_a_status_filter(server: TestServer) {
    let job_id = create_job(&server, "sync").await;
    let other = create_job(&server, "other").await;
    let first = finished_run(&server, job_id, RunStatus::Succeeded, &[]).await;
    let second = finished_run(&server, job_id, RunStatus::Failed, &[]).await;
    finished_run(&server, other, RunStatus::Failed, &[]).await;
    let third = finished_run(&server, job_id, RunStatus::Succeeded, &[]).await;
    let ids = |reply: &common::Reply| -> Vec<i64> {
        reply.expect(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| run["id"].as_i64().unwrap())
            .collect()
    };
    let page = server.read("/api/v1/jobs/sync/runs?limit=2").await;
    assert_eq!(ids(&page), [third, second]);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = server
        .read(&format!("/api/v1/jobs/sync/runs?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(&next), [first]);
    assert_eq!(next.body["next_cursor"], Value::Null);
    let failed = server
        .read(&format!("/api/v1/jobs/{job_id}/runs?status=failed"))
        .await;
    assert_eq!(ids(&failed), [second]);
}

async fn logs_come_in_order_a_page_at_a_time(server: TestServer) {
    let job_id = create_job(&server, "sync").await;
    let run_id = finished_run(&server, job_id, RunStatus::Succeeded, &["a", "b", "c"]).await;
    let all = server.read(&format!("/api/v1/runs/{run_id}/logs")).await;
    let messages: Vec<&str> = all.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["a", "b", "c"]);
    assert_eq!(
        all.body["items"][0],
        json!({"seq": 1, "ts": "2026-03-07T12:00:00Z", "level": "info", "message": "a"})
    );
    assert_eq!(all.body["next_after"], Value::Null);
    let page = server
        .read(&format!("/api/v1/runs/{run_id}/logs?limit=2"))
        .await;
    assert_eq!(page.expect(200)["items"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["next_after"], 2);
    let rest = server
        .read(&format!("/api/v1/runs/{run_id}/logs?after=2&limit=2"))
        .await;
    assert_eq!(rest.expect(200)["items"][0]["message"], "c");
    assert_eq!(rest.body["next_after"], Value::Null);
}

async fn unknown_runs_and_bad_queries_are_problems(server: TestServer) {
    let job_id = create_job(&server, "sync").await;
    let run_id = finished_run(&server, job_id, RunStatus::Succeeded, &[]).await;
    server.read("/api/v1/runs/999999").await.problem(404);
    server.read("/api/v1/runs/abc").await.problem(404);
    server.read("/api/v1/runs/999999/logs").await.problem(404);
    let reply = server.read("/api/v1/jobs/sync/runs?status=bogus").await;
    assert_eq!(reply.error_fields(), ["status"]);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("succeeded")
    );
    let reply = server.read("/api/v1/jobs/sync/runs?limit=501").await;
    assert_eq!(reply.error_fields(), ["limit"]);
    let reply = server
        .read(&format!("/api/v1/runs/{run_id}/logs?limit=0"))
        .await;
    assert_eq!(reply.error_fields(), ["limit"]);
    let reply = server
        .read(&format!("/api/v1/runs/{run_id}/logs?after=-1"))
        .await;
    assert_eq!(reply.error_fields(), ["after"]);
    server
        .get(&format!("/api/v1/runs/{run_id}"))
        .await
        .problem(401);
}
