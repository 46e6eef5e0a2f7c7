//! End to end: real `clockwork serve` processes on SQLite and PostgreSQL,
//! driven through the REST API. Cross-process state is awaited by polling
//! the API with a deadline; nothing sleeps for a fixed time.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{path::Path, time::Duration};

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use support::{ADMIN_TOKEN, Serve, wait_for};

/// Which database a test's servers share.
enum Database {
    Sqlite,
    Postgres { url: String, schema: String },
}

impl Database {
    async fn new(postgres: bool) -> Database {
        if !postgres {
            return Database::Sqlite;
        }
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let base = std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = PgConnection::connect(&base).await.unwrap();
        admin
            .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE SCHEMA {schema}"
            ))))
            .await
            .unwrap();
        Database::Postgres {
            url: format!("{base}?options=-c%20search_path%3D{schema}"),
            schema,
        }
    }

    fn args(&self) -> Vec<String> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres { url, .. } => vec!["--database".into(), url.clone()],
        }
    }

    async fn drop_schema(self) {
        if let Database::Postgres { schema, .. } = self {
            let base = std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let mut admin = PgConnection::connect(&base).await.unwrap();
            admin
                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP SCHEMA {schema} CASCADE"
                ))))
                .await
                .unwrap();
        }
    }
}

/// A blocking API client for one server (the tests poll another process).
struct Api {
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    fn new(server: &Serve) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            base: format!("{}/api/v1", server.url),
            http: reqwest::Client::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = response.text().await.unwrap();
            (
                status,
                kind,
                serde_json::from_str(&text).unwrap_or(Value::Null),
            )
        })
    }

    fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    fn runs(&self, job: &str) -> Vec<Value> {
        self.get(&format!("/jobs/{job}/runs?limit=500"))["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

fn instant(value: &Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

fn start(data: &Path, database: &Database, config: Option<&Path>) -> Serve {
    let mut args = database.args();
    if let Some(config) = config {
        args.push("--config".into());
        args.push(config.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(data, &args)
}

fn six_field_cron_fires_at_the_right_seconds(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);
    let job = json!({
        "name": "every-2s",
        "schedule": {"cron": "*/2 * * * * *", "timezone": "UTC"},
        "script": "return context.run.scheduledFor;",
    });
    let (status, _, created) = api.call("POST", "/jobs", Some(job));
    assert_eq!(status, 201, "{created}");
    let created_at = instant(&created["created_at"]);
    let runs = wait_for("three scheduled runs", Duration::from_secs(30), || {
        let runs = api.runs("every-2s");
        let done = runs.iter().filter(|r| r["status"] == "succeeded").count();
        (done >= 3).then_some(runs)
    });
    let mut occurrences: Vec<Timestamp> = runs
        .iter()
        .filter(|run| run["status"] == "succeeded")
        .map(|run| {
            assert_eq!(run["trigger"], "schedule");
            let scheduled = instant(&run["scheduled_for"]);
            let started = instant(&run["started_at"]);
            // On an even second, never early, and within that same second.
            assert_eq!(scheduled.as_millisecond() % 2000, 0, "{run}");
            assert!(started >= scheduled, "{run}");
            assert_eq!(started.as_second(), scheduled.as_second(), "{run}");
            scheduled
        })
        .collect();
    occurrences.sort();
    assert!(occurrences[0] > created_at);
    for pair in occurrences.windows(2) {
        // Every occurrence once: consecutive ones are 2 s apart.
        assert_eq!(
            pair[1].as_millisecond() - pair[0].as_millisecond(),
            2000,
            "{occurrences:?}"
        );
    }
    assert_eq!(server.terminate(), Some(0));
}

fn kill_9_during_a_run_interrupts_it_and_the_restart_retries_it(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(&config, "[scheduler]\nlease_seconds = 2\n").unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let job = json!({
        "name": "long",
        "script": "if (context.run.attempt === 1) {\n  console.log('first attempt started');\n  await new Promise(() => {});\n}\nreturn 'attempt ' + context.run.attempt;",
        "retry": {"max_attempts": 2, "backoff_seconds": 0},
    });
    assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    let (status, _, run) = api.call("POST", "/jobs/long/run", None);
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_i64().unwrap();
    // Running, with its first line stored (logs are flushed while it runs).
    wait_for(
        "the first attempt to run and log",
        Duration::from_secs(30),
        || {
            let run = api.get(&format!("/runs/{run_id}"));
            (run["status"] == "running" && run["log_lines"] == 1).then_some(())
        },
    );
    server.kill9();

    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let runs = wait_for(
        "the interrupted run's retry to succeed",
        Duration::from_secs(60),
        || {
            let runs = api.runs("long");
            runs.iter()
                .any(|r| r["trigger"] == "retry" && r["status"] == "succeeded")
                .then_some(runs)
        },
    );
    let first = runs.iter().find(|r| r["id"] == run_id).unwrap();
    assert_eq!(first["status"], "interrupted", "{first}");
    assert_eq!(first["log_lines"], 1);
    let retry = runs.iter().find(|r| r["trigger"] == "retry").unwrap();
    assert_eq!(retry["attempt"], 2);
    assert_eq!(retry["result"], "attempt 2");
    let logs = api.get(&format!("/runs/{run_id}/logs"));
    assert_eq!(logs["items"][0]["message"], "first attempt started");
    assert_eq!(server.terminate(), Some(0));
}

fn bad_api_input_is_a_problem_document_and_changes_nothing(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);
    let good = json!({"name": "good", "script": "return 1;", "schedule": {"cron": "0 0 * * *"}});
    assert_eq!(api.call("POST", "/jobs", Some(good)).0, 201);
    let before = api.get("/jobs");
    let cases = [
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "colour": 1}),
            422,
            "colour",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "schedule": {"cron": "0 0 32 * *"}}),
            422,
            "schedule.cron",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "schedule": {"cron": "@daily", "timezone": "Nowhere/City"}}),
            422,
            "schedule.timezone",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "let = 1;"}),
            422,
            "script",
        ),
        (
            "PUT",
            "/jobs/good",
            json!({"name": "good", "script": "", "version": 5}),
            409,
            "",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "good", "script": ""}),
            409,
            "",
        ),
        ("PATCH", "/jobs/missing", json!({"script": ""}), 404, ""),
    ];
    for (method, path, body, status, field) in cases {
        let (got, kind, problem) = api.call(method, path, Some(body.clone()));
        assert_eq!(got, status, "{method} {path} {body}: {problem}");
        assert_eq!(kind, "application/problem+json");
        assert_eq!(problem["status"], status);
        assert_eq!(problem["instance"], format!("/api/v1{path}"));
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
    }
    assert_eq!(api.get("/jobs"), before);
    assert!(api.runs("good").is_empty());
    assert_eq!(server.terminate(), Some(0));
}

