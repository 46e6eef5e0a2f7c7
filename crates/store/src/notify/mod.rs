//! Failure alerts: notification channels and the deliveries to them.
//!
//! A delivery is written once per (channel, run, event) — however many
//! nodes see the run end — and handed to one sender at a time: claiming a
//! due delivery pushes its next attempt past a claim window, so other
//! nodes skip it unless the sender dies.

pub(crate) mod sql;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    codec::{
        Columns, count, decode_id_cursor, encode_cursor, from_json, instant, list_limit, ms,
        opt_instant, parse_enum, to_json,
    },
    error::{DbResultExt, StoreError},
    secret::Sealed,
    shared::Page,
    store::{Store, with_backend, with_writer},
};

/// Where a channel posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A generic JSON webhook.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// A run failed.
    Failed,
    /// A run timed out.
    TimedOut,
    /// A run was interrupted.
    Interrupted,
    /// Occurrences were missed.
    Missed,
    /// A run succeeded after failures.
    Recovered,
}

crate::shared::stored_text!(ChannelKind { Webhook => "webhook", Slack => "slack" });
crate::shared::stored_text!(AlertEvent {
    Failed => "failed",
    TimedOut => "timed_out",
    Interrupted => "interrupted",
    Missed => "missed",
    Recovered => "recovered"
});

/// A channel as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// Unique name.
    pub name: String,
    /// Webhook or Slack.
    pub kind: ChannelKind,
    /// Where to post.
    pub url: String,
    /// Which events it wants.
    pub events: Vec<AlertEvent>,
    /// Whether it receives anything.
    pub enabled: bool,
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationChannel {
    /// Its id.
    pub id: i64,
    /// What it is.
    pub spec: ChannelSpec,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A delivery to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The channel.
    pub channel_id: i64,
    /// The job.
    pub job_id: i64,
    /// The run the alert is about.
    pub run_id: i64,
    /// What happened.
    pub event: AlertEvent,
    /// The body to post.
    pub payload: Value,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet delivered; will be tried (again).
    Pending,
    /// Delivered.
    Delivered,
    /// Given up.
    Failed,
}
crate::shared::stored_text!(DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" });

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The job.
    pub job_id: i64,
    /// The run.
    pub run_id: i64,
    /// What happened.
    pub event: AlertEvent,
    /// The body.
    pub payload: Value,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made (claims count as attempts).
    pub attempts: u64,
    /// When it is next due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// The last failed attempt's error (kept once delivered).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The channel accepted it.
    Delivered,
    /// Try again at `next_attempt_at`.
    Retry {
        /// When.
        next_attempt_at: Timestamp,
        /// Why this attempt failed.
        error: String,
    },
    /// Give up.
    GaveUp {
        /// Why the last attempt failed.
        error: String,
    },
}

const DELIVERY_CURSOR: &str = "delivery";

/// Marks a sealed channel URL: `sealed:VERSION:NONCE:CIPHERTEXT` (base64).
const SEALED_PREFIX: &str = "sealed:";

/// The associated data a channel's URL is bound to.
fn channel_aad(name: &str) -> String {
    format!("\0channel:{name}")
}

impl Store {
    /// Creates or replaces (by name) a channel.
    pub async fn channel_upsert(
        &self,
        spec: &ChannelSpec,
    ) -> Result<NotificationChannel, StoreError> {
        if spec.name.is_empty() || spec.name.chars().count() > 200 {
            return Err(StoreError::Invalid {
                what: "channel name",
                reason: "must be 1 to 200 characters".into(),
            });
        }
        let events = to_json("channel events", &spec.events)?;
        let stored_url = self.seal_channel_url(&spec.name, &spec.url)?;
        let now = self.now_ms();
        let channel = with_writer!(self, |pool, _sql| {
            let row = sqlx::query(sql::CHANNEL_UPSERT)
                .bind(&spec.name)
                .bind(spec.kind.as_str())
                .bind(&stored_url)
                .bind(&events)
                .bind(spec.enabled)
                .bind(now)
                .fetch_one(pool)
                .await
                .db()?;
            decode_channel(&row)
        })?;
        self.open_channel_url(channel)
    }

