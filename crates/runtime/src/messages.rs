//! The engine's `TypeError` messages in Node's (V8's) words.
//!
//! Scripts log `err.message` and admins search for it, so the common
//! engine errors read as Node writes them. quickjs-ng's own text is fixed
//! in its C source (which stays unpatched); each message below is
//! recognised exactly and reworded, with what V8 adds taken from the
//! script's text at the error's position:
//!
//! | quickjs-ng | Node |
//! |---|---|
//! | `cannot read property 'x' of undefined` | `Cannot read properties of undefined (reading 'x')` |
//! | `cannot set property 'x' of null` | `Cannot set properties of null (setting 'x')` |
//! | `not a function` | `o.f is not a function` (the callee as written; V8 prints a call's arguments as `(...)`) |
//! | `'c' is read-only` (assigning a `const`) | `Assignment to constant variable.` |
//!
//! Where the text does not say enough the engine's message stays (a callee
//! that is not written before the call's parenthesis, a read-only property
//! of a frozen object). Destructuring `undefined` keeps the engine's
//! `Cannot convert undefined or null to object`: quickjs-ng places that
//! error at the start of the enclosing function, not at the declaration,
//! so the property and the value cannot be read from the text.

/// Node's wording of an engine error raised at byte `column` (1-based) of
/// `line` (the evaluated text), or `None` to keep the engine's.
pub(crate) fn node_message(name: &str, message: &str, line: &str, column: u32) -> Option<String> {
    if name != "TypeError" {
        return None;
    }
    let at = usize::try_from(column.max(1) - 1).ok()?.min(line.len());
    if constructed_at(line, at) {
        return None;
    }
    if let Some(reworded) = property_access(message) {
        return Some(reworded);
    }
    match message {
        "not a function" => callee_at(line, at).map(|callee| format!("{callee} is not a function")),
        _ => constant_assignment(message, line, at),
    }
}

/// The script made this error itself (`new TypeError('not a function')`):
/// the engine places it at the constructor's name.
fn constructed_at(line: &str, at: usize) -> bool {
    let name: String = line
        .get(at..)
        .unwrap_or("")
        .chars()
        .take_while(|c| is_identifier_char(*c))
        .collect();
    name.ends_with("Error")
        && line
            .get(at + name.len()..)
            .is_some_and(|rest| rest.trim_start().starts_with('('))
}

/// `cannot read/set property 'x' of undefined|null`.
fn property_access(message: &str) -> Option<String> {
    let (verb, rest) = if let Some(rest) = message.strip_prefix("cannot read property '") {
        ("read", rest)
    } else if let Some(rest) = message.strip_prefix("cannot set property '") {
        ("set", rest)
    } else {
        return None;
    };
    let (property, value) = rest.rsplit_once("' of ")?;
    if value != "undefined" && value != "null" {
        return None;
    }
    let gerund = if verb == "read" { "reading" } else { "setting" };
    Some(format!(
        "Cannot {verb} properties of {value} ({gerund} '{property}')"
    ))
}

/// `'c' is read-only` raised at the binding `c` itself (not a property
/// `o.c`): assigning a `const` (or a function's or class's own name, which
/// V8 words the same). QuickJS places the error at a reference to `c` —
/// the assignment, or a later use of `c` in the same function — so only
/// the name is checked. The read-only globals keep the engine's words.
fn constant_assignment(message: &str, line: &str, at: usize) -> Option<String> {
    let name = message.strip_prefix('\'')?.strip_suffix("' is read-only")?;
    if matches!(name, "undefined" | "NaN" | "Infinity") {
        return None;
    }
    let after = line.get(at..)?.strip_prefix(name)?;
    if after.chars().next().is_some_and(is_identifier_char) {
        return None;
    }
    let before = line.get(..at)?.trim_end();
    if before.ends_with('.') || before.ends_with('#') {
        return None;
    }
    let starts_name = before
        .chars()
        .next_back()
        .is_none_or(|c| !is_identifier_char(c))
        || before.len() < line[..at].len();
    starts_name.then(|| String::from("Assignment to constant variable."))
}

/// The callee of the call at byte `at`: the position is on the callee's
/// last name (`o.f()` → at `f`), so the call's `(` (or a template's
/// backtick) follows it.
fn callee_at(line: &str, at: usize) -> Option<String> {
    let bytes = line.as_bytes();
    let mut end = at;
    while end < bytes.len() && is_identifier_byte(bytes[end]) {
        end += 1;
    }
    let mut open = end;
    while open < bytes.len() && bytes[open].is_ascii_whitespace() {
        open += 1;
    }
    if line[open..].starts_with("?.") {
        open += 2;
    }
    if !matches!(bytes.get(open), Some(b'(' | b'`')) {
        return None;
    }
    let callee = expression_before(&line[..end])?;
    Some(callee)
}

