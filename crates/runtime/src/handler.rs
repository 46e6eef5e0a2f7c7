//! Which exported function a module-style script is called as (FORGE-API §1):
//! the job's `handler` when it names one (Forge's `handler: index.trigger`),
//! else `run`, `handler`, the default export, or the only exported function.
//! One decision for ES modules, CommonJS `module.exports` and the check on save.

use crate::error::ScriptError;

/// The names tried, in order, when the job names no handler.
const DEFAULT_NAMES: [&str; 3] = ["run", "handler", "default"];

/// One export: its name and whether it is a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) name: String,
    pub(crate) is_function: bool,
}

/// The export to call, or the message saying why there is none.
pub(crate) fn pick<'e>(wanted: Option<&str>, exports: &'e [Export]) -> Result<&'e str, String> {
    if let Some(wanted) = wanted {
        return match exports.iter().find(|export| export.name == wanted) {
            Some(export) if export.is_function => Ok(&export.name),
            Some(_) => Err(format!(
                "the handler '{wanted}' is exported but is not a function{}",
                listing(exports)
            )),
            None => Err(missing(wanted, exports.iter().map(|e| e.name.as_str()))),
        };
    }
    let functions: Vec<&Export> = exports.iter().filter(|e| e.is_function).collect();
    for name in DEFAULT_NAMES {
        if let Some(export) = functions.iter().find(|export| export.name == name) {
            return Ok(&export.name);
        }
    }
    match functions.as_slice() {
        [only] => Ok(&only.name),
        _ => Err(format!(
            "the module exports no function named run or handler, no default function \
             and not exactly one function{}; name the one to call in the job's handler \
             (clockwork run --handler NAME), or write `export async function run(event, context) {{ … }}`",
            listing(exports)
        )),
    }
}

/// The save-time check: a named handler must be among the names the module
/// exports (whether it is a function shows only when the module runs).
pub(crate) fn check_named(wanted: &str, exported: &[String]) -> Result<(), ScriptError> {
    if exported.iter().any(|name| name == wanted) {
        return Ok(());
    }
    Err(ScriptError {
        message: missing(wanted, exported.iter().map(String::as_str)),
        line: None,
        column: None,
    })
}

fn missing<'n>(wanted: &str, names: impl Iterator<Item = &'n str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return format!("the module exports no function named '{wanted}': it exports nothing");
    }
    format!(
        "the module exports no function named '{wanted}'; its exports: {}",
        names.join(", ")
    )
}

fn listing(exports: &[Export]) -> String {
    if exports.is_empty() {
        return String::from(" (it exports nothing)");
    }
    let names: Vec<&str> = exports.iter().map(|e| e.name.as_str()).collect();
    format!(" (its exports: {})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(list: &[(&str, bool)]) -> Vec<Export> {
        list.iter()
            .map(|(name, is_function)| Export {
                name: (*name).to_owned(),
                is_function: *is_function,
            })
            .collect()
    }

    #[test]
    fn defaults_then_the_only_function() {
        let list = exports(&[("default", true), ("handler", true), ("run", true)]);
        assert_eq!(pick(None, &list), Ok("run"));
        let list = exports(&[("default", true), ("handler", true)]);
        assert_eq!(pick(None, &list), Ok("handler"));
        let list = exports(&[("value", false), ("trigger", true)]);
        assert_eq!(pick(None, &list), Ok("trigger"));
        let list = exports(&[("a", true), ("b", true)]);
        let error = pick(None, &list).unwrap_err();
        assert!(error.contains("(its exports: a, b)"), "{error}");
    }

    #[test]
    fn a_named_handler_must_exist_and_be_a_function() {
        let list = exports(&[("run", true), ("trigger", true), ("n", false)]);
        assert_eq!(pick(Some("trigger"), &list), Ok("trigger"));
        assert_eq!(
            pick(Some("nope"), &list).unwrap_err(),
            "the module exports no function named 'nope'; its exports: run, trigger, n"
        );
        assert_eq!(
            pick(Some("n"), &list).unwrap_err(),
            "the handler 'n' is exported but is not a function (its exports: run, trigger, n)"
        );
        assert_eq!(
            check_named("x", &[]).unwrap_err().message,
            "the module exports no function named 'x': it exports nothing"
        );
    }
}
