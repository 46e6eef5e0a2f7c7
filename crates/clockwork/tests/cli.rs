//! `clockwork cron …` as real processes: output, exit codes, one-line errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn clockwork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args(args)
        .output()
        .expect("the clockwork binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts exit code 2, nothing on stdout and exactly one `error: …` line
/// on stderr, and returns that line.
fn invalid(args: &[&str]) -> String {
    let output = clockwork(args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(stdout(&output), "", "{args:?}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_owned()
}

#[test]
fn next_prints_the_dst_sample_exactly() {
    let output = clockwork(&[
        "cron",
        "next",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--from",
        "2026-03-07T12:00:00Z",
        "--count",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n"
    );
    assert_eq!(stderr(&output), "");
}

#[test]
fn next_defaults_to_five_instants_in_utc_after_now() {
    let before = jiff::Timestamp::now();
    let output = clockwork(&["cron", "next", "* * * * * *"]);
    assert!(output.status.success());
    let lines: Vec<jiff::Timestamp> = stdout(&output)
        .lines()
        .map(|line| {
            assert!(line.ends_with("+00:00"), "{line}");
            line.parse().expect("an RFC 3339 instant")
        })
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0] > before);
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_sample_of_vectors_through_the_cli() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cron/tests/data/vectors.json"
    );
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors exist"))
            .expect("vectors are JSON");
    // Every 15th case: 20 processes, spread over all zones and forms.
    for vector in vectors.iter().step_by(15) {
        let text = |key: &str| vector[key].as_str().expect("string field").to_owned();
        let expected: Vec<String> = vector["next"]
            .as_array()
            .expect("next is an array")
            .iter()
            .map(|v| format!("{}\n", v.as_str().expect("instant")))
            .collect();
        let output = clockwork(&[
            "cron",
            "next",
            &text("expr"),
            "--tz",
            &text("tz"),
            "--from",
            &text("from"),
            "--count",
            "10",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stdout(&output), expected.concat(), "{vector}");
    }
}

#[test]
fn next_json_has_expression_timezone_description_and_next() {
    let output = clockwork(&[
        "cron",
        "next",
        "0 9 * * MON-FRI",
        "--tz",
        "Europe/Berlin",
        "--from",
        "2026-06-05T12:00:00Z",
        "--count",
        "3",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("one JSON value");
    assert_eq!(
        json,
        serde_json::json!({
            "expression": "0 9 * * MON-FRI",
            "timezone": "Europe/Berlin",
            "description": "At 09:00, Monday through Friday",
            "next": [
                "2026-06-08T09:00:00+02:00",
                "2026-06-09T09:00:00+02:00",
                "2026-06-10T09:00:00+02:00"
            ]
        })
    );
}

#[test]
fn describe_prints_one_english_line() {
    let output = clockwork(&["cron", "describe", "0 9 * * 5L"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "At 09:00 on the last Friday of the month\n"
    );
}

#[test]
fn validate_exits_zero_for_valid_input() {
    let output = clockwork(&[
        "cron",
        "validate",
        "*/15 * * * *",
        "--tz",
        "Pacific/Chatham",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "valid: Every 15 minutes\n");
    assert_eq!(stderr(&output), "");
}

#[test]
fn invalid_expressions_exit_two_with_the_parse_error() {
    assert_eq!(
        invalid(&["cron", "validate", "0 60 * * * *"]),
        "error: invalid cron expression \"0 60 * * * *\": minute field: 60 is out of range 0-59 (column 3)"
    );
    assert_eq!(
        invalid(&["cron", "next", "0 0 30 2 *"]),
        "error: invalid cron expression \"0 0 30 2 *\": the expression never fires: no day in February matches its day fields"
    );
    assert_eq!(
        invalid(&["cron", "describe", "@reboot"]),
        "error: invalid cron expression \"@reboot\": unknown macro \"@reboot\" (supported: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly; lower case) (column 1)"
    );
    invalid(&["cron", "next", "0 0 * * 1\u{2013}5"]);
    invalid(&["cron", "next", "0 0 * * *\n"]);
    invalid(&["cron", "next", ""]);
}

#[test]
fn invalid_zones_exit_two_naming_the_zone() {
    assert_eq!(
        invalid(&["cron", "next", "* * * * *", "--tz", "Mars/Base"]),
        "error: unknown time zone \"Mars/Base\""
    );
    assert_eq!(
        invalid(&["cron", "validate", "* * * * *", "--tz", "Mars/Base"]),
        "error: unknown time zone \"Mars/Base\""
    );
}

#[test]
fn invalid_from_exits_two() {
    let line = invalid(&["cron", "next", "* * * * *", "--from", "yesterday"]);
    assert!(
        line.starts_with("error: invalid --from \"yesterday\": expected an RFC 3339 instant"),
        "{line}"
    );
    invalid(&["cron", "next", "* * * * *", "--from", "2026-03-07T12:00:00"]);
}

#[test]
fn usage_errors_exit_two_without_a_panic() {
    for args in [
        &["cron", "next", "* * * * *", "--count", "0"][..],
        &["cron", "next", "* * * * *", "--count", "-1"],
        &["cron", "next", "* * * * *", "--count", "lots"],
        &["cron", "next"],
        &["cron", "next", "0", "9", "*", "*", "*"],
        &["cron", "frobnicate"],
        &["cron"],
        &[],
    ] {
        let output = clockwork(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn help_and_version_exit_zero() {
    let help = clockwork(&["cron", "next", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("--tz"));
    let version = clockwork(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(stdout(&version).starts_with("clockwork "));
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args(["cron", "next", "* * * * * *", "--count", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the clockwork binary starts");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("one line");
    // The reader is dropped here, like `| head -1`: later writes fail with EPIPE.
    let output = child.wait_with_output().expect("the process ends");
    assert!(first.ends_with("+00:00\n"), "{first}");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_schedule_that_never_fires_in_its_zone_is_refused_with_the_reason() {
    // 02:00-02:59 on the second Sunday of March: the hour New York skips.
    let reason = "the expression never fires in America/New_York: every time it matches falls in a daylight-saving gap there";
    for command in [
        [
            "cron",
            "validate",
            "*/30 2 * 3 SUN#2",
            "--tz",
            "America/New_York",
        ],
        [
            "cron",
            "next",
            "*/30 2 * 3 SUN#2",
            "--tz",
            "America/New_York",
        ],
    ] {
        let line = invalid(&command);
        assert!(
            line.starts_with("error: cron expression \"*/30 2 * 3 SUN#2\": "),
            "{line}"
        );
        assert!(line.contains(reason), "{line}");
    }
    // The same expression fires in a zone without DST.
    let output = clockwork(&["cron", "validate", "*/30 2 * 3 SUN#2", "--tz", "UTC"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn a_postgres_url_without_a_user_means_the_operating_system_user_as_with_libpq() {
    let os_user =
        String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let os_user = os_user.trim();
    // A database that does not exist: whoever connects, nothing is written.
    let output = Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args([
            "user",
            "add",
            "nobody-here",
            "--role",
            "viewer",
            "--password-env",
            "PW",
        ])
        .args([
            "--database",
            "postgres://127.0.0.1:5432/clockwork_no_such_database",
        ])
        .env("PW", "a long enough password")
        .env_remove("PGUSER")
        .env_remove("CLOCKWORK_DATABASE")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("role \"{os_user}\" does not exist"))
            || err.contains("database \"clockwork_no_such_database\" does not exist"),
        "{err}"
    );
    assert!(!err.contains("anonymous"), "{err}");
    // The server's C source line is noise to an operator.
    assert!(!err.contains(" at line "), "{err}");
}
