//! The endpoints that need a scheduler — run now, cancel, live logs over
//! server-sent events, metrics — through the real router with a real
//! scheduler executing real scripts, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{Value, json};

scheduler_tests!(
    run_now_queues_a_run_with_params_and_the_stream_ends_with_it,
    the_stream_carries_log_lines_in_order_and_resumes_after_last_event_id,
    cancel_stops_a_running_run_and_an_ended_run_conflicts,
    run_now_refuses_bad_input_and_changes_nothing,
    metrics_count_runs_by_job_and_status,
    a_job_created_through_the_api_fires_on_its_schedule,
    revoking_a_token_closes_its_open_log_stream,
    signing_out_closes_the_sessions_open_log_stream,
    disabling_the_user_closes_their_open_log_stream,
    deleting_the_user_closes_their_open_log_stream,
);

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    name: String,
    id: Option<String>,
    data: Value,
}

/// Reads the run's log event stream to its end (the server closes it after
/// the `end` event); `last_event_id` resumes after that line.
async fn events(server: &TestServer, run_id: i64, last_event_id: Option<&str>) -> Vec<Event> {
    let mut request = server
        .client
        .get(server.url(&format!("/api/v1/runs/{run_id}/logs")))
        .bearer_auth(&server.viewer)
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream ends when the run ends")
        .unwrap();
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(value).unwrap());
                }
            }
            Some(Event {
                name: name?,
                id,
                data: data?,
            })
        })
        .collect()
}

async fn create(server: &TestServer, name: &str, script: &str) {
    let body = json!({"name": name, "script": script});
    server
        .write("POST", "/api/v1/jobs", Some(&body))
        .await
        .expect(201);
}

async fn run_now_queues_a_run_with_params_and_the_stream_ends_with_it(server: TestServer) {
    create(&server, "double", "return context.params.n * 2;").await;
    let body = json!({"params": {"n": 21}, "trigger": "manual"});
    let reply = server
        .write("POST", "/api/v1/jobs/double/run", Some(&body))
        .await;
    let run = reply.expect(202);
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["job_version"], 1);
    let run_id = run["id"].as_i64().unwrap();
    let events = events(&server, run_id, None).await;
    let end = events.last().unwrap();
    assert_eq!(end.name, "end");
    assert_eq!(end.data["status"], "succeeded", "{end:?}");
    assert_eq!(end.data["result"], 42);
    assert_eq!(end.data["node"], "test-node");
    // Without a body the job's own params apply, with the api trigger.
    let reply = server.write("POST", "/api/v1/jobs/double/run", None).await;
    assert_eq!(reply.expect(202)["trigger"], "api");
    let audit = server.store.audit_list(None, 10).await.unwrap().items;
    assert_eq!(audit[0].action, "run.start");
    assert_eq!(audit[0].actor, "editor");
    server.stop().await;
}

