//! Changes other nodes made, as PostgreSQL `LISTEN/NOTIFY` carries them.
//!
//! Writes that another node must react to send a notification inside their
//! transaction, so it is delivered exactly when the change is visible:
//! job writes on [`JOBS_CHANNEL`] (payload: the job id), and new queued
//! runs, finished runs and cancel requests on [`RUNS_CHANNEL`], site
//! changes on [`SETTINGS_CHANNEL`] (every node keeps the sites in memory
//! for its runs, and re-reads them when told), and the runs whose rows a
//! node's group commit moved on (started, stored log lines, ended) on
//! [`RUN_PROGRESS_CHANNEL`], so any node can stream any run's log live.
//! The progress payload names the schema it comes from (channels are
//! database-wide, and two installations may share a database); the feed
//! drops other schemas' notices. A
//! notification is a hint to look at the database, never the data itself:
//! one lost while a listener reconnects is reported as [`Change::Resync`],
//! and schedulers also poll slowly as a backstop. SQLite has one node, so
//! there is no feed.

use sqlx::postgres::PgListener;

use crate::{
    error::{DbResultExt, StoreError},
    store::{Backend, Store},
};

/// The channel on which job changes are announced (payload: the job id).
pub const JOBS_CHANNEL: &str = "clockwork_jobs";
/// The channel on which run events are announced (`queued`, `finished`,
/// `cancel:<run id>`).
pub const RUNS_CHANNEL: &str = "clockwork_runs";

/// The channel on which settings changes are announced (payload: `sites`).
pub const SETTINGS_CHANNEL: &str = "clockwork_settings";

/// The channel on which run progress is announced (payload: the schema,
/// `|`, then comma-separated run ids).
pub const RUN_PROGRESS_CHANNEL: &str = "clockwork_run_progress";

/// Run ids per progress notice: a payload stays far below PostgreSQL's
/// 8000-byte limit.
pub(crate) const RUN_IDS_PER_NOTICE: usize = 400;

pub(crate) const SITES_CHANGED: &str = "sites";
pub(crate) const RUNS_QUEUED: &str = "queued";
pub(crate) const RUNS_FINISHED: &str = "finished";
pub(crate) const CANCEL_PREFIX: &str = "cancel:";

/// Tells the nodes (PostgreSQL; `$notify` is `None` on SQLite) on `$conn`,
/// at its commit, `$payload` on the runs channel (`RUNS_QUEUED`,
/// `RUNS_FINISHED`); evaluates to `Result<(), DatabaseError>`.
macro_rules! notify_runs {
    ($notify:expr, $payload:expr, $conn:expr) => {
        match $notify {
            Some(notify) => sqlx::query(notify)
                .bind($crate::feed::RUNS_CHANNEL)
                .bind($payload)
                .execute($conn)
                .await
                .db()
                .map(drop),
            None => Ok(()),
        }
    };
}
pub(crate) use notify_runs;

/// [`notify_runs!`] with [`RUNS_QUEUED`]: runs were queued.
macro_rules! notify_runs_queued {
    ($notify:expr, $conn:expr) => {
        $crate::feed::notify_runs!($notify, $crate::feed::RUNS_QUEUED, $conn)
    };
}
pub(crate) use notify_runs_queued;

/// Something another node (or this one) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A job was created, edited, paused, resumed or deleted.
    JobChanged(i64),
    /// Runs were queued: workers may have something to claim.
    RunsQueued,
    /// Runs ended: queued runs waiting behind them may start now.
    RunsFinished,
    /// Someone asked for this running run to be cancelled.
    CancelRequested(i64),
    /// A stored site was added, changed or deleted: re-read the sites.
    SitesChanged,
    /// These runs started, stored log lines or ended (on any node).
    RunsProgressed(Vec<i64>),
    /// The connection was re-established; notifications may have been lost,
    /// so re-read what matters.
    Resync,
}

/// A subscription to [`Change`]s, from [`Store::change_feed`].
pub struct ChangeFeed {
    listener: PgListener,
    /// This installation's schema: progress notices of others are dropped.
    schema: String,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl ChangeFeed {
    /// The next change; waits for one. Reconnects by itself after a lost
    /// connection (and then says [`Change::Resync`]); an error means the
    /// database cannot be reached right now.
    pub async fn next(&mut self) -> Result<Change, StoreError> {
        loop {
            let Some(notification) = self.listener.try_recv().await.db()? else {
                return Ok(Change::Resync);
            };
            if let Some(change) =
                parse(notification.channel(), notification.payload(), &self.schema)
            {
                return Ok(change);
            }
        }
    }
}

fn parse(channel: &str, payload: &str, schema: &str) -> Option<Change> {
    match channel {
        RUN_PROGRESS_CHANNEL => match payload.rsplit_once('|') {
            Some((from, ids)) if from == schema => ids
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<i64>, _>>()
                .ok()
                .map(Change::RunsProgressed),
            _ => None,
        },
        JOBS_CHANNEL => payload.parse().ok().map(Change::JobChanged),
        RUNS_CHANNEL if payload == RUNS_QUEUED => Some(Change::RunsQueued),
        RUNS_CHANNEL if payload == RUNS_FINISHED => Some(Change::RunsFinished),
        SETTINGS_CHANNEL if payload == SITES_CHANGED => Some(Change::SitesChanged),
        RUNS_CHANNEL => payload
            .strip_prefix(CANCEL_PREFIX)
            .and_then(|id| id.parse().ok())
            .map(Change::CancelRequested),
        _ => None,
    }
}

impl Store {
    /// Subscribes to changes made by any node, on PostgreSQL; `None` on
    /// SQLite, where this process is the only node.
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let (schema,): (String,) = sqlx::query_as("SELECT COALESCE(current_schema(), '')")
            .fetch_one(pool)
            .await
            .db()?;
        let mut listener = PgListener::connect_with(pool).await.db()?;
        listener
            .listen_all([
                JOBS_CHANNEL,
                RUNS_CHANNEL,
                SETTINGS_CHANNEL,
                RUN_PROGRESS_CHANNEL,
            ])
            .await
            .db()?;
        Ok(Some(ChangeFeed { listener, schema }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_notices_of_other_schemas_are_dropped() {
        let parse = |payload| parse(RUN_PROGRESS_CHANNEL, payload, "mine");
        assert_eq!(parse("mine|7"), Some(Change::RunsProgressed(vec![7])));
        assert_eq!(
            parse("mine|7,8,9"),
            Some(Change::RunsProgressed(vec![7, 8, 9]))
        );
        assert_eq!(parse("theirs|7"), None);
        assert_eq!(parse("7"), None);
        assert_eq!(parse("mine|7,x"), None);
    }

    #[test]
    fn payloads_parse_into_changes() {
        let parse = |channel, payload| parse(channel, payload, "mine");
        assert_eq!(parse(JOBS_CHANNEL, "42"), Some(Change::JobChanged(42)));
        assert_eq!(parse(RUNS_CHANNEL, "queued"), Some(Change::RunsQueued));
        assert_eq!(parse(RUNS_CHANNEL, "finished"), Some(Change::RunsFinished));
        assert_eq!(
            parse(RUNS_CHANNEL, "cancel:7"),
            Some(Change::CancelRequested(7))
        );
        assert_eq!(parse(RUNS_CHANNEL, "cancel:x"), None);
        assert_eq!(parse(SETTINGS_CHANNEL, "sites"), Some(Change::SitesChanged));
        assert_eq!(parse(SETTINGS_CHANNEL, "other"), None);
        assert_eq!(parse(JOBS_CHANNEL, "x"), None);
        assert_eq!(parse("other", "1"), None);
    }
}
