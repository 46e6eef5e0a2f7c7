//! `@forge/events` from scripts, over the in-memory queue (FORGE-API §4).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{failure, result, run_spec};
use runtime::{EventState, MemoryQueue, RetryRequest, RunSpec, RunStatus};
use serde_json::json;

fn spec_with(queue: &Arc<MemoryQueue>, script: &str) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.services.queue = queue.clone();
    spec
}

#[tokio::test]
async fn queue_keys_are_validated() {
    for (options, shown) in [
        ("{ key: 'a b' }", "a b"),
        ("{ key: '' }", ""),
        ("{}", "undefined"),
        ("undefined", "undefined"),
        ("{ key: 'a/b' }", "a/b"),
    ] {
        assert_eq!(
            failure(&format!("new Queue({options})")).await,
            format!("TypeError: Invalid queue key \"{shown}\": it must match ^[a-zA-Z0-9-_]+$"),
            "{options}"
        );
    }
    assert_eq!(
        result("return new Queue({ key: 'imports-2_b' }).key").await,
        json!("imports-2_b")
    );
}

#[tokio::test]
async fn push_forms() {
    let queue = Arc::new(MemoryQueue::new());
    let script = "import { Queue } from '@forge/events';\n\
                  const q = new Queue({ key: 'imports' });\n\
                  const single = await q.push({ body: { n: 1 }, delayInSeconds: 60, concurrency: { key: 'c', limit: 1 } });\n\
                  const many = await q.push([{ body: { n: 2 } }, { body: { n: 3 }, delayInSeconds: 900 }]);\n\
                  const legacy = await q.push({ old: true }, { delayInSeconds: 5 });\n\
                  const legacyList = await q.push(['a', 'b']);\n\
                  return [single.jobId, many.jobId, legacy.jobId, legacyList.jobId]";
    let outcome = run_spec(spec_with(&queue, script)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let ids: Vec<String> = serde_json::from_value(outcome.result).unwrap();
    let (name, single) = queue.job(&ids[0]).unwrap();
    assert_eq!(name, "imports");
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].0.body, json!({"n": 1}));
    assert_eq!(single[0].0.delay, Duration::from_secs(60));
    assert_eq!(
        single[0].0.concurrency,
        Some(json!({"key": "c", "limit": 1}))
    );
    assert_eq!(single[0].1, EventState::Pending);
    let many = queue.job(&ids[1]).unwrap().1;
    assert_eq!(
        many.iter().map(|e| e.0.body.clone()).collect::<Vec<_>>(),
        [json!({"n": 2}), json!({"n": 3})]
    );
    assert_eq!(many[1].0.delay, Duration::from_secs(900));
    let legacy = queue.job(&ids[2]).unwrap().1;
    assert_eq!(
        (legacy[0].0.body.clone(), legacy[0].0.delay),
        (json!({"old": true}), Duration::from_secs(5))
    );
    let legacy_list = queue.job(&ids[3]).unwrap().1;
    assert_eq!(
        legacy_list
            .iter()
            .map(|e| e.0.body.clone())
            .collect::<Vec<_>>(),
        [json!("a"), json!("b")]
    );
}

