//! A real server on a real port over a real store — a SQLite file of its
//! own, or a PostgreSQL schema of its own — with a manual clock, one token
//! per role, and a small HTTP client that returns status, content type and
//! JSON body.

#![allow(dead_code, unreachable_pub)]

use std::{future::Future, net::SocketAddr, sync::Arc};

use jiff::Timestamp;
use serde_json::Value;
use server::AppState;
use store::{ManualClock, NewToken, Role, Store};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Declares each listed `async fn(TestServer)` as one test per engine:
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! engine_tests {
    ($($test:ident),+ $(,)?) => {
        test_support::both_databases!(async $crate::common::run => $($test),+);
    };
}

/// The database a server's store is on.
pub use test_support::Database as Engine;

/// The instant every test clock starts at.
pub fn start_instant() -> Timestamp {
    "2026-03-07T12:00:00Z".parse().unwrap()
}

/// The database that holds the test schemas (trust authentication).
pub fn postgres_url() -> String {
    test_support::postgres_url()
}

/// Declares each listed `async fn(TestServer)` as one test per engine,
/// with a scheduler (and a script executor) running in the server.
#[macro_export]
macro_rules! scheduler_tests {
    ($($test:ident),+ $(,)?) => {
        test_support::both_databases!(async $crate::common::run_with_scheduler => $($test),+);
    };
}

/// Runs `test` against a fresh server on `engine`; a PostgreSQL schema is
/// dropped afterwards even when the test fails.
pub async fn run<F, Fut>(engine: Engine, test: F)
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_on(engine, false, test).await;
}

/// [`run`], with a scheduler in the server.
pub async fn run_with_scheduler<F, Fut>(engine: Engine, test: F)
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_on(engine, true, test).await;
}

async fn run_on<F, Fut>(engine: Engine, scheduler: bool, test: F)
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_sqlite(dir.path().join("clockwork.db"))
                .await
                .unwrap();
            let server = TestServer::start_full(store, Some(dir), scheduler).await;
            test(server).await;
        }
        Engine::Postgres => {
            let schema = test_support::PgSchema::create("server_test").await;
            let url = schema.url().to_owned();
            let outcome = async {
                let store = Store::open(&url).await.unwrap();
                let server = TestServer::start_full(store, None, scheduler).await;
                tokio::spawn(test(server)).await
            }
            .await;
            schema.drop().await;
            if let Err(failure) = outcome {
                std::panic::resume_unwind(failure.into_panic());
            }
        }
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    pub scheduler: Option<scheduler::SchedulerHandle>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestServer {
    /// A server over a fresh SQLite file.
    pub async fn sqlite() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("clockwork.db"))
            .await
            .unwrap();
        Self::start(store, Some(dir)).await
    }

    pub async fn start(store: Store, dir: Option<tempfile::TempDir>) -> TestServer {
        Self::start_full(store, dir, false).await
    }

    pub async fn start_full(
        store: Store,
        dir: Option<tempfile::TempDir>,
        with_scheduler: bool,
    ) -> TestServer {
        Self::start_custom(store, dir, with_scheduler, |state| state).await
    }

    /// A server over a fresh SQLite file whose state `customize` adjusts.
    pub async fn sqlite_custom(customize: impl FnOnce(AppState) -> AppState) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("clockwork.db"))
            .await
            .unwrap();
        Self::start_custom(store, Some(dir), false, customize).await
    }

    pub async fn start_custom(
        store: Store,
        dir: Option<tempfile::TempDir>,
        with_scheduler: bool,
        customize: impl FnOnce(AppState) -> AppState,
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(start_instant()));
        let store = store.with_clock(clock.clone());
        let mut secrets = Vec::new();
        for (name, role) in [
            ("admin", Role::Admin),
            ("editor", Role::Editor),
            ("viewer", Role::Viewer),
        ] {
            let (_, secret) = store
                .token_create(&NewToken {
                    name: name.to_owned(),
                    role,
                    secret: None,
                })
                .await
                .unwrap();
            secrets.push(secret);
        }
        let mut state = AppState::new(store.clone()).with_clock(clock.clone());
        let mut handle = None;
        if with_scheduler {
            let executor = Arc::new(
                runtime::Executor::new(runtime::ExecutorConfig { worker_threads: 1 }).unwrap(),
            );
            let scheduler = scheduler::Scheduler::start(
                scheduler::SchedulerConfig::new("test-node"),
                store.clone(),
                executor,
                clock.clone(),
            )
            .await
            .unwrap();
            state = state.with_scheduler(scheduler.clone());
            handle = Some(scheduler);
        }
        let state = customize(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let viewer = secrets.pop().unwrap();
        let editor = secrets.pop().unwrap();
        let admin = secrets.pop().unwrap();
        TestServer {
            addr,
            client: http_client(),
            store,
            clock,
            admin,
            editor,
            viewer,
            scheduler: handle,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An unauthenticated GET.
    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::from(request.send().await.unwrap()).await
    }

    /// `method path` with `token`, and `body` as JSON when given.
    pub async fn call(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    /// GET as the viewer.
    pub async fn read(&self, path: &str) -> Reply {
        self.call(&self.viewer, "GET", path, None).await
    }

    /// A write as the editor.
    pub async fn write(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.call(&self.editor, method, path, body).await
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.shutdown(std::time::Duration::from_secs(5)).await;
        }
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// A plain HTTP client (the TLS provider is installed only because reqwest
/// insists on one).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            headers,
            body,
            text,
        }
    }

    /// Asserts the status, and returns the body.
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }

    /// Asserts this is a problem document with `status`, and returns it.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:clockwork:problem:")
        );
        assert!(!self.body["title"].as_str().unwrap().is_empty());
        assert!(!self.body["detail"].as_str().unwrap().is_empty());
        &self.body
    }

    /// The `name` of each item of a page (`{"items": [...]}`).
    pub fn item_names(&self) -> Vec<String> {
        self.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The `field` names of a validation problem's errors.
    pub fn error_fields(&self) -> Vec<String> {
        self.problem(422)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The finish of a run ending in `status` (a final status) at `at`,
/// with `result` when it succeeded.
pub fn finish_as(
    id: i64,
    node: &str,
    status: store::RunStatus,
    at: Timestamp,
    result: Option<Value>,
) -> store::RunFinish {
    use store::{RunFinish, RunStatus};
    match status {
        RunStatus::Succeeded => RunFinish::succeeded(id, node, at, result),
        RunStatus::Failed => RunFinish::failed(id, node, at, None),
        RunStatus::TimedOut => RunFinish::timed_out(id, node, at, None),
        RunStatus::Cancelled => RunFinish::cancelled(id, node, at, None),
        RunStatus::Interrupted => {
            RunFinish::interrupted(id, node, at, store::RunError::message("interrupted"))
        }
        other => panic!("{other} is not a status a running run ends in"),
    }
}

/// Records that the script of claimed run `id` began on `node` at `at`
/// (a claim alone leaves `started_at` empty).
pub async fn start_as(store: &Store, id: i64, node: &str, at: Timestamp) {
    let applied = store
        .runs_write_if_running(&store::RunWrites {
            starts: vec![store::RunStart {
                run_id: id,
                node: node.into(),
                started_at: at,
            }],
            ..store::RunWrites::default()
        })
        .await
        .unwrap();
    assert!(applied.finished.is_empty());
}
