//! Soak: two `clockwork serve` nodes on one PostgreSQL schema under load and
//! faults for a while, then the history checked against what was due.
//!
//! `cargo bench -p clockwork --bench soak -- [MINUTES] [JOBS] [KILL_EVERY_S]
//! [CUT_EVERY_S] [CUT_FOR_S] [EVENTS_PER_S] [CHAIN_JOBS]` (defaults 10, 200,
//! 30, 120, 5, 10, 10: issue 12's soak). JOBS jobs fire every second; every
//! KILL_EVERY_S one node (in turn) is killed with SIGKILL and started again
//! on its data directory (same node id); every CUT_EVERY_S both nodes lose
//! the database for CUT_FOR_S (each reaches PostgreSQL through a relay that
//! is cut).
//!
//! Beside them, queue events and chains: a producer job pushes EVENTS_PER_S
//! events every second (one `Queue.push`, so all or none of a run's events
//! exist), each body naming the producer run, its attempt and the event's
//! index, to a consumer job that returns the body; CHAIN_JOBS jobs each start
//! a chain of `CHUNKS` chunks every 5 seconds (`continueWith`), each chunk
//! returning its index. The scripts stop pushing and starting chains when the
//! load ends; the faults stop too, and the soak waits for the events to
//! settle and the chains to end before it stops the nodes gracefully and reads
//! the tables directly.
//!
//! It reports due occurrences, rows, duplicates (two rows for one
//! occurrence), gaps (a due second with no row: a `missed` row covers
//! `missed_count` seconds), overlapping executions (of one job's own runs, or
//! of one event's runs), runs left `running` after the graceful stop (lost:
//! a stopping node ends or interrupts every run it holds), runs still
//! `queued` (kept for the next node: retries in their backoff, claims not
//! made yet), ended runs short of log lines and the lateness of on-time
//! starts (p50/p90/p99/max); for events, how many were pushed, settled
//! (`succeeded` with a succeeded consumer run whose result is the event's
//! body), lost and consumed twice; for chains, how many started and
//! completed, and chunks lost, duplicated and out of order — then
//! `N passed, M failed` for the invariants. Needs PostgreSQL
//! (`CLOCKWORK_TEST_DATABASE_URL`, as the tests).

// Benchmark setup may unwrap: a failure here is a broken benchmark.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use serde_json::{Value, json};
use support::{Serve, e2e::Api};
use test_support::{PgSchema, Relay, host_and_port};

/// Nodes sharing a database share its secret key.
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// Every run logs this many lines.
const LINES_PER_RUN: i64 = 2;
/// The queue the producer pushes to and the consumer consumes.
const QUEUE: &str = "soak-events";
const PRODUCER: &str = "soak-producer";
const CONSUMER: &str = "soak-consumer";
/// Chain jobs are named `soak-chain-NN`.
const CHAIN_PREFIX: &str = "soak-chain-";
/// Chunks in every chain.
const CHUNKS: i64 = 5;
/// How long the soak waits, after the load, for events and chains to end.
const DRAIN_FOR: Duration = Duration::from_secs(180);
/// Enough history that retention prunes nothing the check reads.
const KEEP_RUNS: u32 = 1_000_000;

struct Params {
    minutes: f64,
    jobs: usize,
    kill_every: Duration,
    cut_every: Duration,
    cut_for: Duration,
    events_per_second: usize,
    chain_jobs: usize,
}

fn params() -> Params {
    // `cargo bench` passes `--bench`; numbers are ours.
    let numbers: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let at = |i: usize, default: f64| numbers.get(i).copied().unwrap_or(default);
    Params {
        minutes: at(0, 10.0),
        jobs: at(1, 200.0) as usize,
        kill_every: Duration::from_secs_f64(at(2, 30.0)),
        cut_every: Duration::from_secs_f64(at(3, 120.0)),
        cut_for: Duration::from_secs_f64(at(4, 5.0)),
        events_per_second: (at(5, 10.0) as usize).clamp(1, 50),
        chain_jobs: at(6, 10.0) as usize,
    }
}

