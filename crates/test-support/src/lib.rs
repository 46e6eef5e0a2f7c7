//! For tests only (a dev-dependency; never a normal dependency of a crate
//! that ships): a PostgreSQL schema of its own for each test, so tests on
//! the one shared database run in parallel without seeing each other's
//! rows.
//!
//! The database is `CLOCKWORK_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test` (trust authentication, as on
//! the project's machines and CI). A [`PgSchema`] is created empty; its
//! [`url`](PgSchema::url) selects it through `search_path`, so a store
//! opened on that URL migrates and works inside it; [`PgSchema::drop`]
//! removes it and everything in it.
//!
//! [`both_databases!`] declares a test once per [`Database`]; each crate's
//! suite names it after its fixture (`store_tests!`, `scheduler_tests!`,
//! `engine_tests!`, `on_both_databases!`) by passing its runner, which
//! builds the fixture on the database it is given (using [`PgSchema`] for
//! the PostgreSQL side).
//!
//! [`Relay`] is a TCP relay a test can cut, to take a process's database
//! away and give it back.

mod relay;

use std::sync::atomic::{AtomicU32, Ordering};

pub use relay::{Relay, host_and_port};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in the PostgreSQL test database.
    Postgres,
}

/// Declares each listed test function as two tests, `sqlite::name` and
/// `postgres::name`, each calling `runner(Database, name)`: the runner
/// builds the test's fixture on that database, runs the test and cleans up.
///
/// `async runner => a, b` declares multi-threaded `#[tokio::test]`s and
/// awaits the runner; `runner => a, b` declares plain `#[test]`s. The
/// runner is an absolute path (`crate::harness::on`): the tests are
/// declared in nested modules.
#[macro_export]
macro_rules! both_databases {
    (async $runner:path => $($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $runner($crate::Database::Sqlite, super::$test).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $runner($crate::Database::Postgres, super::$test).await;
                }
            )+
        }
    };
    ($runner:path => $($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    $runner($crate::Database::Sqlite, super::$test);
                }
            )+
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    $runner($crate::Database::Postgres, super::$test);
                }
            )+
        }
    };
}

/// The database that holds the test schemas.
pub fn postgres_url() -> String {
    std::env::var("CLOCKWORK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema name no other test of any running test process uses:
/// `{prefix}_{process id}_{counter}`.
pub fn unique_schema_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test database's URL with `search_path` set to `schema`.
pub fn schema_url(schema: &str) -> String {
    let base = postgres_url();
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// One test's schema in the test database.
#[derive(Debug)]
pub struct PgSchema {
    name: String,
    url: String,
}

impl PgSchema {
    /// Creates an empty schema named after `prefix` (see
    /// [`unique_schema_name`]).
    ///
    /// # Panics
    /// When the database is unreachable or refuses: a test cannot go on.
    pub async fn create(prefix: &str) -> PgSchema {
        let name = unique_schema_name(prefix);
        admin_execute(&format!("CREATE SCHEMA {name}")).await;
        let url = schema_url(&name);
        PgSchema { name, url }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL whose connections work inside this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the schema and everything in it. A connection still holding a
    /// lock in it (a leaked transaction) makes this fail after 10 s rather
    /// than hang the test run.
    ///
    /// # Panics
    /// When the schema cannot be dropped.
    pub async fn drop(self) {
        admin_execute(&format!(
            "SET lock_timeout = '10s'; DROP SCHEMA {} CASCADE",
            self.name
        ))
        .await;
    }
}

#[allow(clippy::panic)] // a harness: failing loudly is its error report
async fn admin_execute(sql: &str) {
    let url = postgres_url();
    let mut admin = match PgConnection::connect(&url).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "PostgreSQL must be reachable at {url} (set CLOCKWORK_TEST_POSTGRES_URL): {error}"
        ),
    };
    if let Err(error) = admin
        .execute(sqlx::raw_sql(AssertSqlSafe(sql.to_owned())))
        .await
    {
        panic!("{sql}: {error}");
    }
    let _ = admin.close().await;
}
