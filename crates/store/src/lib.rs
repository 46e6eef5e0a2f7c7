//! Clockwork's persistence: everything that outlives a process lives here.
//!
//! The main type is [`Store`], a handle on one database — an embedded SQLite
//! file (the default) or a shared PostgreSQL database — opened with
//! [`Store::open`], which applies the embedded migrations. Today it owns the
//! key-value entries scripts keep with Forge `storage` / `@forge/kvs`
//! (`kv_*` methods: get, set with TTL or only-if-absent, prefix listing with
//! opaque cursors, batches and all-or-nothing transactions with
//! expectations) and the scripts' secrets (`secret_*` methods), encrypted at
//! rest with a [`SecretKey`]. It is built to grow into the rest of the
//! design's store: jobs with versions, runs, run logs, HTTP call summaries,
//! tokens and the audit log, each with the same two engines.
//!
//! Both engines behave identically, including under concurrency: keys sort
//! by code point, JSON values round-trip byte for byte, and guarded writes
//! are atomic. Invariants are CHECK constraints in both SQL dialects; time
//! comes from an injectable [`Clock`] so expiry is testable without waiting.
//!
//! The crate sits below `scheduler` and `server` and beside `runtime`, which
//! reaches storage through a thin adapter the binary wires up. It must know
//! nothing about JavaScript, HTTP, cron or the Forge API's key rules (the
//! runtime validates those); it only stores, with sane database limits.

#![deny(missing_docs)]

mod clock;
mod error;
mod kv;
mod migrate;
mod secret;
mod sql;
mod store;

pub use crate::{
    clock::{Clock, ManualClock, SystemClock},
    error::{DatabaseError, KvError, OpenError, SecretError, SecretKeyError},
    kv::{
        DEFAULT_PAGE_SIZE, Expect, KvItem, KvPage, KvQuery, MAX_BATCH, MAX_KEY_CHARS,
        MAX_PAGE_SIZE, MAX_VALUE_BYTES, SetOptions, TxOp,
    },
    secret::{SECRET_KEY_ENV, SECRET_KEY_FILE, SecretKey},
    store::{Engine, Store},
};
