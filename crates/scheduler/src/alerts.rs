//! Failure alerts: when a run ends `failed`, `timed_out` or `interrupted`,
//! when occurrences are `missed`, and when a job recovers (a success after
//! one of those), every enabled channel that wants the event gets a
//! delivery: a generic JSON webhook body or a Slack message. Deliveries are
//! stored first (once per channel, run and event, whichever node sees it)
//! and sent by any node's deliverer, retried with backoff, each attempt's
//! outcome recorded.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use store::{
    AlertEvent, ChannelKind, Delivery, DeliveryOutcome, JobRef, NewDelivery, NotificationChannel,
    Run, RunStatus,
};

use tokio::sync::{mpsc, oneshot};

use crate::{channel_tests::post_json, core::Core};

/// Attempts per delivery before giving up.
const MAX_ATTEMPTS: u64 = 5;
/// The wait after the first failed attempt; doubled after each.
const FIRST_RETRY: Duration = Duration::from_secs(10);
/// How long a claimed delivery stays invisible to other nodes' deliverers.
const CLAIM_WINDOW: Duration = Duration::from_secs(60);
/// How often the deliverer looks for due deliveries without being woken.
const POLL: Duration = Duration::from_secs(5);
/// Deliveries claimed at once.
const CLAIM_BATCH: u32 = 20;

/// The most ended runs whose alerts are enqueued together.
const ENQUEUE_BATCH: usize = 1_024;
/// How far back a starting node looks for ended runs whose alerts were
/// raised and never stored ([`catch_up`]).
const CATCH_UP: Duration = Duration::from_secs(60 * 60);

/// A run that reached a status that may raise alerts.
pub(crate) type Raised = (Run, RunStatus);

/// The event a run's new status raises, if any; a success raises
/// `recovered` only after a failure, which needs the previous outcome —
/// read only when `wanted` (a channel listens for `recovered`).
async fn event_of(core: &Core, run: &Run, status: RunStatus, wanted: bool) -> Option<AlertEvent> {
    match status {
        RunStatus::Failed => Some(AlertEvent::Failed),
        RunStatus::TimedOut => Some(AlertEvent::TimedOut),
        RunStatus::Interrupted => Some(AlertEvent::Interrupted),
        RunStatus::Missed => Some(AlertEvent::Missed),
        RunStatus::Succeeded if wanted => {
            let previous = core
                .store
                .run_previous_outcome(run.job_id, run.id)
                .await
                .ok()
                .flatten()?;
            (previous != RunStatus::Succeeded).then_some(AlertEvent::Recovered)
        }
        _ => None,
    }
}

/// Hands the alerts `run` reaching `status` raises to the enqueuer
/// ([`enqueuer`]; alerting never delays a run's bookkeeping).
pub(crate) fn raise(core: &Arc<Core>, run: &Run, status: RunStatus) {
    if core.config.alerts.is_none()
        || !matches!(
            status,
            RunStatus::Failed
                | RunStatus::TimedOut
                | RunStatus::Interrupted
                | RunStatus::Missed
                | RunStatus::Succeeded
        )
    {
        return;
    }
    // No receiver: the scheduler is stopping.
    let _ = core.alerts_raised.send((run.clone(), status));
}

/// Enqueues the alerts of the runs [`raise`] hands over, all that ended
/// meanwhile at once: one read of the channels per batch, and a success's
/// previous outcome read only when a channel wants `recovered`. (A task and
/// two reads per ended run cost more database time than the runs' own
/// writes under a queue's load: 5,000 reads of the previous outcome for
/// 5,000 events, almost always for no channel.)
///
/// When `stop` fires (the scheduler is stopping, after the writer's last
/// commit), it enqueues everything raised until then and returns: the runs
/// a shutdown interrupts end in that last commit, and their alerts are sent
/// by whichever node's deliverer runs next.
pub(crate) async fn enqueuer(
    core: Arc<Core>,
    mut raised: mpsc::UnboundedReceiver<Raised>,
    mut stop: oneshot::Receiver<()>,
) {
    if let Err(error) = catch_up(&core).await {
        tracing::warn!(%error, "cannot look for alerts a stopped process did not store");
    }
    let mut batch = Vec::with_capacity(ENQUEUE_BATCH);
    loop {
        tokio::select! {
            received = raised.recv_many(&mut batch, ENQUEUE_BATCH) => {
                if received == 0 {
                    return;
                }
                enqueue_batch(&core, &mut batch).await;
            }
            _ = &mut stop => break,
        }
    }
    raised.close();
    while raised.recv_many(&mut batch, ENQUEUE_BATCH).await > 0 {
        enqueue_batch(&core, &mut batch).await;
    }
}

