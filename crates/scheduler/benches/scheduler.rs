//! Scheduler benchmarks on an embedded SQLite database (figures in the
//! report and README). Each scenario prints its numbers:
//!
//! ```text
//! cargo bench -p scheduler --bench scheduler -- lateness   [SECONDS] [JOBS]  # 1,000 jobs every second
//! cargo bench -p scheduler --bench scheduler -- burst      [BURSTS]   # 1,000 jobs due at one instant
//! cargo bench -p scheduler --bench scheduler -- throughput [RUNS]     # queued trivial runs, history durable
//! cargo bench -p scheduler --bench scheduler -- startup    [JOBS]     # start-up time and RSS with N enabled jobs
//! cargo bench -p scheduler --bench scheduler -- history    [RUNS]     # the store side alone: claim + group-commit finish
//! cargo bench -p scheduler --bench scheduler -- starts     [RUNS]     # the executor alone: handing over trivial scripts
//! cargo bench -p scheduler --bench scheduler -- events     [EVENTS]   # queue events: push → run → recorded
//! cargo bench -p scheduler --bench scheduler -- abuse      [SECONDS]  # a heartbeat beside endless loops and memory bombs
//! ```
//! Lateness is the start of execution (when the executor is handed the
//! run) minus the occurrence's instant, from the scheduler's run events.

#![allow(clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::Timestamp;
use runtime::{Executor, ExecutorConfig};
use scheduler::{RunEvent, Scheduler, SchedulerConfig, SchedulerHandle};
use store::{
    JobSchedule, JobSpec, NewJob, NewRun, Overlap, RunStatus, Store, SystemClock, Trigger,
};
use tokio::sync::broadcast;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let scenario = args.first().map(String::as_str).unwrap_or("all");
    let number = |default: u64| args.get(1).and_then(|n| n.parse().ok()).unwrap_or(default);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match scenario {
            "lateness" => {
                let jobs = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
                lateness(number(30), jobs).await
            }
            "burst" => burst(number(3)).await,
            "throughput" => throughput(number(20_000)).await,
            "startup" => startup(number(100_000)).await,
            "starts" => starts(number(1000)).await,
            "history" => history(number(20_000)).await,
            "events" => events(number(10_000)).await,
            "abuse" => abuse(number(4)).await,
            "all" => {
                lateness(30, 1000).await;
                burst(3).await;
                throughput(20_000).await;
                startup(100_000).await;
            }
            other => {
                eprintln!("unknown scenario {other:?}: lateness | burst | throughput | startup")
            }
        }
    });
}

struct Bench {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn database() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("bench.db"))
        .await
        .unwrap();
    Bench { store, _dir: dir }
}

fn config(workers: usize) -> SchedulerConfig {
    let mut config = SchedulerConfig::new("bench");
    config.workers = workers;
    config.claim_batch = 1024;
    config
}

async fn start(store: &Store, config: SchedulerConfig) -> SchedulerHandle {
    let executor = Arc::new(Executor::new(ExecutorConfig::default()).unwrap());
    Scheduler::start(config, store.clone(), executor, Arc::new(SystemClock))
        .await
        .unwrap()
}

fn scheduled(name: String, cron: &str, script: &str) -> JobSpec {
    JobSpec {
        schedule: Some(JobSchedule {
            cron: cron.into(),
            timezone: "UTC".into(),
        }),
        overlap: Overlap::Allow,
        ..JobSpec::new(name, script)
    }
}

async fn create_jobs(store: &Store, count: usize, cron: &str, first: Option<Timestamp>) {
    for i in 0..count {
        store
            .job_create(&NewJob {
                spec: scheduled(format!("job-{i}"), cron, "return 1"),
                next_fire_at: first,
                actor: "bench".into(),
            })
            .await
            .unwrap();
    }
}

