//! One run, from the user's text to its [`Outcome`].
//!
//! Each run gets its own QuickJS runtime (with the capped allocator of
//! [`limits`](crate::limits)) and one full context, both dropped at the end:
//! nothing survives from one run to the next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::{AsyncContext, AsyncRuntime, Ctx, Function, Module, Object, Promise, Value};
use serde_json::Value as Json;

use crate::host::{self, BuiltinModules, Host};
use crate::js_error::describe;
use crate::limits::{CappedAllocator, Guard, Trip};
use crate::logs::LogSink;
use crate::outcome::{ErrorInfo, Outcome, RetryRequest, RunStatus};
use crate::precompiled::{self, Script};
use crate::source::{Prepared, SCRIPT_FILE, ScriptForm};
use crate::spec::RunSpec;
use crate::timers::{self, TimerQueue};
use crate::{console, globals};

/// QuickJS's own stack budget: deep enough for real scripts, well inside the
/// executor threads' stacks so recursion ends in a catchable `RangeError`.
pub(crate) const JS_STACK_BYTES: usize = 2 * 1024 * 1024;

/// How a run ended, before it becomes an [`Outcome`].
enum Ended {
    Value(Json),
    Retry(RetryRequest),
    Error(ErrorInfo),
    Tripped(Trip),
}

/// Runs `spec` to its end.
pub(crate) async fn run(
    spec: RunSpec,
    guard: Arc<Guard>,
    logs: Arc<LogSink>,
    started: Instant,
) -> Outcome {
    let (ended, host) = match crate::typescript::prepare(&spec.script, spec.language) {
        Err(error) => (
            Ended::Error(ErrorInfo {
                message: error.message,
                stack: None,
                line: error.line,
                column: error.column,
            }),
            None,
        ),
        Ok(prepared) => {
            let host = Arc::new(Host::new(
                &spec,
                prepared,
                Arc::clone(&guard),
                Arc::clone(&logs),
            ));
            (execute(&spec, &host).await, Some(host))
        }
    };
    // A limit that tripped explains whatever the script did afterwards, even
    // a caught out-of-memory error or a result computed just too late (the
    // deadline may have passed a moment before the watchdog noticed).
    guard.is_over();
    let ended = guard.tripped().map_or(ended, Ended::Tripped);
    let continuation = host.as_ref().and_then(|host| host.take_continuation());
    let http_calls = host
        .as_ref()
        .map(|host| host.http.take_calls())
        .unwrap_or_default();
    let (status, result, error, retry) = match ended {
        Ended::Value(result) => (RunStatus::Succeeded, result, None, None),
        Ended::Retry(retry) => (
            RunStatus::Failed,
            Json::Null,
            Some(ErrorInfo::message(retry_message(&retry))),
            Some(retry),
        ),
        Ended::Error(error) => (RunStatus::Failed, Json::Null, Some(error), None),
        Ended::Tripped(Trip::Aborted) => {
            let error = host.as_ref().and_then(|host| host.take_failure());
            let error = error.unwrap_or_else(|| ErrorInfo::message("the run was aborted"));
            (RunStatus::Failed, Json::Null, Some(error), None)
        }
        Ended::Tripped(trip) => {
            let (status, message) = tripped(trip, &spec);
            (status, Json::Null, Some(ErrorInfo::message(message)), None)
        }
    };
    Outcome {
        continuation: continuation.filter(|_| status == RunStatus::Succeeded),
        status,
        result,
        error,
        logs: logs.finish(),
        http_calls,
        duration: started.elapsed(),
        peak_memory_bytes: guard.peak_bytes() as u64,
        retry,
    }
}

fn tripped(trip: Trip, spec: &RunSpec) -> (RunStatus, String) {
    match trip {
        Trip::Timeout => (
            RunStatus::TimedOut,
            format!("timed out after {}", human_duration(spec.limits.timeout)),
        ),
        Trip::Cancelled => (RunStatus::Cancelled, String::from("cancelled")),
        Trip::Shutdown => (RunStatus::Cancelled, String::from("the executor shut down")),
        Trip::Aborted => (RunStatus::Failed, String::from("the run was aborted")),
        Trip::Memory => (
            RunStatus::Failed,
            format!(
                "memory limit exceeded ({})",
                human_bytes(spec.limits.memory_bytes)
            ),
        ),
    }
}

fn retry_message(retry: &RetryRequest) -> String {
    let mut message = String::from("the consumer returned an InvocationError asking to be retried");
    if let Some(reason) = &retry.retry_reason {
        message.push_str(&format!(" ({reason})"));
    }
    if let Some(after) = retry.retry_after_seconds {
        message.push_str(&format!(" after {after} s"));
    }
    message
}

