//! `/api/v1/jobs…` through the real router on a real port, on SQLite and
//! PostgreSQL: the happy paths, and every error path giving a problem
//! document and changing nothing.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;
use serde_json::{Value, json};
use store::JobRef;

engine_tests!(
    create_returns_the_job_with_defaults_and_its_first_fire_instant,
    a_job_reads_the_same_by_id_and_by_name,
    list_pages_in_name_order_and_filters,
    the_list_leaves_scripts_out_is_compressed_and_revalidates,
    put_saves_a_new_version_and_an_identical_put_changes_nothing,
    put_on_an_unknown_name_creates_that_job,
    patch_merges_into_the_current_version,
    an_edit_that_keeps_the_schedule_keeps_the_pending_occurrence,
    pause_and_resume_flip_enabled_without_a_new_version,
    delete_removes_the_job,
    invalid_fields_are_all_reported_with_their_paths_and_nothing_changes,
    a_script_syntax_error_names_its_line_and_column,
    an_oversized_script_is_refused_and_an_oversized_body_too,
    missing_and_invalid_tokens_are_unauthorized,
    a_viewer_reads_but_cannot_write,
    unknown_jobs_are_not_found,
    a_taken_name_and_a_stale_version_conflict,
    changes_are_audited_with_the_token_name,
    an_old_version_is_restored_by_putting_its_spec_back,
    jobs_carry_tags_and_the_list_filters_by_one,
    jobs_carry_an_owner_and_the_list_filters_by_it,
    the_audit_log_is_read_by_admins_filtered_by_job_and_actor,
    without_a_scheduler_run_cancel_and_metrics_are_unavailable,
);

fn nightly() -> Value {
    json!({
        "name": "nightly-sync",
        "description": "copies issues",
        "schedule": {"cron": "*/20 * * * * *", "timezone": "UTC"},
        "script": "return 1;",
    })
}

async fn the_list_leaves_scripts_out_is_compressed_and_revalidates(server: TestServer) {
    let mut big = nightly();
    big["script"] = json!(format!("return 1;\n//{}", "x".repeat(100_000)));
    server
        .write("POST", "/api/v1/jobs", Some(&big))
        .await
        .expect(201);
    let list = server.read("/api/v1/jobs").await;
    let item = &list.expect(200)["items"][0];
    assert_eq!(item["name"], "nightly-sync");
    assert!(item.get("script").is_none(), "{item}");
    assert!(list.text.len() < 10_000, "{} bytes", list.text.len());
    let one = server.read("/api/v1/jobs/nightly-sync").await;
    assert_eq!(one.expect(200)["script"], big["script"]);

    // Asked again with its validator: 304 and no body, until it changes.
    let tag = list.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(list.headers["cache-control"], "private, no-cache");
    let again = |tag: String| {
        server.send(
            server
                .client
                .get(server.url("/api/v1/jobs"))
                .bearer_auth(&server.viewer)
                .header("if-none-match", tag),
        )
    };
    let unchanged = again(tag.clone()).await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.text, "");
    server
        .write("POST", "/api/v1/jobs/nightly-sync/pause", None)
        .await
        .expect(200);
    let changed = again(tag.clone()).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["items"][0]["enabled"], false);
    assert_ne!(changed.headers["etag"].to_str().unwrap(), tag);

    // Compressed for a client that accepts it (this client leaves the
    // answer as it came, so the encoding can be seen).
    common::http_client();
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let gzipped = server
        .send(
            raw.get(server.url("/api/v1/jobs/nightly-sync"))
                .bearer_auth(&server.viewer)
                .header("accept-encoding", "gzip"),
        )
        .await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.headers["content-encoding"], "gzip");
}

