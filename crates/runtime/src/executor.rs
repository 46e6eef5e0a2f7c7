//! Where runs execute: each live run on an operating-system thread of its
//! own, so a script that never yields shares the CPU with every other run
//! instead of holding a thread they wait for, and never delays the caller
//! (the scheduler, HTTP answers).
//!
//! The threads are the blocking pool of a tokio runtime owned by the
//! executor: a finished run's thread waits a while for the next run, and
//! its engine goes back to the executor's pool (see `engine`), so a run
//! seldom pays for either. Each
//! thread drives its run with [`Handle::block_on`](tokio::runtime::Handle::block_on):
//! the run's timers and I/O are driven by the runtime's few worker threads,
//! and a run awaiting them holds no CPU.
//!
//! Run threads yield the CPU to the rest of the process: they run
//! [`RUN_NICENESS`] steps nicer than it (see [`lower_priority_once`]), so
//! however many scripts loop, the scheduler's threads (claims, timeouts,
//! `skipped` and `missed` records), the writer and HTTP answers get the CPU
//! first when they need it, while scripts still share it fairly among
//! themselves.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::engine::{self, EnginePool};
use crate::error::{RuntimeError, ScriptError};
use crate::limits::{Guard, Trip, Watchdog};
use crate::logs::{LogSink, LogStream};
use crate::outcome::{ErrorInfo, Outcome, RunStatus};
use crate::source::ScriptForm;
use crate::spec::RunSpec;
use crate::typescript::Language;

/// Native stack of each run's thread: QuickJS's own budget
/// ([`engine::JS_STACK_BYTES`]) plus ample room for the host code around it.
/// Only the pages a run touches take memory.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Threads running scripts at once, at most; runs beyond wait for one. The
/// scheduler's `workers` bounds live runs far below this; it only keeps a
/// runaway caller from exhausting the process's threads.
const MAX_RUN_THREADS: usize = 4096;

/// How long a run's thread (and its engine) waits for the next run.
const RUN_THREAD_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(30);

/// How much nicer than the process a run's thread is. Ten steps give the
/// process's own threads about ten times a script thread's CPU share when
/// both want it (Linux weighs each nice step by about 1.25).
pub const RUN_NICENESS: i32 = 10;

/// Stands in for a timeout beyond what the clock can represent.
const FOREVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// How an [`Executor`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Threads driving the timers and I/O of the runs (each run executes on
    /// a thread of its own); defaults to the number of cores.
    pub worker_threads: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            worker_threads: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// Runs scripts, each in its own sandbox on a thread of its own.
///
/// Dropping the executor stops runs still going: their handles then report
/// `cancelled` ("the executor shut down").
pub struct Executor {
    runtime: Option<tokio::runtime::Runtime>,
    watchdog: Watchdog,
    engines: Arc<EnginePool>,
}

/// How many engines (QuickJS runtimes) an executor's runs started, and how
/// many runs reused an engine a previous run left clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineCounts {
    /// Engines created.
    pub started: u64,
    /// Runs that reused an engine (each still in a fresh context).
    pub reused: u64,
}

impl Executor {
    /// Starts the I/O threads and the deadline watchdog.
    pub fn new(config: ExecutorConfig) -> Result<Self, RuntimeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .max_blocking_threads(MAX_RUN_THREADS)
            .thread_keep_alive(RUN_THREAD_KEEP_ALIVE)
            .thread_name("clockwork-js")
            .thread_stack_size(WORKER_STACK_BYTES)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            watchdog: Watchdog::start()?,
            engines: Arc::default(),
        })
    }

    /// Engines started and reused so far.
    pub fn engines(&self) -> EngineCounts {
        EngineCounts {
            started: self.engines.started.load(Ordering::Relaxed),
            reused: self.engines.reused.load(Ordering::Relaxed),
        }
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
        let handle = self.handle().clone();
        let engines = Arc::clone(&self.engines);
        let (deliver, outcome) = tokio::sync::oneshot::channel();
        let task = self.handle().spawn_blocking(move || {
            lower_priority_once();
            let (outcome, leftovers) =
                handle.block_on(engine::run(spec, guard, logs, started, &engines));
            let Some(leftovers) = leftovers else {
                let _ = deliver.send(outcome);
                return;
            };
            // A run that held little memory reports first: its caller (and
            // its worker) need not wait while the thread puts the engine
            // away. One that held more gives its memory back first, so the
            // caller's memory budget never counts it free while it is not.
            // Counted from before the outcome goes out until the engine is
            // away, so whoever has the outcome can wait for it to settle.
            let putting_away = engines.putting_away();
            if outcome.peak_memory_bytes > engine::REPORT_FIRST_AT_MOST_BYTES {
                handle.block_on(leftovers.put_away(&engines));
                drop(putting_away);
                let _ = deliver.send(outcome);
            } else {
                let _ = deliver.send(outcome);
                handle.block_on(leftovers.put_away(&engines));
                drop(putting_away);
            }
        });
        RunHandle {
            control,
            outcome,
            task,
            started,
        }
    }

    /// Resolves once the engines of the runs that ended so far are put away
    /// (back in the pool, or dropped): a run started after this reuses one
    /// of them if it can.
    pub async fn settled(&self) {
        self.engines.settled().await;
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        // `runtime` is only taken in `drop`.
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the executor's runtime lives until the executor is dropped"),
        }
    }
}

/// Makes the calling run thread [`RUN_NICENESS`] steps nicer than it is, the
/// first time it runs a script (a pooled thread keeps it for its next runs).
/// Linux gives each thread its own nice value. Where that fails (an
/// operating system without it, a sandbox refusing the call), scripts
/// simply keep the process's priority.
fn lower_priority_once() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if LOWERED.replace(true) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        if let Ok(current) = getpriority_process(thread) {
            let _ = setpriority_process(thread, (current + RUN_NICENESS).min(19));
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Fields drop after this body: stop the scripts first (the watchdog
        // trips every live guard), so no thread stays busy in one.
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
    outcome: tokio::sync::oneshot::Receiver<Outcome>,
    /// The run's thread, which goes on putting its engine away after the
    /// outcome: awaited only to learn why no outcome came.
    task: JoinHandle<()>,
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
        if let Ok(outcome) = self.outcome.await {
            return outcome;
        }
        // No outcome came: the run's thread panicked, or the executor shut
        // down before or while it ran.
        let (status, message) = match self.task.await {
            Err(error) if error.is_cancelled() => (RunStatus::Cancelled, "the executor shut down"),
            _ => (RunStatus::Failed, "the run ended by an internal error"),
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

/// Checks that a module-style script exports the job's `handler`; the error
/// lists the names it does export. Script-style (and CommonJS) texts show
/// their exports only when they run: they pass.
pub fn check_handler(source: &str, language: Language, handler: &str) -> Result<(), ScriptError> {
    let prepared = crate::typescript::prepare(source, language)?;
    match prepared.form {
        ScriptForm::Module => crate::handler::check_named(handler, &prepared.exports),
        ScriptForm::Script => Ok(()),
    }
}
