//! Clockwork's HTTP surface: the REST API under `/api/v1`, its problem
//! documents and OpenAPI document, `/healthz`, and the web UI's API needs:
//! sessions (a cookie with a CSRF token beside bearer tokens), users,
//! tokens, channels, sites, the storage browser and console runs.
//!
//! [`app`] builds the axum [`Router`](axum::Router) over an [`AppState`]
//! (the store and a clock); [`serve`] runs it on a listener until a
//! shutdown future completes, so tests bind port 0 and stop it at will.
//! Every error is an [`ApiError`], which becomes an RFC 9457 [`Problem`]
//! (`application/problem+json`) naming each invalid field with its path
//! ([`FieldError`]); internal failures are logged and never shown. Request
//! bodies and query strings go through [`ApiJson`] and [`ApiQuery`], which
//! reject unknown fields and oversized bodies with problem documents.
//!
//! Handlers are thin: parse, make one call — the store for reads (the jobs
//! list is one `jobs_overview` read), the scheduler for commands (job saves
//! through `scheduler::JobSaves`, which decides when the job fires; runs,
//! cancels; console runs through `scheduler::ConsoleRuns`, which owns the
//! executor the process hands in ([`AppState::with_console`]); channel
//! tests through `scheduler::send_test_message` and the
//! `scheduler::ChannelSender` the process hands in) — and map to JSON or,
//! for a console run, to its event stream. The API's JSON lives in
//! `model/` per resource, or beside its handlers. The crate must not know
//! about SQL, the JavaScript engine's internals or how the scheduler fires
//! or sends: it speaks to `store` and `scheduler` through their public
//! APIs, and to `runtime` through its public API for three things only —
//! the handle of a console run (its live log and outcome), syntax checks
//! (`runtime::check_syntax`) and the live log lines the scheduler streams
//! — converting the sandbox's records with `scheduler::to_store`.

#![deny(missing_docs)]

mod app;
mod audit;
mod auth;
mod chains;
mod channels;
mod conditional;
mod console;
mod console_storage;
mod cron_preview;
mod extract;
mod health;
mod jobs;
mod live_logs;
mod metrics;
mod model;
mod openapi;
mod openapi_contract;
mod problem;
mod queues;
mod runs;
mod session;
mod sites;
mod storage;
mod strict_json;
mod throttle;
mod ui;
mod users;
mod validate;

pub use crate::{
    app::{AppState, DefaultLimits, app, serve},
    auth::{Admin, CSRF_HEADER, Caller, Editor, SESSION_COOKIE, Via, Viewer},
    chains::{ChainProgressView, ChainView, ChunkView},
    cron_preview::CronPreview,
    extract::{ApiJson, ApiPath, ApiQuery, MAX_BODY_BYTES},
    model::{
        HttpCallView, Items, JobInput, JobListItem, JobPage, JobVersionView, JobView, LogLineView,
        Page, READ_ONLY_JOB_FIELDS, RecentRunView, RetentionInput, RetentionView, RetryInput,
        RetryView, RunErrorView, RunSummaryView, RunView, ScheduleInput,
    },
    problem::{ApiError, FieldError, PROBLEM_JSON, Problem},
    runs::LogPage,
    sites::SiteBook,
};
