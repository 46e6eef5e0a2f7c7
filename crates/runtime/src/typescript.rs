//! TypeScript: the language a script is written in, and its types stripped
//! before QuickJS sees it, with positions mapped back to the user's text.
//!
//! oxc parses the TypeScript, its transformer removes what only the type
//! checker reads (annotations, interfaces, `as`, `!`, type-only imports, …)
//! and lowers what TypeScript adds to JavaScript at run time (`enum`,
//! `namespace`, parameter properties), and its code generator prints the
//! JavaScript with a source map. Types are never checked: as with Forge's
//! bundler, only syntax errors reject a script.
//!
//! The printed JavaScript differs in layout from the user's text (blank
//! lines and most comments go, statements are re-indented), so every
//! position QuickJS reports in it is translated through the source map by
//! [`PositionMap::original`]: a stack trace or an error names the line and
//! column of the user's TypeScript.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_diagnostics::OxcDiagnostic;
use oxc_parser::{ParseOptions, Parser};
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{TransformOptions, Transformer};

use crate::error::ScriptError;
use crate::source::{self, Prepared};

/// The language a script is written in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// JavaScript, run as written.
    #[default]
    JavaScript,
    /// TypeScript: types are stripped before the script runs, never checked.
    TypeScript,
}

impl Language {
    /// Every language, in the order the API lists them.
    pub const ALL: [Language; 2] = [Language::JavaScript, Language::TypeScript];

    /// The language a file's name says: `.ts`, `.mts` and `.cts` are
    /// TypeScript, anything else JavaScript.
    pub fn of_path(path: &Path) -> Language {
        match path.extension().and_then(|extension| extension.to_str()) {
            Some("ts" | "mts" | "cts") => Language::TypeScript,
            _ => Language::JavaScript,
        }
    }

    /// The name the API and job files use: `javascript` or `typescript`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language name that is neither `javascript` nor `typescript`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: expected javascript or typescript")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "javascript" => Ok(Language::JavaScript),
            "typescript" => Ok(Language::TypeScript),
            other => Err(UnknownLanguage(other.to_owned())),
        }
    }
}

/// Prepares `text`, written in `language`, for QuickJS (see
/// [`source::prepare`]); positions QuickJS reports map to `text`.
pub(crate) fn prepare(text: &str, language: Language) -> Result<Prepared, ScriptError> {
    match language {
        Language::JavaScript => source::prepare(text),
        Language::TypeScript => {
            let stripped = strip(text)?;
            match source::prepare(&stripped.code) {
                Ok(prepared) => Ok(prepared.with_origin(stripped.map)),
                Err(error) => Err(stripped.map.error_in_original(error)),
            }
        }
    }
}

/// The source map's name for the user's text (it names nothing a user sees).
const SOURCE_NAME: &str = "job.ts";

/// JavaScript printed from a TypeScript text, and the way back.
#[derive(Debug, Clone)]
pub(crate) struct Stripped {
    pub(crate) code: String,
    pub(crate) map: PositionMap,
}

/// Compiles TypeScript to JavaScript. A syntax error is reported at its
/// position in `text`; type errors are not looked for.
pub(crate) fn strip(text: &str) -> Result<Stripped, ScriptError> {
    let allocator = Allocator::default();
    // Module goal: `import`/`export` and top-level `await` parse in both
    // script forms; a script-style body may also `return` at the top level.
    let parsed = Parser::new(&allocator, text, SourceType::ts().with_module(true))
        .with_options(ParseOptions {
            allow_return_outside_function: true,
            ..ParseOptions::default()
        })
        .parse();
    if let Some(error) = parsed.diagnostics.first() {
        return Err(syntax_error(text, error));
    }
    let mut program = parsed.program;
    // `enum` lowering needs the members' values evaluated here.
    let scoping = SemanticBuilder::new()
        .with_enum_eval(true)
        .build(&program)
        .semantic
        .into_scoping();
    let transformed = Transformer::new(
        &allocator,
        Path::new(SOURCE_NAME),
        &TransformOptions::default(),
    )
    .build_with_scoping(scoping, &mut program);
    if let Some(error) = transformed.diagnostics.first() {
        return Err(syntax_error(text, error));
    }
    let printed = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(PathBuf::from(SOURCE_NAME)),
            ..CodegenOptions::default()
        })
        .build(&program);
    let map = printed
        .map
        .map(|map| PositionMap::new(&map, &printed.code, text))
        .unwrap_or_default();
    Ok(Stripped {
        code: printed.code,
        map,
    })
}

