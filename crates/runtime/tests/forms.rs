//! Both script forms, results, and errors with positions in the user's text.

mod common;

use common::{failure, result, run};
use runtime::{RunStatus, ScriptForm, check_syntax};
use serde_json::json;

#[tokio::test]
async fn script_style_returns_its_value() {
    assert_eq!(result("return 1 + 1").await, json!(2));
    assert_eq!(
        result("const a = await Promise.resolve(20);\nreturn { a, b: [a + 1] }").await,
        json!({"a": 20, "b": [21]})
    );
    assert_eq!(result("let x = 1;").await, json!(null), "no return is null");
    assert_eq!(result("return undefined").await, json!(null));
    assert_eq!(result("return 'text'").await, json!("text"));
}

#[tokio::test]
async fn script_style_is_strict() {
    let message = failure("undeclared = 1").await;
    assert_eq!(message, "ReferenceError: undeclared is not defined");
}

#[tokio::test]
async fn module_style_calls_run_handler_or_default() {
    assert_eq!(
        result("export async function run(event, context) { return 'run' }").await,
        json!("run")
    );
    assert_eq!(
        result("export const handler = async () => 'handler';").await,
        json!("handler")
    );
    assert_eq!(
        result("export default function () { return 'default' }").await,
        json!("default")
    );
    assert_eq!(
        result("export const run = () => 'run';\nexport default () => 'default';").await,
        json!("run"),
        "run wins over default"
    );
    assert_eq!(
        result("const x = await Promise.resolve(3);\nexport const run = () => x;").await,
        json!(3)
    );
}

#[tokio::test]
async fn module_style_gets_the_scheduled_event_and_context() {
    let mut spec = runtime::RunSpec::new(
        "export async function run(event, context) { return { event, principal: context.principal, installContext: context.installContext, job: context.job } }",
    );
    spec.job = runtime::JobInfo {
        id: "7".into(),
        name: "nightly-sync".into(),
        version: 3,
    };
    spec.sites.cloud_id = Some("abc-123".into());
    let outcome = common::run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.result,
        json!({
            "event": { "context": { "cloudId": "abc-123", "moduleKey": "nightly-sync" }, "contextToken": "" },
            "installContext": "ari:cloud:jira::site/abc-123",
            "job": { "id": "7", "name": "nightly-sync", "version": 3 },
        })
    );
}

#[tokio::test]
async fn module_without_a_handler_fails_clearly() {
    let message = failure("export const value = 1;").await;
    assert!(
        message.starts_with(
            "TypeError: the module exports no function named run or handler, no default function \
             and not exactly one function (its exports: value)"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn module_imports_the_forge_modules() {
    let script = "import api, { route, storage, startsWith } from '@forge/api';\n\
                  import { kvs, WhereConditions } from '@forge/kvs';\n\
                  import { Queue, InvocationError } from '@forge/events';\n\
                  export async function run() {\n\
                    return [typeof api.asApp, typeof route, typeof storage.get, typeof startsWith,\n\
                            typeof kvs.transact, typeof WhereConditions.beginsWith, typeof Queue, typeof InvocationError];\n\
                  }";
    assert_eq!(result(script).await, json!(vec!["function"; 8]));
}

#[tokio::test]
async fn pasted_import_lines_work_in_script_style() {
    let script = "import api, { route, assumeTrustedRoute } from '@forge/api';\n\
                  import { kvs } from '@forge/kvs';\n\
                  return [typeof api.requestJira, route`/a/${'b'}`.value, assumeTrustedRoute('/x').value, typeof kvs.get];";
    assert_eq!(
        result(script).await,
        json!(["function", "/a/b", "/x", "function"])
    );
}

#[tokio::test]
async fn thrown_errors_report_the_users_line_and_column() {
    let outcome = run("const a = 1;\nconst b = 2;\n    null.x;\n").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(
        error.message,
        "TypeError: Cannot read properties of null (reading 'x')"
    );
    assert_eq!((error.line, error.column), (Some(3), Some(5)));
    assert_eq!(
        error.stack.as_deref(),
        Some("TypeError: Cannot read properties of null (reading 'x')\n    at job.js:3:5")
    );
}

#[tokio::test]
async fn errors_on_line_one_are_not_shifted_by_the_wrapper() {
    // QuickJS places a `new X(…)` at the constructor's name.
    let error = run("throw new Error('first line')").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(11)));
    let error = run("  null.x").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(3)));
    let error = run("let q = 1;  null.x").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(13)));
    let error = run("export function run() { null.x }").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(25)));
}

#[tokio::test]
async fn errors_after_pasted_imports_keep_their_lines() {
    let script =
        "import api, {\n  route\n} from '@forge/api';\nconst x = 1;\nthrow new RangeError('here');";
    let error = run(script).await.error.unwrap();
    assert_eq!(error.message, "RangeError: here");
    assert_eq!((error.line, error.column), (Some(5), Some(11)));
}