fn sigterm_lets_runs_finish_within_the_grace_period_then_interrupts_them(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(&config, "[scheduler]\ngrace_seconds = 1\n").unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let job =
        json!({"name": "stuck", "script": "console.log('in');\nawait new Promise(() => {});"});
    assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    let (_, _, run) = api.call("POST", "/jobs/stuck/run", None);
    let run_id = run["id"].as_i64().unwrap();
    wait_for("the run to start", Duration::from_secs(30), || {
        (api.get(&format!("/runs/{run_id}"))["status"] == "running").then_some(())
    });
    assert_eq!(server.terminate(), Some(0));
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let run = api.get(&format!("/runs/{run_id}"));
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(run["log_lines"], 1);
    assert_eq!(server.terminate(), Some(0));
}

macro_rules! on_both_databases {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(&super::Database::Sqlite);
                }
            )+
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    let database = runtime.block_on(super::Database::new(true));
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::$test(&database)));
                    runtime.block_on(database.drop_schema());
                    if let Err(panic) = outcome {
                        std::panic::resume_unwind(panic);
                    }
                }
            )+
        }
    };
}

on_both_databases!(
    six_field_cron_fires_at_the_right_seconds,
    kill_9_during_a_run_interrupts_it_and_the_restart_retries_it,
    bad_api_input_is_a_problem_document_and_changes_nothing,
    sigterm_lets_runs_finish_within_the_grace_period_then_interrupts_them,
);
