//! A restarting node takes back what its previous incarnation held.
//!
//! A node keeps its id across restarts (the binary stores it in the data
//! directory), so the runs still `running` under its id when it starts
//! belong to a process that is gone: nothing executes them and nothing
//! will renew their leases. Waiting for those leases to expire would leave
//! their jobs looking busy (an occurrence skipped by overlap `skip`) for a
//! whole lease; instead the node releases them as it starts.

use jiff::Timestamp;

use crate::{
    codec::{commit_or_rollback, ms},
    error::{DbResultExt, StoreError},
    feed::notify_runs_queued,
    runs::sql,
    store::{Store, with_writer},
};

/// What [`Store::runs_release_of_node`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeRelease {
    /// Claimed runs whose script never began, queued again.
    pub requeued: u64,
    /// Runs that had begun, their leases now expired: the next
    /// [`Store::runs_interrupt_if_lease_expired_then`] interrupts them.
    pub expired: u64,
}

impl Store {
    /// Releases the runs `node`'s previous incarnation held (see the module
    /// docs): those it claimed but never began go back to the queue, the
    /// others get a lease that ended before `now`. Only for a node that is
    /// starting: a live process under the same id would lose its runs.
    pub async fn runs_release_of_node(
        &self,
        node: &str,
        now: Timestamp,
    ) -> Result<NodeRelease, StoreError> {
        let past = ms(now) - 1;
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let requeued = sqlx::query(sql::RUNS_REQUEUE_UNSTARTED_OF_NODE)
                    .bind(node)
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
                let expired = sqlx::query(sql::RUNS_EXPIRE_LEASES_OF_NODE)
                    .bind(node)
                    .bind(past)
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
                if requeued > 0 {
                    notify_runs_queued!(sql.notify, &mut *tx)?;
                }
                Ok(NodeRelease { requeued, expired })
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }
}
