//! Shared by the `clockwork run` tests: the binary as a real process with a
//! fresh data directory, and a fake Jira and Confluence to run it against.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

pub const EMAIL: &str = "bot@acme.test";
pub const API_TOKEN: &str = "app-token";
/// `Basic base64("bot@acme.test:app-token")`.
pub const BASIC: &str = "Basic Ym90QGFjbWUudGVzdDphcHAtdG9rZW4=";
pub const BEARER_TOKEN: &str = "bearer-token-s3cr3t";

// ---------------------------------------------------------------------------
// The binary

/// A scratch directory for one test: scripts and the data directory.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory `run` is given (not created in advance).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a script file and returns its path.
    pub fn script(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `clockwork run` with nothing from the caller's environment, in the
    /// scratch directory, with `--data-dir` set.
    pub fn command(&self) -> Command {
        let mut command = bare_command();
        command
            .current_dir(self.dir.path())
            .arg("run")
            .arg("--data-dir")
            .arg(self.data_dir());
        command
    }

    /// Runs `script` (written to `name`) with `args` and `--json`; returns
    /// the report object and the process output.
    pub fn run_json(&self, name: &str, script: &str, args: &[&str]) -> (Value, Finished) {
        self.script(name, script);
        let finished = finish(self.command().arg("--json").args(args).arg(name));
        let report = finished.report();
        (report, finished)
    }

    /// Runs `script` with `args` and `--json`, asserts it succeeded and
    /// returns its result.
    pub fn result(&self, script: &str, args: &[&str]) -> Value {
        let (report, finished) = self.run_json("job.js", script, args);
        assert_eq!(
            report["status"], "succeeded",
            "{report:#}\nstderr: {}",
            finished.stderr
        );
        assert_eq!(finished.code, 0);
        report["result"].clone()
    }
}

/// The binary with an empty environment: no proxies, no `CLOCKWORK_*`, no
/// `NO_COLOR` from the developer's shell.
pub fn bare_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clockwork"));
    command.env_clear();
    command
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// stdout as exactly one JSON object on one line.
    pub fn report(&self) -> Value {
        assert_eq!(
            self.stdout.matches('\n').count(),
            1,
            "one line on stdout: {:?}\nstderr: {}",
            truncated(&self.stdout),
            self.stderr
        );
        let report: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is JSON ({error}): {:?}\nstderr: {}",
                truncated(&self.stdout),
                self.stderr
            )
        });
        assert!(report.is_object());
        report
    }

    /// Both streams, for "never printed" checks.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn truncated(text: &str) -> &str {
    &text[..text.len().min(2000)]
}