/// One node: its relay to PostgreSQL, its data directory, its process.
struct Node {
    relay: Relay,
    data: std::path::PathBuf,
    url: String,
    serve: Option<Serve>,
}

impl Node {
    fn start(&mut self) {
        let args = ["--database", self.url.as_str()];
        self.serve = Some(Serve::start_with_env(
            &self.data,
            &args,
            &[("CLOCKWORK_SECRET_KEY", SECRET_KEY)],
        ));
    }

    fn kill_and_restart(&mut self) {
        if let Some(serve) = self.serve.take() {
            serve.kill9();
        }
        self.start();
    }
}

fn main() {
    let params = params();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(PgSchema::create("soak"));
    let dir = tempfile::tempdir().unwrap();
    let target = host_and_port(schema.url());
    let mut nodes: Vec<Node> = ["a", "b"]
        .iter()
        .map(|name| {
            let relay = Relay::start(target);
            let url = relay.url_for(schema.url());
            Node {
                relay,
                data: dir.path().join(name),
                url,
                serve: None,
            }
        })
        .collect();
    for node in &mut nodes {
        node.start();
    }
    let load_ends_ms = Timestamp::now().as_millisecond() + (params.minutes * 60_000.0) as i64;
    create_jobs(
        &Api::new(nodes[0].serve.as_ref().unwrap()),
        &params,
        load_ends_ms,
    );
    // Occurrences are due from here: every job exists.
    let began = Timestamp::now();
    let (kills, cuts) = drive(&mut nodes, &params, load_ends_ms);
    let drained = runtime.block_on(drain(schema.url(), load_ends_ms));
    let stopped = Timestamp::now();
    for node in &mut nodes {
        if let Some(serve) = node.serve.take() {
            serve.sigterm();
            serve.wait();
        }
    }
    let report = runtime.block_on(measure(schema.url(), began, stopped, &params));
    println!(
        "soak: {} min, {} jobs every second, {} events pushed every second, {} chain jobs \
         ({CHUNKS} chunks every 5 s each), 2 nodes on PostgreSQL, {kills} kills, \
         {cuts} database cuts of {:?}; drain {}",
        params.minutes,
        params.jobs,
        params.events_per_second,
        params.chain_jobs,
        params.cut_for,
        match drained {
            Some(took) => format!("{:.1} s", took.as_secs_f64()),
            None => format!("not finished after {DRAIN_FOR:?}"),
        }
    );
    report.print();
    runtime.block_on(schema.drop());
    if report.failed() > 0 {
        std::process::exit(1);
    }
}

fn create_jobs(api: &Api, params: &Params, load_ends_ms: i64) {
    let retention = json!({"keep_runs": KEEP_RUNS});
    let mut jobs = Vec::new();
    for n in 0..params.jobs {
        jobs.push(json!({
            "name": format!("soak-{n:04}"),
            "schedule": {"cron": "* * * * * *"},
            "script": "console.log('begin'); await new Promise((r) => setTimeout(r, 50)); console.log('end'); return 1;",
            "retention": retention,
        }));
    }
    jobs.push(json!({
        "name": CONSUMER,
        "queue": QUEUE,
        "script": consumer_script(),
        "retention": retention,
    }));
    jobs.push(json!({
        "name": PRODUCER,
        "schedule": {"cron": "* * * * * *"},
        "script": producer_script(params.events_per_second, load_ends_ms),
        "retention": retention,
    }));
    for n in 0..params.chain_jobs {
        jobs.push(json!({
            "name": format!("{CHAIN_PREFIX}{n:02}"),
            // Spread over the 5 seconds so chains do not all start at once.
            "schedule": {"cron": format!("{}-59/5 * * * * *", n % 5)},
            "script": chain_script(load_ends_ms),
            "retention": retention,
        }));
    }
    for job in jobs {
        let (status, _, body) = api.call("POST", "/jobs", Some(job));
        assert_eq!(status, 201, "{body}");
    }
}

