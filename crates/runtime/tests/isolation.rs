//! Engines are reused, never shared: an engine a run left clean serves a
//! later run, and nothing of one run — globals, prototypes, the Forge
//! surface, timers, pending promises, finalizers, storage — reaches the
//! next, whether it ended cleanly, timed out, ran out of memory or was
//! cancelled mid-await. And a script that never yields holds up no other
//! run.
//!
//! Runs here go one after another on an executor, so each takes the engine
//! the previous one left, if it kept it; `Executor::engines` shows whether
//! it did.

mod common;

use std::time::Duration;

use common::{executor, messages};
use runtime::{Executor, ExecutorConfig, Outcome, RunSpec, RunStatus};
use serde_json::json;

/// Everything a script can reach, spoiled; ends however `ending` makes it.
fn polluter(ending: &str) -> String {
    format!(
        "await storage.set('mine', 1);\n\
         globalThis.leaked = 1;\n\
         Object.prototype.polluted = true;\n\
         Array.prototype.push = null;\n\
         String.prototype.trim = () => 'spoiled';\n\
         console.log = null;\n\
         const spoil = f => {{ try {{ f() }} catch {{}} }};\n\
         spoil(() => {{ api.asApp = null; }});\n\
         spoil(() => {{ route.spoiled = true; }});\n\
         spoil(() => {{ kvs.get = null; }});\n\
         setTimeout(() => {{ while (true) {{}} }}, 10000);\n\
         Promise.resolve().then(() => {{ globalThis.leaked = 2; }});\n\
         new Promise(r => setTimeout(r, 10000)).then(() => {{ while (true) {{}} }});\n\
         new FinalizationRegistry(() => {{ while (true) {{}} }}).register({{}}, 'x');\n\
         {ending}"
    )
}

/// The next run sees a pristine sandbox.
const CHECKER: &str = "const a = []; a.push(1);\n\
    console.log('fine');\n\
    return [typeof leaked, ({}).polluted === undefined, a.length, ' ok '.trim(),\n\
            typeof api.asApp, route.spoiled === undefined, typeof kvs.get, await storage.get('mine')];";

fn pristine() -> serde_json::Value {
    json!([
        "undefined",
        true,
        1,
        "ok",
        "function",
        true,
        "function",
        null
    ])
}

fn spec(script: &str) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.limits.timeout = Duration::from_millis(500);
    spec
}

async fn check_next_run(executor: &Executor) {
    let outcome = run_and_settle(executor, spec(CHECKER)).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "{:?} {:?}",
        outcome.error,
        outcome.logs
    );
    assert_eq!(outcome.result, pristine());
    assert_eq!(messages(&outcome), ["fine"]);
}

/// Runs `spec` to its end, then waits for its engine to be back in the
/// pool, so the next run gets that very engine.
async fn run_and_settle(executor: &Executor, spec: RunSpec) -> Outcome {
    let outcome = executor.start(spec).outcome().await;
    executor.settled().await;
    outcome
}

#[tokio::test]
async fn nothing_of_a_clean_run_reaches_the_next_on_the_same_engine() {
    let executor = executor();
    // Warm the thread with a run that leaves nothing behind.
    let warm = run_and_settle(&executor, spec("return 1")).await;
    assert_eq!(warm.status, RunStatus::Succeeded);
    let first = run_and_settle(
        &executor,
        spec(
            "await storage.set('mine', 1);\nglobalThis.leaked = 1;\nObject.prototype.polluted = true;\nArray.prototype.push = null;\n\
             String.prototype.trim = () => 'spoiled';\nconsole.log = null;\n\
             try { api.asApp = null; route.spoiled = true; kvs.get = null; } catch {}\n\
             return 1",
        ),
    )
    .await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
    check_next_run(&executor).await;
    let engines = executor.engines();
    assert!(
        engines
            == runtime::EngineCounts {
                started: 1,
                reused: 2
            },
        "runs one after another reuse the engine: {engines:?}"
    );
}

#[tokio::test]
async fn nothing_reaches_the_next_run_after_a_timeout() {
    let executor = executor();
    let first = run_and_settle(&executor, spec(&polluter("while (true) {}"))).await;
    assert_eq!(first.status, RunStatus::TimedOut, "{:?}", first.error);
    check_next_run(&executor).await;
}

#[tokio::test]
async fn nothing_reaches_the_next_run_after_running_out_of_memory() {
    let executor = executor();
    let mut bomb = spec(&polluter(
        "const hog = []; while (true) hog[hog.length] = new Array(1e5).fill(1);",
    ));
    bomb.limits.memory_bytes = 16 * 1024 * 1024;
    bomb.limits.timeout = Duration::from_secs(10);
    let first = run_and_settle(&executor, bomb).await;
    assert_eq!(first.status, RunStatus::Failed);
    assert_eq!(
        first.error.expect("an error").message,
        "memory limit exceeded (16 MiB)"
    );
    check_next_run(&executor).await;
}

