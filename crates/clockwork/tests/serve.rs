//! `clockwork serve` as a real process and the client commands against
//! it: start-up, token bootstrap, declarative apply, listing, pause,
//! problem documents for bad input, graceful shutdown.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use support::{ADMIN_TOKEN, Serve, e2e::Api, ok, stderr, stdout};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn apply_list_get_pause_and_delete_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    write(&jobs, "sync.js", "console.log('syncing');\nreturn 1;\n");
    write(
        &jobs,
        "sync.toml",
        "name = \"sync\"\nscript_file = \"sync.js\"\n[schedule]\ncron = \"0 2 * * *\"\ntimezone = \"Europe/Berlin\"\n",
    );
    write(&jobs, "report.yaml", "name: report\nscript: return 2;\n");
    let jobs_dir = jobs.display().to_string();

    let applied = ok(&server.client(&["job", "apply", "-f", &jobs_dir]));
    assert_eq!(
        applied,
        "created report (version 1)\ncreated sync (version 1)\n"
    );
    let again = ok(&server.client(&["job", "apply", "-f", &jobs_dir]));
    assert_eq!(
        again,
        "unchanged report (version 1)\nunchanged sync (version 1)\n"
    );
    write(&jobs, "report.yaml", "name: report\nscript: return 3;\n");
    let changed = ok(&server.client(&["job", "apply", "-f", &jobs_dir]));
    assert_eq!(
        changed,
        "updated report (version 2)\nunchanged sync (version 1)\n"
    );

    let list = ok(&server.client(&["job", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{list}");
    assert!(lines[1].starts_with("report  -      enabled  -"), "{list}");
    assert!(lines[2].contains("0 2 * * * (Europe/Berlin)"), "{list}");

    let job: serde_json::Value =
        serde_json::from_str(&ok(&server.client(&["job", "get", "sync"]))).unwrap();
    assert_eq!(job["script"], "console.log('syncing');\nreturn 1;\n");
    assert!(job["next_fire_at"].is_string());

    assert_eq!(
        ok(&server.client(&["job", "pause", "sync"])),
        "sync is paused\n"
    );
    assert_eq!(
        ok(&server.client(&["job", "resume", "sync"])),
        "sync is enabled\n"
    );
    assert_eq!(ok(&server.client(&["runs", "sync"])).lines().count(), 1);
    assert_eq!(
        ok(&server.client(&["job", "delete", "report"])),
        "deleted report\n"
    );
    let output = server.client(&["job", "get", "report"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn bad_input_is_a_one_line_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let good = write(
        dir.path(),
        "good.toml",
        "name = \"good\"\nscript = \"return 1\"\n",
    );
    ok(&server.client(&["job", "apply", "-f", &good]));
    let before = ok(&server.client(&["job", "list", "--json"]));

    let bad = write(
        dir.path(),
        "bad.toml",
        "name = \"good\"\nscript = \"const a = ;\"\ncolour = \"red\"\n[schedule]\ncron = \"0 60 * * *\"\n",
    );
    let output = server.client(&["job", "apply", "-f", &bad]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains("colour"), "{error}");

    let fixed = write(
        dir.path(),
        "fixed.toml",
        "name = \"good\"\nscript = \"const a = ;\"\n[schedule]\ncron = \"0 60 * * *\"\n",
    );
    let error = stderr(&server.client(&["job", "apply", "-f", &fixed]));
    assert!(
        error.contains("schedule.cron: hour field: 60 is out of range 0-23 (column 3)"),
        "{error}"
    );
    assert!(error.contains("script: SyntaxError"), "{error}");
    assert!(error.contains("(line 1, column"), "{error}");

    let output = server.client_with_token(None, &["job", "list"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("pass --token or set CLOCKWORK_TOKEN"),
        "{}",
        stderr(&output)
    );
    let output = server.client_with_token(Some("cw_wrong-token-000000000"), &["job", "list"]);
    assert_eq!(output.status.code(), Some(1));

    assert_eq!(ok(&server.client(&["job", "list", "--json"])), before);
    drop(server);
}

#[test]
fn apply_reports_every_bad_file_and_applies_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    write(
        &jobs,
        "a-good.toml",
        "name = \"fresh\"\nscript = \"return 1\"\n",
    );
    write(
        &jobs,
        "b-bad-cron.toml",
        "name = \"bad-cron\"\nscript = \"return 1\"\n[schedule]\ncron = \"0 60 * * *\"\n",
    );
    write(
        &jobs,
        "c-bad-key.toml",
        "name = \"bad-key\"\nscript = \"return 1\"\ncolour = \"red\"\n",
    );
    write(&jobs, "d-bad-toml.toml", "name = \"broken\nscript = 1\n");
    let output = server.client(&["job", "apply", "-f", &jobs.display().to_string()]);
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    assert!(
        error.contains("nothing was applied: 3 problem(s) in 4 file(s)"),
        "{error}"
    );
    for expected in [
        "b-bad-cron.toml: schedule.cron: hour field: 60 is out of range",
        "c-bad-key.toml: colour: unknown field `colour`",
        "d-bad-toml.toml: invalid TOML",
    ] {
        assert!(error.contains(expected), "{expected} in {error}");
    }
    let list = ok(&server.client(&["job", "list", "--json"]));
    assert!(
        !list.contains("fresh"),
        "the good file was not applied: {list}"
    );
}

/// The fields of a job view a job file carries (what `job get --format`
/// keeps): everything but the read-only fields and the version.
fn writable(job: &serde_json::Value) -> serde_json::Value {
    let mut job = job.as_object().unwrap().clone();
    job.retain(|name, value| {
        name != "version"
            && !server::READ_ONLY_JOB_FIELDS.contains(&name.as_str())
            && !value.is_null()
    });
    serde_json::Value::Object(job)
}

#[test]
fn a_job_made_elsewhere_is_written_as_a_job_file_that_applies_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let source = write(
        dir.path(),
        "rich.yaml",
        "name: rich\ndescription: Nightly sync\nowner: ada@example.com\nlanguage: typescript\nhandler: trigger\n\
         schedule: {cron: '0 2 * * 1-5', timezone: Europe/Berlin}\ntimeout_seconds: 120\n\
         overlap: queue_one\nretry: {max_attempts: 3, backoff_seconds: 10}\n\
         params: {project: OPS, limit: 50, flags: [a, b]}\nenv: {REGION: eu}\ntags: [nightly, eu]\n\
         script: |\n  export const trigger = async (): Promise<string> => {\n    return 'ran';\n  };\n",
    );
    ok(&server.client(&["job", "apply", "-f", &source]));
    let original: serde_json::Value =
        serde_json::from_str(&ok(&server.client(&["job", "get", "rich"]))).unwrap();
    assert_eq!(original["tags"], serde_json::json!(["nightly", "eu"]));
    let tagged = ok(&server.client(&["job", "list", "--tag", "eu"]));
    assert!(
        tagged.lines().nth(1).unwrap().starts_with("rich "),
        "{tagged}"
    );
    let none = ok(&server.client(&["job", "list", "--tag", "weekly", "--json"]));
    assert_eq!(none.trim(), "[]");
    // The owner: a column of the list, and a filter on any part of it.
    let owned = ok(&server.client(&["job", "list", "--owner", "ADA@"]));
    let lines: Vec<&str> = owned.lines().collect();
    assert!(lines[0].starts_with("NAME  OWNER "), "{owned}");
    assert!(lines[1].starts_with("rich  ada@example.com  "), "{owned}");
    let nobody = ok(&server.client(&["job", "list", "--owner", "grace", "--json"]));
    assert_eq!(nobody.trim(), "[]");

    // TOML with the script beside it, named relative to the job file.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("scripts")).unwrap();
    let job_file = repo.join("rich.toml").display().to_string();
    let script_file = repo.join("scripts/rich.ts").display().to_string();
    let written = server.client(&[
        "job",
        "get",
        "rich",
        "--format",
        "toml",
        "-o",
        &job_file,
        "--script-file",
        &script_file,
    ]);
    assert_eq!(ok(&written), "");
    let toml = std::fs::read_to_string(&job_file).unwrap();
    assert!(toml.starts_with("name = \"rich\"\n"), "{toml}");
    assert!(toml.contains("script_file = \"scripts/rich.ts\""), "{toml}");
    assert!(
        toml.contains("tags = [\n    \"nightly\",\n    \"eu\",\n]")
            || toml.contains("tags = [\"nightly\", \"eu\"]"),
        "{toml}"
    );
    for absent in ["version", "next_fire_at", "created_at", "id =", "script ="] {
        assert!(!toml.contains(absent), "{absent} in {toml}");
    }
    assert_eq!(
        std::fs::read_to_string(&script_file).unwrap(),
        original["script"].as_str().unwrap()
    );

    // YAML to standard output, the script inline.
    let yaml = ok(&server.client(&["job", "get", "rich", "--format", "yaml"]));
    let yaml_path = write(dir.path(), "exported.yaml", &yaml);

    // Each file recreates the job as it was.
    for file in [&job_file, &yaml_path] {
        ok(&server.client(&["job", "delete", "rich"]));
        assert_eq!(
            ok(&server.client(&["job", "apply", "-f", file])),
            "created rich (version 1)\n"
        );
        let recreated: serde_json::Value =
            serde_json::from_str(&ok(&server.client(&["job", "get", "rich"]))).unwrap();
        assert_eq!(writable(&recreated), writable(&original), "{file}");
        assert_eq!(
            ok(&server.client(&["job", "apply", "-f", file])),
            "unchanged rich (version 1)\n"
        );
    }

    // A script file needs a job file to name it.
    let output = server.client(&["job", "get", "rich", "--script-file", &script_file]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--script-file needs --format toml or yaml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_admin_token_is_generated_once_and_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("CLOCKWORK_ADMIN_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut token = None;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        if let Some(found) = line.trim().strip_prefix("cw_") {
            token = Some(format!("cw_{found}"));
            break;
        }
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let token = token.expect("the generated token is printed");
    // Only its hash is stored: the secret does not appear in the database file.
    let database = std::fs::read(data.join("clockwork.db")).unwrap_or_default();
    let wal = std::fs::read(data.join("clockwork.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    // A second start finds a live token and creates none.
    let server = Serve::start(&data, &[]);
    assert!(
        !server
            .stderr()
            .contains("Created the first admin API token")
    );
    let output = server.client_with_token(Some(&token), &["job", "list"]);
    ok(&output);
    let output = server.client_with_token(Some(ADMIN_TOKEN), &["job", "list"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
}

#[test]
fn an_unknown_config_key_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "clockwork.toml",
        "[egress]\nallow = []\nalow = [\"x\"]\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &config,
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("clockwork.toml: line 3, column 1: unknown field `alow`"),
        "{error}"
    );
}

#[test]
fn run_follow_logs_and_list_runs_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &[]);
    let job = write(
        dir.path(),
        "greet.yaml",
        "name: greet\nscript: |\n  console.log('hello ' + context.params.who);\n  await new Promise((r) => setTimeout(r, 50));\n  console.warn('bye');\n  return 7;\n",
    );
    ok(&server.client(&["job", "apply", "-f", &job]));
    let queued = ok(&server.client(&["job", "run", "greet", "--params", "{\"who\": \"admins\"}"]));
    let run_id = queued
        .trim()
        .strip_prefix("queued run ")
        .and_then(|rest| rest.strip_suffix(" of greet"))
        .unwrap_or_else(|| panic!("{queued}"))
        .to_owned();
    let followed = server.client(&["logs", &run_id, "--follow"]);
    let lines: Vec<String> = ok(&followed)
        .lines()
        .map(|line| line.split_once(' ').unwrap().1.to_owned())
        .collect();
    assert_eq!(lines, ["info  hello admins", "warn  bye"]);
    assert_eq!(
        stderr(&followed),
        format!("run {run_id} ended: succeeded\n")
    );
    let stored = ok(&server.client(&["logs", &run_id]));
    assert_eq!(stored, stdout(&followed));
    // Filtered by level and text, and as JSON lines.
    let warned = ok(&server.client(&["logs", &run_id, "--level", "warn"]));
    assert_eq!(warned.lines().count(), 1, "{warned}");
    assert!(warned.ends_with("warn  bye\n"), "{warned}");
    let grepped = ok(&server.client(&["logs", &run_id, "--grep", "admins", "--json"]));
    let line: serde_json::Value = serde_json::from_str(grepped.trim()).unwrap();
    assert_eq!(line["message"], "hello admins");
    assert_eq!(line["level"], "info");
    assert_eq!(line["seq"], 1);
    let output = server.client(&["logs", &run_id, "--level", "loud"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not a level: debug, info, warn or error"));
    let runs = ok(&server.client(&["runs", "greet"]));
    let row: Vec<&str> = runs.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..3], [run_id.as_str(), "succeeded", "manual"], "{runs}");
    let output = server.client(&["job", "run", "greet", "--params", "[1]"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("params: must be a JSON object"),
        "{}",
        stderr(&output)
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(&dir.path().join("data"), &["--log-format", "json"]);
    ok(&server.client(&["job", "list"]));
    let log = server.stderr();
    assert_eq!(server.terminate(), Some(0));
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "serving" && line["level"] == "INFO"),
        "{log}"
    );
}

/// `clockwork serve --listen ADDR --data-dir DATA` without the test's admin
/// token or password, so the start decides what to print itself.
fn serve_command(listen: &str, data: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_clockwork"));
    command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data)
        .env_remove("CLOCKWORK_ADMIN_TOKEN")
        .env_remove("CLOCKWORK_ADMIN_PASSWORD")
        .env_remove("CLOCKWORK_DATABASE");
    command
}

#[test]
fn a_port_in_use_fails_before_the_database_or_the_token_exist() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let output = serve_command(&listen, &data).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!("cannot listen on {listen}")),
        "{error}"
    );
    assert!(
        !error.contains("Created the first admin API token"),
        "{error}"
    );
    assert!(
        !data.join("clockwork.db").exists(),
        "no database was created"
    );
    drop(taken);

    // The next start is the first real one: it prints the token.
    let mut child = serve_command("127.0.0.1:0", &data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("clockwork listening on"), "{line}");
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(stderr(&output).contains("Created the first admin API token"));

    // Later starts, with no user made, say how to get in.
    let server = Serve::start(&data, &[]);
    let said = server.stderr();
    assert!(
        said.contains(&format!(
            "clockwork user add admin --role admin --data-dir {}",
            data.display()
        )),
        "{said}"
    );
}

