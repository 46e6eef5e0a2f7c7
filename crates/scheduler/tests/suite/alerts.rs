//! Failure alerts delivered to a real local HTTP server, retried and recorded.

use std::{sync::Arc, time::Duration};

use store::{
    AlertEvent, ChannelKind, ChannelSpec, DeliveryStatus, ManualClock, RunStatus, Trigger,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::mpsc,
};

use crate::harness::{PATIENCE, TestEnv, eventually, spec, wait_for};

scheduler_tests! {
    failures_and_recoveries_are_posted_to_channels_with_retries,
    a_run_interrupted_by_shutdown_has_its_alert_stored,
    alerts_a_stopped_process_did_not_store_are_stored_when_a_node_starts,
}

/// A local HTTP server answering each request with the next status of
/// `statuses` (then 200), reporting (path, JSON body) of each request.
async fn hook_server(
    statuses: Vec<u16>,
) -> (String, mpsc::UnboundedReceiver<(String, serde_json::Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            let (head_end, length) = loop {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    break (end + 4, length);
                }
            };
            while request.len() < head_end + length {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
            }
            let text = String::from_utf8_lossy(&request[..head_end]).to_string();
            let path = text.split_whitespace().nth(1).unwrap().to_string();
            let body = serde_json::from_slice(&request[head_end..head_end + length]).unwrap();
            let status = statuses.next().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(reply.as_bytes()).await.unwrap();
            let _ = sender.send((path, body));
        }
    });
    (base, receiver)
}

async fn next_request(
    requests: &mut mpsc::UnboundedReceiver<(String, serde_json::Value)>,
) -> (String, serde_json::Value) {
    tokio::time::timeout(PATIENCE, requests.recv())
        .await
        .expect("an alert was posted")
        .unwrap()
}

async fn failures_and_recoveries_are_posted_to_channels_with_retries(env: TestEnv) {
    // The first post fails with 500: it is retried after its backoff.
    let (base, mut requests) = hook_server(vec![500]).await;
    env.store
        .channel_upsert(&ChannelSpec {
            name: "hook".into(),
            kind: ChannelKind::Webhook,
            url: format!("{base}/hook"),
            events: vec![AlertEvent::Failed, AlertEvent::Recovered],
            enabled: true,
        })
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new("2026-05-01T08:00:00Z".parse().unwrap()));
    let job = env
        .create_job(
            spec(
                "sometimes",
                "if (context.params.fail) throw new Error('boom'); return 1",
            ),
            None,
        )
        .await;
    let mut config = env.config("node-a");
    config.alerts = Some(egress::Client::new(egress::Policy::default()).unwrap());
    let handle = env.start_with_clock(config, clock.clone()).await;
    let mut events = handle.events();

    let failing = handle
        .run_now(
            job.id,
            Some(serde_json::json!({"fail": true})),
            Trigger::Manual,
        )
        .await
        .unwrap();
    wait_for(&mut events, "the run fails", |e| {
        e.run_id == failing.id && e.status == RunStatus::Failed
    })
    .await;
    let (path, first) = next_request(&mut requests).await;
    assert_eq!(path, "/hook");
    assert_eq!(first["event"], "failed");
    assert_eq!(first["job"]["name"], "sometimes");
    assert_eq!(first["run"]["id"], failing.id);
    assert!(first["run"]["error"].as_str().unwrap().contains("boom"));
    // Answered 500: pending again, due after 10 s by the scheduler's clock.
    clock.advance(Duration::from_secs(11));
    handle.poke();
    let (_, retried) = next_request(&mut requests).await;
    assert_eq!(retried, first, "the same alert, retried");

    let healthy = handle
        .run_now(
            job.id,
            Some(serde_json::json!({"fail": false})),
            Trigger::Manual,
        )
        .await
        .unwrap();
    let (_, recovered) = next_request(&mut requests).await;
    assert_eq!(recovered["event"], "recovered");
    assert_eq!(recovered["run"]["id"], healthy.id);
    handle.shutdown(Duration::from_secs(5)).await;

    let deliveries = env.store.deliveries_list(None, 10).await.unwrap().items;
    assert_eq!(deliveries.len(), 2);
    let failed = deliveries
        .iter()
        .find(|d| d.event == AlertEvent::Failed)
        .unwrap();
    assert_eq!(failed.status, DeliveryStatus::Delivered);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 500"));
    let recovered = deliveries
        .iter()
        .find(|d| d.event == AlertEvent::Recovered)
        .unwrap();
    assert_eq!(recovered.status, DeliveryStatus::Delivered);
    assert_eq!(recovered.attempts, 1);
}

