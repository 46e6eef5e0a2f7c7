//! Starting a scheduler and the handle the server and binary hold.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use runtime::{Executor, LogStream};
use serde_json::Value;
use store::{Clock, NewRun, RequestedRun, Run, RunStatus, Store, Trigger};
use tokio::{
    sync::{Notify, broadcast, mpsc, oneshot, watch},
    task::JoinHandle,
};

use crate::{
    alerts,
    budget::Budget,
    config::SchedulerConfig,
    coordination,
    core::Core,
    ended::run_ended,
    error::SchedulerError,
    events::{Events, RunEvent},
    fire::{FireCommand, FireLoop},
    lease,
    live::{Live, StopReason},
    metrics::{Metrics, SchedulerMetrics},
    requested::Requests,
    retention, workers,
    writer::Writer,
};

/// How long shutdown waits for the alert deliverer to record what it sent.
const ALERTS_STOP_WITHIN: Duration = Duration::from_secs(15);
/// How much longer than the claim-ahead time shutdown waits for runs
/// claimed ahead to start.
const PENDING_STARTS_SLACK: Duration = Duration::from_secs(2);
/// How long shutdown waits for runs it cancelled to end.
const CANCELLED_RUNS_END_WITHIN: Duration = Duration::from_secs(10);

/// Starts schedulers.
#[derive(Debug)]
pub struct Scheduler;

impl Scheduler {
    /// Starts a scheduler on `store`, executing runs with `executor` and
    /// reading time from `clock`. Before returning it takes back the runs
    /// its node id held in a previous process (queues again those that never
    /// began; interrupts the others), interrupts runs whose lease expired
    /// (retrying them per policy) and loads every scheduled job; then it fires, claims and runs until
    /// [`SchedulerHandle::shutdown`].
    pub async fn start(
        config: SchedulerConfig,
        store: Store,
        executor: Arc<Executor>,
        clock: Arc<dyn Clock>,
    ) -> Result<SchedulerHandle, SchedulerError> {
        let claimer = crate::writer::Claimer::default();
        let (writer, writer_task) =
            Writer::start(store.clone(), config.commit_window, claimer.clone());
        let wake_feeder = config.runs_queued.clone();
        let started = clock.now();
        let (alerts_raised, raised) = mpsc::unbounded_channel();
        let core = Arc::new(Core {
            alerts_raised,
            budget: Budget::new(config.workers, config.total_memory_mb),
            store,
            clock,
            config,
            executor,
            live: Live::default(),
            writer,
            events: Events::new(),
            metrics: Metrics::new(),
            wake_feeder,
            backlog: Default::default(),
            wake_deliverer: Notify::new(),
            stopping: watch::channel(false).0,
            pending_starts: watch::channel(0).0,
            progress: broadcast::channel(crate::core::PROGRESS_BUFFER).0,
            unwritten_ends: Default::default(),
            started,
        });
        // From now on a commit of ends claims runs for the freed workers.
        let _ = claimer.set(Arc::downgrade(&core));
        lease::release_previous_incarnation(&core).await;
        lease::sweep(&core).await;
        let fire = FireLoop::load(core.clone()).await?;
        tracing::info!(
            node = %core.config.node_id,
            jobs = fire.len(),
            workers = core.config.workers,
            "scheduler started"
        );
        let (fire_commands, commands) = mpsc::unbounded_channel();
        let (heartbeat_stop, heartbeat_stopped) = watch::channel(false);
        let (alert_enqueuer_stop, alert_enqueuer_stopped) = oneshot::channel();
        let tasks = Tasks {
            fire: tokio::spawn(fire.run(commands)),
            feeder: tokio::spawn(workers::feed(core.clone())),
            changes: tokio::spawn(coordination::follow_changes(
                core.clone(),
                fire_commands.clone(),
            )),
            sweeper: tokio::spawn(lease::sweeper(core.clone(), core.stopping.subscribe())),
            retention: tokio::spawn(retention::pruner(core.clone(), core.stopping.subscribe())),
            alerts: tokio::spawn(alerts::deliverer(core.clone(), core.stopping.subscribe())),
            alert_enqueuer: tokio::spawn(alerts::enqueuer(
                core.clone(),
                raised,
                alert_enqueuer_stopped,
            )),
            alert_enqueuer_stop,
            heartbeat: tokio::spawn(lease::heartbeat(core.clone(), heartbeat_stopped)),
            heartbeat_stop,
            writer: writer_task,
        };
        let requests = Requests::start(core.store.clone());
        Ok(SchedulerHandle {
            shared: Arc::new(Shared {
                core,
                requests,
                fire: fire_commands,
                tasks: Mutex::new(Some(tasks)),
            }),
        })
    }
}