pub(crate) fn human_bytes(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    const KIB: usize = 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

pub(crate) fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis.is_multiple_of(60_000) {
        format!("{} min", millis / 60_000)
    } else {
        let seconds = format!("{:.3}", duration.as_secs_f64());
        format!("{} s", seconds.trim_end_matches('0').trim_end_matches('.'))
    }
}

async fn execute(spec: &RunSpec, host: &Arc<Host>) -> Ended {
    if let Some(trip) = host.guard.tripped() {
        return Ended::Tripped(trip);
    }
    let runtime = match AsyncRuntime::new_with_alloc(CappedAllocator::new(Arc::clone(&host.guard)))
    {
        Ok(runtime) => runtime,
        Err(error) => return engine_failure(&error),
    };
    let guard = Arc::clone(&host.guard);
    runtime
        .set_interrupt_handler(Some(Box::new(move || guard.should_interrupt())))
        .await;
    runtime.set_max_stack_size(JS_STACK_BYTES).await;
    runtime.set_loader(BuiltinModules, BuiltinModules).await;
    runtime
        .set_host_promise_rejection_tracker(Some(host::rejection_tracker(host)))
        .await;
    let context = match AsyncContext::full(&runtime).await {
        Ok(context) => context,
        Err(error) => return engine_failure(&error),
    };
    host.guard.arm();
    let info = host::info_json(spec);
    let ended = tokio::select! {
        biased;
        trip = host.guard.wait_tripped() => Ended::Tripped(trip),
        ended = context.async_with(async |ctx| drive(ctx, host, info).await) => ended,
    };
    // Context before runtime; any future still holding script values went with the select.
    drop(context);
    drop(runtime);
    ended
}

fn engine_failure(error: &rquickjs::Error) -> Ended {
    Ended::Error(ErrorInfo::message(format!(
        "the JavaScript engine could not start: {error}"
    )))
}

/// Inside the context: installs the globals, runs the script and waits for
/// its result, an uncaught exception or an unhandled rejection.
async fn drive<'js>(ctx: Ctx<'js>, host: &Arc<Host>, info: String) -> Ended {
    let form = host.prepared.form;
    // `_timers` owns the pending callbacks until this future ends, however it ends.
    let _timers = match install(&ctx, host, info, form) {
        Ok(installed) => installed,
        Err(error) => return Ended::Error(caught(&ctx, error, &host.prepared)),
    };
    let main = start(&ctx, &host.prepared);
    tokio::pin!(main);
    let settled = loop {
        tokio::select! {
            biased;
            settled = &mut main => break settled,
            () = host.failure_signalled() => {
                // Let queued jobs run first: a handler attached in this turn
                // makes a rejection handled, as in Node.
                tokio::task::yield_now().await;
                if let Some(error) = host.take_failure() {
                    return Ended::Error(error);
                }
            }
        }
    };
    let value = match settled {
        Ok(value) => value,
        Err(error) => return Ended::Error(error),
    };
    // Jobs queued by the script's last turn still run, and may reject.
    tokio::task::yield_now().await;
    if let Some(error) = host.take_failure() {
        return Ended::Error(error);
    }
    settle(&ctx, host, value)
}

fn install<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    info: String,
    form: ScriptForm,
) -> rquickjs::Result<TimerQueue<'js>> {
    let guard = Arc::clone(&host.guard);
    let stopped = Function::new(ctx.clone(), move || guard.is_over())?;
    precompiled::default_export(ctx, Script::Harden)?.call::<_, ()>((stopped,))?;
    globals::install_web_globals(ctx)?;
    console::install(ctx, &host.logs)?;
    let timers = timers::install(ctx, host)?;
    host::install_forge(ctx, host, info, form)?;
    Ok(timers)
}

/// An engine error as the script's error; `Exception` carries the thrown value.
fn caught(ctx: &Ctx<'_>, error: rquickjs::Error, prepared: &Prepared) -> ErrorInfo {
    match error {
        rquickjs::Error::Exception => describe(ctx, &ctx.catch(), prepared),
        other => ErrorInfo::message(other.to_string()),
    }
}

/// Evaluates the script and calls it: the body function (script style) or
/// the exported handler (module style). Resolves to its result.
async fn start<'js>(ctx: &Ctx<'js>, prepared: &Prepared) -> Result<Value<'js>, ErrorInfo> {
    let outcome = match prepared.form {
        ScriptForm::Script => start_script(ctx, prepared).await,
        ScriptForm::Module => start_module(ctx, prepared).await,
    };
    outcome.map_err(|error| caught(ctx, error, prepared))
}

