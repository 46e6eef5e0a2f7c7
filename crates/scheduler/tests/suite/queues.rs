//! `@forge/events` queues end to end inside one scheduler: scripts push
//! through the store-backed [`StoreQueue`], event runs consume, return
//! `InvocationError` to be retried, and read stats or cancel from other
//! runs.

use std::{sync::Arc, time::Duration};

use runtime::{Services, Sites};
use scheduler::{RunEnvironment, SchedulerConfig, ScriptStorage, StoreQueue};
use serde_json::json;
use store::{JobSpec, Run, RunFilter, RunStatus, Store, Trigger};

use crate::harness::{TestEnv, eventually, spec, wait_for};

scheduler_tests! {
    pushed_events_run_and_invocation_errors_are_retried_with_their_context,
    stats_and_cancel_work_from_another_run,
    pushing_to_a_key_no_job_consumes_fails_the_run,
    delayed_events_wait_for_their_delay,
}

/// Storage and queues in the test's database, as `clockwork serve` gives.
struct StoreEnvironment {
    kv: Arc<ScriptStorage>,
    queue: Arc<StoreQueue>,
}

impl RunEnvironment for StoreEnvironment {
    fn prepare(&self, _job: &JobSpec, _run: &Run) -> (Sites, Services) {
        let services = Services {
            kv: self.kv.clone(),
            entities: Arc::default(),
            queue: self.queue.clone(),
            http: None,
        };
        (Sites::default(), services)
    }
}

fn queue_config(env: &TestEnv, store: &Store) -> SchedulerConfig {
    let mut config = env.config("node-a");
    config.environment = Arc::new(StoreEnvironment {
        kv: Arc::new(ScriptStorage::new(store.clone())),
        queue: Arc::new(StoreQueue::new(
            store.clone(),
            Arc::new(store::SystemClock),
            config.runs_queued.clone(),
        )),
    });
    config
}

fn consumer(name: &str, queue: &str, script: &str) -> JobSpec {
    JobSpec {
        queue: Some(queue.into()),
        ..spec(name, script)
    }
}

