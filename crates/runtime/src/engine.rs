//! One run, from the user's text to its [`Outcome`].
//!
//! Each run gets a fresh full context on a QuickJS runtime (an engine, with
//! the capped allocator of [`limits`](crate::limits)) that its executor
//! keeps between runs. The context is dropped at the end of the run, and the
//! engine is kept only when the run left nothing behind in it (see
//! [`Engine::give_back`]): nothing of one run is visible to the next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use egress::CallRecord;
use rquickjs::context::EvalOptions;
use rquickjs::{AsyncContext, AsyncRuntime, Ctx, Function, Module, Object, Promise, Value};
use serde_json::Value as Json;

use crate::handler::{self, Export};
use crate::host::{self, Host};
use crate::js_error::describe;
use crate::limits::{CappedAllocator, Guard, Meter, Trip};
use crate::logs::LogSink;
use crate::mask::Masker;
use crate::modules::BuiltinModules;
use crate::outcome::{ErrorInfo, LogLevel, Outcome, RetryRequest, RunStatus};
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

/// Runs `spec` to its end. The engine it ran on comes back as
/// [`Leftovers`], to be put away once the outcome is delivered.
pub(crate) async fn run(
    spec: RunSpec,
    guard: Arc<Guard>,
    logs: Arc<LogSink>,
    started: Instant,
    pool: &EnginePool,
) -> (Outcome, Option<Leftovers>) {
    let prepared = crate::typescript::prepare(&spec.script, spec.language)
        .map(|prepared| prepared.named(spec.display_name()));
    let (ended, host, leftovers) = match prepared {
        Err(error) => (
            Ended::Error(ErrorInfo {
                message: error.message,
                stack: None,
                line: error.line,
                column: error.column,
            }),
            None,
            None,
        ),
        Ok(prepared) => match crate::node::resolve_env(&spec).await {
            Err(error) => (Ended::Error(error), None, None),
            Ok(env) => {
                let mut host = Host::new(&spec, prepared, Arc::clone(&guard), Arc::clone(&logs));
                host.env = env;
                let host = Arc::new(host);
                let (ended, leftovers) = execute(&spec, &host, pool).await;
                (ended, Some(host), leftovers)
            }
        },
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
    let mask = logs.masker();
    let outcome = Outcome {
        continuation: continuation.filter(|_| status == RunStatus::Succeeded),
        status,
        result: mask.json(result),
        error: error.map(|error| mask_error(mask, error)),
        logs: logs.finish(),
        http_calls: http_calls
            .into_iter()
            .map(|call| mask_call(mask, call))
            .collect(),
        duration: started.elapsed(),
        peak_memory_bytes: guard.peak_bytes() as u64,
        retry,
    };
    (outcome, leftovers)
}

fn mask_error(mask: &Masker, error: ErrorInfo) -> ErrorInfo {
    ErrorInfo {
        message: mask.text(&error.message),
        stack: error.stack.map(|stack| mask.text(&stack)),
        ..error
    }
}

fn mask_call(mask: &Masker, call: CallRecord) -> CallRecord {
    CallRecord {
        url: mask.text(&call.url),
        error: call.error.map(|error| mask.text(&error)),
        ..call
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
    if let Some(after) = retry.retry_after {
        message.push_str(&format!(" after {}", human_duration(after)));
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

async fn execute(
    spec: &RunSpec,
    host: &Arc<Host>,
    pool: &EnginePool,
) -> (Ended, Option<Leftovers>) {
    if let Some(trip) = host.guard.tripped() {
        return (Ended::Tripped(trip), None);
    }
    let mut engine = match Engine::take(pool).await {
        Ok(engine) => engine,
        Err(error) => return (engine_failure(&error), None),
    };
    let runtime = &engine.runtime;
    let guard = Arc::clone(&host.guard);
    runtime
        .set_interrupt_handler(Some(Box::new(move || guard.should_interrupt())))
        .await;
    runtime
        .set_host_promise_rejection_tracker(Some(host::rejection_tracker(host)))
        .await;
    let context = match engine.ready.take() {
        Some(context) => context,
        None => match furnished_context(runtime, &engine.meter).await {
            Ok(context) => context,
            Err(error) => return (engine_failure(&error), None),
        },
    };
    host.guard.arm(&engine.meter);
    let info = host::info_json(spec);
    let ended = tokio::select! {
        biased;
        trip = host.guard.wait_tripped() => Ended::Tripped(trip),
        ended = context.async_with(async |ctx| drive(ctx, host, info).await) => ended,
    };
    // The run's memory is over (its peak goes in the outcome); what putting
    // its context away frees is counted, not capped.
    host.guard.disarm();
    let leftovers = Leftovers {
        engine,
        context,
        clean: host.guard.tripped().is_none(),
    };
    (ended, Some(leftovers))
}

/// An ended run's context and the engine it ran on, to be put away after
/// its outcome is delivered: dropping a context and collecting the engine
/// cost about as much as the run's own work, and nothing in the outcome
/// depends on them.
pub(crate) struct Leftovers {
    engine: Engine,
    context: AsyncContext,
    /// No limit tripped, so the engine may serve another run.
    clean: bool,
}

impl Leftovers {
    /// Drops the run's context and gives its engine back to `pool`, if the
    /// run left it clean, with the next run's context made ready.
    pub(crate) async fn put_away(self, pool: &EnginePool) {
        let Self {
            engine,
            context,
            clean,
        } = self;
        // Any future still holding script values went with the run; the
        // context goes before the engine is kept or dropped, and nothing the
        // engine holds may keep it alive.
        let released = context.with(|ctx| uninstall(&ctx)).await;
        drop(context);
        engine.give_back(clean && released, pool).await;
    }
}

/// A QuickJS runtime with its capped allocator: serves one run at a time,
/// each in a fresh full context, and is kept in its executor's
/// [`EnginePool`] between runs.
struct Engine {
    runtime: AsyncRuntime,
    meter: Arc<Meter>,
    /// A bare, frozen context never given to a run (see [`seal`]); kept for
    /// the engine's life.
    _seal: AsyncContext,
    /// A fresh full context made while the engine waited in the pool, for
    /// its next run: creating one is a third of a trivial run's cost, paid
    /// here off the next run's path.
    ready: Option<AsyncContext>,
}

/// QuickJS collects cycles once its heap grows past a threshold, 256 KiB at
/// first: a trivial run's own context and API cross it, so nearly every run
/// paid a collection of everything it had just built (a fifth of the CPU of
/// 1,000 concurrent runs, measured with `perf`). Ended runs are collected
/// when their engine is put away; past this floor, set again for each run,
/// QuickJS's own rule (collect again at 1.5 × what survived) bounds a run's
/// garbage.
const GC_THRESHOLD_BYTES: usize = 2 * 1024 * 1024;

/// An engine holding more than this between runs (after a garbage
/// collection) is dropped rather than kept.
const KEEP_AT_MOST_BYTES: usize = 4 * 1024 * 1024;

/// A run whose script heap peaked above this gives its memory back before
/// its outcome is reported; a smaller one reports first.
pub(crate) const REPORT_FIRST_AT_MOST_BYTES: u64 = 4 * 1024 * 1024;

/// Spare engines kept at most: enough for the runs that end and start
/// around the same moment; a burst beyond creates engines and drops the
/// surplus as it ends.
const SPARE_ENGINES: usize = 64;

impl Engine {
    /// A spare engine, or a new one.
    async fn take(pool: &EnginePool) -> rquickjs::Result<Self> {
        let engine = match pool.pop() {
            Some(engine) => {
                pool.reused.fetch_add(1, Ordering::Relaxed);
                engine
            }
            None => {
                let engine = Self::new().await?;
                pool.started.fetch_add(1, Ordering::Relaxed);
                engine
            }
        };
        // QuickJS measures its stack from where this is called: the stack of
        // this run's thread.
        engine.runtime.set_max_stack_size(JS_STACK_BYTES).await;
        // Each run starts from the floor: QuickJS lowers the threshold to
        // 1.5 × what survived its last collection.
        engine.runtime.set_gc_threshold(GC_THRESHOLD_BYTES).await;
        Ok(engine)
    }

    async fn new() -> rquickjs::Result<Self> {
        let meter = Meter::new();
        let runtime = AsyncRuntime::new_with_alloc(CappedAllocator::new(Arc::clone(&meter)))?;
        runtime.set_loader(BuiltinModules, BuiltinModules).await;
        let seal = seal(&runtime).await?;
        // The context the seal was made from is garbage in cycles now: free
        // it before the first run rather than after it, so a new engine's
        // first run does not carry it (every run of a burst beyond the pool
        // is a first run).
        runtime.run_gc().await;
        Ok(Self {
            runtime,
            meter,
            _seal: seal,
            ready: None,
        })
    }

    /// Keeps the engine for a next run if its run ended `clean` (no limit
    /// tripped) and left nothing behind: no pending job or spawned future
    /// (they would belong to the context just dropped) and little memory
    /// once collected. The kept engine gets its next run's context now.
    /// Anything else drops it whole.
    async fn give_back(mut self, clean: bool, pool: &EnginePool) {
        if !clean {
            return;
        }
        self.runtime.set_interrupt_handler(None).await;
        self.runtime.set_host_promise_rejection_tracker(None).await;
        // Collecting may queue jobs too (finalization callbacks of the
        // dropped context), so look for jobs after it.
        self.runtime.run_gc().await;
        if self.runtime.is_job_pending().await
            || self.meter.used_bytes() > KEEP_AT_MOST_BYTES
            || !pool.has_room()
        {
            return;
        }
        // On failure the engine is dropped, and with it what the context
        // left in the runtime's user data.
        match furnished_context(&self.runtime, &self.meter).await {
            Ok(context) => self.ready = Some(context),
            Err(_) => return,
        }
        pool.push(self);
    }
}

/// Gives the engine a realm that no run ever uses, with nothing in it but
/// the two prototypes every realm has, frozen, and makes it the realm
/// rquickjs's functions take their prototype from.
///
/// rquickjs gives every Rust-backed function the `Function.prototype` it
/// cached from the context that made the engine's first one, and keeps it
/// (with that context, which the prototype holds) for the engine's life.
/// Our host functions are re-parented to their run's realm and promises are
/// awaited with such functions (`host_fn`), so nothing a script can reach
/// leads to the cached one; were it an earlier run's, the engine would still
/// keep that run's whole context alive. This realm holds no intrinsics (the
/// concurrent-runs bench measured 93 KiB less per engine than the frozen
/// base-objects realm it replaced), and were anything to lead to it, there
/// is nothing to write in it.
async fn seal(runtime: &AsyncRuntime) -> rquickjs::Result<AsyncContext> {
    // rquickjs makes contexts with the base objects at least; a bare one is
    // made from inside one (the runtime is locked there).
    let base = AsyncContext::base(runtime).await?;
    let raw = base.with(|ctx| new_bare_context(&ctx)).await?;
    drop(base);
    // SAFETY: `raw` was just created on this engine's runtime, and its one
    // reference is handed over here (dropping the context releases it).
    #[allow(unsafe_code)]
    let seal = unsafe { AsyncContext::from_raw(raw.0, runtime.clone()) };
    seal.with(|ctx| -> rquickjs::Result<()> {
        // Fills rquickjs's cache from this realm.
        Function::new(ctx.clone(), || ())?;
        let function_prototype = Function::prototype(ctx.clone());
        let object_prototype = function_prototype.get_prototype();
        freeze(&ctx, &function_prototype)?;
        if let Some(object_prototype) = object_prototype {
            freeze(&ctx, &object_prototype)?;
        }
        Ok(())
    })
    .await?;
    Ok(seal)
}

/// A context pointer that may cross the runtime's lock (it is only used by
/// the thread holding the runtime).
struct BareContext(std::ptr::NonNull<rquickjs::qjs::JSContext>);

// SAFETY: the pointer is only dereferenced under the runtime's lock, by the
// one thread that drives the engine.
#[allow(unsafe_code)]
unsafe impl Send for BareContext {}

/// A context of the runtime `ctx` belongs to with no intrinsics: only the
/// `Object.prototype` and `Function.prototype` every realm starts with.
#[allow(unsafe_code)]
fn new_bare_context(ctx: &Ctx<'_>) -> rquickjs::Result<BareContext> {
    // SAFETY: `ctx` is entered, so its runtime is locked by this thread.
    let raw = unsafe {
        let runtime = rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        rquickjs::qjs::JS_NewContextRaw(runtime)
    };
    std::ptr::NonNull::new(raw)
        .map(BareContext)
        .ok_or(rquickjs::Error::Allocation)
}

/// `Object.freeze(object)`.
#[allow(unsafe_code)]
fn freeze(ctx: &Ctx<'_>, object: &Object<'_>) -> rquickjs::Result<()> {
    // SAFETY: `object` is a live value of the entered context `ctx`.
    let frozen = unsafe { rquickjs::qjs::JS_FreezeObject(ctx.as_raw().as_ptr(), object.as_raw()) };
    if frozen < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

/// An executor's spare engines, how many it started and reused, and how
/// many ended runs' engines are being put away.
pub(crate) struct EnginePool {
    spares: Mutex<Vec<Engine>>,
    pub(crate) started: AtomicU64,
    pub(crate) reused: AtomicU64,
    putting_away: tokio::sync::watch::Sender<usize>,
}

impl Default for EnginePool {
    fn default() -> Self {
        Self {
            spares: Mutex::default(),
            started: AtomicU64::default(),
            reused: AtomicU64::default(),
            putting_away: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl EnginePool {
    fn pop(&self) -> Option<Engine> {
        self.lock().pop()
    }

    fn has_room(&self) -> bool {
        self.lock().len() < SPARE_ENGINES
    }

    fn push(&self, engine: Engine) {
        let mut spares = self.lock();
        if spares.len() < SPARE_ENGINES {
            spares.push(engine);
        }
    }

    /// Counts one ended run's engine as being put away until the returned
    /// token drops.
    pub(crate) fn putting_away(&self) -> PuttingAway<'_> {
        self.putting_away.send_modify(|count| *count += 1);
        PuttingAway(self)
    }

    /// Resolves once no ended run's engine is still being put away.
    pub(crate) async fn settled(&self) {
        let mut count = self.putting_away.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = count.wait_for(|count| *count == 0).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Engine>> {
        // A list of engines each left whole: consistent even after a panic.
        self.spares.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An ended run's engine being put away (see [`EnginePool::settled`]).
pub(crate) struct PuttingAway<'a>(&'a EnginePool);

impl Drop for PuttingAway<'_> {
    fn drop(&mut self) {
        self.0.putting_away.send_modify(|count| *count -= 1);
    }
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
    // `timers` owns the pending callbacks until this future ends, however it ends.
    let timers = match install(&ctx, host, info, form) {
        Ok(installed) => installed,
        Err(error) => return Ended::Error(caught(&ctx, error, &host.prepared)),
    };
    let main = start(&ctx, host);
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
    timers.cancel_pending();
    let ended = match settled {
        Ok(value) => {
            // Jobs queued by the script's last turn still run, and may reject.
            tokio::task::yield_now().await;
            match host.take_failure() {
                Some(error) => Ended::Error(error),
                None => settle(&ctx, host, value),
            }
        }
        Err(error) => Ended::Error(error),
    };
    // The result is decided; what the script left going cannot change it.
    run_queued_jobs(&ctx, host);
    land_unawaited_requests(host).await;
    ended
}

/// Promise jobs run after the result settles, at most: enough for the
/// turns a request takes to reach the host (`fetch` builds its request in
/// a few), bounded for a script that queues jobs endlessly.
const JOBS_AFTER_SETTLING: usize = 10_000;

/// Runs the promise jobs the script's last turn queued, as Node would
/// before its event loop idles: a request started without `await` is only
/// handed to the host a few jobs later.
fn run_queued_jobs(ctx: &Ctx<'_>, host: &Host) {
    for _ in 0..JOBS_AFTER_SETTLING {
        if host.guard.is_over() || !ctx.execute_pending_job() {
            return;
        }
    }
}

/// Requests the script did not await get this long to finish after its
/// result settles (Node would keep them going; a run must end).
const UNAWAITED_GRACE: Duration = Duration::from_secs(5);

/// The grace ends this long before the run's deadline, so waiting never
/// turns a settled run into a timed-out one.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// Lets the HTTP requests still in flight when the script's result settled
/// finish — for [`UNAWAITED_GRACE`] at most, and never past the run's
/// deadline — and cuts those that outlive it. Each is named in a warning;
/// each is in the run's `http_calls`. Timers are not waited for (they are
/// dropped when the result settles).
async fn land_unawaited_requests(host: &Host) {
    let unawaited = host.http.in_flight();
    if unawaited.is_empty() {
        return;
    }
    let left = host
        .guard
        .deadline()
        .saturating_duration_since(Instant::now())
        .saturating_sub(DEADLINE_MARGIN);
    let grace = UNAWAITED_GRACE.min(left);
    for request in &unawaited {
        host.logs.push(
            LogLevel::Warn,
            format!(
                "{request}: the script did not await this request; its result settled with the \
                 request in flight, which may take {} more to finish",
                human_duration(grace)
            ),
        );
    }
    if tokio::time::timeout(grace, host.http.all_landed())
        .await
        .is_ok()
    {
        return;
    }
    for request in host.http.in_flight() {
        host.logs.push(
            LogLevel::Warn,
            format!(
                "{request}: cut {} after the script's result, still unanswered",
                human_duration(grace)
            ),
        );
    }
    host.http.cut();
    // Cut requests end at their next poll; this only lets them be recorded.
    let _ = tokio::time::timeout(DEADLINE_MARGIN, host.http.all_landed()).await;
}

/// A fresh full context with what every run gets whatever the run: the
/// hardened built-ins and the web globals. On a kept engine it is made while
/// the engine waits for its next run, off that run's path (together they
/// were two fifths of a trivial run's own work, measured with `perf`).
async fn furnished_context(
    runtime: &AsyncRuntime,
    meter: &Arc<Meter>,
) -> rquickjs::Result<AsyncContext> {
    let context = AsyncContext::full(runtime).await?;
    let meter = Arc::clone(meter);
    context
        .with(|ctx| -> rquickjs::Result<()> {
            // The run is not known yet: its built-ins ask the engine for
            // whichever run it serves when they are called.
            let stopped =
                crate::host_fn::function(ctx.clone(), move || meter.serving_run_is_over())?;
            precompiled::default_export(&ctx, Script::Harden)?.call::<_, ()>((stopped,))?;
            globals::install_web_globals(&ctx)
        })
        .await?;
    Ok(context)
}

/// Installs the run's own surfaces on a [furnished](furnished_context) context.
fn install<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    info: String,
    form: ScriptForm,
) -> rquickjs::Result<TimerQueue<'js>> {
    crate::stack::install(ctx, &host.prepared, Arc::clone(&host.guard))?;
    console::install(ctx, &host.logs)?;
    let timers = timers::install(ctx, host)?;
    host::install_forge(ctx, host, info, form)?;
    crate::node::install(ctx, host, form)?;
    Ok(timers)
}

/// Undoes what [`install`] left in the engine rather than in the context:
/// the user data of the API surfaces, which is the runtime's and would keep
/// the ended run's context (and everything it reaches) alive. `false` if
/// some of it could not be dropped; the engine must not be kept then.
fn uninstall(ctx: &Ctx<'_>) -> bool {
    let forge = host::uninstall_forge(ctx);
    let node = crate::node::uninstall(ctx);
    let web = globals::uninstall_web_globals(ctx);
    forge && node && web
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
async fn start<'js>(ctx: &Ctx<'js>, host: &Host) -> Result<Value<'js>, ErrorInfo> {
    let prepared = &host.prepared;
    let handler = host.handler.as_deref();
    let outcome = match prepared.form {
        ScriptForm::Script => start_script(ctx, prepared, handler).await,
        ScriptForm::Module => start_module(ctx, prepared, handler).await,
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

/// A script-style body; when it returns nothing and filled `module.exports`
/// (a CommonJS module), the handler it exports is called as a module's is.
async fn start_script<'js>(
    ctx: &Ctx<'js>,
    prepared: &Prepared,
    handler: Option<&str>,
) -> rquickjs::Result<Value<'js>> {
    let body: Function<'js> = ctx.eval_with_options(prepared.code.as_str(), script_options())?;
    let promise: Promise<'js> = body.call(())?;
    let value: Value<'js> = crate::host_fn::settled(promise).await?;
    if !value.is_undefined() {
        return Ok(value);
    }
    match crate::node::commonjs_exports(ctx)? {
        Some(exports) => call_handler(ctx, &exports, handler).await,
        None => Ok(value),
    }
}

async fn start_module<'js>(
    ctx: &Ctx<'js>,
    prepared: &Prepared,
    handler: Option<&str>,
) -> rquickjs::Result<Value<'js>> {
    let module = Module::declare(ctx.clone(), SCRIPT_FILE, prepared.code.as_str())?;
    let (module, evaluated) = module.eval()?;
    crate::host_fn::settled::<Value<'js>>(evaluated).await?;
    let namespace = module.namespace()?;
    call_handler(ctx, &namespace.into_value(), handler).await
}

/// Calls the handler `exports` holds as `handler(event, context)` and awaits it.
async fn call_handler<'js>(
    ctx: &Ctx<'js>,
    exports: &Value<'js>,
    wanted: Option<&str>,
) -> rquickjs::Result<Value<'js>> {
    let handler = handler_of(ctx, exports, wanted)?;
    let surface = host::surface(ctx)?;
    let event: Value<'js> = surface.get("event")?;
    let context: Value<'js> = surface.get("context")?;
    let result: Value<'js> = handler.call((event, context))?;
    match result.as_promise() {
        Some(promise) => crate::host_fn::settled(promise.clone()).await,
        None => Ok(result),
    }
}

/// The function to call (see [`handler::pick`]): from the exports, or, when
/// they hold none and their default is a plain object (`export default { run }`,
/// a bundled CommonJS module), from that object. A CommonJS
/// `module.exports = function` is that function.
fn handler_of<'js>(
    ctx: &Ctx<'js>,
    exports: &Value<'js>,
    wanted: Option<&str>,
) -> rquickjs::Result<Function<'js>> {
    if let Some(function) = exports.as_function() {
        return Ok(function.clone());
    }
    let Some(object) = exports.as_object() else {
        return Err(rquickjs::Exception::throw_type(
            ctx,
            "the module exports nothing",
        ));
    };
    let listed = export_list(object)?;
    let picked = match handler::pick(wanted, &listed) {
        Ok(name) => return object.get(name),
        Err(message) => message,
    };
    let default: Value<'js> = object.get("default")?;
    if let Some(inner) = default.as_object().filter(|_| !default.is_function()) {
        let inner_list = export_list(inner)?;
        if let Ok(name) = handler::pick(wanted, &inner_list) {
            return inner.get(name);
        }
    }
    Err(rquickjs::Exception::throw_type(ctx, &picked))
}

fn export_list<'js>(object: &Object<'js>) -> rquickjs::Result<Vec<Export>> {
    let mut list = Vec::new();
    for name in object.keys::<String>() {
        let name = name?;
        let is_function = object.get::<_, Value<'js>>(name.as_str())?.is_function();
        list.push(Export { name, is_function });
    }
    Ok(list)
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
        retry_after: options
            .get("retryAfter")
            .and_then(Json::as_f64)
            .and_then(crate::queue::seconds_to_millis),
        retry_reason: options
            .get("retryReason")
            .and_then(Json::as_str)
            .map(str::to_owned),
        retry_data: options.get("retryData").cloned(),
    }
}
