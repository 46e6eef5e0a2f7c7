//! `POST /api/v1/console/run` (a script's log and outcome as server-sent
//! events, through a real executor and the server's storage), the jobs
//! list's recent runs, average duration, description, total and status
//! filter, and the storage browser — through the real router on a real
//! port, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::{sync::Arc, time::Duration};

use common::{Engine, Reply, TestServer, postgres_url};
use runtime::{MemoryQueue, Services, Sites};
use scheduler::ScriptStorage;
use scheduler::{ConsoleEnvironment, ConsoleRuns};
use serde_json::{Value, json};
use server::AppState;
use store::{
    Clock, JobSpec, LogAppend, LogLevel, LogLine, NewRun, RunClaim, RunStatus, StorageQuota, Store,
    Trigger,
};

/// Console runs reach the server's own storage, as `clockwork serve`'s do.
struct StoreEnvironment(Store);

impl ConsoleEnvironment for StoreEnvironment {
    fn prepare(&self, _job: Option<&JobSpec>) -> (Sites, Services) {
        let services = Services {
            kv: Arc::new(ScriptStorage::new(self.0.clone())),
            queue: Arc::new(MemoryQueue::new()),
            http: None,
        };
        (Sites::default(), services)
    }
}

/// Declares each test once per engine, on a server with a console.
macro_rules! console_tests {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::console_server(super::Engine::Sqlite).await.0).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (server, schema) = super::console_server(super::Engine::Postgres).await;
                    let outcome = tokio::spawn(super::$test(server)).await;
                    super::drop_schema(schema).await;
                    if let Err(failure) = outcome {
                        std::panic::resume_unwind(failure.into_panic());
                    }
                }
            )+
        }
    };
}

console_tests!(
    the_console_streams_log_lines_then_one_outcome_and_keeps_no_history,
    a_syntax_error_is_an_outcome_with_its_position,
    a_console_run_uses_the_servers_storage,
    a_named_job_lends_its_params,
    a_run_past_its_time_limit_times_out,
    console_requests_are_checked,
    the_jobs_list_shows_recent_runs_totals_and_filters,
    the_storage_browser_lists_reads_writes_and_deletes,
    the_storage_browser_shows_the_quota_and_refuses_writes_beyond_it,
    a_secret_read_in_the_console_is_audited_and_masked,
);

/// No executor: the console is unavailable (engine-independent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_an_executor_answers_503() {
    let server = TestServer::sqlite().await;
    let (reply, _) = console(&server, json!({"script": "return 1"})).await;
    reply.problem(503);
    server.stop().await;
}

/// The console servers' storage quota: above what every other test here
/// stores, and small enough for the quota test to reach both limits.
const STORAGE_QUOTA: StorageQuota = StorageQuota {
    max_keys: Some(20),
    max_bytes: Some(4096),
};

async fn console_server(engine: Engine) -> (TestServer, Option<String>) {
    let executor =
        Arc::new(runtime::Executor::new(runtime::ExecutorConfig { worker_threads: 1 }).unwrap());
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_sqlite(dir.path().join("clockwork.db"))
                .await
                .unwrap()
                .with_secret_key(store::SecretKey::generate())
                .with_storage_quota(STORAGE_QUOTA);
            let environment = Arc::new(StoreEnvironment(store.clone()));
            let server = TestServer::start_custom(store, Some(dir), false, |state: AppState| {
                state.with_console(ConsoleRuns::new(executor, environment))
            })
            .await;
            (server, None)
        }
        Engine::Postgres => {
            use sqlx::{AssertSqlSafe, Connection, Executor};
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let schema = format!(
                "console_test_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            admin
                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE SCHEMA {schema}"
                ))))
                .await
                .unwrap();
            let url = format!("{}?options=-c%20search_path%3D{schema}", postgres_url());
            let store = Store::open(&url)
                .await
                .unwrap()
                .with_secret_key(store::SecretKey::generate())
                .with_storage_quota(STORAGE_QUOTA);
            let environment = Arc::new(StoreEnvironment(store.clone()));
            let server = TestServer::start_custom(store, None, false, |state: AppState| {
                state.with_console(ConsoleRuns::new(executor, environment))
            })
            .await;
            (server, Some(schema))
        }
    }
}

