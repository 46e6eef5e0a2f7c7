//! Every limit, adversarially: time, cancellation, memory, logs, result size,
//! stack depth. Timing is asserted only generously (overruns are measured by
//! `examples/overrun.rs`).

mod common;

use std::time::Duration;

use common::{executor, messages, run_spec};
use runtime::{Limits, LogLevel, Outcome, RunSpec, RunStatus};
use serde_json::json;

const SHORT: Duration = Duration::from_millis(300);
/// Far above any expected overrun; only a limit that does not hold fails it.
const GENEROUS: Duration = Duration::from_secs(2);
/// How long a run that should have timed out may go on before the test
/// gives up on it, so that a limit that does not hold fails the test rather
/// than hanging it.
const HOPELESS: Duration = Duration::from_secs(20);

fn with_timeout(script: &str, timeout: Duration) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.limits.timeout = timeout;
    spec
}

fn with_memory(script: &str, memory_bytes: usize) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.limits.memory_bytes = memory_bytes;
    spec
}

async fn assert_times_out(script: &str) -> Outcome {
    assert_times_out_with(with_timeout(script, SHORT), "timed out after 300 ms").await
}

/// [`assert_times_out`] for a spec of its own: it times out at its limit
/// with `message`, not before, and not [`GENEROUS`]ly after.
async fn assert_times_out_with(spec: RunSpec, message: &str) -> Outcome {
    let script = spec.script.clone();
    let limit = spec.limits.timeout;
    let outcome = tokio::time::timeout(limit + HOPELESS, run_spec(spec))
        .await
        .unwrap_or_else(|_| panic!("{script}: still running {HOPELESS:?} after its limit"));
    assert_eq!(
        outcome.status,
        RunStatus::TimedOut,
        "{script}: {:?}",
        outcome.error
    );
    assert_eq!(
        outcome.error.as_ref().expect("an error").message,
        message,
        "{script}"
    );
    assert!(
        outcome.duration >= limit,
        "{script}: ended early, {:?}",
        outcome.duration
    );
    assert!(
        outcome.duration < limit + GENEROUS,
        "{script}: overran, {:?}",
        outcome.duration
    );
    outcome
}

#[tokio::test]
async fn busy_loop_times_out() {
    assert_times_out("while (true) {}").await;
}

#[tokio::test]
async fn allocating_native_loop_times_out() {
    assert_times_out("while (true) new Array(1e6).fill(0)").await;
}

#[tokio::test]
async fn catastrophic_regex_times_out() {
    assert_times_out("/(a+)+$/.test('a'.repeat(40) + '!')").await;
}

#[tokio::test]
async fn string_doubling_times_out() {
    assert_times_out("let s = 'x';\nwhile (true) { s += s; if (s.length > 1 << 20) s = 'x'; }")
        .await;
}

#[tokio::test]
async fn never_settling_await_times_out() {
    assert_times_out("await new Promise(() => {})").await;
}

#[tokio::test]
async fn catching_the_interrupt_does_not_help() {
    assert_times_out("for (;;) { try { while (true) {} } catch (e) {} }").await;
    assert_times_out("for (;;) { try { while (true) new Array(1e5).fill(1) } catch (e) {} }").await;
}

/// QuickJS calls `Error.prepareStackTrace` and `Error.stackTraceLimit`'s
/// `valueOf` while it builds a stack trace, and sets the trace on
/// `Error.captureStackTrace`'s target, and it drops any error those throw,
/// the interrupt that stops the run among them. An interrupt is polled
/// every 10,000 calls and back-edges; when a loop's count of them divides
/// that, every later poll lands on the same dropped spot, so the stop must
/// not depend on where the poll lands. The leading calls of `f` shift the
/// poll's phase through every spot of the loop.
#[tokio::test]
async fn stack_trace_hooks_cannot_outlive_the_limit() {
    for calls in 0..8 {
        let lead = "f();".repeat(calls);
        assert_times_out(&format!(
            "Error.prepareStackTrace = () => undefined;\nconst o = {{}};\nfunction f() {{}}\n\
             {lead}\nfor (;;) {{ Error.captureStackTrace(o); f(); }}"
        ))
        .await;
    }
    assert_times_out(
        "Error.prepareStackTrace = () => { for (;;) {} };\nfor (;;) Error.captureStackTrace({});",
    )
    .await;
    assert_times_out(
        "Error.stackTraceLimit = { valueOf() { for (;;) {} } };\nfor (;;) new Error('x');",
    )
    .await;
    assert_times_out(
        "const target = new Proxy({}, { defineProperty() { for (;;) {} } });\n\
         for (;;) Error.captureStackTrace(target);",
    )
    .await;
}