/// A diagnostic of oxc as a [`ScriptError`] at its first labelled position.
fn syntax_error(text: &str, error: &OxcDiagnostic) -> ScriptError {
    let offset = error
        .labels
        .iter()
        .find(|label| label.primary())
        .or_else(|| error.labels.first())
        .map(|label| label.offset() as usize);
    let position = offset.map(|offset| line_and_column(text, offset));
    let mut message = format!("SyntaxError: {}", error.message);
    if let Some(help) = &error.help {
        message.push_str(&format!(" ({help})"));
    }
    ScriptError {
        message,
        line: position.map(|(line, _)| line),
        column: position.map(|(_, column)| column),
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
fn line_and_column(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (saturate(line), saturate(column))
}

fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Positions in the printed JavaScript → positions in the user's TypeScript.
#[derive(Debug, Clone, Default)]
pub(crate) struct PositionMap {
    /// Sorted by the generated position; all 0-based, columns in characters.
    mappings: Vec<Mapping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Mapping {
    generated: (u32, u32),
    original: (u32, u32),
}

impl PositionMap {
    fn new(map: &oxc_sourcemap::SourceMap<'_>, code: &str, text: &str) -> Self {
        let code_lines: Vec<&str> = code.split('\n').collect();
        let text_lines: Vec<&str> = text.split('\n').collect();
        let mut mappings: Vec<Mapping> = map
            .get_tokens()
            .map(|token| Mapping {
                generated: (
                    token.get_dst_line(),
                    char_column(&code_lines, token.get_dst_line(), token.get_dst_col()),
                ),
                original: (
                    token.get_src_line(),
                    char_column(&text_lines, token.get_src_line(), token.get_src_col()),
                ),
            })
            .collect();
        mappings.sort_unstable();
        mappings.dedup_by_key(|mapping| mapping.generated);
        Self { mappings }
    }

    /// An error found in the printed JavaScript, at its place in the user's text.
    fn error_in_original(&self, error: ScriptError) -> ScriptError {
        let Some(line) = error.line else {
            return error;
        };
        let (line, column) = self.original(line, error.column.unwrap_or(1));
        ScriptError {
            line: Some(line),
            column: error.column.map(|_| column),
            ..error
        }
    }

    /// Maps a 1-based line and character column of the printed JavaScript
    /// to the user's text: the nearest mapped token at or before it on its
    /// line (else the first one after it), plus the distance from that token.
    pub(crate) fn original(&self, line: u32, column: u32) -> (u32, u32) {
        let generated = (line.saturating_sub(1), column.saturating_sub(1));
        let after = self
            .mappings
            .partition_point(|mapping| mapping.generated <= generated);
        let on_line = |mapping: &&Mapping| mapping.generated.0 == generated.0;
        let before = after
            .checked_sub(1)
            .and_then(|index| self.mappings.get(index))
            .filter(on_line);
        match before {
            Some(mapping) => {
                let distance = generated.1 - mapping.generated.1;
                (
                    mapping.original.0 + 1,
                    mapping.original.1.saturating_add(distance) + 1,
                )
            }
            None => match self.mappings.get(after).or(self.mappings.last()) {
                Some(mapping) => (mapping.original.0 + 1, mapping.original.1 + 1),
                None => (line, column),
            },
        }
    }
}

/// A source map's UTF-16 column on line `line` of `lines` → characters.
fn char_column(lines: &[&str], line: u32, utf16_column: u32) -> u32 {
    let Some(text) = lines.get(line as usize) else {
        return utf16_column;
    };
    if text.is_ascii() {
        return utf16_column;
    }
    let mut units = 0;
    let mut chars = 0;
    for character in text.chars() {
        if units >= utf16_column as usize {
            break;
        }
        units += character.len_utf16();
        chars += 1;
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_read_from_names_and_extensions() {
        assert_eq!("typescript".parse(), Ok(Language::TypeScript));
        assert_eq!("javascript".parse(), Ok(Language::JavaScript));
        assert!("ts".parse::<Language>().is_err());
        for name in ["a.ts", "dir/b.mts", "c.cts"] {
            assert_eq!(Language::of_path(Path::new(name)), Language::TypeScript);
        }
        for name in ["a.js", "b.mjs", "-", "c.ts.txt"] {
            assert_eq!(Language::of_path(Path::new(name)), Language::JavaScript);
        }
    }

    #[test]
    fn types_go_and_values_stay() {
        let stripped = strip(
            "interface A { b: string }\nconst v: number = 1 as any;\nenum E { X, Y = 5 }\nreturn v! + E.Y;",
        )
        .unwrap();
        assert!(!stripped.code.contains("interface"), "{}", stripped.code);
        assert!(!stripped.code.contains(": number"), "{}", stripped.code);
        assert!(
            stripped.code.contains("return v + E.Y"),
            "{}",
            stripped.code
        );
    }

    #[test]
    fn positions_map_back_across_removed_lines() {
        let text = "type T = { a: number };\n\n// note\nconst x: T | null = null;\nx!.a;";
        let stripped = strip(text).unwrap();
        let (line, _) = stripped
            .code
            .lines()
            .enumerate()
            .find(|(_, line)| line.starts_with("x.a"))
            .unwrap();
        let line = u32::try_from(line).unwrap() + 1;
        assert_eq!(stripped.map.original(line, 1), (5, 1));
        // `.a` is one character further in the TypeScript (after `!`):
        // the distance from the nearest token is kept, landing on the name.
        assert_eq!(stripped.map.original(line, 3), (5, 4));
    }

    #[test]
    fn columns_count_characters_not_utf16_units() {
        let text = "const s: string = '😀'; const n: number = 1; null!.x;";
        let stripped = strip(text).unwrap();
        let (line, code) = stripped
            .code
            .lines()
            .enumerate()
            .find(|(_, line)| line.contains("null"))
            .unwrap();
        let line = u32::try_from(line).unwrap() + 1;
        let column = u32::try_from(code[..code.find("null").unwrap()].chars().count()).unwrap();
        let expected = u32::try_from(text[..text.find("null").unwrap()].chars().count()).unwrap();
        assert_eq!(stripped.map.original(line, column + 1), (1, expected + 1));
    }

    #[test]
    fn syntax_errors_point_into_the_typescript() {
        let error = strip("const a: number = 1;\nconst b: string = ;").unwrap_err();
        assert!(error.message.starts_with("SyntaxError: "), "{error:?}");
        assert_eq!((error.line, error.column), (Some(2), Some(19)));
    }

    #[test]
    fn type_errors_are_not_reported() {
        assert!(strip("const a: number = 'text';\nreturn a;").is_ok());
    }
}