#[tokio::test]
async fn errors_in_nested_functions_and_modules() {
    let script = "function inner() {\n  throw new TypeError('deep');\n}\nfunction outer() { inner(); }\nouter();";
    let error = run(script).await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(2), Some(13)));
    let stack = error.stack.unwrap();
    assert!(
        stack.contains("at inner (job.js:2:13)") && stack.contains("at outer (job.js:4:20)"),
        "{stack}"
    );
    let module = "import api from '@forge/api';\nexport async function run() {\n  await null;\n  throw new Error('in module');\n}";
    let error = run(module).await.error.unwrap();
    assert_eq!(error.message, "Error: in module");
    assert_eq!((error.line, error.column), (Some(4), Some(13)));
}

#[tokio::test]
async fn errors_after_await_and_in_callbacks_keep_positions() {
    let error = run("await new Promise(r => setTimeout(r, 1));\n[1].map(x => x.y.z);")
        .await
        .error
        .unwrap();
    assert_eq!(
        error.message,
        "TypeError: Cannot read properties of undefined (reading 'z')"
    );
    assert_eq!(error.line, Some(2));
}

#[tokio::test]
async fn syntax_errors_fail_before_anything_runs() {
    let outcome = run("console.log('ran');\nlet = ;").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.logs.is_empty(), "nothing ran: {:?}", outcome.logs);
    let error = outcome.error.unwrap();
    assert!(
        error.message.starts_with("SyntaxError: "),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(2));
    let error = run("let a = ;").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(9)));
    let error = run("export function run() {}\nlet b = ;")
        .await
        .error
        .unwrap();
    assert_eq!((error.line, error.column), (Some(2), Some(9)));
    let error = run("import api from '@forge/api';\nif (x {")
        .await
        .error
        .unwrap();
    assert_eq!(error.line, Some(2));
}

#[tokio::test]
async fn unclosed_blocks_are_reported_at_the_end_of_the_users_text() {
    let error = run("if (true) {\n  return 1;\n").await.error.unwrap();
    assert!(
        error.message.starts_with("SyntaxError"),
        "{}",
        error.message
    );
    assert!(error.line.unwrap() >= 3, "{error:?}");
}

#[tokio::test]
async fn thrown_non_errors_have_sensible_messages() {
    assert_eq!(failure("throw 'plain string'").await, "plain string");
    assert_eq!(failure("throw 42").await, "42");
    assert_eq!(failure("throw null").await, "null");
    assert_eq!(failure("throw undefined").await, "undefined");
    assert_eq!(failure("throw { a: 1 }").await, "{ a: 1 }");
    assert_eq!(
        failure("throw { name: 'Custom', message: 'shaped like an error' }").await,
        "Custom: shaped like an error"
    );
    assert_eq!(
        failure("const e = new Error(''); e.name = 'Nameless'; throw e").await,
        "Nameless"
    );
    assert_eq!(failure("class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }\nthrow new MyError('mine')").await, "MyError: mine");
}

#[tokio::test]
async fn rejected_main_promise_fails_the_run() {
    let error = run("await Promise.reject(new Error('rejected'))")
        .await
        .error
        .unwrap();
    assert_eq!(error.message, "Error: rejected");
    assert_eq!(error.line, Some(1));
}

#[tokio::test]
async fn unhandled_rejections_fail_the_run() {
    let outcome = run("Promise.reject(new Error('nobody listens'));\nawait new Promise(r => setTimeout(r, 50));\nreturn 'finished'").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error.message, "Error: nobody listens");
    assert_eq!((error.line, error.column), (Some(1), Some(20)));
    assert_eq!(
        failure("Promise.reject('just a string'); return 1").await,
        "just a string"
    );
    assert_eq!(
        failure("(async () => { throw new Error('async fn') })(); return 1").await,
        "Error: async fn"
    );
}

#[tokio::test]
async fn rejections_handled_in_the_same_turn_are_fine() {
    let script = "const p = Promise.reject(new Error('late'));\nawait null;\nconst caught = await p.catch(e => e.message);\nreturn caught";
    assert_eq!(result(script).await, json!("late"));
    assert_eq!(
        result("try { await Promise.reject(new Error('x')) } catch (e) { return 'caught' }").await,
        json!("caught")
    );
}

#[tokio::test]
async fn exceptions_in_timer_callbacks_fail_the_run() {
    let outcome =
        run("setTimeout(() => { throw new Error('in timer') }, 1);\nawait new Promise(() => {});")
            .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error.message, "Error: in timer");
    assert_eq!(error.line, Some(1));
}