/// What must not change when a request fails: every job as listed, every
/// version of `job`, and the audit log.
async fn snapshot(server: &TestServer) -> (Value, Value, usize) {
    let jobs = server.read("/api/v1/jobs").await.expect(200).clone();
    let mut versions = Vec::new();
    for job in jobs["items"].as_array().unwrap() {
        let path = format!("/api/v1/jobs/{}/versions", job["id"]);
        versions.push(server.read(&path).await.expect(200).clone());
    }
    let audit = server
        .store
        .audit_list(None, 500)
        .await
        .unwrap()
        .items
        .len();
    (jobs, Value::Array(versions), audit)
}

async fn create_returns_the_job_with_defaults_and_its_first_fire_instant(server: TestServer) {
    let reply = server.write("POST", "/api/v1/jobs", Some(&nightly())).await;
    let job = reply.expect(201).clone();
    let id = job["id"].as_i64().unwrap();
    assert_eq!(reply.headers["location"], format!("/api/v1/jobs/{id}"));
    assert_eq!(
        job,
        json!({
            "id": id,
            "name": "nightly-sync",
            "description": "copies issues",
            "schedule": {"cron": "*/20 * * * * *", "timezone": "UTC"},
            "schedule_description": "Every 20 seconds",
            "script": "return 1;",
            "language": "javascript",
            "enabled": true,
            "timeout_seconds": 900,
            "memory_limit_mb": 256,
            "overlap": "skip",
            "misfire": "run_once",
            "retry": {"max_attempts": 1, "backoff_seconds": 30},
            "params": {},
            "run_as": null,
            "retention": {"keep_runs": 1000, "keep_days": 30},
            "queue": null,
            "handler": null,
            "env": {},
            "tags": [],
            "owner": "",
            "progress": {"chain": null, "queue": null},
            "version": 1,
            "next_fire_at": "2026-03-07T12:00:20Z",
            "last_run": null,
            "created_at": "2026-03-07T12:00:00Z",
            "updated_at": "2026-03-07T12:00:00Z",
        })
    );
    let unscheduled = json!({"name": "by-hand", "script": "return 2"});
    let job = server
        .write("POST", "/api/v1/jobs", Some(&unscheduled))
        .await;
    assert_eq!(job.expect(201)["schedule"], Value::Null);
    assert_eq!(job.body["schedule_description"], Value::Null);
    assert_eq!(job.body["next_fire_at"], Value::Null);
}

async fn a_job_reads_the_same_by_id_and_by_name(server: TestServer) {
    let created = server.write("POST", "/api/v1/jobs", Some(&nightly())).await;
    let id = created.expect(201)["id"].clone();
    let by_id = server.read(&format!("/api/v1/jobs/{id}")).await;
    let by_name = server.read("/api/v1/jobs/nightly-sync").await;
    assert_eq!(by_id.expect(200), &created.body);
    assert_eq!(by_name.expect(200), &created.body);
}

