//! TypeScript scripts: types stripped (never checked), both forms, and
//! error positions in the user's TypeScript.

mod common;

use common::run_spec;
use runtime::{Language, Outcome, RunSpec, RunStatus, ScriptForm, check_script};
use serde_json::json;

async fn run_ts(script: &str) -> Outcome {
    let mut spec = RunSpec::new(script);
    spec.language = Language::TypeScript;
    run_spec(spec).await
}

async fn result_ts(script: &str) -> serde_json::Value {
    let outcome = run_ts(script).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "script failed: {:?}",
        outcome.error
    );
    outcome.result
}

#[tokio::test]
async fn a_typescript_script_body_runs() {
    let script = "import api, { route, type Route } from '@forge/api';\n\
                  interface Issue { key: string; fields?: { summary: string } }\n\
                  const V: number = 1;\n\
                  const issues: Issue[] = [{ key: 'OPS-1' }];\n\
                  const path: Route = route`/rest/api/3/myself`;\n\
                  return { v: V as number, keys: issues.map((i: Issue): string => i.key), path: path.value, api: typeof api };";
    assert_eq!(
        result_ts(script).await,
        json!({"v": 1, "keys": ["OPS-1"], "path": "/rest/api/3/myself", "api": "object"})
    );
}

#[tokio::test]
async fn a_typescript_module_runs_with_what_typescript_adds_at_run_time() {
    let module = "import { storage } from '@forge/api';\n\
                  enum Level { Low = 1, High = 5 }\n\
                  type Event = { context: { moduleKey: string } };\n\
                  class Counter {\n  constructor(private start: number) {}\n  next(): number { return this.start + 1; }\n}\n\
                  export async function run(event: Event, context: unknown): Promise<object> {\n\
                    await storage.set('k', Level.High);\n\
                    const n = new Counter(41).next();\n\
                    return { n, level: Level[5], stored: await storage.get('k'), key: event.context.moduleKey };\n\
                  }";
    assert_eq!(
        result_ts(module).await,
        json!({"n": 42, "level": "High", "stored": 5, "key": ""})
    );
}

#[tokio::test]
async fn type_errors_do_not_stop_a_script() {
    assert_eq!(
        result_ts("const n: number = 'text' as unknown as number;\nreturn n;").await,
        json!("text")
    );
    assert_eq!(
        check_script("let a: string = 1;", Language::TypeScript),
        Ok(ScriptForm::Script)
    );
}

#[tokio::test]
async fn thrown_errors_report_the_line_and_column_of_the_typescript() {
    // Blank lines, comments and a type alias vanish from the printed
    // JavaScript: the position must still be the TypeScript's.
    let script = "type Row = { id: number };\n\n// fetch the rows\nconst rows: Row[] = [];\n\n    const first: Row | undefined = rows[0]!;\n  throw new Error(`no row`);\n";
    let outcome = run_ts(script).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap();
    assert_eq!(error.message, "Error: no row");
    assert_eq!((error.line, error.column), (Some(7), Some(13)));
    let stack = error.stack.unwrap();
    assert!(stack.ends_with("at job.ts:7:13"), "{stack}");
}

#[tokio::test]
async fn errors_in_typescript_modules_map_through_nested_frames() {
    let module = "interface Options { deep: boolean }\n\
                  function inner(options: Options): never {\n\
                    throw new TypeError('deep');\n\
                  }\n\
                  export async function run(): Promise<void> {\n\
                    await null;\n\
                    inner({ deep: true } satisfies Options);\n\
                  }";
    let error = run_ts(module).await.error.unwrap();
    assert_eq!(error.message, "TypeError: deep");
    assert_eq!((error.line, error.column), (Some(3), Some(11)));
    let stack = error.stack.unwrap();
    assert!(
        stack.contains(":3:11)") && stack.contains(":7:1)"),
        "{stack}"
    );
}

#[tokio::test]
async fn syntax_errors_are_reported_at_their_place_before_anything_runs() {
    let outcome = run_ts("console.log('ran');\nconst a: number = 1;\nconst b: string = ;").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.logs.is_empty(), "nothing ran: {:?}", outcome.logs);
    let error = outcome.error.unwrap();
    assert!(
        error.message.starts_with("SyntaxError: "),
        "{}",
        error.message
    );
    assert_eq!((error.line, error.column), (Some(3), Some(19)));

    let error = check_script(
        "export function run(a: number {\n  return a;\n}",
        Language::TypeScript,
    )
    .unwrap_err();
    assert!(error.message.starts_with("SyntaxError: "), "{error:?}");
    assert_eq!((error.line, error.column), (Some(1), Some(31)));
}

#[tokio::test]
async fn javascript_is_not_read_as_typescript() {
    // `<T>` would be a type assertion in TypeScript; in JavaScript it is
    // a syntax error, and JavaScript stays the default.
    assert!(check_script("const x = <number>1;", Language::JavaScript).is_err());
    assert!(check_script("const x = <number>1;", Language::TypeScript).is_ok());
    assert_eq!(RunSpec::new("1").language, Language::JavaScript);
}

#[tokio::test]
async fn imports_of_unknown_modules_are_reported_in_the_typescript() {
    let error = check_script(
        "type A = string;\n\nimport x from 'left-pad';\nx();",
        Language::TypeScript,
    )
    .unwrap_err();
    assert!(error.message.contains("left-pad"), "{error:?}");
    assert_eq!(error.line, Some(3));
}
