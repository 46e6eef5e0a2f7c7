//! `GET /api/v1/cron/preview` through the real router on a real port.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn a_six_field_expression_lists_its_next_instants_and_description() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read(
            "/api/v1/cron/preview?expr=*/20%20*%20*%20*%20*%20*&count=3&from=2026-03-07T12:00:00Z",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(
        reply.body,
        json!({
            "expr": "*/20 * * * * *",
            "timezone": "UTC",
            "description": "Every 20 seconds",
            "next": [
                "2026-03-07T12:00:20+00:00",
                "2026-03-07T12:00:40+00:00",
                "2026-03-07T12:01:00+00:00"
            ]
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn instants_follow_the_zone_and_its_dst_rules() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read("/api/v1/cron/preview?expr=30+2+*+*+*&tz=America/New_York&count=2&from=2026-03-07T12:00:00Z")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["timezone"], "America/New_York");
    assert_eq!(
        reply.body["next"],
        json!(["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
    );
}

#[tokio::test]
async fn count_defaults_to_five() {
    let server = TestServer::sqlite().await;
    let reply = server.read("/api/v1/cron/preview?expr=@hourly").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["next"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_bad_expression_is_a_problem_naming_expr_and_its_column() {
    let server = TestServer::sqlite().await;
    let reply = server.read("/api/v1/cron/preview?expr=0+60+*+*+*+*").await;
    let problem = reply.problem(422);
    assert_eq!(problem["type"], "urn:clockwork:problem:validation");
    assert_eq!(problem["instance"], "/api/v1/cron/preview");
    assert_eq!(
        problem["errors"],
        json!([{
            "field": "expr",
            "message": "minute field: 60 is out of range 0-59 (column 3)",
            "column": 3
        }])
    );
    assert_eq!(
        problem["detail"],
        "expr: minute field: 60 is out of range 0-59 (column 3)"
    );
}

#[tokio::test]
async fn every_invalid_parameter_is_reported_at_once() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read("/api/v1/cron/preview?expr=*+*+*+*+*&tz=Mars/Base&count=0&from=yesterday")
        .await;
    assert_eq!(reply.error_fields(), ["tz", "count", "from"]);
    assert_eq!(
        reply.body["errors"][0]["message"],
        "unknown time zone \"Mars/Base\""
    );
    assert_eq!(reply.body["detail"], "3 fields are invalid");
}

#[tokio::test]
async fn a_count_above_the_cap_is_refused() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read("/api/v1/cron/preview?expr=@daily&count=101")
        .await;
    assert_eq!(reply.error_fields(), ["count"]);
}

#[tokio::test]
async fn a_missing_expression_is_named() {
    let server = TestServer::sqlite().await;
    let reply = server.read("/api/v1/cron/preview?tz=UTC").await;
    assert_eq!(reply.error_fields(), ["expr"]);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("missing field")
    );
}

#[tokio::test]
async fn a_count_that_is_not_a_number_is_named() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read("/api/v1/cron/preview?expr=@daily&count=ten")
        .await;
    assert_eq!(reply.error_fields(), ["count"]);
}

#[tokio::test]
async fn an_unknown_parameter_is_refused_not_ignored() {
    let server = TestServer::sqlite().await;
    let reply = server.read("/api/v1/cron/preview?expr=@daily&cnt=3").await;
    assert_eq!(reply.error_fields(), ["cnt"]);
}

#[tokio::test]
async fn the_preview_needs_credentials_as_documented() {
    let server = TestServer::sqlite().await;
    let reply = server.get("/api/v1/cron/preview?expr=@daily").await;
    reply.problem(401);
    let document = server.get("/api/v1/openapi.json").await.body;
    let operation = &document["paths"]["/api/v1/cron/preview"]["get"];
    assert!(operation["security"].is_array(), "{operation:#}");
    assert!(operation["responses"]["401"].is_object(), "{operation:#}");
    server.stop().await;
}

#[tokio::test]
async fn an_expression_that_never_fires_in_the_zone_is_a_problem_saying_why() {
    let server = TestServer::sqlite().await;
    let reply = server
        .read("/api/v1/cron/preview?expr=*/30+2+*+3+SUN%232&tz=America/New_York")
        .await;
    let problem = reply.problem(422);
    assert_eq!(problem["errors"][0]["field"], "expr");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("never fires in America/New_York"),
        "{message}"
    );
    assert!(message.contains("daylight-saving gap"), "{message}");
}