#[test]
fn listen_accepts_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_command("localhost:0", &dir.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("clockwork listening on http://"),
        "{line:?}"
    );
}

#[test]
fn metrics_need_a_token_unless_the_flag_or_the_environment_makes_them_public() {
    let dir = tempfile::tempdir().unwrap();
    let closed = Serve::start(&dir.path().join("closed"), &[]);
    assert_eq!(Api::new(&closed).status_without_token("/metrics"), 401);
    drop(closed);

    let open = Serve::start_with_env(
        &dir.path().join("env"),
        &[],
        &[("CLOCKWORK_METRICS_PUBLIC", "true")],
    );
    assert_eq!(Api::new(&open).status_without_token("/metrics"), 200);
    drop(open);

    // The flag overrides the configuration file.
    let config = write(dir.path(), "clockwork.toml", "[metrics]\npublic = true\n");
    let overridden = Serve::start(
        &dir.path().join("flag"),
        &["--config", &config, "--metrics-public", "false"],
    );
    assert_eq!(Api::new(&overridden).status_without_token("/metrics"), 401);
    drop(overridden);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_clockwork"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("bad"))
        .env("CLOCKWORK_METRICS_PUBLIC", "yes")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("invalid value 'yes' for '--metrics-public <BOOL>'"),
        "{error}"
    );
    assert!(!dir.path().join("bad").exists(), "nothing written");
}