async fn list_pages_in_name_order_and_filters(server: TestServer) {
    for name in ["charlie", "alpha", "bravo"] {
        let body = json!({"name": name, "script": "return 1"});
        server
            .write("POST", "/api/v1/jobs", Some(&body))
            .await
            .expect(201);
    }
    server
        .write("POST", "/api/v1/jobs/bravo/pause", None)
        .await
        .expect(200);
    let first = server.read("/api/v1/jobs?limit=2").await;
    assert_eq!(first.item_names(), ["alpha", "bravo"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = server
        .read(&format!("/api/v1/jobs?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.item_names(), ["charlie"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    assert_eq!(
        server.read("/api/v1/jobs?search=RAV").await.item_names(),
        ["bravo"]
    );
    assert_eq!(
        server.read("/api/v1/jobs?enabled=true").await.item_names(),
        ["alpha", "charlie"]
    );
    assert_eq!(
        server.read("/api/v1/jobs?limit=0").await.error_fields(),
        ["limit"]
    );
    assert_eq!(
        server
            .read("/api/v1/jobs?cursor=nonsense")
            .await
            .error_fields(),
        ["cursor"]
    );
    assert_eq!(
        server
            .read("/api/v1/jobs?enabled=maybe")
            .await
            .error_fields(),
        ["enabled"]
    );
}

async fn put_saves_a_new_version_and_an_identical_put_changes_nothing(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let mut edited = nightly();
    edited["script"] = json!("return 2;");
    server.clock.advance(std::time::Duration::from_secs(5));
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&edited))
        .await;
    let job = reply.expect(200);
    assert_eq!(job["version"], 2);
    assert_eq!(job["script"], "return 2;");
    assert_eq!(job["updated_at"], "2026-03-07T12:00:05Z");
    assert_eq!(job["created_at"], "2026-03-07T12:00:00Z");
    let again = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&edited))
        .await;
    assert_eq!(again.expect(200)["version"], 2);
    let versions = server.read("/api/v1/jobs/nightly-sync/versions").await;
    let items = versions.expect(200)["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["version"], 2);
    assert_eq!(items[0]["actor"], "editor");
    assert_eq!(items[0]["spec"]["script"], "return 2;");
    assert_eq!(items[1]["spec"]["script"], "return 1;");
    // What a client read can be sent back as is: read-only fields are ignored,
    // and `version` is the one the change is based on.
    let mut read_back = server.read("/api/v1/jobs/nightly-sync").await.body;
    read_back["description"] = json!("edited after reading");
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&read_back))
        .await;
    assert_eq!(reply.expect(200)["version"], 3);
}

async fn put_on_an_unknown_name_creates_that_job(server: TestServer) {
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&nightly()))
        .await;
    assert_eq!(reply.expect(201)["version"], 1);
    let before = snapshot(&server).await;
    let reply = server
        .write("PUT", "/api/v1/jobs/other-name", Some(&nightly()))
        .await;
    assert_eq!(reply.error_fields(), ["name"]);
    let reply = server
        .write("PUT", "/api/v1/jobs/12345", Some(&nightly()))
        .await;
    reply.problem(404);
    assert_eq!(snapshot(&server).await, before);
}

async fn patch_merges_into_the_current_version(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let patch = json!({"retry": {"max_attempts": 3}, "params": {"project": "OPS"}});
    let reply = server
        .write("PATCH", "/api/v1/jobs/nightly-sync", Some(&patch))
        .await;
    let job = reply.expect(200);
    assert_eq!(job["version"], 2);
    assert_eq!(
        job["retry"],
        json!({"max_attempts": 3, "backoff_seconds": 30})
    );
    assert_eq!(job["params"], json!({"project": "OPS"}));
    assert_eq!(job["script"], "return 1;");
    let reply = server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"schedule": null})),
        )
        .await;
    assert_eq!(reply.expect(200)["schedule"], Value::Null);
    assert_eq!(reply.body["next_fire_at"], Value::Null);
    let before = snapshot(&server).await;
    let reply = server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"retry": {"tries": 3}})),
        )
        .await;
    assert_eq!(reply.error_fields(), ["retry.tries"]);
    let reply = server
        .write("PATCH", "/api/v1/jobs/nightly-sync", Some(&json!([1])))
        .await;
    reply.problem(422);
    assert_eq!(snapshot(&server).await, before);
}

async fn an_edit_that_keeps_the_schedule_keeps_the_pending_occurrence(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    // The occurrence at :20 is due and not yet claimed when the edit lands.
    server.clock.advance(std::time::Duration::from_secs(25));
    let patch = json!({"script": "return 3;"});
    let reply = server
        .write("PATCH", "/api/v1/jobs/nightly-sync", Some(&patch))
        .await;
    assert_eq!(reply.expect(200)["next_fire_at"], "2026-03-07T12:00:20Z");
    let patch = json!({"schedule": {"cron": "0 0 * * * *"}});
    let reply = server
        .write("PATCH", "/api/v1/jobs/nightly-sync", Some(&patch))
        .await;
    assert_eq!(reply.expect(200)["next_fire_at"], "2026-03-07T13:00:00Z");
}