async fn enqueue_batch(core: &Core, batch: &mut Vec<Raised>) {
    let enqueued = match enabled_channels(core).await {
        Ok(channels) => enqueue(core, &channels, batch, Raising::Live).await,
        Err(error) => Err(error),
    };
    if let Err(error) = enqueued {
        tracing::warn!(%error, runs = batch.len(), "cannot enqueue failure alerts");
    }
    batch.clear();
}

/// The channels that receive alerts now.
async fn enabled_channels(core: &Core) -> Result<Vec<NotificationChannel>, store::StoreError> {
    Ok(core
        .store
        .channel_list()
        .await?
        .into_iter()
        .filter(|c| c.spec.enabled)
        .collect())
}

/// Stores the alerts of runs that ended in the last hour with an alert
/// raised and no delivery stored: a process stopped (killed, or its machine
/// lost) between committing a run's end and storing its alert. The state
/// that leaves is told apart by the missing delivery rows, so no marker is
/// written in the run's end commit. Only channels unchanged since a run
/// ended get its alert (it is the alert they would have had), and each
/// delivery is stored once whichever node stores it, so a run also raised
/// live meanwhile is not alerted twice. A success's `recovered` is not
/// caught up: telling it needs each success's previous outcome.
async fn catch_up(core: &Core) -> Result<(), store::StoreError> {
    if core.config.alerts.is_none() {
        return Ok(());
    }
    let channels = enabled_channels(core).await?;
    if channels.is_empty() {
        // Nothing could be owed: no scan of the runs.
        return Ok(());
    }
    let since = core.now() - CATCH_UP;
    let mut after = 0;
    loop {
        let runs = core
            .store
            .runs_ended_without_alerts(since, after, ENQUEUE_BATCH as u32)
            .await?;
        let Some(last) = runs.last() else {
            return Ok(());
        };
        after = last.id;
        let full = runs.len() == ENQUEUE_BATCH;
        let raised: Vec<Raised> = runs
            .into_iter()
            .map(|run| {
                let status = run.status;
                (run, status)
            })
            .collect();
        let stored = enqueue(core, &channels, &raised, Raising::CaughtUp).await?;
        if stored > 0 {
            tracing::info!(
                deliveries = stored,
                "stored alerts a stopped process did not store"
            );
        }
        if !full {
            return Ok(());
        }
    }
}

/// Whether alerts are enqueued as their runs end, or caught up later.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Raising {
    Live,
    /// By [`catch_up`]: only channels unchanged since the run ended.
    CaughtUp,
}