#[tokio::test]
async fn loops_over_long_native_calls_time_out() {
    // Built-ins that neither allocate nor call back would only notice the
    // deadline every ~10,000 calls; the hardened ones check on every call.
    assert_times_out("const a = new Uint8Array(1e7);\nwhile (true) a.fill(1);").await;
    assert_times_out("const a = new Float64Array(1e6);\nwhile (true) a.sort();").await;
    assert_times_out(
        "const a = Array.from({ length: 1e5 }, (_, i) => 'k' + i);\nwhile (true) a.reverse();",
    )
    .await;
    assert_times_out("const s = 'ab'.repeat(5e6);\nwhile (true) s.indexOf('abc');").await;
}

/// Array methods walk an array-like index by index up to its `length`, a
/// sparse array's `2 ** 32 - 1` or an object's `2 ** 53 - 1`, with nothing
/// to allocate for a hole: one call would outlast any limit by minutes
/// unless the walk itself asks for the interrupt (our copy of QuickJS does,
/// `vendor/README.md`; QuickJS's own `indexOf`, `every` and the like
/// already did).
#[tokio::test]
async fn one_call_walking_a_huge_sparse_array_stops_with_the_run() {
    let calls = [
        "copyWithin(0, 1)",
        "flat()",
        "flatMap(x => x)",
        "splice(0, 1)",
        "shift()",
        "unshift(1)",
        "slice(0)",
        "concat([])",
        "join('')",
        "toString()",
        "toLocaleString()",
        "sort()",
        "reverse()",
        // Built-in iterators stepped from C, without a call to poll in.
        "values().drop(2 ** 32 - 2).next()",
        "values().includes(1)",
        "values().join('')",
    ];
    for call in calls {
        assert_times_out(&format!(
            "const a = [];\na.length = 2 ** 32 - 1;\na.{call};"
        ))
        .await;
    }
    assert_times_out("Array.prototype.reverse.call({ length: 2 ** 53 - 1 });").await;
    assert_times_out("const a = [];\na.length = 2 ** 32 - 1;\nMath.sumPrecise(a.keys());").await;
    // A typed array filled from an array-like walks it whole; its length is
    // bounded by the memory limit only: 256 Mi elements take seconds.
    for fill in [
        "new Uint8Array(like)",
        "Uint8Array.from(like)",
        "new Uint8Array(like.length).set(like)",
    ] {
        let mut spec = with_timeout(
            &format!("const like = {{ length: 2 ** 28 }};\n{fill};"),
            SHORT,
        );
        spec.limits.memory_bytes = 640 << 20;
        assert_times_out_with(spec, "timed out after 300 ms").await;
    }
}

/// Sorting millions of elements is one call: with the default comparison or
/// a native function as the comparison it runs no bytecode to ask for the
/// interrupt in, and ran on past the limit for as long as the sort took
/// (the plain array's default sort for more than 20 s; 2 ** 23 doubles
/// take 1.3 s, so the typed array's 2 ** 25 take seconds). Our copy of
/// QuickJS asks at each
/// comparison (`vendor/README.md`). The arrays are filled by a loop that
/// ends well within the limit, so what the limit stops is the sort.
#[tokio::test]
async fn sorting_a_huge_array_stops_with_the_run() {
    let limit = Duration::from_millis(1500);
    let typed = "const a = new Float64Array(2 ** 25);\n\
                 for (let i = 0; i < a.length; i++) a[i] = Math.imul(i, 0x9e3779b1) >>> 0;\n";
    let plain = "const a = new Array(2 ** 22);\n\
                 for (let i = 0; i < a.length; i++) a[i] = Math.imul(i, 0x9e3779b1) >>> 0;\n";
    for (fill, sort) in [
        (typed, "a.sort();"),
        (typed, "a.toSorted();"),
        (typed, "a.sort(Math.max);"),
        (plain, "a.sort();"),
        (plain, "a.toSorted();"),
        (plain, "a.sort(Math.max);"),
    ] {
        let mut spec = with_timeout(&format!("{fill}{sort}"), limit);
        spec.limits.memory_bytes = 640 << 20;
        assert_times_out_with(spec, "timed out after 1.5 s").await;
    }
}

