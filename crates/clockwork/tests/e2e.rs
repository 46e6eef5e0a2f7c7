//! End to end: real `clockwork serve` processes on SQLite and PostgreSQL,
//! driven through the REST API. Cross-process state is awaited by polling
//! the API with a deadline; nothing sleeps for a fixed time.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use support::{
    Serve,
    e2e::{Api, Database, instant, on_both_databases, start},
    wait_for,
};

fn six_field_cron_fires_at_the_right_seconds(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);
    let job = json!({
        "name": "every-2s",
        "schedule": {"cron": "*/2 * * * * *", "timezone": "UTC"},
        "script": "return context.run.scheduledFor;",
    });
    let (status, _, created) = api.call("POST", "/jobs", Some(job));
    assert_eq!(status, 201, "{created}");
    let created_at = instant(&created["created_at"]);
    let runs = wait_for("three scheduled runs", Duration::from_secs(30), || {
        let runs = api.runs("every-2s");
        let done = runs.iter().filter(|r| r["status"] == "succeeded").count();
        (done >= 3).then_some(runs)
    });
    let mut occurrences: Vec<Timestamp> = runs
        .iter()
        .filter(|run| run["status"] == "succeeded")
        .map(|run| {
            assert_eq!(run["trigger"], "schedule");
            let scheduled = instant(&run["scheduled_for"]);
            let started = instant(&run["started_at"]);
            // On an even second, never early, and within that same second.
            assert_eq!(scheduled.as_millisecond() % 2000, 0, "{run}");
            assert!(started >= scheduled, "{run}");
            assert_eq!(started.as_second(), scheduled.as_second(), "{run}");
            scheduled
        })
        .collect();
    occurrences.sort();
    assert!(occurrences[0] > created_at);
    for pair in occurrences.windows(2) {
        // Every occurrence once: consecutive ones are 2 s apart.
        assert_eq!(
            pair[1].as_millisecond() - pair[0].as_millisecond(),
            2000,
            "{occurrences:?}"
        );
    }
    assert_eq!(server.terminate(), Some(0));
}

fn kill_9_during_a_run_interrupts_it_and_the_restart_retries_it(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(&config, "[scheduler]\nlease_seconds = 2\n").unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let job = json!({
        "name": "long",
        "script": "if (context.run.attempt === 1) {\n  console.log('first attempt started');\n  await new Promise(() => {});\n}\nreturn 'attempt ' + context.run.attempt;",
        "retry": {"max_attempts": 2, "backoff_seconds": 0},
    });
    assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    let (status, _, run) = api.call("POST", "/jobs/long/run", None);
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_i64().unwrap();
    // Running, with its first line stored (logs are flushed while it runs).
    wait_for(
        "the first attempt to run and log",
        Duration::from_secs(30),
        || {
            let run = api.get(&format!("/runs/{run_id}"));
            (run["status"] == "running" && run["log_lines"] == 1).then_some(())
        },
    );
    server.kill9();

    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let runs = wait_for(
        "the interrupted run's retry to succeed",
        Duration::from_secs(60),
        || {
            let runs = api.runs("long");
            runs.iter()
                .any(|r| r["trigger"] == "retry" && r["status"] == "succeeded")
                .then_some(runs)
        },
    );
    let first = runs.iter().find(|r| r["id"] == run_id).unwrap();
    assert_eq!(first["status"], "interrupted", "{first}");
    assert_eq!(first["log_lines"], 1);
    let retry = runs.iter().find(|r| r["trigger"] == "retry").unwrap();
    assert_eq!(retry["attempt"], 2);
    assert_eq!(retry["result"], "attempt 2");
    let logs = api.get(&format!("/runs/{run_id}/logs"));
    assert_eq!(logs["items"][0]["message"], "first attempt started");
    assert_eq!(server.terminate(), Some(0));
}

