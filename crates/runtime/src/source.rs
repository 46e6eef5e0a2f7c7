//! The user's text → the text QuickJS evaluates, and positions back again.
//!
//! **Which form.** A text is *module style* when it has an `export`
//! statement at its top level (a Forge module must export its handler);
//! otherwise it is *script style*, the body of a strict async function. Static
//! `import` declarations are accepted in both forms; in script style each one
//! is rewritten, on the same line(s), into `const {…} = await import('…');`,
//! so pasted `import api, { route } from '@forge/api';` lines work and no line
//! moves. Only the modules of `modules` can be imported; anything else is
//! reported before the script runs, at the import's position.
//!
//! The scanner is a small JavaScript lexer: it knows comments, strings,
//! template literals with nested `${}`, regular-expression literals (told from
//! division by the preceding token) and bracket depth, which is all it takes to
//! find top-level `import`/`export` statements.
//!
//! **Positions.** Both forms are evaluated with one line in front of the
//! user's text (the wrapper's head, or an empty line for a module): QuickJS
//! misplaces some columns on the first line of a text by one, and the user's
//! own first line is then like any other. QuickJS counts columns in UTF-8
//! bytes; [`Prepared::user_position`] maps a position back to the user's text,
//! in characters, and points at the `import` keyword on a rewritten line.

use std::collections::HashMap;

use crate::error::ScriptError;

/// The engine's name for the user's script. Stack traces show the script's
/// display name instead ([`Prepared::display_name`]); this name is distinct
/// from any display name, so a position is never mapped twice.
pub(crate) const SCRIPT_FILE: &str = "clockwork:script";

/// The display name of a script that has none of its own.
pub(crate) const DEFAULT_DISPLAY_NAME: &str = "job.js";

/// Script style is evaluated as this function expression; its body is the
/// user's text. Anonymous, so its frame reads like a module's top level
/// in Node (`at nightly-sync.js:3:8`).
const WRAP_PREFIX: &str = "(async function () {\n";
/// A module is evaluated after one empty line.
const MODULE_PREFIX: &str = "\n";
/// Closed on a line of its own, so a trailing `// comment` cannot swallow it.
const WRAP_SUFFIX: &str = "\n})";

/// How a script is written (FORGE-API §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptForm {
    /// The body of a strict-mode async function; top-level `await` and `return`.
    Script,
    /// An ES module exporting `run`, `handler` or a default function.
    Module,
}

/// The text to evaluate plus what it takes to map positions back to the user's text.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) form: ScriptForm,
    pub(crate) code: String,
    /// The names a module exports, as written (`export * from` adds none).
    pub(crate) exports: Vec<String>,
    user_lines: Vec<String>,
    /// 1-based user line → the column (characters) of a rewritten `import`.
    pinned_columns: HashMap<u32, u32>,
    /// Set when the text was printed from TypeScript: positions go on to it.
    origin: Option<std::sync::Arc<crate::typescript::PositionMap>>,
    /// The file name stack traces give the user's script (`nightly-sync.js`).
    pub(crate) display_name: String,
}

impl Prepared {
    /// Maps a QuickJS position in [`Prepared::code`] (1-based line, 1-based byte
    /// column) to the user's text (1-based line, 1-based character column).
    /// Positions in the wrapper's own lines land on the nearest user line.
    pub(crate) fn user_position(&self, line: u32, byte_column: u32) -> (u32, u32) {
        let (line, column) = self.position_in_text(line, byte_column);
        match &self.origin {
            Some(origin) => origin.original(line, column),
            None => (line, column),
        }
    }

