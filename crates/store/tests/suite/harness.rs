//! Runs each store test against every engine, each time on a fresh database:
//! a SQLite file in its own temporary directory, and a PostgreSQL schema of
//! its own (dropped afterwards) in the database at [`postgres_url`].

use std::{future::Future, path::PathBuf, sync::Arc};

use jiff::Timestamp;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};
use store::{Engine, ManualClock, SecretKey, Store};

/// Declares each listed `async fn(TestDb)` as one test per engine:
/// `sqlite::name` and `postgres::name`.
macro_rules! store_tests {
    ($($test:ident),+ $(,)?) => {
        test_support::both_databases!(async $crate::harness::on => $($test),+);
    };
}

/// Runs `test` on a fresh database of `database`'s engine.
pub(crate) async fn on<F, Fut>(database: test_support::Database, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match database {
        test_support::Database::Sqlite => on_sqlite(test).await,
        test_support::Database::Postgres => on_postgres(test).await,
    }
}

/// The database that holds the test schemas; trust authentication as the
/// `postgres` role, as on the project's machines and CI.
pub(crate) fn postgres_url() -> String {
    test_support::postgres_url()
}

/// The instant every test clock starts at.
pub(crate) fn start_instant() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// One test's fresh database, and a store on it with a manual clock and a
/// secret key.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) key: SecretKey,
    target: Target,
}

enum Target {
    Sqlite {
        path: PathBuf,
        // Deleted with the TestDb.
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
    },
}

impl TestDb {
    pub(crate) fn engine(&self) -> Engine {
        self.store.engine()
    }

    /// The URL `Store::open` accepts for this database.
    pub(crate) fn url(&self) -> String {
        match &self.target {
            Target::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            Target::Postgres { url } => url.clone(),
        }
    }

    /// A second, independent store on the same database, with the same
    /// clock and key.
    pub(crate) async fn reopen(&self) -> Store {
        self.reopen_with_key(self.key.clone()).await
    }

    /// A second store on the same database, with the same clock and `key`.
    pub(crate) async fn reopen_with_key(&self, key: SecretKey) -> Store {
        Store::open(&self.url())
            .await
            .unwrap()
            .with_clock(self.clock.clone())
            .with_secret_key(key)
    }

    /// Runs SQL outside the store, e.g. to tamper with rows or to install a
    /// trigger that makes the database refuse a write.
    pub(crate) async fn execute_raw(&self, sqlite: &str, postgres: &str) {
        self.try_execute_raw(sqlite, postgres).await.unwrap();
    }

    /// As `execute_raw`, returning the database's error instead of failing.
    pub(crate) async fn try_execute_raw(
        &self,
        sqlite: &str,
        postgres: &str,
    ) -> Result<(), sqlx::Error> {
        match &self.target {
            Target::Sqlite { path, .. } => {
                let mut conn =
                    SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
                conn.execute(sqlx::raw_sql(AssertSqlSafe(sqlite.to_string())))
                    .await?;
            }
            Target::Postgres { url } => {
                let mut conn = PgConnection::connect(url).await?;
                conn.execute(sqlx::raw_sql(AssertSqlSafe(postgres.to_string())))
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes the database itself fail any write (insert, update or delete)
    /// of the key `poison`: a failure in the middle of a multi-row write,
    /// after earlier rows were written, which only a rollback can undo.
    pub(crate) async fn poison_writes_of_key_named_poison(&self) {
        self.execute_raw(
            "CREATE TRIGGER poison_insert BEFORE INSERT ON kv WHEN NEW.key = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned key'); END; \
             CREATE TRIGGER poison_update BEFORE UPDATE ON kv WHEN NEW.key = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned key'); END; \
             CREATE TRIGGER poison_delete BEFORE DELETE ON kv WHEN OLD.key = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned key'); END;",
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
                 IF (TG_OP = 'DELETE' AND OLD.key = 'poison') \
                    OR (TG_OP <> 'DELETE' AND NEW.key = 'poison') THEN \
                     RAISE EXCEPTION 'poisoned key'; \
                 END IF; \
                 IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; \
                 RETURN NEW; \
             END $$; \
             CREATE TRIGGER poison BEFORE INSERT OR UPDATE OR DELETE ON kv \
                 FOR EACH ROW EXECUTE FUNCTION poison();",
        )
        .await;
    }

    /// Every byte the database keeps for key-value entries and secrets: the
    /// SQLite file and its write-ahead log, or the stored column bytes of
    /// both tables on PostgreSQL.
    pub(crate) async fn bytes_at_rest(&self) -> Vec<u8> {
        match &self.target {
            Target::Sqlite { path, .. } => {
                let mut bytes = std::fs::read(path).unwrap();
                let wal = PathBuf::from(format!("{}-wal", path.display()));
                if wal.exists() {
                    bytes.extend(std::fs::read(wal).unwrap());
                }
                bytes
            }
            Target::Postgres { url } => {
                let mut conn = PgConnection::connect(url).await.unwrap();
                let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
                    "SELECT convert_to(key || value::text, 'UTF8') FROM kv \
                     UNION ALL \
                     SELECT convert_to(key, 'UTF8') || nonce || ciphertext FROM secret",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                rows.into_iter().flat_map(|(bytes,)| bytes).collect()
            }
        }
    }
}

/// Runs `test` on a fresh SQLite file.
pub(crate) async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("clockwork.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    test(TestDb::new(store, Target::Sqlite { path, _dir: dir })).await;
}

/// Runs `test` in a fresh PostgreSQL schema, and drops the schema afterwards
/// whether the test passed or not.
pub(crate) async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = test_support::PgSchema::create("store_test").await;
    let url = schema.url().to_owned();
    let outcome = async {
        let store = Store::open(&url).await.unwrap();
        // Spawned, so that a failing test is caught here and the schema
        // still dropped.
        tokio::spawn(test(TestDb::new(store, Target::Postgres { url }))).await
    }
    .await;
    // A test that leaked a transaction makes the drop fail, not hang.
    schema.drop().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

impl TestDb {
    fn new(store: Store, target: Target) -> Self {
        let clock = Arc::new(ManualClock::new(start_instant()));
        let key = SecretKey::generate();
        let store = store.with_clock(clock.clone()).with_secret_key(key.clone());
        Self {
            store,
            clock,
            key,
            target,
        }
    }
}
