//! How nodes coordinate — only through the database.
//!
//! No node is special: there is no leader, no membership, no messages
//! between nodes. Every decision that two nodes could both make is a
//! guarded write that only one of them can win.
//!
//! ```text
//!                 job.next_fire_at = T
//!                          │  claim: UPDATE jobs SET next_fire_at = T'
//!                          │         WHERE id = J AND next_fire_at = T   (CAS)
//!              ┌───────────┴────────────┐
//!          won (1 row)               lost (0 rows): another node claimed T,
//!              │                     or the job changed → re-read the job
//!   same transaction: insert the occurrence's rows
//!   (unique (job, scheduled_for) makes a second row impossible)
//!              │
//!   ┌──────────┼───────────────┬───────────────────┐
//! running    queued          skipped            missed
//! (this node, (any node with  (overlap)          (downtime)
//!  free worker a free worker
//!  and memory) and memory:
//!     │        claim with
//!     │        SKIP LOCKED)
//!     │           │
//!     └─────┬─────┘
//!        running on node N, lease until L (heartbeat every L/3 renews it)
//!           │
//!   ┌───────┴──────────────────────────┬──────────────────────────────┐
//! N finishes it:                     N dies / hangs / loses the DB:    N shuts down:
//! UPDATE … WHERE status='running'    any node's sweeper:               finish as interrupted
//!   AND node = N AND lease_token = K UPDATE … WHERE status='running'   after the grace period
//! (group commit, with its retry        AND lease < now → interrupted
//!  or next chunk in the same tx)     then queue its retry
//! ```
//!
//! Failure rules:
//! - A node that crashes loses nothing: its running runs keep their rows;
//!   when their leases expire, any node's sweeper marks them `interrupted`
//!   and queues retries per policy. Occurrences it had not claimed are
//!   still pending in `jobs.next_fire_at` and any node fires them (late
//!   ones by the misfire policy).
//! - A node that cannot renew a lease (the database is out of reach) stops
//!   the run itself when a third of the lease is left (the fencing margin,
//!   which also bounds the clock skew nodes may have), before another node
//!   can see the lease expire; its `interrupted` end applies only if the row
//!   is still its own when the database answers. A node that lost a lease
//!   anyway (a pause longer than the lease) learns it at its next heartbeat
//!   and stops the run without recording anything: the row already says
//!   `interrupted`, and its writes are refused.
//! - Notifications (`LISTEN/NOTIFY` on PostgreSQL) only wake nodes early;
//!   correctness never depends on them. A lost one is covered by the
//!   backstop poll, and a reconnect triggers a full re-read.
//! - A run's log streams live from any node: the writing node's group
//!   commit announces which runs moved on, and a streaming node reads the
//!   stored lines when it hears of its run (with a slow poll as backstop).
//! - Cancelling a run on another node is a flag on its row: the owner
//!   sees it through a notification or, at the latest, its next heartbeat.
//! - Each node sizes its own claims to its free workers and memory budget
//!   (`budget`): a run that does not fit stays `queued` in the database,
//!   where any node with room takes it; nothing is reserved across nodes.
//! - Two nodes' clocks may disagree: a lease is judged by the sweeping
//!   node's clock, so the skew must stay well within the fencing margin.

use std::{sync::Arc, time::Duration};

use store::Change;
use tokio::sync::mpsc;

use crate::{core::Core, fire::FireCommand, live::StopReason};

/// Wait before re-subscribing after the feed failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Follows other nodes' changes (PostgreSQL); returns at once on SQLite.
pub(crate) async fn follow_changes(core: Arc<Core>, fire: mpsc::UnboundedSender<FireCommand>) {
    let mut stop = core.stopping.subscribe();
    loop {
        let mut feed = match core.store.change_feed().await {
            Ok(Some(feed)) => feed,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other nodes' changes; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        // Whatever happened while not listening.
        let _ = fire.send(FireCommand::ReloadAll);
        core.wake_feeder.notify_one();
        loop {
            let change = tokio::select! {
                change = feed.next() => change,
                _ = stop.changed() => return,
            };
            match change {
                Ok(Change::JobChanged(id)) => {
                    let _ = fire.send(FireCommand::JobChanged(id));
                }
                Ok(Change::RunsQueued | Change::RunsFinished) => core.wake_feeder.notify_one(),
                Ok(Change::CancelRequested(run_id)) => {
                    // Notification channels are database-wide: an installation
                    // in another schema of the same database announces its own
                    // run ids. Only a run whose cancel this database recorded
                    // is stopped.
                    if cancel_recorded(&core, run_id).await {
                        core.live.stop(run_id, StopReason::Cancelled);
                    }
                }
                Ok(Change::RunsProgressed(run_ids)) => {
                    for run_id in run_ids {
                        // No subscriber is no error: nobody streams a log.
                        let _ = core.progress.send(run_id);
                    }
                }
                // The server's site book follows these itself.
                Ok(Change::SitesChanged) => {}
                Ok(Change::Resync) => {
                    let _ = fire.send(FireCommand::ReloadAll);
                    core.wake_feeder.notify_one();
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the change feed; re-subscribing");
                    break;
                }
            }
        }
    }
}

/// Whether this installation's database holds a cancel request for the run
/// (a failed read counts as yes: the lease check stops it soon anyway, and
/// a real cancel must not be lost).
async fn cancel_recorded(core: &Core, run_id: i64) -> bool {
    match core.store.run_get(run_id).await {
        Ok(Some(run)) => run.cancel_requested,
        Ok(None) => false,
        Err(_) => true,
    }
}
