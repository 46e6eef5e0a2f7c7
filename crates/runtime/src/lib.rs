//! Runs one Forge-style script in a QuickJS sandbox, with hard limits, and
//! returns its [`Outcome`].
//!
//! An [`Executor`] owns the threads scripts run on (each live run on an
//! operating-system thread of its own, reusing an engine a previous run
//! left clean, so a script that never yields delays neither
//! other runs nor the caller) and a watchdog thread for deadlines. [`Executor::start`] takes a [`RunSpec`] — the script, its
//! [`Limits`], parameters, chain state or queue event, job and run details,
//! [`Sites`] and [`Services`] — and returns a [`RunHandle`] to cancel the
//! run, follow its log live ([`LogStream`]) and await its [`Outcome`].
//! [`check_syntax`] validates a script without running it; scripts in
//! TypeScript ([`Language`]) have their types stripped first (`typescript`).
//!
//! The crate owns the sandbox and everything a script sees: both script
//! forms (see `source` for how the form is detected), errors as Node shows
//! them (`stack`, `messages`: the engine's `TypeError`s in V8's words, stacks
//! naming the user's file with positions in their own text), console capture, timers, `event` and `context`, and
//! the Forge API (`@forge/api`, `@forge/kvs`, `@forge/events`, also as
//! script-style globals) over two traits other crates implement:
//! [`KvStore`] and [`QueueBackend`] (in-memory versions included).
//!
//! Limits hold for every script: the wall-clock timeout and cancellation
//! (busy loops, native built-ins, a never-settling `await`), heap memory,
//! log volume and result size. See `limits` and `harden.js` for how; one
//! call of a native built-in still runs to its end (tens to hundreds of
//! milliseconds on the largest strings and arrays the memory limit allows).
//!
//! It must not know about databases, SQL, schedules, cron or the REST API:
//! what it needs from them arrives in the [`RunSpec`].
//!
//! ```
//! use std::time::Duration;
//! use runtime::{Executor, ExecutorConfig, RunSpec, RunStatus};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), runtime::RuntimeError> {
//! let executor = Executor::new(ExecutorConfig::default())?;
//! let mut spec = RunSpec::new("console.log('hello');\nreturn context.params.n * 2");
//! spec.params = serde_json::json!({ "n": 21 });
//! spec.limits.timeout = Duration::from_secs(5);
//! let handle = executor.start(spec);
//! let outcome = handle.outcome().await;
//! assert_eq!(outcome.status, RunStatus::Succeeded);
//! assert_eq!(outcome.result, serde_json::json!(42));
//! assert_eq!(outcome.logs[0].message, "hello");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod bytes;
mod console;
mod engine;
mod entity;
mod error;
mod executor;
mod globals;
mod handler;
mod hashing;
mod host;
mod host_fn;
mod http;
mod intl;
mod js_error;
mod kv;
mod limits;
mod logs;
mod mask;
mod memory_entity;
mod messages;
mod modules;
mod node;
mod outcome;
mod precompiled;
mod queue;
mod source;
mod spec;
mod stack;
mod syntax;
mod timers;
mod typescript;
mod web;

pub use crate::entity::{
    AttributeDeclaration, AttributeType, Entity, EntityCatalog, EntityDeclaration,
    EntityDeclarationError, EntityIndex, EntityQuery, EntityRange, IndexDeclaration,
};
pub use crate::error::{RuntimeError, ScriptError};
pub use crate::executor::{
    EngineCounts, Executor, ExecutorConfig, RUN_NICENESS, RunControl, RunHandle, check_handler,
    check_script, check_syntax,
};
pub use crate::kv::{KvError, KvExpect, KvOp, KvPage, KvSetItem, KvStore, MemoryKvStore};
pub use crate::logs::LogStream;
pub use crate::outcome::{
    Continuation, ErrorInfo, LogKind, LogLevel, LogLine, Outcome, RetryRequest, RunStatus,
};
pub use crate::queue::{
    EventState, MemoryQueue, QueueBackend, QueueError, QueueEvent, QueueJobStats,
};
pub use crate::source::ScriptForm;
pub use crate::spec::{Credential, JobInfo, Limits, RunInfo, RunSpec, Services, Sites};
pub use crate::typescript::{Language, UnknownLanguage};
/// One outbound HTTP call of a run, as [`Outcome::http_calls`] lists it.
pub use egress::CallRecord;
