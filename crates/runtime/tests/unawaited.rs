//! Requests a script started but did not await (issue 11, point 11): they
//! land after the result settles, within a grace, against a real server.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use common::{executor, messages, run_spec};
use runtime::{LogLevel, RunSpec, RunStatus};
use serde_json::json;

#[derive(Clone)]
struct Server {
    /// `METHOD path body` of each request, as it arrived.
    seen: Arc<Mutex<Vec<String>>>,
    /// Requests under `/held/` are answered one per permit: a test lets one
    /// through once the run has said it is waiting for it.
    permits: Arc<tokio::sync::Semaphore>,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            seen: Arc::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

async fn answer(State(server): State<Server>, request: Request) -> String {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let line = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path(),
        String::from_utf8_lossy(&body)
    );
    server.seen.lock().unwrap().push(line);
    if parts.uri.path() == "/hold" {
        // Never answers: only the run's cut ends this request.
        std::future::pending::<()>().await;
    }
    if parts.uri.path().starts_with("/held/") {
        server.permits.acquire().await.unwrap().forget();
    }
    String::from("{\"ok\":true}")
}

async fn serve() -> (String, Server) {
    let server = Server::default();
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server)
}

fn spec(script: &str, base: &str) -> RunSpec {
    let mut spec = RunSpec::new(script.replace("BASE", base));
    spec.services.http = Some(egress::Client::new(egress::Policy::default()).unwrap());
    spec
}

/// Runs `spec`; once the run's log names a request it is waiting for (the
/// warning starting with `expected`), lets one held request be answered.
async fn run_releasing(spec: RunSpec, server: &Server, expected: &str) -> runtime::Outcome {
    let executor = executor();
    let handle = executor.start(spec);
    let mut logs = handle.logs();
    while let Some(line) = logs.next().await {
        if line.level == LogLevel::Warn && line.message.starts_with(expected) {
            server.permits.add_permits(1);
            break;
        }
    }
    handle.outcome().await
}

#[tokio::test]
async fn an_unawaited_post_lands_once_is_recorded_and_named() {
    let (base, server) = serve().await;
    let script = "fetch('BASE/held/hook', { method: 'POST', body: JSON.stringify({ n: 1 }) });\nreturn 'done';";
    let expected = format!("POST {base}/held/hook: the script did not await this request");
    let outcome = run_releasing(spec(script, &base), &server, &expected).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.result, json!("done"));
    assert_eq!(
        *server.seen.lock().unwrap(),
        vec![String::from("POST /held/hook {\"n\":1}")]
    );
    assert_eq!(outcome.http_calls.len(), 1);
    let call = &outcome.http_calls[0];
    assert_eq!((call.method.as_str(), call.status), ("POST", Some(200)));
    assert_eq!(call.url, format!("{base}/held/hook"));
    let warnings: Vec<&str> = outcome
        .logs
        .iter()
        .filter(|line| line.level == LogLevel::Warn)
        .map(|line| line.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", messages(&outcome));
    assert!(warnings[0].starts_with(&expected), "{warnings:?}");
}

#[tokio::test]
async fn unawaited_product_requests_land_and_awaited_ones_are_not_named() {
    let (base, server) = serve().await;
    let script = "import api, { route } from '@forge/api';\n\
                  export async function run() {\n\
                    await fetch('BASE/first');\n\
                    api.asApp().requestJira(route`/held/rest/api/3/issue/A-1/comment`, { method: 'POST', body: '{}' });\n\
                    return 'ok';\n\
                  }";
    let mut spec = spec(script, &base);
    spec.sites.jira_url = Some(base.clone());
    spec.sites.app = Some(runtime::Credential::Basic {
        email: "bot@acme.test".into(),
        api_token: "app-token".into(),
    });
    let expected = format!("POST {base}/held/rest/api/3/issue/A-1/comment: ");
    let outcome = run_releasing(spec, &server, &expected).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(server.seen.lock().unwrap().len(), 2);
    assert_eq!(outcome.http_calls.len(), 2);
    assert!(
        outcome
            .http_calls
            .iter()
            .all(|call| call.status == Some(200))
    );
    let warnings: Vec<String> = outcome
        .logs
        .iter()
        .filter(|line| line.level == LogLevel::Warn)
        .map(|line| line.message.clone())
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with(&expected), "{warnings:?}");
}

#[tokio::test]
async fn a_request_that_outlives_the_grace_is_cut_and_reported() {
    let (base, server) = serve().await;
    let script = "fetch('BASE/hold', { method: 'POST', body: 'x' });\nreturn 'done';";
    let mut spec = spec(script, &base);
    // The grace ends before the deadline: the run still succeeds.
    spec.limits.timeout = Duration::from_secs(2);
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.result, json!("done"));
    assert_eq!(
        *server.seen.lock().unwrap(),
        vec![String::from("POST /hold x")]
    );
    assert_eq!(outcome.http_calls.len(), 1, "{:?}", outcome.http_calls);
    let call = &outcome.http_calls[0];
    assert_eq!(call.status, None);
    assert!(call.error.is_some(), "{call:?}");
    let logs = messages(&outcome);
    assert!(
        logs.iter()
            .any(|line| line.starts_with(&format!("POST {base}/hold: cut "))
                && line.ends_with("after the script's result, still unanswered")),
        "{logs:?}"
    );
}