/// Pushes `events` events in one `push` (all or none exist), each body
/// naming this run and attempt, so the runs table says which were pushed.
fn producer_script(events: usize, load_ends_ms: i64) -> String {
    format!(
        "console.log('begin');
if (Date.now() >= {load_ends_ms}) {{ console.log('end'); return {{ pushed: 0 }}; }}
const run = {{ run: String(context.run.id), attempt: context.run.attempt }};
const events = Array.from({{ length: {events} }}, (_, i) => ({{ body: {{ ...run, i }} }}));
const {{ jobId }} = await new Queue({{ key: '{QUEUE}' }}).push(events);
console.log('end');
return {{ pushed: {events}, jobId }};"
    )
}

/// Returns the event's body, so a succeeded run shows what it consumed.
fn consumer_script() -> String {
    "console.log('begin'); await new Promise((r) => setTimeout(r, 20)); console.log('end'); return event.body;"
        .to_owned()
}

/// A chain of `CHUNKS` chunks; each returns its index (from its input
/// state). No new chain starts once the load has ended.
fn chain_script(load_ends_ms: i64) -> String {
    format!(
        "const index = context.state?.index ?? 0;
console.log('begin', index);
if (index === 0 && Date.now() >= {load_ends_ms}) {{ console.log('end'); return {{ late: true }}; }}
await new Promise((r) => setTimeout(r, 50));
if (index + 1 < {CHUNKS}) context.continueWith({{ index: index + 1 }});
console.log('end');
return {{ chunk: index }};"
    )
}

/// Runs the load until `load_ends_ms` with the faults; returns how many
/// kills and cuts there were.
fn drive(nodes: &mut [Node], params: &Params, load_ends_ms: i64) -> (usize, usize) {
    let start = Instant::now();
    let mut next_kill = start + params.kill_every;
    let mut next_cut = start + params.cut_every;
    let (mut kills, mut cuts) = (0, 0);
    while Timestamp::now().as_millisecond() < load_ends_ms {
        let now = Instant::now();
        if now >= next_cut {
            for node in nodes.iter() {
                node.relay.cut();
            }
            std::thread::sleep(params.cut_for);
            for node in nodes.iter() {
                node.relay.restore();
            }
            cuts += 1;
            next_cut += params.cut_every;
        } else if now >= next_kill {
            nodes[kills % nodes.len()].kill_and_restart();
            kills += 1;
            next_kill += params.kill_every;
        }
        // The fault clock's granularity, not a synchronisation.
        std::thread::sleep(Duration::from_millis(100));
    }
    (kills, cuts)
}

/// Waits (without faults) until every pushed event has settled and every
/// chain has ended: no event pending, no live chunk, no producer or chain
/// run that began before the load ended still live. Returns how long that
/// took, or `None` if it did not happen within `DRAIN_FOR`.
async fn drain(url: &str, load_ends_ms: i64) -> Option<Duration> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let start = Instant::now();
    // A second's margin for the scripts' clock check against `started_at`.
    let began_before = load_ends_ms + 1000;
    let outstanding = "SELECT (SELECT count(*) FROM queue_events WHERE status = 'pending') + \
         (SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id \
          WHERE r.status IN ('queued', 'running') \
            AND (r.chain_id IS NOT NULL \
                 OR ((j.name = $1 OR j.name LIKE $2) \
                     AND (r.started_at_ms IS NULL OR r.started_at_ms < $3))))";
    let result = loop {
        let waiting: i64 = sqlx::query_scalar(outstanding)
            .bind(PRODUCER)
            .bind(format!("{CHAIN_PREFIX}%"))
            .bind(began_before)
            .fetch_one(&pool)
            .await
            .unwrap();
        let now = Timestamp::now().as_millisecond();
        if waiting == 0 && now > began_before {
            break Some(start.elapsed());
        }
        if start.elapsed() > DRAIN_FOR {
            break None;
        }
        // Polling the database's state; nothing to await instead.
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    pool.close().await;
    result
}

