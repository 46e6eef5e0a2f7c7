//! For tests only: the plan an engine chooses for one statement, as text,
//! so plan tests can assert which index answers it.

use sqlx::Row;

use crate::store::{Backend, Store};

/// A value bound to a statement's `$n`, in order.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The transaction a PostgreSQL plan is asked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Sequential scans off: the test's tables are small, and the question
    /// is whether an index can answer the statement, in order.
    IndexPossible,
    /// As the store runs the statement: a claim transaction
    /// (`Dialect::begin_claim`), on whatever statistics the tables have.
    Claim,
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Int(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.clone()),
                Param::Bytes(value) => query.bind(value.clone()),
            };
        }
        query
    }};
}

/// The plan of `statement` with `params`: SQLite's `EXPLAIN QUERY PLAN`
/// details or PostgreSQL's `EXPLAIN` lines, one per line.
pub(crate) async fn plan(store: &Store, frame: Frame, statement: &str, params: &[Param]) -> String {
    match &store.backend {
        Backend::Sqlite(pools) => {
            let explain = format!("EXPLAIN QUERY PLAN {statement}");
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
                .fetch_all(&pools.reads)
                .await
                .unwrap();
            rows.iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Backend::Postgres(pool) => {
            let begin = match frame {
                Frame::IndexPossible => "BEGIN; SET LOCAL enable_seqscan = off",
                Frame::Claim => crate::sql::POSTGRES.begin_claim,
            };
            let mut tx = pool.begin_with(begin).await.unwrap();
            let explain = format!("EXPLAIN {statement}");
            let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            tx.rollback().await.unwrap();
            rows.iter()
                .map(|row| row.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// The program SQLite runs for `statement` with `params` bound, as
/// `EXPLAIN` lists it after the binding: each instruction's opcode and
/// first operand.
pub(crate) async fn sqlite_program(
    store: &Store,
    statement: &str,
    params: &[Param],
) -> Vec<(String, i64)> {
    let Backend::Sqlite(pools) = &store.backend else {
        panic!("a SQLite program is asked of a SQLite store")
    };
    let explain = format!("EXPLAIN {statement}");
    let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(explain)), params)
        .fetch_all(&pools.reads)
        .await
        .unwrap();
    rows.iter()
        .map(|row| (row.get::<String, _>("opcode"), row.get::<i64, _>("p1")))
        .collect()
}

/// Runs `check` on a store of each engine: a fresh SQLite file, then a
/// fresh PostgreSQL schema named from `schema_prefix` (dropped afterwards).
pub(crate) async fn on_both_engines(schema_prefix: &str, check: impl AsyncFn(&Store)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(dir.path().join("clockwork.db"))
        .await
        .unwrap();
    check(&sqlite).await;
    sqlite.close().await;

    let schema = test_support::PgSchema::create(schema_prefix).await;
    let postgres = Store::open(schema.url()).await.unwrap();
    check(&postgres).await;
    postgres.close().await;
    schema.drop().await;
}