#[tokio::test]
async fn nothing_reaches_the_next_run_after_a_cancel_mid_await() {
    let executor = executor();
    let handle = executor.start(spec(&polluter(
        "console.info('waiting');\nawait new Promise(() => {});",
    )));
    let mut logs = handle.logs();
    assert_eq!(logs.next().await.expect("a line").message, "waiting");
    handle.cancel();
    let first = handle.outcome().await;
    executor.settled().await;
    assert_eq!(first.status, RunStatus::Cancelled);
    check_next_run(&executor).await;
}

#[tokio::test]
async fn pending_timers_promises_and_finalizers_do_not_outlive_their_run() {
    let executor = executor();
    let first = run_and_settle(&executor, spec(&polluter("return 1"))).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
    // The leftovers would spin in the next run's time: it would time out.
    check_next_run(&executor).await;
}

#[tokio::test]
async fn a_script_that_never_yields_holds_up_no_other_run() {
    // One I/O thread, and more endless scripts than the machine has cores.
    let executor = Executor::new(ExecutorConfig { worker_threads: 1 }).expect("executor starts");
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut spinning = Vec::new();
    // A hang guard, not a timing assertion: before each run had a thread of
    // its own, the second endless script never started, nor the quick run.
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..2 * cores {
            let mut busy = RunSpec::new("console.log('busy');\nwhile (true) {}");
            busy.limits.timeout = Duration::from_secs(3600);
            let handle = executor.start(busy);
            assert_eq!(handle.logs().next().await.expect("a line").message, "busy");
            spinning.push(handle);
        }
        let quick = executor.start(RunSpec::new(
            "await new Promise(r => setTimeout(r, 10));\nreturn 'done'",
        ));
        quick.outcome().await
    })
    .await
    .expect("every run starts, and the quick one ends, while the others spin");
    assert_eq!(outcome.result, json!("done"));
    for handle in spinning {
        handle.cancel();
        assert_eq!(handle.outcome().await.status, RunStatus::Cancelled);
    }
}

#[tokio::test]
async fn an_engine_serves_run_after_run_without_keeping_their_contexts() {
    let executor = executor();
    // Every surface built: Forge, Node, web globals (URL, the inspector).
    let script = "const url = new URL('https://acme.test/a?b=1');\n\
         console.log({ host: url.host });\n\
         return [typeof api.asApp, Buffer.from('hi').toString('hex'), url.searchParams.get('b')];";
    for _ in 0..100 {
        let outcome = run_and_settle(&executor, spec(script)).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(outcome.result, json!(["function", "6869", "1"]));
    }
    // An engine that kept each ended run's context grew past what a spare
    // engine may hold within a few dozen runs, and was replaced.
    let engines = executor.engines();
    assert_eq!(
        engines,
        runtime::EngineCounts {
            started: 1,
            reused: 99
        },
        "one engine serves every run"
    );
}

/// Scripts run on threads nicer than the process, so the scheduler's own
/// threads get the CPU first however many scripts loop; the thread that
/// started them keeps its priority.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn scripts_run_on_threads_nicer_than_the_process() {
    use rustix::process::getpriority_process;
    use rustix::thread::{Pid, gettid};

    let caller = getpriority_process(Some(gettid())).unwrap();
    let executor = executor();
    let loops: Vec<_> = (0..3)
        .map(|_| executor.start(RunSpec::new("console.log('looping'); while (true) {}")))
        .collect();
    for run in &loops {
        let mut logs = run.logs();
        logs.next().await.expect("the run logs once it loops");
    }
    let nicer = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| task.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|tid| getpriority_process(Pid::from_raw(tid)).ok())
        .filter(|&nice| nice == (caller + runtime::RUN_NICENESS).min(19))
        .count();
    assert!(
        nicer >= loops.len(),
        "{nicer} threads run nicer than the caller"
    );
    assert_eq!(getpriority_process(Some(gettid())).unwrap(), caller);
    for run in loops {
        run.control().cancel();
        assert_eq!(run.outcome().await.status, RunStatus::Cancelled);
    }
}

// rquickjs caches the prototype of its Rust-backed functions per runtime,
// taken from the first context that made one: before every host function
// was re-parented (`host_fn`), run 2 on an engine saw run 1's pollution.
#[tokio::test]
async fn the_prototypes_of_the_hosts_functions_are_the_runs_own() {
    let executor = executor();
    // The engine's first run, then a later one: each pollutes what the
    // host's functions (console.log, setTimeout, require) inherit from.
    let script = "const kvsGet = Object.getOwnPropertyDescriptor(globalThis, 'kvs').get;\n\
         const hosts = [console.log, setTimeout, require, Error.prepareStackTrace, kvsGet];\n\
         const seen = hosts.map(f => Object.getPrototypeOf(f).polluted);\n\
         for (const f of hosts) Object.getPrototypeOf(f).polluted = 'yes';\n\
         return [seen, hosts.every(f => Object.getPrototypeOf(f) === Function.prototype)];";
    for run in 1..=3 {
        let outcome = run_and_settle(&executor, spec(script)).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(
            outcome.result,
            json!([[null, null, null, null, null], true]),
            "run {run} on the engine"
        );
    }
}