fn bad_api_input_is_a_problem_document_and_changes_nothing(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);
    let good = json!({"name": "good", "script": "return 1;", "schedule": {"cron": "0 0 * * *"}});
    assert_eq!(api.call("POST", "/jobs", Some(good)).0, 201);
    let before = api.get("/jobs");
    let cases = [
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "colour": 1}),
            422,
            "colour",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "schedule": {"cron": "0 0 32 * *"}}),
            422,
            "schedule.cron",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "", "schedule": {"cron": "@daily", "timezone": "Nowhere/City"}}),
            422,
            "schedule.timezone",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "x", "script": "let = 1;"}),
            422,
            "script",
        ),
        (
            "PUT",
            "/jobs/good",
            json!({"name": "good", "script": "", "version": 5}),
            409,
            "",
        ),
        (
            "POST",
            "/jobs",
            json!({"name": "good", "script": ""}),
            409,
            "",
        ),
        ("PATCH", "/jobs/missing", json!({"script": ""}), 404, ""),
    ];
    for (method, path, body, status, field) in cases {
        let (got, kind, problem) = api.call(method, path, Some(body.clone()));
        assert_eq!(got, status, "{method} {path} {body}: {problem}");
        assert_eq!(kind, "application/problem+json");
        assert_eq!(problem["status"], status);
        assert_eq!(problem["instance"], format!("/api/v1{path}"));
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
    }
    assert_eq!(api.get("/jobs"), before);
    assert!(api.runs("good").is_empty());
    assert_eq!(server.terminate(), Some(0));
}

fn sigterm_lets_runs_finish_within_the_grace_period_then_interrupts_them(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(&config, "[scheduler]\ngrace_seconds = 1\n").unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let job =
        json!({"name": "stuck", "script": "console.log('in');\nawait new Promise(() => {});"});
    assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    let (_, _, run) = api.call("POST", "/jobs/stuck/run", None);
    let run_id = run["id"].as_i64().unwrap();
    wait_for("the run to start", Duration::from_secs(30), || {
        (api.get(&format!("/runs/{run_id}"))["status"] == "running").then_some(())
    });
    assert_eq!(server.terminate(), Some(0));
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let run = api.get(&format!("/runs/{run_id}"));
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(run["log_lines"], 1);
    assert_eq!(server.terminate(), Some(0));
}

/// Runs in `scheduled_for` order.
fn by_instant(mut runs: Vec<Value>) -> Vec<Value> {
    runs.sort_by_key(|run| ms(run, "scheduled_for"));
    runs
}

fn ms(run: &Value, field: &str) -> i64 {
    instant(&run[field]).as_millisecond()
}

/// Pauses `job` and waits until none of its runs is queued or running, so
/// its history no longer changes.
fn pause_and_settle(api: &Api, job: &str) -> Vec<Value> {
    let (status, _, body) = api.call("POST", &format!("/jobs/{job}/pause"), None);
    assert_eq!(status, 200, "{body}");
    wait_for("the job's runs to end", Duration::from_secs(30), || {
        let runs = api.runs(job);
        runs.iter()
            .all(|r| r["status"] != "queued" && r["status"] != "running")
            .then_some(runs)
    })
}

/// Every second has exactly one row: no occurrence lost, none twice.
fn assert_every_second_once(runs: &[Value]) {
    let mut instants: Vec<i64> = runs
        .iter()
        .filter(|r| r["trigger"] == "schedule")
        .map(|r| ms(r, "scheduled_for"))
        .collect();
    instants.sort_unstable();
    for pair in instants.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "{runs:#?}");
    }
}

fn overlap_skip_records_a_skipped_row_for_each_occurrence_a_run_overlaps(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);
    let job = json!({
        "name": "slow",
        "schedule": {"cron": "* * * * * *"},
        "script": "await new Promise((resolve) => setTimeout(resolve, 2500));\nreturn 'done';",
        "overlap": "skip",
    });
    assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    wait_for(
        "two finished runs and three skipped occurrences",
        Duration::from_secs(60),
        || {
            let runs = api.runs("slow");
            let count = |status: &str| runs.iter().filter(|r| r["status"] == status).count();
            (count("succeeded") >= 2 && count("skipped") >= 3).then_some(())
        },
    );
    let runs = by_instant(pause_and_settle(&api, "slow"));
    assert_every_second_once(&runs);
    let ran: Vec<&Value> = runs.iter().filter(|r| r["status"] == "succeeded").collect();
    let skipped: Vec<&Value> = runs.iter().filter(|r| r["status"] == "skipped").collect();
    assert_eq!(
        ran.len() + skipped.len(),
        runs.len(),
        "only runs and skips: {runs:#?}"
    );
    for pair in ran.windows(2) {
        // Never two at once: the next run starts after the previous ended.
        assert!(
            ms(pair[1], "started_at") >= ms(pair[0], "finished_at"),
            "{runs:#?}"
        );
    }
    for skip in &skipped {
        assert_eq!(skip["trigger"], "schedule");
        assert!(skip["started_at"].is_null(), "{skip}");
        // Skipped because a run was active when the occurrence was claimed
        // (up to 100 ms ahead of its instant).
        let at = ms(skip, "scheduled_for");
        let covered = ran
            .iter()
            .any(|run| ms(run, "scheduled_for") < at && at <= ms(run, "finished_at") + 600);
        assert!(covered, "{skip} overlaps no run: {runs:#?}");
    }
    // A 2.5 s run at 1 s intervals skips the two occurrences inside it.
    assert!(skipped.len() >= 2 * (ran.len() - 1), "{runs:#?}");
    assert_eq!(server.terminate(), Some(0));
}