    /// Names the script in stack traces.
    pub(crate) fn named(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// The evaluated text's line `line` (1-based), as QuickJS numbers them.
    pub(crate) fn code_line(&self, line: u32) -> Option<&str> {
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        self.code.split('\n').nth(index)
    }

    /// Marks the text as printed from TypeScript, with the way back to it.
    pub(crate) fn with_origin(mut self, origin: crate::typescript::PositionMap) -> Self {
        self.origin = Some(std::sync::Arc::new(origin));
        self
    }

    /// [`Prepared::user_position`] within the text [`prepare`] was given.
    fn position_in_text(&self, line: u32, byte_column: u32) -> (u32, u32) {
        let Some(user_line) = line.checked_sub(1).filter(|line| *line >= 1) else {
            return (1, 1);
        };
        if let Some(&column) = self.pinned_columns.get(&user_line) {
            return (user_line, column);
        }
        let last = u32::try_from(self.user_lines.len())
            .unwrap_or(u32::MAX)
            .max(1);
        let text = |line: u32| {
            self.user_lines
                .get(line as usize - 1)
                .map(String::as_str)
                .unwrap_or("")
        };
        if user_line > last {
            let end = u32::try_from(text(last).chars().count() + 1).unwrap_or(u32::MAX);
            return (last, end);
        }
        (
            user_line,
            char_column(text(user_line), byte_column.max(1) as usize),
        )
    }
}

/// Converts a 1-based byte column within `line` to a 1-based character column.
fn char_column(line: &str, byte_column: usize) -> u32 {
    let prefix_len = (byte_column - 1).min(line.len());
    let chars = line
        .char_indices()
        .take_while(|(index, _)| *index < prefix_len)
        .count();
    u32::try_from(chars + 1).unwrap_or(u32::MAX)
}

/// Detects the form, checks imports and builds the text to evaluate.
pub(crate) fn prepare(text: &str) -> Result<Prepared, ScriptError> {
    let tokens = tokenize(text);
    let analysis = analyse(text, &tokens)?;
    let user_lines = text.split('\n').map(str::to_owned).collect();
    if analysis.has_export {
        return Ok(Prepared {
            form: ScriptForm::Module,
            code: format!("{MODULE_PREFIX}{text}"),
            exports: analysis.exports,
            user_lines,
            pinned_columns: HashMap::new(),
            origin: None,
            display_name: String::from(DEFAULT_DISPLAY_NAME),
        });
    }
    let mut code = String::with_capacity(text.len() + WRAP_PREFIX.len() + 64);
    code.push_str(WRAP_PREFIX);
    let mut pinned_columns = HashMap::new();
    let mut copied_up_to = 0;
    for import in &analysis.imports {
        code.push_str(&text[copied_up_to..import.start]);
        code.push_str(&import.as_dynamic_import());
        let spanned = &text[import.start..import.end];
        for _ in 0..spanned.matches('\n').count() {
            code.push('\n');
        }
        let (line, column) = line_and_column(text, import.start);
        pinned_columns.insert(line, column);
        copied_up_to = import.end;
    }
    code.push_str(&text[copied_up_to..]);
    code.push_str(WRAP_SUFFIX);
    Ok(Prepared {
        form: ScriptForm::Script,
        code,
        exports: Vec::new(),
        user_lines,
        pinned_columns,
        origin: None,
        display_name: String::from(DEFAULT_DISPLAY_NAME),
    })
}

/// 1-based line and character column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

// ---------------------------------------------------------------------------
// Import declarations

/// One static `import` declaration at the top level.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImportDecl {
    /// Byte range of the declaration, including a trailing `;`.
    start: usize,
    end: usize,
    specifier: String,
    default_binding: Option<String>,
    namespace_binding: Option<String>,
    /// `(imported name as written, local name)`.
    named: Vec<(String, String)>,
}

impl ImportDecl {
    /// The same bindings as `const` declarations from a dynamic import.
    fn as_dynamic_import(&self) -> String {
        let source = format!("await import({})", js_string(&self.specifier));
        let mut properties: Vec<String> = Vec::new();
        if let Some(local) = &self.default_binding {
            properties.push(format!("default: {local}"));
        }
        for (imported, local) in &self.named {
            if imported == local {
                properties.push(local.clone());
            } else {
                properties.push(format!("{imported}: {local}"));
            }
        }
        let pattern = format!("{{ {} }}", properties.join(", "));
        match (&self.namespace_binding, properties.is_empty()) {
            (Some(namespace), true) => format!("const {namespace} = {source};"),
            (Some(namespace), false) => {
                format!("const {namespace} = {source}, {pattern} = {namespace};")
            }
            (None, true) => format!("{source};"),
            (None, false) => format!("const {pattern} = {source};"),
        }
    }
}

/// A JavaScript string literal for a module specifier.
fn js_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| String::from("\"\""))
}

struct Analysis {
    has_export: bool,
    exports: Vec<String>,
    imports: Vec<ImportDecl>,
}