/// A kept engine's next context is furnished before its run is known; its
/// hardened built-ins still stop with the run they serve, not the engine's
/// first one (which ended long before).
#[tokio::test]
async fn long_native_calls_stop_with_the_run_a_kept_engine_serves() {
    let executor = executor();
    let warm = executor.start(RunSpec::new("return 1")).outcome().await;
    assert_eq!(warm.status, RunStatus::Succeeded, "{:?}", warm.error);
    executor.settled().await;
    // A search that allocates nothing: only its hardened check stops it.
    let script = "const s = 'ab'.repeat(5e6);\nwhile (true) s.indexOf('abc');";
    let outcome = executor.start(with_timeout(script, SHORT)).outcome().await;
    assert_eq!(outcome.status, RunStatus::TimedOut, "{:?}", outcome.error);
    assert!(
        outcome.duration < SHORT + GENEROUS,
        "overran, {:?}",
        outcome.duration
    );
    assert!(executor.engines().reused >= 1, "{:?}", executor.engines());
}

#[tokio::test]
async fn catching_the_stop_of_a_large_fill_does_not_help() {
    // Once refused allocations made QuickJS throw a catchable `null` instead
    // of its uncatchable interrupt error, and this loop never ended.
    assert_times_out("const a = new Uint8Array(2e8);\nfor (;;) { try { a.fill(1) } catch {} }")
        .await;
}

#[tokio::test]
async fn hardened_built_ins_behave_as_before() {
    let script = "return [\n\
                    [3, 1, 2].lastIndexOf(3, undefined), new Int8Array([3, 1, 2]).lastIndexOf(3, undefined),\n\
                    new Int8Array([3, 1, 3]).lastIndexOf(3), 'abc'.indexOf(), 'abcb'.lastIndexOf('b', undefined),\n\
                    'abc'.includes('c', 1), [3, 1, 2].sort().join(), Array.from(new Float64Array([2, -0, NaN, 0, -1]).sort()).map(String).join(),\n\
                    [1, 2, 3].fill(0, 1).join(), [].fill.name, 'x'.includes.name, 'prototype' in [].fill,\n\
                    Object.getOwnPropertyDescriptor(Array.prototype, 'sort').enumerable,\n\
                    String.prototype.indexOf.call(12345, '3'),\n\
                  ]";
    assert_eq!(
        common::result(script).await,
        json!([
            0,
            0,
            2,
            -1,
            3,
            true,
            "1,2,3",
            "-1,0,0,2,NaN",
            "1,0,0",
            "fill",
            "includes",
            false,
            false,
            2
        ])
    );
    assert_eq!(
        common::failure("Int8Array.prototype.fill.call([1, 2], 0)")
            .await
            .split(':')
            .next(),
        Some("TypeError")
    );
}

#[tokio::test]
async fn busy_timer_callbacks_time_out() {
    assert_times_out(
        "setInterval(() => { for (let i = 0; i < 1e6; i++); }, 0);\nawait new Promise(() => {})",
    )
    .await;
    assert_times_out("setTimeout(() => { while (true) {} }, 10);\nawait new Promise(() => {})")
        .await;
}

#[tokio::test]
async fn timeout_keeps_the_logs_written_so_far() {
    let outcome =
        assert_times_out("console.log('before');\nconsole.warn('still here');\nwhile (true) {}")
            .await;
    assert_eq!(messages(&outcome), ["before", "still here"]);
    assert_eq!(outcome.logs[1].level, LogLevel::Warn);
}

#[tokio::test]
async fn timeout_while_storage_calls_are_pending() {
    assert_times_out("for (let i = 0; ; i++) { await kvs.set('k' + (i % 100), { i }); }").await;
}

#[tokio::test]
async fn cancel_stops_a_busy_script() {
    let executor = executor();
    let handle = executor.start(RunSpec::new("console.log('started');\nwhile (true) {}"));
    let mut logs = handle.logs();
    assert_eq!(logs.next().await.unwrap().message, "started");
    handle.cancel();
    let outcome = handle.outcome().await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.as_ref().unwrap().message, "cancelled");
    assert_eq!(messages(&outcome), ["started"]);
}

/// Cancelling reaches the script through the same interrupt, so a script
/// looping inside a stack-trace hook must not outlive it either.
#[tokio::test]
async fn cancel_stops_a_script_inside_a_stack_trace_hook() {
    let executor = executor();
    let handle = executor.start(RunSpec::new(
        "console.log('started');\n\
         Error.stackTraceLimit = { valueOf() { for (;;) {} } };\nfor (;;) new Error('x');",
    ));
    let mut logs = handle.logs();
    assert_eq!(logs.next().await.unwrap().message, "started");
    handle.cancel();
    let outcome = tokio::time::timeout(HOPELESS, handle.outcome())
        .await
        .expect("the cancelled run ends");
    assert_eq!(outcome.status, RunStatus::Cancelled);
}

