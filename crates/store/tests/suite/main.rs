//! The store's behaviour, written once and run against every engine (see
//! `harness`): each test gets a fresh SQLite file and a fresh PostgreSQL
//! schema.

// clippy allows unwrap in test functions only; the harness is test code too.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod harness;

mod chains;
mod claims;
mod fixtures;
mod ids;
mod jobs;
mod jobs_page;
mod queues;
mod runs;

mod entities;
mod entity_quota;
mod kv;
mod kv_batch;
mod kv_list;
mod kv_quota;
mod kv_transact;
mod kv_ttl;
mod lifecycle;
mod schema;
mod secrets;
mod tokens_audit_notify;
mod users_sessions;
