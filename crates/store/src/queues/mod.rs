//! `@forge/events` queues: pushed events, their queue jobs, and the event
//! runs that consume them (migration `0004_queues`).
//!
//! [`Store::queue_push`] writes a push in one transaction: a `queue_jobs`
//! row (the `jobId` a script gets back), one `queue_events` row per event
//! and one queued `event` run per event for the job consuming the key —
//! when it returns, nothing can be lost. An event's state (`pending`,
//! `succeeded`, `failed`, `cancelled`) follows its runs through database
//! triggers, so stats survive restarts, nodes and pruned history.
//! [`Store::queue_events_requeue_orphans`] re-queues events whose last run
//! was interrupted (its node died) and has no successor.
//!
//! Event runs are claimed by `runs_claim_queued` with their own candidates
//! ([`sql::QueueSql::claimable_events`]): the job's overlap policy does not apply
//! to them; the queue's concurrency limit does, counted in the database so
//! it holds across nodes.

pub(crate) mod sql;

use std::{collections::HashMap, time::Duration};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    codec::{Columns, commit_or_rollback, count, instant, ms},
    error::{DbResultExt, StoreError},
    feed::notify_runs_queued,
    runs::{EncodedNewRun, NewRun, decode_run, insert_queued},
    runs::{Run, Trigger},
    store::{Store, with_backend, with_writer},
};

/// The longest queue key, in characters.
pub const MAX_QUEUE_KEY_CHARS: usize = 100;

/// Checks a queue key against FORGE-API §4 (`^[a-zA-Z0-9-_]+$`), with a
/// length bound of our own.
pub fn check_queue_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > MAX_QUEUE_KEY_CHARS {
        return Err(format!("must be 1 to {MAX_QUEUE_KEY_CHARS} characters"));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("must match ^[a-zA-Z0-9-_]+$ (letters, digits, '-' and '_')".into());
    }
    Ok(())
}

/// One event of a push, validated by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct NewQueueEvent {
    /// The consumer's `event.body`.
    pub body: Value,
    /// How long after the push the event may run.
    pub delay: Duration,
    /// Most runs of the queue executing at once; `None` for no limit.
    pub concurrency_limit: Option<u32>,
}

/// A `Queue.push`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePush {
    /// The queue key.
    pub queue: String,
    /// Its events, in order (at least one).
    pub events: Vec<NewQueueEvent>,
    /// The instant of the push.
    pub now: Timestamp,
}

/// What a push created.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePushed {
    /// The queue job's id: the `jobId` the script gets back.
    pub queue_job_id: i64,
    /// The consuming job.
    pub job_id: i64,
    /// One queued `event` run per event, in push order.
    pub runs: Vec<Run>,
}

/// Counts of events by state: one queue job's, or a whole queue's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    /// Consumed successfully.
    pub succeeded: u64,
    /// Waiting, running, or waiting for a retry.
    pub in_progress: u64,
    /// The consumer failed for good.
    pub failed: u64,
    /// Dropped by `cancel()` (or a cancelled run) before they ran.
    pub cancelled: u64,
}

impl QueueCounts {
    fn add(&mut self, status: &str, n: i64) {
        let n = count(n);
        match status {
            "pending" => self.in_progress += n,
            "succeeded" => self.succeeded += n,
            "failed" => self.failed += n,
            "cancelled" => self.cancelled += n,
            _ => {}
        }
    }
}

/// One push of a queue, with its counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueJob {
    /// The queue job's id (`jobId`).
    pub id: i64,
    /// The queue key.
    pub queue: String,
    /// The consuming job.
    pub job_id: i64,
    /// Events pushed.
    pub events: u64,
    /// When it was pushed.
    pub created_at: Timestamp,
    /// Its events by state.
    pub counts: QueueCounts,
}

