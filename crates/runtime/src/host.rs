//! The run's side of the sandbox: per-run state the script's native functions
//! share ([`Host`]), the Forge surface built from `forge.js` over those
//! functions (the modules a script imports are in `modules`).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use rquickjs::object::Property;
use rquickjs::prelude::Opt;
use rquickjs::{ArrayBuffer, Ctx, Exception, Function, Object, Promise, Value};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::Notify;

use crate::bytes::copy_bytes;
use crate::entity::EntityCatalog;
use crate::host_fn::HostAccessor;
use crate::http::{self, HttpContext, HttpFailure, RequestMeta};
use crate::kv::{self, KvRequest, KvStore};
use crate::limits::{Guard, Trip};
use crate::logs::LogSink;
use crate::outcome::{Continuation, ErrorInfo};
use crate::precompiled::Script;
use crate::queue::{self, QueueBackend, QueueRequest};
use crate::source::{Prepared, ScriptForm};
use crate::spec::RunSpec;

/// Native calls a run may have in flight; beyond it a call throws at once
/// (each holds host memory outside the script's capped heap).
const MAX_PENDING_CALLS: usize = 10_000;
/// Largest chain state, as JSON.
pub(crate) const MAX_STATE_BYTES: usize = 1024 * 1024;
/// Longest pause between chunks of a chain: one week.
pub(crate) const MAX_CHAIN_DELAY_SECONDS: u64 = 7 * 24 * 3600;

/// What a run's native functions share.
pub(crate) struct Host {
    pub(crate) guard: Arc<Guard>,
    pub(crate) logs: Arc<LogSink>,
    pub(crate) prepared: Prepared,
    pub(crate) http: HttpContext,
    /// The job's `handler`, the exported function a module is called as.
    pub(crate) handler: Option<String>,
    /// `process.env`, secrets resolved (see [`crate::node::resolve_env`]).
    pub(crate) env: std::collections::BTreeMap<String, String>,
    kv: Arc<dyn KvStore>,
    entities: Arc<EntityCatalog>,
    queue: Arc<dyn QueueBackend>,
    continuation: Mutex<Option<Continuation>>,
    failures: Mutex<Failures>,
    failed: Notify,
    pending_calls: AtomicUsize,
    result_bytes: usize,
}

/// Unhandled rejections a run may accumulate in one turn; beyond it the run fails.
const MAX_UNHANDLED: usize = 100_000;
/// Unhandled rejections described in full at once (describing costs; the
/// first one still unhandled is the one reported).
const MAX_DESCRIBED: usize = 100;

/// Errors that end the run from outside the script's main flow.
#[derive(Default)]
struct Failures {
    /// An exception thrown by a timer callback: final.
    uncaught: Option<ErrorInfo>,
    /// Rejected promises without a handler, by promise identity, in order of
    /// rejection; a handler attached before the jobs queue drains removes
    /// them again.
    unhandled: HashMap<u64, Unhandled>,
    next_seq: u64,
    described: usize,
}

struct Unhandled {
    seq: u64,
    error: Option<ErrorInfo>,
}

impl Host {
    pub(crate) fn new(
        spec: &RunSpec,
        prepared: Prepared,
        guard: Arc<Guard>,
        logs: Arc<LogSink>,
    ) -> Self {
        for credential in [&spec.sites.app, &spec.sites.user].into_iter().flatten() {
            logs.masker().learn(credential.secret());
        }
        Self {
            http: HttpContext::new(
                spec.sites.clone(),
                spec.services.http.clone(),
                guard.deadline(),
                Arc::clone(&logs),
            ),
            guard,
            logs,
            prepared,
            handler: spec.handler.clone(),
            env: std::collections::BTreeMap::new(),
            kv: Arc::clone(&spec.services.kv),
            entities: Arc::clone(&spec.services.entities),
            queue: Arc::clone(&spec.services.queue),
            continuation: Mutex::new(None),
            failures: Mutex::new(Failures::default()),
            failed: Notify::new(),
            pending_calls: AtomicUsize::new(0),
            result_bytes: spec.limits.result_bytes,
        }
    }

    /// The largest result, in bytes of JSON.
    pub(crate) fn result_limit(&self) -> usize {
        self.result_bytes
    }

    fn failures(&self) -> MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An uncaught exception (from a timer callback) ends the run.
    pub(crate) fn fail(&self, error: ErrorInfo) {
        self.failures().uncaught.get_or_insert(error);
        self.failed.notify_one();
    }