/// Stores the deliveries the `raised` runs owe to `channels` (the enabled
/// ones); returns how many were new.
async fn enqueue(
    core: &Core,
    channels: &[NotificationChannel],
    raised: &[Raised],
    raising: Raising,
) -> Result<u64, store::StoreError> {
    if channels.is_empty() {
        return Ok(0);
    }
    let recovered_wanted = channels
        .iter()
        .any(|c| c.spec.events.contains(&AlertEvent::Recovered));
    let mut job_names: HashMap<i64, String> = HashMap::new();
    let mut deliveries: Vec<NewDelivery> = Vec::new();
    for (run, status) in raised {
        let Some(event) = event_of(core, run, *status, recovered_wanted).await else {
            continue;
        };
        let wanting = channels
            .iter()
            .filter(|c| c.spec.events.contains(&event))
            .filter(|c| match raising {
                Raising::Live => true,
                Raising::CaughtUp => run.finished_at.is_some_and(|end| c.updated_at <= end),
            })
            .collect::<Vec<_>>();
        if wanting.is_empty() {
            continue;
        }
        let job_name = match job_names.get(&run.job_id) {
            Some(name) => name.clone(),
            None => {
                let name = core
                    .store
                    .job_get(&JobRef::Id(run.job_id))
                    .await?
                    .map_or_else(|| format!("job {}", run.job_id), |job| job.spec.name);
                job_names.insert(run.job_id, name.clone());
                name
            }
        };
        deliveries.extend(wanting.iter().map(|channel| NewDelivery {
            channel_id: channel.id,
            job_id: run.job_id,
            run_id: run.id,
            event,
            payload: payload(
                channel.spec.kind,
                event,
                &job_name,
                run,
                *status,
                &core.config.node_id,
            ),
        }));
    }
    if deliveries.is_empty() {
        return Ok(0);
    }
    let stored = core
        .store
        .deliveries_enqueue(&deliveries, core.now())
        .await?;
    core.wake_deliverer.notify_one();
    Ok(stored)
}

/// The body posted to a channel.
fn payload(
    kind: ChannelKind,
    event: AlertEvent,
    job: &str,
    run: &Run,
    status: RunStatus,
    node: &str,
) -> Value {
    let error = run.error.as_ref().map(|e| e.message.as_str());
    match kind {
        ChannelKind::Webhook => json!({
            "event": event.as_str(),
            "job": {"id": run.job_id, "name": job},
            "run": {
                "id": run.id,
                "status": status.as_str(),
                "trigger": run.trigger.as_str(),
                "attempt": run.attempt,
                "scheduled_for": run.scheduled_for,
                "missed_count": run.missed_count,
                "error": error,
            },
            "node": node,
        }),
        ChannelKind::Slack => {
            let what = match event {
                AlertEvent::Failed => "failed".to_string(),
                AlertEvent::TimedOut => "timed out".to_string(),
                AlertEvent::Interrupted => "was interrupted".to_string(),
                AlertEvent::Missed => {
                    format!("missed {} occurrence(s)", run.missed_count.unwrap_or(1))
                }
                AlertEvent::Recovered => "recovered".to_string(),
            };
            let mut text = format!(
                ":rotating_light: Clockwork job *{job}* {what} (run {}, attempt {})",
                run.id, run.attempt
            );
            if event == AlertEvent::Recovered {
                text = format!(
                    ":white_check_mark: Clockwork job *{job}* recovered (run {})",
                    run.id
                );
            }
            if let Some(error) = error {
                text.push_str(&format!("\n> {error}"));
            }
            json!({ "text": text })
        }
    }
}

/// Sends due deliveries, from any node, until the scheduler stops.
pub(crate) async fn deliverer(core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(client) = core.config.alerts.clone() else {
        return;
    };
    loop {
        deliver_due(&core, &client).await;
        tokio::select! {
            _ = core.wake_deliverer.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver_due(core: &Core, client: &egress::Client) {
    loop {
        let now = core.now();
        let due = match core
            .store
            .deliveries_claim_due(now, now + CLAIM_WINDOW, CLAIM_BATCH)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot claim alert deliveries");
                return;
            }
        };
        if due.is_empty() {
            return;
        }
        let channels: HashMap<i64, NotificationChannel> = match core.store.channel_list().await {
            Ok(channels) => channels.into_iter().map(|c| (c.id, c)).collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read notification channels");
                return;
            }
        };
        for delivery in due {
            let outcome = match channels.get(&delivery.channel_id) {
                Some(channel) => attempt(client, channel, &delivery, core.now()).await,
                None => DeliveryOutcome::GaveUp {
                    error: "the channel was deleted".into(),
                },
            };
            if let Err(error) = core
                .store
                .delivery_record_if_pending(delivery.id, &outcome, core.now())
                .await
            {
                tracing::warn!(%error, delivery = delivery.id, "cannot record an alert delivery");
            }
        }
    }
}

