//! `fetch` and product requests against a real local HTTP server, through the
//! egress client (FORGE-API §2).

// Test code: the server helpers may unwrap like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::{messages, run_spec};
use runtime::{Credential, LogLevel, Outcome, RunSpec, RunStatus, Sites};
use serde_json::{Value, json};

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    rate_limited: Arc<AtomicUsize>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(server): State<Server>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    let uri = parts.uri.to_string();
    server.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: uri.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let path = parts.uri.path();
    let builder = Response::builder();
    match path {
        "/missing" => builder
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"errorMessages":["Issue does not exist"]}"#)),
        "/bytes" => builder
            .header("content-type", "application/octet-stream")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .body(Body::from(vec![0u8, 1, 2, 255])),
        "/empty" => builder.status(StatusCode::NO_CONTENT).body(Body::empty()),
        "/big" => builder.body(Body::from(vec![b'x'; 4 << 20])),
        "/busy" if server.rate_limited.fetch_sub(1, Ordering::SeqCst) > 0 => builder
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "0")
            .body(Body::from("slow down")),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            builder.body(Body::from("late"))
        }
        "/redirect" => builder
            .status(StatusCode::FOUND)
            .header("location", "/echo/redirected")
            .body(Body::empty()),
        _ => {
            let headers: serde_json::Map<String, Value> = parts
                .headers
                .iter()
                .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or(""))))
                .collect();
            let echo = json!({
                "method": parts.method.to_string(),
                "uri": uri,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            builder
                .header("content-type", "application/json")
                .body(Body::from(echo.to_string()))
        }
    }
    .unwrap()
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
    let mut spec = RunSpec::new(script);
    spec.sites = Sites {
        jira_url: Some(base.to_owned()),
        confluence_url: None,
        cloud_id: None,
        app: Some(Credential::Basic {
            email: "bot@acme.com".into(),
            api_token: "app-token".into(),
        }),
        user: None,
    };
    spec.services.http = Some(egress::Client::new(egress::Policy::default()).unwrap());
    spec
}