#[tokio::test]
async fn cancel_stops_a_waiting_script() {
    let executor = executor();
    let handle = executor.start(RunSpec::new(
        "console.log('waiting');\nawait new Promise(r => setTimeout(r, 60000));\nreturn 'woke'",
    ));
    let control = handle.control();
    let mut logs = control.logs();
    assert_eq!(logs.next().await.unwrap().message, "waiting");
    control.cancel();
    let outcome = handle.outcome().await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert!(
        logs.next().await.is_none(),
        "the live log ends with the run"
    );
}

#[tokio::test]
async fn cancel_right_after_start() {
    // Each run has a thread of its own, so it may already have begun; either
    // way it ends cancelled, and a script that never yields cannot delay that.
    let executor = executor();
    let handle = executor.start(RunSpec::new("console.log('ran');\nwhile (true) {}"));
    handle.cancel();
    let outcome = handle.outcome().await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.error.expect("an error").message, "cancelled");
}

#[tokio::test]
async fn memory_limit_fails_the_run() {
    let outcome = run_spec(with_memory(
        "const a = [];\nwhile (true) a.push(new Array(1e5).fill(1.5));",
        32 << 20,
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.unwrap().message,
        "memory limit exceeded (32 MiB)"
    );
    assert!(
        outcome.peak_memory_bytes > 24 << 20,
        "peak {}",
        outcome.peak_memory_bytes
    );
    assert!(
        outcome.peak_memory_bytes <= 32 << 20,
        "peak {}",
        outcome.peak_memory_bytes
    );
}

#[tokio::test]
async fn caught_out_of_memory_still_fails_the_run() {
    let script = "let caught = false;\ntry { const a = []; while (true) a.push('x'.repeat(1 << 20) + a.length); }\n\
                  catch (e) { caught = true; }\nconsole.log('survived', caught);\nreturn 'recovered';";
    let outcome = run_spec(with_memory(script, 32 << 20)).await;
    assert_eq!(
        outcome.status,
        RunStatus::Failed,
        "result {}",
        outcome.result
    );
    assert_eq!(
        outcome.error.unwrap().message,
        "memory limit exceeded (32 MiB)"
    );
    assert_eq!(outcome.result, json!(null));
}

#[tokio::test]
async fn one_huge_allocation_fails_at_the_default_limit() {
    let outcome = common::run("const s = 'x'.repeat(300 * 1024 * 1024); return s.length").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.unwrap().message,
        "memory limit exceeded (256 MiB)"
    );
}

#[tokio::test]
async fn peak_memory_is_reported() {
    let outcome = common::run("const big = new Array(2e6).fill(0.5);\nreturn big.length").await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert!(
        outcome.peak_memory_bytes > 16_000_000,
        "peak {}",
        outcome.peak_memory_bytes
    );
    let small = common::run("return 1").await;
    assert!(small.peak_memory_bytes < outcome.peak_memory_bytes);
    assert!(small.peak_memory_bytes > 0);
}

#[tokio::test]
async fn logs_beyond_the_limit_become_one_marker() {
    let mut spec = RunSpec::new(
        "for (let i = 0; i < 1000; i++) console.log('line ' + String(i).padStart(4, '0'));\nreturn 'done'",
    );
    spec.limits.log_bytes = 100 * (9 + 64); // 100 lines of 9 bytes, plus 64 each
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(outcome.logs.len(), 101);
    assert_eq!(outcome.logs[99].message, "line 0099");
    let marker = outcome.logs.last().unwrap();
    assert_eq!(
        marker.message,
        "… 900 log lines (8100 bytes) dropped: the log limit is 7300 bytes"
    );
    assert_eq!(marker.level, LogLevel::Warn);
}

#[tokio::test]
async fn logging_forever_still_times_out_within_the_limit() {
    let outcome = assert_times_out("while (true) console.log('x'.repeat(1000));").await;
    let kept: usize = outcome
        .logs
        .iter()
        .map(|line| line.message.len() + 64)
        .sum();
    let marker = outcome.logs.last().unwrap();
    assert!(marker.message.starts_with("… "), "{}", marker.message);
    assert!(kept <= Limits::default().log_bytes + marker.message.len() + 64);
}