#[derive(Default)]
struct Report {
    due: i64,
    rows: i64,
    duplicates: i64,
    gaps: i64,
    overlaps: i64,
    lost_runs: i64,
    queued: i64,
    short_logs: i64,
    lateness_ms: Vec<i64>,
    /// The latest on-time start: lateness, job, run id, scheduled instant.
    latest: Option<(i64, String, i64, i64)>,
    statuses: BTreeMap<String, i64>,
    /// Failed and timed-out runs: job, trigger, attempt, error.
    failures: Vec<(String, String, i64, String)>,
    events: EventReport,
    chains: ChainReport,
}

/// What happened to the events the producer pushed.
#[derive(Default)]
struct EventReport {
    /// Events of succeeded producer runs (expected) plus those that runs
    /// interrupted after their push committed left behind.
    pushed: i64,
    /// Of `pushed`, from producer runs that did not succeed.
    pushed_by_unfinished_runs: i64,
    /// `succeeded`, with a succeeded consumer run that returned its body.
    settled: i64,
    /// A succeeded producer's event missing, or a pushed event not settled.
    lost: i64,
    /// Of `lost`, still pending when the nodes stopped.
    pending: i64,
    /// Events with more than one succeeded consumer run.
    consumed_twice: i64,
    /// Two events with one body (a push stored twice).
    pushed_twice: i64,
    /// A producer run with some but not all of its events.
    partial_pushes: i64,
    /// Events whose body names no producer run.
    unaccounted: i64,
    /// Consumer runs: all, and those retried (attempt > 1).
    consumer_runs: i64,
    consumer_retries: i64,
}

/// What happened to the chains.
#[derive(Default)]
struct ChainReport {
    started: i64,
    completed: i64,
    in_progress: i64,
    chunks: i64,
    interrupted_chunks: i64,
    lost_chunks: i64,
    duplicated_chunks: i64,
    out_of_order: i64,
}