/// The host awaits a script's promise by passing callbacks to its `then`: a
/// script that replaces `Promise.prototype.then` catches them, and from one
/// reaches the realm whose `Function.prototype` it inherits. rquickjs's own
/// `into_future` passes callbacks inheriting the engine's cached prototype
/// (an earlier run's realm, or the engine's seal); the host's are the run's
/// own. Nothing a run writes there, or into that realm's global object, may
/// reach the next run.
#[tokio::test]
async fn the_callbacks_the_host_awaits_with_lead_only_to_the_runs_own_realm() {
    let executor = executor();
    let script = "let caught;\n\
         const then = Promise.prototype.then;\n\
         Promise.prototype.then = function (done, failed) {\n\
             if (caught === undefined && typeof done === 'function') caught = done;\n\
             return then.call(this, done, failed);\n\
         };\n\
         await new Promise(settle => setTimeout(settle, 1));\n\
         Promise.prototype.then = then;\n\
         const inherited = Object.getPrototypeOf(caught);\n\
         const found = [inherited.left];\n\
         try { inherited.left = 'by an earlier run'; } catch {}\n\
         let global;\n\
         try { global = inherited.constructor('return globalThis')(); } catch {}\n\
         found.push(global?.left);\n\
         try { global.left = 'by an earlier run'; } catch {}\n\
         return [typeof caught, found, inherited === Function.prototype];";
    for run in 1..=3 {
        let outcome = run_and_settle(&executor, spec(script)).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(
            outcome.result,
            json!(["function", [null, null], true]),
            "run {run} on the engine"
        );
    }
    assert_eq!(executor.engines().started, 1, "one engine served the runs");
}

/// QuickJS-ng gives `DOMException` to a runtime's first context only; every
/// run on a pooled engine still has it, and `atob` still throws one.
#[tokio::test]
async fn every_run_on_an_engine_has_dom_exception() {
    let executor = executor();
    let script = "let thrown;\n\
         try { atob('%'); } catch (error) { thrown = error; }\n\
         return [typeof DOMException, thrown instanceof DOMException, thrown.name,\n\
                 new DOMException('gone', 'AbortError').code];";
    for run in 1..=3 {
        let outcome = run_and_settle(&executor, spec(script)).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(
            outcome.result,
            json!(["function", true, "InvalidCharacterError", 20]),
            "run {run} on the engine"
        );
    }
    assert_eq!(executor.engines().started, 1, "one engine served the runs");
}

/// A run on a kept engine gets the context made for it while the engine
/// waited; its limits hold there as on a new engine: a script that catches
/// the interrupt still times out.
#[tokio::test]
async fn a_kept_engines_ready_context_still_times_out_a_script_that_catches() {
    let executor = executor();
    for attempt in 1..=10 {
        // A clean run leaves the engine kept, with its next context made.
        let warm = run_and_settle(&executor, spec("return 1")).await;
        assert_eq!(warm.status, RunStatus::Succeeded, "{:?}", warm.error);
        let stubborn = tokio::time::timeout(
            Duration::from_secs(30),
            run_and_settle(
                &executor,
                spec("for (;;) { try { while (true) {} } catch (e) {} }"),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("attempt {attempt}: the script outlived its limit"));
        assert_eq!(stubborn.status, RunStatus::TimedOut, "attempt {attempt}");
    }
    let engines = executor.engines();
    assert!(engines.reused >= 10, "{engines:?}");
}

/// A run that held more than a few MiB reports its outcome only once its
/// engine is put away: a caller's memory budget that frees the run's share
/// on the outcome never counts memory free that the process still holds.
#[tokio::test]
async fn a_run_that_held_much_memory_reports_after_giving_it_back() {
    let executor = executor();
    let mut hoarder =
        spec("const held = Array.from({ length: 1e6 }, (_, i) => ({ i }));\nreturn held.length");
    // A debug build on a loaded machine takes well over the usual 500 ms to
    // build a million objects; the limit is not what this test is about.
    hoarder.limits.timeout = Duration::from_secs(30);
    let outcome = executor.start(hoarder).outcome().await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(outcome.peak_memory_bytes > 16 * 1024 * 1024, "{outcome:?}");
    tokio::time::timeout(Duration::ZERO, executor.settled())
        .await
        .expect("nothing of the run is still being put away");
}
