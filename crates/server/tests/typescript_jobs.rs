//! Jobs written in TypeScript through `/api/v1/jobs`, on
//! SQLite and PostgreSQL: the `language` field, types never checked, and
//! syntax errors refused with their place in the TypeScript.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::TestServer;
use serde_json::{Value, json};

engine_tests!(
    a_typescript_job_is_saved_and_shown_with_its_language,
    the_language_defaults_to_javascript_and_patch_can_change_it,
    a_typescript_syntax_error_is_a_422_with_line_and_column,
    an_unknown_language_is_refused,
);

fn typed_job() -> Value {
    json!({
        "name": "typed",
        "language": "typescript",
        "script": "interface Issue { key: string }\nconst issues: Issue[] = [];\n// types are not checked:\nconst n: number = 'text' as any;\nreturn issues.length;",
    })
}

async fn a_typescript_job_is_saved_and_shown_with_its_language(server: TestServer) {
    let reply = server
        .write("POST", "/api/v1/jobs", Some(&typed_job()))
        .await;
    let job = reply.expect(201).clone();
    assert_eq!(job["language"], "typescript");
    assert_eq!(job["script"], typed_job()["script"], "kept as written");
    let read = server.read("/api/v1/jobs/typed").await;
    assert_eq!(read.expect(200)["language"], "typescript");
    let versions = server.read("/api/v1/jobs/typed/versions").await;
    let versions = versions.expect(200).clone();
    assert_eq!(
        versions["items"][0]["spec"]["language"], "typescript",
        "{versions}"
    );
}

async fn the_language_defaults_to_javascript_and_patch_can_change_it(server: TestServer) {
    let plain = json!({"name": "plain", "script": "return 1;"});
    let reply = server.write("POST", "/api/v1/jobs", Some(&plain)).await;
    assert_eq!(reply.expect(201)["language"], "javascript");
    // TypeScript syntax in a JavaScript job is a syntax error…
    let typed = json!({"script": "const n: number = 1;\nreturn n;"});
    let reply = server
        .write("PATCH", "/api/v1/jobs/plain", Some(&typed))
        .await;
    assert_eq!(reply.error_fields(), ["script"]);
    // …and fine once the job says it is TypeScript.
    let typed = json!({"script": "const n: number = 1;\nreturn n;", "language": "typescript"});
    let reply = server
        .write("PATCH", "/api/v1/jobs/plain", Some(&typed))
        .await;
    let job = reply.expect(200);
    assert_eq!(job["language"], "typescript");
    assert_eq!(job["version"], 2);
}

async fn a_typescript_syntax_error_is_a_422_with_line_and_column(server: TestServer) {
    let mut job = typed_job();
    job["script"] =
        json!("type A = { a: number };\n\nconst a: A = { a: 1 };\nconst b: number = ;\n");
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    reply.problem(422);
    assert_eq!(reply.error_fields(), ["script"]);
    let error = &reply.body["errors"][0];
    assert_eq!(error["line"], 4, "{error}");
    assert_eq!(error["column"], 19, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("SyntaxError"),
        "{error}"
    );
    let listed = server.read("/api/v1/jobs").await;
    assert_eq!(listed.expect(200)["items"], json!([]), "nothing saved");
}

async fn an_unknown_language_is_refused(server: TestServer) {
    let mut job = typed_job();
    job["language"] = json!("coffeescript");
    let reply = server.write("POST", "/api/v1/jobs", Some(&job)).await;
    reply.problem(422);
    let listed = server.read("/api/v1/jobs").await;
    assert_eq!(listed.expect(200)["items"], json!([]), "nothing saved");
}