/// A queue: its consumer and its events by state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSummary {
    /// The queue key.
    pub queue: String,
    /// The job consuming it, if one does.
    pub job_id: Option<i64>,
    /// Every event ever pushed to it (of its current and past consumers), by state.
    pub counts: QueueCounts,
}

/// The event JSON a consumer receives (FORGE-API §4), without `retryContext`.
pub fn event_json(queue: &str, queue_job_id: i64, event_id: i64, body: &Value) -> Value {
    json!({
        "body": body,
        "jobId": queue_job_id.to_string(),
        "eventId": event_id.to_string(),
        "queueName": queue,
    })
}

fn counts_of(rows: Vec<(String, i64)>) -> QueueCounts {
    let mut counts = QueueCounts::default();
    for (status, n) in rows {
        counts.add(&status, n);
    }
    counts
}

fn decode_queue_job(row: &impl Columns, counts: QueueCounts) -> Result<QueueJob, StoreError> {
    Ok(QueueJob {
        id: row.i64(0)?,
        queue: row.text(1)?,
        job_id: row.i64(2)?,
        events: count(row.i64(3)?),
        created_at: instant(row.i64(4)?)?,
        counts,
    })
}

/// A push's events as the `events_insert` statement reads them.
fn events_json(events: &[NewQueueEvent], bodies: &[String]) -> Result<String, StoreError> {
    let rows: Vec<Value> = events
        .iter()
        .zip(bodies)
        .map(|(event, body)| json!({ "body": body, "limit": event.concurrency_limit }))
        .collect();
    crate::codec::to_json("queue events", &rows)
}

/// One queued `event` run per event of `push` (whose ids are `event_ids`,
/// in push order) as the `event_runs_insert` statement reads them.
fn event_runs_json(
    push: &QueuePush,
    queue_job_id: i64,
    event_ids: &[i64],
) -> Result<String, StoreError> {
    let rows = push
        .events
        .iter()
        .zip(event_ids)
        .map(|(event, &event_id)| {
            let run_event = event_json(&push.queue, queue_job_id, event_id, &event.body);
            Ok(json!({
                "event": crate::codec::to_json("event", &run_event)?,
                "not_before": ms(push.now + event.delay),
            }))
        })
        .collect::<Result<Vec<Value>, StoreError>>()?;
    crate::codec::to_json("event runs", &rows)
}