async fn pause_and_resume_flip_enabled_without_a_new_version(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let paused = server
        .write("POST", "/api/v1/jobs/nightly-sync/pause", None)
        .await;
    assert_eq!(paused.expect(200)["enabled"], false);
    assert_eq!(paused.body["next_fire_at"], Value::Null);
    assert_eq!(paused.body["version"], 1);
    server.clock.advance(std::time::Duration::from_secs(90));
    let resumed = server
        .write("POST", "/api/v1/jobs/nightly-sync/resume", None)
        .await;
    assert_eq!(resumed.expect(200)["enabled"], true);
    // From now on: occurrences passed while paused are not caught up.
    assert_eq!(resumed.body["next_fire_at"], "2026-03-07T12:01:40Z");
    assert_eq!(resumed.body["version"], 1);
    let again = server
        .write("POST", "/api/v1/jobs/nightly-sync/resume", None)
        .await;
    assert_eq!(again.expect(200), &resumed.body);
}

async fn delete_removes_the_job(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let reply = server
        .write("DELETE", "/api/v1/jobs/nightly-sync", None)
        .await;
    assert_eq!(reply.status, 204);
    server.read("/api/v1/jobs/nightly-sync").await.problem(404);
    server
        .write("DELETE", "/api/v1/jobs/nightly-sync", None)
        .await
        .problem(404);
}

async fn invalid_fields_are_all_reported_with_their_paths_and_nothing_changes(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let before = snapshot(&server).await;

    let mut unknown = nightly();
    unknown["colour"] = json!("blue");
    let reply = server.write("POST", "/api/v1/jobs", Some(&unknown)).await;
    assert_eq!(reply.error_fields(), ["colour"]);
    // It offers the fields one can set, not the read-only ones it ignores.
    let message = reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("`script`") && message.contains("`version`"),
        "{message}"
    );
    for read_only in ["`id`", "`next_fire_at`", "`created_at`", "`progress`"] {
        assert!(!message.contains(read_only), "{message}");
    }

    let mut nested = nightly();
    nested["schedule"]["zone"] = json!("UTC");
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&nested))
        .await;
    assert_eq!(reply.error_fields(), ["schedule.zone"]);

    let mut wrong_type = nightly();
    wrong_type["timeout_seconds"] = json!("soon");
    let reply = server
        .write("POST", "/api/v1/jobs", Some(&wrong_type))
        .await;
    assert_eq!(reply.error_fields(), ["timeout_seconds"]);

    let mut bad = nightly();
    bad["name"] = json!("second");
    bad["schedule"] = json!({"cron": "0 61 * * *", "timezone": "Mars/Olympus"});
    let reply = server.write("POST", "/api/v1/jobs", Some(&bad)).await;
    assert_eq!(reply.error_fields(), ["schedule.cron", "schedule.timezone"]);
    assert_eq!(reply.body["errors"][0]["column"], 3);
    assert_eq!(
        reply.body["errors"][0]["message"],
        "hour field: 61 is out of range 0-23 (column 3)"
    );

    // Valid text, but every match falls in New York's spring-forward gap.
    let mut never = nightly();
    never["name"] = json!("never-fires");
    never["schedule"] = json!({"cron": "*/30 2 * 3 SUN#2", "timezone": "America/New_York"});
    let reply = server.write("POST", "/api/v1/jobs", Some(&never)).await;
    assert_eq!(reply.error_fields(), ["schedule.cron"]);
    let message = reply.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the expression never fires in America/New_York: every time it matches falls in a daylight-saving gap"),
        "{message}"
    );

    let mut bounds = nightly();
    bounds["name"] = json!("has spaces");
    let reply = server.write("POST", "/api/v1/jobs", Some(&bounds)).await;
    assert_eq!(reply.error_fields(), ["name"]);
    let mut bounds = nightly();
    bounds["timeout_seconds"] = json!(86_401);
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&bounds))
        .await;
    assert_eq!(reply.error_fields(), ["timeout_seconds"]);
    let mut bounds = nightly();
    bounds["params"] = json!([1, 2]);
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&bounds))
        .await;
    assert_eq!(reply.error_fields(), ["params"]);

    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/jobs"))
                .bearer_auth(&server.editor)
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    reply.problem(400);
    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/jobs"))
                .bearer_auth(&server.editor)
                .header("content-type", "text/yaml")
                .body("name: x"),
        )
        .await;
    reply.problem(415);

    assert_eq!(snapshot(&server).await, before);
}