    /// The rejection tracker: a promise rejected with no handler (with its
    /// description, if wanted), or one that got a handler.
    fn track_rejection(&self, promise: u64, rejected: Option<&dyn Fn() -> ErrorInfo>) {
        let mut failures = self.failures();
        let Some(describe) = rejected else {
            if let Some(handled) = failures.unhandled.remove(&promise)
                && handled.error.is_some()
            {
                failures.described -= 1;
            }
            return;
        };
        if failures.unhandled.len() >= MAX_UNHANDLED {
            failures.uncaught.get_or_insert_with(|| {
                ErrorInfo::message(format!(
                    "too many unhandled promise rejections (more than {MAX_UNHANDLED})"
                ))
            });
            // The script may never yield to let the failure be seen: stop it.
            self.guard.trip(Trip::Aborted);
        } else if !failures.unhandled.contains_key(&promise) {
            // Ids are addresses: a promise collected while still unhandled
            // leaves its address to a new one. Its rejection stands (Node
            // reports it however the promise ends), so the first is kept.
            let error = (failures.described < MAX_DESCRIBED).then(describe);
            failures.described += usize::from(error.is_some());
            let seq = failures.next_seq;
            failures.next_seq += 1;
            failures.unhandled.insert(promise, Unhandled { seq, error });
        }
        drop(failures);
        self.failed.notify_one();
    }

    /// Resolves when an uncaught exception or unhandled rejection may have happened.
    pub(crate) async fn failure_signalled(&self) {
        self.failed.notified().await;
    }

    /// The error that ends the run, if any: an uncaught exception, else the
    /// first rejection that is still unhandled.
    pub(crate) fn take_failure(&self) -> Option<ErrorInfo> {
        let mut failures = self.failures();
        if let Some(error) = failures.uncaught.take() {
            return Some(error);
        }
        let first = failures.unhandled.values().min_by_key(|entry| entry.seq)?;
        Some(first.error.clone().unwrap_or_else(|| {
            ErrorInfo::message("a promise was rejected and nothing handled the rejection")
        }))
    }

    pub(crate) fn take_continuation(&self) -> Option<Continuation> {
        self.continuation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Reserves a slot for a native call in flight.
    fn reserve_call(self: &Arc<Self>) -> Option<CallSlot> {
        let pending = self.pending_calls.fetch_add(1, Ordering::Relaxed);
        let slot = CallSlot(Arc::clone(self));
        (pending < MAX_PENDING_CALLS).then_some(slot)
    }
}

struct CallSlot(Arc<Host>);

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.0.pending_calls.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The rejection tracker of a run's engine.
pub(crate) fn rejection_tracker(host: &Arc<Host>) -> rquickjs::runtime::RejectionTracker {
    let host = Arc::clone(host);
    Box::new(move |ctx, promise, reason, is_handled| {
        let mut hasher = std::hash::DefaultHasher::new();
        promise.hash(&mut hasher);
        let id = hasher.finish();
        if is_handled {
            host.track_rejection(id, None);
        } else {
            let describe = || crate::js_error::describe(&ctx, &reason, &host.prepared);
            host.track_rejection(id, Some(&describe));
        }
    })
}

// ---------------------------------------------------------------------------
// Native calls returning promises

/// Runs `call` as a promise of the script. Fails at once (a `RangeError`)
/// when too many calls are in flight, so a loop that never awaits cannot
/// pile up host memory.
fn promise_call<'js, F>(ctx: &Ctx<'js>, host: &Arc<Host>, call: F) -> rquickjs::Result<Promise<'js>>
where
    F: Future<Output = rquickjs::Result<Value<'js>>> + 'js,
{
    let Some(slot) = host.reserve_call() else {
        return Err(Exception::throw_range(
            ctx,
            &format!(
                "too many storage, queue or HTTP calls in flight (the limit is {MAX_PENDING_CALLS})"
            ),
        ));
    };
    let (promise, resolve, reject) = ctx.promise()?;
    let ctx = ctx.clone();
    ctx.clone().spawn(async move {
        let settled = match call.await {
            Ok(value) => resolve.call::<_, ()>((value,)),
            Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),)),
            Err(other) => {
                let error = Exception::from_message(ctx.clone(), &other.to_string());
                match error {
                    Ok(error) => reject.call::<_, ()>((error,)),
                    Err(e) => Err(e),
                }
            }
        };
        drop(slot);
        // Settling fails only when the engine refuses to allocate (a limit
        // has tripped); the run is ending then.
        let _ = settled;
    });
    Ok(promise)
}