#[tokio::test]
async fn push_limits() {
    let q = "const q = new Queue({ key: 'q' });\n";
    assert_eq!(
        failure(&format!(
            "{q}await q.push(Array.from({{ length: 51 }}, (_, i) => ({{ body: {{ i }} }})))"
        ))
        .await,
        "Error: push accepts 1 to 50 events, not 51"
    );
    assert_eq!(
        failure(&format!("{q}await q.push([])")).await,
        "Error: push accepts 1 to 50 events, not 0"
    );
    assert!(
        failure(&format!("{q}await q.push({{ body: {{ s: 'x'.repeat(200 * 1024) }} }})"))
            .await
            .starts_with("Error: push payload is 204808 bytes as JSON; the limit is 204800 bytes (200 KB) per push")
    );
    assert_eq!(
        failure(&format!(
            "{q}await q.push({{ body: {{}}, delayInSeconds: 901 }})"
        ))
        .await,
        "Error: Invalid delayInSeconds 901: it must be a number from 0 to 900"
    );
    assert_eq!(
        failure(&format!("{q}await q.push({{ body: 'text' }})")).await,
        "TypeError: an event body must be an object"
    );
    assert_eq!(
        failure(&format!(
            "{q}await q.push(undefined, {{ delayInSeconds: 1 }})"
        ))
        .await,
        "TypeError: an event body must be JSON, not undefined"
    );
    assert_eq!(result(&format!("{q}const r = await q.push(Array.from({{ length: 50 }}, (_, i) => ({{ body: {{ i }} }})));\nreturn typeof r.jobId")).await, json!("string"));
}

#[tokio::test]
async fn job_stats_and_cancel() {
    let queue = Arc::new(MemoryQueue::new());
    let push = "const q = new Queue({ key: 'work' });\nconst { jobId } = await q.push([{ body: { a: 1 } }, { body: { a: 2 } }, { body: { a: 3 } }]);\nreturn jobId";
    let job_id = run_spec(spec_with(&queue, push))
        .await
        .result
        .as_str()
        .unwrap()
        .to_owned();
    queue.finish_event(&job_id, 0, true);
    queue.finish_event(&job_id, 1, false);
    let stats = format!(
        "const job = new Queue({{ key: 'work' }}).getJob('{job_id}');\n\
         const before = await job.getStats();\n\
         await job.cancel();\n\
         return {{ before, after: await job.getStats() }}"
    );
    assert_eq!(
        run_spec(spec_with(&queue, &stats)).await.result,
        json!({
            "before": {"success": 1, "inProgress": 1, "failed": 1},
            "after": {"success": 1, "inProgress": 0, "failed": 1},
        })
    );
    assert_eq!(queue.job(&job_id).unwrap().1[2].1, EventState::Cancelled);
    let by_result = "const q = new Queue({ key: 'work' });\nconst pushed = await q.push({ body: {} });\nreturn await q.getJob(pushed).getStats()";
    assert_eq!(
        run_spec(spec_with(&queue, by_result)).await.result,
        json!({"success": 0, "inProgress": 1, "failed": 0})
    );
    assert_eq!(
        failure("await new Queue({ key: 'work' }).getJob('nope').getStats()").await,
        "Error: no job \"nope\" on queue \"work\""
    );
}

#[tokio::test]
async fn returning_an_invocation_error_asks_for_a_retry() {
    let script = "import { InvocationError, InvocationErrorCode } from '@forge/events';\n\
                  export async function handler(event) {\n\
                    return new InvocationError({ retryAfter: 30, retryReason: InvocationErrorCode.FUNCTION_UPSTREAM_RATE_LIMITED, retryData: { page: event.body.page + 1 } });\n\
                  }";
    let mut spec = RunSpec::new(script);
    spec.event = Some(json!({"body": {"page": 1}, "jobId": "j", "eventId": "e", "queueName": "q"}));
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.retry,
        Some(RetryRequest {
            retry_after: Some(std::time::Duration::from_secs(30)),
            retry_reason: Some("FUNCTION_UPSTREAM_RATE_LIMITED".into()),
            retry_data: Some(json!({"page": 2})),
        })
    );
    assert_eq!(
        outcome.error.unwrap().message,
        "the consumer returned an InvocationError asking to be retried (FUNCTION_UPSTREAM_RATE_LIMITED) after 30 s"
    );
    let outcome = common::run("return new InvocationError()").await;
    assert_eq!(
        outcome.retry,
        Some(RetryRequest {
            retry_after: None,
            retry_reason: None,
            retry_data: None
        })
    );
    assert!(
        common::run("return { retryOptions: {} }")
            .await
            .retry
            .is_none()
    );
}
