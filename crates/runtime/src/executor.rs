//! Where runs execute: a dedicated multi-thread tokio runtime, so a busy
//! script never delays the caller's runtime (the scheduler, HTTP answers).

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::engine;
use crate::error::{RuntimeError, ScriptError};
use crate::limits::{Guard, Trip, Watchdog};
use crate::logs::{LogSink, LogStream};
use crate::outcome::{ErrorInfo, Outcome, RunStatus};
use crate::source::ScriptForm;
use crate::spec::RunSpec;
use crate::typescript::Language;

/// Native stack of each worker thread: QuickJS's own budget
/// ([`engine::JS_STACK_BYTES`]) plus ample room for the host code around it.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Stands in for a timeout beyond what the clock can represent.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// How an [`Executor`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Threads running scripts; defaults to the number of cores.
    pub worker_threads: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            worker_threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// Runs scripts, each in its own sandbox, on threads of its own.
///
/// Dropping the executor stops runs still going: their handles then report
/// `cancelled` ("the executor shut down").
pub struct Executor {
    runtime: Option<tokio::runtime::Runtime>,
    watchdog: Watchdog,
}

impl Executor {
    /// Starts the worker threads and the deadline watchdog.
    pub fn new(config: ExecutorConfig) -> Result<Self, RuntimeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("clockwork-js")
            .thread_stack_size(WORKER_STACK_BYTES)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            watchdog: Watchdog::start()?,
        })
    }

    /// Starts one run. Its clock starts now; the handle follows it.
    pub fn start(&self, spec: RunSpec) -> RunHandle {
        let started = Instant::now();
        // A timeout too large for the clock is as good as none.
        let deadline = started
            .checked_add(spec.limits.timeout)
            .or_else(|| started.checked_add(FOREVER))
            .unwrap_or(started);
        let guard = Arc::new(Guard::new(deadline, spec.limits.memory_bytes));
        self.watchdog.watch(&guard);
        let logs = Arc::new(LogSink::new(spec.limits.log_bytes));
        let control = RunControl {
            guard: Arc::clone(&guard),
            logs: Arc::clone(&logs),
        };
        let task = self.handle().spawn(engine::run(spec, guard, logs, started));
        RunHandle {
            control,
            task,
            started,
        }
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        // `runtime` is only taken in `drop`.
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the executor's runtime lives until the executor is dropped"),
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Fields drop after this body: stop the scripts first (the watchdog
        // trips every live guard), so no worker stays busy in one.
        self.watchdog.stop_all();
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so an executor may be dropped inside async code.
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

/// Cancels a run and watches its log; cheap to clone and send anywhere.
#[derive(Clone)]
pub struct RunControl {
    guard: Arc<Guard>,
    logs: Arc<LogSink>,
}

impl RunControl {
    /// Stops the run: it ends `cancelled` within moments, whatever it is doing.
    pub fn cancel(&self) {
        self.guard.trip(Trip::Cancelled);
    }

    /// The lines written so far, then each new line until the run ends.
    pub fn logs(&self) -> LogStream {
        self.logs.subscribe()
    }
}

impl std::fmt::Debug for RunControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunControl").finish_non_exhaustive()
    }
}

/// A started run.
#[derive(Debug)]
pub struct RunHandle {
    control: RunControl,
    task: JoinHandle<Outcome>,
    started: Instant,
}

impl RunHandle {
    /// Stops the run (see [`RunControl::cancel`]).
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// The run's live log (see [`RunControl::logs`]).
    pub fn logs(&self) -> LogStream {
        self.control.logs()
    }

    /// A handle to cancel the run or follow its log from elsewhere.
    pub fn control(&self) -> RunControl {
        self.control.clone()
    }

    /// Waits for the run to end; awaitable from any tokio runtime.
    pub async fn outcome(self) -> Outcome {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(error) => {
                let (status, message) = if error.is_cancelled() {
                    (RunStatus::Cancelled, "the executor shut down")
                } else {
                    (RunStatus::Failed, "the run ended by an internal error")
                };
                Outcome {
                    status,
                    result: serde_json::Value::Null,
                    error: Some(ErrorInfo::message(message)),
                    logs: self.control.logs.finish(),
                    http_calls: Vec::new(),
                    duration: self.started.elapsed(),
                    peak_memory_bytes: self.control.guard.peak_bytes() as u64,
                    continuation: None,
                    retry: None,
                }
            }
        }
    }
}

/// Checks a JavaScript script without running it: its form, its imports
/// and its syntax, with the position of the first problem.
pub fn check_syntax(source: &str) -> Result<ScriptForm, ScriptError> {
    check_script(source, Language::JavaScript)
}

/// [`check_syntax`] for a script in `language`; a TypeScript script's
/// types are stripped, never checked, and positions are in its own text.
pub fn check_script(source: &str, language: Language) -> Result<ScriptForm, ScriptError> {
    let prepared = crate::typescript::prepare(source, language)?;
    crate::syntax::compile(&prepared)?;
    Ok(prepared.form)
}