/// A native taking one JSON request and answering JSON (storage, queues):
/// `call` validates and performs it; its `Err` becomes the script's `Error`.
fn json_function<'js, R, F, Fut>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    what: &'static str,
    call: F,
) -> rquickjs::Result<Function<'js>>
where
    R: DeserializeOwned + 'js,
    F: Fn(Arc<Host>, R) -> Fut + 'js,
    Fut: Future<Output = Result<serde_json::Value, String>> + 'js,
{
    let host = Arc::clone(host);
    crate::host_fn::function(ctx.clone(), move |ctx: Ctx<'js>, request: String| {
        let request: R = serde_json::from_str(&request)
            .map_err(|e| Exception::throw_type(&ctx, &format!("invalid {what} call: {e}")))?;
        let answer = call(Arc::clone(&host), request);
        let call_ctx = ctx.clone();
        promise_call(&ctx, &host, async move {
            match answer.await {
                Ok(answer) => rquickjs::String::from_str(call_ctx.clone(), &answer.to_string())
                    .map(Value::from),
                Err(message) => Err(Exception::throw_message(&call_ctx, &message)),
            }
        })
    })
}

fn kv_function<'js>(ctx: &Ctx<'js>, host: &Arc<Host>) -> rquickjs::Result<Function<'js>> {
    json_function(
        ctx,
        host,
        "storage",
        |host: Arc<Host>, request: KvRequest| async move {
            let reads_secret = matches!(request, KvRequest::GetSecret { .. });
            let answer = kv::call(&*host.kv, &host.entities, request)
                .await
                .map_err(|error| error.0)?;
            if reads_secret {
                host.logs.masker().learn_json(&answer);
            }
            Ok(answer)
        },
    )
}

fn queue_function<'js>(ctx: &Ctx<'js>, host: &Arc<Host>) -> rquickjs::Result<Function<'js>> {
    json_function(
        ctx,
        host,
        "queue",
        |host: Arc<Host>, request: QueueRequest| async move { queue::call(&*host.queue, request).await },
    )
}

fn http_function<'js>(ctx: &Ctx<'js>, host: &Arc<Host>) -> rquickjs::Result<Function<'js>> {
    let host = Arc::clone(host);
    crate::host_fn::function(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              meta: String,
              body: Opt<Value<'js>>|
              -> rquickjs::Result<Promise<'js>> {
            let meta: RequestMeta = serde_json::from_str(&meta)
                .map_err(|e| Exception::throw_type(&ctx, &format!("invalid request: {e}")))?;
            let body = match body.0 {
                None => None,
                Some(value) if value.is_undefined() || value.is_null() => None,
                Some(value) => match value.as_string() {
                    Some(text) => Some(text.to_string()?.into_bytes()),
                    None => Some(copy_bytes(&value).ok_or_else(|| {
                        Exception::throw_type(&ctx, "the request body could not be read")
                    })?),
                },
            };
            let call_host = Arc::clone(&host);
            let call_ctx = ctx.clone();
            // In flight from this call on, even before its future first runs.
            let (resolved, flight) = host.http.take_off(meta);
            promise_call(&ctx, &host, async move {
                let sent = http::send(&call_host.http, resolved, body).await;
                drop(flight);
                match sent {
                    Ok((response, bytes)) => {
                        let meta = serde_json::to_string(&response)
                            .map_err(|e| Exception::throw_internal(&call_ctx, &e.to_string()))?;
                        let answer = rquickjs::Array::new(call_ctx.clone())?;
                        answer.set(0, meta)?;
                        // A copy in the script's heap, so it counts against the memory limit.
                        answer.set(1, ArrayBuffer::new_copy(call_ctx.clone(), &bytes)?)?;
                        Ok(answer.into_value())
                    }
                    Err(HttpFailure::TypeError(message)) => {
                        Err(Exception::throw_type(&call_ctx, &message))
                    }
                    Err(HttpFailure::Error(message)) => {
                        Err(Exception::throw_message(&call_ctx, &message))
                    }
                }
            })
        },
    )
}

// ---------------------------------------------------------------------------
// Synchronous natives

fn remaining_time_function<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
) -> rquickjs::Result<Function<'js>> {
    let guard = Arc::clone(&host.guard);
    crate::host_fn::function(ctx.clone(), move || {
        guard
            .deadline()
            .saturating_duration_since(Instant::now())
            .as_millis() as f64
    })
}

fn continue_with_function<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
) -> rquickjs::Result<Function<'js>> {
    let host = Arc::clone(host);
    crate::host_fn::function(
        ctx.clone(),
        move |ctx: Ctx<'js>, state: String, delay: Value<'js>| {
            let continuation = continuation(&state, &delay).map_err(|error| match error {
                ContinueError::Type(message) => Exception::throw_type(&ctx, &message),
                ContinueError::Range(message) => Exception::throw_range(&ctx, &message),
            })?;
            *host
                .continuation
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(continuation);
            Ok::<(), rquickjs::Error>(())
        },
    )
}