async fn a_script_syntax_error_names_its_line_and_column(server: TestServer) {
    let before = snapshot(&server).await;
    let mut job = nightly();
    job["script"] = json!("const a = 1;\nconst b = ;\nreturn a;");
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["script"]);
    let error = &reply.body["errors"][0];
    assert_eq!(error["line"], 2, "{error}");
    assert_eq!(error["column"], 11, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("SyntaxError"),
        "{error}"
    );
    let mut module = nightly();
    module["script"] =
        json!("import api from '@forge/nonexistent';\nexport async function run() {}");
    let reply = server.write("POST", "/api/v1/jobs", Some(&module)).await;
    assert_eq!(reply.error_fields(), ["script"]);
    assert_eq!(snapshot(&server).await, before);
}

async fn an_oversized_script_is_refused_and_an_oversized_body_too(server: TestServer) {
    let before = snapshot(&server).await;
    let mut job = nightly();
    job["script"] = json!(format!("//{}", "x".repeat(store::MAX_SCRIPT_BYTES)));
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["script"]);
    job["script"] = json!("x".repeat(server::MAX_BODY_BYTES));
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    let problem = reply.problem(413);
    assert_eq!(problem["type"], "urn:clockwork:problem:payload-too-large");
    // It names the limit the person can act on, not only the body's.
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("script may be at most 1048576 bytes, 1 MiB"),
        "{problem}"
    );
    assert_eq!(snapshot(&server).await, before);
}

async fn missing_and_invalid_tokens_are_unauthorized(server: TestServer) {
    let reply = server.get("/api/v1/jobs").await;
    reply.problem(401);
    assert_eq!(
        reply.headers["www-authenticate"],
        "Bearer realm=\"clockwork\""
    );
    let reply = server
        .call("cw_not-a-real-token", "GET", "/api/v1/jobs", None)
        .await;
    reply.problem(401);
    let reply = server
        .send(
            server
                .client
                .get(server.url("/api/v1/jobs"))
                .header("authorization", format!("Basic {}", server.viewer)),
        )
        .await;
    reply.problem(401);
    let before = snapshot(&server).await;
    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/jobs"))
                .header("content-type", "application/json")
                .body(nightly().to_string()),
        )
        .await;
    reply.problem(401);
    assert_eq!(snapshot(&server).await, before);
}

async fn a_viewer_reads_but_cannot_write(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let before = snapshot(&server).await;
    let viewer = server.viewer.clone();
    let attempts: [(&str, &str, Option<Value>); 6] = [
        (
            "POST",
            "/api/v1/jobs",
            Some(json!({"name": "x", "script": ""})),
        ),
        ("PUT", "/api/v1/jobs/nightly-sync", Some(nightly())),
        (
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(json!({"script": ""})),
        ),
        ("DELETE", "/api/v1/jobs/nightly-sync", None),
        ("POST", "/api/v1/jobs/nightly-sync/pause", None),
        ("POST", "/api/v1/jobs/nightly-sync/resume", None),
    ];
    for (method, path, body) in attempts {
        let reply = server.call(&viewer, method, path, body.as_ref()).await;
        assert_eq!(
            reply.problem(403)["type"],
            "urn:clockwork:problem:forbidden",
            "{method} {path}"
        );
    }
    assert_eq!(snapshot(&server).await, before);
    server
        .call(
            &server.admin,
            "POST",
            "/api/v1/jobs/nightly-sync/pause",
            None,
        )
        .await
        .expect(200);
}

