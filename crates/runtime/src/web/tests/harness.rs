//! Shared helpers: a fresh runtime + context per test, with `install` run.

use rquickjs::{Array, Context, Ctx, Runtime, Value};

use super::super::{format_console_args, install};

/// Runs `f` in a fresh context with the web globals installed.
pub(super) fn with_web<R>(f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let runtime = Runtime::new().expect("runtime");
    let context = Context::full(&runtime).expect("context");
    context.with(|ctx| {
        install(&ctx).expect("install");
        f(&ctx)
    })
}

/// Evaluates `source` (a script whose completion value is the result) and
/// renders the result with `String(…)`, or a thrown value as
/// `THROW <constructor> <name>: <message>`.
pub(super) fn eval(ctx: &Ctx<'_>, source: &str) -> String {
    let wrapped = format!(
        "(() => {{ try {{ return String((() => {{ {source} }})()); }} catch (e) {{ return describeThrow(e); }} }})()"
    );
    run(ctx, &wrapped)
}

fn run(ctx: &Ctx<'_>, wrapped: &str) -> String {
    let prelude = "globalThis.describeThrow = (e) => 'THROW ' + (e && e.constructor && e.constructor.name) + ' ' + (e && e.name) + ': ' + (e && e.message);";
    ctx.eval::<(), _>(prelude).expect("prelude");
    match ctx.eval::<String, _>(wrapped) {
        Ok(text) => text,
        Err(error) => format!("RUST ERROR {error}: {:?}", ctx.catch()),
    }
}

/// Evaluates the body of an async function and drains the job queue;
/// renders the resolved value like [`eval`].
pub(super) fn eval_async(ctx: &Ctx<'_>, source: &str) -> String {
    let wrapped = format!(
        "globalThis.__result = undefined; (async () => {{ {source} }})().then((v) => {{ globalThis.__result = String(v); }}, (e) => {{ globalThis.__result = describeThrow(e); }}); 'started'"
    );
    let started = run(ctx, &wrapped);
    assert_eq!(started, "started");
    while ctx.execute_pending_job() {}
    ctx.eval::<String, _>("String(globalThis.__result)")
        .expect("result")
}

/// `console.log(<args>)` as Clockwork would print it: `args` is JavaScript
/// source for the argument list.
pub(super) fn log(ctx: &Ctx<'_>, args: &str) -> String {
    let array: Array<'_> = ctx
        .eval(format!("[{args}]"))
        .unwrap_or_else(|error| panic!("bad test arguments {args}: {error} {:?}", ctx.catch()));
    let values: Vec<Value<'_>> = array
        .iter()
        .collect::<rquickjs::Result<_>>()
        .expect("values");
    format_console_args(ctx, &values)
}
