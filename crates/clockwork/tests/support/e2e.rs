//! What the end-to-end suites (`e2e`, `chains`, `queues`) share: the
//! database a test's servers use, a blocking API client, and a macro that
//! declares each scenario once per database.

#![allow(dead_code, unreachable_pub, unused_macros)]

use std::{path::Path, time::Duration};

use jiff::Timestamp;
use serde_json::Value;
use test_support::PgSchema;

use super::{ADMIN_TOKEN, Serve, wait_for};

/// Which database a test's servers share: each one's SQLite file in its
/// data directory, or one PostgreSQL schema of the test's own.
pub enum Database {
    Sqlite,
    Postgres(PgSchema),
}

impl Database {
    /// A fresh PostgreSQL schema.
    pub async fn postgres() -> Database {
        Database::Postgres(PgSchema::create("e2e").await)
    }

    /// The `clockwork serve` arguments that select this database.
    pub fn args(&self) -> Vec<String> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres(schema) => vec!["--database".into(), schema.url().to_owned()],
        }
    }

    pub async fn drop_schema(self) {
        if let Database::Postgres(schema) = self {
            schema.drop().await;
        }
    }
}

/// Starts `clockwork serve` on `database` with its data in `data` and, if
/// given, a `clockwork.toml`.
pub fn start(data: &Path, database: &Database, config: Option<&Path>) -> Serve {
    let mut args = database.args();
    if let Some(config) = config {
        args.push("--config".into());
        args.push(config.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(data, &args)
}

/// An instant in a JSON answer.
pub fn instant(value: &Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

/// A blocking API client for one server (the tests poll another process).
pub struct Api {
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn new(server: &Serve) -> Api {
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

    /// Status, content type and JSON body (`null` when not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String, Value) {
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

    /// `/healthz`: status and JSON body (no token: it needs none).
    pub fn healthz(&self) -> (u16, Value) {
        let root = self.base.trim_end_matches("/api/v1");
        let request = self.http.get(format!("{root}/healthz"));
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    /// The status of a GET of `path` (from the server's root) sent without
    /// a token.
    pub fn status_without_token(&self, path: &str) -> u16 {
        let root = self.base.trim_end_matches("/api/v1");
        let request = self.http.get(format!("{root}{path}"));
        self.runtime
            .block_on(async { request.send().await.unwrap().status().as_u16() })
    }

    /// The body of a GET that must answer 200.
    pub fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The newest 500 runs of a job.
    pub fn runs(&self, job: &str) -> Vec<Value> {
        self.get(&format!("/jobs/{job}/runs?limit=500"))["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every run of a job, following the pages.
    pub fn all_runs(&self, job: &str) -> Vec<Value> {
        let mut runs = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.get(&format!("/jobs/{job}/runs?limit=500{cursor}"));
            runs.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return runs,
            }
        }
    }

    /// Starts a run of `job` now; returns its id.
    pub fn run_now(&self, job: &str) -> i64 {
        let (status, _, run) = self.call("POST", &format!("/jobs/{job}/run"), None);
        assert_eq!(status, 202, "{run}");
        run["id"].as_i64().unwrap()
    }

    /// Runs a job now and waits for its run to end; returns the run.
    pub fn run(&self, job: &str) -> Value {
        let id = self.run_now(job);
        wait_for(
            &format!("a run of {job} to end"),
            Duration::from_secs(60),
            || {
                let run = self.get(&format!("/runs/{id}"));
                (run["finished_at"] != Value::Null).then_some(run)
            },
        )
    }
}

/// Declares each listed scenario `fn(&Database)` as a `sqlite::name` and a
/// `postgres::name` test (the schema is dropped also when the test fails).
macro_rules! on_both_databases {
    ($($test:ident),+ $(,)?) => {
        test_support::both_databases!(crate::support::e2e::run_scenario => $($test),+);
    };
}

/// Runs `scenario` on a fresh database of `database`'s engine; a
/// PostgreSQL schema is dropped also when it fails.
#[allow(dead_code)] // only the suites that declare scenarios use it
pub(crate) fn run_scenario(database: test_support::Database, scenario: fn(&Database)) {
    match database {
        test_support::Database::Sqlite => scenario(&Database::Sqlite),
        test_support::Database::Postgres => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let database = runtime.block_on(Database::postgres());
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&database)));
            runtime.block_on(database.drop_schema());
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

#[allow(unused_imports)] // only the suites that declare scenarios use it
pub(crate) use on_both_databases;
