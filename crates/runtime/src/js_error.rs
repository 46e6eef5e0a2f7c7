//! A thrown JavaScript value → [`ErrorInfo`] with positions in the user's text.
//!
//! quickjs-ng errors carry no line or column properties; the position is the
//! first frame of the user's script in `stack`. During a run the stack is
//! already Node's (see `stack`): the script's display name, positions in the
//! user's text, no internal frames. Stacks built without it (compiling on
//! save) name the engine's file: each such position is mapped here.

use rquickjs::{Ctx, Object, Value};

use crate::outcome::ErrorInfo;
use crate::source::{Prepared, SCRIPT_FILE};

/// Describes a thrown value. `Error`s give `Name: message` and their stack;
/// anything else (`throw "x"`, `throw { a: 1 }`) is described as it would be logged.
pub(crate) fn describe<'js>(ctx: &Ctx<'js>, thrown: &Value<'js>, prepared: &Prepared) -> ErrorInfo {
    let Some(object) = thrown
        .as_object()
        .filter(|_| thrown.is_error() || looks_like_error(thrown))
    else {
        return ErrorInfo::message(crate::globals::format_console_args(
            ctx,
            std::slice::from_ref(thrown),
        ));
    };
    let message = error_headline(object);
    let frames: Option<String> = object.get::<_, Option<String>>("stack").ok().flatten();
    let frames = frames.map(|stack| map_stack(&stack, prepared));
    let position = frames
        .as_deref()
        .and_then(|frames| first_position(frames, &prepared.display_name));
    let stack = frames.map(|frames| {
        if frames.starts_with(&message) {
            frames
        } else {
            format!("{message}\n{}", frames.trim_end_matches('\n'))
        }
    });
    ErrorInfo {
        message,
        stack,
        line: position.map(|(line, _)| line),
        column: position.map(|(_, column)| column),
    }
}

/// An object with a string `message` is described like an `Error`.
fn looks_like_error(value: &Value<'_>) -> bool {
    value.as_object().is_some_and(
        |object| matches!(object.get::<_, Value<'_>>("message"), Ok(m) if m.is_string()),
    )
}

/// `Error.prototype.toString`: `name: message`, or whichever of them is not empty.
pub(crate) fn error_headline(object: &Object<'_>) -> String {
    let name = object
        .get::<_, Option<String>>("name")
        .ok()
        .flatten()
        .unwrap_or_else(|| String::from("Error"));
    let message = object
        .get::<_, Option<String>>("message")
        .ok()
        .flatten()
        .unwrap_or_default();
    match (name.is_empty(), message.is_empty()) {
        (_, true) => name,
        (true, false) => message,
        (false, false) => format!("{name}: {message}"),
    }
}

/// Rewrites every engine position (`clockwork:script:LINE:COLUMN`) of a
/// stack to the script's display name and the user's coordinates.
pub(crate) fn map_stack(stack: &str, prepared: &Prepared) -> String {
    let needle = format!("{SCRIPT_FILE}:");
    let mut out = String::with_capacity(stack.len());
    let mut rest = stack;
    while let Some(found) = rest.find(&needle) {
        let after = &rest[found + needle.len()..];
        out.push_str(&rest[..found]);
        match parse_position(after) {
            Some((line, column, consumed)) => {
                let (line, column) = prepared.user_position(line, column);
                out.push_str(&format!("{}:{line}:{column}", prepared.display_name));
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&needle);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The position of the first frame (`    at …`) in the user's script.
fn first_position(stack: &str, display_name: &str) -> Option<(u32, u32)> {
    let needle = format!("{display_name}:");
    stack
        .lines()
        .filter(|line| line.trim_start().starts_with("at "))
        .find_map(|line| {
            line.match_indices(&needle)
                .find_map(|(at, _)| parse_position(&line[at + needle.len()..]))
        })
        .map(|(line, column, _)| (line, column))
}

/// `LINE:COLUMN` at the start of `text`, and the bytes it takes.
fn parse_position(text: &str) -> Option<(u32, u32, usize)> {
    let line_digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let line = text.get(..line_digits)?.parse().ok()?;
    let rest = text.get(line_digits..)?.strip_prefix(':')?;
    let column_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let column = rest.get(..column_digits)?.parse().ok()?;
    Some((line, column, line_digits + 1 + column_digits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::prepare;

    #[test]
    fn stack_positions_map_to_the_users_text() {
        let prepared = prepare("let a;\nnull.x").unwrap().named("sync.js");
        let stack = "    at f (clockwork:script:3:1)\n    at g (@forge/api:3:4)\n";
        let mapped = map_stack(stack, &prepared);
        assert_eq!(
            mapped,
            "    at f (sync.js:2:1)\n    at g (@forge/api:3:4)\n"
        );
        assert_eq!(first_position(&mapped, "sync.js"), Some((2, 1)));
    }

    #[test]
    fn malformed_positions_are_left_alone() {
        let prepared = prepare("1").unwrap();
        assert_eq!(
            map_stack("at clockwork:script:x:1 clockwork:script:", &prepared),
            "at clockwork:script:x:1 clockwork:script:"
        );
        assert_eq!(first_position("    at job.js:x:1", "job.js"), None);
        assert_eq!(
            first_position("Error: job.js:1:1\n    at job.js:2:3", "job.js"),
            Some((2, 3))
        );
        assert_eq!(parse_position("12:7)"), Some((12, 7, 4)));
    }
}
