//! The audit log: who changed what, when. Job changes append to it in their
//! own transaction; other layers append with [`Store::audit_append`].

pub(crate) mod sql;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{
    codec::{decode_id_cursor, encode_cursor, from_json, instant, list_limit, to_json},
    error::{DbResultExt, StoreError},
    shared::Page,
    store::{Store, with_backend, with_writer},
};

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who: a token name, `system`, …
    pub actor: String,
    /// What, dotted: `job.create`, `token.revoke`, …
    pub action: String,
    /// On what: `job:42`, `token:3`, …
    pub target: String,
    /// Details as JSON.
    pub detail: Value,
}

/// The audit entry of a run queued on someone's request, appended with the
/// run by [`Store::runs_insert_requested`]; its target is the run (`run:<id>`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunAudit {
    /// Who: a token name, a user, …
    pub actor: String,
    /// What, dotted: `run.start`.
    pub action: String,
    /// Details as JSON.
    pub detail: Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Its id (entries are numbered in order).
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details.
    pub detail: Value,
}

/// Which entries [`Store::audit_search`] returns: all of them when every field is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries by this actor (exact).
    pub actor: Option<String>,
    /// Only entries on this target (exact: `job:42`, `user:ana`, …).
    pub target: Option<String>,
}

const AUDIT_CURSOR: &str = "audit";

impl Store {
    /// Appends an entry, stamped with the store clock's now.
    pub async fn audit_append(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let now = self.now_ms();
        let detail = to_json("audit detail", &entry.detail)?;
        let (id,): (i64,) = with_writer!(self, |pool, _sql| {
            sqlx::query_as(sql::AUDIT_INSERT)
                .bind(now)
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(&detail)
                .fetch_one(pool)
                .await
                .db()?
        });
        Ok(AuditRecord {
            id,
            at: instant(now)?,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            detail: entry.detail.clone(),
        })
    }

    /// Deletes up to `batch` of the oldest entries written before `before`;
    /// returns how many went.
    pub async fn audit_prune(&self, before: Timestamp, batch: u32) -> Result<u64, StoreError> {
        let before = before.as_millisecond();
        let deleted = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::AUDIT_PRUNE)
                .bind(before)
                .bind(i64::from(batch))
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(deleted)
    }

    /// One page of the audit log, newest first.
    pub async fn audit_list(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let before = audit_before(cursor)?;
        let limit = list_limit(limit);
        let rows: Vec<AuditRow> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::AUDIT_LIST)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
                .db()?
        });
        audit_page(rows, limit)
    }

    /// One page of the entries `filter` selects, newest first.
    pub async fn audit_search(
        &self,
        filter: &AuditFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let before = audit_before(cursor)?;
        let limit = list_limit(limit);
        let rows: Vec<AuditRow> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::AUDIT_SEARCH)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .bind(filter.actor.as_deref())
                .bind(filter.target.as_deref())
                .fetch_all(pool)
                .await
                .db()?
        });
        audit_page(rows, limit)
    }
}

/// `(id, at_ms, actor, action, target, detail)` as selected.
type AuditRow = (i64, i64, String, String, String, String);

/// The id below which a page starts: the cursor's, or the top.
fn audit_before(cursor: Option<&str>) -> Result<i64, StoreError> {
    match cursor {
        Some(cursor) => decode_id_cursor(AUDIT_CURSOR, cursor),
        None => Ok(i64::MAX),
    }
}

/// Decodes up to `limit` rows (one more was fetched to know whether more follow).
fn audit_page(rows: Vec<AuditRow>, limit: u32) -> Result<Page<AuditRecord>, StoreError> {
    let mut items = rows
        .into_iter()
        .map(|(id, at, actor, action, target, detail)| {
            Ok(AuditRecord {
                id,
                at: instant(at)?,
                actor,
                action,
                target,
                detail: from_json("audit detail", &detail)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|record| encode_cursor(AUDIT_CURSOR, &record.id.to_string()))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