impl Report {
    fn invariants(&self) -> [(&'static str, bool); 10] {
        let events = &self.events;
        let chains = &self.chains;
        [
            ("no duplicate rows", self.duplicates == 0),
            ("no gaps", self.gaps == 0),
            ("no overlapping executions", self.overlaps == 0),
            ("no runs lost (running after the stop)", self.lost_runs == 0),
            (
                "no events lost (every pushed event settled by a succeeded consumer run)",
                events.lost == 0 && events.unaccounted == 0,
            ),
            (
                "no event pushed or consumed twice",
                events.consumed_twice == 0 && events.pushed_twice == 0,
            ),
            ("pushes all or nothing", events.partial_pushes == 0),
            ("no chunks lost", chains.lost_chunks == 0),
            ("no chunks duplicated", chains.duplicated_chunks == 0),
            ("no chunks out of order", chains.out_of_order == 0),
        ]
    }

    fn failed(&self) -> usize {
        self.invariants().iter().filter(|(_, ok)| !ok).count()
    }

    fn print(&self) {
        let pct = |p: f64| -> i64 {
            if self.lateness_ms.is_empty() {
                return 0;
            }
            let i = ((self.lateness_ms.len() - 1) as f64 * p).round() as usize;
            self.lateness_ms[i]
        };
        let events = &self.events;
        let chains = &self.chains;
        println!("due occurrences        {}", self.due);
        println!("occurrence rows        {}", self.rows);
        println!("statuses               {:?}", self.statuses);
        for (job, trigger, attempt, error) in self.failures.iter().take(5) {
            println!("  failed: {job} ({trigger}, attempt {attempt}): {error}");
        }
        println!("duplicates             {}", self.duplicates);
        println!("gaps                   {}", self.gaps);
        println!("overlapping executions {}", self.overlaps);
        println!("lost runs              {}", self.lost_runs);
        println!("queued at the end      {}", self.queued);
        println!("ended runs short of log lines {}", self.short_logs);
        println!(
            "lateness ms            p50 {} p90 {} p99 {} max {} (n = {})",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            self.lateness_ms.last().copied().unwrap_or(0),
            self.lateness_ms.len()
        );
        if let Some((late, job, run, scheduled)) = &self.latest {
            let scheduled = Timestamp::from_millisecond(*scheduled)
                .map_or_else(|_| scheduled.to_string(), |at| at.to_string());
            println!("  latest: {job} run {run} due {scheduled}, started {late} ms late");
        }
        println!(
            "events                 pushed {} (by unfinished producer runs {}), settled {}, \
             lost {} (pending at the stop {}), consumed twice {}, pushed twice {}, \
             partial pushes {}, unaccounted {}; consumer runs {} (retries {})",
            events.pushed,
            events.pushed_by_unfinished_runs,
            events.settled,
            events.lost,
            events.pending,
            events.consumed_twice,
            events.pushed_twice,
            events.partial_pushes,
            events.unaccounted,
            events.consumer_runs,
            events.consumer_retries,
        );
        println!(
            "chains                 started {}, completed {}, in progress at the stop {}; \
             chunks {} (interrupted attempts {}), lost {}, duplicated {}, out of order {}",
            chains.started,
            chains.completed,
            chains.in_progress,
            chains.chunks,
            chains.interrupted_chunks,
            chains.lost_chunks,
            chains.duplicated_chunks,
            chains.out_of_order,
        );
        for (name, ok) in self.invariants() {
            println!("  {} {name}", if ok { "ok    " } else { "FAILED" });
        }
        let failed = self.failed();
        println!(
            "{} passed, {failed} failed",
            self.invariants().len() - failed
        );
    }
}

/// One row of the runs table, with its job's name.
struct Run {
    id: i64,
    job: String,
    trigger: String,
    status: String,
    attempt: i64,
    scheduled_for: Option<i64>,
    started: Option<i64>,
    finished: Option<i64>,
    missed: Option<i64>,
    log_lines: i64,
    chain_id: Option<i64>,
    event_id: Option<i64>,
    result: Option<Value>,
}

type RunRow = (
    i64,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

impl From<RunRow> for Run {
    fn from(row: RunRow) -> Run {
        Run {
            id: row.0,
            job: row.1,
            trigger: row.2,
            status: row.3,
            attempt: row.4,
            scheduled_for: row.5,
            started: row.6,
            finished: row.7,
            missed: row.8,
            log_lines: row.9,
            chain_id: row.10,
            event_id: row.11,
            result: row.12.and_then(|text| serde_json::from_str(&text).ok()),
        }
    }
}

/// One pushed event: its id, body and status.
struct Event {
    id: i64,
    body: Value,
    status: String,
}

/// Reads the runs and queue events and checks them against what was due
/// between `began` and `stopped` and what was pushed and chained.
async fn measure(url: &str, began: Timestamp, stopped: Timestamp, params: &Params) -> Report {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT r.id, j.name, r.trigger, r.status, r.attempt, r.scheduled_for_ms, \
             r.started_at_ms, r.finished_at_ms, r.missed_count, r.log_lines, r.chain_id, \
             r.queue_event_id, r.result \
         FROM runs r JOIN jobs j ON j.id = r.job_id ORDER BY r.job_id, r.started_at_ms",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let events: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, body, status FROM queue_events WHERE queue = $1 ORDER BY id")
            .bind(QUEUE)
            .fetch_all(&pool)
            .await
            .unwrap();
    let failures: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT j.name, r.trigger, r.attempt, r.error FROM runs r JOIN jobs j ON j.id = r.job_id \
         WHERE r.status IN ('failed', 'timed_out') ORDER BY r.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let runs: Vec<Run> = rows.into_iter().map(Run::from).collect();
    let events: Vec<Event> = events
        .into_iter()
        .map(|(id, body, status)| Event {
            id,
            body: serde_json::from_str(&body).unwrap(),
            status,
        })
        .collect();
    let mut report = Report {
        failures: failures
            .into_iter()
            .map(|(job, trigger, attempt, error)| {
                let error: String = error.unwrap_or_default().chars().take(200).collect();
                (job, trigger, attempt, error)
            })
            .collect(),
        ..Report::default()
    };
    let mut by_job: HashMap<&str, Vec<&Run>> = HashMap::new();
    for run in &runs {
        *report.statuses.entry(run.status.clone()).or_insert(0) += 1;
        by_job.entry(&run.job).or_default().push(run);
    }
    // Occurrences from the first whole second after the load began to the
    // last whole second before the nodes stopped.
    let first = began.as_millisecond() / 1000 + 1;
    let last = stopped.as_millisecond() / 1000 - 1;
    for (job, runs) in &by_job {
        // The consumer has no schedule; chains start every 5 seconds.
        let every_second = *job != CONSUMER && !job.starts_with(CHAIN_PREFIX);
        check_job(runs, every_second.then_some((first, last)), &mut report);
    }
    report.lateness_ms.sort_unstable();
    report.events = check_events(&runs, &events, params.events_per_second as i64);
    report.chains = check_chains(&runs);
    report
}

fn check_job(runs: &[&Run], due: Option<(i64, i64)>, report: &mut Report) {
    let mut covered: HashMap<i64, i64> = HashMap::new();
    // The job's own runs must not overlap; event runs only per event.
    let mut intervals: HashMap<Option<i64>, Vec<(i64, i64)>> = HashMap::new();
    for run in runs.iter().copied() {
        match run.status.as_str() {
            "running" => report.lost_runs += 1,
            "queued" => report.queued += 1,
            _ => {}
        }
        if run.status == "succeeded" && run.log_lines < LINES_PER_RUN {
            report.short_logs += 1;
        }
        if let (Some(start), Some(end)) = (run.started, run.finished) {
            intervals
                .entry(run.event_id)
                .or_default()
                .push((start, end));
        }
        if run.trigger != "schedule" && run.trigger != "catch_up" {
            continue;
        }
        let Some(scheduled) = run.scheduled_for else {
            continue;
        };
        let second = scheduled / 1000;
        if let Some((first, last)) = due
            && (first..=last).contains(&second)
        {
            report.rows += 1;
        }
        for s in second..second + run.missed.unwrap_or(1) {
            *covered.entry(s).or_insert(0) += 1;
        }
        if run.trigger == "schedule"
            && let Some(start) = run.started
        {
            let late = start - scheduled;
            report.lateness_ms.push(late);
            if report.latest.as_ref().is_none_or(|(max, ..)| late > *max) {
                report.latest = Some((late, run.job.clone(), run.id, scheduled));
            }
        }
    }
    if let Some((first, last)) = due {
        for second in first..=last {
            report.due += 1;
            match covered.get(&second).copied().unwrap_or(0) {
                0 => report.gaps += 1,
                1 => {}
                n => report.duplicates += n - 1,
            }
        }
    }
    for intervals in intervals.values_mut() {
        intervals.sort_unstable();
        for pair in intervals.windows(2) {
            if pair[1].0 < pair[0].1 {
                report.overlaps += 1;
            }
        }
    }
}

/// An id as a script wrote it (a number or a string).
fn as_id(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Which producer run and attempt pushed an event, and its index.
fn pushed_by(body: &Value) -> Option<((i64, i64), i64)> {
    Some((
        (as_id(&body["run"])?, body["attempt"].as_i64()?),
        body["i"].as_i64()?,
    ))
}

fn check_events(runs: &[Run], events: &[Event], per_push: i64) -> EventReport {
    let mut report = EventReport::default();
    // Each producer run and attempt with its status.
    let producers: HashMap<(i64, i64), &Run> = runs
        .iter()
        .filter(|run| run.job == PRODUCER)
        .map(|run| ((run.id, run.attempt), run))
        .collect();
    // Each event's succeeded consumer runs that returned its body.
    let mut consumed: HashMap<i64, i64> = HashMap::new();
    for run in runs.iter().filter(|run| run.job == CONSUMER) {
        report.consumer_runs += 1;
        if run.attempt > 1 {
            report.consumer_retries += 1;
        }
        if run.status == "succeeded"
            && let Some(event) = run.event_id
        {
            *consumed.entry(event).or_insert(0) += 1;
        }
    }
    let body_of: HashMap<i64, &Value> = events.iter().map(|e| (e.id, &e.body)).collect();
    // Events a succeeded run of which returned something else than its body.
    let mut wrong_result: HashSet<i64> = HashSet::new();
    for run in runs.iter().filter(|run| run.job == CONSUMER) {
        if run.status == "succeeded"
            && let Some(event) = run.event_id
            && run.result.as_ref() != body_of.get(&event).copied()
        {
            wrong_result.insert(event);
        }
    }
    // The events each producer run pushed, by index.
    let mut by_push: HashMap<(i64, i64), HashMap<i64, i64>> = HashMap::new();
    for event in events {
        let Some((push, index)) = pushed_by(&event.body) else {
            report.unaccounted += 1;
            continue;
        };
        *by_push.entry(push).or_default().entry(index).or_insert(0) += 1;
        if !producers.contains_key(&push) {
            report.unaccounted += 1;
        }
        report.pushed += 1;
        let succeeded_runs = consumed.get(&event.id).copied().unwrap_or(0);
        if succeeded_runs > 1 {
            report.consumed_twice += 1;
        }
        if event.status == "succeeded" && succeeded_runs >= 1 && !wrong_result.contains(&event.id) {
            report.settled += 1;
        } else {
            report.lost += 1;
            if event.status == "pending" {
                report.pending += 1;
            }
        }
    }
    for (push, producer) in &producers {
        let found = by_push.get(push);
        let distinct = found.map_or(0, |indices| indices.len() as i64);
        report.pushed_twice +=
            found.map_or(0, |indices| indices.values().map(|n| n - 1).sum::<i64>());
        let succeeded = producer.status == "succeeded"
            && producer.result.as_ref().and_then(|r| r["pushed"].as_i64()) == Some(per_push);
        if succeeded {
            // A succeeded push's events must all exist.
            report.lost += per_push - distinct;
            report.pushed += per_push - distinct;
        } else if distinct > 0 {
            report.pushed_by_unfinished_runs += distinct;
        }
        if distinct > 0 && distinct != per_push {
            report.partial_pushes += 1;
        }
    }
    report
}

fn check_chains(runs: &[Run]) -> ChainReport {
    let mut report = ChainReport::default();
    let mut chains: BTreeMap<i64, Vec<&Run>> = BTreeMap::new();
    for run in runs.iter().filter(|run| run.job.starts_with(CHAIN_PREFIX)) {
        if let Some(chain) = run.chain_id {
            chains.entry(chain).or_default().push(run);
        }
    }
    for chunks in chains.values_mut() {
        // A chunk is created only once the previous one has ended.
        chunks.sort_by_key(|run| run.id);
        report.started += 1;
        let live = chunks
            .iter()
            .any(|run| run.status == "queued" || run.status == "running");
        let done: Vec<i64> = chunks
            .iter()
            .filter(|run| run.status == "succeeded")
            .filter_map(|run| run.result.as_ref()?["chunk"].as_i64())
            .collect();
        report.chunks += done.len() as i64;
        report.interrupted_chunks += chunks
            .iter()
            .filter(|run| run.status == "interrupted")
            .count() as i64;
        let mut seen: HashMap<i64, i64> = HashMap::new();
        for index in &done {
            *seen.entry(*index).or_insert(0) += 1;
        }
        report.duplicated_chunks += seen.values().map(|n| n - 1).sum::<i64>();
        report.out_of_order += done.windows(2).filter(|p| p[1] < p[0]).count() as i64;
        // Every index below the highest done (or all of them, once the
        // chain has ended) must be there.
        let expected = if live {
            done.iter().max().map_or(0, |max| max + 1)
        } else {
            CHUNKS
        };
        report.lost_chunks += (0..expected).filter(|i| !seen.contains_key(i)).count() as i64;
        if live {
            report.in_progress += 1;
        } else if seen.len() as i64 == CHUNKS {
            report.completed += 1;
        }
    }
    report
}
