//! `clockwork run` as a real process, with no site: the `--json` report,
//! the human output, exit statuses, error positions, limits, storage in the
//! data directory, queues, configuration from flags and the environment.

#![allow(clippy::unwrap_used)]

mod run_support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use run_support::{Scratch, bare_command, finish, log_messages};
use serde_json::{Value, json};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

// ---------------------------------------------------------------------------
// The report and the exit statuses

#[test]
fn json_report_has_exactly_the_documented_shape() {
    let scratch = Scratch::new();
    let (report, finished) = scratch.run_json(
        "job.js",
        "console.log('hello');\nconsole.warn('careful');\nconsole.error('bad');\nconsole.debug('detail');\n\
         return { answer: 42, list: [1, 'two', null] }",
        &[],
    );
    assert_eq!(finished.code, 0);
    assert_eq!(finished.stderr, "");
    assert_eq!(
        keys(&report),
        [
            "duration_ms",
            "error",
            "http_calls",
            "logs",
            "result",
            "status"
        ]
    );
    assert_eq!(report["status"], "succeeded");
    assert_eq!(
        report["result"],
        json!({"answer": 42, "list": [1, "two", null]})
    );
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["http_calls"], json!([]));
    assert!(report["duration_ms"].is_u64());
    let logs = report["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4);
    for line in logs {
        assert_eq!(keys(line), ["level", "message", "ts"]);
        let ts: jiff::Timestamp = line["ts"].as_str().unwrap().parse().unwrap();
        assert!(ts <= jiff::Timestamp::now());
    }
    let levels: Vec<&str> = logs.iter().map(|l| l["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["info", "warn", "error", "debug"]);
    assert_eq!(log_messages(&report), ["hello", "careful", "bad", "detail"]);
}

#[test]
fn a_thrown_error_fails_with_message_stack_line_and_column() {
    let scratch = Scratch::new();
    let script =
        "const a = 1;\nfunction check() {\n  throw new RangeError('out of range');\n}\ncheck();";
    let (report, finished) = scratch.run_json("job.js", script, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["result"], Value::Null);
    let error = &report["error"];
    assert_eq!(keys(error), ["column", "line", "message", "stack"]);
    assert_eq!(error["message"], "RangeError: out of range");
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(3), Some(13))
    );
    let stack = error["stack"].as_str().unwrap();
    assert!(stack.contains(":3:13"), "{stack}");

    let module = "import api from '@forge/api';\n\nexport async function run(event, context) {\n  await null;\n  return context.nothing.here;\n}";
    let (report, finished) = scratch.run_json("module.js", module, &[]);
    assert_eq!(finished.code, 1);
    let error = &report["error"];
    assert_eq!(
        error["message"],
        "TypeError: Cannot read properties of undefined (reading 'here')"
    );
    assert_eq!(error["line"], 5);
}

#[test]
fn the_human_output_underlines_the_offending_column() {
    let scratch = Scratch::new();
    scratch.script(
        "sync.js",
        "console.log('before');\nconst issue = null;\n\tissue.fields;\n",
    );
    let finished = finish(scratch.command().arg("sync.js"));
    assert_eq!(finished.code, 1);
    assert_eq!(finished.stdout, "", "a failed run prints no result");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert!(lines[0].ends_with("INFO  before"), "{lines:?}");
    assert!(lines[1].starts_with("failed after "), "{lines:?}");
    assert_eq!(
        &lines[2..7],
        [
            "error: TypeError: Cannot read properties of null (reading 'fields')",
            " --> sync.js:3:2",
            "  |",
            "3 | \tissue.fields;",
            "  | \t^",
        ]
    );
    assert_eq!(lines[7].trim(), "at sync.js:3:2");
}

#[test]
fn syntax_errors_are_positioned_and_nothing_runs() {
    let scratch = Scratch::new();
    let script = "console.log('ran');\nconst broken = {;\n";
    let (report, finished) = scratch.run_json("job.js", script, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["logs"], json!([]), "nothing ran");
    let error = &report["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("SyntaxError: "),
        "{error}"
    );
    assert_eq!(error["line"], 2);
    let column = error["column"].as_u64().unwrap();
    assert!((1..=17).contains(&column), "{error}");

    scratch.script("broken.js", script);
    let human = finish(scratch.command().arg("broken.js"));
    assert_eq!(human.code, 1);
    let caret = format!("  | {}^", " ".repeat(column as usize - 1));
    assert!(
        human.stderr.contains(&format!(
            " --> broken.js:2:{column}\n  |\n2 | const broken = {{;\n{caret}\n"
        )),
        "{}",
        human.stderr
    );

    let module = "export async function run() {\n  return 1 +;\n}";
    let (report, _) = scratch.run_json("module.js", module, &[]);
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("SyntaxError")
    );
    assert_eq!(report["error"]["line"], 2);
}

