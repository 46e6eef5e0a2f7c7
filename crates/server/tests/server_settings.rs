//! What the server's configuration changes in the API: the user
//! credentials `run_as` may name, the memory budget a job's limit must fit,
//! and the default retention of new jobs.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;
use serde_json::json;
use store::RetentionPolicy;

#[tokio::test]
async fn run_as_must_name_a_configured_credential() {
    let server =
        TestServer::sqlite_custom(|state| state.with_run_as_names(vec!["ops".into()])).await;
    let job = json!({"name": "a", "script": "return 1", "run_as": "ops"});
    server
        .write("POST", "/api/v1/jobs", Some(&job))
        .await
        .expect(201);
    let job = json!({"name": "b", "script": "return 1", "run_as": "root"});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["run_as"]);
    assert_eq!(
        reply.body["errors"][0]["message"],
        "no user credential named \"root\" (configured: ops)"
    );
    let list = server.read("/api/v1/jobs").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_job_whose_memory_limit_exceeds_the_node_budget_is_refused() {
    let limits = server::DefaultLimits {
        total_memory_mb: Some(1024),
        ..server::DefaultLimits::default()
    };
    let server = TestServer::sqlite_custom(|state| state.with_default_limits(limits)).await;
    let job = json!({"name": "a", "script": "return 1", "memory_limit_mb": 1024});
    server
        .write("POST", "/api/v1/jobs", Some(&job))
        .await
        .expect(201);
    let job = json!({"name": "b", "script": "return 1", "memory_limit_mb": 2048});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["memory_limit_mb"]);
    assert_eq!(
        reply.body["errors"][0]["message"],
        "2048 MiB exceeds this node's memory budget for live runs ([limits] total_memory_mb = 1024 MiB): its runs could never start"
    );
    let reply = server
        .write(
            "PATCH",
            "/api/v1/jobs/a",
            Some(&json!({"memory_limit_mb": 4096})),
        )
        .await;
    assert_eq!(reply.error_fields(), ["memory_limit_mb"]);
    let list = server.read("/api/v1/jobs").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn jobs_without_retention_get_the_configured_default() {
    let retention = RetentionPolicy {
        keep_runs: 10,
        keep_days: 2,
    };
    let server = TestServer::sqlite_custom(|state| state.with_default_retention(retention)).await;
    let job = json!({"name": "a", "script": "return 1"});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(
        reply.expect(201)["retention"],
        json!({"keep_runs": 10, "keep_days": 2})
    );
    let job = json!({"name": "b", "script": "return 1", "retention": {"keep_runs": 5}});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(
        reply.expect(201)["retention"],
        json!({"keep_runs": 5, "keep_days": 2})
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_need_a_token_unless_configured_public() {
    let private = TestServer::sqlite().await;
    private.get("/metrics").await.problem(401);
    // Past the credential check, this scheduler-less server answers 503.
    private.read("/metrics").await.problem(503);
    private.stop().await;
    let public = TestServer::sqlite_custom(|state| state.with_public_metrics(true)).await;
    public.get("/metrics").await.problem(503);
    public.stop().await;
}
