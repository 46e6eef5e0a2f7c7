//! Console, timers, `event` and `context`, chains, and the sandbox's globals.

mod common;

use common::{executor, failure, messages, result, run, run_spec};
use runtime::{JobInfo, LogLevel, RunInfo, RunSpec, RunStatus};
use serde_json::json;

#[tokio::test]
async fn console_levels_and_formatting() {
    let outcome = run("console.log('a', 1, true, null, undefined);\nconsole.info({ x: [1, 2] });\n\
                       console.warn('w');\nconsole.error(new Error('bad'));\nconsole.debug('d');\nreturn 0")
    .await;
    let levels: Vec<LogLevel> = outcome.logs.iter().map(|line| line.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Info,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Debug
        ]
    );
    let lines = messages(&outcome);
    assert_eq!(lines[0], "a 1 true null undefined");
    assert_eq!(lines[1], "{ x: [ 1, 2 ] }");
    assert!(lines[3].starts_with("Error: bad\n"), "{}", lines[3]);
    assert!(outcome.logs.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
}

#[tokio::test]
async fn live_log_stream_follows_the_run() {
    let executor = executor();
    let handle = executor.start(RunSpec::new(
        "for (let i = 0; i < 3; i++) {\n  console.log('tick ' + i);\n  await new Promise(r => setTimeout(r, 5));\n}\nreturn 'done'",
    ));
    let mut stream = handle.logs();
    let mut seen = Vec::new();
    while let Some(line) = stream.next().await {
        seen.push(line.message);
    }
    assert_eq!(seen, ["tick 0", "tick 1", "tick 2"]);
    let outcome = handle.outcome().await;
    assert_eq!(outcome.result, json!("done"));
    assert_eq!(messages(&outcome), seen);
}

#[tokio::test]
async fn timers_fire_in_order() {
    let script = "const order = [];\n\
                  setTimeout(() => order.push('b'), 20);\n\
                  setTimeout(() => order.push('a1'), 0);\n\
                  setTimeout(() => order.push('a2'), 0);\n\
                  setTimeout((x, y) => order.push(x + y), 10, 'ar', 'gs');\n\
                  await new Promise(r => setTimeout(r, 40));\n\
                  return order";
    assert_eq!(result(script).await, json!(["a1", "a2", "args", "b"]));
}

#[tokio::test]
async fn timers_can_be_cleared() {
    let script = "let fired = false;\n\
                  const id = setTimeout(() => { fired = true }, 5);\n\
                  clearTimeout(id);\n\
                  clearTimeout(undefined); clearTimeout(12345);\n\
                  let ticks = 0;\n\
                  await new Promise(resolve => {\n\
                    const every = setInterval(() => { if (++ticks === 3) { clearInterval(every); resolve(); } }, 2);\n\
                  });\n\
                  await new Promise(r => setTimeout(r, 20));\n\
                  return { fired, ticks, distinct: setTimeout(() => {}) !== setTimeout(() => {}) }";
    assert_eq!(
        result(script).await,
        json!({"fired": false, "ticks": 3, "distinct": true})
    );
}

#[tokio::test]
async fn earlier_timers_set_later_still_fire_first() {
    let script = "const order = [];\n\
                  setTimeout(() => order.push('late'), 200);\n\
                  await new Promise(r => setTimeout(r, 1));\n\
                  await new Promise(r => setTimeout(() => { order.push('early'); r(); }, 5));\n\
                  return order";
    assert_eq!(result(script).await, json!(["early"]));
}

#[tokio::test]
async fn timer_callbacks_must_be_functions() {
    assert_eq!(
        failure("setTimeout('code', 1)").await,
        "TypeError: The \"callback\" argument must be a function"
    );
}

#[tokio::test]
async fn timers_pending_at_the_end_never_fire() {
    let outcome = run("setTimeout(() => console.log('too late'), 1);\nreturn 'ended'").await;
    assert_eq!(outcome.result, json!("ended"));
    assert!(outcome.logs.is_empty(), "{:?}", outcome.logs);
}

