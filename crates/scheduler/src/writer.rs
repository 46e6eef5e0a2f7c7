//! Group commit: one task writes what the workers report — starts and log
//! lines of running runs, and finished runs — gathering everything that arrives
//! within a short window into one transaction. A commit costs an fsync
//! (PostgreSQL) or a write-lock turn (SQLite) however many rows it holds,
//! so throughput grows with load instead of collapsing under it.
//!
//! A commit that records ends also claims the next queued runs for the
//! workers free by then (the workers of the runs that ended, freed when
//! their scripts ended), in the same transaction: one commit per cycle of
//! the workers instead of the ends' and then the feeder's claim.

use std::{
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

use store::{
    ErrorClass, LogAppend, Run, RunFinish, RunStart, RunWrites, RunWritesApplied, Store, StoreError,
};
use tokio::sync::{mpsc, oneshot};

use crate::{core::Core, workers::Refill};

/// The scheduler whose free workers a commit of ends claims runs for; set
/// once the scheduler's core exists (the core holds the writer). Empty: no
/// claims (the writer's own tests).
pub(crate) type Claimer = Arc<OnceLock<Weak<Core>>>;

/// Writes queued before the workers wait (backpressure if the database stalls).
const QUEUE: usize = 65_536;
/// The most writes in one transaction.
const MAX_BATCH: usize = 2_048;
/// Waits between attempts while the database fails: short, so the backlog
/// is stored moments after the database answers again (until then the
/// runs' rows still say `running`; each attempt is one cheap transaction).
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_millis(500);
/// Failed attempts between two warnings about the same batch.
const LOG_EVERY: u32 = 20;

/// What became of a finish.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FinishWritten {
    /// The run was still running on this node, and now has its final status.
    pub(crate) applied: bool,
    /// The retry or next chunk queued with it.
    pub(crate) follow_up: Option<Run>,
}

enum Write {
    Start(RunStart, oneshot::Sender<bool>),
    Append(LogAppend),
    Finish(Box<RunFinish>, oneshot::Sender<FinishWritten>),
    /// Commit everything before it, answer, and end.
    Stop(oneshot::Sender<()>),
}

/// The workers' side of the writer.
#[derive(Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Write>,
}

impl Writer {
    /// Starts the writer task; it ends once every `Writer` is dropped and
    /// the queue is written.
    pub(crate) fn start(
        store: Store,
        window: Duration,
        claimer: Claimer,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_loop(store, window, claimer, receiver));
        (Writer { sender }, task)
    }

    /// Records when a run's script began, and waits until it is committed;
    /// `false` when it did not apply (the run is no longer this node's) or
    /// the writer stopped.
    pub(crate) async fn started(&self, start: RunStart) -> bool {
        let (reply, committed) = oneshot::channel();
        if self.sender.send(Write::Start(start, reply)).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }

    /// Stores log lines of a running run (no answer: a lost append only
    /// means the run ended or moved, and its finish says so).
    pub(crate) async fn append(&self, append: LogAppend) {
        let _ = self.sender.send(Write::Append(append)).await;
    }

    /// Stores a run's end and waits until it is committed.
    pub(crate) async fn finish(&self, finish: RunFinish) -> FinishWritten {
        let (reply, answer) = oneshot::channel();
        let not_written = FinishWritten {
            applied: false,
            follow_up: None,
        };
        if self
            .sender
            .send(Write::Finish(Box::new(finish), reply))
            .await
            .is_err()
        {
            return not_written;
        }
        answer.await.unwrap_or(not_written)
    }

    /// Commits everything sent before, then ends the writer task.
    pub(crate) async fn stop(&self) {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Write::Stop(reply)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

async fn write_loop(
    store: Store,
    window: Duration,
    claimer: Claimer,
    mut receiver: mpsc::Receiver<Write>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        if !window.is_zero() && batch.len() < MAX_BATCH {
            tokio::time::sleep(window).await;
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(write) => batch.push(write),
                    Err(_) => break,
                }
            }
        }
        let stop = batch
            .iter()
            .position(|write| matches!(write, Write::Stop(_)));
        match stop {
            None => commit(&store, &claimer, std::mem::take(&mut batch)).await,
            Some(at) => {
                let rest = batch.split_off(at);
                commit(&store, &claimer, std::mem::take(&mut batch)).await;
                for write in rest {
                    if let Write::Stop(reply) = write {
                        let _ = reply.send(());
                    }
                }
                return;
            }
        }
    }
}

