//! End to end: `@forge/events` queues through real `clockwork serve`
//! processes on SQLite and PostgreSQL. A producer fans 1,000 events out to
//! a consumer with concurrency 10, some of which return `InvocationError`
//! first; the server is killed with `kill -9` mid-way and restarted; the
//! stats, history and storage then show every event consumed, none lost,
//! none completed twice. Cross-process state is awaited by polling the API
//! with a deadline.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Value, json};
use support::{
    e2e::{Api, Database, instant, on_both_databases, start},
    wait_for,
};

const EVENTS: usize = 1000;

/// The event whose first run is in flight when the server is killed.
const HELD: u64 = 300;

/// Which database a test's servers share (as in `e2e.rs`).
/// The consumer: every 7th event asks to be retried on its first attempt;
/// the others wait a little, then count their event id in storage, the last
/// thing they do. Every run of event `HELD` waits until the test releases
/// it after the restart, so the kill is sure to land mid-run (the others'
/// runs come and go too quickly for a poll to catch one: between one
/// batch's ends and the next claim, none may be running), even when a run
/// of it was stopped before the kill and retried (under a loaded test
/// machine a 2 s lease may miss its renewal). Each says when its script
/// started (in its result, or its retry's `retryData`): a run's recorded
/// `started_at` is its claim's instant, which may precede the claim's
/// commit, so only the script's own start bounds when it really ran.
fn consumer() -> String {
    format!(
        "\
const started = Date.now();
if (event.body.i % 7 === 0 && !event.retryContext) {{
  return new InvocationError({{ retryAfter: 1, retryReason: 'FUNCTION_UPSTREAM_RATE_LIMITED', retryData: {{ i: event.body.i, started }} }});
}}
if (event.body.i === {HELD}) {{
  console.log('held until the kill');
  while (!(await kvs.get('released'))) await new Promise((resolve) => setTimeout(resolve, 100));
}}
await new Promise((resolve) => setTimeout(resolve, 20));
const key = 'seen-' + event.eventId;
await kvs.set(key, ((await kvs.get(key)) ?? 0) + 1);
return {{ i: event.body.i, started }};"
    )
}

/// The producer: 20 pushes of 50 events, concurrency 10.
const PRODUCER: &str = "\
const queue = new Queue({ key: 'fanout' });
const jobs = [];
for (let p = 0; p < 20; p++) {
  const events = Array.from({ length: 50 }, (_, k) => ({ body: { i: p * 50 + k }, concurrency: { key: 'fanout', limit: 10 } }));
  jobs.push((await queue.push(events)).jobId);
}
await kvs.set('jobs', jobs);
return jobs;";

/// Sums `getStats()` of every queue job, from a script.
const STATS: &str = "\
const queue = new Queue({ key: 'fanout' });
const total = { success: 0, inProgress: 0, failed: 0 };
for (const id of await kvs.get('jobs')) {
  const stats = await queue.getJob(id).getStats();
  total.success += stats.success; total.inProgress += stats.inProgress; total.failed += stats.failed;
}
return total;";

/// Every `seen-` counter in storage.
const SEEN: &str = "\
import { startsWith } from '@forge/api';
const seen = {};
let cursor;
do {
  const page = await storage.query().where('key', startsWith('seen-')).limit(100).cursor(cursor).getMany();
  for (const { key, value } of page.results) seen[key.slice(5)] = value;
  cursor = page.nextCursor;
} while (cursor);
return seen;";

