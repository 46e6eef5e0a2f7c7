//! Chain hand-over latency on an embedded SQLite database: how long after a
//! chunk ends (`continueWith` with no delay) the next chunk starts.
//!
//! ```text
//! cargo bench -p scheduler --bench chain_handover -- [CHUNKS]   # default 500
//! ```
//! The hand-over of chunk N → N+1 is the `running` event of N+1 minus the
//! `succeeded` event of N (both stamped by the scheduler's clock): it
//! covers committing N's end with the next chunk in one transaction,
//! waking the feeder, claiming the new row and handing it to the executor.

#![allow(clippy::unwrap_used)]

use std::{sync::Arc, time::Duration};

use runtime::{Executor, ExecutorConfig};
use scheduler::{Scheduler, SchedulerConfig};
use store::{JobSpec, NewJob, RunStatus, Store, SystemClock, Trigger};
use tokio::sync::broadcast;

fn main() {
    let chunks: u64 = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(500);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(handover(chunks));
}

async fn handover(chunks: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path().join("bench.db"))
        .await
        .unwrap();
    let script = format!(
        "const n = context.state ? context.state.n : 0;\n\
         if (n < {last}) context.continueWith({{ n: n + 1 }});\n\
         return n;",
        last = chunks - 1
    );
    let job = store
        .job_create(&NewJob {
            spec: JobSpec::new("chain", script),
            next_fire_at: None,
            actor: "bench".into(),
        })
        .await
        .unwrap();
    let executor = Arc::new(Executor::new(ExecutorConfig::default()).unwrap());
    let mut config = SchedulerConfig::new("bench");
    config.workers = 4;
    let handle = Scheduler::start(config, store.clone(), executor, Arc::new(SystemClock))
        .await
        .unwrap();
    let mut events = handle.events();
    let first = handle.run_now(job.id, None, Trigger::Api).await.unwrap();
    let mut ended_at = None;
    let mut handovers = Vec::new();
    let mut done = 0;
    while done < chunks {
        match events.recv().await {
            Ok(event) if event.status == RunStatus::Running => {
                if let Some(ended) = ended_at.take() {
                    let gap: jiff::SignedDuration = event.at.duration_since(ended);
                    handovers.push(Duration::try_from(gap).unwrap_or(Duration::ZERO));
                }
            }
            Ok(event) if event.status == RunStatus::Succeeded => {
                ended_at = Some(event.at);
                done += 1;
            }
            Ok(event) if event.status.is_terminal() => panic!("a chunk ended {}", event.status),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => panic!("missed {n} events"),
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    handle.shutdown(Duration::from_secs(10)).await;
    let chain = store.chain_summary(first.id).await.unwrap().unwrap();
    assert_eq!(chain.chunks_done, chunks);
    assert_eq!(chain.status, RunStatus::Succeeded);
    handovers.sort();
    let at = |p: f64| {
        let index = ((handovers.len() as f64 - 1.0) * p).round() as usize;
        handovers[index].as_secs_f64() * 1e3
    };
    println!(
        "{} chunk hand-overs (continueWith, no delay, SQLite): median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        handovers.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