pub fn finish(command: &mut Command) -> Finished {
    let output: Output = command.stdin(Stdio::null()).output().unwrap();
    Finished {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The messages of a report's log lines.
pub fn log_messages(report: &Value) -> Vec<String> {
    report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// The fake Atlassian sites

/// Which listener a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    Jira,
    Confluence,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub site: Site,
    pub method: String,
    /// Path and query exactly as sent.
    pub uri: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A Confluence page the fake keeps.
#[derive(Debug, Clone)]
pub struct Page {
    pub title: String,
    pub version: u64,
    pub body: String,
}

/// A fake Jira and a fake Confluence, each on its own port of 127.0.0.1,
/// sharing one state. Every `/rest/` and `/wiki/` request must carry the
/// app credential (Basic or Bearer) or is answered 401.
pub struct Fake {
    pub jira: String,
    pub confluence: String,
    state: Arc<FakeState>,
    // Stops the servers when the test ends.
    _runtime: tokio::runtime::Runtime,
}

struct FakeState {
    seen: Mutex<Vec<Seen>>,
    /// The issues JQL searches return, in order.
    issues: Vec<Value>,
    pages: Mutex<HashMap<String, Page>>,
    /// Requests answered so far per rate-limited path.
    busy: Mutex<HashMap<String, u32>>,
    /// The other listener's base URL, for cross-origin redirects.
    bases: Mutex<HashMap<&'static str, String>>,
    huge: Bytes,
}

/// Size of `/rest/api/3/huge`: 12 MB of JSON.
pub const HUGE_BYTES: usize = 12_000_000;

impl Fake {
    /// Starts both sites with `issue_count` issues `OPS-1`… and the page
    /// `1001` ("Weekly report", version 5).
    pub fn start(issue_count: usize) -> Self {
        let issues = (1..=issue_count)
            .map(|n| {
                json!({
                    "id": (10000 + n).to_string(),
                    "key": format!("OPS-{n}"),
                    "fields": { "summary": format!("Issue {n}"), "labels": [] },
                })
            })
            .collect();
        let pages = HashMap::from([(
            String::from("1001"),
            Page {
                title: String::from("Weekly report"),
                version: 5,
                body: String::from("<p>old</p>"),
            },
        )]);
        let mut huge = Vec::with_capacity(HUGE_BYTES);
        huge.extend_from_slice(b"{\"data\":\"");
        huge.resize(HUGE_BYTES - 2, b'x');
        huge.extend_from_slice(b"\"}");
        let state = Arc::new(FakeState {
            seen: Mutex::default(),
            issues,
            pages: Mutex::new(pages),
            busy: Mutex::default(),
            bases: Mutex::default(),
            huge: Bytes::from(huge),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let jira = listen(&runtime, &state, Site::Jira);
        let confluence = listen(&runtime, &state, Site::Confluence);
        state
            .bases
            .lock()
            .unwrap()
            .extend([("jira", jira.clone()), ("confluence", confluence.clone())]);
        Self {
            jira,
            confluence,
            state,
            _runtime: runtime,
        }
    }

    /// `--jira-url`, `--confluence-url`, `--email`, `--api-token`.
    pub fn site_args(&self) -> Vec<String> {
        [
            "--jira-url",
            &self.jira,
            "--confluence-url",
            &self.confluence,
            "--email",
            EMAIL,
            "--api-token",
            API_TOKEN,
        ]
        .map(String::from)
        .into()
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The requests whose path starts with `prefix`.
    pub fn seen_under(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| seen.path.starts_with(prefix))
            .collect()
    }

    pub fn page(&self, id: &str) -> Page {
        self.state.pages.lock().unwrap()[id].clone()
    }
}

fn listen(runtime: &tokio::runtime::Runtime, state: &Arc<FakeState>, site: Site) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(answer)
        .with_state((Arc::clone(state), site));
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    base
}

type Shared = (Arc<FakeState>, Site);

async fn answer(State((state, site)): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let body = String::from_utf8_lossy(&body).into_owned();
    let headers = header_map(&parts.headers);
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default();
    let seen = Seen {
        site,
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        path: path.clone(),
        headers,
        body,
    };
    state.seen.lock().unwrap().push(seen.clone());

    let product = path.starts_with("/rest/") || path.starts_with("/wiki/");
    let authorised = matches!(
        seen.header("authorization"),
        Some(value) if value == BASIC || value == format!("Bearer {BEARER_TOKEN}")
    );
    if product && !authorised {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Client must be authenticated to access this resource.", "status-code": 401}),
        );
    }
    route(&state, &seen, &query)
}

fn route(state: &FakeState, seen: &Seen, query: &HashMap<String, String>) -> Response {
    let segments: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
    match (seen.method.as_str(), segments.as_slice()) {
        ("GET", ["rest", "api", "3", "myself"]) => json_response(
            StatusCode::OK,
            json!({"accountId": "557058:bot", "emailAddress": EMAIL, "displayName": "Automation bot"}),
        ),
        ("GET", ["rest", "api", "3", "search", "jql"]) => search(
            state,
            query.get("nextPageToken").map(String::as_str),
            query.get("maxResults").and_then(|n| n.parse().ok()),
        ),
        ("POST", ["rest", "api", "3", "search", "jql"]) => {
            let body = seen.json();
            search(
                state,
                body["nextPageToken"].as_str(),
                body["maxResults"].as_u64().map(|n| n as usize),
            )
        }
        ("POST", ["rest", "api", "3", "bulk", "issues", "fields"]) => bulk_edit(seen),
        ("GET", ["rest", "api", "3", "bulk", "queue", task]) => json_response(
            StatusCode::OK,
            json!({"taskId": task, "status": "COMPLETE", "progressPercent": 100,
                   "processedAccessibleIssues": [], "invalidOrInaccessibleIssueCount": 0}),
        ),
        ("GET", ["rest", "api", "3", "issue", key]) => {
            match state.issues.iter().find(|issue| issue["key"] == *key) {
                Some(issue) => json_response(StatusCode::OK, issue.clone()),
                None => json_response(
                    StatusCode::NOT_FOUND,
                    json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
                ),
            }
        }
        (_, [.., "busy", name]) => busy(state, name, query),
        ("GET", ["rest", "api", "3", "huge"]) => Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(state.huge.clone()))
            .unwrap(),
        (_, [.., "redirect-to-confluence"]) => {
            let target = format!("{}/open/landing", state.bases.lock().unwrap()["confluence"]);
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", target)
                .body(Body::empty())
                .unwrap()
        }
        ("GET", ["wiki", "api", "v2", "pages", id]) => match state.pages.lock().unwrap().get(*id) {
            Some(page) => json_response(StatusCode::OK, page_json(id, page)),
            None => not_found(),
        },
        ("PUT", ["wiki", "api", "v2", "pages", id]) => update_page(state, id, seen),
        ("GET", ["wiki", "rest", "api", "content", id]) => {
            match state.pages.lock().unwrap().get(*id) {
                Some(page) => json_response(
                    StatusCode::OK,
                    json!({"id": id, "type": "page", "title": page.title, "version": {"number": page.version}}),
                ),
                None => not_found(),
            }
        }
        // Anything else echoes the request: method, URI, headers, body.
        _ => json_response(
            StatusCode::OK,
            json!({
                "method": seen.method,
                "uri": seen.uri,
                "headers": seen.headers,
                "body": seen.body,
            }),
        ),
    }
}

/// JQL search pages: `nextPageToken` is opaque to the script (here the
/// offset, disguised), absent on the last page.
fn search(state: &FakeState, token: Option<&str>, max_results: Option<usize>) -> Response {
    let start = match token {
        None => 0,
        Some(token) => match token
            .strip_prefix("page-after-")
            .and_then(|n| n.parse().ok())
        {
            Some(start) => start,
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"errorMessages": ["Invalid nextPageToken"]}),
                );
            }
        },
    };
    let size = max_results.unwrap_or(50).clamp(1, 5000);
    let end = (start + size).min(state.issues.len());
    let mut page = json!({
        "issues": state.issues[start.min(end)..end],
        "isLast": end == state.issues.len(),
    });
    if end < state.issues.len() {
        page["nextPageToken"] = json!(format!("page-after-{end}"));
    }
    json_response(StatusCode::OK, page)
}

