//! Routing, health, the OpenAPI document and problem documents for paths
//! and methods that do not exist.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::sqlite().await;
    let reply = server.get("/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_path_is_a_not_found_problem() {
    let server = TestServer::sqlite().await;
    let reply = server.get("/api/v1/nothing-here").await;
    let problem = reply.problem(404);
    assert_eq!(problem["type"], "urn:clockwork:problem:not-found");
    assert_eq!(problem["instance"], "/api/v1/nothing-here");
}

#[tokio::test]
async fn a_wrong_method_is_a_method_not_allowed_problem() {
    let server = TestServer::sqlite().await;
    let reply = server
        .send(server.client.delete(server.url("/api/v1/cron/preview")))
        .await;
    reply.problem(405);
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_and_problem_documents() {
    let server = TestServer::sqlite().await;
    let reply = server.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type, "application/json");
    let document = &reply.body;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(document["info"]["title"], "Clockwork API");
    let preview = &document["paths"]["/api/v1/cron/preview"]["get"];
    assert!(preview.is_object(), "{document:#}");
    let params: Vec<&str> = preview["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["expr", "tz", "count", "from"]);
    assert!(
        preview["responses"]["422"]["content"]["application/problem+json"].is_object(),
        "{preview:#}"
    );
    assert!(document["components"]["schemas"]["Problem"].is_object());
    assert!(document["components"]["schemas"]["CronPreview"].is_object());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_and_the_documented_json() {
    let server = TestServer::sqlite().await;
    let document = server.get("/api/v1/openapi.json").await.body;
    let operations = [
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs", "post"),
        ("/api/v1/jobs/{job}", "get"),
        ("/api/v1/jobs/{job}", "put"),
        ("/api/v1/jobs/{job}", "patch"),
        ("/api/v1/jobs/{job}", "delete"),
        ("/api/v1/jobs/{job}/versions", "get"),
        ("/api/v1/jobs/{job}/run", "post"),
        ("/api/v1/jobs/{job}/pause", "post"),
        ("/api/v1/jobs/{job}/resume", "post"),
        ("/api/v1/jobs/{job}/runs", "get"),
        ("/api/v1/runs/{id}", "get"),
        ("/api/v1/runs/{id}/logs", "get"),
        ("/api/v1/runs/{id}/cancel", "post"),
        ("/api/v1/cron/preview", "get"),
        ("/api/v1/queues/{key}", "get"),
        ("/api/v1/queues/{key}/jobs/{queue_job_id}", "get"),
        ("/api/v1/chains/{id}", "get"),
        ("/api/v1/chains/{id}/cancel", "post"),
        ("/api/v1/console/run", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{name}", "patch"),
        ("/api/v1/users/{name}", "delete"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/storage", "get"),
        ("/api/v1/storage/{key}", "get"),
        ("/api/v1/storage/{key}", "put"),
        ("/api/v1/storage/{key}", "delete"),
        ("/api/v1/audit", "get"),
    ];
    for (path, method) in operations {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is missing");
        // A bearer token or the web UI's session cookie.
        assert_eq!(
            operation["security"],
            serde_json::json!([{"bearer": []}, {"session": []}]),
            "{method} {path}"
        );
    }
    for method in ["get", "post", "delete"] {
        assert!(
            document["paths"]["/api/v1/session"][method].is_object(),
            "{method} /api/v1/session is missing"
        );
    }
    assert_eq!(
        document["components"]["securitySchemes"]["session"],
        serde_json::json!({"type": "apiKey", "in": "cookie", "name": "clockwork_session",
            "description": "The web UI's session (`POST /api/v1/session`); requests that change something must also send `X-CSRF-Token` with the session's `csrf_token`"})
    );
    let properties = |schema: &str| -> Vec<String> {
        let mut names: Vec<String> = document["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    let sorted = |names: &[&str]| {
        let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(
        properties("AuditView"),
        sorted(&["id", "at", "actor", "action", "target", "detail"])
    );
    // The Job JSON, plus `retention` (per-job history bounds),
    // `queue` (the key it consumes), `progress` (chains and queues),
    // `handler` and `env` (Forge's entry point and `process.env`) and
    // `language` (JavaScript or TypeScript), `tags` and `owner` (finding it
    // among many).
    assert_eq!(
        properties("JobView"),
        sorted(&[
            "name",
            "description",
            "schedule",
            "script",
            "enabled",
            "timeout_seconds",
            "memory_limit_mb",
            "overlap",
            "misfire",
            "retry",
            "params",
            "run_as",
            "id",
            "version",
            "next_fire_at",
            "last_run",
            "created_at",
            "updated_at",
            "retention",
            "queue",
            "progress",
            "schedule_description",
            "handler",
            "env",
            "language",
            "tags",
            "owner",
        ])
    );
    // The Run JSON, plus `missed_count` (how many occurrences a
    // `missed` row stands for), `chain_id` (its chain) and `event` (the
    // queue event it consumes).
    assert_eq!(
        properties("RunView"),
        sorted(&[
            "id",
            "job_id",
            "job_version",
            "trigger",
            "status",
            "scheduled_for",
            "queued_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "attempt",
            "result",
            "error",
            "log_lines",
            "http_calls",
            "node",
            "missed_count",
            "chain_id",
            "event",
            "lateness_ms",
        ])
    );
}

#[tokio::test]
async fn wrong_json_types_name_the_field_and_the_expected_type() {
    let server = TestServer::sqlite().await;
    let base = serde_json::json!({
        "name": "typed",
        "schedule": {"cron": "@daily", "timezone": "UTC"},
        "script": "return 1",
    });
    for (field, value, expected) in [
        (
            "overlap",
            serde_json::json!({}),
            "expected a string, one of `skip`",
        ),
        (
            "overlap",
            serde_json::json!(5),
            "expected a string, one of `skip`",
        ),
        ("misfire", serde_json::json!([]), "expected a string"),
        ("enabled", serde_json::json!("yes"), "expected a boolean"),
        ("timeout_seconds", serde_json::json!("10"), "expected u32"),
        ("schedule", serde_json::json!("@daily"), "expected struct"),
        ("name", serde_json::json!({}), "expected a string"),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let reply = server.write("POST", "/api/v1/jobs", Some(&body)).await;
        assert_eq!(reply.error_fields(), [field], "{field}: {value}");
        let message = reply.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{field}: {value}: {message}");
        assert!(
            message.starts_with("invalid type"),
            "{field}: {value}: {message}"
        );
    }
    server.stop().await;
}

/// Issue 13 point 11: what `openapi-spec-validator` reported on the
/// served document (responses without `description`, shared
/// `operationId`s) and the bounds schemathesis found undeclared.
#[tokio::test]
async fn the_openapi_document_describes_every_response_and_names_each_operation_once() {
    let server = TestServer::sqlite().await;
    let document = server.get("/api/v1/openapi.json").await.body;
    let mut ids = std::collections::HashSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: {id} is used twice"
            );
            for (code, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code} has no description"
                );
            }
            assert!(operation["responses"]["503"].is_object(), "{method} {path}");
            if operation.get("requestBody").is_some() {
                for code in ["400", "413", "415", "422"] {
                    assert!(
                        operation["responses"][code].is_object(),
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    let jobs = &document["paths"]["/api/v1/jobs"]["get"]["parameters"];
    let limit = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 500);
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["UserInput"]["properties"]["password"]["minLength"],
        8
    );
    assert_eq!(schemas["JobInput"]["properties"]["name"]["maxLength"], 200);
    assert_eq!(
        document["paths"]["/api/v1/jobs/{job}/run"]["post"]["requestBody"]["required"],
        false
    );
    server.stop().await;
}

/// Issue 13 point 11 (found by schemathesis): serde read a JSON array as a
/// struct's fields in order, so `[null, null]` changed nothing and answered
/// 200; a body's struct, at any depth, is read only from an object.
#[tokio::test]
async fn an_array_is_not_read_as_an_object_body() {
    let server = TestServer::sqlite().await;
    let reply = server
        .call(
            &server.admin,
            "PATCH",
            "/api/v1/users/admin",
            Some(&serde_json::json!([null, null])),
        )
        .await;
    assert!(
        reply.problem(422)["detail"]
            .as_str()
            .unwrap()
            .contains("sequence"),
        "{}",
        reply.text
    );
    let job = serde_json::json!({"name": "nightly", "script": "export default () => 1", "retry": [3, 10]});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["retry"], "{}", reply.text);
    server.stop().await;
}

/// JSON Schema's `integer` includes `30.0`; the server reads it as 30.
#[tokio::test]
async fn an_integral_float_is_read_as_an_integer() {
    let server = TestServer::sqlite().await;
    let job = serde_json::json!({"name": "nightly", "script": "export default () => 1", "timeout_seconds": 30.0});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.expect(201)["timeout_seconds"], 30);
    let job = serde_json::json!({"name": "weekly", "script": "export default () => 1", "timeout_seconds": 30.5});
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    assert_eq!(reply.error_fields(), ["timeout_seconds"], "{}", reply.text);
    server.stop().await;
}