/// The member-access chain that ends `text` (`a.b[0].c(x).d`), printed as V8
/// prints a callee: a call's arguments become `(...)`.
fn expression_before(text: &str) -> Option<String> {
    let bytes = text.trim_end().as_bytes();
    let mut start = bytes.len();
    let mut parts: Vec<String> = Vec::new();
    loop {
        let before = start;
        match bytes[..start].last() {
            Some(b']') => {
                let open = matching_open(&bytes[..start], b'[', b']')?;
                parts.push(text[open..start].to_owned());
                start = open;
                continue;
            }
            Some(b')') => {
                let open = matching_open(&bytes[..start], b'(', b')')?;
                parts.push(String::from("(...)"));
                start = open;
                continue;
            }
            Some(&byte) if is_identifier_byte(byte) => {
                while start > 0 && is_identifier_byte(bytes[start - 1]) {
                    start -= 1;
                }
                parts.push(text[start..before].to_owned());
            }
            _ => break,
        }
        if text[..start].ends_with("?.") {
            parts.push(String::from("?."));
            start -= 2;
        } else if text[..start].ends_with('.') && !text[..start].ends_with("..") {
            parts.push(String::from("."));
            start -= 1;
        } else {
            break;
        }
    }
    if parts.is_empty() || matches!(parts.last().map(String::as_str), Some("." | "?.")) {
        return None;
    }
    parts.reverse();
    let callee = parts.concat();
    // A number or keyword alone is not a callee V8 would name.
    let first = callee.chars().next()?;
    (!first.is_ascii_digit()).then_some(callee)
}

/// The index of the bracket that opens the group `text` ends with.
fn matching_open(text: &[u8], open: u8, close: u8) -> Option<usize> {
    let mut depth = 0_usize;
    for index in (0..text.len()).rev() {
        if text[index] == close {
            depth += 1;
        } else if text[index] == open {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(message: &str, line: &str, column_of: &str) -> Option<String> {
        let column = line.find(column_of).expect("marker in line") + 1;
        node_message("TypeError", message, line, column as u32)
    }

    #[test]
    fn property_reads_and_writes() {
        assert_eq!(
            node("cannot read property 'x' of undefined", "o.x", "o").as_deref(),
            Some("Cannot read properties of undefined (reading 'x')")
        );
        assert_eq!(
            node("cannot set property 'a b' of null", "o['a b'] = 1", "o").as_deref(),
            Some("Cannot set properties of null (setting 'a b')")
        );
        assert_eq!(node("cannot read property 'x' of 5", "o.x", "o"), None);
    }

    #[test]
    fn callees_as_written() {
        let cases = [
            ("  o.foo(1)", "foo", "o.foo"),
            ("f()", "f", "f"),
            (
                "await api.asApp().requestJiraa(route`/x`)",
                "requestJiraa",
                "api.asApp(...).requestJiraa",
            ),
            ("x = list[0].run ()", "run", "list[0].run"),
            ("a?.b?.()", "b", "a?.b"),
            ("tag`x`", "tag", "tag"),
        ];
        for (line, at, callee) in cases {
            assert_eq!(
                node("not a function", line, at),
                Some(format!("{callee} is not a function")),
                "{line}"
            );
        }
        assert_eq!(node("not a function", "(0, x)()", "x"), None);
        assert_eq!(
            node(
                "not a function",
                "throw new TypeError('not a function')",
                "TypeError"
            ),
            None,
            "an error the script makes keeps its words"
        );
        assert_eq!(
            node("not a function", "f()", "f").as_deref(),
            Some("f is not a function")
        );
        assert_eq!(
            node_message("RangeError", "not a function", "f()", 1),
            None,
            "only TypeErrors are reworded"
        );
    }

    #[test]
    fn constant_assignments() {
        for line in ["c = 2", "c += 1", "c++", "c ??= 3", "c >>>= 1"] {
            assert_eq!(
                node("'c' is read-only", line, "c").as_deref(),
                Some("Assignment to constant variable."),
                "{line}"
            );
        }
        assert_eq!(
            node("'c' is read-only", "++c", "c").as_deref(),
            Some("Assignment to constant variable.")
        );
        // QuickJS may place it at a later use of the name.
        assert_eq!(
            node("'c' is read-only", "return c + 1;", "c ").as_deref(),
            Some("Assignment to constant variable.")
        );
        // A frozen object's property keeps the engine's words.
        assert_eq!(node("'x' is read-only", "o.x = 1", "x"), None);
        assert_eq!(node("'x' is read-only", "o.x = 1", "o"), None);
        assert_eq!(node("'c' is read-only", "cc = 1", "cc"), None);
        assert_eq!(
            node("'undefined' is read-only", "undefined = 1", "undefined"),
            None
        );
    }
}