async fn the_stream_carries_log_lines_in_order_and_resumes_after_last_event_id(server: TestServer) {
    let script = "for (let i = 1; i <= 3; i++) {\n  console.log('line ' + i);\n  await new Promise((r) => setTimeout(r, 20));\n}\nconsole.warn('done');\nreturn 'ok';";
    create(&server, "chatty", script).await;
    let run = server.write("POST", "/api/v1/jobs/chatty/run", None).await;
    let run_id = run.expect(202)["id"].as_i64().unwrap();
    let live = events(&server, run_id, None).await;
    let lines: Vec<(String, Option<String>, String)> = live
        .iter()
        .filter(|e| e.name == "log")
        .map(|e| {
            (
                e.data["message"].as_str().unwrap().to_owned(),
                e.id.clone(),
                e.data["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, Option<String>, String)> = [
        ("line 1", "1", "info"),
        ("line 2", "2", "info"),
        ("line 3", "3", "info"),
        ("done", "4", "warn"),
    ]
    .iter()
    .map(|(m, id, level)| ((*m).to_owned(), Some((*id).to_owned()), (*level).to_owned()))
    .collect();
    assert_eq!(lines, expected);
    assert_eq!(live.last().unwrap().name, "end");
    // After the run: the stored lines after the given id, then the end.
    let resumed = events(&server, run_id, Some("2")).await;
    let names: Vec<&str> = resumed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["log", "log", "end"]);
    assert_eq!(resumed[0].data["message"], "line 3");
    assert_eq!(resumed[2].data["log_lines"], 4);
    // The JSON form of the same log.
    let stored = server.read(&format!("/api/v1/runs/{run_id}/logs")).await;
    assert_eq!(stored.expect(200)["items"].as_array().unwrap().len(), 4);
    server.stop().await;
}

async fn cancel_stops_a_running_run_and_an_ended_run_conflicts(server: TestServer) {
    let script = "console.log('started');\nawait new Promise(() => {});";
    create(&server, "forever", script).await;
    let run = server.write("POST", "/api/v1/jobs/forever/run", None).await;
    let run_id = run.expect(202)["id"].as_i64().unwrap();
    // Wait for the run to be executing: its first line arrives live.
    let mut response = server
        .client
        .get(server.url(&format!("/api/v1/runs/{run_id}/logs")))
        .bearer_auth(&server.viewer)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("started") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let viewer = server.viewer.clone();
    let path = format!("/api/v1/runs/{run_id}/cancel");
    server.call(&viewer, "POST", &path, None).await.problem(403);
    let reply = server.write("POST", &path, None).await;
    assert_eq!(reply.expect(202)["id"], run_id);
    let rest = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .unwrap()
        .unwrap();
    assert!(rest.contains("event: end"), "{rest}");
    let run = server.read(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run.expect(200)["status"], "cancelled");
    let again = server.write("POST", &path, None).await;
    assert!(
        again.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    server
        .write("POST", "/api/v1/runs/999999/cancel", None)
        .await
        .problem(404);
    server.stop().await;
}

async fn run_now_refuses_bad_input_and_changes_nothing(server: TestServer) {
    create(&server, "job", "return 1;").await;
    let count = |server: &TestServer| {
        let store = server.store.clone();
        async move {
            store
                .runs_list(&store::RunFilter::default())
                .await
                .unwrap()
                .items
                .len()
        }
    };
    let before = count(&server).await;
    let cases = [
        (json!({"params": [1]}), "params"),
        (json!({"params": {}, "colour": 1}), "colour"),
        (json!({"trigger": "retry"}), "trigger"),
        (json!({"trigger": "nonsense"}), "trigger"),
    ];
    for (body, field) in cases {
        let reply = server
            .write("POST", "/api/v1/jobs/job/run", Some(&body))
            .await;
        assert_eq!(reply.error_fields(), [field], "{body}");
    }
    server
        .write("POST", "/api/v1/jobs/nothing/run", None)
        .await
        .problem(404);
    let viewer = server.viewer.clone();
    server
        .call(&viewer, "POST", "/api/v1/jobs/job/run", None)
        .await
        .problem(403);
    server.get("/api/v1/jobs/job/run").await.problem(405);
    assert_eq!(count(&server).await, before);
    server.stop().await;
}

async fn metrics_count_runs_by_job_and_status(server: TestServer) {
    create(&server, "counted", "return 1;").await;
    create(&server, "failing", "throw new Error('no');").await;
    // The metrics count a run once its end is stored, just after readers of
    // the database (the log stream) see it: the scheduler's end event comes
    // after the count, so the test waits for that.
    let mut ends = server.scheduler.clone().unwrap().events();
    for job in ["counted", "counted", "failing"] {
        let run = server
            .write("POST", &format!("/api/v1/jobs/{job}/run"), None)
            .await;
        let run_id = run.expect(202)["id"].as_i64().unwrap();
        events(&server, run_id, None).await;
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let event = ends.recv().await.unwrap();
                if event.run_id == run_id && event.status.is_terminal() {
                    return;
                }
            }
        })
        .await
        .expect("the scheduler announces the run's end");
    }
    server.get("/metrics").await.problem(401);
    let reply = server.read("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = &reply.text;
    assert!(
        text.contains("clockwork_runs_total{job=\"counted\",job_id=\"1\",status=\"succeeded\"} 2"),
        "{text}"
    );
    assert!(text.contains("status=\"failed\"} 1"), "{text}");
    assert!(
        text.contains("clockwork_run_duration_seconds_count 3"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE clockwork_fire_lateness_seconds histogram"),
        "{text}"
    );
    assert!(text.contains("clockwork_runs_queued 0"), "{text}");
    server.stop().await;
}

async fn a_job_created_through_the_api_fires_on_its_schedule(server: TestServer) {
    let body = json!({
        "name": "ticker",
        "script": "return 'tick';",
        "schedule": {"cron": "*/20 * * * * *", "timezone": "UTC"},
    });
    let job = server.write("POST", "/api/v1/jobs", Some(&body)).await;
    assert_eq!(job.expect(201)["next_fire_at"], "2026-03-07T12:00:20Z");
    let scheduler = server.scheduler.clone().unwrap();
    let mut events = scheduler.events();
    server.clock.set("2026-03-07T12:00:20Z".parse().unwrap());
    scheduler.poke();
    let fired = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let event = events.recv().await.unwrap();
            if event.status == store::RunStatus::Succeeded {
                return event;
            }
        }
    })
    .await
    .expect("the occurrence fires and succeeds");
    assert_eq!(
        fired.scheduled_for,
        Some("2026-03-07T12:00:20Z".parse().unwrap())
    );
    let runs = server.read("/api/v1/jobs/ticker/runs").await;
    let items = runs.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["trigger"], "schedule");
    assert_eq!(items[0]["scheduled_for"], "2026-03-07T12:00:20Z");
    assert_eq!(items[0]["result"], "tick");
    let job = server.read("/api/v1/jobs/ticker").await;
    assert_eq!(job.body["next_fire_at"], "2026-03-07T12:00:40Z");
    server.stop().await;
}

