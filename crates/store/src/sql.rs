//! How the store speaks each SQL dialect.
//!
//! Every resource keeps its statements beside it, in its own `sql.rs`
//! (`runs/sql.rs`, `kv/sql.rs`, …), under one convention: text both
//! dialects share is a `const`; text that differs is a field of the
//! resource's statement struct (declared with [`dialect_statements!`]),
//! with a `SQLITE` and a `POSTGRES` value of it. [`Dialect`] gathers one
//! engine's structs, and `with_backend!` hands the right one to the code.
//!
//! `$n` placeholders work on both engines. The dialects differ only where
//! PostgreSQL's `json` column needs a cast from and to text, in how a JSON
//! array of keys becomes rows, and in how a guarded transaction excludes
//! other writers. Instants are Unix milliseconds (`i64`) everywhere.

use crate::{
    chains::sql::ChainSql, jobs::sql::JobSql, kv::sql::KvSql, notify::sql::DeliverySql,
    queues::sql::QueueSql, runs::sql::RunSql,
};

/// A JSON array of ids in parameter `$n`, as a subquery, on SQLite.
macro_rules! sqlite_ids {
    ($param:literal) => {
        concat!("(SELECT value FROM json_each(", $param, "))")
    };
}
pub(crate) use sqlite_ids;

/// `LIMIT` with its value bound to parameter `$n`, in both dialects.
///
/// SQLite folds a bare bound `LIMIT ?` into the statement's plan
/// (`sqlite3ExprIsInteger`, with the bound value, marks the parameter in the
/// statement's `expmask`): every later binding of that parameter — sqlx
/// binds, and clears the bindings, on every execution — expires the
/// statement, and its next step prepares it again (`sqlite3Reprepare`, 9 %
/// of the SQLite worker thread's time under `Queue.push`). A cast is not an
/// integer literal, so the limit is read from its register at run time and
/// the prepared statement stays valid. On PostgreSQL the cast of a `bigint`
/// parameter to `bigint` is no cast at all.
macro_rules! bound_limit {
    ($param:literal) => {
        concat!("LIMIT CAST(", $param, " AS BIGINT)")
    };
}
pub(crate) use bound_limit;

/// A JSON array of ids in parameter `$n`, as a subquery, on PostgreSQL.
macro_rules! pg_ids {
    ($param:literal) => {
        concat!(
            "(SELECT json_array_elements_text(",
            $param,
            "::json)::bigint)"
        )
    };
}
pub(crate) use pg_ids;

/// Declares a resource's statement struct (every field a statement, or
/// `Option` of one where a dialect needs none) and lists its fields by
/// name, so a test can hold the two dialects' values side by side.
macro_rules! dialect_statements {
    (
        $(#[$meta:meta])*
        pub(crate) struct $name:ident {
            $($(#[$field_meta:meta])* pub(crate) $field:ident: $type:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub(crate) struct $name {
            $($(#[$field_meta])* pub(crate) $field: $type,)*
        }

        impl $name {
            /// Every statement with its field's name; `None` where this
            /// dialect needs none.
            #[cfg(test)]
            pub(crate) fn statements(&self) -> $crate::sql::NamedStatements {
                vec![$((stringify!($field), $crate::sql::Statement::text(self.$field)),)*]
            }
        }
    };
}
pub(crate) use dialect_statements;

/// A statement struct's fields by name; `None` where a dialect needs none.
#[cfg(test)]
pub(crate) type NamedStatements = Vec<(&'static str, Option<&'static str>)>;

/// A field of a statement struct: a statement, or none for this dialect.
#[cfg(test)]
pub(crate) trait Statement {
    /// The statement's text, if there is one.
    fn text(self) -> Option<&'static str>;
}

#[cfg(test)]
impl Statement for &'static str {
    fn text(self) -> Option<&'static str> {
        Some(self)
    }
}

#[cfg(test)]
impl Statement for Option<&'static str> {
    fn text(self) -> Option<&'static str> {
        self
    }
}

/// One engine's statements: the transaction frame every resource shares,
/// then each resource's statements whose text differs.
pub(crate) struct Dialect {
    /// Starts a transaction that will write and must not be overtaken by
    /// another writer between its reads and its writes.
    pub(crate) begin_write: &'static str,
    /// As `begin_write`, for a transaction that claims work (occurrences,
    /// queued runs, expired leases): each of its statements walks a partial
    /// index in claim order up to a `LIMIT`, or reaches rows by key.
    pub(crate) begin_claim: &'static str,
    /// Sends a notification to other nodes (`$1` channel, `$2` payload);
    /// delivered when the transaction commits. SQLite has one node: none.
    pub(crate) notify: Option<&'static str>,
    /// As `notify`, the payload prefixed with this installation's schema
    /// and `|`: channels are database-wide, and a listener ignores what
    /// another schema's installation announces.
    pub(crate) notify_in_schema: Option<&'static str>,
    /// `notify_in_schema` (`$1`, `$2`) and `notify` (`$3`, `$4`) in one
    /// statement: one round trip where a commit tells both.
    pub(crate) notify_in_schema_and_runs: Option<&'static str>,
    /// Key-value entries and the storage browser (`kv/sql.rs`).
    pub(crate) kv: &'static KvSql,
    /// Jobs (`jobs/sql.rs`).
    pub(crate) jobs: &'static JobSql,
    /// Chains of runs (`chains/sql.rs`).
    pub(crate) chains: &'static ChainSql,
    /// Runs, their logs and occurrence claims (`runs/sql.rs`).
    pub(crate) runs: &'static RunSql,
    /// Notification deliveries (`notify/sql.rs`).
    pub(crate) deliveries: &'static DeliverySql,
    /// Queue pushes and event runs (`queues/sql.rs`).
    pub(crate) queues: &'static QueueSql,
}

/// SQLite: a write transaction takes the database's single writer lock at
/// its start (`BEGIN IMMEDIATE`); there is no other node to notify.
pub(crate) const SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    begin_claim: "BEGIN IMMEDIATE",
    notify: None,
    notify_in_schema: None,
    notify_in_schema_and_runs: None,
    kv: &crate::kv::sql::SQLITE,
    jobs: &crate::jobs::sql::SQLITE,
    chains: &crate::chains::sql::SQLITE,
    runs: &crate::runs::sql::SQLITE,
    deliveries: &crate::notify::sql::SQLITE,
    queues: &crate::queues::sql::SQLITE,
};