fn a_timeout_leaves_a_timed_out_row_with_the_lines_logged_before_it(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    // The job sets no timeout: the configured default applies.
    std::fs::write(&config, "[limits]\ntimeout_seconds = 1\n").unwrap();
    let server = start(&dir.path().join("data"), database, Some(&config));
    let api = Api::new(&server);
    let job = json!({
        "name": "spins",
        "script": "console.log('started');\nconsole.warn('about to spin');\nfor (;;) {}",
    });
    let (status, _, created) = api.call("POST", "/jobs", Some(job));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["timeout_seconds"], 1, "{created}");
    let own = json!({"name": "own-limit", "script": "return 1;", "timeout_seconds": 7});
    let (_, _, own) = api.call("POST", "/jobs", Some(own));
    assert_eq!(own["timeout_seconds"], 7, "a job's own limit is kept");

    let (status, _, run) = api.call("POST", "/jobs/spins/run", None);
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_i64().unwrap();
    let run = wait_for("the run to time out", Duration::from_secs(60), || {
        let run = api.get(&format!("/runs/{run_id}"));
        (run["status"] != "queued" && run["status"] != "running").then_some(run)
    });
    assert_eq!(run["status"], "timed_out", "{run}");
    assert!(run["duration_ms"].as_i64().unwrap() >= 1000, "{run}");
    assert!(
        !run["error"]["message"].as_str().unwrap().is_empty(),
        "{run}"
    );
    assert_eq!(run["log_lines"], 2, "{run}");
    let logs = api.get(&format!("/runs/{run_id}/logs"));
    let lines: Vec<(&str, &str)> = logs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [("info", "started"), ("warn", "about to spin")]);
    assert_eq!(server.terminate(), Some(0));
}

