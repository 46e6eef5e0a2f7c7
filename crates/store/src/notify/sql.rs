//! The SQL statements on notification channels and deliveries. Text both
//! dialects share is a `const`; text that differs is a field of
//! [`DeliverySql`], whose [`SQLITE`] and [`POSTGRES`] values the store picks
//! per engine.

use crate::sql::dialect_statements;
/// `delivery_columns!` qualified with the table name.
macro_rules! qualified_delivery_columns {
    () => {
        "notification_deliveries.id, notification_deliveries.channel_id, \
         notification_deliveries.job_id, notification_deliveries.run_id, \
         notification_deliveries.event, notification_deliveries.payload, \
         notification_deliveries.status, notification_deliveries.attempts, \
         notification_deliveries.next_attempt_at_ms, notification_deliveries.last_error, \
         notification_deliveries.created_at_ms, notification_deliveries.updated_at_ms"
    };
}

/// The columns of a notification delivery, in the order
/// `notify::decode_delivery` reads them.
macro_rules! delivery_columns {
    () => {
        "id, channel_id, job_id, run_id, event, payload, status, attempts, \
         next_attempt_at_ms, last_error, created_at_ms, updated_at_ms"
    };
}

dialect_statements! {
    /// The statements on notification channels and deliveries whose text
    /// differs between the dialects.
    pub(crate) struct DeliverySql {
        /// `$1` now, `$2` claimed until, `$3` limit → due deliveries, now
        /// invisible to other claimers until `$2`.
        pub(crate) deliveries_claim_due: &'static str,
    }
}

/// SQLite: JSON is checked text; `json_each` unpacks key lists.
pub(crate) const SQLITE: DeliverySql = DeliverySql {
    deliveries_claim_due: concat!(
        "UPDATE notification_deliveries \
         SET next_attempt_at_ms = $2, attempts = attempts + 1, updated_at_ms = $1 \
         WHERE status = 'pending' AND id IN (\
             SELECT id FROM notification_deliveries \
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ORDER BY next_attempt_at_ms ",
        crate::sql::bound_limit!("$3"),
        ") \
         RETURNING ",
        delivery_columns!()
    ),
};

/// PostgreSQL: `json` columns cast from and to text; row locks where SQLite
/// relies on its single writer.
pub(crate) const POSTGRES: DeliverySql = DeliverySql {
    deliveries_claim_due: concat!(
        "WITH picked AS MATERIALIZED (\
             SELECT id FROM notification_deliveries \
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ORDER BY next_attempt_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE notification_deliveries \
         SET next_attempt_at_ms = $2, attempts = attempts + 1, updated_at_ms = $1 \
         FROM picked \
         WHERE notification_deliveries.id = picked.id \
           AND notification_deliveries.status = 'pending' \
         RETURNING ",
        qualified_delivery_columns!()
    ),
};

/// `$1` name, `$2` kind, `$3` url, `$4` events, `$5` enabled, `$6` now.
pub(crate) const CHANNEL_UPSERT: &str = "INSERT INTO notification_channels \
        (name, kind, url, events, enabled, created_at_ms, updated_at_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $6) \
    ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url, \
        events = excluded.events, enabled = excluded.enabled, \
        updated_at_ms = excluded.updated_at_ms \
    RETURNING id, name, kind, url, events, enabled, created_at_ms, updated_at_ms";

/// Every channel by name.
pub(crate) const CHANNEL_LIST: &str = "SELECT id, name, kind, url, events, enabled, \
    created_at_ms, updated_at_ms FROM notification_channels ORDER BY name";

/// `$1` name.
pub(crate) const CHANNEL_DELETE: &str = "DELETE FROM notification_channels WHERE name = $1";

/// `$1` channel, `$2` job, `$3` run, `$4` event, `$5` payload, `$6` now.
pub(crate) const DELIVERY_INSERT: &str = "INSERT INTO notification_deliveries \
        (channel_id, job_id, run_id, event, payload, status, next_attempt_at_ms, \
         created_at_ms, updated_at_ms) \
    VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6) \
    ON CONFLICT (channel_id, run_id, event) DO NOTHING";

/// `$1` id, `$2` status, `$3` next attempt, `$4` error, `$5` now.
pub(crate) const DELIVERY_RECORD_IF_PENDING: &str = "UPDATE notification_deliveries \
    SET status = $2, next_attempt_at_ms = $3, last_error = COALESCE($4, last_error), \
        updated_at_ms = $5 \
    WHERE id = $1 AND status = 'pending'";

/// `$1` channel, `$2` limit: its newest deliveries.
pub(crate) const DELIVERIES_OF_CHANNEL: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM notification_deliveries WHERE channel_id = $1 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` id below which to start, `$2` limit.
pub(crate) const DELIVERY_LIST: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM notification_deliveries WHERE id < $1 ORDER BY id DESC ",
    crate::sql::bound_limit!("$2")
);

/// `$1` earliest end, `$2` after this run id, `$3` limit: runs that ended
/// `failed`, `timed_out`, `interrupted` or `missed` since `$1` and have no
/// delivery at all, by id → run columns. Their alerts were raised and never
/// stored (the process died between a run's end and its alert).
pub(crate) const RUNS_ENDED_WITHOUT_ALERTS: &str = concat!(
    "SELECT ",
    crate::runs::sql::run_columns!(),
    " FROM runs r \
     WHERE r.status IN ('failed', 'timed_out', 'interrupted', 'missed') \
       AND r.finished_at_ms >= $1 AND r.id > $2 \
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.run_id = r.id) \
     ORDER BY r.id ",
    crate::sql::bound_limit!("$3")
);
