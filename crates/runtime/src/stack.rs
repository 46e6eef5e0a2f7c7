//! Errors as Node shows them: `Error.prepareStackTrace`, installed before
//! the script runs.
//!
//! quickjs-ng calls `Error.prepareStackTrace(error, callSites)` as each error
//! is created, its message already set. The function installed here builds
//! the `stack` a script sees (`err.stack`) and the run reports: a
//! `Name: message` headline, then one `    at name (file:line:column)`
//! frame per call in the user's script, named by the script's display name
//! (`nightly-sync.js`), positions in the user's own text (its TypeScript,
//! for TypeScript jobs). Frames of Clockwork's own modules (the Forge API,
//! the Node surface, the hardening wrappers) and of native built-ins are
//! left out. Before that, an engine `TypeError` gets Node's wording
//! (`messages`), so `err.message` reads as it would on Forge.

use std::sync::Arc;

use rquickjs::function::This;
use rquickjs::{Array, Ctx, Function, Object, Value};

use crate::js_error::error_headline;
use crate::limits::Guard;
use crate::source::{Prepared, SCRIPT_FILE};

/// One call site, as the engine describes it.
struct Site {
    file: Option<String>,
    function: Option<String>,
    /// Engine coordinates: 1-based line, 1-based byte column.
    line: u32,
    column: u32,
}

/// Installs `Error.prepareStackTrace` for the run's script.
pub(crate) fn install(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    guard: Arc<Guard>,
) -> rquickjs::Result<()> {
    let prepared = Arc::new(prepared.clone());
    let prepare = crate::host_fn::function(
        ctx.clone(),
        move |error: Value<'_>, sites: Array<'_>| -> rquickjs::Result<String> {
            // A stopped run's errors (the engine's uncatchable interrupt
            // among them) get no stack: reading the call sites would call
            // into the script's engine, which is being stopped.
            if guard.is_over() {
                return Ok(String::new());
            }
            let sites = read_sites(&sites)?;
            Ok(prepare_stack(&error, &sites, &prepared))
        },
    )?;
    let error_constructor: Object<'_> = ctx.globals().get("Error")?;
    error_constructor.set("prepareStackTrace", prepare)
}

fn read_sites(sites: &Array<'_>) -> rquickjs::Result<Vec<Site>> {
    let mut read = Vec::with_capacity(sites.len());
    for site in sites.iter::<Object<'_>>() {
        let site = site?;
        let ask = |method: &str| -> rquickjs::Result<Value<'_>> {
            let function: Function<'_> = site.get(method)?;
            function.call((This(site.clone()),))
        };
        let text = |value: Value<'_>| value.as_string().and_then(|s| s.to_string().ok());
        let number = |value: Value<'_>| value.as_number().map_or(0, |n| n.max(0.0) as u32);
        read.push(Site {
            file: text(ask("getFileName")?),
            function: text(ask("getFunctionName")?),
            line: number(ask("getLineNumber")?),
            column: number(ask("getColumnNumber")?),
        });
    }
    Ok(read)
}

/// Rewords an engine error (see `messages`) and returns its Node-style stack.
fn prepare_stack(error: &Value<'_>, sites: &[Site], prepared: &Prepared) -> String {
    let user_sites: Vec<&Site> = sites
        .iter()
        .filter(|site| site.file.as_deref() == Some(SCRIPT_FILE))
        .collect();
    let Some(object) = error.as_object() else {
        return frames(&user_sites, prepared);
    };
    // Only an error raised at the script's own code is the engine's about
    // that code; one raised inside a built-in module keeps its words.
    let raised_in_script = sites
        .first()
        .is_some_and(|site| site.file.as_deref() == Some(SCRIPT_FILE));
    if raised_in_script && error.is_error() {
        reword(object, sites.first(), prepared);
    }
    let headline = error_headline(object);
    let frames = frames(&user_sites, prepared);
    if frames.is_empty() {
        headline
    } else {
        format!("{headline}\n{frames}")
    }
}

fn reword(error: &Object<'_>, site: Option<&Site>, prepared: &Prepared) {
    let name: Option<String> = error.get("name").ok().flatten();
    let message: Option<String> = error.get("message").ok().flatten();
    let (Some(name), Some(message), Some(site)) = (name, message, site) else {
        return;
    };
    let code_line = prepared.code_line(site.line).unwrap_or("");
    if let Some(node) = crate::messages::node_message(&name, &message, code_line, site.column) {
        // The message is an own writable data property of every error.
        let _ = error.set("message", node);
    }
}

/// `    at name (file:line:column)` per user frame, or `    at file:line:column`
/// for an anonymous function and the top level, as V8 prints them.
fn frames(sites: &[&Site], prepared: &Prepared) -> String {
    let mut out = String::new();
    for site in sites {
        let (line, column) = prepared.user_position(site.line, site.column);
        let place = format!("{}:{line}:{column}", prepared.display_name);
        if !out.is_empty() {
            out.push('\n');
        }
        match site.function.as_deref().filter(|name| !name.is_empty()) {
            Some(name) => out.push_str(&format!("    at {name} ({place})")),
            None => out.push_str(&format!("    at {place}")),
        }
    }
    out
}