#[tokio::test]
async fn context_carries_job_run_params_and_state() {
    let mut spec = RunSpec::new(
        "return { job: context.job, run: context.run, params: context.params, state: context.state,\n\
         remaining: context.remainingTimeMs(), principal: context.principal }",
    );
    spec.job = JobInfo {
        id: "42".into(),
        name: "sync".into(),
        version: 5,
    };
    spec.run = RunInfo {
        id: "r-9".into(),
        attempt: 2,
        trigger: "schedule".into(),
        scheduled_for: Some("2026-03-01T02:30:00Z".parse().unwrap()),
    };
    spec.params = json!({"project": "ABC", "limit": 10});
    spec.state = Some(json!({"cursor": 100}));
    spec.limits.timeout = std::time::Duration::from_secs(60);
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let result = outcome.result;
    assert_eq!(
        result["job"],
        json!({"id": "42", "name": "sync", "version": 5})
    );
    assert_eq!(
        result["run"],
        json!({"id": "r-9", "attempt": 2, "trigger": "schedule", "scheduledFor": "2026-03-01T02:30:00Z"})
    );
    assert_eq!(result["params"], json!({"project": "ABC", "limit": 10}));
    assert_eq!(result["state"], json!({"cursor": 100}));
    let remaining = result["remaining"].as_f64().unwrap();
    assert!(remaining > 50_000.0 && remaining <= 60_000.0, "{remaining}");
    assert!(result.get("principal").is_none());
    assert_eq!(
        common::result("return [context.state === undefined, context.run.scheduledFor]").await,
        json!([true, null])
    );
}

#[tokio::test]
async fn queue_events_arrive_as_event() {
    let mut spec = RunSpec::new("return { body: event.body, queue: event.queueName }");
    spec.event =
        Some(json!({"body": {"n": 1}, "jobId": "q#1", "eventId": "e1", "queueName": "imports"}));
    let outcome = run_spec(spec).await;
    assert_eq!(
        outcome.result,
        json!({"body": {"n": 1}, "queue": "imports"})
    );
}

#[tokio::test]
async fn continue_with_schedules_the_next_chunk() {
    let outcome = run("context.continueWith({ page: 1 }, { delaySeconds: 5 });\n\
                       context.continueWith({ page: 2 }, { delaySeconds: 30 });\nreturn 'chunk done'")
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let continuation = outcome.continuation.unwrap();
    assert_eq!(continuation.state, json!({"page": 2}), "the last call wins");
    assert_eq!(continuation.delay_seconds, 30);
    let outcome = run("context.continueWith([1, 2]);\nreturn 1").await;
    assert_eq!(outcome.continuation.unwrap().delay_seconds, 0);
}

#[tokio::test]
async fn continue_with_is_dropped_when_the_run_fails() {
    let outcome = run("context.continueWith({ page: 1 });\nthrow new Error('chunk failed')").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.continuation.is_none());
}

#[tokio::test]
async fn continue_with_validates_state_and_delay() {
    let cases = [
        (
            "context.continueWith(undefined)",
            "TypeError: continueWith: the state must be JSON, not undefined",
        ),
        (
            "context.continueWith(() => 1)",
            "TypeError: continueWith: the state must be JSON, not function",
        ),
        (
            "context.continueWith(1n)",
            "TypeError: continueWith: the state must be JSON: BigInt are forbidden in JSON.stringify",
        ),
        (
            "context.continueWith('x'.repeat(1024 * 1024))",
            "RangeError: continueWith: the state is 1048578 bytes as JSON; the limit is 1048576 bytes (1 MiB)",
        ),
        (
            "context.continueWith({}, { delaySeconds: 'soon' })",
            "TypeError: continueWith: delaySeconds must be a number",
        ),
        (
            "context.continueWith({}, { delaySeconds: -1 })",
            "RangeError: continueWith: delaySeconds must be a whole number from 0 to 604800 (one week), not -1",
        ),
        (
            "context.continueWith({}, { delaySeconds: 1.5 })",
            "RangeError: continueWith: delaySeconds must be a whole number from 0 to 604800 (one week), not 1.5",
        ),
    ];
    for (script, expected) in cases {
        assert_eq!(failure(script).await, expected, "{script}");
    }
}

