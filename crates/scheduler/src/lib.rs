//! Clockwork's scheduler: turns cron occurrences into runs, exactly once,
//! on time, and executes them.
//!
//! [`Scheduler::start`] takes a [`SchedulerConfig`], a [`store::Store`], a
//! [`runtime::Executor`] and a clock, and returns a [`SchedulerHandle`]:
//! [`SchedulerHandle::job_changed`],
//! `run_now`, `cancel`, `subscribe_logs` (live logs for SSE), `events`
//! ([`RunEvent`]s), `metrics` ([`SchedulerMetrics`]) and `shutdown`. Job
//! saves are one call each through [`JobSaves`], which decides the job's
//! next fire instant, writes it and tells the running scheduler (it works
//! without one too); [`run_spec`] is the one way a job's spec becomes the
//! sandbox's [`runtime::RunSpec`] (workers, console runs, `clockwork run`).
//! Console runs are one call too: [`ConsoleRuns::start`] runs a script now
//! on the executor and in the [`ConsoleEnvironment`] the process hands in,
//! as the job it names would run, and returns the run's handle; channel
//! tests are one [`send_test_message`] through a [`ChannelSender`] (the
//! alerts' `egress::Client`).
//!
//! It owns time and policies: exact firing (a heap of next instants and a
//! sleep until the earliest — no polling tick), atomic occurrence claims,
//! runs asked for now queued in group commits with their audit entries
//! (`requested`), workers with a concurrency limit and a memory budget
//! (`budget`), the overlap, misfire and retry
//! policies, chains of runs (`context.continueWith`, in `chain`), what
//! follows a run that ended (one decision, in `follow_up`), leases with heartbeats and the sweeper that interrupts runs of
//! dead nodes, graceful shutdown, history retention, live log fan-out and
//! metrics, the sandbox's adapters over the store ([`StoreQueue`]:
//! `@forge/events` queues, event runs, their retries and concurrency
//! limits; [`ScriptStorage`]: Forge `storage` and secrets), and failure alerts (webhook and Slack channels, delivered
//! through `egress` with retries, and their test messages). Nodes coordinate only through the database; `coordination`
//! documents how, as a state diagram with its failure rules.
//!
//! It must not know about HTTP, axum, the REST API or SQL: it speaks to the
//! database only through `store` methods, and what runs reach outside their
//! sandbox (sites, storage, egress) arrives through [`RunEnvironment`]
//! (and [`ConsoleEnvironment`] for console runs).

#![deny(missing_docs)]

mod alerts;
mod budget;
mod chain;
mod channel_tests;
mod config;
mod console_runs;
mod coordination;
mod core;
mod ended;
mod error;
mod events;
mod fire;
mod follow_up;
mod handle;
mod job_saves;
mod lease;
mod live;
mod metrics;
mod policy;
mod queue;
mod requested;
mod retention;
mod run_spec;
mod script_storage;
pub mod to_store;
mod workers;
mod writer;

pub use crate::{
    chain::INTERRUPTED_CHUNK_ATTEMPTS,
    channel_tests::{ChannelSender, TestSend, send_test_message},
    config::{
        IsolatedEnvironment, RunEnvironment, SchedulerConfig, default_total_memory_mb,
        default_workers,
    },
    console_runs::{ConsoleEnvironment, ConsoleRun, ConsoleRuns},
    error::SchedulerError,
    events::RunEvent,
    handle::{Scheduler, SchedulerHandle, next_fire_after},
    job_saves::JobSaves,
    metrics::{DURATION_BUCKETS, HistogramSnapshot, LATENESS_BUCKETS, RunCount, SchedulerMetrics},
    queue::{INTERRUPTED_EVENT_MAX_ATTEMPTS, INVOCATION_ERROR_MAX_ATTEMPTS, StoreQueue},
    run_spec::{RunIdentity, run_spec},
    script_storage::ScriptStorage,
};
