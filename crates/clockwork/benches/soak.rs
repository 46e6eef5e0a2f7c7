//! Soak: two `clockwork serve` nodes on one PostgreSQL schema under load and
//! faults for a while, then the history checked against what was due.
//!
//! `cargo bench -p clockwork --bench soak -- [MINUTES] [JOBS] [KILL_EVERY_S]
//! [CUT_EVERY_S] [CUT_FOR_S]` (defaults 10, 200, 30, 120, 5: issue 12's
//! soak). JOBS jobs fire every second; every KILL_EVERY_S one node (in
//! turn) is killed with SIGKILL and started again on its data directory
//! (same node id); every CUT_EVERY_S both nodes lose the database for
//! CUT_FOR_S (each reaches PostgreSQL through a relay that is cut). At the
//! end the nodes stop and the runs table is read directly.
//!
//! It reports due occurrences, rows, duplicates (two rows for one
//! occurrence), gaps (a due second with no row: a `missed` row covers
//! `missed_count` seconds), overlapping executions of one job, runs left
//! `running` after the graceful stop (lost: a stopping node ends or
//! interrupts every run it holds), runs still `queued` (kept for the next
//! node: retries in their backoff, claims not made yet), log lines of
//! ended runs (lost chunks would show as runs whose lines stop short) and the
//! lateness of on-time starts (p50/p90/p99/max), then `N passed, M failed`
//! for the invariants. Needs PostgreSQL (`CLOCKWORK_TEST_DATABASE_URL`,
//! as the tests).

// Benchmark setup may unwrap: a failure here is a broken benchmark.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use serde_json::json;
use support::{Serve, e2e::Api};
use test_support::{PgSchema, Relay, host_and_port};

/// Nodes sharing a database share its secret key.
const SECRET_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// Every run logs this many lines.
const LINES_PER_RUN: i64 = 2;

struct Params {
    minutes: f64,
    jobs: usize,
    kill_every: Duration,
    cut_every: Duration,
    cut_for: Duration,
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
    create_jobs(&Api::new(nodes[0].serve.as_ref().unwrap()), params.jobs);
    let began = Timestamp::now();
    let (kills, cuts) = drive(&mut nodes, &params);
    let stopped = Timestamp::now();
    for node in &mut nodes {
        if let Some(serve) = node.serve.take() {
            serve.sigterm();
            serve.wait();
        }
    }
    let report = runtime.block_on(measure(schema.url(), began, stopped));
    println!(
        "soak: {} min, {} jobs every second, 2 nodes on PostgreSQL, {kills} kills, {cuts} database cuts of {:?}",
        params.minutes, params.jobs, params.cut_for
    );
    report.print();
    runtime.block_on(schema.drop());
    if report.failed() > 0 {
        std::process::exit(1);
    }
}

fn create_jobs(api: &Api, jobs: usize) {
    for n in 0..jobs {
        let job = json!({
            "name": format!("soak-{n:04}"),
            "schedule": {"cron": "* * * * * *"},
            "script": "console.log('begin'); await new Promise((r) => setTimeout(r, 50)); console.log('end'); return 1;",
        });
        let (status, _, body) = api.call("POST", "/jobs", Some(job));
        assert_eq!(status, 201, "{body}");
    }
}

/// Runs the load for the duration with the faults; returns how many kills
/// and cuts there were.
fn drive(nodes: &mut [Node], params: &Params) -> (usize, usize) {
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(params.minutes * 60.0);
    let mut next_kill = start + params.kill_every;
    let mut next_cut = start + params.cut_every;
    let (mut kills, mut cuts) = (0, 0);
    while Instant::now() < end {
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
    statuses: BTreeMap<String, i64>,
}

impl Report {
    fn invariants(&self) -> [(&'static str, bool); 4] {
        [
            ("no duplicate rows", self.duplicates == 0),
            ("no gaps", self.gaps == 0),
            ("no overlapping executions", self.overlaps == 0),
            ("no runs lost (running after the stop)", self.lost_runs == 0),
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
        println!("due occurrences        {}", self.due);
        println!("occurrence rows        {}", self.rows);
        println!("statuses               {:?}", self.statuses);
        println!("duplicates             {}", self.duplicates);
        println!("gaps                   {}", self.gaps);
        println!("overlapping executions {}", self.overlaps);
        println!("lost runs              {}", self.lost_runs);
        println!("queued at the end      {}", self.queued);
        println!(
            "ended runs short of log lines (lost chunks) {}",
            self.short_logs
        );
        println!(
            "lateness ms            p50 {} p90 {} p99 {} max {} (n = {})",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            self.lateness_ms.last().copied().unwrap_or(0),
            self.lateness_ms.len()
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

type RunRow = (
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
);

/// Reads the runs table and checks it against what was due between `began`
/// and `stopped`.
async fn measure(url: &str, began: Timestamp, stopped: Timestamp) -> Report {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT job_id, trigger, status, scheduled_for_ms, started_at_ms, finished_at_ms, \
             missed_count, log_lines FROM runs ORDER BY job_id, started_at_ms",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut statuses = BTreeMap::new();
    let mut by_job: HashMap<i64, Vec<&RunRow>> = HashMap::new();
    for row in &rows {
        *statuses.entry(row.2.clone()).or_insert(0) += 1;
        by_job.entry(row.0).or_default().push(row);
    }
    let mut report = Report {
        due: 0,
        rows: 0,
        duplicates: 0,
        gaps: 0,
        overlaps: 0,
        lost_runs: 0,
        queued: 0,
        short_logs: 0,
        lateness_ms: Vec::new(),
        statuses,
    };
    // Occurrences from the first whole second after the load began to the
    // last whole second before the nodes stopped.
    let first = began.as_millisecond() / 1000 + 1;
    let last = stopped.as_millisecond() / 1000 - 1;
    for runs in by_job.values() {
        check_job(runs, first, last, &mut report);
    }
    report.lateness_ms.sort_unstable();
    report
}

fn check_job(runs: &[&RunRow], first: i64, last: i64, report: &mut Report) {
    let mut covered: HashMap<i64, i64> = HashMap::new();
    let mut intervals = Vec::new();
    for (_, trigger, status, scheduled, started, finished, missed, lines) in runs.iter().copied() {
        match status.as_str() {
            "running" => report.lost_runs += 1,
            "queued" => report.queued += 1,
            _ => {}
        }
        if status == "succeeded" && *lines < LINES_PER_RUN {
            report.short_logs += 1;
        }
        if let (Some(start), Some(end)) = (started, finished) {
            intervals.push((*start, *end));
        }
        if trigger != "schedule" && trigger != "catch_up" {
            continue;
        }
        let Some(scheduled) = scheduled else { continue };
        let second = scheduled / 1000;
        if (first..=last).contains(&second) {
            report.rows += 1;
        }
        for s in second..second + missed.unwrap_or(1) {
            *covered.entry(s).or_insert(0) += 1;
        }
        if trigger == "schedule"
            && let Some(start) = started
        {
            report.lateness_ms.push(start - scheduled);
        }
    }
    for second in first..=last {
        report.due += 1;
        match covered.get(&second).copied().unwrap_or(0) {
            0 => report.gaps += 1,
            1 => {}
            n => report.duplicates += n - 1,
        }
    }
    intervals.sort_unstable();
    for pair in intervals.windows(2) {
        if pair[1].0 < pair[0].1 {
            report.overlaps += 1;
        }
    }
}
