//! Errors at the crate boundary.

/// The executor could not be set up (the run itself never fails this way: a
/// run always ends in an [`Outcome`](crate::Outcome)).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The tokio runtime or the watchdog thread could not be started.
    #[error("cannot start the script executor: {0}")]
    Start(#[from] std::io::Error),
}

/// A script that cannot run as written: a syntax error or an import of a
/// module that does not exist. Positions are 1-based, in the user's text,
/// columns in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}{}", position_suffix(*.line, *.column))]
pub struct ScriptError {
    /// What is wrong, as the engine says it (`SyntaxError: unexpected token …`).
    pub message: String,
    /// Line of the problem, when known.
    pub line: Option<u32>,
    /// Column of the problem, when known.
    pub column: Option<u32>,
}

fn position_suffix(line: Option<u32>, column: Option<u32>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    }
}
