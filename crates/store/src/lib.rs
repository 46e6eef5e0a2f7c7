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
//!   a [`SecretKey`], both within one [`StorageQuota`] whose exact usage
//!   the database keeps (`storage_usage`);
//! - custom entities (`entity_*`): JSON values under (entity, key) and their
//!   declared indexes, kept in step in one transaction and queried by one
//!   B-tree range scan ([`EntityQuery`]);
//! - `@forge/events` queues (`queue_*`): pushes, their events and the
//!   `event` runs consuming them, written in one transaction;
//! - on PostgreSQL, a [`ChangeFeed`] of other nodes' changes (`LISTEN/NOTIFY`).
//!
//! Each resource is one module folder (`jobs/`, `runs/`, `kv/`, `queues/`,
//! `chains/`, `notify/` for channels and deliveries, `users/`, `sessions/`,
//! `tokens/`, `sites/`, `secret/`, `audit/`): its `Store` methods in
//! `mod.rs`, its types beside them (`jobs/types.rs`, `runs/types.rs`) and
//! its SQL in its own `sql.rs` — a `const` where both dialects share the
//! text, a `SQLITE` and a `POSTGRES` value of the resource's statement
//! struct where they differ (the convention is `sql.rs`'s, and a test
//! holds the two dialects' statements side by side). The leaf modules —
//! `error`, `codec`, `clock`, `shared` (pages, string enums),
//! `private_files` — import no resource module (a test reads them).
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
mod entities;
mod error;
mod feed;
mod jobs;
mod kv;
mod migrate;
mod notify;
#[cfg(test)]
mod plans;
mod private_files;
mod queues;
mod runs;
mod secret;
mod sessions;
mod shared;
mod sites;
mod sql;
mod store;
mod tokens;
mod users;

pub use crate::{
    audit::{AuditEntry, AuditFilter, AuditRecord, RunAudit},
    browse::{StorageItem, StoragePage},
    chains::{Chain, ChainSummary, MAX_STATE_BYTES},
    clock::{Clock, ManualClock, SystemClock},
    codec::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT},
    entities::{
        EntityDeclared, EntityError, EntityFilter, EntityIndex, EntityPage, EntityQuery,
        EntityRange, MAX_ENTITY_SCAN,
    },
    error::{
        DatabaseError, ErrorClass, OpenError, QuotaExceeded, QuotaResource, SecretError,
        SecretKeyError, SpecProblem, StoreError, Unavailability,
    },
    feed::{
        Change, ChangeFeed, JOBS_CHANNEL, RUN_PROGRESS_CHANNEL, RUNS_CHANNEL, SETTINGS_CHANNEL,
    },
    jobs::{
        DEFAULT_MEMORY_LIMIT_MB, Job, JobEnable, JobFilter, JobOverview, JobRef, JobSchedule,
        JobSpec, JobUpdate, JobVersion, JobsOverview, Language, LastRunFilter, MAX_ATTEMPTS_RANGE,
        MAX_JOB_NAME_CHARS, MAX_OWNER_CHARS, MAX_SCRIPT_BYTES, MAX_TAG_CHARS, MAX_TAGS,
        MEMORY_LIMIT_MB_RANGE, Misfire, NewJob, Overlap, RetentionPolicy, RetryPolicy,
        ScheduledJob, TIMEOUT_SECONDS_RANGE, is_tag,
    },
    kv::{
        DEFAULT_PAGE_SIZE, Expect, KvError, KvItem, KvPage, KvQuery, MAX_BATCH, MAX_KEY_CHARS,
        MAX_PAGE_SIZE, MAX_VALUE_BYTES, SetOptions, TxOp,
        quota::{StorageQuota, StorageUsage},
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
        ActiveRuns, HttpCall, Lease, LogLevel, LogLine, LogQuery, NewRun, PruneRuns, RecentRun,
        RequestedRun, RequestedRuns, Run, RunError, RunFilter, RunLogLine, RunStatus, RunSummary,
        Trigger,
        claim::{
            ClaimedJob, ClaimedOccurrences, OccurrenceClaim, OccurrenceKind, OccurrencePlan,
            OccurrenceRow,
        },
        recover::NodeRelease,
        transition::{
            ClaimCandidate, ClaimedRun, Heartbeat, LeaseState, LogAppend, RunClaim, RunFinish,
            RunStart, RunWrites, RunWritesApplied,
        },
    },
    secret::{SECRET_KEY_ENV, SECRET_KEY_FILE, SecretKey},
    sessions::{SESSION_IDLE, SESSION_MAX_AGE, Session, SessionOwner},
    shared::{Page, UnknownValue},
    sites::{Site, SiteAuth, SiteProduct, SiteSpec},
    store::{Engine, Store},
    tokens::{ApiToken, NewToken, Role, TOKEN_PREFIX},
    users::{
        MAX_PASSWORD_CHARS, MAX_USER_NAME_CHARS, MIN_PASSWORD_CHARS, NewUser, User, UserUpdate,
    },
};

#[cfg(test)]
mod tests {
    /// The modules every resource builds on.
    const LEAVES: &[(&str, &str)] = &[
        ("error.rs", include_str!("error.rs")),
        ("codec.rs", include_str!("codec.rs")),
        ("clock.rs", include_str!("clock.rs")),
        ("shared.rs", include_str!("shared.rs")),
        ("private_files.rs", include_str!("private_files.rs")),
    ];
    /// The modules that own a resource (or the store's handle on them).
    const RESOURCES: &[&str] = &[
        "audit", "browse", "chains", "feed", "jobs", "kv", "migrate", "notify", "queues", "runs",
        "secret", "sessions", "sites", "sql", "store", "tokens", "users",
    ];

    /// The crate modules `source` names in code (comments aside): every
    /// identifier of a `use crate::…;` item, and the first segment of any
    /// other `crate::` or `super::` path.
    fn modules_named(source: &str) -> Vec<String> {
        let code: String = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use crate::") {
            let item = &rest[at..];
            let end = item.find(';').unwrap_or(item.len());
            named.extend(
                item[..end]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map(str::to_owned),
            );
            rest = &item[end..];
        }
        for prefix in ["crate::", "super::"] {
            for (at, _) in code.match_indices(prefix) {
                let segment: String = code[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.push(segment);
            }
        }
        named
    }

    #[test]
    fn the_leaf_modules_import_no_resource_module() {
        for (file, source) in LEAVES {
            let imported: Vec<String> = modules_named(source)
                .into_iter()
                .filter(|name| RESOURCES.contains(&name.as_str()))
                .collect();
            assert!(imported.is_empty(), "{file} imports {imported:?}");
        }
    }

    #[test]
    fn an_import_of_a_resource_module_is_seen() {
        let named =
            modules_named("use crate::{\n    kv::Expect,\n    error::X,\n};\n// crate::runs\n");
        assert!(named.iter().any(|name| name == "kv"), "{named:?}");
        assert!(!named.iter().any(|name| name == "runs"), "{named:?}");
        assert!(modules_named("let x = crate::jobs::f();").contains(&"jobs".to_owned()));
    }
}