async fn revoking_a_token_closes_its_open_log_stream(server: TestServer) {
    // A run that outlives the test unless it is cancelled.
    create(
        &server,
        "long",
        "console.log('started');\nawait new Promise((r) => setTimeout(r, 3600000));",
    )
    .await;
    let run = server.write("POST", "/api/v1/jobs/long/run", None).await;
    let run_id = run.expect(202)["id"].as_i64().unwrap();
    let token = server
        .call(
            &server.admin,
            "POST",
            "/api/v1/tokens",
            Some(&json!({"name": "watcher", "role": "viewer"})),
        )
        .await;
    let token_body = token.expect(201).clone();
    let secret = token_body["token"].as_str().unwrap().to_owned();
    let token_id = token_body["id"].as_i64().unwrap();
    let reader = {
        let server_url = server.url("");
        let client = server.client.clone();
        let secret = secret.clone();
        tokio::spawn(async move {
            let response = client
                .get(format!("{server_url}/api/v1/runs/{run_id}/logs"))
                .bearer_auth(&secret)
                .header("accept", "text/event-stream")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let mut response = response;
            let mut text = String::new();
            // Wait for the first log line before the token is revoked (a
            // `run` event with the status may come first).
            while !text.contains("event: log") {
                let chunk = response.chunk().await.unwrap().expect("a first line");
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            (text, response)
        })
    };
    let (text, response) = reader.await.unwrap();
    assert!(text.contains("event: log"), "{text}");
    server
        .call(
            &server.admin,
            "DELETE",
            &format!("/api/v1/tokens/{token_id}"),
            None,
        )
        .await
        .expect(204);
    let rest = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream closes when its token is revoked")
        .unwrap();
    assert!(!rest.contains("event: end"), "{rest}");
    // The run goes on; a valid credential still follows it.
    let still = server.read(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(still.expect(200)["status"], "running");
    server
        .write("POST", &format!("/api/v1/runs/{run_id}/cancel"), None)
        .await;
    server.stop().await;
}

/// How a signed-in user's session ends while their log stream is open.
#[derive(Debug, Clone, Copy)]
enum SessionEnd {
    SignOut,
    Disable,
    Delete,
}

async fn signing_out_closes_the_sessions_open_log_stream(server: TestServer) {
    a_session_stream_closes_when(server, SessionEnd::SignOut).await;
}

async fn disabling_the_user_closes_their_open_log_stream(server: TestServer) {
    a_session_stream_closes_when(server, SessionEnd::Disable).await;
}

async fn deleting_the_user_closes_their_open_log_stream(server: TestServer) {
    a_session_stream_closes_when(server, SessionEnd::Delete).await;
}

/// Issue 13 point 8: a stream opened with the web UI's session cookie
/// closes (without the run's `end` event) once the session has ended —
/// not only when a token is revoked.
async fn a_session_stream_closes_when(server: TestServer, end: SessionEnd) {
    create(
        &server,
        "long",
        "console.log('started');\nawait new Promise((r) => setTimeout(r, 3600000));",
    )
    .await;
    let run = server.write("POST", "/api/v1/jobs/long/run", None).await;
    let run_id = run.expect(202)["id"].as_i64().unwrap();
    let password = "correct horse battery";
    server
        .call(
            &server.admin,
            "POST",
            "/api/v1/users",
            Some(&json!({"name": "watcher", "password": password, "role": "viewer"})),
        )
        .await
        .expect(201);
    let signed_in = server
        .send(
            server
                .client
                .post(server.url("/api/v1/session"))
                .header("content-type", "application/json")
                .body(json!({"username": "watcher", "password": password}).to_string()),
        )
        .await;
    let csrf = signed_in.expect(200)["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("clockwork_session="))
        .and_then(|value| value.split(';').next())
        .map(|value| format!("clockwork_session={value}"))
        .expect("a session cookie");
    let mut response = server
        .client
        .get(server.url(&format!("/api/v1/runs/{run_id}/logs")))
        .header("cookie", &cookie)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains("event: log") {
        let chunk = response.chunk().await.unwrap().expect("a first line");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    match end {
        SessionEnd::SignOut => {
            let reply = server
                .send(
                    server
                        .client
                        .delete(server.url("/api/v1/session"))
                        .header("cookie", &cookie)
                        .header("x-csrf-token", &csrf),
                )
                .await;
            assert_eq!(reply.status, 204, "{}", reply.text);
        }
        SessionEnd::Disable => {
            server
                .call(
                    &server.admin,
                    "PATCH",
                    "/api/v1/users/watcher",
                    Some(&json!({"disabled": true})),
                )
                .await
                .expect(200);
        }
        SessionEnd::Delete => {
            let reply = server
                .call(&server.admin, "DELETE", "/api/v1/users/watcher", None)
                .await;
            assert_eq!(reply.status, 204, "{}", reply.text);
        }
    }
    let rest = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream closes when its session ends")
        .unwrap();
    assert!(!rest.contains("event: end"), "{end:?}: {rest}");
    let still = server.read(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(still.expect(200)["status"], "running", "{end:?}");
    server
        .write("POST", &format!("/api/v1/runs/{run_id}/cancel"), None)
        .await;
    server.stop().await;
}