async fn drop_schema(schema: Option<String>) {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    if let Some(schema) = schema {
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
        admin
            .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "SET lock_timeout = '10s'; DROP SCHEMA {schema} CASCADE"
            ))))
            .await
            .unwrap();
    }
}

/// Posts a console run as the editor; returns the reply and its events
/// as (name, data).
async fn console(server: &TestServer, body: Value) -> (Reply, Vec<(String, Value)>) {
    let reply = server
        .write("POST", "/api/v1/console/run", Some(&body))
        .await;
    let events = reply
        .text
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            Some((name?, serde_json::from_str(&data).unwrap()))
        })
        .collect();
    (reply, events)
}

fn outcome(events: &[(String, Value)]) -> Value {
    let outcomes: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == "outcome")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(outcomes.len(), 1, "{events:?}");
    assert_eq!(
        events.last().unwrap().0,
        "outcome",
        "the outcome comes last"
    );
    outcomes[0].clone()
}

async fn the_console_streams_log_lines_then_one_outcome_and_keeps_no_history(server: TestServer) {
    let (reply, events) = console(
        &server,
        json!({"script": "console.log('one');\nconsole.warn('two', 2);\nreturn {n: 42};"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.content_type.starts_with("text/event-stream"));
    let logs: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == "log")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(logs.len(), 2, "{events:?}");
    assert_eq!(logs[0]["seq"], 1);
    assert_eq!(logs[0]["level"], "info");
    assert_eq!(logs[0]["message"], "one");
    assert_eq!(logs[1]["seq"], 2);
    assert_eq!(logs[1]["level"], "warn");
    assert_eq!(logs[1]["message"], "two 2");
    assert!(logs[0]["ts"].is_string());
    let outcome = outcome(&events);
    assert_eq!(outcome["status"], "succeeded");
    assert_eq!(outcome["result"], json!({"n": 42}));
    assert_eq!(outcome["error"], Value::Null);
    assert_eq!(outcome["http_calls"], json!([]));
    assert_eq!(outcome["logs_truncated"], false);
    assert!(outcome["duration_ms"].is_u64());
    // Nothing in run history; the audit log says a console run happened.
    let runs = server
        .store
        .runs_list(&store::RunFilter::default())
        .await
        .unwrap();
    assert!(runs.items.is_empty());
    let audit = server.store.audit_list(None, 10).await.unwrap();
    assert_eq!(audit.items[0].action, "console.run");
    assert_eq!(audit.items[0].actor, "editor");
    server.stop().await;
}

async fn a_syntax_error_is_an_outcome_with_its_position(server: TestServer) {
    let (reply, events) = console(&server, json!({"script": "const a = 1;\nlet = ;\n"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let outcome = outcome(&events);
    assert_eq!(outcome["status"], "failed");
    assert_eq!(outcome["error"]["line"], 2, "{outcome}");
    assert!(outcome["error"]["column"].is_u64(), "{outcome}");
    assert!(
        outcome["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SyntaxError")
    );
    server.stop().await;
}

async fn a_console_run_uses_the_servers_storage(server: TestServer) {
    let (_, events) = console(
        &server,
        json!({"script": "await storage.set('greeting', {hello: 'world'});\nreturn await storage.get('greeting');"}),
    )
    .await;
    assert_eq!(outcome(&events)["result"], json!({"hello": "world"}));
    let entry = server.write("GET", "/api/v1/storage/greeting", None).await;
    assert_eq!(entry.expect(200)["value"], json!({"hello": "world"}));
    server.stop().await;
}

async fn a_named_job_lends_its_params(server: TestServer) {
    server
        .write(
            "POST",
            "/api/v1/jobs",
            Some(&json!({"name": "nightly", "script": "return 1", "params": {"n": 2}})),
        )
        .await
        .expect(201);
    let script = "return [context.params.n, context.job.name];";
    let (_, events) = console(&server, json!({"script": script, "job": "nightly"})).await;
    assert_eq!(outcome(&events)["result"], json!([2, "nightly"]));
    let (_, events) = console(
        &server,
        json!({"script": script, "job": "nightly", "params": {"n": 5}}),
    )
    .await;
    assert_eq!(outcome(&events)["result"], json!([5, "nightly"]));
    let (_, events) = console(&server, json!({"script": script})).await;
    assert_eq!(outcome(&events)["result"], json!([null, "console"]));
    let (reply, _) = console(&server, json!({"script": script, "job": "nope"})).await;
    reply.problem(404);
    server.stop().await;
}

async fn a_run_past_its_time_limit_times_out(server: TestServer) {
    let (_, events) = console(
        &server,
        json!({"script": "console.log('spinning');\nwhile (true) {}", "timeout_seconds": 1}),
    )
    .await;
    assert_eq!(events[0].1["message"], "spinning");
    assert_eq!(outcome(&events)["status"], "timed_out");
    server.stop().await;
}

async fn console_requests_are_checked(server: TestServer) {
    for (body, fields) in [
        (json!({"script": ""}), vec!["script"]),
        (json!({"script": "return 1", "params": [1]}), vec!["params"]),
        (
            json!({"script": "return 1", "timeout_seconds": 0}),
            vec!["timeout_seconds"],
        ),
        (
            json!({"script": "return 1", "timeout_seconds": 86401}),
            vec!["timeout_seconds"],
        ),
        (
            json!({"script": "return 1", "colour": "red"}),
            vec!["colour"],
        ),
        (json!({}), vec!["script"]),
    ] {
        let (reply, _) = console(&server, body.clone()).await;
        assert_eq!(reply.error_fields(), fields, "{body}");
    }
    let viewer = server
        .call(
            &server.viewer,
            "POST",
            "/api/v1/console/run",
            Some(&json!({"script": "return 1"})),
        )
        .await;
    viewer.problem(403);
    let anonymous = server
        .send(
            server
                .client
                .post(server.url("/api/v1/console/run"))
                .header("content-type", "application/json")
                .body(json!({"script": "return 1"}).to_string()),
        )
        .await;
    anonymous.problem(401);
    server.stop().await;
}

/// A run of `job_id` that ran `millis` and ended as `status`.
async fn ended_run(server: &TestServer, job_id: i64, status: RunStatus, millis: u64) -> i64 {
    let now = server.clock.now();
    let run = server
        .store
        .run_insert(&NewRun::new(job_id, Trigger::Manual, now))
        .await
        .unwrap();
    server
        .store
        .runs_claim_queued(&RunClaim {
            node: "n1".into(),
            now,
            lease_until: now + Duration::from_secs(30),
            limit: 1,
        })
        .await
        .unwrap();
    crate::common::start_as(&server.store, run.id, "n1", now).await;
    server
        .store
        .run_logs_append_if_running(&[LogAppend {
            run_id: run.id,
            node: "n1".into(),
            lines: vec![LogLine {
                ts: now,
                level: LogLevel::Info,
                message: "x".into(),
            }],
        }])
        .await
        .unwrap();
    server.clock.advance(Duration::from_millis(millis));
    server
        .store
        .runs_finish_if_running(&[crate::common::finish_as(
            run.id,
            "n1",
            status,
            server.clock.now(),
            None,
        )])
        .await
        .unwrap();
    run.id
}

async fn the_jobs_list_shows_recent_runs_totals_and_filters(server: TestServer) {
    let mut ids = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        let body = json!({"name": name, "script": "return 1",
                          "schedule": {"cron": "0 9 * * 5L", "timezone": "UTC"}});
        ids.push(
            server
                .write("POST", "/api/v1/jobs", Some(&body))
                .await
                .expect(201)["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut alpha_runs = Vec::new();
    for i in 0..22 {
        let status = if i % 2 == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        alpha_runs.push(ended_run(&server, ids[0], status, 100 + i).await);
    }
    ended_run(&server, ids[1], RunStatus::Succeeded, 1000).await;

    let page = server.read("/api/v1/jobs?limit=2").await;
    let body = page.expect(200);
    assert_eq!(body["total"], 3);
    let alpha = &body["items"][0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(
        alpha["schedule_description"],
        "At 09:00 on the last Friday of the month"
    );
    let recent = alpha["recent_runs"].as_array().unwrap();
    assert_eq!(recent.len(), 20);
    let expected: Vec<i64> = alpha_runs.iter().rev().take(20).copied().collect();
    let got: Vec<i64> = recent.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(got, expected, "newest first");
    assert_eq!(recent[0]["status"], "failed");
    assert_eq!(recent[0]["duration_ms"], 121);
    assert_eq!(
        recent[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["duration_ms", "id", "scheduled_for", "status"]
    );
    // The mean over the 20 shown: durations 102..=121.
    assert_eq!(alpha["avg_duration_ms"], 112);
    assert_eq!(body["items"][1]["recent_runs"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][1]["avg_duration_ms"], 1000);
    let next = body["next_cursor"].as_str().unwrap();
    let rest = server
        .read(&format!("/api/v1/jobs?limit=2&cursor={next}"))
        .await;
    let gamma = &rest.expect(200)["items"][0];
    assert_eq!(gamma["recent_runs"], json!([]));
    assert_eq!(gamma["avg_duration_ms"], Value::Null);
    assert_eq!(rest.body["total"], 3);

    let failed = server.read("/api/v1/jobs?status=failed").await;
    assert_eq!(failed.item_names(), vec!["alpha"]);
    assert_eq!(failed.body["total"], 1);
    let never = server.read("/api/v1/jobs?status=none").await;
    assert_eq!(never.item_names(), vec!["gamma"]);
    let q = server.read("/api/v1/jobs?q=ET").await;
    assert_eq!(q.item_names(), vec!["beta"]);
    assert_eq!(q.body["total"], 1);
    let bad = server.read("/api/v1/jobs?status=great").await;
    assert_eq!(bad.error_fields(), vec!["status"]);
    let bad = server.read("/api/v1/jobs?sort=name").await;
    assert_eq!(bad.error_fields(), vec!["sort"]);

    // Pages leave scripts out; a job read whole and sent back is accepted
    // (its read-only fields ignored).
    assert!(alpha.get("script").is_none(), "{alpha}");
    let mut item = server.read("/api/v1/jobs/alpha").await.expect(200).clone();
    item["description"] = json!("edited");
    let put = server.write("PUT", "/api/v1/jobs/alpha", Some(&item)).await;
    assert_eq!(put.expect(200)["description"], "edited");
    server.stop().await;
}

async fn the_storage_browser_lists_reads_writes_and_deletes(server: TestServer) {
    for (key, value) in [
        ("app:b", json!(2)),
        ("app:a", json!({"x": [1]})),
        ("other", json!("z")),
    ] {
        let reply = server
            .write("PUT", &format!("/api/v1/storage/{key}"), Some(&value))
            .await;
        assert_eq!(reply.expect(200)["value"], value);
    }
    server
        .store
        .secret_set("app:token", &json!("hunter2"))
        .await
        .unwrap();
    server
        .store
        .secret_set("app:a", &json!("also a secret"))
        .await
        .unwrap();

    let page = server
        .write("GET", "/api/v1/storage?prefix=app:", None)
        .await;
    let items = page.expect(200)["items"].as_array().unwrap().clone();
    let shown: Vec<(String, bool)> = items
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["secret"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("app:a".to_owned(), false),
            ("app:a".to_owned(), true),
            ("app:b".to_owned(), false),
            ("app:token".to_owned(), true),
        ]
    );
    assert_eq!(items[0]["value"], json!({"x": [1]}));
    assert_eq!(items[0]["size_bytes"], 9);
    assert_eq!(items[3]["value"], Value::Null);
    assert_eq!(
        items[3]["size_bytes"], 9,
        "the secret's JSON text \"hunter2\""
    );
    assert!(!page.text.contains("hunter2"), "secret values never leave");

    // Paging walks the same order, one at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/storage?prefix=app:&limit=1&cursor={c}"),
            None => "/api/v1/storage?prefix=app:&limit=1".to_owned(),
        };
        let page = server.write("GET", &path, None).await;
        let body = page.expect(200).clone();
        seen.push((
            body["items"][0]["key"].as_str().unwrap().to_owned(),
            body["items"][0]["secret"].as_bool().unwrap(),
        ));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, shown);

    let secret = server.write("GET", "/api/v1/storage/app:token", None).await;
    assert_eq!(secret.expect(200)["secret"], true);
    assert_eq!(secret.body["value"], Value::Null);
    server
        .write("GET", "/api/v1/storage/missing", None)
        .await
        .problem(404);
    assert_eq!(
        server
            .write("DELETE", "/api/v1/storage/app:b", None)
            .await
            .status,
        204
    );
    server
        .write("DELETE", "/api/v1/storage/app:b", None)
        .await
        .problem(404);
    server
        .write("DELETE", "/api/v1/storage/app:b?secret=true", None)
        .await
        .problem(404);
    assert_eq!(
        server
            .write("DELETE", "/api/v1/storage/app:token?secret=true", None)
            .await
            .status,
        204
    );
    assert_eq!(server.store.secret_get("app:token").await.unwrap(), None);
    let bad = server.write("GET", "/api/v1/storage?limit=0", None).await;
    assert_eq!(bad.error_fields(), vec!["limit"]);
    let bad = server
        .write("GET", "/api/v1/storage?cursor=zzz", None)
        .await;
    assert_eq!(bad.error_fields(), vec!["cursor"]);
    server
        .call(&server.viewer, "GET", "/api/v1/storage", None)
        .await
        .problem(403);
    server
        .call(&server.viewer, "PUT", "/api/v1/storage/k", Some(&json!(1)))
        .await
        .problem(403);
    let long = "k".repeat(501);
    let bad = server
        .write("PUT", &format!("/api/v1/storage/{long}"), Some(&json!(1)))
        .await;
    assert_eq!(bad.error_fields(), vec!["key"]);
    server.stop().await;
}

async fn the_storage_browser_shows_the_quota_and_refuses_writes_beyond_it(server: TestServer) {
    assert_eq!(
        storage_usage(&server).await,
        json!({"keys": 0, "bytes": 0, "max_keys": 20, "max_bytes": 4096})
    );

    let big = json!("x".repeat(5000));
    let refused = server.write("PUT", "/api/v1/storage/big", Some(&big)).await;
    let problem = refused.problem(507);
    assert_eq!(
        problem["type"],
        "urn:clockwork:problem:storage-quota-exceeded"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("above the limit of 4096 bytes") && detail.contains("[limits] storage_mb"),
        "{detail}"
    );
    server
        .write("GET", "/api/v1/storage/big", None)
        .await
        .problem(404);

    for i in 0..20 {
        let put = server
            .write("PUT", &format!("/api/v1/storage/k{i:02}"), Some(&json!(1)))
            .await;
        put.expect(200);
    }
    let refused = server
        .write("PUT", "/api/v1/storage/k20", Some(&json!(1)))
        .await;
    let detail = refused.problem(507)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("from 20 to 21 keys") && detail.contains("[limits] storage_keys"),
        "{detail}"
    );
    // Overwriting and deleting work at the limit.
    server
        .write("PUT", "/api/v1/storage/k00", Some(&json!(2)))
        .await
        .expect(200);
    let deleted = server.write("DELETE", "/api/v1/storage/k00", None).await;
    assert_eq!(deleted.status, 204);
    server
        .write("PUT", "/api/v1/storage/k20", Some(&json!(1)))
        .await
        .expect(200);
    // 20 keys of 3 characters, each with the value `1`.
    assert_eq!(
        storage_usage(&server).await,
        json!({"keys": 20, "bytes": 80, "max_keys": 20, "max_bytes": 4096})
    );
    server.stop().await;
}

async fn storage_usage(server: &TestServer) -> Value {
    let page = server.write("GET", "/api/v1/storage", None).await;
    page.expect(200)["usage"].clone()
}

async fn a_secret_read_in_the_console_is_audited_and_masked(server: TestServer) {
    let script = "import { kvs } from '@forge/kvs';\n\
                  await kvs.setSecret('db-password', 'c0rrect-h0rse');\n\
                  const secret = await kvs.getSecret('db-password');\n\
                  console.log('password:', secret);\n\
                  return secret;";
    let (reply, events) = console(&server, json!({ "script": script })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!reply.text.contains("c0rrect-h0rse"), "{}", reply.text);
    let outcome = outcome(&events);
    assert_eq!(outcome["status"], "succeeded", "{outcome}");
    assert_eq!(outcome["result"], "***");
    let audit = server.store.audit_list(None, 10).await.unwrap();
    let read = audit
        .items
        .iter()
        .find(|entry| entry.action == "secret.read")
        .expect("the secret read is audited");
    assert_eq!(read.actor, "editor");
    assert_eq!(read.target, "secret:db-password");
    server.stop().await;
}