pub(crate) fn script_options() -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(String::from(SCRIPT_FILE));
    options
}

async fn start_script<'js>(ctx: &Ctx<'js>, prepared: &Prepared) -> rquickjs::Result<Value<'js>> {
    let body: Function<'js> = ctx.eval_with_options(prepared.code.as_str(), script_options())?;
    let promise: Promise<'js> = body.call(())?;
    promise.into_future::<Value<'js>>().await
}

async fn start_module<'js>(ctx: &Ctx<'js>, prepared: &Prepared) -> rquickjs::Result<Value<'js>> {
    let module = Module::declare(ctx.clone(), SCRIPT_FILE, prepared.code.as_str())?;
    let (module, evaluated) = module.eval()?;
    evaluated.into_future::<Value<'js>>().await?;
    let namespace = module.namespace()?;
    let handler = handler_of(ctx, &namespace)?;
    let surface = host::surface(ctx)?;
    let event: Value<'js> = surface.get("event")?;
    let context: Value<'js> = surface.get("context")?;
    let result: Value<'js> = handler.call((event, context))?;
    match result.as_promise() {
        Some(promise) => promise.clone().into_future::<Value<'js>>().await,
        None => Ok(result),
    }
}

/// The exported `run`, `handler` or default function, in that order.
fn handler_of<'js>(ctx: &Ctx<'js>, namespace: &Object<'js>) -> rquickjs::Result<Function<'js>> {
    for name in ["run", "handler", "default"] {
        if let Some(function) = namespace.get::<_, Value<'js>>(name)?.into_function() {
            return Ok(function);
        }
    }
    Err(rquickjs::Exception::throw_type(
        ctx,
        "the module exports no function named run or handler and no default function; \
         write `export async function run(event, context) { … }`",
    ))
}

/// The script's result as JSON within the result limit, or its retry request.
fn settle<'js>(ctx: &Ctx<'js>, host: &Arc<Host>, value: Value<'js>) -> Ended {
    let settled = match settled_json(ctx, value) {
        Ok(settled) => settled,
        Err(error) => {
            let mut error = caught(ctx, error, &host.prepared);
            error.message = format!("the result cannot be converted to JSON: {}", error.message);
            return Ended::Error(error);
        }
    };
    let json = match settled {
        Settled::Retry(options) => return Ended::Retry(retry_request(&options)),
        Settled::Json(None) => return Ended::Value(Json::Null),
        Settled::Json(Some(json)) => json,
    };
    let limit = host.result_limit();
    if json.len() > limit {
        return Ended::Error(ErrorInfo::message(format!(
            "the result is {} bytes as JSON; the limit is {}",
            json.len(),
            human_bytes(limit)
        )));
    }
    match serde_json::from_str(&json) {
        Ok(result) => Ended::Value(result),
        Err(_) => Ended::Error(ErrorInfo::message(
            "the result is nested too deeply (at most 128 levels)",
        )),
    }
}

enum Settled {
    /// The result as JSON; `None` for `undefined` and other values JSON omits.
    Json(Option<String>),
    /// The options of a returned `InvocationError`, as JSON.
    Retry(String),
}

/// The result as JSON text. Only a script that used the Forge API can have
/// returned an `InvocationError`, so the surface's `settle` is asked then only.
fn settled_json<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Settled> {
    let Some(surface) = host::built_surface(ctx) else {
        let json = ctx.json_stringify(value)?;
        return Ok(Settled::Json(
            json.map(|json| json.to_string()).transpose()?,
        ));
    };
    let settle: Function<'js> = surface.get("settle")?;
    let settled: Object<'js> = settle.call((value,))?;
    if let Some(retry) = settled.get::<_, Option<String>>("retry")? {
        return Ok(Settled::Retry(retry));
    }
    Ok(Settled::Json(settled.get("json")?))
}

/// `new InvocationError({ retryAfter, retryReason, retryData })` as a request.
fn retry_request(options: &str) -> RetryRequest {
    let options: Json = serde_json::from_str(options).unwrap_or(Json::Null);
    RetryRequest {
        retry_after_seconds: options
            .get("retryAfter")
            .and_then(Json::as_f64)
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(|seconds| seconds.ceil() as u64),
        retry_reason: options
            .get("retryReason")
            .and_then(Json::as_str)
            .map(str::to_owned),
        retry_data: options.get("retryData").cloned(),
    }
}