async fn unknown_jobs_are_not_found(server: TestServer) {
    for path in [
        "/api/v1/jobs/nothing",
        "/api/v1/jobs/999",
        "/api/v1/jobs/nothing/versions",
        "/api/v1/jobs/nothing/runs",
    ] {
        let reply = server.read(path).await;
        assert_eq!(reply.problem(404)["instance"], path);
    }
    let reply = server
        .write(
            "PATCH",
            "/api/v1/jobs/nothing",
            Some(&json!({"script": ""})),
        )
        .await;
    reply.problem(404);
    server
        .write("POST", "/api/v1/jobs/nothing/pause", None)
        .await
        .problem(404);
}

async fn a_taken_name_and_a_stale_version_conflict(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let other = json!({"name": "other", "script": "return 1"});
    server
        .write("POST", "/api/v1/jobs", Some(&other))
        .await
        .expect(201);
    let before = snapshot(&server).await;
    let reply = server.write("POST", "/api/v1/jobs", Some(&nightly())).await;
    let problem = reply.problem(409);
    assert_eq!(problem["type"], "urn:clockwork:problem:conflict");
    // The field is named, so a form shows the error beside it.
    assert_eq!(
        problem["errors"],
        json!([{"field": "name", "message": "a job named \"nightly-sync\" already exists"}])
    );
    let rename = json!({"name": "nightly-sync"});
    server
        .write("PATCH", "/api/v1/jobs/other", Some(&rename))
        .await
        .problem(409);
    let mut stale = nightly();
    stale["version"] = json!(7);
    stale["script"] = json!("return 9;");
    let reply = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&stale))
        .await;
    assert!(
        reply.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("version 1"),
        "{}",
        reply.text
    );
    let patch = json!({"version": 0, "script": "return 9;"});
    server
        .write("PATCH", "/api/v1/jobs/nightly-sync", Some(&patch))
        .await
        .problem(409);
    assert_eq!(snapshot(&server).await, before);
}

async fn changes_are_audited_with_the_token_name(server: TestServer) {
    let job = server.write("POST", "/api/v1/jobs", Some(&nightly())).await;
    let id = job.expect(201)["id"].as_i64().unwrap();
    server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"script": "return 5;"})),
        )
        .await
        .expect(200);
    server
        .write("POST", "/api/v1/jobs/nightly-sync/pause", None)
        .await
        .expect(200);
    server
        .write("DELETE", "/api/v1/jobs/nightly-sync", None)
        .await;
    let audit = server.store.audit_list(None, 100).await.unwrap().items;
    let entries: Vec<(String, String, String)> = audit
        .iter()
        .rev()
        .map(|e| (e.actor.clone(), e.action.clone(), e.target.clone()))
        .collect();
    let target = format!("job:{id}");
    assert_eq!(
        entries,
        [
            ("editor".into(), "job.create".into(), target.clone()),
            ("editor".into(), "job.update".into(), target.clone()),
            ("editor".into(), "job.pause".into(), target.clone()),
            ("editor".into(), "job.delete".into(), target),
        ]
    );
    assert!(
        server
            .store
            .job_get(&JobRef::Id(id))
            .await
            .unwrap()
            .is_none()
    );
}

