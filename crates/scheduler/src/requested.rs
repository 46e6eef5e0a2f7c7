//! Runs asked for now (the API, and the web UI's Run now through it),
//! queued in group commits.
//!
//! Each request waits for the commit that queues its run with its audit
//! entry. Requests that arrive while a commit is under way go together in
//! the next one, so a burst of requests takes a few turns of the database
//! instead of two each: on SQLite the one writing connection is the node's
//! narrowest resource, and the workers' claims and ends wait for it too.
//! A lone request waits for nobody. A batch the database refuses as such
//! (a permanent error) is tried again one request at a time, so only the
//! request at fault fails; a failure of the database itself (unreachable,
//! disk full) is every request's answer.

use store::{ErrorClass, RequestedRun, Run, Store, StoreError};
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
            Err(error) if error.class() == ErrorClass::Permanent && requested.len() > 1 => {
                // Nothing was queued: each alone, so only the one at fault fails.
                for (requested, reply) in requested.iter().zip(replies) {
                    let alone = store
                        .runs_insert_requested(std::slice::from_ref(requested))
                        .await;
                    answer(alone, vec![reply]);
                }
            }
            done => answer(done, replies),
        }
    }
}

/// Tells each caller what became of its request.
fn answer(done: Result<store::RequestedRuns, StoreError>, replies: Vec<oneshot::Sender<Queued>>) {
    match done {
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

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Executor};
    use store::{NewRun, RunAudit, Trigger};
    use test_support::Database;

    use super::*;

    test_support::both_databases!(
        async crate::requested::tests::run_on =>
            one_refused_request_fails_alone_and_a_lost_database_fails_all
    );

    /// A store on a fresh database of `database`'s engine whose runs table
    /// refuses, as a constraint would, any run with `refuse` in its params.
    async fn run_on<F, Fut>(database: Database, test: F)
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        match database {
            Database::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("clockwork.db").display());
                let store = Store::open(&url).await.unwrap();
                let mut trap = sqlx::SqliteConnection::connect(&url).await.unwrap();
                trap.execute(
                    "CREATE TRIGGER refuse_marked BEFORE INSERT ON runs \
                     WHEN NEW.params LIKE '%refuse%' \
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                )
                .await
                .unwrap();
                test(store).await;
            }
            Database::Postgres => {
                let schema = test_support::PgSchema::create("requested_test").await;
                let store = Store::open(schema.url()).await.unwrap();
                let mut trap = sqlx::PgConnection::connect(schema.url()).await.unwrap();
                sqlx::raw_sql(
                    "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN \
                         IF NEW.params LIKE '%refuse%' THEN \
                             RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; \
                         END IF; \
                         RETURN NEW; \
                     END $$; \
                     CREATE TRIGGER refuse_marked BEFORE INSERT ON runs \
                         FOR EACH ROW EXECUTE FUNCTION refuse_marked();",
                )
                .execute(&mut trap)
                .await
                .unwrap();
                trap.close().await.unwrap();
                test(store.clone()).await;
                store.close().await;
                schema.drop().await;
            }
        }
    }

    fn asked(job_id: i64, params: serde_json::Value) -> RequestedRun {
        RequestedRun {
            new: NewRun {
                params: Some(params),
                ..NewRun::new(job_id, Trigger::Api, jiff::Timestamp::now())
            },
            audit: RunAudit {
                actor: "test".into(),
                action: "run.start".into(),
                detail: serde_json::json!({}),
            },
        }
    }

    /// Hands `requested` in as one batch (all queued before the loop
    /// starts) and returns each caller's answer.
    async fn commit_as_one_batch(store: &Store, requested: Vec<RequestedRun>) -> Vec<Queued> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let mut answers = Vec::new();
        for requested in requested {
            let (reply, answer) = oneshot::channel();
            sender.try_send((requested, reply)).unwrap();
            answers.push(answer);
        }
        drop(sender);
        commit_loop(store.clone(), receiver).await;
        let mut queued = Vec::new();
        for answer in answers {
            queued.push(answer.await.unwrap());
        }
        queued
    }

    async fn one_refused_request_fails_alone_and_a_lost_database_fails_all(store: Store) {
        let job = store
            .job_create(&store::NewJob {
                spec: store::JobSpec::new("asked-for", "return 1"),
                next_fire_at: None,
                actor: "test".into(),
            })
            .await
            .unwrap();
        let requested = (0..5)
            .map(|n| match n {
                2 => asked(job.id, serde_json::json!({"refuse": true})),
                n => asked(job.id, serde_json::json!({"n": n})),
            })
            .collect();
        let answers = commit_as_one_batch(&store, requested).await;
        for (n, answer) in answers.iter().enumerate() {
            if n == 2 {
                let Err(error) = answer else {
                    panic!("the refused request queued a run: {answer:?}");
                };
                assert_eq!(error.class(), ErrorClass::Permanent, "{error}");
                assert!(error.to_string().contains("refused by the test"), "{error}");
                continue;
            }
            let (run, audited) = answer
                .as_ref()
                .unwrap_or_else(|error| panic!("request {n} failed with the refused one: {error}"));
            assert!(audited.is_ok(), "{audited:?}");
            assert_eq!(run.params, Some(serde_json::json!({"n": n})));
        }

        // The database is gone: every caller is told so, none waits forever.
        store.close().await;
        let answers = commit_as_one_batch(
            &store,
            (0..3)
                .map(|n| asked(job.id, serde_json::json!({"n": n})))
                .collect(),
        )
        .await;
        for answer in answers {
            let Err(error) = answer else {
                panic!("queued on a closed database: {answer:?}");
            };
            assert!(error.unavailability().is_some(), "{error}");
        }
    }
}
