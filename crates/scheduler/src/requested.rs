//! Runs asked for now (the API, the console), queued in group commits.
//!
//! Each request waits for the commit that queues its run with its audit
//! entry. Requests that arrive while a commit is under way go together in
//! the next one, so a burst of requests takes a few turns of the database
//! instead of two each: on SQLite the one writing connection is the node's
//! narrowest resource, and the workers' claims and ends wait for it too.
//! A lone request waits for nobody.

use store::{RequestedRun, Run, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::SchedulerError;

/// The most requests in one commit.
const MAX_BATCH: usize = 256;
/// Requests waiting for a commit before callers wait to hand theirs in.
const QUEUE: usize = 4_096;

/// A request's queued run and whether its audit entry was appended, or why
/// nothing was queued.
type Queued = Result<(Run, Result<(), StoreError>), StoreError>;

/// The callers' side of the request queue.
#[derive(Clone)]
pub(crate) struct Requests {
    sender: mpsc::Sender<(RequestedRun, oneshot::Sender<Queued>)>,
}

impl Requests {
    /// Starts the task that commits requests; it ends once every
    /// `Requests` is dropped.
    pub(crate) fn start(store: Store) -> Requests {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(store, receiver));
        Requests { sender }
    }

    /// Queues `requested` and returns its run once committed, with whether
    /// its audit entry was appended (see [`Store::runs_insert_requested`]).
    pub(crate) async fn queue(
        &self,
        requested: RequestedRun,
    ) -> Result<(Run, Result<(), StoreError>), SchedulerError> {
        let (reply, queued) = oneshot::channel();
        self.sender
            .send((requested, reply))
            .await
            .map_err(|_| SchedulerError::Stopped)?;
        let queued = queued.await.map_err(|_| SchedulerError::Stopped)?;
        Ok(queued?)
    }
}

async fn commit_loop(
    store: Store,
    mut receiver: mpsc::Receiver<(RequestedRun, oneshot::Sender<Queued>)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (requested, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match store.runs_insert_requested(&requested).await {
            Ok(done) => {
                for (run, reply) in done.runs.into_iter().zip(replies) {
                    // A caller that went away leaves its run queued, as a
                    // request cut after its commit always did.
                    let _ = reply.send(run.map(|run| (run, done.audited.clone())));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
