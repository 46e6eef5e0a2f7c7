//! Clockwork's persistence: everything that outlives a process lives here.
//!
//! The main type is [`Store`], a handle on one database — an embedded SQLite
//! file (the default) or a shared PostgreSQL database — opened with
//! [`Store::open`], which applies the embedded migrations. It owns:
//! - jobs with every version kept (`job_*`, `jobs_*`: [`JobSpec`], [`Job`],
//!   [`JobVersion`]), each change audited in its own transaction;
//! - runs, their logs and HTTP call summaries (`run_*`, `runs_*`: [`Run`],
//!   [`RunStatus`], [`Trigger`]). Every status change is one guarded SQL
//!   statement in `runs/transition.rs` named for its guard
//!   (`runs_claim_queued`, `runs_write_if_running`,
//!   `runs_interrupt_if_lease_expired`, …) and [`RunStatus::can_become`]
//!   documents the graph; occurrences are claimed exactly once by
//!   [`Store::occurrences_claim`] (a compare-and-set on the job's next fire
//!   instant and the run insert in one transaction, backed by a partial
//!   unique index);
//! - chains of runs (`chain_*`: [`Chain`], [`ChainSummary`]): runs linked
//!   by `context.continueWith`, read back as one execution;
//! - users of the web UI (`user_*`, passwords as Argon2id hashes) and
//!   their sessions (`session_*`, ids stored as SHA-256 hashes);
//! - Jira/Confluence sites added through the API (`site_*`, their secret
//!   encrypted like the scripts' secrets);
//! - API tokens (`token_*`, stored as SHA-256 hashes), the audit log
//!   (`audit_*`), notification channels and deliveries (`channel_*`,
//!   `deliveries_*`);
//! - the key-value entries scripts keep with Forge `storage` / `@forge/kvs`
//!   (`kv_*`) and the scripts' secrets (`secret_*`), encrypted at rest with
//!   a [`SecretKey`];
//! - `@forge/events` queues (`queue_*`): pushes, their events and the
//!   `event` runs consuming them, written in one transaction;
//! - on PostgreSQL, a [`ChangeFeed`] of other nodes' changes (`LISTEN/NOTIFY`).
//!
//! Both engines behave identically, including under concurrency (claims
//! use `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer lock
//! otherwise). Invariants are CHECK constraints in both SQL dialects.
//! Instants are stored as Unix milliseconds. Bookkeeping stamps (created,
//! updated, audit) come from the store's injectable [`Clock`]; scheduling
//! methods take `now` from their caller, whose clock decides.
//!
//! The crate is pure persistence: it sits below `scheduler` and `server`
//! and depends on no other crate of the workspace (the scheduler adapts
//! it to the sandbox's storage and queue traits). It must know nothing
//! about JavaScript, HTTP, cron, scheduling policies or the Forge API's key
//! rules: callers compute fire instants and decide which rows an
//! occurrence gets; the store only stores them atomically, with sane limits.

#![deny(missing_docs)]

mod audit;
mod browse;
mod chains;
mod clock;
mod codec;
mod error;
mod feed;
mod jobs;
mod kv;
mod migrate;
mod notify;
mod private_files;
mod queues;
mod runs;
mod secret;
mod sessions;
mod sites;
mod sql;
mod store;
mod tokens;
mod types;
mod users;

pub use crate::{
    audit::{AuditEntry, AuditFilter, AuditRecord},
    browse::{StorageItem, StoragePage},
    chains::{Chain, ChainSummary, MAX_STATE_BYTES},
    clock::{Clock, ManualClock, SystemClock},
    codec::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT},
    error::{
        DatabaseError, KvError, OpenError, SecretError, SecretKeyError, StoreError, Unavailability,
    },
    feed::{Change, ChangeFeed, JOBS_CHANNEL, RUNS_CHANNEL},
    jobs::{JobEnable, JobFilter, JobRef, JobUpdate, LastRunFilter, NewJob},
    kv::{
        DEFAULT_PAGE_SIZE, Expect, KvItem, KvPage, KvQuery, MAX_BATCH, MAX_KEY_CHARS,
        MAX_PAGE_SIZE, MAX_VALUE_BYTES, SetOptions, TxOp,
    },
    notify::{
        AlertEvent, ChannelKind, ChannelSpec, Delivery, DeliveryOutcome, DeliveryStatus,
        NewDelivery, NotificationChannel,
    },
    private_files::{DATABASE_FILE, create_private_dir, shared_paths},
    queues::{
        MAX_QUEUE_KEY_CHARS, NewQueueEvent, QueueCounts, QueueJob, QueuePush, QueuePushed,
        QueueSummary, check_queue_key, event_json,
    },
    runs::{
        ActiveRuns, LogQuery, NewRun, PruneRuns, RunFilter,
        claim::{
            ClaimedJob, ClaimedOccurrences, OccurrenceClaim, OccurrenceKind, OccurrencePlan,
            OccurrenceRow,
        },
        recover::NodeRelease,
        transition::{
            ClaimedRun, Heartbeat, LeaseState, LogAppend, RunClaim, RunFinish, RunStart, RunWrites,
            RunWritesApplied,
        },
    },
    secret::{SECRET_KEY_ENV, SECRET_KEY_FILE, SecretKey},
    sessions::{SESSION_IDLE, SESSION_MAX_AGE, Session, SessionOwner},
    sites::{Site, SiteAuth, SiteProduct, SiteSpec},
    store::{Engine, Store},
    tokens::{ApiToken, NewToken, Role, TOKEN_PREFIX},
    types::{
        HttpCall, Job, JobSchedule, JobSpec, JobVersion, Language, LogLevel, LogLine,
        MAX_ATTEMPTS_RANGE, MAX_JOB_NAME_CHARS, MAX_SCRIPT_BYTES, MEMORY_LIMIT_MB_RANGE, Misfire,
        Overlap, Page, RecentRun, RetentionPolicy, RetryPolicy, Run, RunError, RunLogLine,
        RunStatus, RunSummary, ScheduledJob, SpecProblem, TIMEOUT_SECONDS_RANGE, Trigger,
        UnknownValue,
    },
    users::{
        MAX_PASSWORD_CHARS, MAX_USER_NAME_CHARS, MIN_PASSWORD_CHARS, NewUser, User, UserUpdate,
    },
};
