//! What `install` puts on the global object, and how: lazily, without
//! enumerable properties, replaceable by scripts, per context, nothing of the host.

use rquickjs::{Context, Runtime};

use super::check::check;
use super::harness::log;
use crate::web::install;

const GLOBALS: &str = "['URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'crypto', 'Crypto', 'structuredClone', 'Event', 'EventTarget', 'AbortController', 'AbortSignal', 'Headers', 'Request', 'Response', 'Intl', 'atob', 'btoa', 'DOMException', 'queueMicrotask']";

#[test]
fn every_global_is_present_and_not_enumerable() {
    check(&[
        (
            "const before = Object.getOwnPropertyDescriptor(globalThis, 'URL'); URL; const after = Object.getOwnPropertyDescriptor(globalThis, 'URL'); return [typeof before.get, after.writable, after.enumerable, after.configurable, after.value === URL].join()",
            "function,true,false,true,true",
        ),
        (
            &format!("return {GLOBALS}.filter((name) => !(name in globalThis)).join()"),
            "",
        ),
        (
            &format!("return {GLOBALS}.map((name) => typeof globalThis[name]).join()"),
            "function,function,function,function,object,function,function,function,function,function,function,function,function,function,object,function,function,function,function",
        ),
        // `performance` is QuickJS-ng's own, `describeThrow` the test harness's
        (
            "return Object.keys(globalThis).join()",
            "performance,describeThrow",
        ),
        (
            &format!(
                "return {GLOBALS}.filter((name) => Object.getOwnPropertyDescriptor(globalThis, name).enumerable).join()"
            ),
            "",
        ),
        (
            "return URLSearchParams === new URL('https://h/?a').searchParams.constructor",
            "true",
        ),
    ]);
}

#[test]
fn scripts_can_replace_or_delete_globals() {
    check(&[
        // a replaced global does not break the modules that use it internally
        (
            "globalThis.URLSearchParams = null; return new Response(new URL('https://h/?a=1').searchParams).headers.get('content-type')",
            "application/x-www-form-urlencoded;charset=UTF-8",
        ),
        ("URL = 5; return URL", "5"),
        (
            "globalThis.Headers = class Mine {}; return Headers.name",
            "Mine",
        ),
        (
            "delete globalThis.Response; return typeof Response",
            "undefined",
        ),
        (
            "Object.defineProperty(globalThis, 'crypto', { value: 'mine' }); return crypto",
            "mine",
        ),
    ]);
}

/// The sandbox exposes nothing of the host process.
#[test]
fn nothing_of_the_host_leaks() {
    check(&[
        (
            "return ['require', 'process', 'module', 'exports', 'Deno', 'Bun', 'std', 'os', 'scriptArgs', '__cw_makeResponse'].filter((name) => name in globalThis).join()",
            "",
        ),
        (
            "return Object.getOwnPropertyNames(globalThis).filter((name) => /host|native|load/i.test(name)).join()",
            "",
        ),
        (
            "return typeof Response[Symbol.for('clockwork.makeResponse')]",
            "function",
        ),
        (
            "return [typeof host, typeof need, typeof native, typeof bootstrap].join()",
            "undefined,undefined,undefined,undefined",
        ),
    ]);
}

/// Two contexts of one runtime each keep their own globals and formatter.
#[test]
fn contexts_are_independent() {
    let runtime = Runtime::new().expect("runtime");
    let first = Context::full(&runtime).expect("context");
    let second = Context::full(&runtime).expect("context");
    first.with(|ctx| install(&ctx).expect("install"));
    second.with(|ctx| install(&ctx).expect("install"));
    first.with(|ctx| {
        ctx.eval::<(), _>("globalThis.URL = 'replaced'")
            .expect("eval");
        assert_eq!(log(&ctx, "{ a: [1] }"), "{ a: [ 1 ] }");
    });
    second.with(|ctx| {
        assert_eq!(
            ctx.eval::<String, _>("typeof URL").expect("eval"),
            "function"
        );
        assert_eq!(log(&ctx, "new Set([1])"), "Set(1) { 1 }");
    });
}

/// Installing into a fresh context many times is stable (no state leaks
/// between runs through the process-wide bytecode cache).
#[test]
fn repeated_runs_start_clean() {
    for _ in 0..20 {
        let runtime = Runtime::new().expect("runtime");
        let context = Context::full(&runtime).expect("context");
        context.with(|ctx| {
            install(&ctx).expect("install");
            assert_eq!(
                ctx.eval::<String, _>(
                    "typeof globalThis.__result + new URL('https://h/x').pathname"
                )
                .expect("eval"),
                "undefined/x"
            );
            ctx.eval::<(), _>("globalThis.__result = 1").expect("eval");
        });
    }
}

/// Errors thrown inside the web globals keep the user's frame with its line
/// and column; frames of the globals' own code have no file name or line
/// (`at URL (<null>:0:1)`): the bytecode is stripped of debug information.
#[test]
fn stacks_keep_the_script_frames() {
    check(&[(
        "try { new URL('bad') } catch (e) { return e.stack.split('\\n').map((line) => line.trim()).filter(Boolean).join(' | ') }",
        "at URL (<null>:0:1) | at <anonymous> (eval_script:1:49) | at <anonymous> (eval_script:1:157) | at <eval> (eval_script:1:205)",
    )]);
}