async fn runs_of(store: &Store, job_id: i64) -> Vec<Run> {
    store
        .runs_list(&RunFilter {
            job_id: Some(job_id),
            limit: 500,
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .items
}

async fn run_to_end(handle: &scheduler::SchedulerHandle, store: &Store, job_id: i64) -> Run {
    let mut events = handle.events();
    let run = handle.run_now(job_id, None, Trigger::Manual).await.unwrap();
    wait_for(&mut events, "the run ends", |e| {
        e.run_id == run.id && e.status.is_terminal()
    })
    .await;
    store.run_get(run.id).await.unwrap().unwrap()
}

async fn pushed_events_run_and_invocation_errors_are_retried_with_their_context(env: TestEnv) {
    let store = env.store.clone();
    let consumer = env
        .create_job(
            consumer(
                "consumer",
                "work",
                "const seen = (await kvs.get('seen-' + event.eventId)) ?? 0;\n\
                 await kvs.set('seen-' + event.eventId, seen + 1);\n\
                 if (event.body.i % 2 === 0 && !event.retryContext) {\n\
                   return new InvocationError({ retryAfter: 0, retryReason: 'FUNCTION_UPSTREAM_RATE_LIMITED', retryData: { i: event.body.i } });\n\
                 }\n\
                 return { i: event.body.i, retry: event.retryContext ?? null };",
            ),
            None,
        )
        .await;
    let producer = env
        .create_job(
            spec(
                "producer",
                "const q = new Queue({ key: 'work' });\n\
                 const events = Array.from({ length: 20 }, (_, i) => ({ body: { i }, concurrency: { key: 'work', limit: 3 } }));\n\
                 return (await q.push(events)).jobId;",
            ),
            None,
        )
        .await;
    let handle = env.start(queue_config(&env, &store)).await;
    let produced = run_to_end(&handle, &store, producer.id).await;
    assert_eq!(
        produced.status,
        RunStatus::Succeeded,
        "{:?}",
        produced.error
    );
    let queue_job_id: i64 = produced.result.unwrap().as_str().unwrap().parse().unwrap();
    eventually("every event is consumed", || async {
        let job = store
            .queue_job_get("work", queue_job_id)
            .await
            .unwrap()
            .unwrap();
        job.counts.succeeded == 20
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    let job = store
        .queue_job_get("work", queue_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.counts.in_progress, job.counts.failed), (0, 0));
    let runs = runs_of(&store, consumer.id).await;
    // 20 first attempts, and one retry for each of the 10 even events.
    assert_eq!(runs.len(), 30);
    let retries: Vec<&Run> = runs
        .iter()
        .filter(|r| r.trigger == Trigger::Retry)
        .collect();
    assert_eq!(retries.len(), 10);
    for retry in retries {
        assert_eq!(retry.status, RunStatus::Succeeded);
        assert_eq!(retry.attempt, 2);
        let result = retry.result.as_ref().unwrap();
        assert_eq!(
            result["retry"],
            json!({"retryCount": 1, "retryReason": "FUNCTION_UPSTREAM_RATE_LIMITED", "retryData": {"i": result["i"]}})
        );
    }
    let failed_first: Vec<&Run> = runs
        .iter()
        .filter(|r| r.trigger == Trigger::Event && r.status == RunStatus::Failed)
        .collect();
    assert_eq!(failed_first.len(), 10);
    // Each event ran exactly as often as its runs say.
    for run in runs.iter().filter(|r| r.trigger == Trigger::Event) {
        let event = run.event.as_ref().unwrap();
        let i = event["body"]["i"].as_i64().unwrap();
        let seen = store
            .kv_get(&format!("seen-{}", event["eventId"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(
            seen,
            Some(json!(if i % 2 == 0 { 2 } else { 1 })),
            "event {i}"
        );
    }
}

async fn stats_and_cancel_work_from_another_run(env: TestEnv) {
    let store = env.store.clone();
    env.create_job(consumer("slow-consumer", "later", "return 1"), None)
        .await;
    let producer = env
        .create_job(
            spec(
                "producer",
                "const q = new Queue({ key: 'later' });\n\
                 const { jobId } = await q.push([{ body: { a: 1 }, delayInSeconds: 900 }, { body: { a: 2 }, delayInSeconds: 900 }]);\n\
                 await kvs.set('job', jobId);\n\
                 return await q.getJob(jobId).getStats();",
            ),
            None,
        )
        .await;
    let canceller = env
        .create_job(
            spec(
                "canceller",
                "const job = new Queue({ key: 'later' }).getJob(await kvs.get('job'));\n\
                 await job.cancel();\n\
                 return await job.getStats();",
            ),
            None,
        )
        .await;
    let handle = env.start(queue_config(&env, &store)).await;
    let produced = run_to_end(&handle, &store, producer.id).await;
    assert_eq!(
        produced.result,
        Some(json!({"success": 0, "inProgress": 2, "failed": 0}))
    );
    let cancelled = run_to_end(&handle, &store, canceller.id).await;
    assert_eq!(
        cancelled.result,
        Some(json!({"success": 0, "inProgress": 0, "failed": 0})),
        "{:?}",
        cancelled.error
    );
    handle.shutdown(Duration::from_secs(5)).await;
    let summary = store.queue_summary("later").await.unwrap().unwrap();
    assert_eq!(summary.counts.cancelled, 2);
}

async fn pushing_to_a_key_no_job_consumes_fails_the_run(env: TestEnv) {
    let store = env.store.clone();
    let producer = env
        .create_job(
            spec(
                "producer",
                "await new Queue({ key: 'nobody-listens' }).push({ body: {} });",
            ),
            None,
        )
        .await;
    let handle = env.start(queue_config(&env, &store)).await;
    let run = run_to_end(&handle, &store, producer.id).await;
    handle.shutdown(Duration::from_secs(5)).await;
    assert_eq!(run.status, RunStatus::Failed);
    let message = run.error.unwrap().message;
    assert!(
        message.contains("no job consumes queue \"nobody-listens\""),
        "{message}"
    );
    assert!(
        store
            .queue_summary("nobody-listens")
            .await
            .unwrap()
            .is_none()
    );
}

/// An event pushed with `delayInSeconds` starts no earlier than its delay.
/// How soon after it starts is a figure (`cargo bench -p scheduler --bench
/// scheduler -- events`), not something a loaded machine can promise here.
async fn delayed_events_wait_for_their_delay(env: TestEnv) {
    let store = env.store.clone();
    let consumer = env
        .create_job(consumer("consumer", "delayed", "return 1"), None)
        .await;
    let producer = env
        .create_job(
            spec(
                "producer",
                "return (await new Queue({ key: 'delayed' }).push({ body: {}, delayInSeconds: 1 })).jobId;",
            ),
            None,
        )
        .await;
    let handle = env.start(queue_config(&env, &store)).await;
    let mut events = handle.events();
    run_to_end(&handle, &store, producer.id).await;
    let started = wait_for(&mut events, "the event starts", |e| {
        e.job_id == consumer.id && e.status == RunStatus::Running
    })
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    let run = store.run_get(started.run_id).await.unwrap().unwrap();
    let started_at = run.started_at.unwrap();
    assert!(
        run.not_before.duration_since(run.queued_at) >= jiff::SignedDuration::from_millis(999)
            && started_at >= run.not_before,
        "queued {} not before {} started {started_at}",
        run.queued_at,
        run.not_before,
    );
}