/// A run the shutdown interrupts ends while the scheduler stops: its end is
/// written by the writer's last commit, and the `interrupted` alert it
/// raises must still be stored for a deliverer (of any node) to send.
async fn a_run_interrupted_by_shutdown_has_its_alert_stored(env: TestEnv) {
    let channel = env
        .store
        .channel_upsert(&ChannelSpec {
            name: "hook".into(),
            kind: ChannelKind::Webhook,
            // Nobody listens: this test is about what is stored, not sent.
            url: "http://127.0.0.1:9/hook".into(),
            events: vec![AlertEvent::Interrupted],
            enabled: true,
        })
        .await
        .unwrap();
    let job = env
        .create_job(
            spec(
                "long",
                "await new Promise((resolve) => setTimeout(resolve, 600000)); return 1",
            ),
            None,
        )
        .await;
    let mut config = env.config("node-a");
    config.alerts = Some(egress::Client::new(egress::Policy::default()).unwrap());
    let handle = env.start(config).await;
    let mut events = handle.events();
    let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "the run starts", |e| {
        e.run_id == run.id && e.status == RunStatus::Running
    })
    .await;

    handle.shutdown(Duration::from_millis(10)).await;

    let ended = env.store.run_get(run.id).await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Interrupted);
    let deliveries = env
        .store
        .deliveries_of_channel(channel.id, 10)
        .await
        .unwrap();
    assert!(
        deliveries
            .iter()
            .any(|d| d.run_id == run.id && d.event == AlertEvent::Interrupted),
        "the interrupted run's alert is stored: {deliveries:?}"
    );
}

/// A channel listening for failures, at an address nobody answers (what is
/// stored is the question, not what is sent).
async fn unanswered_channel(env: &TestEnv, name: &str) -> store::NotificationChannel {
    env.store
        .channel_upsert(&ChannelSpec {
            name: name.into(),
            kind: ChannelKind::Webhook,
            url: "http://127.0.0.1:9/hook".into(),
            events: vec![AlertEvent::Failed],
            enabled: true,
        })
        .await
        .unwrap()
}

fn alerting(env: &TestEnv, node: &str) -> scheduler::SchedulerConfig {
    let mut config = env.config(node);
    config.alerts = Some(egress::Client::new(egress::Policy::default()).unwrap());
    config
}

/// A process that stops between committing a run's end and storing its
/// alert (kill -9, a lost machine) leaves an ended run with no delivery.
/// The next node to start stores the missing alert, once however often
/// nodes start, and only for channels unchanged since the run ended.
async fn alerts_a_stopped_process_did_not_store_are_stored_when_a_node_starts(env: TestEnv) {
    let hook = unanswered_channel(&env, "hook").await;
    let job = env
        .create_job(spec("broken", "throw new Error('no')"), None)
        .await;
    // A node without alerts leaves what such a stop leaves: the failure
    // committed, its alert never stored.
    let handle = env.start(env.config("node-a")).await;
    let mut events = handle.events();
    let run = handle.run_now(job.id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "the run fails", |e| {
        e.run_id == run.id && e.status == RunStatus::Failed
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    let stored = |channel: i64| {
        let store = env.store.clone();
        async move {
            store
                .deliveries_of_channel(channel, 10)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| d.run_id == run.id)
                .map(|d| d.event)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        stored(hook.id).await,
        [],
        "nothing stored by the node without alerts"
    );
    // Added after the run ended: the failure is not an alert it would have had.
    let late = unanswered_channel(&env, "late").await;

    let handle = env.start(alerting(&env, "node-b")).await;
    eventually("the missing alert is stored", || async {
        stored(hook.id).await == [AlertEvent::Failed]
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    // Another start looks again (its shutdown waits for the alerts it
    // stores) and adds nothing.
    let handle = env.start(alerting(&env, "node-c")).await;
    handle.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stored(hook.id).await, [AlertEvent::Failed], "stored once");
    assert_eq!(
        stored(late.id).await,
        [],
        "not for a channel changed since the run ended"
    );
}