/// Commits one batch, retrying while the database fails: a report that is
/// dropped would leave a run `running` until its lease expires. A batch the
/// store refuses as such (a permanent error) is written again one write at
/// a time, so only the write at fault is dropped. A batch with ends also
/// claims queued runs for the free workers ([`Refill`]); should that
/// transaction fail, the claim is given up (the feeder claims instead) and
/// the writes alone are written as any batch.
async fn commit(store: &Store, claimer: &Claimer, batch: Vec<Write>) {
    let mut writes = RunWrites::default();
    let mut replies = Vec::new();
    let mut start_replies = Vec::new();
    for write in batch {
        match write {
            Write::Start(start, reply) => {
                writes.starts.push(start);
                start_replies.push(reply);
            }
            Write::Append(append) => writes.appends.push(append),
            Write::Finish(finish, reply) => {
                writes.finishes.push(*finish);
                replies.push(reply);
            }
            Write::Stop(reply) => {
                let _ = reply.send(());
            }
        }
    }
    let core = if writes.finishes.is_empty() {
        None
    } else {
        claimer.get().and_then(Weak::upgrade)
    };
    let mut applied = None;
    if let Some(core) = &core
        && let Some(mut refill) = Refill::reserve(core)
    {
        let Refill {
            claim, reservation, ..
        } = &mut refill;
        let written = store
            .runs_write_then_start_queued_within(&writes, claim, |candidate| {
                Refill::offer(reservation, core, candidate)
            })
            .await;
        match written {
            Ok((written, claimed)) => {
                // Started before the ends are answered: the feeder their
                // answers wake finds these workers taken.
                refill.start(core, claimed);
                applied = Some(written);
            }
            Err(error) => {
                tracing::debug!(%error, "cannot claim with the run results; writing them alone");
                drop(refill);
                core.wake_feeder.notify_one();
            }
        }
    }
    let applied = match applied {
        Some(applied) => applied,
        None => match write_while_transient(store, &writes).await {
            Ok(applied) => applied,
            Err(error) => write_one_by_one(store, &writes, &error).await,
        },
    };
    for (reply, started) in start_replies.into_iter().zip(applied.started) {
        let _ = reply.send(started);
    }
    for ((reply, applied), follow_up) in replies
        .into_iter()
        .zip(applied.finished)
        .zip(applied.follow_ups)
    {
        let _ = reply.send(FinishWritten { applied, follow_up });
    }
}

