//! Runs queued on someone's request (the API, and the web UI's Run now
//! through it), many at once: each with the audit entry that says who
//! asked, in two statements however many requests a batch holds.

use serde_json::json;

use super::{EncodedNewRun, NewRun, Run, decode_run};
use crate::{
    audit::RunAudit,
    codec::{Columns, ms, opt_ms, to_json},
    error::{DbResultExt, StoreError},
    feed::notify_runs_queued,
    store::{Store, with_writer},
};

/// A run someone asked for, with the audit entry that records who.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedRun {
    /// The run to queue.
    pub new: NewRun,
    /// Its entry; the target is the run (`run:<id>`).
    pub audit: RunAudit,
}

/// What [`Store::runs_insert_requested`] did.
#[derive(Debug)]
pub struct RequestedRuns {
    /// One per request, in the order asked: the queued run, or why this
    /// request queued nothing ([`StoreError::JobNotFound`], an invalid
    /// request).
    pub runs: Vec<Result<Run, StoreError>>,
    /// Whether the entries of the queued runs were appended. On SQLite the
    /// runs stand when only their entries failed; on PostgreSQL they commit
    /// together or not at all.
    pub audited: Result<(), StoreError>,
}

/// A request checked and encoded: its place in the batch, its row and its
/// audit entry's detail.
struct Encoded<'a> {
    index: usize,
    request: &'a RequestedRun,
    row: serde_json::Value,
    detail: String,
}

impl Store {
    /// Queues the runs of `requested` and appends their audit entries
    /// (stamped with the store clock's now). Two statements for the whole
    /// batch, one round trip each: on SQLite the runs' insert and then the
    /// entries' (each its own transaction, as a single request's were); on
    /// PostgreSQL both with the notification in one transaction, one commit
    /// for the batch. A request that is invalid, or names a job that does
    /// not exist, queues nothing and holds back none of the others.
    /// `Err` when the database failed: then nothing was queued.
    pub async fn runs_insert_requested(
        &self,
        requested: &[RequestedRun],
    ) -> Result<RequestedRuns, StoreError> {
        let inserted = self.insert_requested(requested).await;
        self.observe_write(inserted)
    }

    async fn insert_requested(
        &self,
        requested: &[RequestedRun],
    ) -> Result<RequestedRuns, StoreError> {
        let mut runs: Vec<Result<Run, StoreError>> = Vec::with_capacity(requested.len());
        let mut valid = Vec::with_capacity(requested.len());
        for (index, request) in requested.iter().enumerate() {
            match encode(index, request) {
                Ok(encoded) => {
                    valid.push(encoded);
                    // Replaced by the run once it is inserted.
                    runs.push(Err(job_not_found(request.new.job_id)));
                }
                Err(error) => runs.push(Err(error)),
            }
        }
        if valid.is_empty() {
            return Ok(RequestedRuns {
                runs,
                audited: Ok(()),
            });
        }
        let rows = to_json(
            "requested runs",
            &valid.iter().map(|v| &v.row).collect::<Vec<_>>(),
        )?;
        let now = self.now_ms();
        with_writer!(self, |pool, sql| {
            // SQLite: one statement is a transaction of its own, so the
            // writing connection is held for two round trips, not four.
            if sql.notify.is_none() {
                let inserted = sqlx::query(sql.runs.runs_insert_requested)
                    .bind(&rows)
                    .fetch_all(pool)
                    .await
                    .db()?;
                let entries = place_runs(&valid, &inserted, &mut runs)?;
                let audited = match entries {
                    Some(entries) => sqlx::query(sql.runs.audit_insert_requested)
                        .bind(now)
                        .bind(entries)
                        .execute(pool)
                        .await
                        .db()
                        .map(drop)
                        .map_err(StoreError::from),
                    None => Ok(()),
                };
                return Ok(RequestedRuns { runs, audited });
            }
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let inserted = sqlx::query(sql.runs.runs_insert_requested)
                    .bind(&rows)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                if let Some(entries) = place_runs(&valid, &inserted, &mut runs)? {
                    sqlx::query(sql.runs.audit_insert_requested)
                        .bind(now)
                        .bind(entries)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                    notify_runs_queued!(sql.notify, &mut *tx)?;
                }
                Ok(())
            }
            .await;
            crate::codec::commit_or_rollback(tx, outcome).await?;
            Ok(RequestedRuns {
                runs,
                audited: Ok(()),
            })
        })
    }
}

fn job_not_found(job_id: i64) -> StoreError {
    StoreError::JobNotFound {
        job: job_id.to_string(),
    }
}

fn encode(index: usize, request: &RequestedRun) -> Result<Encoded<'_>, StoreError> {
    let encoded = EncodedNewRun::of(&request.new)?;
    let new = &request.new;
    Ok(Encoded {
        index,
        request,
        row: json!({
            "job_id": new.job_id,
            "job_version": new.job_version,
            "trigger": new.trigger.as_str(),
            "attempt": new.attempt,
            "scheduled_for": opt_ms(new.scheduled_for),
            "now": ms(new.now),
            "not_before": ms(new.not_before),
            "parent": new.parent_run_id,
            "params": encoded.params,
            "state": encoded.state,
            "event": encoded.event,
            "chain": new.chain_id,
        }),
        detail: to_json("audit detail", &request.audit.detail)?,
    })
}

/// Puts each inserted row in its request's place and returns the audit
/// entries of the inserted runs (`None`: no run was inserted).
///
/// The rows were inserted in the order asked, so ascending ids follow it;
/// a request whose job is gone has no row, and neither has any other
/// request for that job (one statement reads one state of `jobs`), so
/// matching rows to requests by job in order is exact.
fn place_runs(
    valid: &[Encoded<'_>],
    inserted: &[impl Columns],
    runs: &mut [Result<Run, StoreError>],
) -> Result<Option<String>, StoreError> {
    let mut rows = inserted
        .iter()
        .map(decode_run)
        .collect::<Result<Vec<Run>, StoreError>>()?;
    rows.sort_by_key(|run| run.id);
    let mut rows = rows.into_iter().peekable();
    let mut entries = Vec::with_capacity(valid.len());
    for encoded in valid {
        let RequestedRun { new, audit } = encoded.request;
        let Some(run) = rows.next_if(|run| run.job_id == new.job_id) else {
            continue;
        };
        entries.push(json!({
            "actor": audit.actor,
            "action": audit.action,
            "target": format!("run:{}", run.id),
            "detail": encoded.detail,
        }));
        runs[encoded.index] = Ok(run);
    }
    if entries.is_empty() {
        return Ok(None);
    }
    to_json("audit entries", &entries).map(Some)
}