/// A claim's plans must not depend on the tables' statistics. Only
/// statistics tell the planner a backlog is large, and a database that
/// fills faster than it is analysed (a new one, autovacuum off or behind a
/// queue that grows by thousands a second) says it is empty: the planner
/// then reads every queued row with a bitmap or sequential scan and sorts
/// them before the `LIMIT` (14 ms for a claim of 10 from 5,000 queued event
/// runs, growing with the backlog), where the ordered index walk stops
/// after the few rows it returns (0.4 ms). Turning both scans off for the
/// claim alone leaves the walk and key lookups as the plans not penalised;
/// on a tiny table the walk reads a page or two more. JIT is off because a
/// penalised plan's cost would otherwise start a compilation (about a
/// second, measured) for a statement of a millisecond. `SET LOCAL` ends
/// with the transaction, and the whole text is one simple query: no round
/// trip is added.
const PG_BEGIN_CLAIM: &str = "BEGIN; SET LOCAL enable_seqscan = off; \
    SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off";

/// PostgreSQL: row and table locks where SQLite relies on its single
/// writer; other nodes hear of changes through `pg_notify`.
pub(crate) const POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    begin_claim: PG_BEGIN_CLAIM,
    notify: Some("SELECT pg_notify($1, $2)"),
    notify_in_schema: Some("SELECT pg_notify($1, COALESCE(current_schema(), '') || '|' || $2)"),
    notify_in_schema_and_runs: Some(
        "SELECT pg_notify($1, COALESCE(current_schema(), '') || '|' || $2), pg_notify($3, $4)",
    ),
    kv: &crate::kv::sql::POSTGRES,
    jobs: &crate::jobs::sql::POSTGRES,
    chains: &crate::chains::sql::POSTGRES,
    runs: &crate::runs::sql::POSTGRES,
    deliveries: &crate::notify::sql::POSTGRES,
    queues: &crate::queues::sql::POSTGRES,
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The `$n` parameters a statement reads.
    fn parameters(statement: &str) -> BTreeSet<u32> {
        let mut found = BTreeSet::new();
        for (at, _) in statement.match_indices('$') {
            let digits: String = statement[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                found.insert(n);
            }
        }
        found
    }

    /// Each engine's statement lists, resource by resource.
    fn resources(dialect: &Dialect) -> Vec<(&'static str, NamedStatements)> {
        vec![
            (
                "frame",
                vec![
                    ("begin_write", Some(dialect.begin_write)),
                    ("begin_claim", Some(dialect.begin_claim)),
                    ("notify", dialect.notify),
                ],
            ),
            ("kv", dialect.kv.statements()),
            ("jobs", dialect.jobs.statements()),
            ("chains", dialect.chains.statements()),
            ("runs", dialect.runs.statements()),
            ("deliveries", dialect.deliveries.statements()),
            ("queues", dialect.queues.statements()),
        ]
    }

    #[test]
    fn both_dialects_define_the_same_statements_with_the_same_parameters() {
        let sqlite = resources(&SQLITE);
        let postgres = resources(&POSTGRES);
        assert_eq!(sqlite.len(), postgres.len());
        let mut compared = 0;
        for ((resource, lite), (_, pg)) in sqlite.iter().zip(&postgres) {
            let names = |list: &[(&'static str, Option<&'static str>)]| {
                list.iter().map(|(name, _)| *name).collect::<Vec<_>>()
            };
            assert_eq!(names(lite), names(pg), "{resource}");
            assert!(!lite.is_empty(), "{resource} defines no statement");
            for ((name, lite), (_, pg)) in lite.iter().zip(pg) {
                // A statement only one engine needs (a lock SQLite's single
                // writer makes unneeded) has nothing to compare with.
                match (lite, pg) {
                    (Some(lite), Some(pg)) => {
                        assert_eq!(
                            parameters(lite),
                            parameters(pg),
                            "{resource}.{name} reads other parameters on SQLite than on PostgreSQL"
                        );
                        compared += 1;
                    }
                    (Some(_), None) | (None, Some(_)) => {}
                    (None, None) => panic!("{resource}.{name} is a statement of neither dialect"),
                }
            }
        }
        assert!(compared > 20, "only {compared} statements compared");
    }

    #[test]
    fn parameters_are_read_from_the_text() {
        assert_eq!(
            parameters("a = $1 AND b = $12, '$.id'"),
            BTreeSet::from([1, 12])
        );
    }
}