#[tokio::test]
async fn result_over_the_limit_fails_clearly() {
    let mut spec = RunSpec::new("return 'x'.repeat(2 * 1024 * 1024)");
    spec.limits.result_bytes = 1024 * 1024;
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.unwrap().message,
        "the result is 2097154 bytes as JSON; the limit is 1 MiB"
    );
    assert_eq!(outcome.result, json!(null));
    assert_eq!(
        common::result("return 'x'.repeat(1000)").await,
        json!("x".repeat(1000))
    );
}

#[tokio::test]
async fn results_that_are_not_json_fail_clearly() {
    let message = common::failure("const a = {}; a.self = a; return a").await;
    assert!(
        message.starts_with("the result cannot be converted to JSON: TypeError"),
        "{message}"
    );
    let message = common::failure("return 10n").await;
    assert!(
        message.starts_with("the result cannot be converted to JSON: TypeError"),
        "{message}"
    );
    assert_eq!(common::result("return () => 1").await, json!(null));
}

#[tokio::test]
async fn deep_recursion_is_a_catchable_range_error() {
    let message = common::failure("function f() { return f() + 1 }\nf()").await;
    assert_eq!(message, "RangeError: Maximum call stack size exceeded");
    let caught = common::result("function f(n) { return f(n + 1) + 1 }\ntry { f(0) } catch (e) { return e instanceof RangeError }").await;
    assert_eq!(caught, json!(true));
}

#[tokio::test]
async fn deeply_nested_values_do_not_crash_the_host() {
    let nested = "let o = {};\nfor (let i = 0; i < 1e5; i++) o = { o };\n";
    let message = common::failure(&format!("{nested}return o")).await;
    assert!(
        message.starts_with("the result cannot be converted to JSON: RangeError"),
        "{message}"
    );
    let outcome = common::run(&format!("{nested}console.log(o);\ntry {{ JSON.parse('['.repeat(1e5)) }} catch (e) {{ return e.name }}")).await;
    assert_eq!(outcome.result, json!("RangeError"), "{:?}", outcome.error);
    let message =
        common::failure("let o = {}; for (let i = 0; i < 200; i++) o = { o }; return o").await;
    assert_eq!(
        message,
        "the result is nested too deeply (at most 128 levels)"
    );
}

#[tokio::test]
async fn many_runs_with_trips_in_every_state_leave_the_host_intact() {
    let executor = executor();
    let scripts = [
        "while (true) {}",
        "setTimeout(() => {}, 100000); while (true) {}",
        "const p = kvs.get('x'); while (true) {}",
        "Promise.reject(new Error('x')); while (true) {}",
        "const a = []; while (true) a.push({ a });",
        "await new Promise(() => {})",
        "setInterval(() => { new Array(1e4).fill({}) }, 0); await new Promise(() => {})",
        "return 1",
    ];
    let mut handles = Vec::new();
    for round in 0..4 {
        for script in scripts {
            let mut spec = RunSpec::new(script);
            spec.limits.timeout = Duration::from_millis(100);
            spec.limits.memory_bytes = 16 << 20;
            let handle = executor.start(spec);
            if round % 2 == 1 {
                handle.cancel();
            }
            handles.push(handle);
        }
    }
    for handle in handles {
        let outcome = handle.outcome().await;
        assert!(
            outcome.duration < Duration::from_millis(100) + GENEROUS * 4,
            "{:?}",
            outcome.duration
        );
    }
}

#[tokio::test]
async fn dropping_the_executor_stops_its_runs() {
    let executor = executor();
    let busy = executor.start(RunSpec::new("console.log('busy');\nwhile (true) {}"));
    let waiting = executor.start(RunSpec::new(
        "console.log('waiting');\nawait new Promise(() => {})",
    ));
    assert_eq!(busy.logs().next().await.unwrap().message, "busy");
    assert_eq!(waiting.logs().next().await.unwrap().message, "waiting");
    drop(executor);
    for handle in [busy, waiting] {
        let outcome = handle.outcome().await;
        assert_eq!(outcome.status, RunStatus::Cancelled);
        assert_eq!(outcome.error.unwrap().message, "the executor shut down");
    }
}

#[tokio::test]
async fn an_enormous_timeout_is_no_timeout() {
    let mut spec = RunSpec::new("return 'fine'");
    spec.limits.timeout = Duration::MAX;
    assert_eq!(run_spec(spec).await.result, json!("fine"));
}