async fn jobs_carry_tags_and_the_list_filters_by_one(server: TestServer) {
    let mut tagged = nightly();
    tagged["tags"] = json!(["billing", "nightly"]);
    let job = server.write("POST", "/api/v1/jobs", Some(&tagged)).await;
    assert_eq!(job.expect(201)["tags"], json!(["billing", "nightly"]));
    let mut other = nightly();
    other["name"] = json!("other");
    server
        .write("POST", "/api/v1/jobs", Some(&other))
        .await
        .expect(201);
    let billing = server.read("/api/v1/jobs?tag=billing").await;
    assert_eq!(billing.item_names(), ["nightly-sync"]);
    assert_eq!(billing.body["total"], 1);
    assert_eq!(
        billing.body["items"][0]["tags"],
        json!(["billing", "nightly"])
    );
    assert!(
        server
            .read("/api/v1/jobs?tag=bill")
            .await
            .item_names()
            .is_empty()
    );
    assert_eq!(server.read("/api/v1/jobs").await.item_names().len(), 2);

    // A patch replaces the list; versions keep the old one.
    let patched = server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"tags": ["finance"]})),
        )
        .await;
    assert_eq!(patched.expect(200)["tags"], json!(["finance"]));
    assert!(
        server
            .read("/api/v1/jobs?tag=billing")
            .await
            .item_names()
            .is_empty()
    );
    let versions = server.read("/api/v1/jobs/nightly-sync/versions").await;
    assert_eq!(
        versions.expect(200)["items"][1]["spec"]["tags"],
        json!(["billing", "nightly"])
    );

    for bad in [
        json!(["has space"]),
        json!(["a", "a"]),
        json!([""]),
        json!("billing"),
    ] {
        let mut job = nightly();
        job["name"] = json!("bad-tags");
        job["tags"] = bad.clone();
        let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
        reply.problem(422);
        assert!(reply.text.contains("tags"), "{bad}: {}", reply.text);
    }
    assert!(server.read("/api/v1/jobs/bad-tags").await.status == 404);
}

/// The web UI's "Restore this version": the old version's `spec` sent back
/// with PUT, `version` set to the current one, makes a new version.
async fn an_old_version_is_restored_by_putting_its_spec_back(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let mut edited = nightly();
    edited["script"] = json!("return 2;");
    edited["timeout_seconds"] = json!(60);
    server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&edited))
        .await
        .expect(200);
    let versions = server.read("/api/v1/jobs/nightly-sync/versions").await;
    let mut old = versions.expect(200)["items"][1]["spec"].clone();
    assert_eq!(old["script"], "return 1;");
    old["version"] = json!(2);
    let restored = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&old))
        .await;
    let job = restored.expect(200);
    assert_eq!(job["version"], 3);
    assert_eq!(job["script"], "return 1;");
    assert_eq!(job["timeout_seconds"], 900);
    let versions = server.read("/api/v1/jobs/nightly-sync/versions").await;
    let items = versions.expect(200)["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["spec"]["script"], "return 1;");
    // Restoring onto a version that has moved on is a conflict, not a silent overwrite.
    let stale = server
        .write("PUT", "/api/v1/jobs/nightly-sync", Some(&old))
        .await;
    stale.problem(409);
}