struct Tasks {
    fire: JoinHandle<()>,
    feeder: JoinHandle<()>,
    changes: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    retention: JoinHandle<()>,
    alerts: JoinHandle<()>,
    alert_enqueuer: JoinHandle<()>,
    alert_enqueuer_stop: oneshot::Sender<()>,
    heartbeat: JoinHandle<()>,
    heartbeat_stop: watch::Sender<bool>,
    writer: JoinHandle<()>,
}

struct Shared {
    core: Arc<Core>,
    requests: Requests,
    fire: mpsc::UnboundedSender<FireCommand>,
    tasks: Mutex<Option<Tasks>>,
}

/// A running scheduler: commands from the API, live logs, metrics, events.
/// Cheap to clone; clones control the same scheduler.
#[derive(Clone)]
pub struct SchedulerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerHandle")
            .field("node_id", &self.node_id())
            .finish_non_exhaustive()
    }
}

impl SchedulerHandle {
    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.core.config.node_id
    }

    /// Tells the scheduler a job was created, edited, paused, resumed or
    /// deleted, so it re-reads it now (other nodes hear it through the
    /// database on PostgreSQL).
    pub fn job_changed(&self, job_id: i64) {
        let _ = self.shared.fire.send(FireCommand::JobChanged(job_id));
    }

    /// Re-reads the clock and wakes every waiting task: after the clock
    /// jumped (a manual clock in tests, a system clock step).
    pub fn poke(&self) {
        let _ = self.shared.fire.send(FireCommand::Poke);
        self.shared.core.wake_feeder.notify_one();
        self.shared.core.wake_deliverer.notify_one();
    }

    /// Queues a run of the job's current version now, with `params`
    /// overriding the job's; any node's free worker starts it.
    pub async fn run_now(
        &self,
        job_id: i64,
        params: Option<Value>,
        trigger: Trigger,
    ) -> Result<Run, SchedulerError> {
        let core = &self.shared.core;
        let now = core.now();
        let run = core
            .store
            .run_insert(&NewRun {
                params,
                ..NewRun::new(job_id, trigger, now)
            })
            .await?;
        self.queued_now(&run, now);
        Ok(run)
    }

    /// As [`SchedulerHandle::run_now`], appending `audit` for the run with
    /// it. Requests made at the same moment are queued together, in one
    /// group commit ([`Store::runs_insert_requested`]). Returns the run and
    /// whether its audit entry was appended.
    ///
    /// [`Store::runs_insert_requested`]: store::Store::runs_insert_requested
    pub async fn run_now_audited(
        &self,
        job_id: i64,
        params: Option<Value>,
        trigger: Trigger,
        audit: &store::RunAudit,
    ) -> Result<(Run, Result<(), store::StoreError>), SchedulerError> {
        let core = &self.shared.core;
        let now = core.now();
        let (run, audited) = self
            .shared
            .requests
            .queue(RequestedRun {
                new: NewRun {
                    params,
                    ..NewRun::new(job_id, trigger, now)
                },
                audit: audit.clone(),
            })
            .await?;
        self.queued_now(&run, now);
        Ok((run, audited))
    }

    /// Announces a run queued at `now` and wakes the feeder.
    fn queued_now(&self, run: &Run, now: jiff::Timestamp) {
        let core = &self.shared.core;
        core.events.send(RunEvent::of(run, RunStatus::Queued, now));
        core.wake_feeder.notify_one();
    }

    /// Cancels a run: a queued one at once; a running one by stopping it
    /// (on this node now, on another node through the database). Returns
    /// `false` when the run is neither queued nor running.
    pub async fn cancel(&self, run_id: i64) -> Result<bool, SchedulerError> {
        let core = &self.shared.core;
        let now = core.now();
        if let Some(run) = core.store.run_cancel_if_queued(run_id, now).await? {
            run_ended(core, &run, RunStatus::Cancelled, now, None);
            core.wake_feeder.notify_one();
            return Ok(true);
        }
        match core.store.run_request_cancel_if_running(run_id).await? {
            Some(node) => {
                if node == core.config.node_id {
                    core.live.stop(run_id, StopReason::Cancelled);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Cancels a chain: its queued or running run, which ends it (a
    /// cancelled chunk queues no next one). Returns `false` when the chain
    /// has no live run (it has ended, or no run has this chain id). A chunk
    /// that ends meanwhile may have queued the next one: looked for again,
    /// a few times.
    pub async fn cancel_chain(&self, chain_id: i64) -> Result<bool, SchedulerError> {
        for _ in 0..3 {
            let live = self.shared.core.store.chain_live_runs(chain_id).await?;
            if live.is_empty() {
                return Ok(false);
            }
            let mut cancelled = false;
            for run_id in live {
                cancelled |= self.cancel(run_id).await?;
            }
            if cancelled {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The live log of a run executing on this node: the lines so far,
    /// then each new one until it ends. `None` when it is not executing
    /// here (read the stored log instead).
    pub fn subscribe_logs(&self, run_id: i64) -> Option<LogStream> {
        self.shared.core.live.logs(run_id)
    }

    /// Ids of runs any node moved on (started, stored log lines, ended),
    /// from now on; PostgreSQL only (SQLite has one node: its runs'
    /// lines are live here). A hint to read the stored log, never the data.
    pub fn run_progress(&self) -> broadcast::Receiver<i64> {
        self.shared.core.progress.subscribe()
    }

    /// Run events on this node, from now on.
    pub fn events(&self) -> broadcast::Receiver<RunEvent> {
        self.shared.core.events.subscribe()
    }

    /// The metrics: this node's counters and histograms, and the queued and
    /// running counts of the whole database.
    pub async fn metrics(&self) -> Result<SchedulerMetrics, SchedulerError> {
        let core = &self.shared.core;
        let live = core.store.runs_live_counts().await?;
        Ok(core
            .metrics
            .snapshot(live.queued, live.running, core.live.len() as u64))
    }

    /// Stops the scheduler gracefully: stops claiming at once, lets running
    /// runs finish within `grace`, then cancels the rest, which end
    /// `interrupted` (retried per policy, by any node). Returns when every
    /// result is stored. Later calls return at once.
    pub async fn shutdown(&self, grace: Duration) {
        let Some(tasks) = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let core = &self.shared.core;
        core.stopping.send_replace(true);
        core.wake_feeder.notify_one();
        let _ = tasks.fire.await;
        let _ = tasks.feeder.await;
        // Runs claimed ahead start at their instant, moments from now (a
        // clock that does not move is not waited for forever).
        let mut pending = core.pending_starts.subscribe();
        let _ = tokio::time::timeout(
            core.config.claim_ahead + PENDING_STARTS_SLACK,
            pending.wait_for(|pending| *pending == 0),
        )
        .await;
        let running = core.live.len();
        if running > 0 {
            tracing::info!(running, ?grace, "waiting for running runs to finish");
        }
        if tokio::time::timeout(grace, core.live.wait_empty())
            .await
            .is_err()
        {
            tracing::warn!(
                running = core.live.len(),
                "grace period over: interrupting the runs still running"
            );
            core.live.stop_all(StopReason::Shutdown);
            let _ = tokio::time::timeout(CANCELLED_RUNS_END_WITHIN, core.live.wait_empty()).await;
        }
        let _ = tasks.heartbeat_stop.send(true);
        let _ = tasks.heartbeat.await;
        // An alert being sent is recorded before the deliverer stops (else
        // it would be sent again by whichever node claims it next).
        let mut alerts = tasks.alerts;
        if tokio::time::timeout(ALERTS_STOP_WITHIN, &mut alerts)
            .await
            .is_err()
        {
            alerts.abort();
        }
        for task in [tasks.changes, tasks.sweeper, tasks.retention] {
            task.abort();
            let _ = task.await;
        }
        core.writer.stop().await;
        let _ = tasks.writer.await;
        // The ends of the runs the shutdown interrupted were in the writer's
        // last commit: their alerts are stored before the enqueuer stops
        // (and sent by the next deliverer to run, on any node).
        let _ = tasks.alert_enqueuer_stop.send(());
        let mut alert_enqueuer = tasks.alert_enqueuer;
        if tokio::time::timeout(ALERTS_STOP_WITHIN, &mut alert_enqueuer)
            .await
            .is_err()
        {
            alert_enqueuer.abort();
        }
        tracing::info!(node = %core.config.node_id, "scheduler stopped");
    }
}

/// The first fire instant of `schedule` strictly after `after`: what a job
/// created or resumed at `after` stores as its `next_fire_at`.
pub fn next_fire_after(
    schedule: &store::JobSchedule,
    after: jiff::Timestamp,
) -> Result<Option<jiff::Timestamp>, String> {
    let cron = cron::Schedule::parse(&schedule.cron).map_err(|e| e.to_string())?;
    let zone = cron::time_zone(&schedule.timezone).map_err(|e| e.to_string())?;
    Ok(cron.next_after(after, &zone).map(|at| at.timestamp()))
}