/// Writes `writes` in one transaction, trying again (every 50–500 ms)
/// while the failure is transient; returns a permanent failure.
async fn write_while_transient(
    store: &Store,
    writes: &RunWrites,
) -> Result<RunWritesApplied, StoreError> {
    let mut pause = RETRY_FIRST;
    let mut attempts: u32 = 0;
    loop {
        match store.runs_write_if_running(writes).await {
            Ok(applied) => {
                if attempts > 0 {
                    tracing::info!(attempts, "stored the run results the database refused");
                }
                return Ok(applied);
            }
            Err(error) if error.class() == ErrorClass::Transient => {
                // Said once, then every `LOG_EVERY` attempts: retries are frequent.
                if attempts.is_multiple_of(LOG_EVERY) {
                    tracing::warn!(%error, finishes = writes.finishes.len(), attempts, "cannot store run results; retrying");
                }
                attempts += 1;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
            Err(error) => return Err(error),
        }
    }
}

/// After `error` refused a whole batch: each write alone, dropping (with a
/// warning) those refused again — never retrying them forever.
async fn write_one_by_one(
    store: &Store,
    writes: &RunWrites,
    error: &StoreError,
) -> RunWritesApplied {
    let count = writes.starts.len() + writes.appends.len() + writes.finishes.len();
    tracing::warn!(%error, writes = count, "the store refused a batch of run results; writing them one at a time");
    let mut applied = RunWritesApplied::default();
    for start in &writes.starts {
        let alone = RunWrites {
            starts: vec![start.clone()],
            ..RunWrites::default()
        };
        let written = write_alone(store, &alone, start.lease.run_id).await;
        applied
            .started
            .push(written.is_some_and(|w| w.started == [true]));
    }
    for append in &writes.appends {
        let alone = RunWrites {
            appends: vec![append.clone()],
            ..RunWrites::default()
        };
        let written = write_alone(store, &alone, append.lease.run_id).await;
        applied
            .appended
            .push(written.is_some_and(|w| w.appended == [true]));
    }
    for finish in &writes.finishes {
        let alone = RunWrites {
            finishes: vec![finish.clone()],
            ..RunWrites::default()
        };
        let written = write_alone(store, &alone, finish.lease.run_id).await;
        let (finished, follow_up) = written
            .and_then(|mut w| Some((w.finished.pop()?, w.follow_ups.pop()?)))
            .unwrap_or((false, None));
        applied.finished.push(finished);
        applied.follow_ups.push(follow_up);
    }
    applied
}

/// One write of run `run_id`; `None` (with a warning) when the store
/// refuses it for good.
async fn write_alone(store: &Store, writes: &RunWrites, run_id: i64) -> Option<RunWritesApplied> {
    match write_while_transient(store, writes).await {
        Ok(applied) => Some(applied),
        Err(error) => {
            tracing::warn!(%error, run = run_id, "run result refused by the store; dropped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly on purpose

    use std::time::Duration;

    use jiff::Timestamp;
    use store::{JobSpec, NewJob, NewRun, RunClaim, Trigger};

    use super::*;

    const NODE: &str = "n1";

    /// One running run on [`NODE`] of each of `count` new jobs.
    async fn running_runs(store: &Store, count: usize, now: Timestamp) -> Vec<Run> {
        for n in 0..count {
            let job = store
                .job_create(&NewJob {
                    spec: JobSpec::new(format!("writer-{n}"), "return 1"),
                    next_fire_at: None,
                    actor: "tester".into(),
                })
                .await
                .unwrap();
            store
                .run_insert(&NewRun::new(job.id, Trigger::Manual, now))
                .await
                .unwrap();
        }
        let claim = RunClaim {
            node: NODE.into(),
            now,
            lease_until: now + Duration::from_secs(30),
            limit: 100,
        };
        let claimed = store.runs_claim_queued(&claim).await.unwrap();
        claimed.into_iter().map(|claimed| claimed.run).collect()
    }

    /// A finish the store refuses for good (its follow-up names a job that
    /// does not exist) is dropped — the writer does not retry it forever —
    /// and the finish committed in the same batch is still written.
    #[tokio::test]
    async fn a_refused_write_is_dropped_and_the_rest_of_its_batch_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("db.sqlite").to_str().unwrap())
            .await
            .unwrap();
        let now = Timestamp::now();
        let runs = running_runs(&store, 2, now).await;
        let refused = RunFinish::failed(runs[0].lease().unwrap(), now, None)
            .with_follow_up(Some(NewRun::new(424_242, Trigger::Retry, now)));
        let good = RunFinish::succeeded(runs[1].lease().unwrap(), now, None);
        // A long window: both finishes go into one batch.
        let (writer, task) = Writer::start(
            store.clone(),
            Duration::from_millis(200),
            Claimer::default(),
        );
        let (refused, good) = tokio::join!(writer.finish(refused), writer.finish(good));
        assert!(!refused.applied);
        assert!(good.applied);
        let stored = |id| {
            let store = store.clone();
            async move { store.run_get(id).await.unwrap().unwrap().status }
        };
        assert_eq!(stored(runs[0].id).await, store::RunStatus::Running);
        assert_eq!(stored(runs[1].id).await, store::RunStatus::Succeeded);
        writer.stop().await;
        task.await.unwrap();
    }
}