fn fan_out_survives_kill_9_with_no_event_lost_or_completed_twice(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(
        &config,
        "[scheduler]\nlease_seconds = 2\nworkers = 16\n\n[retention]\nkeep_runs = 100000\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    for job in [
        json!({"name": "consumer", "queue": "fanout", "script": consumer()}),
        json!({"name": "producer", "script": PRODUCER}),
        json!({"name": "stats", "script": STATS}),
        json!({"name": "seen", "script": SEEN}),
    ] {
        let (status, _, body) = api.call("POST", "/jobs", Some(job));
        assert_eq!(status, 201, "{body}");
    }
    let produced = api.run("producer");
    assert_eq!(produced["status"], "succeeded", "{produced}");
    let queue_jobs: Vec<String> = serde_json::from_value(produced["result"].clone()).unwrap();
    assert_eq!(queue_jobs.len(), 20);

    // Kill the server while events are being consumed, one of them for
    // sure: a run of the held event, once its log says it is waiting.
    wait_for(
        "a quarter of the events, and the held one waiting",
        Duration::from_secs(120),
        || {
            let queue = api.get("/queues/fanout");
            let quarter = queue["counts"]["succeeded"].as_u64().unwrap() >= (EVENTS / 4) as u64;
            (quarter && held_run_waits(&api)).then_some(())
        },
    );
    server.kill9();

    let server = start(&data, database, Some(&config));
    let api = Api::new(&server);
    let (status, _, body) = api.call("PUT", "/storage/released", Some(json!(true)));
    assert_eq!(status, 200, "{body}");
    let queue = wait_for("every event consumed", Duration::from_secs(240), || {
        let queue = api.get("/queues/fanout");
        (queue["counts"]["in_progress"] == 0).then_some(queue)
    });
    assert_eq!(
        queue["counts"],
        json!({"key": "fanout", "succeeded": EVENTS, "in_progress": 0, "failed": 0, "cancelled": 0}),
        "{queue}"
    );
    let consumer = api.get("/jobs/consumer");
    assert_eq!(consumer["progress"]["queue"], queue["counts"]);

    // getStats() from a script, summed over the 20 queue jobs.
    let stats = api.run("stats");
    assert_eq!(
        stats["result"],
        json!({"success": EVENTS, "inProgress": 0, "failed": 0}),
        "{stats}"
    );
    for id in &queue_jobs {
        let job = api.get(&format!("/queues/fanout/jobs/{id}"));
        assert_eq!(
            (job["succeeded"].as_u64(), job["events"].as_u64()),
            (Some(50), Some(50)),
            "{job}"
        );
    }

    // History: per event, exactly one succeeded run; retries only where
    // the consumer asked (every 7th) or its run was interrupted.
    let runs = api.all_runs("consumer");
    let mut by_event: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for run in &runs {
        by_event
            .entry(run["event"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(run);
    }
    assert_eq!(by_event.len(), EVENTS);
    let mut interrupted_events = 0;
    let mut executions: Vec<(i64, i64)> = Vec::new();
    let seen = api.run("seen");
    assert_eq!(seen["status"], "succeeded", "{seen}");
    let seen = seen["result"].as_object().unwrap().clone();
    assert_eq!(seen.len(), EVENTS, "every event counted itself");
    for (event_id, runs) in &by_event {
        let succeeded: Vec<_> = runs.iter().filter(|r| r["status"] == "succeeded").collect();
        assert_eq!(succeeded.len(), 1, "event {event_id}: {runs:?}");
        let i = succeeded[0]["event"]["body"]["i"].as_u64().unwrap();
        assert_eq!(succeeded[0]["result"]["i"], json!(i));
        // Each run's real execution: from its script's start to its end.
        for run in runs {
            let started = match run["status"].as_str() {
                Some("succeeded") => Some(&run["result"]["started"]),
                Some("failed") => runs
                    .iter()
                    .find(|r| r["attempt"] == run["attempt"].as_u64().unwrap() + 1)
                    .map(|retry| &retry["event"]["retry_context"]["retryData"]["started"]),
                _ => None,
            };
            if let Some(started) = started {
                executions.push((
                    started.as_i64().unwrap(),
                    instant(&run["finished_at"]).as_millisecond(),
                ));
            }
        }
        let interrupted = runs.iter().any(|r| r["status"] == "interrupted");
        interrupted_events += usize::from(interrupted);
        for run in runs {
            assert!(
                matches!(run["status"].as_str(), Some("succeeded" | "interrupted"))
                    || (run["status"] == "failed"
                        && i % 7 == 0
                        && run["event"]["retry_context"] == Value::Null),
                "{run}"
            );
        }
        // A retry asked for carries the consumer's retry context.
        for asked in runs.iter().filter(|r| r["status"] == "failed") {
            let attempt = asked["attempt"].as_u64().unwrap();
            let retry = runs.iter().find(|r| r["attempt"] == attempt + 1).unwrap();
            let context = &retry["event"]["retry_context"];
            assert_eq!(
                (
                    &context["retryCount"],
                    &context["retryReason"],
                    &context["retryData"]["i"]
                ),
                (
                    &json!(attempt),
                    &json!("FUNCTION_UPSTREAM_RATE_LIMITED"),
                    &json!(i)
                ),
                "{retry}"
            );
        }
        // The counter is written last: an event whose runs were never
        // interrupted counted itself exactly once; an interrupted run may
        // have counted itself just before the kill, never more than that.
        let count = seen[event_id].as_u64().unwrap();
        if interrupted {
            assert!((1..=2).contains(&count), "event {event_id} counted {count}");
        } else {
            assert_eq!(count, 1, "event {event_id} ran to completion twice");
        }
    }
    let held = &by_event
        .values()
        .find(|runs| runs[0]["event"]["body"]["i"] == json!(HELD))
        .unwrap();
    assert!(
        held.iter().any(|run| run["status"] == "interrupted"),
        "the kill did not interrupt the held event's run: {held:?}"
    );
    assert!(
        interrupted_events <= 10,
        "{interrupted_events} interrupted with concurrency 10"
    );

    // Concurrency 10: never more than 10 event scripts executing at once
    // (interrupted runs, whose end is when the sweeper found them, are
    // left out).
    let mut edges: Vec<(i64, i32)> = executions
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    edges.sort();
    let mut running = 0;
    let mut most = 0;
    for (_, delta) in edges {
        running += delta;
        most = most.max(running);
    }
    assert!(most <= 10, "{most} event runs at once");
    assert!(
        most >= 5,
        "only {most} event runs at once: the limit was never reached"
    );
    assert_eq!(server.terminate(), Some(0));
}

/// Whether a run of the held event is running and has logged that it waits.
fn held_run_waits(api: &Api) -> bool {
    let running = api.get("/jobs/consumer/runs?status=running&limit=100");
    let held = running["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["event"]["body"]["i"] == json!(HELD));
    held.is_some_and(|run| {
        let logs = api.get(&format!("/runs/{}/logs", run["id"].as_u64().unwrap()));
        logs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line["message"] == "held until the kill")
    })
}

fn delays_are_honoured_within_100_ms(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clockwork.toml");
    std::fs::write(&config, "").unwrap();
    let server = start(&dir.path().join("data"), database, Some(&config));
    let api = Api::new(&server);
    for job in [
        json!({"name": "consumer", "queue": "later", "script": "return event.body.n"}),
        json!({"name": "producer", "script": "return (await new Queue({ key: 'later' }).push([{ body: { n: 1 }, delayInSeconds: 2 }, { body: { n: 2 } }])).jobId;"}),
        json!({"name": "stray", "script": "await new Queue({ key: 'nobody' }).push({ body: {} });"}),
    ] {
        let (status, _, body) = api.call("POST", "/jobs", Some(job));
        assert_eq!(status, 201, "{body}");
    }
    // A second consumer of the same key is refused with the field's path.
    let (status, _, problem) = api.call(
        "POST",
        "/jobs",
        Some(json!({"name": "rival", "queue": "later", "script": "return 1"})),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "queue", "{problem}");
    let (status, _, problem) = api.call(
        "POST",
        "/jobs",
        Some(json!({"name": "bad-key", "queue": "a b", "script": "return 1"})),
    );
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("queue")),
        "{problem}"
    );

    let produced = api.run("producer");
    assert_eq!(produced["status"], "succeeded", "{produced}");
    let runs = wait_for("both events consumed", Duration::from_secs(30), || {
        let runs = api.all_runs("consumer");
        (runs.len() == 2 && runs.iter().all(|r| r["status"] == "succeeded")).then_some(runs)
    });
    for run in &runs {
        let queued = instant(&run["queued_at"]);
        let started = instant(&run["started_at"]);
        let expected = if run["result"] == 1 { 2000 } else { 0 };
        // Not before its delay (how soon after is the benches' figure).
        let late = started.as_millisecond() - queued.as_millisecond() - expected;
        assert!(
            late >= 0,
            "started {} ms before its delay ended: {run}",
            -late
        );
    }
    let queue_job = produced["result"].as_str().unwrap();
    let job = api.get(&format!("/queues/later/jobs/{queue_job}"));
    assert_eq!(job["succeeded"], 2, "{job}");
    let (status, _, _) = api.call("GET", "/queues/later/jobs/999999", None);
    assert_eq!(status, 404);
    let (status, _, _) = api.call("GET", "/queues/a%20b", None);
    assert_eq!(status, 422);

    let stray = api.run("stray");
    assert_eq!(stray["status"], "failed");
    assert!(
        stray["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no job consumes queue \"nobody\""),
        "{stray}"
    );
    let (status, _, _) = api.call("GET", "/queues/nobody", None);
    assert_eq!(status, 404);
    assert_eq!(server.terminate(), Some(0));
}

on_both_databases!(
    fan_out_survives_kill_9_with_no_event_lost_or_completed_twice,
    delays_are_honoured_within_100_ms,
);