impl Store {
    /// Persists a push: the queue job, its events and one queued `event`
    /// run per event (not before `now` + its delay) for the job consuming
    /// `queue`, in one transaction. [`StoreError::NoConsumer`] when no job
    /// consumes the key (nothing is written).
    pub async fn queue_push(&self, push: &QueuePush) -> Result<QueuePushed, StoreError> {
        check_queue_key(&push.queue).map_err(|reason| StoreError::Invalid {
            what: "queue",
            reason,
        })?;
        if push.events.is_empty() {
            return Err(StoreError::Invalid {
                what: "events",
                reason: "a push has at least one event".into(),
            });
        }
        let bodies = push
            .events
            .iter()
            .map(|event| crate::codec::to_json("event body", &event.body))
            .collect::<Result<Vec<_>, _>>()?;
        let now = ms(push.now);
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let consumer: Option<(i64,)> = sqlx::query_as(sql::CONSUMER_OF)
                    .bind(&push.queue)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                let Some((job_id,)) = consumer else {
                    return Err(StoreError::NoConsumer {
                        queue: push.queue.clone(),
                    });
                };
                let (queue_job_id,): (i64,) = sqlx::query_as(sql::QUEUE_JOB_INSERT)
                    .bind(&push.queue)
                    .bind(job_id)
                    .bind(i64::try_from(push.events.len()).unwrap_or(i64::MAX))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .db()?;
                // One statement for the events and one for their runs,
                // whatever the batch size: a push costs two round trips
                // more than an empty one, not two per event.
                let events = events_json(&push.events, &bodies)?;
                let mut event_ids: Vec<(i64,)> = sqlx::query_as(sql.queues.events_insert)
                    .bind(queue_job_id)
                    .bind(&push.queue)
                    .bind(job_id)
                    .bind(now)
                    .bind(events)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                event_ids.sort_unstable();
                let event_ids: Vec<i64> = event_ids.into_iter().map(|(id,)| id).collect();
                let event_runs = event_runs_json(push, queue_job_id, &event_ids)?;
                let rows = sqlx::query(sql.queues.event_runs_insert)
                    .bind(job_id)
                    .bind(now)
                    .bind(event_runs)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let mut runs = rows.iter().map(decode_run).collect::<Result<Vec<_>, _>>()?;
                runs.sort_unstable_by_key(|run| run.id);
                if runs.len() != push.events.len() {
                    // The consumer was deleted since it was looked up.
                    return Err(StoreError::JobNotFound {
                        job: job_id.to_string(),
                    });
                }
                notify_runs_queued!(sql.notify, &mut *tx)?;
                Ok(QueuePushed {
                    queue_job_id,
                    job_id,
                    runs,
                })
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// One queue job of `queue` with its counts; `None` when there is no
    /// such job on that queue.
    pub async fn queue_job_get(
        &self,
        queue: &str,
        queue_job_id: i64,
    ) -> Result<Option<QueueJob>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let row = sqlx::query(sql::QUEUE_JOB_GET)
                .bind(queue_job_id)
                .bind(queue)
                .fetch_optional(pool)
                .await
                .db()?;
            let Some(row) = row else {
                return Ok(None);
            };
            let counts: Vec<(String, i64)> = sqlx::query_as(sql::QUEUE_JOB_COUNTS)
                .bind(queue_job_id)
                .fetch_all(pool)
                .await
                .db()?;
            decode_queue_job(&row, counts_of(counts)).map(Some)
        })
    }

    /// The newest `limit` queue jobs of `queue`, newest first, with counts.
    pub async fn queue_jobs_recent(
        &self,
        queue: &str,
        limit: u32,
    ) -> Result<Vec<QueueJob>, StoreError> {
        let limit = i64::from(crate::codec::list_limit(limit));
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::QUEUE_JOBS_RECENT)
                .bind(queue)
                .bind(limit)
                .fetch_all(pool)
                .await
                .db()?;
            let ids = rows
                .iter()
                .map(|row| row.i64(0))
                .collect::<Result<Vec<_>, _>>()?;
            let (Some(&first), Some(&last)) = (ids.iter().min(), ids.iter().max()) else {
                return Ok(Vec::new());
            };
            let counted: Vec<(i64, String, i64)> = sqlx::query_as(sql::QUEUE_JOBS_COUNTS_BETWEEN)
                .bind(queue)
                .bind(first)
                .bind(last)
                .fetch_all(pool)
                .await
                .db()?;
            let mut by_job: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
            for (queue_job_id, status, n) in counted {
                by_job.entry(queue_job_id).or_default().push((status, n));
            }
            rows.iter()
                .zip(ids)
                .map(|(row, id)| {
                    decode_queue_job(row, counts_of(by_job.remove(&id).unwrap_or_default()))
                })
                .collect()
        })
    }

    /// A queue's consumer and counts; `None` when no job consumes it and
    /// nothing was ever pushed to it.
    pub async fn queue_summary(&self, queue: &str) -> Result<Option<QueueSummary>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let consumer: Option<(i64,)> = sqlx::query_as(sql::CONSUMER_OF)
                .bind(queue)
                .fetch_optional(pool)
                .await
                .db()?;
            let rows: Vec<(String, i64)> = sqlx::query_as(sql::QUEUE_COUNTS)
                .bind(queue)
                .fetch_all(pool)
                .await
                .db()?;
            if consumer.is_none() && rows.is_empty() {
                return Ok(None);
            }
            Ok(Some(QueueSummary {
                queue: queue.to_owned(),
                job_id: consumer.map(|(id,)| id),
                counts: counts_of(rows),
            }))
        })
    }

    /// The queue job `id` consumes and its counts, if it consumes one.
    pub async fn queue_of_job(&self, job_id: i64) -> Result<Option<QueueSummary>, StoreError> {
        let key: Option<(Option<String>,)> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::QUEUE_OF_JOB)
                .bind(job_id)
                .fetch_optional(pool)
                .await
                .db()?
        });
        match key {
            Some((Some(key),)) => self.queue_summary(&key).await,
            _ => Ok(None),
        }
    }

    /// `cancel()`: the queue job's events that have not started end
    /// `cancelled` (with their queued runs); running ones go on. Returns
    /// how many were dropped, or `None` when there is no such queue job.
    pub async fn queue_job_cancel(
        &self,
        queue: &str,
        queue_job_id: i64,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let exists = sqlx::query(sql::QUEUE_JOB_GET)
                    .bind(queue_job_id)
                    .bind(queue)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
                if exists.is_none() {
                    return Ok(None);
                }
                let runs = crate::runs::transition::cancel_queued_runs_of_queue_job!(
                    queue_job_id,
                    ms(now),
                    &mut *tx
                )?;
                let orphans = sqlx::query(sql::QUEUE_JOB_CANCEL_ORPHANS)
                    .bind(queue_job_id)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
                Ok(Some(runs + orphans))
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Re-queues up to `limit` pending events that have no queued or
    /// running run (their last run was interrupted, or pruned): a `retry`
    /// run with the next attempt, startable at `now`. An event whose last
    /// attempt was `max_attempts` ends `failed` instead. Returns the runs
    /// queued. Safe on several nodes at once (serialised, and an event can
    /// never have two live runs).
    pub async fn queue_events_requeue_orphans(
        &self,
        now: Timestamp,
        max_attempts: u32,
        limit: u32,
    ) -> Result<Vec<Run>, StoreError> {
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                if let Some(lock) = sql.queues.lock {
                    sqlx::query(lock).execute(&mut *tx).await.db()?;
                }
                let orphans = sqlx::query(sql::ORPHANS)
                    .bind(i64::from(limit.max(1)))
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let mut queued = Vec::new();
                for orphan in &orphans {
                    let event_id = orphan.i64(0)?;
                    let job_id = orphan.i64(3)?;
                    let last = sqlx::query(sql::LAST_RUN_OF_EVENT)
                        .bind(event_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .db()?;
                    let (parent, attempt, event) = match &last {
                        Some(row) => (
                            Some(row.i64(0)?),
                            crate::codec::small("run attempt", row.i64(1)?)?,
                            crate::codec::opt_from_json::<Value>("run event", row.opt_text(2)?)?,
                        ),
                        None => (None, 0, None),
                    };
                    if attempt >= max_attempts {
                        sqlx::query(sql::EVENT_FAIL_IF_PENDING)
                            .bind(event_id)
                            .bind(ms(now))
                            .execute(&mut *tx)
                            .await
                            .db()?;
                        continue;
                    }
                    let mut event = match event {
                        Some(event) => event,
                        None => {
                            let body: Value =
                                crate::codec::from_json("event body", &orphan.text(4)?)?;
                            event_json(&orphan.text(2)?, orphan.i64(1)?, event_id, &body)
                        }
                    };
                    if let (Value::Object(event), true) = (&mut event, attempt > 0) {
                        // As the scheduler's retry of an interrupted run says it.
                        event.insert(
                            "retryContext".into(),
                            json!({ "retryCount": attempt, "retryReason": "INTERRUPTED" }),
                        );
                    }
                    let new = NewRun {
                        attempt: attempt + 1,
                        parent_run_id: parent,
                        event: Some(event),
                        ..NewRun::new(
                            job_id,
                            if parent.is_some() {
                                Trigger::Retry
                            } else {
                                Trigger::Event
                            },
                            now,
                        )
                    };
                    let encoded = EncodedNewRun::of(&new)?;
                    let row = insert_queued!(&encoded, &mut *tx)?;
                    queued.push(decode_run(&row)?);
                }
                if !queued.is_empty() {
                    notify_runs_queued!(sql.notify, &mut *tx)?;
                }
                Ok(queued)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }
}

#[cfg(test)]
mod plan_tests {
    //! A claim of event runs from queues without a limit reads the oldest
    //! due event runs from their own index, in order, instead of ranking
    //! every due event run per queue (issue 10: the ranking grew with the
    //! backlog).

    use super::*;
    use crate::{
        plans::{Frame, Param, on_both_engines, plan},
        store::Engine,
    };

    async fn claim_plan(store: &Store) -> String {
        let statement = match store.engine() {
            Engine::Sqlite => crate::sql::SQLITE.queues.claimable_events,
            Engine::Postgres => crate::sql::POSTGRES.queues.claimable_events,
        };
        plan(
            store,
            Frame::IndexPossible,
            statement,
            &[Param::Int(0), Param::Int(10)],
        )
        .await
    }

    async fn assert_unlimited_events_come_from_their_index(store: &Store) {
        let plan = claim_plan(store).await;
        match store.engine() {
            Engine::Sqlite => {
                assert!(
                    plan.contains("SEARCH r USING INDEX runs_queued_events (not_before_ms<?)"),
                    "{plan}"
                );
                assert!(
                    plan.contains("SCAN queue_events USING INDEX queue_events_limited_pending"),
                    "limited queues are found by their index: {plan}"
                );
            }
            Engine::Postgres => {
                assert!(plan.contains("runs_queued_events"), "{plan}");
                assert!(plan.contains("queue_events_limited_pending"), "{plan}");
            }
        }
    }

    /// PostgreSQL runs the per-queue ranking only when a limited queue has
    /// a pending event: its join of every due event run sits under a
    /// one-time filter, so a claim with no limited queue does not walk the
    /// whole backlog to rank nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_ranks_event_runs_only_when_a_queue_is_limited() {
        let schema = test_support::PgSchema::create("queue_rank_gate_test").await;
        let postgres = Store::open(schema.url()).await.unwrap();
        let plan = plan(
            &postgres,
            Frame::Claim,
            crate::sql::POSTGRES.queues.claimable_events,
            &[Param::Int(0), Param::Int(10)],
        )
        .await;
        assert!(
            plan.contains("One-Time Filter"),
            "the ranking is not gated on a limited queue: {plan}"
        );
        postgres.close().await;
        schema.drop().await;
    }

    /// The newest run of an event (the orphan re-queue asks once per
    /// orphan) is found by the event: before, SQLite walked every event
    /// run's entry of an index keyed by status first, once per orphan.
    async fn assert_an_events_runs_are_found_by_the_event(store: &Store) {
        let plan = plan(
            store,
            Frame::IndexPossible,
            sql::LAST_RUN_OF_EVENT,
            &[Param::Int(7)],
        )
        .await;
        match store.engine() {
            Engine::Sqlite => assert!(
                plan.contains("SEARCH runs USING INDEX runs_by_event (queue_event_id=?)"),
                "{plan}"
            ),
            Engine::Postgres => assert!(
                plan.contains("runs_by_event on runs")
                    && plan.contains("Index Cond: (queue_event_id = "),
                "{plan}"
            ),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_events_runs_are_found_by_the_event_on_both_engines() {
        on_both_engines(
            "event_runs_plan_test",
            assert_an_events_runs_are_found_by_the_event,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unlimited_event_claims_read_their_index_on_both_engines() {
        on_both_engines(
            "queue_plan_test",
            assert_unlimited_events_come_from_their_index,
        )
        .await;
    }
}
