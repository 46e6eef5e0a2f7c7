//! The JavaScript half of the web globals: sources compiled to QuickJS
//! bytecode once per process, then loaded into a context only when a script
//! first touches one of their globals.
//!
//! Each source is an ES module whose default export is a factory
//! `(host, need) => exports` (see `js/bootstrap.js`); modules never import
//! each other, so loading one never runs the embedder's module loader.

use std::sync::OnceLock;

use rquickjs::{
    Context, Ctx, Error, Module, Result, Runtime, Value, WriteOptions, promise::PromiseState,
};

/// One JavaScript source of the web globals.
struct Source {
    name: &'static str,
    text: &'static str,
}

/// Every source, by the name the bootstrap asks for (`native(name)`).
const SOURCES: &[Source] = &[
    Source {
        name: "bootstrap",
        text: include_str!("js/bootstrap.js"),
    },
    Source {
        name: "inspect",
        text: include_str!("js/inspect.js"),
    },
    Source {
        name: "url",
        text: include_str!("js/url.js"),
    },
    Source {
        name: "encoding",
        text: include_str!("js/encoding.js"),
    },
    Source {
        name: "crypto",
        text: include_str!("js/crypto.js"),
    },
    Source {
        name: "clone",
        text: include_str!("js/clone.js"),
    },
    Source {
        name: "events",
        text: include_str!("js/events.js"),
    },
    Source {
        name: "fetch",
        text: include_str!("js/fetch.js"),
    },
    Source {
        name: "request",
        text: include_str!("js/request.js"),
    },
    Source {
        name: "intl",
        text: include_str!("js/intl.js"),
    },
];

/// Bytecode of every source, in `SOURCES` order, or the compile error.
static BYTECODE: OnceLock<std::result::Result<Vec<Vec<u8>>, String>> = OnceLock::new();

/// The module name a source is registered under inside a context; it shows
/// in stack frames of errors thrown by the globals (`at … (clockwork:web/fetch:12:5)`).
fn module_name(source: &Source) -> String {
    format!("clockwork:web/{}", source.name)
}

/// Compiles every source in a scratch runtime. Bytecode is independent of the
/// runtime that produced it, so every later context of any runtime can load it.
fn compile_all() -> std::result::Result<Vec<Vec<u8>>, String> {
    let runtime = Runtime::new().map_err(|error| error.to_string())?;
    let context = Context::full(&runtime).map_err(|error| error.to_string())?;
    context.with(|ctx| {
        SOURCES
            .iter()
            .map(|source| {
                Module::declare(ctx.clone(), module_name(source), source.text)
                    .and_then(|module| {
                        // Without source text and line tables the bytecode loads
                        // about twice as fast (measured); frames inside these
                        // modules then show no line numbers, the user's still do.
                        module.write(WriteOptions {
                            strip_source: true,
                            strip_debug: true,
                            ..WriteOptions::default()
                        })
                    })
                    .map_err(|error| describe_compile_error(&ctx, source, &error))
            })
            .collect()
    })
}

fn describe_compile_error(ctx: &Ctx<'_>, source: &Source, error: &Error) -> String {
    let thrown = ctx.catch();
    let detail = thrown
        .as_exception()
        .map(|exception| {
            format!(
                "{} {}",
                exception.message().unwrap_or_default(),
                exception.stack().unwrap_or_default()
            )
        })
        .unwrap_or_else(|| format!("{thrown:?}"));
    format!("{}: {error}: {detail}", module_name(source))
}

fn bytecode_of(name: &str) -> Result<&'static [u8]> {
    let all = BYTECODE
        .get_or_init(compile_all)
        .as_ref()
        .map_err(|message| Error::new_loading_message("clockwork:web", message.clone()))?;
    SOURCES
        .iter()
        .position(|source| source.name == name)
        .and_then(|index| all.get(index))
        .map(Vec::as_slice)
        .ok_or_else(|| Error::new_loading_message(name, "no such web module"))
}

/// Compiles the sources now rather than on the first `install` (for benchmarks
/// and for a server that wants the cost paid at start-up).
#[cfg(test)]
pub(super) fn precompile() -> Result<()> {
    bytecode_of("bootstrap").map(|_| ())
}

/// Size of a module's bytecode (reported by the cost measurement).
#[cfg(test)]
pub(super) fn bytecode_size(name: &str) -> usize {
    bytecode_of(name).map(<[u8]>::len).unwrap_or_default()
}

#[allow(unsafe_code)]
fn declare_from_bytecode<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> Result<Module<'js>> {
    // SAFETY: `bytes` only ever comes from `BYTECODE`, written by
    // `Module::write` in this process by the same QuickJS build; no outside
    // input reaches `JS_ReadObject`.
    unsafe { Module::load(ctx.clone(), bytes) }
}

/// Loads the named module into `ctx` and returns its default export.
pub(super) fn load_default<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Value<'js>> {
    let module = declare_from_bytecode(ctx, bytecode_of(name)?)?;
    let (module, evaluated) = module.eval()?;
    // Our modules have no imports and no top-level await: QuickJS settles the
    // evaluation promise before `eval` returns, so no job queue is run here.
    match evaluated.state() {
        PromiseState::Resolved => module.get("default"),
        PromiseState::Rejected => match evaluated.result::<Value<'js>>() {
            Some(Err(error)) => Err(error),
            _ => Err(Error::new_loading_message(name, "module evaluation failed")),
        },
        PromiseState::Pending => Err(Error::new_loading_message(
            name,
            "module evaluation did not settle",
        )),
    }
}