enum ContinueError {
    Type(String),
    Range(String),
}

fn continuation(state: &str, delay: &Value<'_>) -> Result<Continuation, ContinueError> {
    if state.len() > MAX_STATE_BYTES {
        return Err(ContinueError::Range(format!(
            "continueWith: the state is {} bytes as JSON; the limit is {MAX_STATE_BYTES} bytes (1 MiB)",
            state.len()
        )));
    }
    let state = serde_json::from_str(state).map_err(|_| {
        ContinueError::Range(String::from(
            "continueWith: the state is nested too deeply (at most 128 levels)",
        ))
    })?;
    let Some(seconds) = delay.as_number() else {
        return Err(ContinueError::Type(String::from(
            "continueWith: delaySeconds must be a number",
        )));
    };
    if !(seconds.fract() == 0.0 && (0.0..=MAX_CHAIN_DELAY_SECONDS as f64).contains(&seconds)) {
        return Err(ContinueError::Range(format!(
            "continueWith: delaySeconds must be a whole number from 0 to {MAX_CHAIN_DELAY_SECONDS} (one week), not {seconds}"
        )));
    }
    Ok(Continuation {
        state,
        delay_seconds: seconds as u64,
    })
}

// ---------------------------------------------------------------------------
// The Forge surface
//
// Built on first use: loading `forge.js` and building its objects is most of
// a trivial run's cost, and a script that never touches the API should not
// pay it. The script-style globals are accessors that build the surface when
// first read (or become plain values when first assigned); `import` of a
// `@forge/*` module builds it too. What is built then is the core
// (`forge.js`: routes, requests, `api`, the handler arguments); the rest is
// in parts (`forge/*.js`: storage, queues, errors…) that the core loads
// through `host.part` when a global or module first needs one (a run that
// only makes requests builds about a third of the surface). The built surface lives in the user data
// of the engine (QuickJS's runtime, not the context), a root the run drops
// when it ends ([`uninstall_forge`]) so the engine can serve the next run
// without keeping this one's context alive; the accessors hold no script
// value, so nothing can form a cycle through Rust that QuickJS's collector
// cannot see.

/// Script-style globals (FORGE-API §1); `fetch` is a global in both forms.
const SCRIPT_GLOBALS: [&str; 12] = [
    "api",
    "route",
    "fetch",
    "authorize",
    "storage",
    "kvs",
    "Queue",
    "InvocationError",
    "event",
    "context",
    "requestJira",
    "requestConfluence",
];

#[allow(elided_lifetimes_in_paths)] // the derive's expansion elides a lifetime
mod lazy {
    use std::cell::RefCell;

    /// A context's Forge surface, built on first use by `build`.
    #[derive(rquickjs::JsLifetime)]
    pub(super) struct Forge<'js> {
        pub(super) surface: RefCell<Option<rquickjs::Object<'js>>>,
        pub(super) build: rquickjs::Function<'js>,
    }
}
use lazy::Forge;

/// The handler arguments' data, as `forge.js` reads it from `host.info`.
pub(crate) fn info_json(spec: &RunSpec) -> String {
    json!({
        "job": { "id": spec.job.id, "name": spec.job.name, "version": spec.job.version },
        "run": {
            "id": spec.run.id,
            "attempt": spec.run.attempt,
            "trigger": spec.run.trigger,
            "scheduledFor": spec.run.scheduled_for.map(|at| at.to_string()),
        },
        "params": spec.params,
        "state": spec.state,
        "event": spec.event,
        "cloudId": spec.sites.cloud_id,
    })
    .to_string()
}

/// Makes the Forge surface available on `ctx`: the `@forge/*` modules,
/// `fetch` as a global, and in script style the other globals of FORGE-API §1.
pub(crate) fn install_forge<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    info: String,
    form: ScriptForm,
) -> rquickjs::Result<()> {
    let host = Arc::clone(host);
    let build = crate::host_fn::function(ctx.clone(), move |ctx: Ctx<'js>| {
        build_surface(&ctx, &host, &info)
    })?;
    // A context stores one value per type: this type is ours alone.
    if ctx
        .store_userdata(Forge {
            surface: std::cell::RefCell::new(None),
            build,
        })
        .is_err()
    {
        return Err(Exception::throw_internal(
            ctx,
            "the Forge surface is in use",
        ));
    }
    let names: &[&str] = match form {
        ScriptForm::Script => &SCRIPT_GLOBALS,
        ScriptForm::Module => &["fetch"],
    };
    let globals = ctx.globals();
    for name in names {
        globals.prop(*name, lazy_global(ctx, name, global)?)?;
    }
    Ok(())
}

