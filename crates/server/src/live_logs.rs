//! A run's log as server-sent events: the stored lines after a position,
//! then live lines while the run goes on, a `run` event whenever its status
//! changes, then an `end` event with the run.
//!
//! Lines are numbered by their `seq` in the stored log (the event id, so a
//! client reconnects with `Last-Event-ID`). While the run executes on this
//! node the lines come from the scheduler's live stream, which starts from
//! the run's first line, so the n-th live line is `seq` n. While it is
//! queued, or executing on another node (PostgreSQL), the stored log is
//! read again whenever this node sees the run change or hears (PostgreSQL's
//! notices, through the scheduler) that a node stored its lines, started
//! or ended it; and at least every [`STORED_LOG_BACKSTOP`] in case a notice
//! was lost (every [`STORED_LOG_RECHECK`] on a node without a scheduler,
//! which hears nothing).

use std::{convert::Infallible, time::Duration};

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, stream};
use store::{LogQuery, Run, RunStatus};
use tokio::sync::{broadcast, mpsc};

use crate::{
    app::AppState,
    auth::HeldCredential,
    model::{LogLineView, RunView},
};

/// How often the stored log and the run's status are re-read on a node
/// without a scheduler (nothing tells it the run changed).
const STORED_LOG_RECHECK: Duration = Duration::from_millis(500);
/// How often they are re-read anyway on a node that hears of changes.
const STORED_LOG_BACKSTOP: Duration = Duration::from_secs(3);
/// Stored lines read per query.
const PAGE: u32 = 1_000;
/// How often a stream checks that its credential still holds, so that a
/// revoked token or an ended session stops it within a second.
const CREDENTIAL_RECHECK: Duration = Duration::from_millis(500);
/// Events buffered for a slow client before the producer waits.
const BUFFER: usize = 256;

/// The event stream of run `run_id`'s log after line `after`.
pub(crate) fn stream(
    state: AppState,
    run_id: i64,
    after: u64,
    held: HeldCredential,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (events, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let mut follower = Follower {
            state,
            run_id,
            last_seq: after,
            last_status: None,
            events,
            held,
        };
        if let Err(Gone) = follower.run().await {
            tracing::debug!(run_id, "live log stream ended early");
        }
    });
    let events = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The client went away, or the server is shutting down.
struct Gone;

struct Follower {
    state: AppState,
    run_id: i64,
    last_seq: u64,
    /// The status the client last heard of, so each change is sent once.
    last_status: Option<RunStatus>,
    events: mpsc::Sender<Event>,
    held: HeldCredential,
}

impl Follower {
    async fn run(&mut self) -> Result<(), Gone> {
        let mut stopping = self.state.stopping();
        let mut changes = self.state.scheduler_if_any().map(|s| s.events());
        let mut progress = self.state.scheduler_if_any().map(|s| s.run_progress());
        let recheck_stored = if changes.is_some() {
            STORED_LOG_BACKSTOP
        } else {
            STORED_LOG_RECHECK
        };
        let mut recheck = tokio::time::interval(CREDENTIAL_RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The status first: a line the run wrote after it started must
            // not reach the client before the news that it started.
            let Some(run) = self.load_run().await? else {
                self.send_stored().await?;
                return Ok(());
            };
            if run.status.is_terminal() {
                self.send_stored().await?;
                return self.send_end(run).await;
            }
            self.send_status(&run).await?;
            self.send_stored().await?;
            let live = self
                .state
                .scheduler_if_any()
                .and_then(|scheduler| scheduler.subscribe_logs(self.run_id));
            if let Some(mut live) = live {
                let mut position = 0u64;
                loop {
                    tokio::select! {
                        line = live.next() => match line {
                            Some(line) => {
                                position += 1;
                                if position > self.last_seq {
                                    self.last_seq = position;
                                    let line = LogLineView {
                                        seq: position,
                                        ts: stored_precision(line.ts),
                                        level: scheduler::to_store::log_level(line.level),
                                        message: line.message,
                                    };
                                    self.send_line(&line).await?;
                                }
                            }
                            None => break,
                        },
                        _ = stopping.changed() => return Err(Gone),
                        _ = recheck.tick() => self.check_credential().await?,
                    }
                }
                continue;
            }
            tokio::select! {
                () = heard_of(&mut changes, |event: &scheduler::RunEvent| event.run_id == self.run_id) => {}
                () = heard_of(&mut progress, |run_id| *run_id == self.run_id) => {}
                () = tokio::time::sleep(recheck_stored) => {}
                _ = stopping.changed() => return Err(Gone),
                () = self.events.closed() => return Err(Gone),
                _ = recheck.tick() => self.check_credential().await?,
            }
        }
    }

