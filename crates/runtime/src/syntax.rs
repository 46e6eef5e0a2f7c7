//! Compiling a script without running it, for validation on save.

use std::time::{Duration, Instant};

use rquickjs::{Context, Module, Runtime, Value};

use crate::error::ScriptError;
use crate::js_error::describe;
use crate::modules::BuiltinModules;
use crate::source::{Prepared, SCRIPT_FILE, ScriptForm};

/// Memory for compiling one script.
const COMPILE_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// Compiling is linear in the text; this bounds a script-style text that
/// closes the wrapper function early and runs code at the top level.
const COMPILE_TIME: Duration = Duration::from_secs(1);

pub(crate) fn compile(prepared: &Prepared) -> Result<(), ScriptError> {
    let engine_error = |error: rquickjs::Error| ScriptError {
        message: format!("the JavaScript engine could not start: {error}"),
        line: None,
        column: None,
    };
    let runtime = Runtime::new().map_err(engine_error)?;
    runtime.set_memory_limit(COMPILE_MEMORY_BYTES);
    runtime.set_max_stack_size(crate::engine::JS_STACK_BYTES / 2);
    let deadline = Instant::now() + COMPILE_TIME;
    runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)));
    // Declaring a module resolves its imports: without the built-in modules'
    // loader every `import … from '@forge/kvs'` would be refused on save.
    runtime.set_loader(BuiltinModules, BuiltinModules);
    let context = Context::full(&runtime).map_err(engine_error)?;
    context.with(|ctx| {
        let compiled = match prepared.form {
            // Evaluating the wrapper only creates the function; its body does not run.
            ScriptForm::Script => ctx
                .eval_with_options::<Value<'_>, _>(
                    prepared.code.as_str(),
                    crate::engine::script_options(),
                )
                .map(drop),
            ScriptForm::Module => {
                Module::declare(ctx.clone(), SCRIPT_FILE, prepared.code.as_str()).map(drop)
            }
        };
        compiled.map_err(|error| {
            let info = match error {
                rquickjs::Error::Exception => describe(&ctx, &ctx.catch(), prepared),
                other => crate::outcome::ErrorInfo::message(other.to_string()),
            };
            ScriptError {
                message: info.message,
                line: info.line,
                column: info.column,
            }
        })
    })
}
