//! The sandbox's records as the store keeps them: the one mapping from
//! `runtime`'s outcome types to `store`'s (the two crates know nothing of
//! each other). Workers store runs with it; the server shows console runs
//! and live logs with it.

/// A log line as stored.
pub fn log_line(line: &runtime::LogLine) -> store::LogLine {
    store::LogLine {
        ts: line.ts,
        level: log_level(line.level),
        message: line.message.clone(),
    }
}

/// A log level as stored.
pub fn log_level(level: runtime::LogLevel) -> store::LogLevel {
    match level {
        runtime::LogLevel::Debug => store::LogLevel::Debug,
        runtime::LogLevel::Info => store::LogLevel::Info,
        runtime::LogLevel::Warn => store::LogLevel::Warn,
        runtime::LogLevel::Error => store::LogLevel::Error,
    }
}

/// An outbound HTTP call's summary as stored.
pub fn http_call(call: &runtime::CallRecord) -> store::HttpCall {
    store::HttpCall {
        method: call.method.clone(),
        url: call.url.clone(),
        status: call.status,
        duration_ms: call.duration_ms,
        retries: call.retries,
        error: call.error.clone(),
        response_size: call.response_size,
    }
}

/// Why a run did not succeed, as stored.
pub fn run_error(error: &runtime::ErrorInfo) -> store::RunError {
    store::RunError {
        message: error.message.clone(),
        stack: error.stack.clone(),
        line: error.line,
        column: error.column,
    }
}

/// A stored script language as the sandbox knows it.
pub fn language(language: store::Language) -> runtime::Language {
    match language {
        store::Language::JavaScript => runtime::Language::JavaScript,
        store::Language::TypeScript => runtime::Language::TypeScript,
    }
}

/// A script language the sandbox knows, as stored.
pub fn script_language(language: runtime::Language) -> store::Language {
    match language {
        runtime::Language::JavaScript => store::Language::JavaScript,
        runtime::Language::TypeScript => store::Language::TypeScript,
    }
}