fn analyse(text: &str, tokens: &[Token<'_>]) -> Result<Analysis, ScriptError> {
    let mut has_export = false;
    let mut exports = Vec::new();
    let mut imports = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        let top_level_statement = token.depth == 0 && starts_statement(tokens, index);
        if top_level_statement && token.kind == Kind::Ident("export") {
            has_export = true;
            exports.extend(exported_names(&tokens[index + 1..]));
        }
        if top_level_statement
            && token.kind == Kind::Ident("import")
            && !matches!(
                tokens.get(index + 1).map(|t| &t.kind),
                Some(Kind::Punct(b'(' | b'.'))
            )
        {
            let (import, next) = parse_import(text, tokens, index)?;
            if let Err(message) = crate::modules::canonical(&import.specifier) {
                let (line, column) = line_and_column(text, token.start);
                return Err(ScriptError {
                    message,
                    line: Some(line),
                    column: Some(column),
                });
            }
            imports.push(import);
            index = next;
            continue;
        }
        index += 1;
    }
    Ok(Analysis {
        has_export,
        exports,
        imports,
    })
}

/// The names one `export` statement exports; `tokens` follow the keyword.
/// Destructuring declarations (`export const { a } = …`) and `export *`
/// contribute none: the list is for messages, the module's namespace decides.
fn exported_names(tokens: &[Token<'_>]) -> Vec<String> {
    let ident = |at: usize| match tokens.get(at).map(|t| &t.kind) {
        Some(Kind::Ident(name)) => Some(*name),
        _ => None,
    };
    match ident(0) {
        Some("default") => vec![String::from("default")],
        Some("async") if ident(1) == Some("function") => named_after(tokens, 2),
        Some("function") => named_after(tokens, 1),
        Some("class") => ident(1).map(String::from).into_iter().collect(),
        Some("const" | "let" | "var") => declared_names(&tokens[1..]),
        _ if tokens.first().map(|t| &t.kind) == Some(&Kind::Punct(b'{')) => {
            export_clause_names(&tokens[1..])
        }
        _ => Vec::new(),
    }
}

/// `function NAME` or `function* NAME`, from `at` (just after `function`).
fn named_after(tokens: &[Token<'_>], at: usize) -> Vec<String> {
    let at = at + usize::from(tokens.get(at).map(|t| &t.kind) == Some(&Kind::Punct(b'*')));
    match tokens.get(at).map(|t| &t.kind) {
        Some(Kind::Ident(name)) => vec![(*name).to_owned()],
        _ => Vec::new(),
    }
}

/// `a = 1, b = f(x, y)`: the names at the declaration's own depth.
fn declared_names(tokens: &[Token<'_>]) -> Vec<String> {
    let Some(depth) = tokens.first().map(|t| t.depth) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut expect_name = true;
    for token in tokens {
        if token.depth < depth || (token.depth == depth && token.kind == Kind::Punct(b';')) {
            break;
        }
        if token.depth > depth {
            continue;
        }
        match &token.kind {
            Kind::Ident(name) if expect_name => {
                names.push((*name).to_owned());
                expect_name = false;
            }
            Kind::Punct(b',') => expect_name = true,
            _ if expect_name => return names,
            _ if token.newline_before
                && !names.is_empty()
                && matches!(token.kind, Kind::Ident(_)) =>
            {
                break;
            }
            _ => {}
        }
    }
    names
}

/// `a, b as c, d as default }`: the exported names.
fn export_clause_names(tokens: &[Token<'_>]) -> Vec<String> {
    let mut names = Vec::new();
    let mut current: Option<String> = None;
    let mut after_as = false;
    for token in tokens {
        match &token.kind {
            Kind::Punct(b'}') | Kind::Punct(b',') => {
                names.extend(current.take());
                after_as = false;
                if token.kind == Kind::Punct(b'}') {
                    break;
                }
            }
            Kind::Ident("as") if current.is_some() && !after_as => after_as = true,
            Kind::Ident(name) => current = Some((*name).to_owned()),
            Kind::Str(name) => current = Some(name.clone()),
            _ => {}
        }
    }
    names
}

/// A token begins a statement when nothing precedes it, or `;`, `}` or a line break does.
fn starts_statement(tokens: &[Token<'_>], index: usize) -> bool {
    index == 0
        || tokens[index].newline_before
        || matches!(tokens[index - 1].kind, Kind::Punct(b';' | b'}'))
}

fn parse_import(
    text: &str,
    tokens: &[Token<'_>],
    at: usize,
) -> Result<(ImportDecl, usize), ScriptError> {
    let unsupported = || {
        let (line, column) = line_and_column(text, tokens[at].start);
        ScriptError {
            message: String::from("Unsupported import statement"),
            line: Some(line),
            column: Some(column),
        }
    };
    let mut decl = ImportDecl {
        start: tokens[at].start,
        end: tokens[at].end,
        specifier: String::new(),
        default_binding: None,
        namespace_binding: None,
        named: Vec::new(),
    };
    let mut cursor = Cursor {
        tokens,
        index: at + 1,
        last_end: tokens[at].end,
    };
    if let Some(specifier) = cursor.string() {
        decl.specifier = specifier;
    } else {
        if let Some(name) = cursor.identifier() {
            decl.default_binding = Some(name.to_owned());
            if !cursor.punct(b',') {
                cursor
                    .expect_from_clause(&mut decl)
                    .ok_or_else(unsupported)?;
                return Ok(finish_import(decl, cursor));
            }
        }
        if cursor.punct(b'*') {
            if !cursor.keyword("as") {
                return Err(unsupported());
            }
            let name = cursor.identifier().ok_or_else(unsupported)?;
            decl.namespace_binding = Some(name.to_owned());
        } else if cursor.punct(b'{') {
            parse_named_imports(&mut cursor, &mut decl).ok_or_else(unsupported)?;
        } else {
            return Err(unsupported());
        }
        cursor
            .expect_from_clause(&mut decl)
            .ok_or_else(unsupported)?;
    }
    Ok(finish_import(decl, cursor))
}

fn parse_named_imports(cursor: &mut Cursor<'_, '_>, decl: &mut ImportDecl) -> Option<()> {
    loop {
        if cursor.punct(b'}') {
            return Some(());
        }
        let imported = match cursor.string() {
            Some(name) => js_string(&name),
            None => cursor.identifier()?.to_owned(),
        };
        let local = if cursor.keyword("as") {
            cursor.identifier()?.to_owned()
        } else {
            imported.clone()
        };
        decl.named.push((imported, local));
        if !cursor.punct(b',') {
            return cursor.punct(b'}').then_some(());
        }
    }
}

/// Skips import attributes (`with { … }`) and a trailing `;`, and sets the end.
fn finish_import(mut decl: ImportDecl, mut cursor: Cursor<'_, '_>) -> (ImportDecl, usize) {
    if cursor.keyword("with") || cursor.keyword("assert") {
        while let Some(token) = cursor.next() {
            if token.kind == Kind::Punct(b'}') {
                break;
            }
        }
    }
    decl.end = cursor.last_end;
    if cursor
        .peek()
        .is_some_and(|t| t.kind == Kind::Punct(b';') && !t.newline_before)
    {
        decl.end = cursor.peek().map_or(decl.end, |t| t.end);
        cursor.index += 1;
    }
    (decl, cursor.index)
}

struct Cursor<'t, 's> {
    tokens: &'t [Token<'s>],
    index: usize,
    last_end: usize,
}

impl<'t, 's> Cursor<'t, 's> {
    fn peek(&self) -> Option<&'t Token<'s>> {
        self.tokens.get(self.index)
    }

    fn next(&mut self) -> Option<&'t Token<'s>> {
        let token = self.tokens.get(self.index)?;
        self.index += 1;
        self.last_end = token.end;
        Some(token)
    }

    fn punct(&mut self, expected: u8) -> bool {
        if self.peek().is_some_and(|t| t.kind == Kind::Punct(expected)) {
            self.next();
            return true;
        }
        false
    }

    fn keyword(&mut self, expected: &str) -> bool {
        if self.peek().is_some_and(|t| t.kind == Kind::Ident(expected)) {
            self.next();
            return true;
        }
        false
    }

    fn identifier(&mut self) -> Option<&'s str> {
        match self.peek()?.kind {
            Kind::Ident(name) => {
                self.next();
                Some(name)
            }
            _ => None,
        }
    }

    fn string(&mut self) -> Option<String> {
        match &self.peek()?.kind {
            Kind::Str(value) => {
                let value = value.clone();
                self.next();
                Some(value)
            }
            _ => None,
        }
    }

    fn expect_from_clause(&mut self, decl: &mut ImportDecl) -> Option<()> {
        if !self.keyword("from") {
            return None;
        }
        decl.specifier = self.string()?;
        Some(())
    }
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind<'s> {
    Ident(&'s str),
    /// A string literal's value (escapes of the quote and backslash resolved).
    Str(String),
    Punct(u8),
    /// Numbers, template literals, regular expressions: opaque values.
    Value,
}

#[derive(Debug, Clone)]
struct Token<'s> {
    kind: Kind<'s>,
    start: usize,
    end: usize,
    /// Open brackets (`{ ( [` and `${`) around the token.
    depth: usize,
    newline_before: bool,
}

/// After these words a `/` starts a regular expression, not a division.
const KEYWORDS_BEFORE_EXPRESSION: [&str; 14] = [
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

fn is_ident_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte == b'\\' || byte >= 0x80
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Bracket,
    TemplateExpression,
}

struct Lexer<'s> {
    text: &'s str,
    bytes: &'s [u8],
    pos: usize,
    stack: Vec<Open>,
    tokens: Vec<Token<'s>>,
    newline_before: bool,
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        stack: Vec::new(),
        tokens: Vec::new(),
        newline_before: false,
    };
    lexer.run();
    lexer.tokens
}

impl<'s> Lexer<'s> {
    fn run(&mut self) {
        while let Some(&byte) = self.bytes.get(self.pos) {
            let start = self.pos;
            match byte {
                b'\n' => {
                    self.newline_before = true;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'/' if self.peek_at(1) == Some(b'/') => self.skip_line_comment(),
                b'/' if self.peek_at(1) == Some(b'*') => self.skip_block_comment(),
                b'/' if self.regex_allowed() => {
                    self.skip_regex();
                    self.push(Kind::Value, start);
                }
                b'\'' | b'"' => {
                    let value = self.read_string(byte);
                    self.push(Kind::Str(value), start);
                }
                b'`' => {
                    self.pos += 1;
                    self.scan_template(start);
                }
                b'{' | b'(' | b'[' => {
                    self.pos += 1;
                    self.push(Kind::Punct(byte), start);
                    self.stack.push(Open::Bracket);
                }
                b'}' if self.stack.last() == Some(&Open::TemplateExpression) => {
                    self.stack.pop();
                    self.pos += 1;
                    self.scan_template(start);
                }
                b'}' | b')' | b']' => {
                    self.stack.pop();
                    self.pos += 1;
                    self.push(Kind::Punct(byte), start);
                }
                b'0'..=b'9' => {
                    while self
                        .bytes
                        .get(self.pos)
                        .is_some_and(|b| is_ident_byte(*b) || *b == b'.')
                    {
                        self.pos += 1;
                    }
                    self.push(Kind::Value, start);
                }
                _ if is_ident_byte(byte) => {
                    while self.bytes.get(self.pos).is_some_and(|b| is_ident_byte(*b)) {
                        self.pos += 1;
                    }
                    let word = self.text.get(start..self.pos).unwrap_or("");
                    self.push(Kind::Ident(word), start);
                }
                _ => {
                    self.pos += 1;
                    self.push(Kind::Punct(byte), start);
                }
            }
        }
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, kind: Kind<'s>, start: usize) {
        // A closing bracket has already left the stack: its depth is that of its opener.
        self.tokens.push(Token {
            kind,
            start,
            end: self.pos,
            depth: self.stack.len(),
            newline_before: std::mem::take(&mut self.newline_before),
        });
    }

    fn regex_allowed(&self) -> bool {
        match self.tokens.last().map(|t| &t.kind) {
            None => true,
            Some(Kind::Ident(word)) => KEYWORDS_BEFORE_EXPRESSION.contains(word),
            Some(Kind::Str(_) | Kind::Value) => false,
            Some(Kind::Punct(b')' | b']')) => false,
            Some(Kind::Punct(_)) => true,
        }
    }

    fn skip_line_comment(&mut self) {
        while self.bytes.get(self.pos).is_some_and(|b| *b != b'\n') {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) {
        self.pos += 2;
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == b'\n' {
                self.newline_before = true;
            }
            if self.bytes[self.pos] == b'*' && self.peek_at(1) == Some(b'/') {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
    }

    /// A regular expression literal ends at its unescaped `/` outside a class, or at a line end.
    fn skip_regex(&mut self) {
        self.pos += 1;
        let mut in_class = false;
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'\n' => return,
                b'\\' => self.pos += 1,
                b'[' => in_class = true,
                b']' => in_class = false,
                b'/' if !in_class => {
                    self.pos += 1;
                    while self.bytes.get(self.pos).is_some_and(|b| is_ident_byte(*b)) {
                        self.pos += 1;
                    }
                    return;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn read_string(&mut self, quote: u8) -> String {
        self.pos += 1;
        let mut value = Vec::new();
        while let Some(&byte) = self.bytes.get(self.pos) {
            self.pos += 1;
            match byte {
                b'\\' => {
                    if let Some(&escaped) = self.bytes.get(self.pos) {
                        value.push(escaped);
                        self.pos += 1;
                    }
                }
                b'\n' => break,
                _ if byte == quote => break,
                _ => value.push(byte),
            }
        }
        String::from_utf8_lossy(&value).into_owned()
    }

    /// Scans template text after a backtick or a closing `}` of `${…}`; stops
    /// after the closing backtick or after a `${` (pushed on the stack).
    fn scan_template(&mut self, start: usize) {
        while let Some(&byte) = self.bytes.get(self.pos) {
            self.pos += 1;
            match byte {
                b'\\' => self.pos += 1,
                b'\n' => self.newline_before = true,
                b'`' => break,
                b'$' if self.bytes.get(self.pos) == Some(&b'{') => {
                    self.pos += 1;
                    self.push(Kind::Value, start);
                    self.stack.push(Open::TemplateExpression);
                    return;
                }
                _ => {}
            }
        }
        self.push(Kind::Value, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> ScriptForm {
        prepare(text).unwrap().form
    }

    #[test]
    fn plain_body_is_script_style() {
        assert_eq!(form("return 1 + 1;"), ScriptForm::Script);
        assert_eq!(form(""), ScriptForm::Script);
    }

    #[test]
    fn top_level_export_makes_a_module() {
        assert_eq!(form("export async function run() {}"), ScriptForm::Module);
        assert_eq!(form("export default async () => 1"), ScriptForm::Module);
        assert_eq!(
            form("import api from '@forge/api';\nexport const handler = () => api;"),
            ScriptForm::Module
        );
        assert_eq!(form("const x = 1; export { x as run }"), ScriptForm::Module);
    }

    #[test]
    fn export_names_are_collected() {
        let text = "export const trigger = async () => 1, other = 2;\n\
                    export async function run() {}\n\
                    export function* gen() {}\n\
                    export class K {}\n\
                    const a = 1, b = 2; export { a, b as beta, a as default };\n\
                    export let { x } = {};\n\
                    export const handler = resolver.getDefinitions();";
        assert_eq!(
            prepare(text).unwrap().exports,
            [
                "trigger", "other", "run", "gen", "K", "a", "beta", "default", "handler"
            ]
        );
        assert_eq!(
            prepare("export default () => 1").unwrap().exports,
            ["default"]
        );
    }

    #[test]
    fn imports_alone_keep_script_style() {
        assert_eq!(
            form("import api, { route } from '@forge/api';\nreturn 1"),
            ScriptForm::Script
        );
    }

    #[test]
    fn export_inside_strings_comments_templates_and_regexes_is_ignored() {
        let texts = [
            "const s = 'export default 1';",
            "const s = \"export\\\" default\";",
            "// export default 1\nreturn 1",
            "/* export\n default */ return 1",
            "const t = `\nexport default ${ `nested ${1}` }\n`;",
            "const r = /export default/.test('x');",
            "if (x) { y = a / 2 } const r = /['`]/; return 'export'",
            "const o = { export: 1 }; return o.export",
        ];
        for text in texts {
            assert_eq!(form(text), ScriptForm::Script, "{text}");
        }
    }

    #[test]
    fn dynamic_import_and_import_meta_are_not_declarations() {
        let prepared = prepare("const m = await import('@forge/api');\nreturn m").unwrap();
        assert_eq!(prepared.form, ScriptForm::Script);
        assert!(prepared.code.contains("await import('@forge/api')"));
    }

    #[test]
    fn import_forms_are_rewritten_on_the_same_line() {
        let cases = [
            (
                "import api, { route } from '@forge/api';",
                "const { default: api, route } = await import(\"@forge/api\");",
            ),
            (
                "import api from \"@forge/api\"",
                "const { default: api } = await import(\"@forge/api\");",
            ),
            (
                "import { kvs, WhereConditions as W } from '@forge/kvs';",
                "const { kvs, WhereConditions: W } = await import(\"@forge/kvs\");",
            ),
            (
                "import * as events from '@forge/events';",
                "const events = await import(\"@forge/events\");",
            ),
            (
                "import api, * as forge from '@forge/api';",
                "const forge = await import(\"@forge/api\"), { default: api } = forge;",
            ),
            ("import '@forge/api';", "await import(\"@forge/api\");"),
            (
                "import { default as api, route, } from '@forge/api';",
                "const { default: api, route } = await import(\"@forge/api\");",
            ),
        ];
        for (text, expected) in cases {
            let prepared = prepare(&format!("{text}\nreturn 1")).unwrap();
            assert_eq!(
                prepared.code,
                format!("{WRAP_PREFIX}{expected}\nreturn 1{WRAP_SUFFIX}"),
                "{text}"
            );
        }
    }

    #[test]
    fn multi_line_imports_keep_later_lines_in_place() {
        let text = "import {\n  route,\n  storage\n} from '@forge/api';\nthrow new Error('x')";
        let prepared = prepare(text).unwrap();
        let lines: Vec<&str> = prepared.code.lines().collect();
        assert_eq!(lines[5], "throw new Error('x')");
        assert_eq!(prepared.user_position(2, 40), (1, 1));
    }

    #[test]
    fn unknown_modules_are_rejected_at_their_position() {
        let error = prepare("const a = 1;\n  import _ from 'lodash';").unwrap_err();
        assert!(
            error
                .message
                .starts_with("Cannot import 'lodash': only @forge/api"),
            "{}",
            error.message
        );
        assert_eq!((error.line, error.column), (Some(2), Some(3)));
        let error = prepare("import x from './x.js';\nexport default x").unwrap_err();
        assert_eq!((error.line, error.column), (Some(1), Some(1)));
    }

    #[test]
    fn malformed_import_is_reported() {
        let error = prepare("import { a from '@forge/api';").unwrap_err();
        assert_eq!(error.message, "Unsupported import statement");
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn the_wrapper_line_is_not_the_users() {
        let prepared = prepare("null.x\nfoo()").unwrap();
        assert_eq!(prepared.user_position(2, 5), (1, 5));
        assert_eq!(prepared.user_position(3, 1), (2, 1));
        assert_eq!(prepared.user_position(1, 9), (1, 1), "the wrapper's head");
        assert_eq!(
            prepared.user_position(4, 1),
            (2, 6),
            "the wrapper's tail: end of the text"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let prepared = prepare("return 1;\nconst é = 'ü'; null.x").unwrap();
        // "const é = 'ü'; " is 15 characters, 17 bytes.
        assert_eq!(prepared.user_position(3, 18), (2, 16));
    }

    #[test]
    fn module_positions_are_unchanged() {
        let prepared = prepare("export default 1;\n  x").unwrap();
        assert_eq!(prepared.user_position(2, 5), (1, 5));
        assert_eq!(prepared.code, "\nexport default 1;\n  x");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_prepared_without_panicking(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "import", "export", "from", "'@forge/api'", "\"x\"", "`", "${", "}", "{", "(", ")",
                    "/", "*", "//", "/*", "*/", "\\", "\n", " ", ";", ",", "as", "api", "é", "1", ".", "[", "]",
                ]),
                0..40,
            )
        ) {
            let text: String = pieces.concat();
            if let Ok(prepared) = prepare(&text) {
                let lines = u32::try_from(text.split('\n').count()).unwrap();
                for line in 0..lines + 3 {
                    for column in [0, 1, 2, 40] {
                        let (mapped_line, mapped_column) = prepared.user_position(line, column);
                        proptest::prop_assert!((1..=lines.max(1)).contains(&mapped_line));
                        proptest::prop_assert!(mapped_column >= 1);
                    }
                }
            }
        }
    }
}