#[tokio::test]
async fn unknown_imports_are_rejected_with_their_position() {
    let error = run("const x = 1;\nimport _ from 'lodash';\nreturn x")
        .await
        .error
        .unwrap();
    assert!(
        error
            .message
            .starts_with("Cannot import 'lodash': only @forge/api, @forge/kvs, @forge/events"),
        "{}",
        error.message
    );
    assert!(error.message.ends_with(
        "bundle npm packages into the script (esbuild --bundle --platform=node --format=esm)"
    ));
    assert_eq!((error.line, error.column), (Some(2), Some(1)));
    let error = run("export async function run() { return (await import('fs')).readFileSync }")
        .await
        .error
        .unwrap();
    assert_eq!(
        error.message,
        "Error: Cannot import 'fs': it is not available in Clockwork's sandbox \
         (scripts have no files, sockets, processes or host information)"
    );
}

#[test]
fn check_syntax_detects_the_form_and_reports_positions() {
    assert_eq!(check_syntax("return 1"), Ok(ScriptForm::Script));
    assert_eq!(
        check_syntax("import api from '@forge/api';\nreturn 1"),
        Ok(ScriptForm::Script)
    );
    assert_eq!(
        check_syntax("export async function run() {}"),
        Ok(ScriptForm::Module)
    );
    let error = check_syntax("const a = 1;\nconst b = ;").unwrap_err();
    assert_eq!((error.line, error.column), (Some(2), Some(11)));
    assert!(
        error.message.starts_with("SyntaxError: "),
        "{}",
        error.message
    );
    let error = check_syntax("x = (;").unwrap_err();
    assert_eq!((error.line, error.column), (Some(1), Some(6)));
    let error = check_syntax("export function run() {\n  return 1 +;\n}").unwrap_err();
    assert_eq!(error.line, Some(2));
    let error = check_syntax("import x from 'x';").unwrap_err();
    assert!(
        error
            .message
            .starts_with("Cannot import 'x': only @forge/api"),
        "{}",
        error.message
    );
    // `return` at the top level is fine in script style, a syntax error in a module.
    assert!(check_syntax("export const run = 1;\nreturn 2").is_err());
}

#[test]
fn check_syntax_accepts_modules_importing_every_forge_package() {
    // What a saved queue consumer or chain chunk looks like in module style.
    let source = "import api, { route } from '@forge/api';\n\
                  import { kvs } from '@forge/kvs';\n\
                  import { Queue, InvocationError } from '@forge/events';\n\
                  export async function run(event, context) { return 1; }";
    assert_eq!(check_syntax(source), Ok(ScriptForm::Module));
    let error =
        check_syntax("import { kvs } from '@forge/kvs';\nexport const run = (;").unwrap_err();
    assert_eq!(error.line, Some(2));
}

#[test]
fn check_syntax_does_not_run_the_script() {
    // Closing the wrapper early runs code at the top level of the check; the
    // check's own time limit ends it.
    let started = std::time::Instant::now();
    let checked = check_syntax("}); while (true) {} (function () {");
    assert!(checked.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(check_syntax("while (true) {}"), Ok(ScriptForm::Script));
}

#[tokio::test]
async fn failed_host_calls_point_at_the_call_in_the_script() {
    let error = run("const a = 1;\n  await kvs.get('a/b');")
        .await
        .error
        .unwrap();
    assert!(
        error.message.starts_with("Error: Invalid key \"a/b\""),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(2));
    let error = run("const q = new Queue({ key: 'q' });\n\nawait q.getJob('none').getStats();")
        .await
        .error
        .unwrap();
    assert_eq!(error.line, Some(3));
    let error = run("await fetch('https://example.test/');")
        .await
        .error
        .unwrap();
    assert!(
        error.message.contains("no HTTP client is configured"),
        "{}",
        error.message
    );
    assert_eq!(error.line, Some(1));
    let error = run("const r = route`/a/${'..'}`;").await.error.unwrap();
    assert_eq!((error.line, error.column), (Some(1), Some(11)));
    // Clockwork's own frames are left out: the stack ends at the script's line.
    let stack = error.stack.unwrap();
    assert!(
        !stack.contains("clockwork") && stack.ends_with("at job.js:1:11"),
        "{stack}"
    );
}

#[tokio::test]
async fn many_rejections_handled_later_are_fine() {
    let script = "const tasks = Array.from({ length: 3000 }, async (_, i) => { throw new Error('task ' + i) });\n\
                  const settled = await Promise.allSettled(tasks);\n\
                  return settled.filter(s => s.status === 'rejected').length";
    assert_eq!(result(script).await, json!(3000));
}

#[tokio::test]
async fn endless_unhandled_rejections_end_the_run() {
    let error = run("const kept = [];\nfor (let i = 0; ; i++) kept.push(Promise.reject(i));")
        .await
        .error
        .unwrap();
    assert_eq!(
        error.message,
        "too many unhandled promise rejections (more than 100000)"
    );
    let error =
        run("for (let i = 0; i < 500; i++) Promise.reject(new Error('lost ' + i));\nreturn 1")
            .await
            .error
            .unwrap();
    assert_eq!(error.message, "Error: lost 0");
}