    /// Every channel, by name.
    pub async fn channel_list(&self) -> Result<Vec<NotificationChannel>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::CHANNEL_LIST).fetch_all(pool).await.db()?;
            rows.iter()
                .map(|row| decode_channel(row).and_then(|channel| self.open_channel_url(channel)))
                .collect()
        })
    }

    /// A channel's URL as stored: sealed under the secret key like a site's
    /// secret when the store has one (a Slack or webhook URL is itself a
    /// credential), else as given.
    fn seal_channel_url(&self, name: &str, url: &str) -> Result<String, StoreError> {
        let Ok(key) = self.secret_key() else {
            return Ok(url.to_owned());
        };
        let sealed = key
            .encrypt(&channel_aad(name), url)
            .ok_or_else(|| StoreError::Invalid {
                what: "channel url",
                reason: "is too large".into(),
            })?;
        Ok(format!(
            "{SEALED_PREFIX}{}:{}:{}",
            sealed.version,
            STANDARD.encode(&sealed.nonce),
            STANDARD.encode(&sealed.ciphertext)
        ))
    }

    /// `channel` with its stored URL opened (URLs stored before sealing,
    /// or without a key, are read as they are).
    fn open_channel_url(
        &self,
        mut channel: NotificationChannel,
    ) -> Result<NotificationChannel, StoreError> {
        let Some(sealed) = channel.spec.url.strip_prefix(SEALED_PREFIX) else {
            return Ok(channel);
        };
        let corrupt = || StoreError::corrupt("channel url", "not a sealed URL");
        let mut parts = sealed.splitn(3, ':');
        let (Some(version), Some(nonce), Some(ciphertext)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt());
        };
        let sealed = Sealed {
            version: version.parse().map_err(|_| corrupt())?,
            nonce: STANDARD.decode(nonce).map_err(|_| corrupt())?,
            ciphertext: STANDARD.decode(ciphertext).map_err(|_| corrupt())?,
        };
        let key = self.secret_key().map_err(|_| {
            StoreError::corrupt("channel url", "sealed, but no secret key is configured")
        })?;
        let plain = key
            .decrypt(&channel_aad(&channel.spec.name), &sealed)
            .map_err(|_| StoreError::corrupt("channel url", "cannot be decrypted with this key"))?;
        channel.spec.url = String::from_utf8(plain.to_vec())
            .map_err(|_| StoreError::corrupt("channel url", "not UTF-8"))?;
        Ok(channel)
    }

    /// Deletes a channel and its deliveries; returns whether it existed.
    pub async fn channel_delete(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::CHANNEL_DELETE)
                .bind(name)
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Enqueues deliveries due at `now`, in one transaction; a delivery
    /// already enqueued for the same channel, run and event is not added
    /// again. Returns how many were added.
    pub async fn deliveries_enqueue(
        &self,
        deliveries: &[NewDelivery],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let encoded = deliveries
            .iter()
            .map(|d| Ok((d, to_json("delivery payload", &d.payload)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let mut added = 0;
            for (delivery, payload) in &encoded {
                added += sqlx::query(sql::DELIVERY_INSERT)
                    .bind(delivery.channel_id)
                    .bind(delivery.job_id)
                    .bind(delivery.run_id)
                    .bind(delivery.event.as_str())
                    .bind(payload)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
            }
            tx.commit().await.db()?;
            Ok(added)
        })
    }

    /// Claims up to `limit` pending deliveries due at `now` for one sender:
    /// each counts an attempt and stays invisible to other claimers until
    /// `claimed_until`, by which the sender records its outcome.
    pub async fn deliveries_claim_due(
        &self,
        now: Timestamp,
        claimed_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        with_writer!(self, |pool, sql| {
            let rows = sqlx::query(sql.deliveries.deliveries_claim_due)
                .bind(ms(now))
                .bind(ms(claimed_until))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .db()?;
            let mut deliveries = rows
                .iter()
                .map(decode_delivery)
                .collect::<Result<Vec<_>, _>>()?;
            deliveries.sort_by_key(|d| d.id);
            Ok(deliveries)
        })
    }

    /// Records an attempt's outcome on a pending delivery; returns whether
    /// it was still pending.
    pub async fn delivery_record_if_pending(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (status, next, error) = match outcome {
            DeliveryOutcome::Delivered => (DeliveryStatus::Delivered, None, None),
            DeliveryOutcome::Retry {
                next_attempt_at,
                error,
            } => (
                DeliveryStatus::Pending,
                Some(ms(*next_attempt_at)),
                Some(error.as_str()),
            ),
            DeliveryOutcome::GaveUp { error } => {
                (DeliveryStatus::Failed, None, Some(error.as_str()))
            }
        };
        let updated = with_writer!(self, |pool, _sql| {
            sqlx::query(sql::DELIVERY_RECORD_IF_PENDING)
                .bind(id)
                .bind(status.as_str())
                .bind(next)
                .bind(error)
                .bind(ms(now))
                .execute(pool)
                .await
                .db()?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// The channel with this name.
    pub async fn channel_get(&self, name: &str) -> Result<Option<NotificationChannel>, StoreError> {
        Ok(self
            .channel_list()
            .await?
            .into_iter()
            .find(|channel| channel.spec.name == name))
    }

    /// Up to `limit` runs, after run `after_id` in id order, that ended
    /// `failed`, `timed_out`, `interrupted` or `missed` at or after
    /// `since` and have no delivery to any channel: alerts raised and never
    /// stored, because the process stopped between writing a run's end and
    /// storing its deliveries. Call again after the last id while it
    /// returns `limit` runs.
    pub async fn runs_ended_without_alerts(
        &self,
        since: Timestamp,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<crate::Run>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::RUNS_ENDED_WITHOUT_ALERTS)
                .bind(ms(since))
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(crate::runs::decode_run).collect()
        })
    }

    /// A channel's newest `limit` deliveries, newest first.
    pub async fn deliveries_of_channel(
        &self,
        channel_id: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::DELIVERIES_OF_CHANNEL)
                .bind(channel_id)
                .bind(i64::from(list_limit(limit)))
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter().map(decode_delivery).collect()
        })
    }

    /// One page of deliveries, newest first.
    pub async fn deliveries_list(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Delivery>, StoreError> {
        let before = match cursor {
            Some(cursor) => decode_id_cursor(DELIVERY_CURSOR, cursor)?,
            None => i64::MAX,
        };
        let limit = list_limit(limit);
        let mut items = with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::DELIVERY_LIST)
                .bind(before)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
                .db()?;
            rows.iter()
                .map(decode_delivery)
                .collect::<Result<Vec<_>, _>>()?
        });
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|d| encode_cursor(DELIVERY_CURSOR, &d.id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

fn decode_channel(row: &impl Columns) -> Result<NotificationChannel, StoreError> {
    Ok(NotificationChannel {
        id: row.i64(0)?,
        spec: ChannelSpec {
            name: row.text(1)?,
            kind: parse_enum("channel kind", &row.text(2)?)?,
            url: row.text(3)?,
            events: from_json("channel events", &row.text(4)?)?,
            enabled: row.bool(5)?,
        },
        created_at: instant(row.i64(6)?)?,
        updated_at: instant(row.i64(7)?)?,
    })
}

fn decode_delivery(row: &impl Columns) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.i64(0)?,
        channel_id: row.i64(1)?,
        job_id: row.i64(2)?,
        run_id: row.i64(3)?,
        event: parse_enum("alert event", &row.text(4)?)?,
        payload: from_json("delivery payload", &row.text(5)?)?,
        status: parse_enum("delivery status", &row.text(6)?)?,
        attempts: count(row.i64(7)?),
        next_attempt_at: opt_instant(row.opt_i64(8)?)?,
        last_error: row.opt_text(9)?,
        created_at: instant(row.i64(10)?)?,
        updated_at: instant(row.i64(11)?)?,
    })
}