#[test]
fn unhandled_rejections_fail_the_run() {
    let scratch = Scratch::new();
    let script = "Promise.reject(new Error('nobody listens'));\nawait new Promise(r => setTimeout(r, 20));\nreturn 'finished'";
    let (report, finished) = scratch.run_json("job.js", script, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["result"], Value::Null);
    assert_eq!(report["error"]["message"], "Error: nobody listens");
    assert_eq!(
        (
            report["error"]["line"].as_u64(),
            report["error"]["column"].as_u64()
        ),
        (Some(1), Some(20))
    );

    let module = "export async function run() {\n  setTimeout(() => { Promise.reject(new TypeError('late')) }, 0);\n  await new Promise(r => setTimeout(r, 20));\n  return 'finished';\n}";
    let (report, finished) = scratch.run_json("module.js", module, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["error"]["message"], "TypeError: late");
    assert_eq!(report["error"]["line"], 2);
}

/// Runs `args` (the script `ok.js` exists) and asserts exit 2, nothing on
/// stdout and one `error:` line naming `expected` (after the warnings a
/// secret given as an argument draws).
fn assert_usage_error(scratch: &Scratch, args: &[&str], expected: &str) {
    let finished = finish(scratch.command().arg("--json").args(args));
    assert_eq!(finished.code, 2, "{args:?}: {}", finished.stderr);
    assert_eq!(finished.stdout, "", "{args:?}");
    let error: String = finished
        .stderr
        .lines()
        .skip_while(|line| line.starts_with("warning: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.starts_with("error: "),
        "{args:?}: {}",
        finished.stderr
    );
    assert!(error.contains(expected), "{args:?}: {}", finished.stderr);
}

#[test]
fn bad_usage_and_unreadable_scripts_exit_2() {
    let scratch = Scratch::new();
    scratch.script("ok.js", "return 1");
    std::fs::write(scratch.path().join("latin1.js"), b"return '\xe9t\xe9'").unwrap();
    std::fs::create_dir(scratch.path().join("folder.js")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--frobnicate", "ok.js"], "--frobnicate"),
        (&[], "<SCRIPT>"),
        (
            &["--timeout", "90", "ok.js"],
            "add a unit: 90s, 90m or 90ms",
        ),
        (
            &["--timeout", "soon", "ok.js"],
            "expected a duration such as 500ms, 90s, 15m or 1h30m",
        ),
        (&["--timeout", "25h", "ok.js"], "the timeout is at most 24h"),
        (
            &["--timeout", "0s", "ok.js"],
            "the timeout must be positive",
        ),
        (&["--memory-limit", "0", "ok.js"], "--memory-limit"),
        (&["--memory-limit", "lots", "ok.js"], "--memory-limit"),
        (&["--params", "[1]", "ok.js"], "expected a JSON object"),
        (&["--params", "{oops", "ok.js"], "not valid JSON"),
        (&["--email", "a@b.c", "ok.js"], "--email needs --api-token"),
        (
            &["--api-token", "t0k3n", "ok.js"],
            "--api-token needs --email",
        ),
        (
            &[
                "--bearer-token",
                "b",
                "--email",
                "a@b.c",
                "--api-token",
                "t",
                "ok.js",
            ],
            "give either --bearer-token or --email with --api-token, not both",
        ),
        (
            &["--jira-url", "acme.atlassian.net", "ok.js"],
            "--jira-url must be an absolute http(s) URL",
        ),
        (
            &["--confluence-url", "ftp://wiki", "ok.js"],
            "--confluence-url must be an absolute http(s) URL",
        ),
        (&["--color", "sometimes", "ok.js"], "--color"),
        (&["missing.js"], "cannot read the script missing.js"),
        (&["folder.js"], "cannot read the script folder.js"),
        (
            &["latin1.js"],
            "the script latin1.js is not UTF-8 text (invalid byte at offset 8)",
        ),
    ];
    for (args, expected) in cases {
        assert_usage_error(&scratch, args, expected);
    }
    // Secrets given on the command line are never echoed in usage errors.
    let finished = finish(
        scratch
            .command()
            .args(["--api-token", "t0k3n-visible", "ok.js"]),
    );
    assert!(
        !finished.stderr.contains("t0k3n-visible"),
        "{}",
        finished.stderr
    );
}

#[test]
fn a_closed_stdout_keeps_the_runs_exit_status() {
    let scratch = Scratch::new();
    scratch.script(
        "fails.js",
        "console.log('x'.repeat(100000));\nthrow new Error('failed')",
    );
    let mut child = scratch
        .command()
        .args(["--json", "fails.js"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `clockwork run --json … | head -c 0`: the reader is gone first.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "a closed pipe is not an error to report"
    );
}

#[test]
fn the_script_can_come_from_stdin() {
    let scratch = Scratch::new();
    let mut child = scratch
        .command()
        .args(["--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"export default async (event) => event.context.moduleKey")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "stdin");
}

// ---------------------------------------------------------------------------
// Human output

#[test]
fn logs_show_time_and_level_then_the_result_on_stdout() {
    let scratch = Scratch::new();
    scratch.script(
        "report.js",
        "console.log('starting');\nconsole.info('two\\nlines');\nconsole.warn('slow');\nconsole.error('oops');\n\
         console.debug('detail');\nreturn { done: true }",
    );
    let finished = finish(scratch.command().arg("report.js"));
    assert_eq!(finished.code, 0);
    assert_eq!(finished.stdout, "{\n  \"done\": true\n}\n");
    assert!(
        !finished.stderr.contains('\x1b'),
        "no colour without a terminal"
    );
    let lines: Vec<&str> = finished.stderr.lines().collect();
    let expected = [
        ("INFO ", "starting"),
        ("INFO ", "two"),
        ("", "lines"),
        ("WARN ", "slow"),
        ("ERROR", "oops"),
        ("DEBUG", "detail"),
    ];
    for (line, (level, message)) in lines.iter().zip(expected) {
        if level.is_empty() {
            assert_eq!(
                *line,
                format!("{}{message}", " ".repeat(19)),
                "continuation lines align"
            );
            continue;
        }
        let (time, rest) = line.split_at(12);
        assert!(is_clock_time(time), "{line}");
        assert_eq!(rest, format!(" {level} {message}"));
    }
    assert!(lines[6].starts_with("succeeded in "), "{lines:?}");
    assert!(lines[6].ends_with(", 0 HTTP calls"), "{lines:?}");
    assert_eq!(lines.len(), 7);
}

/// `HH:MM:SS.mmm`.
fn is_clock_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 12
        && bytes.iter().enumerate().all(|(i, b)| match i {
            2 | 5 => *b == b':',
            8 => *b == b'.',
            _ => b.is_ascii_digit(),
        })
}

#[test]
fn colour_only_on_a_terminal_without_no_color_or_when_asked() {
    let scratch = Scratch::new();
    scratch.script("hello.js", "console.warn('hi');\nreturn 1");
    let forced = finish(scratch.command().args(["--color", "always", "hello.js"]));
    assert!(
        forced.stderr.contains("\x1b[33mWARN \x1b[0m hi"),
        "{:?}",
        forced.stderr
    );
    assert_eq!(forced.stdout, "1\n", "the result is never coloured");
    let never = finish(scratch.command().args(["--color", "never", "hello.js"]));
    assert!(!never.stderr.contains('\x1b'));

    // A real terminal: `script` runs the binary on a pseudo-terminal.
    let on_terminal = |no_color: Option<&str>| {
        let command_line = format!(
            "{} run --data-dir {} hello.js",
            env!("CARGO_BIN_EXE_clockwork"),
            scratch.data_dir().display()
        );
        let mut script = std::process::Command::new("script");
        script
            .env_clear()
            .current_dir(scratch.path())
            .args(["-qec", &command_line, "/dev/null"]);
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let output = finish(&mut script);
        assert_eq!(output.code, 0, "{output:?}");
        output.stdout
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\x1b[33mWARN \x1b[0m hi"), "{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("WARN  hi"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "NO_COLOR is honoured: {plain:?}");
    assert!(
        on_terminal(Some("")).contains('\x1b'),
        "an empty NO_COLOR is unset"
    );
}

#[test]
fn logs_appear_live_and_ctrl_c_cancels_the_run() {
    let scratch = Scratch::new();
    scratch.script(
        "wait.js",
        "console.log('waiting for ever');\nawait new Promise(() => {});",
    );
    let mut child = scratch
        .command()
        .args(["--timeout", "10m", "wait.js"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.ends_with("INFO  waiting for ever\n"), "{first:?}");
    // The line arrived while the run is still going: interrupt it.
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.starts_with("cancelled after "), "{rest}");
}

// ---------------------------------------------------------------------------
// Limits

#[test]
fn a_busy_script_and_a_never_settling_await_time_out() {
    let scratch = Scratch::new();
    let (report, finished) =
        scratch.run_json("busy.js", "while (true) {}", &["--timeout", "500ms"]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "timed_out");
    assert_eq!(report["error"]["message"], "timed out after 500 ms");
    assert!(report["duration_ms"].as_u64().unwrap() >= 500);

    scratch.script(
        "never.js",
        "console.log('started');\nawait new Promise(() => {});",
    );
    let human = finish(scratch.command().args(["--timeout", "1s", "never.js"]));
    assert_eq!(human.code, 1);
    assert!(
        human.stderr.contains("timed out after "),
        "{}",
        human.stderr
    );
    assert!(
        human.stderr.contains("error: timed out after 1"),
        "{}",
        human.stderr
    );
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let scratch = Scratch::new();
    let (report, finished) = scratch.run_json(
        "grow.js",
        "const hoard = [];\nwhile (true) hoard.push(new Array(1e5).fill(1.5));",
        &["--memory-limit", "32"],
    );
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"]["message"], "memory limit exceeded (32 MiB)");

    let (report, _) = scratch.run_json(
        "huge.js",
        "const s = 'x'.repeat(300 * 1024 * 1024);\nreturn s.length",
        &[],
    );
    assert_eq!(
        report["error"]["message"], "memory limit exceeded (256 MiB)",
        "the default"
    );
}

#[test]
fn endless_logging_keeps_5_mb_and_a_marker() {
    let scratch = Scratch::new();
    let script =
        "for (let i = 0; ; i++) console.log(String(i).padStart(8, '0') + 'x'.repeat(99_992));";
    let (report, finished) = scratch.run_json("chatty.js", script, &["--timeout", "2s"]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "timed_out");
    let messages = log_messages(&report);
    let (marker, kept) = messages.split_last().unwrap();
    // 5 MB of 100,000-byte lines, give or take the per-line bookkeeping
    // the runtime counts: the first lines, in order, and not one more.
    let kept_bytes: usize = kept.iter().map(String::len).sum();
    assert!(
        (4_800_000..=5_000_000).contains(&kept_bytes),
        "{kept_bytes}"
    );
    for (i, line) in kept.iter().enumerate() {
        assert!(line.starts_with(&format!("{i:08}")), "line {i} in order");
    }
    assert!(
        marker.starts_with("… ") && marker.ends_with("dropped: the log limit is 5000000 bytes"),
        "{marker}"
    );
    assert_eq!(
        report["logs"].as_array().unwrap().last().unwrap()["level"],
        "warn"
    );

    // Printed live, the same run ends the same way.
    scratch.script("chatty.js", script);
    let human = finish(scratch.command().args(["--timeout", "1s", "chatty.js"]));
    assert_eq!(human.code, 1);
    assert!(
        human
            .stderr
            .contains("dropped: the log limit is 5000000 bytes")
    );
    assert!(human.stderr.contains("timed out after 1"));
}

#[test]
fn a_result_larger_than_1_mib_fails_the_run() {
    let scratch = Scratch::new();
    let (report, finished) = scratch.run_json("big.js", "return 'x'.repeat(2 * 1024 * 1024)", &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["result"], Value::Null);
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the result is 2097154 bytes as JSON; the limit is"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------
// Storage, queues, chains

#[test]
fn storage_persists_between_runs_in_one_data_dir() {
    let scratch = Scratch::new();
    let first = "await storage.set('checkpoint', { page: 3, token: 'abc' });\n\
                 await kvs.set('expiring', 'soon', { ttl: { value: 1, unit: 'HOURS' } });\n\
                 await kvs.setSecret('service-password', 'hunter2-plaintext');\n\
                 return 'saved'";
    assert_eq!(scratch.result(first, &[]), json!("saved"));
    let second = "import { kvs } from '@forge/kvs';\nimport { storage } from '@forge/api';\n\
                  export async function run() {\n\
                    return { checkpoint: await kvs.get('checkpoint'), expiring: await storage.get('expiring'),\n\
                             secret: await kvs.getSecret('service-password'), listed: (await kvs.query().getMany()).results.length,\n\
                             secretMatches: (await kvs.getSecret('service-password')) === 'hunter2-plaintext' };\n\
                  }";
    assert_eq!(
        scratch.result(second, &[]),
        json!({"checkpoint": {"page": 3, "token": "abc"}, "expiring": "soon", "secret": "***", "secretMatches": true, "listed": 2})
    );
    let data = scratch.data_dir();
    assert!(data.join("clockwork.db").is_file());
    assert!(data.join("secret.key").is_file());
    let mut at_rest = std::fs::read(data.join("clockwork.db")).unwrap();
    if let Ok(wal) = std::fs::read(data.join("clockwork.db-wal")) {
        at_rest.extend(wal);
    }
    let plaintext = b"hunter2-plaintext";
    assert!(
        !at_rest.windows(plaintext.len()).any(|w| w == plaintext),
        "secrets are encrypted at rest"
    );
    assert!(
        at_rest.windows(10).any(|w| w == b"checkpoint"),
        "entries are in this database"
    );

    let other = Scratch::new();
    assert_eq!(
        other.result("return await storage.get('checkpoint') ?? 'empty'", &[]),
        json!("empty")
    );
}

#[test]
fn the_data_directory_defaults_to_clockwork_data_in_the_working_directory() {
    let scratch = Scratch::new();
    scratch.script(
        "store.js",
        "await kvs.set('k', 'v');\nreturn await kvs.get('k')",
    );
    let mut command = bare_command();
    command
        .current_dir(scratch.path())
        .args(["run", "--json", "store.js"]);
    assert_eq!(finish(&mut command).report()["result"], "v");
    assert!(scratch.path().join("clockwork-data/clockwork.db").is_file());
    assert!(scratch.path().join("clockwork-data/secret.key").is_file());
}

/// A fresh schema in the test PostgreSQL database, dropped afterwards.
struct PostgresSchema {
    base: String,
    name: String,
    runtime: tokio::runtime::Runtime,
}

impl PostgresSchema {
    fn create() -> Self {
        let base = std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("run_cli_{}", std::process::id());
        let schema = Self {
            base,
            name,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        };
        schema.execute(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            schema.name
        ));
        schema
    }

    fn url(&self) -> String {
        format!("{}?options=-c%20search_path%3D{}", self.base, self.name)
    }

    fn execute(&self, sql: &str) {
        use sqlx::{Connection, Executor};
        self.runtime.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&self.base).await.unwrap();
            admin
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
                .await
                .unwrap();
        });
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        self.execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

#[test]
fn storage_can_live_in_a_shared_postgresql_database() {
    let schema = PostgresSchema::create();
    let scratch = Scratch::new();
    let url = schema.url();
    let set = "await kvs.set('shared', { from: 'run 1' });\nawait kvs.setSecret('pw', 'hunter2');\nreturn 'stored'";
    assert_eq!(scratch.result(set, &["--database", &url]), json!("stored"));
    // A secret the run read is masked in its result; the comparison proves
    // the real value came back.
    let get = "const pw = await kvs.getSecret('pw');\nreturn [await kvs.get('shared'), pw, pw === 'hunter2']";
    // Another data directory: same database, but secrets need the same key.
    let elsewhere = Scratch::new();
    let mut command = bare_command();
    command
        .current_dir(elsewhere.path())
        .env("CLOCKWORK_DATABASE", &url)
        .args(["run", "--json", "--data-dir"])
        .arg(scratch.data_dir())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(get.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["result"],
        json!([{"from": "run 1"}, "***", true]),
        "{report}"
    );
    assert!(
        !scratch.data_dir().join("clockwork.db").exists(),
        "no SQLite file when PostgreSQL holds the storage"
    );
    assert!(
        scratch.data_dir().join("secret.key").is_file(),
        "the key still lives in the data directory"
    );
}

const ENTITIES_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/entities.toml");

/// What `fixtures/entities.js` returns; the end-to-end suite runs it under
/// `clockwork serve` with the same config and expects the same.
fn entity_script_result() -> Value {
    serde_json::from_str(include_str!("fixtures/entities.result.json")).unwrap()
}

#[test]
fn custom_entities_come_from_the_config_file() {
    let scratch = Scratch::new();
    let script = include_str!("fixtures/entities.js");
    assert_eq!(
        scratch.result(script, &["--config", ENTITIES_CONFIG]),
        entity_script_result()
    );
    // Without the file the entity is not declared, and the error says where to.
    let (report, finished) = scratch.run_json("job.js", script, &[]);
    assert_eq!(finished.code, 1);
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Entity 'reminder' is not declared (no entity is declared); declare it under [[entities]] in clockwork.toml"),
        "{message}"
    );
}

#[test]
fn an_unusable_config_file_is_bad_usage_and_nothing_runs() {
    let scratch = Scratch::new();
    let config = scratch.script(
        "clockwork.toml",
        "[[entities]]\nname = \"reminder\"\nattributes = {}\nindexes = [\"ts\"]\n",
    );
    scratch.script("job.js", "await kvs.set('ran', true)");
    let finished = finish(scratch.command().arg("--config").arg(&config).arg("job.js"));
    assert_eq!(finished.code, 2, "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("index 'ts' uses attribute 'ts', which is not declared"),
        "{}",
        finished.stderr
    );
    assert!(!scratch.data_dir().exists(), "nothing ran");
}

#[test]
fn custom_entities_work_on_a_shared_postgresql_database() {
    let schema = PostgresSchema::create();
    let scratch = Scratch::new();
    let url = schema.url();
    let args = ["--config", ENTITIES_CONFIG, "--database", url.as_str()];
    let script = include_str!("fixtures/entities.js");
    assert_eq!(scratch.result(script, &args), entity_script_result());
    // The values stay in the database: a second run reads the first's.
    let read = "import { kvs } from '@forge/kvs';\n\
                return (await kvs.entity('reminder').query().index('ts').limit(100).getMany()).results.length";
    assert_eq!(scratch.result(read, &args), json!(10));
}

#[test]
fn a_script_that_stores_nothing_creates_no_files() {
    let scratch = Scratch::new();
    assert_eq!(scratch.result("return 1 + 1", &[]), json!(2));
    assert!(!scratch.data_dir().exists());
}

#[test]
fn storage_rules_hold_on_the_database() {
    let scratch = Scratch::new();
    let script = "import { storage, startsWith } from '@forge/api';\n\
        import { kvs, WhereConditions } from '@forge/kvs';\n\
        export async function run() {\n\
          for (const k of ['job:c', 'job:a', 'other', 'job:b', 'job:d']) await storage.set(k, k.toUpperCase());\n\
          const first = await storage.query().where('key', startsWith('job:')).limit(3).getMany();\n\
          const rest = await storage.query().where('key', startsWith('job:')).limit(3).cursor(first.nextCursor).getMany();\n\
          const one = await kvs.query().where('key', WhereConditions.beginsWith('job:')).getOne();\n\
          const caught = async (f) => { try { await f(); return 'no error' } catch (e) { return e.message } };\n\
          await kvs.set('once', 1, { keyPolicy: 'FAIL_IF_EXISTS' });\n\
          const taken = await caught(() => kvs.set('once', 2, { keyPolicy: 'FAIL_IF_EXISTS' }));\n\
          await kvs.set('balance', 10);\n\
          const aborted = await caught(() => kvs.transact().set('log', 'spent').check('balance', { equals: 99 }).execute());\n\
          await kvs.transact().check('balance', { equals: 10 }).set('balance', 5).set('log', 'spent').execute();\n\
          await kvs.batchSet([{ key: 'b1', value: 1 }, { key: 'b2', value: 2 }]);\n\
          const batch = await kvs.batchGet(['b1', 'b2', 'b3']);\n\
          await kvs.batchDelete(['b1', 'b2']);\n\
          let deep = 1; for (let i = 0; i < 32; i++) deep = [deep];\n\
          return {\n\
            first: first.results.map(r => r.key), hasCursor: typeof first.nextCursor === 'string', rest: rest.results, restCursor: rest.nextCursor ?? 'none',\n\
            one, taken, aborted, after: [await kvs.get('balance'), await kvs.get('log')],\n\
            batch: batch.successfulKeys, afterBatch: await kvs.get('b1') === undefined,\n\
            badKey: await caught(() => kvs.set('a/b', 1)),\n\
            tooBig: await caught(() => kvs.set('big', 'x'.repeat(240 * 1024))),\n\
            tooDeep: await caught(() => kvs.set('deep', deep)),\n\
            badCursor: await caught(() => storage.query().cursor('not-a-cursor!').getMany()),\n\
          };\n\
        }";
    assert_eq!(
        scratch.result(script, &[]),
        json!({
            "first": ["job:a", "job:b", "job:c"],
            "hasCursor": true,
            "rest": [{"key": "job:d", "value": "JOB:D"}],
            "restCursor": "none",
            "one": {"key": "job:a", "value": "JOB:A"},
            "taken": "key \"once\" already exists",
            "aborted": "transaction condition on key \"balance\" does not hold; nothing was changed",
            "after": [5, "spent"],
            "batch": [{"key": "b1", "value": 1}, {"key": "b2", "value": 2}],
            "afterBatch": true,
            "badKey": "Invalid key \"a/b\": a key is 1 to 500 characters of a-z, A-Z, 0-9, ':', '.', '_', '-', '#' and whitespace, and not only whitespace",
            "tooBig": "Value for key \"big\" is 245762 bytes as JSON; the limit is 245760 bytes (240 KiB)",
            "tooDeep": "Value for key \"deep\" is nested 32 levels deep; the limit is 31",
            "badCursor": "storage failed: invalid list cursor",
        })
    );
}

#[test]
fn a_database_that_cannot_be_opened_fails_storage_calls_clearly() {
    let scratch = Scratch::new();
    // The data directory's place is taken by a file.
    std::fs::write(scratch.data_dir(), "not a directory").unwrap();
    let (report, finished) = scratch.run_json("job.js", "return await kvs.get('k')", &[]);
    assert_eq!(finished.code, 1);
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error: storage failed: cannot create the data directory"),
        "{message}"
    );
    // Scripts that store nothing still run.
    assert_eq!(scratch.result("return 'fine'", &[]), json!("fine"));
}

#[test]
fn queue_pushes_fail_clearly_instead_of_dropping_events() {
    let scratch = Scratch::new();
    let caught = "const queue = new Queue({ key: 'work-items' });\n\
                  const errors = [];\n\
                  for (const call of [() => queue.push({ body: { n: 1 } }), () => queue.push([{ body: { n: 2 } }, { body: { n: 3 } }]),\n\
                                      () => queue.getJob('work-items#1').getStats(), () => queue.getJob('work-items#1').cancel()]) {\n\
                    try { await call(); errors.push('no error') } catch (e) { errors.push(e.message) }\n\
                  }\n\
                  let badKey; try { new Queue({ key: 'no spaces allowed' }) } catch (e) { badKey = e.message }\n\
                  return { errors, badKey }";
    let result = scratch.result(caught, &[]);
    let refusal = "queue failed: events pushed to queue \"work-items\" need `clockwork serve`, where the job consuming that queue runs them; a one-off `clockwork run` cannot deliver events, so nothing was pushed";
    assert_eq!(
        result["errors"],
        json!([refusal, refusal, refusal, refusal])
    );
    assert!(
        result["badKey"]
            .as_str()
            .unwrap()
            .contains("no spaces allowed"),
        "{result}"
    );

    let module = "import { Queue } from '@forge/events';\n\
                  export async function run() {\n\
                    const queue = new Queue({ key: 'imports' });\n\
                    await queue.push({ body: { file: 'a.csv' }, delayInSeconds: 60 });\n\
                    return 'pushed';\n\
                  }";
    let (report, finished) = scratch.run_json("producer.js", module, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    let error = &report["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("need `clockwork serve`"),
        "{error}"
    );
    assert_eq!(error["line"], 4, "{error}");
}

#[test]
fn continue_with_is_reported_but_not_started() {
    let scratch = Scratch::new();
    let script =
        "context.continueWith({ nextPage: 2 }, { delaySeconds: 5 });\nreturn 'chunk 1 done'";
    let (report, finished) = scratch.run_json("chunked.js", script, &[]);
    assert_eq!(finished.code, 0);
    assert_eq!(report["result"], "chunk 1 done");
    assert!(finished.stderr.starts_with("note: the script called context.continueWith(…) (next chunk in 5 s, state {\"nextPage\":2})"), "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("chains run under `clockwork serve`")
    );
}

#[test]
fn a_returned_invocation_error_fails_the_run_with_a_note() {
    let scratch = Scratch::new();
    let script = "return new InvocationError({ retryAfter: 30, retryReason: 'RATE_LIMITED' })";
    let (report, finished) = scratch.run_json("consumer.js", script, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(
        report["error"]["message"],
        "the consumer returned an InvocationError asking to be retried (RATE_LIMITED) after 30 s"
    );
    assert_eq!(
        finished.stderr,
        "note: the script returned an InvocationError asking to be retried; a one-off run is not \
         retried: queue consumers run under `clockwork serve`\n"
    );
}

// ---------------------------------------------------------------------------
// What a script sees

#[test]
fn a_one_off_run_has_a_scheduled_event_and_a_context() {
    let scratch = Scratch::new();
    let module = "export async function run(event, context) {\n\
        return { event, principal: context.principal === undefined, installContext: context.installContext,\n\
                 job: context.job, attempt: context.run.attempt, trigger: context.run.trigger,\n\
                 runId: context.run.id.length > 0, params: context.params, state: context.state ?? null };\n\
        }";
    let (report, _) = scratch.run_json(
        "nightly-sync.js",
        module,
        &[
            "--cloud-id",
            "abc-123",
            "--params",
            r#"{"project":"OPS","dryRun":true}"#,
        ],
    );
    assert_eq!(
        report["result"],
        json!({
            "event": {"context": {"cloudId": "abc-123", "moduleKey": "nightly-sync"}, "contextToken": ""},
            "principal": true,
            "installContext": "ari:cloud:jira::site/abc-123",
            "job": {"id": "", "name": "nightly-sync", "version": 0},
            "attempt": 1,
            "trigger": "manual",
            "runId": true,
            "params": {"project": "OPS", "dryRun": true},
            "state": null,
        })
    );
    let globals = "return [api, route, fetch, authorize, storage, kvs, Queue, InvocationError, event, context].map(v => typeof v)";
    assert_eq!(
        scratch.result(globals, &[]),
        json!([
            "object", "function", "function", "function", "object", "object", "function",
            "function", "object", "object"
        ])
    );
    let pasted = "import api, { route } from '@forge/api';\nreturn route`/rest/api/3/issue/${'OPS-1'}`.value";
    assert_eq!(
        scratch.result(pasted, &[]),
        json!("/rest/api/3/issue/OPS-1")
    );
}

#[test]
fn the_sandbox_has_timers_and_nothing_of_the_host() {
    let scratch = Scratch::new();
    let script = "const fired = await new Promise(resolve => setTimeout(() => resolve('fired'), 1));\n\
        let ticks = 0; await new Promise(resolve => { const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve() } }, 1) });\n\
        const cleared = await new Promise(resolve => { const id = setTimeout(() => resolve('not cleared'), 1); clearTimeout(id); setTimeout(() => resolve('cleared'), 5) });\n\
        return {\n\
          fired, ticks, cleared, base64: [btoa('user:pw'), atob('dXNlcjpwdw==')],\n\
          host: ['__filename', '__dirname', 'Deno', 'Bun'].filter(name => typeof globalThis[name] !== 'undefined'),\n\
          env: Object.keys(process.env),\n\
          fs: (() => { try { require('fs'); return 'loaded' } catch (e) { return e.message.includes(\"not available in Clockwork's sandbox\") } })(),\n\
        };";
    assert_eq!(
        scratch.result(script, &[]),
        json!({
            "fired": "fired",
            "ticks": 3,
            "cleared": "cleared",
            "base64": ["dXNlcjpwdw==", "user:pw"],
            "host": [],
            "env": [],
            "fs": true,
        })
    );
}

#[test]
fn the_sandbox_has_the_web_globals_of_forge_api_section_5() {
    let scratch = Scratch::new();
    let script = "const url = new URL('https://acme.atlassian.net/rest/api/3/search?jql=a%20b');\n\
        const params = new URLSearchParams({ jql: 'project = OPS', maxResults: '50' });\n\
        const bytes = new TextEncoder().encode('héllo');\n\
        return {\n\
          url: [url.hostname, url.searchParams.get('jql')], params: params.toString(),\n\
          bytes: bytes.length, text: new TextDecoder().decode(bytes),\n\
          uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),\n\
          clone: structuredClone({ a: [1, { b: 2 }] }),\n\
          web: [typeof Headers, typeof Request, typeof Response, typeof AbortController, typeof Intl.DateTimeFormat],\n\
        };";
    assert_eq!(
        scratch.result(script, &[]),
        json!({
            "url": ["acme.atlassian.net", "a b"],
            "params": "jql=project+%3D+OPS&maxResults=50",
            "bytes": 6,
            "text": "héllo",
            "uuid": true,
            "clone": {"a": [1, {"b": 2}]},
            "web": ["function", "function", "function", "function", "function"],
        })
    );
}

#[test]
fn console_formats_values_like_node() {
    let scratch = Scratch::new();
    let script = "console.log({ a: 1, b: [1, 2] });\nconsole.log({ s: 'x' });\n\
                  console.log('%s is %d%%', 'progress', 42);\nconsole.log({ l1: { l2: { l3: { l4: 1 } } } });\n\
                  console.log('plain', 'words', 3);";
    let (report, _) = scratch.run_json("job.js", script, &[]);
    assert_eq!(
        log_messages(&report),
        [
            "{ a: 1, b: [ 1, 2 ] }",
            "{ s: 'x' }",
            "progress is 42%",
            "{ l1: { l2: { l3: [Object] } } }",
            "plain words 3",
        ]
    );
}

// ---------------------------------------------------------------------------
// Configuration

#[test]
fn environment_variables_configure_the_run_and_flags_win() {
    let scratch = Scratch::new();
    let data = scratch.path().join("env-data");
    scratch.script(
        "env.js",
        "await kvs.set('seen', true);\n\
         return { params: context.params, remaining: context.remainingTimeMs(), cloudId: event.context.cloudId }",
    );
    let with_env = |extra: &[&str]| {
        let mut command = bare_command();
        command
            .current_dir(scratch.path())
            .env("CLOCKWORK_DATA_DIR", &data)
            .env("CLOCKWORK_TIMEOUT", "45s")
            .env("CLOCKWORK_PARAMS", r#"{"project":"OPS"}"#)
            .env("CLOCKWORK_CLOUD_ID", "cloud-9")
            .env("CLOCKWORK_MEMORY_LIMIT", "40")
            .arg("run")
            .arg("--json")
            .args(extra)
            .arg("env.js");
        finish(&mut command).report()
    };
    let report = with_env(&[]);
    assert_eq!(report["status"], "succeeded", "{report}");
    let result = &report["result"];
    assert_eq!(result["params"], json!({"project": "OPS"}));
    assert_eq!(result["cloudId"], "cloud-9");
    let remaining = result["remaining"].as_f64().unwrap();
    assert!(remaining > 0.0 && remaining <= 45_000.0, "{remaining}");
    assert!(
        data.join("clockwork.db").is_file(),
        "CLOCKWORK_DATA_DIR is used"
    );

    let report = with_env(&["--timeout", "1h", "--params", "{}"]);
    let remaining = report["result"]["remaining"].as_f64().unwrap();
    assert!(remaining > 3_000_000.0, "--timeout wins: {remaining}");
    assert_eq!(report["result"]["params"], json!({}));

    scratch.script(
        "grow.js",
        "const a = [];\nwhile (true) a.push(new Array(1e5).fill(1.5));",
    );
    let mut command = bare_command();
    command
        .current_dir(scratch.path())
        .env("CLOCKWORK_MEMORY_LIMIT", "40")
        .args(["run", "--json", "grow.js"]);
    assert_eq!(
        finish(&mut command).report()["error"]["message"],
        "memory limit exceeded (40 MiB)"
    );
}

#[test]
fn help_lists_the_variables_but_never_secret_values() {
    let mut command = bare_command();
    command
        .env("CLOCKWORK_API_TOKEN", "api-token-value-123")
        .env("CLOCKWORK_BEARER_TOKEN", "bearer-value-456")
        .env("CLOCKWORK_DATABASE", "postgres://u:pw-789@db/clockwork")
        .env("CLOCKWORK_EMAIL", "bot@acme.test")
        .args(["run", "--help"]);
    let help = finish(&mut command);
    assert_eq!(help.code, 0);
    for variable in [
        "CLOCKWORK_JIRA_URL",
        "CLOCKWORK_CONFLUENCE_URL",
        "CLOCKWORK_EMAIL",
        "CLOCKWORK_API_TOKEN",
        "CLOCKWORK_BEARER_TOKEN",
        "CLOCKWORK_TIMEOUT",
        "CLOCKWORK_MEMORY_LIMIT",
        "CLOCKWORK_PARAMS",
        "CLOCKWORK_DATA_DIR",
    ] {
        assert!(help.stdout.contains(variable), "{variable}");
    }
    for secret in ["api-token-value-123", "bearer-value-456", "pw-789"] {
        assert!(!help.all_output().contains(secret), "{secret}");
    }
}

// ---------------------------------------------------------------------------
// A runtime behaviour the live log depends on

/// `RunHandle::logs` promises "the lines written so far, then each new
/// line": that holds for a stream opened after the run ended too (the
/// runtime's log sink used to hand its lines over at the end and keep none,
/// so such a stream was empty).
#[test]
fn a_log_stream_opened_after_the_run_replays_its_lines() {
    let executor = runtime::Executor::new(runtime::ExecutorConfig { worker_threads: 1 }).unwrap();
    let waiter = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = executor.start(runtime::RunSpec::new("console.log('written')"));
    let control = handle.control();
    let outcome = waiter.block_on(handle.outcome());
    assert_eq!(outcome.logs.len(), 1);
    let mut stream = control.logs();
    let replayed = waiter.block_on(stream.next());
    assert_eq!(
        replayed.map(|line| line.message).as_deref(),
        Some("written")
    );
}