async fn the_audit_log_is_read_by_admins_filtered_by_job_and_actor(server: TestServer) {
    let job = server.write("POST", "/api/v1/jobs", Some(&nightly())).await;
    let id = job.expect(201)["id"].as_i64().unwrap();
    let mut other = nightly();
    other["name"] = json!("other-job");
    server
        .call(&server.admin, "POST", "/api/v1/jobs", Some(&other))
        .await
        .expect(201);
    server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"script": "return 5;"})),
        )
        .await
        .expect(200);
    let read = |path: &'static str| server.call(&server.admin, "GET", path, None);

    let on_job = read("/api/v1/audit?job=nightly-sync").await;
    let actions: Vec<(&str, &str)> = on_job.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("editor", "job.update"), ("editor", "job.create")]
    );
    assert_eq!(on_job.body["items"][0]["target"], format!("job:{id}"));
    assert!(on_job.body["items"][0]["at"].is_string());

    let by_admin = read("/api/v1/audit?actor=admin").await;
    let items = by_admin.expect(200)["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["actor"] == "admin"), "{items:?}");

    let paged = read("/api/v1/audit?limit=1").await;
    let cursor = paged.expect(200)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 1);
    let next = server
        .call(
            &server.admin,
            "GET",
            &format!("/api/v1/audit?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert!(next.expect(200)["items"][0]["id"].as_i64() < paged.body["items"][0]["id"].as_i64());

    // By id, a deleted job's entries stay findable.
    server
        .write("DELETE", "/api/v1/jobs/nightly-sync", None)
        .await;
    let deleted = server
        .call(
            &server.admin,
            "GET",
            &format!("/api/v1/audit?job={id}"),
            None,
        )
        .await;
    assert_eq!(deleted.expect(200)["items"][0]["action"], "job.delete");

    read("/api/v1/audit?job=no-such-job").await.problem(404);
    read("/api/v1/audit?limit=0").await.problem(422);
    read("/api/v1/audit?cursor=bogus").await.problem(422);
    server
        .call(&server.editor, "GET", "/api/v1/audit", None)
        .await
        .problem(403);
    server.read("/api/v1/audit").await.problem(403);
}

async fn without_a_scheduler_run_cancel_and_metrics_are_unavailable(server: TestServer) {
    server
        .write("POST", "/api/v1/jobs", Some(&nightly()))
        .await
        .expect(201);
    let reply = server
        .write("POST", "/api/v1/jobs/nightly-sync/run", None)
        .await;
    assert_eq!(
        reply.problem(503)["type"],
        "urn:clockwork:problem:unavailable"
    );
    server
        .write("POST", "/api/v1/runs/1/cancel", None)
        .await
        .problem(503);
    server.read("/metrics").await.problem(503);
    let runs = server
        .store
        .runs_list(&store::RunFilter::default())
        .await
        .unwrap();
    assert!(runs.items.is_empty());
}

async fn jobs_carry_an_owner_and_the_list_filters_by_it(server: TestServer) {
    let mut owned = nightly();
    owned["owner"] = json!("Ada Lovelace <ada@example.com>");
    let job = server.write("POST", "/api/v1/jobs", Some(&owned)).await;
    assert_eq!(job.expect(201)["owner"], "Ada Lovelace <ada@example.com>");
    let mut other = nightly();
    other["name"] = json!("other");
    let other = server.write("POST", "/api/v1/jobs", Some(&other)).await;
    assert_eq!(other.expect(201)["owner"], "", "a token names no owner");
    let ada = server.read("/api/v1/jobs?owner=ada%40example").await;
    assert_eq!(ada.item_names(), ["nightly-sync"]);
    assert_eq!(ada.body["total"], 1);
    assert_eq!(
        ada.body["items"][0]["owner"],
        "Ada Lovelace <ada@example.com>"
    );
    assert!(
        server
            .read("/api/v1/jobs?owner=grace")
            .await
            .item_names()
            .is_empty()
    );
    assert_eq!(
        server.read("/api/v1/jobs?owner=").await.item_names().len(),
        2
    );

    // A patch changes it; versions keep the old one.
    let patched = server
        .write(
            "PATCH",
            "/api/v1/jobs/nightly-sync",
            Some(&json!({"owner": "Grace"})),
        )
        .await;
    assert_eq!(patched.expect(200)["owner"], "Grace");
    assert_eq!(
        server.read("/api/v1/jobs?owner=grace").await.item_names(),
        ["nightly-sync"]
    );
    let versions = server.read("/api/v1/jobs/nightly-sync/versions").await;
    assert_eq!(
        versions.expect(200)["items"][1]["spec"]["owner"],
        "Ada Lovelace <ada@example.com>"
    );

    for bad in [json!("two\nlines"), json!("x".repeat(201)), json!(["ada"])] {
        let mut job = nightly();
        job["name"] = json!("bad-owner");
        job["owner"] = bad.clone();
        let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
        reply.problem(422);
        assert!(reply.text.contains("owner"), "{bad}: {}", reply.text);
    }
    assert!(server.read("/api/v1/jobs/bad-owner").await.status == 404);
}