fn build_surface<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    info: &str,
) -> rquickjs::Result<Object<'js>> {
    let natives = Object::new(ctx.clone())?;
    natives.set("info", info)?;
    natives.set("kv", kv_function(ctx, host)?)?;
    natives.set("queue", queue_function(ctx, host)?)?;
    natives.set("http", http_function(ctx, host)?)?;
    natives.set("remainingTimeMs", remaining_time_function(ctx, host)?)?;
    natives.set("continueWith", continue_with_function(ctx, host)?)?;
    natives.set(
        "part",
        crate::host_fn::function(ctx.clone(), |ctx: Ctx<'js>, name: String| {
            let Some(part) = Script::forge_part(&name) else {
                return Err(Exception::throw_internal(
                    &ctx,
                    &format!("no part '{name}' of the Forge surface"),
                ));
            };
            crate::precompiled::default_export(&ctx, part)
        })?,
    )?;
    let define = crate::precompiled::default_export(ctx, Script::Forge)?;
    define.call((natives,))
}

/// A global whose value `value` gives (building the surface it belongs to)
/// when first read, and is then a plain, writable value like any global;
/// assigning it first just sets the value.
pub(crate) fn lazy_global<'js>(
    ctx: &Ctx<'js>,
    name: &'static str,
    value: fn(&Ctx<'js>, &'static str) -> rquickjs::Result<Value<'js>>,
) -> rquickjs::Result<HostAccessor<'js>> {
    let get = move |ctx: Ctx<'js>| {
        let value = value(&ctx, name)?;
        define_plain(&ctx, name, value.clone())?;
        Ok::<_, rquickjs::Error>(value)
    };
    let set = move |ctx: Ctx<'js>, value: Value<'js>| define_plain(&ctx, name, value);
    Ok(HostAccessor {
        get: crate::host_fn::function(ctx.clone(), get)?,
        set: crate::host_fn::function(ctx.clone(), set)?,
    })
}

/// A script-style Forge global's value (`forge.js` builds what it needs).
fn global<'js>(ctx: &Ctx<'js>, name: &'static str) -> rquickjs::Result<Value<'js>> {
    let global: Function<'js> = surface(ctx)?.get("global")?;
    global.call((name,))
}

/// The namespace object a `@forge/*` module is served from, built on first use.
pub(crate) fn module<'js>(ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Object<'js>> {
    let module: Function<'js> = surface(ctx)?.get("module")?;
    module.call((name,))
}

fn define_plain<'js>(ctx: &Ctx<'js>, name: &str, value: Value<'js>) -> rquickjs::Result<()> {
    ctx.globals().prop(
        name,
        Property::from(value).writable().configurable().enumerable(),
    )
}

/// The run's Forge surface, built now if it was not yet.
pub(crate) fn surface<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let build = {
        let forge = ctx
            .userdata::<Forge<'js>>()
            .ok_or_else(|| Exception::throw_internal(ctx, "the Forge surface is not installed"))?;
        if let Some(surface) = forge.surface.borrow().as_ref() {
            return Ok(surface.clone());
        }
        forge.build.clone()
    };
    let built: Object<'js> = build.call(())?;
    let forge = ctx
        .userdata::<Forge<'js>>()
        .ok_or_else(|| Exception::throw_internal(ctx, "the Forge surface is not installed"))?;
    let mut slot = forge
        .surface
        .try_borrow_mut()
        .map_err(|_| Exception::throw_internal(ctx, "the Forge surface is in use"))?;
    // A script may have reached the surface again while it was being built: the first one stays.
    Ok(slot.get_or_insert(built).clone())
}

/// Drops the run's Forge surface from the engine (its user data is the
/// runtime's, not the context's): kept, it would hold the ended run's
/// context alive on a pooled engine. `false` if it is still in use.
pub(crate) fn uninstall_forge(ctx: &Ctx<'_>) -> bool {
    ctx.remove_userdata::<Forge<'_>>().is_ok()
}

/// The run's Forge surface if the script has used it.
pub(crate) fn built_surface<'js>(ctx: &Ctx<'js>) -> Option<Object<'js>> {
    ctx.userdata::<Forge<'js>>()?
        .surface
        .try_borrow()
        .ok()?
        .clone()
}