/// One attempt; `delivery.attempts` already counts it.
async fn attempt(
    client: &egress::Client,
    channel: &NotificationChannel,
    delivery: &Delivery,
    now: jiff::Timestamp,
) -> DeliveryOutcome {
    let sent = post_json(client, &channel.spec.url, delivery.payload.to_string()).await;
    let error = match sent {
        Ok(status) if (200..300).contains(&status) => return DeliveryOutcome::Delivered,
        Ok(status) => format!("HTTP {status}"),
        // A Slack or webhook URL's path is its secret: `post_json` never shows it.
        Err(error) => error,
    };
    if delivery.attempts >= MAX_ATTEMPTS {
        return DeliveryOutcome::GaveUp { error };
    }
    let exponent = u32::try_from(delivery.attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    DeliveryOutcome::Retry {
        next_attempt_at: now + FIRST_RETRY.saturating_mul(2u32.saturating_pow(exponent)),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run {
            id: 9,
            job_id: 4,
            job_version: 1,
            trigger: store::Trigger::Schedule,
            status: RunStatus::Failed,
            attempt: 2,
            scheduled_for: None,
            queued_at: jiff::Timestamp::UNIX_EPOCH,
            not_before: jiff::Timestamp::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            node: None,
            lease_expires_at: None,
            cancel_requested: false,
            missed_count: None,
            parent_run_id: None,
            params: None,
            state: None,
            event: None,
            result: None,
            error: Some(store::RunError::message("TypeError: boom")),
            http_calls: Vec::new(),
            log_lines: 0,
            chain_id: None,
            lease_token: 0,
        }
    }

    #[tokio::test]
    async fn a_failed_delivery_never_records_the_channels_secret_path() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{closed}/services/T1/B2/s3cr3t-path");
        let at = jiff::Timestamp::UNIX_EPOCH;
        let channel = NotificationChannel {
            id: 1,
            spec: store::ChannelSpec {
                name: "ops".into(),
                kind: ChannelKind::Slack,
                url: url.clone(),
                events: vec![store::AlertEvent::Failed],
                enabled: true,
            },
            created_at: at,
            updated_at: at,
        };
        let delivery = Delivery {
            id: 1,
            channel_id: 1,
            job_id: 4,
            run_id: 9,
            event: store::AlertEvent::Failed,
            payload: serde_json::json!({}),
            status: store::DeliveryStatus::Pending,
            attempts: 1,
            next_attempt_at: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        };
        let client = egress::Client::new(egress::Policy::default()).unwrap();
        let outcome = attempt(&client, &channel, &delivery, at).await;
        let DeliveryOutcome::Retry { error, .. } = outcome else {
            panic!("expected a retry, got {outcome:?}");
        };
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(!error.contains("/services"), "{error}");
        assert!(
            error.contains(&format!("http://127.0.0.1:{closed}/…")),
            "{error}"
        );
    }

    #[test]
    fn webhook_bodies_carry_the_job_run_and_error() {
        let body = payload(
            ChannelKind::Webhook,
            AlertEvent::Failed,
            "sync",
            &run(),
            RunStatus::Failed,
            "n1",
        );
        assert_eq!(body["event"], "failed");
        assert_eq!(body["job"]["name"], "sync");
        assert_eq!(body["run"]["id"], 9);
        assert_eq!(body["run"]["attempt"], 2);
        assert_eq!(body["run"]["error"], "TypeError: boom");
        assert_eq!(body["node"], "n1");
    }

    #[test]
    fn slack_messages_are_one_readable_line_and_the_error() {
        let body = payload(
            ChannelKind::Slack,
            AlertEvent::Failed,
            "sync",
            &run(),
            RunStatus::Failed,
            "n1",
        );
        let text = body["text"].as_str().unwrap();
        assert!(text.contains("*sync* failed (run 9, attempt 2)"), "{text}");
        assert!(text.ends_with("> TypeError: boom"), "{text}");
        let recovered = payload(
            ChannelKind::Slack,
            AlertEvent::Recovered,
            "sync",
            &run(),
            RunStatus::Succeeded,
            "n1",
        );
        assert!(recovered["text"].as_str().unwrap().contains("recovered"));
    }
}
