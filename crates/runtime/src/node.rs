//! The Node surface Forge functions run with (FORGE-API §5): `Buffer`,
//! `process` (whose `env` is the job's environment and nothing of the
//! server's), `require`, CommonJS `module`/`exports`, `setImmediate`, and the
//! pure built-in modules `modules` lists, written in `node.js`.
//!
//! Like the Forge surface it is built on first use: the globals are lazy
//! accessors (see [`host::lazy_global`]), so a run that never touches them
//! pays nothing but their definition.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rquickjs::{Ctx, Exception, Object, Value};

use crate::host::{self, Host};
use crate::outcome::ErrorInfo;
use crate::source::ScriptForm;
use crate::spec::RunSpec;

/// Globals of both forms.
const GLOBALS: [&str; 5] = [
    "Buffer",
    "process",
    "setImmediate",
    "clearImmediate",
    "global",
];
/// CommonJS's own names, for scripts (a module has its own scope for them).
const COMMONJS_GLOBALS: [&str; 2] = ["module", "exports"];
/// What `env` values start with to name a stored secret.
const SECRET_PREFIX: &str = "secret:";

#[allow(elided_lifetimes_in_paths)] // the derive's expansion elides a lifetime
mod lazy {
    use std::cell::RefCell;

    /// A context's Node surface, built on first use by `build`.
    #[derive(rquickjs::JsLifetime)]
    pub(super) struct NodeSurface<'js> {
        pub(super) surface: RefCell<Option<rquickjs::Object<'js>>>,
        pub(super) build: rquickjs::Function<'js>,
    }
}
use lazy::NodeSurface;

/// The job's environment as `process.env` shows it: `secret:NAME` values
/// replaced by the stored secret (a string as is, anything else as JSON).
/// A missing secret fails the run before it starts, naming both.
pub(crate) async fn resolve_env(spec: &RunSpec) -> Result<BTreeMap<String, String>, ErrorInfo> {
    let mut env = BTreeMap::new();
    for (name, value) in &spec.env {
        let Some(secret) = value.strip_prefix(SECRET_PREFIX) else {
            env.insert(name.clone(), value.clone());
            continue;
        };
        let stored = spec.services.kv.secret_get(secret).await.map_err(|error| {
            ErrorInfo::message(format!(
                "process.env.{name}: the secret '{secret}' could not be read: {error}"
            ))
        })?;
        let text = match stored {
            Some(serde_json::Value::String(text)) => text,
            Some(other) => other.to_string(),
            None => {
                return Err(ErrorInfo::message(format!(
                    "process.env.{name} names the secret '{secret}', which is not set \
                     (set it with storage.setSecret('{secret}', value) or the secrets API)"
                )));
            }
        };
        env.insert(name.clone(), text);
    }
    Ok(env)
}

/// Defines the Node globals on `ctx` (built when first read) and `require`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    host: &Arc<Host>,
    form: ScriptForm,
) -> rquickjs::Result<()> {
    let env = serde_json::to_string(&host.env).unwrap_or_else(|_| String::from("{}"));
    let build =
        crate::host_fn::function(ctx.clone(), move |ctx: Ctx<'js>| build_surface(&ctx, &env))?;
    if ctx
        .store_userdata(NodeSurface {
            surface: RefCell::new(None),
            build,
        })
        .is_err()
    {
        return Err(Exception::throw_internal(ctx, "the Node surface is in use"));
    }
    let globals = ctx.globals();
    let commonjs: &[&str] = match form {
        ScriptForm::Script => &COMMONJS_GLOBALS,
        ScriptForm::Module => &[],
    };
    for name in GLOBALS.iter().chain(commonjs) {
        globals.prop(*name, host::lazy_global(ctx, name, global)?)?;
    }
    globals.set(
        "require",
        crate::host_fn::function(ctx.clone(), require)?.with_name("require")?,
    )?;
    Ok(())
}

/// `require(name)`: a built-in module's exports, as Node's CommonJS gives them.
fn require<'js>(ctx: Ctx<'js>, name: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let Some(name) = name
        .as_string()
        .map(rquickjs::String::to_string)
        .transpose()?
    else {
        return Err(Exception::throw_type(
            &ctx,
            "The \"id\" argument must be of type string",
        ));
    };
    crate::modules::required(&ctx, &name)
}

fn build_surface<'js>(ctx: &Ctx<'js>, env: &str) -> rquickjs::Result<Object<'js>> {
    let natives = Object::new(ctx.clone())?;
    natives.set("env", env)?;
    crate::hashing::register(ctx, &natives)?;
    natives.set(
        "format",
        crate::host_fn::function(
            ctx.clone(),
            |ctx: Ctx<'js>, args: rquickjs::prelude::Rest<Value<'js>>| {
                crate::globals::format_console_args(&ctx, &args.0)
            },
        )?,
    )?;
    let define = crate::precompiled::default_export(ctx, crate::precompiled::Script::Node)?;
    define.call((natives,))
}

/// A Node global's value, the surface built if it was not yet.
fn global<'js>(ctx: &Ctx<'js>, name: &'static str) -> rquickjs::Result<Value<'js>> {
    let globals: Object<'js> = surface(ctx)?.get("globals")?;
    globals.get(name)
}

/// Drops the run's Node surface from the engine (see
/// [`host::uninstall_forge`]). `false` if it is still in use.
pub(crate) fn uninstall(ctx: &Ctx<'_>) -> bool {
    ctx.remove_userdata::<NodeSurface<'_>>().is_ok()
}

/// The run's Node surface, built now if it was not yet.
pub(crate) fn surface<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let build = {
        let node = ctx
            .userdata::<NodeSurface<'js>>()
            .ok_or_else(|| Exception::throw_internal(ctx, "the Node surface is not installed"))?;
        if let Some(surface) = node.surface.borrow().as_ref() {
            return Ok(surface.clone());
        }
        node.build.clone()
    };
    let built: Object<'js> = build.call(())?;
    let node = ctx
        .userdata::<NodeSurface<'js>>()
        .ok_or_else(|| Exception::throw_internal(ctx, "the Node surface is not installed"))?;
    let mut slot = node
        .surface
        .try_borrow_mut()
        .map_err(|_| Exception::throw_internal(ctx, "the Node surface is in use"))?;
    Ok(slot.get_or_insert(built).clone())
}

/// What a CommonJS script exported: `module.exports` when the script used
/// `module` or `exports` and left a function or a non-empty object there.
pub(crate) fn commonjs_exports<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Option<Value<'js>>> {
    let built = ctx
        .userdata::<NodeSurface<'js>>()
        .and_then(|node| node.surface.try_borrow().ok()?.clone());
    let Some(surface) = built else {
        return Ok(None);
    };
    let module: Object<'js> = surface.get("module")?;
    let exports: Value<'js> = module.get("exports")?;
    let filled = exports.is_function()
        || exports
            .as_object()
            .is_some_and(|object| object.keys::<String>().next().is_some());
    Ok(filled.then_some(exports))
}
