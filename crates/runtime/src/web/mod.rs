//! Web-platform globals for the sandbox and Node-style console formatting.
//!
//! [`install`] puts on the global object: `URL`, `URLSearchParams`,
//! `TextEncoder`, `TextDecoder`, `crypto` (`randomUUID`, `getRandomValues`),
//! `structuredClone`, `Headers`, `Request`, `Response`, `Event`,
//! `EventTarget`, `AbortController`, `AbortSignal` and a small `Intl`
//! (QuickJS-ng has none), and routes `toLocaleString` & co. of numbers and
//! dates through that `Intl`. QuickJS-ng already provides `atob`, `btoa`,
//! `DOMException`, `queueMicrotask` and `performance`; they are left as they are
//! (`DOMException` given again to each context of a pooled engine, which
//! QuickJS-ng would leave without it).
//!
//! [`format_console_args`] renders `console.log` arguments the way Node's
//! `util.format` / `util.inspect` do.
//!
//! # Cost model
//! A run creates a fresh context, so `install` must be cheap. The globals are
//! written in JavaScript (`js/`), compiled to bytecode once per process, and
//! split into modules loaded on first use: `install` loads only the small
//! bootstrap, which defines each global as a lazy accessor that loads its
//! module and then replaces itself with an ordinary data property (writable,
//! configurable, not enumerable, like Web IDL globals). A script that never
//! touches `URL` never pays for it. Console formatting of primitive arguments
//! is done in Rust; the inspector module is loaded on the first object logged.
//!
//! Each context `install` ran in keeps its module loader in the runtime's
//! userdata, which holds that context alive: a pooled engine serving run
//! after run drops it with [`uninstall`] when a run ends.
//!
//! # Internal hook for `fetch`
//! From JavaScript,
//! `Response[Symbol.for('clockwork.makeResponse')](body, init)` builds the
//! Response a `fetch` resolves to, skipping the constructor's checks that do
//! not apply to a network response (any status 100–599, a body with a null
//! body status such as 204 is dropped). `init` is `{ status, statusText,
//! headers, url, redirected, type }`; `headers` is anything `Headers` accepts
//! (e.g. an array of `[name, value]` pairs); the headers are immutable and
//! `type` defaults to `'basic'`. `body` is an ArrayBuffer, a typed array, a
//! string or `null`.
//!
//! # Stack traces
//! The bytecode carries no debug information (it loads about twice as fast):
//! frames inside these globals read `at URL (<null>:0:1)`. The script's own
//! frames keep their file, line and column, so whoever extracts the error
//! position should take the first frame of the script's file.
//!
//! # Not here, and known differences from Node 20
//! - Timers belong to the runtime's event loop: `AbortSignal.timeout(ms)`
//!   uses whatever `setTimeout` the runtime put on the global object (a
//!   TypeError if none); it does not unref its timer.
//! - An exception thrown by an event listener becomes an unhandled promise
//!   rejection (Node makes it an uncaught exception); the other listeners run.
//! - Bodies live in memory: no `Response.body` stream, no `blob()` /
//!   `formData()` (they reject with a TypeError), no `Blob`/`FormData`.
//! - `TextDecoder` decodes UTF-8 only (RangeError for other labels).
//! - `crypto` has no `subtle`.
//! - `structuredClone` turns class instances into plain objects and errors
//!   into built-in error types; `Headers`, `URL`… are refused with a
//!   DataCloneError (Node refuses them too, with another message).
//! - `Intl` (`js/intl.js`, locale data from ICU4X in `crate::intl`) has
//!   `NumberFormat`, `DateTimeFormat`, `Collator`, `PluralRules`,
//!   `ListFormat`, `RelativeTimeFormat` and `Segmenter`, not `DisplayNames`;
//!   units ICU4X has no names for (digital, temperature, `-per-` compounds)
//!   print short English symbols. The default time zone is UTC (the sandbox
//!   has no host zone); IANA zones come from jiff's bundled database.
//! - `util.inspect` parity covers the values listed in `tests/console.rs`;
//!   Map/Set iterators print as plain objects, and `%o` lists the hidden
//!   properties QuickJS has (its functions have no `arguments`/`caller`).
//!
//! Nothing here reads files, the environment or processes.

mod host;
mod modules;

#[cfg(test)]
mod tests;

use rquickjs::{Array, Ctx, Function, Object, Result, Type, Value, convert::Coerced};

#[allow(elided_lifetimes_in_paths)] // the `JsLifetime` derive's expansion elides one
mod state {
    use rquickjs::{Function, JsLifetime};

    /// Per-runtime state: the module loader (`need`) of each context
    /// `install` ran in (`loaders[i]` belongs to the context `contexts[i]`).
    #[derive(JsLifetime, Default)]
    pub(super) struct WebState<'js> {
        pub(super) contexts: Vec<usize>,
        pub(super) loaders: Vec<Function<'js>>,
    }
}
use state::WebState;

/// Identifies a context within its runtime (contexts are not values we can key on).
fn context_id(ctx: &Ctx<'_>) -> usize {
    ctx.as_raw().as_ptr() as usize
}

/// Installs the web-platform globals on the global object of `ctx`.
///
/// Cheap: it evaluates one small bootstrap module and defines lazy accessors;
/// the globals' code loads on first use. Call it once per context.
pub(crate) fn install(ctx: &Ctx<'_>) -> Result<()> {
    give_dom_exception(ctx)?;
    let bootstrap: Function<'_> = modules::load_default(ctx, "bootstrap")?.get()?;
    let native = crate::host_fn::function(ctx.clone(), native)?;
    let loader: Function<'_> = bootstrap.call((native,))?;
    remember_loader(ctx, loader);
    Ok(())
}