#[tokio::test]
async fn nothing_of_the_host_is_reachable() {
    let script = "return ['__filename', 'Deno', 'Bun', 'std', 'os', 'print', 'scriptArgs']\n\
                  .filter(name => typeof globalThis[name] !== 'undefined')";
    assert_eq!(result(script).await, json!([]));
    let message = failure("await import('std')").await;
    assert!(
        message.starts_with("Error: Cannot import 'std': only @forge/api"),
        "{message}"
    );
    assert_eq!(
        failure("require('fs')").await,
        "Error: Cannot import 'fs': it is not available in Clockwork's sandbox \
         (scripts have no files, sockets, processes or host information)"
    );
    assert_eq!(
        result("return [typeof process.env.HOME, typeof process.env.PATH, Object.keys(process.env).length]").await,
        json!(["undefined", "undefined", 0]),
        "nothing of the server's environment"
    );
}

#[tokio::test]
async fn nothing_leaks_from_one_run_to_the_next() {
    let executor = executor();
    let first = executor
        .start(RunSpec::new(
            "globalThis.leaked = 1;\nObject.prototype.polluted = true;\nArray.prototype.push = null;\nconsole.log = null;\nreturn 1",
        ))
        .outcome()
        .await;
    assert_eq!(first.status, RunStatus::Succeeded);
    let second = executor
        .start(RunSpec::new(
            "const a = []; a.push(1);\nconsole.log('fine');\nreturn [typeof leaked, ({}).polluted === undefined, a.length]",
        ))
        .outcome()
        .await;
    assert_eq!(second.result, json!(["undefined", true, 1]));
    assert_eq!(messages(&second), ["fine"]);
}

#[tokio::test]
async fn script_style_globals_and_module_style_scope() {
    let globals = "return [api, route, fetch, authorize, storage, kvs, Queue, InvocationError, event, context].map(v => typeof v)";
    assert_eq!(
        result(globals).await,
        json!([
            "object", "function", "function", "function", "object", "object", "function",
            "function", "object", "object"
        ])
    );
    let module = "export function run() { return [typeof fetch, typeof api, typeof route, typeof event, typeof context] }";
    assert_eq!(
        result(module).await,
        json!([
            "function",
            "undefined",
            "undefined",
            "undefined",
            "undefined"
        ])
    );
}

#[tokio::test]
async fn forge_globals_behave_like_plain_globals() {
    assert_eq!(result("api = 'mine';\nreturn api").await, json!("mine"));
    assert_eq!(
        result("const kvs = 'shadowed';\nreturn kvs").await,
        json!("shadowed")
    );
    assert_eq!(
        result("const a = route;\nreturn [a === route, globalThis.route === route, typeof globalThis.api, 'event' in globalThis]").await,
        json!([true, true, "object", true])
    );
    assert_eq!(
        result("route = null;\nreturn [route, typeof api.asApp]").await,
        json!([null, "function"])
    );
    assert_eq!(
        failure("delete globalThis.api;\nreturn api").await,
        "ReferenceError: api is not defined"
    );
}

#[tokio::test]
async fn the_forge_api_is_built_only_when_used() {
    let untouched = run("return 1 + 1").await;
    let used = run("return typeof route").await;
    assert_eq!(used.result, json!("function"));
    assert!(
        untouched.peak_memory_bytes < used.peak_memory_bytes,
        "{} < {}",
        untouched.peak_memory_bytes,
        used.peak_memory_bytes
    );
}

#[tokio::test]
async fn forge_accessors_stored_in_forge_objects_do_not_leak_at_teardown() {
    let script = "const get = Object.getOwnPropertyDescriptor(globalThis, 'kvs').get;\n\
                  route.keep = get;\n\
                  Queue.keep = Object.getOwnPropertyDescriptor(globalThis, 'event');\n\
                  context.cycle = context;\n\
                  return [typeof get, typeof kvs.get]";
    assert_eq!(result(script).await, json!(["function", "function"]));
}