/// Downtime across three occurrences of a job every 10 s, one job per
/// misfire policy: the restart records them per policy, and the schedule
/// then goes on as before.
fn a_restart_after_downtime_records_missed_occurrences_per_misfire_policy(database: &Database) {
    const POLICIES: [&str; 3] = ["run_once", "skip", "run_all"];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, None);
    let api = Api::new(&server);
    for policy in POLICIES {
        // Fails if another run of the job holds the key: catch-up runs of
        // one job run one at a time (the key is taken atomically).
        let script = format!(
            "import {{ kvs }} from '@forge/kvs';\n\
             await kvs.set('busy-{policy}', true, {{ keyPolicy: 'FAIL_IF_EXISTS' }});\n\
             await new Promise((resolve) => setTimeout(resolve, 200));\n\
             await kvs.delete('busy-{policy}');\n\
             return context.run.scheduledFor;"
        );
        let job = json!({
            "name": policy,
            "schedule": {"cron": "*/10 * * * * *"},
            "script": script,
            "misfire": policy,
        });
        assert_eq!(api.call("POST", "/jobs", Some(job)).0, 201);
    }
    // Stop just after an occurrence ran for every job, so the next one is
    // ~10 s away and cannot be claimed during the shutdown.
    let last = wait_for(
        "the same occurrence of each job to run",
        Duration::from_secs(40),
        || {
            let mut newest = std::collections::BTreeSet::new();
            for policy in POLICIES {
                let runs = api.runs(policy);
                if runs.iter().any(|r| r["status"] != "succeeded") {
                    return None;
                }
                newest.insert(ms(runs.first()?, "scheduled_for"));
            }
            (newest.len() == 1)
                .then(|| newest.into_iter().next())
                .flatten()
        },
    );
    assert_eq!(server.terminate(), Some(0));
    // The downtime itself (nothing to await: the point is that time passes
    // with no server): until 5.5 s after the third missed occurrence, so all
    // three are older than the 5 s misfire threshold at the restart and the
    // fourth is still ~4 s away.
    let (a, b, c, d) = (last + 10_000, last + 20_000, last + 30_000, last + 40_000);
    let restart_at = c + 5_500;
    let now = Timestamp::now().as_millisecond();
    assert!(now < restart_at, "the test was too slow to stop the server");
    std::thread::sleep(Duration::from_millis((restart_at - now) as u64));

    let server = start(&data, database, None);
    let api = Api::new(&server);
    let rows = |policy: &str| {
        wait_for(
            "the first on-time run after the restart",
            Duration::from_secs(30),
            || {
                let runs = api.runs(policy);
                let settled = runs
                    .iter()
                    .all(|r| r["status"] != "queued" && r["status"] != "running");
                let after = runs.iter().any(|r| ms(r, "scheduled_for") == d);
                (settled && after).then_some(runs)
            },
        )
        .into_iter()
        .filter(|r| ms(r, "scheduled_for") > last)
        .collect::<Vec<_>>()
    };
    let summary = |runs: &[Value]| -> Vec<(i64, String, String, Value)> {
        by_instant(runs.to_vec())
            .iter()
            .map(|r| {
                (
                    ms(r, "scheduled_for"),
                    r["trigger"].as_str().unwrap().to_owned(),
                    r["status"].as_str().unwrap().to_owned(),
                    r["missed_count"].clone(),
                )
            })
            .collect()
    };
    let row = |at: i64, trigger: &str, status: &str, missed: Value| {
        (at, trigger.to_owned(), status.to_owned(), missed)
    };
    let on_time = row(d, "schedule", "succeeded", Value::Null);

    // run_once: one row counts the two older ones, one catch-up runs the newest.
    let run_once = rows("run_once");
    assert_eq!(
        summary(&run_once),
        [
            row(a, "schedule", "missed", json!(2)),
            row(c, "catch_up", "succeeded", Value::Null),
            on_time.clone(),
        ]
    );
    // skip: one row counts all three, nothing runs for them.
    assert_eq!(
        summary(&rows("skip")),
        [row(a, "schedule", "missed", json!(3)), on_time.clone()]
    );
    // run_all: each one runs, in order, none missed.
    let run_all = rows("run_all");
    assert_eq!(
        summary(&run_all),
        [
            row(a, "catch_up", "succeeded", Value::Null),
            row(b, "catch_up", "succeeded", Value::Null),
            row(c, "catch_up", "succeeded", Value::Null),
            on_time,
        ]
    );
    for run in run_once.iter().chain(&run_all) {
        if run["status"] == "succeeded" {
            // The script saw the occurrence it stands for.
            assert_eq!(
                instant(&run["result"]),
                instant(&run["scheduled_for"]),
                "{run}"
            );
            assert!(ms(run, "started_at") >= ms(run, "scheduled_for"));
        } else {
            assert!(run["started_at"].is_null(), "{run}");
        }
    }
    // One at a time is checked by the script itself (above), not with
    // timestamps: a queued run's `started_at` is the clock reading its claim
    // took just before the claim statement, which may, under load, precede
    // the previous run's `finished_at` by the claim's own latency.
    assert_eq!(server.terminate(), Some(0));
}

