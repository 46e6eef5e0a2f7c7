//! `clockwork run` with TypeScript files: the extension decides, `--language`
//! overrides, and errors point into the TypeScript.

#![allow(clippy::unwrap_used)]

mod run_support;

use std::io::Write;
use std::process::Stdio;

use run_support::{Scratch, finish};
use serde_json::Value;

#[test]
fn a_ts_file_runs_as_typescript() {
    let scratch = Scratch::new();
    let script = "interface Totals { done: number }\nconst totals: Totals = { done: 3 };\nreturn totals.done as number;\n";
    for name in ["nightly.ts", "nightly.mts", "nightly.cts"] {
        let (report, finished) = scratch.run_json(name, script, &[]);
        assert_eq!(finished.code, 0, "{name}: {}", finished.stderr);
        assert_eq!(report["result"], 3, "{name}");
    }
    // The same text in a .js file is JavaScript, where it is a syntax error.
    let (report, finished) = scratch.run_json("nightly.js", script, &[]);
    assert_eq!(finished.code, 1);
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("SyntaxError"),
        "{report}"
    );
}

#[test]
fn a_typescript_module_exports_its_handler() {
    let scratch = Scratch::new();
    let module = "type Event = { context: { moduleKey: string } };\nexport async function run(event: Event): Promise<string> {\n  return event.context.moduleKey;\n}\n";
    let (report, finished) = scratch.run_json("weekly-report.ts", module, &[]);
    assert_eq!(finished.code, 0, "{}", finished.stderr);
    assert_eq!(report["result"], "weekly-report");
}

#[test]
fn errors_point_into_the_typescript_source() {
    let scratch = Scratch::new();
    let script = "type Issue = { key: string };\n\n// a comment the JavaScript loses\nconst issues: Issue[] = [];\nif (issues.length === 0) {\n    throw new Error('no issues');\n}\n";
    let (report, finished) = scratch.run_json("sync.ts", script, &[]);
    assert_eq!(finished.code, 1);
    let error = &report["error"];
    assert_eq!(error["message"], "Error: no issues");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(6), Some(15))
    );
    // The human output quotes the user's own line.
    let human = finish(scratch.command().arg("sync.ts"));
    assert_eq!(human.code, 1);
    assert!(
        human
            .stderr
            .contains(" --> sync.ts:6:15\n  |\n6 |     throw new Error('no issues');\n"),
        "{}",
        human.stderr
    );
}

#[test]
fn syntax_errors_are_reported_at_their_place_and_nothing_runs() {
    let scratch = Scratch::new();
    let script = "console.log('ran');\nconst total: number = ;\n";
    let (report, finished) = scratch.run_json("broken.ts", script, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["logs"], serde_json::json!([]), "nothing ran");
    let error = &report["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("SyntaxError: "),
        "{error}"
    );
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(23))
    );
}

#[test]
fn language_flag_covers_stdin_and_rejects_unknown_names() {
    let scratch = Scratch::new();
    let mut child = scratch
        .command()
        .args(["--json", "--language", "typescript", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"const n: number = 41;\nreturn n + 1;")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], 42);

    scratch.script("job.js", "return 1;");
    let refused = finish(scratch.command().args(["--language", "coffee", "job.js"]));
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("expected javascript or typescript"),
        "{}",
        refused.stderr
    );
}