fn whole_second_after(lead: Duration) -> Timestamp {
    Timestamp::from_second((Timestamp::now() + lead).as_second() + 1).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(what: &str, mut lateness: Vec<Duration>) {
    lateness.sort();
    println!(
        "{what}: {} starts, lateness p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lateness.len(),
        percentile(&lateness, 0.50).as_secs_f64() * 1e3,
        percentile(&lateness, 0.99).as_secs_f64() * 1e3,
        lateness.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn late(event: &RunEvent) -> Duration {
    Duration::try_from(event.at.duration_since(event.scheduled_for.unwrap()))
        .unwrap_or(Duration::ZERO)
}

async fn collect_starts(
    events: &mut broadcast::Receiver<RunEvent>,
    until: Timestamp,
) -> Vec<Duration> {
    let mut lateness = Vec::new();
    loop {
        match events.recv().await {
            Ok(event) if event.status == RunStatus::Running => {
                let at = event.scheduled_for.unwrap();
                if at > until {
                    return lateness;
                }
                lateness.push(late(&event));
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => panic!("bench lost {n} events"),
            Err(broadcast::error::RecvError::Closed) => return lateness,
        }
    }
}

/// The fairness scenario of `tests/suite/fairness.rs`, measured: a
/// heartbeat job every second while four endless loops per core (limit
/// `limit_seconds`) and four 64 MiB memory bombs run. Reports the
/// heartbeat's lateness at script entry (it returns `Date.now()` first)
/// and how long after their limit the loops ended.
async fn abuse(limit_seconds: u64) {
    let bench = database().await;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let first = whole_second_after(Duration::from_secs(1));
    let heartbeat = bench
        .store
        .job_create(&NewJob {
            spec: JobSpec {
                timeout_seconds: 5,
                overlap: Overlap::Skip,
                ..scheduled("heartbeat".into(), "* * * * * *", "return Date.now()")
            },
            next_fire_at: Some(first),
            actor: "bench".into(),
        })
        .await
        .unwrap();
    let bad_job = |name: &str, script: &str, limit: u32, memory: u32| NewJob {
        spec: JobSpec {
            timeout_seconds: limit,
            memory_limit_mb: memory,
            ..JobSpec::new(name, script)
        },
        next_fire_at: None,
        actor: "bench".into(),
    };
    let limit = u32::try_from(limit_seconds).unwrap();
    let endless = bench
        .store
        .job_create(&bad_job("endless", "while (true) {}", limit, 256))
        .await
        .unwrap();
    let bomb = bench
        .store
        .job_create(&bad_job(
            "bomb",
            "const hog = [];\nfor (;;) { hog.push(new Array(1e4).fill(Math.random())); for (let i = 0; i < 2e4; i++) {} }",
            60,
            64,
        ))
        .await
        .unwrap();
    let handle = start(&bench.store, config(4 * cores + 12)).await;
    let mut events = handle.events();
    let started = Timestamp::now();
    let mut bad = Vec::new();
    for _ in 0..4 * cores {
        bad.push(
            handle
                .run_now(endless.id, None, Trigger::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    for _ in 0..4 {
        bad.push(
            handle
                .run_now(bomb.id, None, Trigger::Manual)
                .await
                .unwrap()
                .id,
        );
    }
    let mut ended = 0;
    let mut last_end = started;
    while ended < bad.len() {
        let event = events.recv().await.unwrap();
        if bad.contains(&event.run_id) && event.status.is_terminal() {
            ended += 1;
            last_end = event.at;
        }
    }
    handle.shutdown(Duration::from_secs(10)).await;
    let mut overruns = Vec::new();
    for id in &bad {
        let run = bench.store.run_get(*id).await.unwrap().unwrap();
        if run.job_id == endless.id {
            let took = Duration::from_millis(u64::try_from(run.duration_ms.unwrap()).unwrap());
            overruns.push(took.saturating_sub(Duration::from_secs(limit_seconds)));
        }
    }
    let beats = bench
        .store
        .runs_list(&store::RunFilter {
            job_id: Some(heartbeat.id),
            limit: 1000,
            ..store::RunFilter::default()
        })
        .await
        .unwrap()
        .items;
    let lateness = beats
        .iter()
        .filter(|run| {
            run.scheduled_for
                .is_some_and(|at| at >= started && at <= last_end)
        })
        .filter_map(|run| {
            let entered = run.result.as_ref()?.as_i64()?;
            let due = run.scheduled_for?.as_millisecond();
            Some(Duration::from_millis(
                u64::try_from(entered - due).unwrap_or(0),
            ))
        })
        .collect();
    report(
        &format!(
            "heartbeat beside {} endless loops and 4 memory bombs on {cores} cores (SQLite)",
            4 * cores
        ),
        lateness,
    );
    overruns.sort();
    println!(
        "endless loops ended after their {limit_seconds} s limit by: p50 {:.0} ms, max {:.0} ms",
        percentile(&overruns, 0.5).as_secs_f64() * 1e3,
        overruns.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// `jobs` jobs firing every second for `seconds` seconds.
async fn lateness(seconds: u64, jobs: usize) {
    let bench = database().await;
    let first = whole_second_after(Duration::from_secs(2));
    create_jobs(&bench.store, jobs, "* * * * * *", Some(first)).await;
    let handle = start(&bench.store, config(2048)).await;
    let mut events = handle.events();
    let until = first + Duration::from_secs(seconds - 1);
    let lateness = collect_starts(&mut events, until).await;
    handle.shutdown(Duration::from_secs(10)).await;
    report(
        &format!("{jobs} jobs every second for {seconds} s (SQLite)"),
        lateness,
    );
}

/// 1,000 jobs all due at the same instant, `bursts` times (every 10 s).
async fn burst(bursts: u64) {
    let bench = database().await;
    let now = Timestamp::now().as_second();
    let first = Timestamp::from_second((now / 10 + 1) * 10).unwrap();
    let first = if first.duration_since(Timestamp::now()).as_secs() < 2 {
        first + Duration::from_secs(10)
    } else {
        first
    };
    create_jobs(&bench.store, 1000, "*/10 * * * * *", Some(first)).await;
    let handle = start(&bench.store, config(2048)).await;
    let mut events = handle.events();
    let until = first + Duration::from_secs(10 * (bursts - 1));
    let lateness = collect_starts(&mut events, until).await;
    handle.shutdown(Duration::from_secs(10)).await;
    report(
        &format!("1,000 jobs due at one instant, {bursts} bursts (SQLite)"),
        lateness,
    );
}

/// `runs` queued trivial runs (one log line each) executed and their
/// results, logs and statuses committed.
async fn throughput(runs: u64) {
    let bench = database().await;
    let mut jobs = Vec::new();
    for i in 0..100 {
        let job = bench
            .store
            .job_create(&NewJob {
                spec: JobSpec {
                    overlap: Overlap::Allow,
                    ..JobSpec::new(format!("trivial-{i}"), "console.log('hi'); return 1")
                },
                next_fire_at: None,
                actor: "bench".into(),
            })
            .await
            .unwrap();
        jobs.push(job.id);
    }
    let now = Timestamp::now();
    for i in 0..runs {
        bench
            .store
            .run_insert(&NewRun::new(jobs[(i % 100) as usize], Trigger::Api, now))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let handle = start(&bench.store, config(256)).await;
    let mut events = handle.events();
    let mut done = 0;
    while done < runs {
        match events.recv().await {
            Ok(event) if event.status.is_terminal() => done += 1,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => done += n,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    let elapsed = started.elapsed();
    handle.shutdown(Duration::from_secs(10)).await;
    let live = bench.store.runs_live_counts().await.unwrap();
    assert_eq!((live.queued, live.running), (0, 0));
    println!(
        "{runs} trivial runs (1 log line each) claimed, executed and committed in {:.2} s: {:.0} runs/s (SQLite WAL, group commit)",
        elapsed.as_secs_f64(),
        runs as f64 / elapsed.as_secs_f64()
    );
}

/// Queue throughput: `events` pushed through the store-backed queue in
/// pushes of 50 (Forge's most) while the scheduler consumes them with a
/// trivial consumer; from the first push until the last event's run is
/// recorded (its event `succeeded` in the database).
async fn events(events: u64) {
    let bench = database().await;
    bench
        .store
        .job_create(&NewJob {
            spec: JobSpec {
                queue: Some("bench".into()),
                ..JobSpec::new("consumer", "return event.body.i")
            },
            next_fire_at: None,
            actor: "bench".into(),
        })
        .await
        .unwrap();
    let config = config(256);
    let queue = scheduler::StoreQueue::new(
        bench.store.clone(),
        std::sync::Arc::new(store::SystemClock),
        config.runs_queued.clone(),
    );
    let handle = start(&bench.store, config).await;
    let mut finished = handle.events();
    let started = Instant::now();
    let pusher = tokio::spawn(async move {
        use runtime::QueueBackend as _;
        let mut pushed = 0;
        let mut jobs = Vec::new();
        while pushed < events {
            let batch = (events - pushed).min(50);
            let batch: Vec<runtime::QueueEvent> = (pushed..pushed + batch)
                .map(|i| runtime::QueueEvent {
                    body: serde_json::json!({ "i": i }),
                    delay: Duration::ZERO,
                    concurrency: None,
                })
                .collect();
            pushed += batch.len() as u64;
            jobs.push(queue.push("bench", batch).await.unwrap());
        }
        jobs
    });
    let mut done = 0;
    while done < events {
        match finished.recv().await {
            Ok(event) if event.status.is_terminal() => done += 1,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => done += n,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    let elapsed = started.elapsed();
    let pushes = pusher.await.unwrap().len();
    handle.shutdown(Duration::from_secs(10)).await;
    let summary = bench.store.queue_summary("bench").await.unwrap().unwrap();
    assert_eq!(summary.counts.succeeded, events, "{summary:?}");
    println!(
        "{events} queue events ({pushes} pushes of ≤ 50) pushed, run and recorded in {:.2} s: {:.0} events/s (SQLite WAL, group commit)",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Start-up (sweep + loading and parsing every scheduled job) and RSS with
/// `jobs` enabled jobs over 100 distinct expressions, none due soon.
async fn startup(jobs: u64) {
    let bench = database().await;
    let tomorrow = Timestamp::now() + Duration::from_secs(86_400);
    let setup = Instant::now();
    for i in 0..jobs {
        let cron = format!("{} {} * * *", i % 60, (i / 60) % 24);
        let mut spec = scheduled(format!("job-{i}"), &cron, "return 1");
        spec.overlap = Overlap::Skip;
        bench
            .store
            .job_create(&NewJob {
                spec,
                next_fire_at: Some(tomorrow),
                actor: "bench".into(),
            })
            .await
            .unwrap();
    }
    eprintln!(
        "created {jobs} jobs in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let before = rss_mib();
    let started = Instant::now();
    let handle = start(&bench.store, config(64)).await;
    let elapsed = started.elapsed();
    let after = rss_mib();
    handle.shutdown(Duration::from_secs(1)).await;
    println!(
        "start-up with {jobs} enabled jobs: {:.0} ms; RSS {:.0} MiB (before start {:.0} MiB)",
        elapsed.as_secs_f64() * 1e3,
        after,
        before
    );
}

/// How long handing `count` trivial scripts to the executor takes (the
/// part of a start the scheduler's loop waits for).
async fn starts(count: u64) {
    let executor = Executor::new(ExecutorConfig::default()).unwrap();
    for round in 0..3 {
        let started = Instant::now();
        let handles: Vec<_> = (0..count)
            .map(|_| executor.start(runtime::RunSpec::new("return 1")))
            .collect();
        let handed = started.elapsed();
        for handle in handles {
            handle.outcome().await;
        }
        println!(
            "round {round}: {count} starts handed in {:.1} ms ({:.1} µs each), all done in {:.1} ms",
            handed.as_secs_f64() * 1e3,
            handed.as_secs_f64() * 1e6 / count as f64,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// The database side of throughput without the JavaScript engine: claim
/// queued runs 256 at a time and commit their finishes (status, result,
/// one log line each) in one transaction per batch, as the writer does.
async fn history(runs: u64) {
    let bench = database().await;
    let job = bench
        .store
        .job_create(&NewJob {
            spec: JobSpec {
                overlap: Overlap::Allow,
                ..JobSpec::new("history", "return 1")
            },
            next_fire_at: None,
            actor: "bench".into(),
        })
        .await
        .unwrap();
    let now = Timestamp::now();
    for _ in 0..runs {
        bench
            .store
            .run_insert(&NewRun::new(job.id, Trigger::Api, now))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let mut done = 0;
    while done < runs {
        let now = Timestamp::now();
        let claimed = bench
            .store
            .runs_claim_queued(&store::RunClaim {
                node: "bench".into(),
                now,
                lease_until: now + Duration::from_secs(30),
                limit: 256,
            })
            .await
            .unwrap();
        let finishes = claimed
            .iter()
            .map(|c| {
                store::RunFinish::succeeded(
                    store::Lease {
                        run_id: c.run.id,
                        node: "bench".into(),
                        token: c.run.lease_token,
                    },
                    Timestamp::now(),
                    Some(serde_json::json!(1)),
                )
                .with_logs(vec![store::LogLine {
                    ts: now,
                    level: store::LogLevel::Info,
                    message: "hi".into(),
                }])
            })
            .collect::<Vec<_>>();
        done += finishes.len() as u64;
        bench.store.runs_finish_if_running(&finishes).await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{runs} runs claimed and finished with a log line, 256 per commit, no JavaScript: {:.2} s, {:.0} runs/s (SQLite WAL)",
        elapsed.as_secs_f64(),
        runs as f64 / elapsed.as_secs_f64()
    );
}