/// Two servers on one PostgreSQL database: each occurrence of a job every
/// second runs once, whichever node claims it; when one node stops the
/// other goes on without a gap.
fn two_servers_on_one_database_never_run_an_occurrence_twice(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str| {
        let mut args = database.args();
        args.extend(["--node-id".to_owned(), name.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Serve::start(&dir.path().join(name), &args)
    };
    let one = node("node-one");
    let two = node("node-two");
    let api_one = Api::new(&one);
    let api_two = Api::new(&two);
    // Increments a counter in the shared storage: a run executed twice
    // would count twice. Overlap `skip` keeps the runs from interleaving.
    let job = json!({
        "name": "counter",
        "schedule": {"cron": "* * * * * *"},
        "script": "const n = (await storage.get('count')) ?? 0;\nawait storage.set('count', n + 1);\nreturn n + 1;",
    });
    assert_eq!(api_one.call("POST", "/jobs", Some(job)).0, 201);
    // The other node learns of the job through the database and claims too.
    wait_for("six runs on both nodes", Duration::from_secs(60), || {
        let runs = api_two.runs("counter");
        (runs.iter().filter(|r| r["status"] == "succeeded").count() >= 6).then_some(())
    });
    assert_eq!(one.terminate(), Some(0));
    let stopped_at = Timestamp::now().as_millisecond();
    wait_for(
        "four more runs on the node left",
        Duration::from_secs(60),
        || {
            let runs = api_two.runs("counter");
            (runs
                .iter()
                .filter(|r| r["status"] == "succeeded" && ms(r, "scheduled_for") > stopped_at)
                .count()
                >= 4)
                .then_some(())
        },
    );
    let runs = by_instant(pause_and_settle(&api_two, "counter"));
    let mut instants: Vec<i64> = runs.iter().map(|r| ms(r, "scheduled_for")).collect();
    instants.dedup();
    assert_eq!(instants.len(), runs.len(), "an occurrence twice: {runs:#?}");
    assert_every_second_once(&runs);
    let succeeded: Vec<&Value> = runs.iter().filter(|r| r["status"] == "succeeded").collect();
    let nodes: std::collections::BTreeSet<&str> = succeeded
        .iter()
        .map(|r| r["node"].as_str().unwrap())
        .collect();
    assert!(
        nodes
            .iter()
            .all(|node| ["node-one", "node-two"].contains(node)),
        "{nodes:?}"
    );
    for run in succeeded
        .iter()
        .filter(|r| ms(r, "scheduled_for") > stopped_at + 1000)
    {
        assert_eq!(run["node"], "node-two", "only node two is left: {run}");
    }
    // The side effect happened once per run that succeeded, no more.
    let reader = json!({"name": "read-count", "script": "return await storage.get('count');"});
    assert_eq!(api_two.call("POST", "/jobs", Some(reader)).0, 201);
    let (_, _, run) = api_two.call("POST", "/jobs/read-count/run", None);
    let run_id = run["id"].as_i64().unwrap();
    let read = wait_for("the counter to be read", Duration::from_secs(30), || {
        let run = api_two.get(&format!("/runs/{run_id}"));
        (run["status"] == "succeeded").then_some(run)
    });
    assert_eq!(read["result"], succeeded.len(), "{runs:#?}");
    eprintln!("runs by node: {nodes:?} of {} runs", succeeded.len());
    drop(api_one);
    assert_eq!(two.terminate(), Some(0));
}

/// What `fixtures/entities.js` returns, under `clockwork serve` and `clockwork run` alike.
fn entity_script_result() -> Value {
    serde_json::from_str(include_str!("fixtures/entities.result.json")).unwrap()
}

fn a_job_uses_the_custom_entities_of_the_servers_config(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/entities.toml");
    let server = start(
        &dir.path().join("data"),
        database,
        Some(std::path::Path::new(config)),
    );
    let api = Api::new(&server);
    let job = json!({
        "name": "reminders",
        "script": include_str!("fixtures/entities.js"),
    });
    let (status, _, created) = api.call("POST", "/jobs", Some(job));
    assert_eq!(status, 201, "{created}");
    let run = api.run("reminders");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], entity_script_result());
    assert_eq!(server.terminate(), Some(0));
}

on_both_databases!(
    six_field_cron_fires_at_the_right_seconds,
    a_job_uses_the_custom_entities_of_the_servers_config,
    kill_9_during_a_run_interrupts_it_and_the_restart_retries_it,
    bad_api_input_is_a_problem_document_and_changes_nothing,
    sigterm_lets_runs_finish_within_the_grace_period_then_interrupts_them,
    overlap_skip_records_a_skipped_row_for_each_occurrence_a_run_overlaps,
    a_timeout_leaves_a_timed_out_row_with_the_lines_logged_before_it,
    a_restart_after_downtime_records_missed_occurrences_per_misfire_policy,
);

/// Several nodes share only a PostgreSQL database (SQLite has one node).
#[test]
fn postgres_two_servers_on_one_database_never_run_an_occurrence_twice() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(Database::postgres());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        two_servers_on_one_database_never_run_an_occurrence_twice(&database)
    }));
    runtime.block_on(database.drop_schema());
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
