//! Error messages and stack traces as Node prints them (issue 11, point 8).

mod common;

use common::{failure, result, run_spec};
use runtime::{JobInfo, Language, RunSpec, RunStatus};
use serde_json::json;

#[tokio::test]
async fn common_type_errors_read_as_node_writes_them() {
    let cases = [
        (
            "let o; o.x",
            "TypeError: Cannot read properties of undefined (reading 'x')",
        ),
        (
            "const issue = { fields: null };\nissue.fields.summary",
            "TypeError: Cannot read properties of null (reading 'summary')",
        ),
        (
            "let o; o.x = 1",
            "TypeError: Cannot set properties of undefined (setting 'x')",
        ),
        (
            "const o = {}; o.foo()",
            "TypeError: o.foo is not a function",
        ),
        ("let f = 1; f()", "TypeError: f is not a function"),
        (
            "import api from '@forge/api';\nawait api.asApp().requestJiraa('/x')",
            "TypeError: api.asApp(...).requestJiraa is not a function",
        ),
        // Known difference: the engine places this error at the enclosing
        // function's start, so the declaration cannot be read (see messages.rs).
        (
            "const {a} = undefined;",
            "TypeError: Cannot convert undefined or null to object",
        ),
        (
            "const c = 1; c = 2;",
            "TypeError: Assignment to constant variable.",
        ),
        (
            "undefinedFn()",
            "ReferenceError: undefinedFn is not defined",
        ),
    ];
    for (script, expected) in cases {
        assert_eq!(failure(script).await, expected, "{script}");
    }
}

#[tokio::test]
async fn caught_errors_carry_nodes_message_and_stack() {
    let script = "try { null.x } catch (e) { return [e.message, e.stack] }";
    assert_eq!(
        result(script).await,
        json!([
            "Cannot read properties of null (reading 'x')",
            "TypeError: Cannot read properties of null (reading 'x')\n    at job.js:1:7"
        ])
    );
}

#[tokio::test]
async fn errors_the_script_throws_keep_their_words() {
    assert_eq!(
        failure("throw new TypeError('not a function')").await,
        "TypeError: not a function"
    );
    assert_eq!(
        failure("throw new Error('x is read-only')").await,
        "Error: x is read-only"
    );
}

fn named(script: &str, job: &str, language: Language) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.language = language;
    spec.job = JobInfo {
        name: job.to_owned(),
        ..JobInfo::default()
    };
    spec
}

#[tokio::test]
async fn stacks_name_the_jobs_file_without_internal_frames() {
    let script = "import api, { route } from '@forge/api';\n\
                  function load(key) {\n  return key.fields.summary;\n}\n\
                  export async function run() {\n  await api.asApp().requestJira(route`/rest/api/3/myself`).catch(() => null);\n  return load({});\n}";
    let outcome = run_spec(named(script, "nightly-sync", Language::JavaScript)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(
        error.stack.as_deref(),
        Some(
            "TypeError: Cannot read properties of undefined (reading 'summary')\n    at load (nightly-sync.js:3:10)\n    at run (nightly-sync.js:7:10)"
        )
    );
    assert_eq!((error.line, error.column), (Some(3), Some(10)));
}

#[tokio::test]
async fn an_error_inside_the_forge_api_shows_only_the_users_frames() {
    let script = "import api from '@forge/api';\nawait api.asApp().requestJira('/not-a-route');";
    let outcome = run_spec(named(script, "sync", Language::JavaScript)).await;
    let stack = outcome.error.unwrap().stack.unwrap();
    assert!(!stack.contains("clockwork"), "{stack}");
    assert!(stack.ends_with("\n    at sync.js:2:19"), "{stack}");
}

#[tokio::test]
async fn typescript_stacks_point_into_the_typescript() {
    let script = "interface Issue { key: string }\n\
                  const find = (issues: Issue[], n: number): Issue => issues[n];\n\
                  export const run = async (): Promise<string> => {\n  const issue: Issue = find([], 3);\n  return issue.key;\n};";
    let outcome = run_spec(named(script, "weekly", Language::TypeScript)).await;
    let error = outcome.error.unwrap();
    assert_eq!(
        error.message,
        "TypeError: Cannot read properties of undefined (reading 'key')"
    );
    assert_eq!((error.line, error.column), (Some(5), Some(10)));
    assert_eq!(
        error.stack.as_deref(),
        Some(
            "TypeError: Cannot read properties of undefined (reading 'key')\n    at run (weekly.ts:5:10)"
        )
    );
}

#[tokio::test]
async fn the_script_name_wins_over_the_jobs() {
    let mut spec = named("null.x", "nightly", Language::JavaScript);
    spec.script_name = Some(String::from("nightly-sync.js"));
    let error = run_spec(spec).await.error.unwrap();
    assert_eq!(
        error.stack.as_deref(),
        Some("TypeError: Cannot read properties of null (reading 'x')\n    at nightly-sync.js:1:1")
    );
}

#[tokio::test]
async fn assigning_a_constant_reads_as_node_says_it() {
    // QuickJS places the error at a later use of the name (line 3 here).
    let script = "const limit: number = 3;\nlimit = 4;\nreturn limit;";
    let error = run_spec(named(script, "weekly", Language::TypeScript))
        .await
        .error
        .unwrap();
    assert_eq!(error.message, "TypeError: Assignment to constant variable.");
    assert_eq!(
        failure("'use strict';\nconst o = Object.freeze({ x: 1 });\no.x = 2;").await,
        "TypeError: 'x' is read-only"
    );
}
