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