    /// Ends the stream once its credential no longer holds.
    async fn check_credential(&self) -> Result<(), Gone> {
        if self.held.still_valid(&self.state).await {
            Ok(())
        } else {
            tracing::debug!(run_id = self.run_id, "live log: the credential ended");
            Err(Gone)
        }
    }

    async fn load_run(&self) -> Result<Option<Run>, Gone> {
        match self.state.store().run_get(self.run_id).await {
            Ok(run) => Ok(run),
            Err(error) => {
                tracing::warn!(run_id = self.run_id, error = %crate::problem::ErrorChain(&error), "live log: cannot read the run");
                Err(Gone)
            }
        }
    }

    /// Sends every stored line after the last one sent.
    async fn send_stored(&mut self) -> Result<(), Gone> {
        loop {
            let query = LogQuery {
                run_id: self.run_id,
                after_seq: self.last_seq,
                limit: PAGE,
            };
            let lines = match self.state.store().run_logs(&query).await {
                Ok(lines) => lines,
                Err(error) => {
                    tracing::warn!(run_id = self.run_id, error = %crate::problem::ErrorChain(&error), "live log: cannot read stored lines");
                    return Err(Gone);
                }
            };
            let full = lines.len() == PAGE as usize;
            for line in lines {
                self.last_seq = line.seq;
                self.send_line(&LogLineView::from(line)).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn send_line(&self, line: &LogLineView) -> Result<(), Gone> {
        let event = Event::default()
            .event("log")
            .id(line.seq.to_string())
            .json_data(line)
            .map_err(|_| Gone)?;
        self.events.send(event).await.map_err(|_| Gone)
    }

    /// A `run` event carrying the run when its status changed since the
    /// last one, so a page opened on a queued run sees it start.
    async fn send_status(&mut self, run: &Run) -> Result<(), Gone> {
        if self.last_status == Some(run.status) {
            return Ok(());
        }
        self.last_status = Some(run.status);
        let event = Event::default()
            .event("run")
            .json_data(RunView::from(run.clone()))
            .map_err(|_| Gone)?;
        self.events.send(event).await.map_err(|_| Gone)
    }

    async fn send_end(&self, run: Run) -> Result<(), Gone> {
        let event = Event::default()
            .event("end")
            .json_data(RunView::from(run))
            .map_err(|_| Gone)?;
        self.events.send(event).await.map_err(|_| Gone)
    }
}

/// Completes when `receiver` says something of the run (`about_it`) —
/// this node saw it change status, or heard that a node moved it on — or
/// lost track of what it said; never when there is no receiver (no
/// scheduler).
async fn heard_of<T: Clone>(
    receiver: &mut Option<broadcast::Receiver<T>>,
    about_it: impl Fn(&T) -> bool,
) {
    let Some(receiver) = receiver else {
        return std::future::pending().await;
    };
    loop {
        match receiver.recv().await {
            Ok(item) if about_it(&item) => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// The store keeps milliseconds; live lines say the same as stored ones.
fn stored_precision(ts: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ts.as_millisecond()).unwrap_or(ts)
}