async fn succeed(spec: RunSpec) -> Outcome {
    let outcome = run_spec(spec).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "{:?}\nlogs: {:?}",
        outcome.error,
        outcome.logs
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_jira_goes_to_the_site_with_the_app_credential() {
    let (base, server) = serve().await;
    let script = "import api, { route } from '@forge/api';\n\
                  const key = 'ABC-1';\n\
                  const response = await api.asApp().requestJira(route`/rest/api/3/issue/${key}?fields=${'summary,status'}`);\n\
                  const echo = await response.json();\n\
                  return { ok: response.ok, status: response.status, statusText: response.statusText,\n\
                           type: response.headers.get('Content-Type'), has: response.headers.has('content-type'),\n\
                           url: response.url, echo }";
    let outcome = succeed(spec(script, &base)).await;
    let result = &outcome.result;
    assert_eq!(result["ok"], json!(true));
    assert_eq!(result["status"], json!(200));
    assert_eq!(result["statusText"], json!("OK"));
    assert_eq!(result["type"], json!("application/json"));
    assert_eq!(result["has"], json!(true));
    assert_eq!(
        result["url"],
        json!(format!(
            "{base}/rest/api/3/issue/ABC-1?fields=summary%2Cstatus"
        ))
    );
    let echo = &result["echo"];
    assert_eq!(echo["method"], "GET");
    assert_eq!(
        echo["uri"],
        "/rest/api/3/issue/ABC-1?fields=summary%2Cstatus"
    );
    // base64("bot@acme.com:app-token") was sent; the script's copy of it
    // is masked in the result (the token is a secret the run holds).
    assert_eq!(
        server.seen()[0].headers["authorization"],
        "Basic Ym90QGFjbWUuY29tOmFwcC10b2tlbg=="
    );
    assert_eq!(
        echo["headers"]["authorization"],
        "Basic Ym90QGFjbWUuY29tOmFw***bg=="
    );
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(outcome.http_calls.len(), 1);
    let call = &outcome.http_calls[0];
    assert_eq!(
        (call.method.as_str(), call.status, call.retries),
        ("GET", Some(200), 0)
    );
    assert_eq!(
        call.url,
        format!("{base}/rest/api/3/issue/ABC-1?fields=summary%2Cstatus")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_bodies_and_headers() {
    let (base, server) = serve().await;
    let script = "const body = JSON.stringify({ fields: { summary: 'New' } });\n\
                  const r1 = await api.requestJira(route`/rest/api/3/issue`, { method: 'post', body, headers: { Accept: 'application/json' } });\n\
                  const r2 = await api.requestConfluence(route`/wiki/api/v2/pages`, { method: 'PUT', body: new Uint8Array([104, 105]), headers: [['Content-Type', 'text/plain']] });\n\
                  const r3 = await fetch(`${context.params.base}/echo/text`, { method: 'POST', body: 'plain' });\n\
                  const r4 = await fetch(`${context.params.base}/echo/buffer`, { method: 'POST', body: new Uint16Array([0x6968]).buffer });\n\
                  return [r1.status, r2.status, r3.status, r4.status]";
    let mut spec = spec(script, &base);
    spec.params = json!({"base": base});
    let outcome = succeed(spec).await;
    assert_eq!(outcome.result, json!([200, 200, 200, 200]));
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].body, br#"{"fields":{"summary":"New"}}"#);
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].headers["accept"], "application/json");
    assert_eq!(
        (seen[1].method.as_str(), seen[1].uri.as_str()),
        ("PUT", "/wiki/api/v2/pages")
    );
    assert_eq!(seen[1].body, b"hi");
    assert_eq!(seen[1].headers["content-type"], "text/plain");
    assert!(seen[1].headers.contains_key("authorization"));
    assert_eq!(seen[2].body, b"plain");
    assert_eq!(seen[2].headers["content-type"], "text/plain;charset=UTF-8");
    assert!(
        !seen[2].headers.contains_key("authorization"),
        "fetch carries no product credential"
    );
    assert_eq!(seen[3].body, b"hi");
    assert!(
        !seen[3].headers.contains_key("content-type"),
        "fetch adds no JSON content type"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_and_requests_are_type_errors() {
    let (base, server) = serve().await;
    let cases = [
        (
            "await api.requestJira(route`/x`, { method: 'POST', body: { a: 1 } })",
            "TypeError: body must be a string, ArrayBuffer, typed array or URLSearchParams; to send an object, pass JSON.stringify(object)",
        ),
        (
            "await fetch('http://127.0.0.1:1/x', { body: 'x' })",
            "TypeError: a GET request cannot have a body",
        ),
        (
            "await fetch('/relative')",
            "TypeError: fetch needs an absolute http(s) URL, not \"/relative\"",
        ),
        (
            "await api.requestJira(route`/x`, { headers: { 'bad header': 'x' } })",
            "TypeError: invalid header name \"bad header\"",
        ),
        (
            "await api.requestJira(route`/x`, { method: 'GE T' })",
            "TypeError: invalid HTTP method \"GE T\"",
        ),
    ];
    for (script, expected) in cases {
        let outcome = run_spec(spec(script, &base)).await;
        assert_eq!(
            outcome.error.map(|e| e.message).as_deref(),
            Some(expected),
            "{script}"
        );
    }
    assert!(server.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_answers_never_throw() {
    let (base, _server) = serve().await;
    let script = "const r = await api.requestJira(route`/missing`);\n\
                  return { ok: r.ok, status: r.status, statusText: r.statusText, body: await r.json() }";
    let outcome = succeed(spec(script, &base)).await;
    assert_eq!(
        outcome.result,
        json!({"ok": false, "status": 404, "statusText": "Not Found", "body": {"errorMessages": ["Issue does not exist"]}})
    );
    let script =
        "const r = await api.requestJira(route`/empty`);\nreturn [r.status, await r.text()]";
    assert_eq!(succeed(spec(script, &base)).await.result, json!([204, ""]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_read_once_in_any_form() {
    let (base, _server) = serve().await;
    let script = "const r = await api.requestJira(route`/bytes`);\n\
                  const bytes = Array.from(new Uint8Array(await r.arrayBuffer()));\n\
                  let again;\n\
                  try { await r.text() } catch (e) { again = e.name }\n\
                  const headers = [];\n\
                  r.headers.forEach((value, name) => { if (name.startsWith('x-')) headers.push([name, value]) });\n\
                  return { bytes, again, used: r.bodyUsed, headers }";
    assert_eq!(
        succeed(spec(script, &base)).await.result,
        json!({"bytes": [0, 1, 2, 255], "again": "TypeError", "used": true, "headers": [["x-multi", "one, two"]]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_user_uses_the_run_as_credential_or_sends_nothing() {
    let (base, server) = serve().await;
    let script = "try { await api.asUser().requestJira(route`/rest/api/3/myself`) } catch (e) { return e.message }";
    let outcome = succeed(spec(script, &base)).await;
    assert_eq!(
        outcome.result,
        json!(
            "asUser(): there is no user context. Scheduled and queued runs have no user; give the job a run-as credential, or use asApp()"
        )
    );
    assert!(server.seen().is_empty(), "nothing was sent");
    assert!(outcome.http_calls.is_empty());
    let mut with_user = spec(
        "const r = await api.asUser().requestJira(route`/rest/api/3/myself`);\nreturn (await r.json()).headers.authorization",
        &base,
    );
    with_user.sites.user = Some(Credential::Bearer {
        token: "user-token".into(),
    });
    // Sent as is; masked in the result the script returns.
    assert_eq!(succeed(with_user).await.result, json!("Bearer ***"));
    let sent = server.seen();
    assert_eq!(sent[0].headers["authorization"], "Bearer user-token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_fails_without_a_user() {
    let (base, _server) = serve().await;
    let outcome = run_spec(spec("authorize()", &base)).await;
    assert_eq!(
        outcome.error.unwrap().message,
        "Error: authorize() needs a user context; scheduled and queued runs have none (as on Forge)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_product_requests_are_retried_and_logged() {
    let (base, server) = serve().await;
    server.rate_limited.store(2, Ordering::SeqCst);
    let script = "const r = await api.requestJira(route`/busy`);\nreturn r.status";
    let outcome = succeed(spec(script, &base)).await;
    assert_eq!(outcome.result, json!(200));
    assert_eq!(server.seen().len(), 3);
    let warnings: Vec<&str> = outcome
        .logs
        .iter()
        .filter(|line| line.level == LogLevel::Warn)
        .map(|line| line.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("answered 429 Too Many Requests; retry 1 of 4"),
        "{}",
        warnings[0]
    );
    assert_eq!(outcome.http_calls.len(), 1);
    assert_eq!(
        (outcome.http_calls[0].status, outcome.http_calls[0].retries),
        (Some(200), 2)
    );
    server.rate_limited.store(1, Ordering::SeqCst);
    let script = format!("const r = await fetch('{base}/busy');\nreturn r.status");
    assert_eq!(
        succeed(spec(&script, &base)).await.result,
        json!(429),
        "fetch sees the 429 itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_the_egress_policy() {
    let (base, _server) = serve().await;
    let script = format!(
        "const r = await fetch('{base}/redirect');\nreturn [r.status, r.url, (await r.json()).uri]"
    );
    assert_eq!(
        succeed(spec(&script, &base)).await.result,
        json!([200, format!("{base}/echo/redirected"), "/echo/redirected"])
    );
    let script = format!(
        "const manual = await fetch('{base}/redirect', {{ redirect: 'manual' }});\n\
         let refused;\n\
         try {{ await fetch('{base}/redirect', {{ redirect: 'error' }}) }} catch (e) {{ refused = e.name }}\n\
         return [manual.status, manual.headers.get('location'), refused]"
    );
    assert_eq!(
        succeed(spec(&script, &base)).await.result,
        json!([302, "/echo/redirected", "TypeError"])
    );
    let mut denied = spec("await fetch('http://example.invalid/x')", &base);
    denied.services.http = Some(
        egress::Client::new(egress::Policy {
            allowed_hosts: egress::AllowList::new(["127.0.0.1"]).unwrap(),
            ..egress::Policy::default()
        })
        .unwrap(),
    );
    let outcome = run_spec(denied).await;
    let message = outcome.error.unwrap().message;
    assert!(
        message.starts_with("TypeError: ") && message.contains("example.invalid"),
        "{message}"
    );
    assert_eq!(outcome.http_calls.len(), 1);
    assert!(outcome.http_calls[0].error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_or_site_calls_fail_clearly() {
    let (base, _server) = serve().await;
    let mut no_client = spec("await api.requestJira(route`/x`)", &base);
    no_client.services.http = None;
    assert_eq!(
        run_spec(no_client).await.error.unwrap().message,
        format!("Error: GET {base}/x: no HTTP client is configured for this run")
    );
    let mut no_site = spec("await api.requestConfluence(route`/wiki/x`)", &base);
    no_site.sites.jira_url = None;
    assert_eq!(
        run_spec(no_site).await.error.unwrap().message,
        "Error: requestConfluence: no Confluence (or Jira) site is configured in Clockwork: \
         add one in the web UI (Settings → Sites), in clockwork.toml ([site] confluence_url or jira_url), \
         or with `clockwork run --confluence-url`"
    );
    let outcome = run_spec(spec(
        "await api.requestBitbucket(route`/2.0/repositories`)",
        &base,
    ))
    .await;
    assert_eq!(
        outcome.error.unwrap().message,
        "Error: requestBitbucket: Clockwork has no Bitbucket site; use fetch() with the Bitbucket API URL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_does_not_outlive_the_deadline() {
    let (base, server) = serve().await;
    let mut slow = spec(
        "console.log('asking');\nawait api.requestJira(route`/slow`)",
        &base,
    );
    // Long enough for the request to reach the server on a loaded machine
    // (300 ms once was not); the answer takes 30 s, so ending within a
    // third of that shows the deadline, not the answer, ended the run.
    slow.limits.timeout = Duration::from_secs(1);
    let outcome = run_spec(slow).await;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert!(
        outcome.duration >= Duration::from_secs(1) && outcome.duration < Duration::from_secs(10),
        "{:?}",
        outcome.duration
    );
    assert_eq!(messages(&outcome), ["asking"]);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_count_against_the_memory_limit() {
    let (base, _server) = serve().await;
    let script = "const kept = [];\nwhile (true) {\n  const r = await api.requestJira(route`/big`);\n  kept.push(await r.arrayBuffer());\n}";
    let mut spec = spec(script, &base);
    spec.limits.memory_bytes = 16 << 20;
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.unwrap().message,
        "memory limit exceeded (16 MiB)"
    );
    assert!(
        outcome.http_calls.len() <= 5,
        "{} calls",
        outcome.http_calls.len()
    );
}