/// Gives the context QuickJS-ng's `DOMException` when it has none.
///
/// QuickJS-ng adds `DOMException` only to the first context of a runtime:
/// it registers the class then, and later contexts see it registered and
/// skip the whole intrinsic (the global and the prototype `atob` builds its
/// errors from). A pooled engine's runs come after its first context, so
/// each gets it here.
#[allow(unsafe_code)]
fn give_dom_exception(ctx: &Ctx<'_>) -> Result<()> {
    if ctx.globals().contains_key("DOMException")? {
        return Ok(());
    }
    // SAFETY: `ctx` is a live context of this thread's runtime, entered by
    // the caller; the call only defines the class's prototype, constructor
    // and global on it (the class itself is registered already).
    let failed = unsafe { rquickjs::qjs::JS_AddIntrinsicDOMException(ctx.as_raw().as_ptr()) };
    if failed != 0 {
        // Out of memory: the exception is pending on the context.
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

/// The loader the bootstrap calls: `native('host')` builds the host object,
/// `native(name)` returns the default export of the module `name`.
fn native<'js>(ctx: Ctx<'js>, name: String) -> Result<Value<'js>> {
    if name == "host" {
        return host::object(&ctx).map(Value::from);
    }
    modules::load_default(&ctx, &name)
}

fn remember_loader<'js>(ctx: &Ctx<'js>, loader: Function<'js>) {
    let id = context_id(ctx);
    // `userdata` only lends the state; take a copy, amend it, store it back.
    let mut state = match ctx.userdata::<WebState<'js>>() {
        Some(state) => WebState {
            contexts: state.contexts.clone(),
            loaders: state.loaders.clone(),
        },
        None => WebState::default(),
    };
    if let Some(index) = state.contexts.iter().position(|other| *other == id) {
        state.contexts.remove(index);
        state.loaders.remove(index);
    }
    state.contexts.push(id);
    state.loaders.push(loader);
    let _previous = ctx.store_userdata(state);
}

/// Drops the web state of the engine `ctx` belongs to: the runtime keeps
/// it, and the loaders it holds would keep their contexts alive on an engine
/// that serves run after run. `false` if it is still in use.
pub(crate) fn uninstall(ctx: &Ctx<'_>) -> bool {
    ctx.remove_userdata::<WebState<'_>>().is_ok()
}

/// The exports of web module `name` in this context (`need(name)`), or
/// `None` if `install` did not run in it.
fn web_module<'js>(ctx: &Ctx<'js>, name: &str) -> Option<Result<Object<'js>>> {
    let id = context_id(ctx);
    let loader = {
        let state = ctx.userdata::<WebState<'js>>()?;
        let index = state.contexts.iter().position(|other| *other == id)?;
        state.loaders.get(index)?.clone()
    };
    Some(loader.call((name,)))
}

/// Formats `console.log` arguments as Node does (`util.format` semantics:
/// `%s %d %i %f %j %o %O %c %%`, remaining arguments appended with spaces,
/// non-strings through `util.inspect`).
///
/// Never fails: if inspection throws (a hostile getter, an interrupted run),
/// the arguments are rendered with `String(value)` instead.
pub(crate) fn format_console_args<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> String {
    if let Some(text) = format_primitives(args) {
        return text;
    }
    if let Some(Ok(inspector)) = web_module(ctx, "inspect")
        && let Ok(text) = format_with_inspector(ctx, &inspector, args)
    {
        return text;
    }
    // Clear whatever the inspector threw before falling back.
    let _exception = ctx.catch();
    format_fallback(args)
}

fn format_with_inspector<'js>(
    ctx: &Ctx<'js>,
    inspector: &Object<'js>,
    args: &[Value<'js>],
) -> Result<String> {
    let array = Array::new(ctx.clone())?;
    for (index, arg) in args.iter().enumerate() {
        array.set(index, arg.clone())?;
    }
    let format: Function<'js> = inspector.get("formatArgs")?;
    format.call((array,))
}

/// The fast path: arguments that are all strings, numbers, booleans, null,
/// undefined or bigints, with no format string, are formatted here without
/// loading the inspector. `None` when the inspector is needed.
fn format_primitives(args: &[Value<'_>]) -> Option<String> {
    let first_is_format = args.len() > 1 && args[0].as_string().is_some();
    let mut out = String::new();
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        match arg.type_of() {
            Type::String => {
                let text = arg.as_string()?.to_string().ok()?;
                if index == 0 && first_is_format && text.contains('%') {
                    return None;
                }
                out.push_str(&text);
            }
            Type::Int | Type::Float => out.push_str(&number_to_string(arg)?),
            Type::Bool => out.push_str(if arg.as_bool()? { "true" } else { "false" }),
            Type::Null => out.push_str("null"),
            Type::Undefined | Type::Uninitialized => out.push_str("undefined"),
            Type::BigInt => {
                out.push_str(&arg.get::<Coerced<String>>().ok()?.0);
                out.push('n');
            }
            _ => return None,
        }
    }
    Some(out)
}

/// JavaScript's `Number::toString`, except `-0` prints as `-0` (as `util.inspect` does).
fn number_to_string(value: &Value<'_>) -> Option<String> {
    if let Some(number) = value.as_float()
        && number == 0.0
        && number.is_sign_negative()
    {
        return Some("-0".to_owned());
    }
    value.get::<Coerced<String>>().ok().map(|text| text.0)
}

/// Last resort when the inspector itself failed: `String(value)` per argument.
fn format_fallback(args: &[Value<'_>]) -> String {
    args.iter()
        .map(|arg| match arg.get::<Coerced<String>>() {
            Ok(text) => text.0,
            Err(_) => format!("[{}]", arg.type_name()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