fn bulk_edit(seen: &Seen) -> Response {
    let body = seen.json();
    let valid = body["selectedIssueIdsOrKeys"]
        .as_array()
        .is_some_and(|keys| !keys.is_empty())
        && body["selectedActions"].is_array()
        && body["editedFieldsInput"].is_object();
    if !valid {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"errorMessages": ["selectedIssueIdsOrKeys, selectedActions and editedFieldsInput are required"]}),
        );
    }
    json_response(StatusCode::CREATED, json!({"taskId": "10641"}))
}

/// `/rest/api/3/busy/NAME?times=N&status=429|503&retryAfter=S&reset=…`:
/// rate-limited `times` times, then 200.
fn busy(state: &FakeState, name: &str, query: &HashMap<String, String>) -> Response {
    let times: u32 = query.get("times").and_then(|n| n.parse().ok()).unwrap_or(1);
    let answered = {
        let mut busy = state.busy.lock().unwrap();
        let count = busy.entry(name.to_owned()).or_default();
        *count += 1;
        *count
    };
    if answered > times {
        return json_response(StatusCode::OK, json!({"answered": answered}));
    }
    let status = match query.get("status").map(String::as_str) {
        Some("503") => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = Response::builder().status(status);
    if let Some(seconds) = query.get("retryAfter") {
        response = response.header("retry-after", seconds.as_str());
    }
    if let Some(reset) = query.get("reset") {
        response = response.header("x-ratelimit-reset", reset.as_str());
    }
    response.body(Body::from("rate limited")).unwrap()
}

fn page_json(id: &str, page: &Page) -> Value {
    json!({
        "id": id,
        "status": "current",
        "title": page.title,
        "spaceId": "65538",
        "version": {"number": page.version, "message": "", "minorEdit": false},
        "body": {"storage": {"representation": "storage", "value": page.body}},
    })
}

/// Confluence's rule: an update names the next version number.
fn update_page(state: &FakeState, id: &str, seen: &Seen) -> Response {
    let body = seen.json();
    let mut pages = state.pages.lock().unwrap();
    let Some(page) = pages.get_mut(id) else {
        return not_found();
    };
    let version = body["version"]["number"].as_u64();
    if version != Some(page.version + 1) {
        return json_response(
            StatusCode::CONFLICT,
            json!({"errors": [{"status": 409, "code": "CONFLICT",
                "title": format!("Version must be incremented when updating a page. Current Version: [{}]. Provided version: [{}]", page.version, version.map_or(String::from("none"), |v| v.to_string()))}]}),
        );
    }
    let (Some(title), Some("storage"), Some(value)) = (
        body["title"].as_str(),
        body["body"]["representation"].as_str(),
        body["body"]["value"].as_str(),
    ) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"errors": [{"status": 400, "title": "title and a storage body are required"}]}),
        );
    };
    page.version += 1;
    page.title = title.to_owned();
    page.body = value.to_owned();
    json_response(StatusCode::OK, page_json(id, page))
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]}),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn header_map(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect()
}

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
