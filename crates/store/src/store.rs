//! The [`Store`] handle: which engine, how it is opened, and the clock and
//! secret key it works with.

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use sqlx::{
    Connection, Executor, PgPool, SqliteConnection, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    clock::{Clock, SystemClock},
    error::{DatabaseError, DbResultExt, OpenError, StoreError, Unavailability},
    jobs::JobSpec,
    kv::quota::StorageQuota,
    migrate,
    secret::SecretKey,
};

/// How long a SQLite writer waits for another process's writer before
/// failing. This process's own writers never wait here: they queue for
/// its one writing connection (see [`SqlitePools`]).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// WAL readers never wait for the writer; a few connections serve them at once.
const SQLITE_READ_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long an operation waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL database, possibly shared by several nodes.
    Postgres,
}

impl Engine {
    /// The engine's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite lets one connection write at a time. With several pooled
/// connections writing, the losers waited in SQLite's busy handler, whose
/// sleeps grow to 100 ms and do not end when the lock frees (issue 10: 572
/// sleeps in 6 s under 1,000 jobs a second). So every write of this process
/// goes through `writes`, a pool of one connection: its acquire queues
/// writers first come, first served, and hands the connection over the
/// moment the previous write returns it. Other processes on the same file
/// still meet this one through `busy_timeout`.
#[derive(Clone)]
pub(crate) struct SqlitePools {
    /// Refuse writes (`query_only`), so a write path that forgot to queue
    /// fails its tests instead of quietly contending again.
    pub(crate) reads: SqlitePool,
    pub(crate) writes: SqlitePool,
}

/// The most job version specs a [`SpecCache`] keeps; past it, it starts over.
const SPEC_CACHE_MAX: usize = 4_096;

/// Job version specs by `(job_id, version)`.
pub(crate) type SpecsByVersion = HashMap<(i64, i64), JobSpec>;

/// Specs of job versions a claim read. A job version never changes once
/// written (a save writes a new version, and ids are never reused), so each
/// is read from the database once instead of once per claim (a round trip
/// of 0.6 ms in every claim of queued runs on PostgreSQL under load).
#[derive(Clone, Default)]
pub(crate) struct SpecCache(Arc<Mutex<SpecsByVersion>>);

impl SpecCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, SpecsByVersion> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Of the `wanted` versions, the specs known, and the versions to read
    /// (each once).
    pub(crate) fn split(
        &self,
        wanted: impl Iterator<Item = (i64, i64)>,
    ) -> (SpecsByVersion, Vec<(i64, i64)>) {
        let cache = self.lock();
        let mut known = HashMap::new();
        let mut missing = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for version in wanted {
            if !seen.insert(version) {
                continue;
            }
            match cache.get(&version) {
                Some(spec) => {
                    known.insert(version, spec.clone());
                }
                None => missing.push(version),
            }
        }
        (known, missing)
    }

    /// Keeps `specs`, read from the database, for later claims.
    pub(crate) fn remember(&self, specs: &SpecsByVersion) {
        let mut cache = self.lock();
        if cache.len() + specs.len() > SPEC_CACHE_MAX {
            cache.clear();
        }
        cache.extend(specs.iter().map(|(version, spec)| (*version, spec.clone())));
    }
}

/// A handle on Clockwork's database. Cheap to clone; clones share one pool.
///
/// Open it with [`Store::open`]; then optionally give it a clock
/// ([`Store::with_clock`]) and the key for secrets ([`Store::with_secret_key`]).
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) secret_key: Option<Arc<SecretKey>>,
    pub(crate) storage_quota: StorageQuota,
    /// Job version specs claims have read (shared by clones).
    pub(crate) specs: SpecCache,
    /// Why the latest run write failed, until one succeeds (shared by clones).
    write_failure: Arc<Mutex<Option<Unavailability>>>,
}

/// Runs `$body`, which only reads, once per engine with `$pool` bound to
/// that engine's pool and `$sql` to its [`Dialect`](crate::sql::Dialect):
/// the same Rust, type-checked against each driver. Whatever writes goes
/// through [`with_writer!`] instead.
macro_rules! with_backend {
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(pools) => {
                let $pool = &pools.reads;
                let $sql = &$crate::sql::SQLITE;
                $body
            }
            $crate::store::Backend::Postgres($pool) => {
                let $sql = &$crate::sql::POSTGRES;
                $body
            }
        }
    };
}
pub(crate) use with_backend;

/// As [`with_backend!`], for a `$body` that writes: on SQLite `$pool` is
/// the one writing connection's pool (see [`SqlitePools`]), so `$body` must
/// not wait for another write, nor acquire from `$pool` again while it holds
/// a connection of it: it would wait for itself.
macro_rules! with_writer {
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(pools) => {
                let $pool = &pools.writes;
                let $sql = &$crate::sql::SQLITE;
                $body
            }
            $crate::store::Backend::Postgres($pool) => {
                let $sql = &$crate::sql::POSTGRES;
                $body
            }
        }
    };
}
pub(crate) use with_writer;

impl Store {
    /// Opens the database `url` names and brings its schema up to date.
    ///
    /// Accepted forms: `postgres://…` or `postgresql://…` (libpq-style URL;
    /// `?options=-c%20search_path%3Dname` selects a schema),
    /// `sqlite:///absolute/path.db`, `sqlite://relative/path.db`,
    /// `sqlite:path.db`, or a plain file path. A SQLite file and its
    /// directory are created when missing. In-memory SQLite is refused:
    /// each pooled connection would see a different database.
    pub async fn open(url: &str) -> Result<Store, OpenError> {
        match Location::parse(url)? {
            Location::Postgres => Self::open_postgres(url).await,
            Location::SqliteFile(path) => Self::open_sqlite(path).await,
        }
    }

    /// Opens (creating if missing) the SQLite database file at `path`, in WAL
    /// mode with foreign keys enforced, and brings its schema up to date.
    pub async fn open_sqlite(path: impl AsRef<Path>) -> Result<Store, OpenError> {
        Self::open_sqlite_waiting(path.as_ref(), SQLITE_BUSY_TIMEOUT).await
    }

    /// As [`Store::open_sqlite`], each connection waiting at most
    /// `busy_timeout` for another's lock.
    async fn open_sqlite_waiting(path: &Path, busy_timeout: Duration) -> Result<Store, OpenError> {
        create_parent_dir(path)?;
        crate::private_files::create_private_file(path)
            .map_err(sqlx::Error::Io)
            .db()
            .map_err(|source| OpenError::Connect {
                engine: Engine::Sqlite.name(),
                url: path.display().to_string(),
                source,
            })?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let connect_error = |source| OpenError::Connect {
            engine: Engine::Sqlite.name(),
            url: path.display().to_string(),
            source,
        };
        let writes = connect_sqlite(options.clone(), 1)
            .await
            .db()
            .map_err(connect_error)?;
        migrate_sqlite(&writes).await?;
        // Opened after the migrations, on a file that exists in WAL mode.
        let reads = connect_sqlite(options.pragma("query_only", "ON"), SQLITE_READ_CONNECTIONS)
            .await
            .db()
            .map_err(connect_error)?;
        Ok(Self::new(Backend::Sqlite(SqlitePools { reads, writes })))
    }

    async fn open_postgres(url: &str) -> Result<Store, OpenError> {
        let connect_error = |source| OpenError::Connect {
            engine: Engine::Postgres.name(),
            url: redact_password(url),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .db()
            .map_err(connect_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .db()
            .map_err(connect_error)?;
        migrate::postgres()
            .run(&pool)
            .await
            .map_err(|error| OpenError::Migrate(DatabaseError::migrate(error)))?;
        Ok(Self::new(Backend::Postgres(pool)))
    }

    fn new(backend: Backend) -> Self {
        Self {
            backend,
            clock: Arc::new(SystemClock),
            secret_key: None,
            storage_quota: StorageQuota::default(),
            specs: SpecCache::default(),
            write_failure: Arc::default(),
        }
    }

    /// Why the database refuses writes, when the latest write of runs
    /// (claims, inserts, starts, logs, finishes — the scheduler writes them
    /// continuously) failed for a reason of the database's own (a full
    /// disk, a lost connection) and none has succeeded since. A trivial
    /// read such as [`Store::ping`] still works on a full disk; this tells.
    pub fn write_failure(&self) -> Option<Unavailability> {
        *self
            .write_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the outcome of a run write for [`Store::write_failure`].
    pub(crate) fn observe_write<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let failure = match &result {
            Ok(_) => None,
            Err(error) => match error.unavailability() {
                Some(why) => Some(why),
                // The request's own fault says nothing of the database.
                None => return result,
            },
        };
        *self
            .write_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = failure;
        result
    }

    /// Uses `clock` for every time-dependent decision (expiry) from now on.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// Enables the `secret_*` methods, encrypting and decrypting with `key`.
    pub fn with_secret_key(mut self, key: SecretKey) -> Store {
        self.secret_key = Some(Arc::new(key));
        self
    }

    /// Limits the keys and bytes that entries, secrets and entity values may
    /// hold together
    /// (unlimited by default): a write that would go beyond fails with
    /// [`QuotaExceeded`](crate::QuotaExceeded).
    pub fn with_storage_quota(mut self, quota: StorageQuota) -> Store {
        self.storage_quota = quota;
        self
    }

    /// The quota given with [`Store::with_storage_quota`].
    pub fn storage_quota(&self) -> StorageQuota {
        self.storage_quota
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite(_) => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    /// Closes every pooled connection, waiting for those in use to be returned.
    /// Operations after this fail.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pools) => {
                pools.reads.close().await;
                pools.writes.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// Runs one trivial query: does the database answer (health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_backend!(self, |pool, _sql| {
            sqlx::query("SELECT 1").execute(pool).await.map(drop).db()?
        });
        Ok(())
    }

    /// The clock's current instant in Unix milliseconds, as stored.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .field("clock", &self.clock)
            .field("secret_key", &self.secret_key.is_some())
            .finish()
    }
}

/// Where a database URL points.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    Postgres,
    SqliteFile(PathBuf),
}

impl Location {
    fn parse(url: &str) -> Result<Location, OpenError> {
        let invalid = |reason| OpenError::InvalidUrl {
            url: redact_password(url),
            reason,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres);
        }
        let path = match url.strip_prefix("sqlite:") {
            Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
            None if url.contains("://") => {
                return Err(invalid("only postgres:// and sqlite: URLs are supported"));
            }
            None => url,
        };
        if path.is_empty() {
            return Err(invalid("no database file given"));
        }
        if path == ":memory:" || path.starts_with(":memory:?") || path.contains("mode=memory") {
            return Err(invalid(
                "in-memory SQLite is not supported; each pooled connection would see another database",
            ));
        }
        Ok(Location::SqliteFile(PathBuf::from(path)))
    }
}

/// Connects, retrying briefly while another process converts a brand-new
/// file to WAL mode: SQLite refuses that race with `SQLITE_BUSY` at once
/// rather than through the busy timeout (it would deadlock otherwise).
async fn connect_sqlite(
    options: SqliteConnectOptions,
    connections: u32,
) -> Result<SqlitePool, sqlx::Error> {
    let mut pause = Duration::from_millis(10);
    let mut attempts_left = 6;
    loop {
        let outcome = SqlitePoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_release(|conn, _| Box::pin(left_outside_a_transaction(conn)))
            .connect_with(options.clone())
            .await;
        attempts_left -= 1;
        match outcome {
            Err(error) if attempts_left > 0 && is_sqlite_busy(&error) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            outcome => return outcome,
        }
    }
}

/// Whether a connection returned to the pool may be used again: not if it
/// is still inside a transaction. SQLite rolls a transaction back by itself
/// on some errors (a full disk, an I/O error); the driver's own ROLLBACK
/// then fails ("no transaction is active") and its transaction depth stays
/// 1, so every later `BEGIN` on that connection failed with "non-zero
/// transaction depth" — writes never recovered once space was back. Such a
/// connection is closed instead (the pool opens a fresh one). A dropped
/// transaction's rollback is queued on the connection, so the check waits
/// for it (a ping runs after it) before deciding.
async fn left_outside_a_transaction(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

fn is_sqlite_busy(error: &sqlx::Error) -> bool {
    const SQLITE_BUSY: &str = "5";
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some(SQLITE_BUSY))
}

/// Applies pending migrations while holding SQLite's write lock from the
/// first read of the migration table to the last write. sqlx's migrator
/// locks PostgreSQL (an advisory lock) but not SQLite, where two processes
/// opening a new file together would otherwise both apply the first
/// migration. Each migration runs in a savepoint inside this transaction.
async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), OpenError> {
    let migrate_error = |error| OpenError::Migrate(DatabaseError::migrate(error));
    // A connection of its own, closed afterwards: a migration may edit a
    // table's stored definition, which the connection that made the edit
    // would keep seeing as it was.
    let mut conn = pool
        .acquire()
        .await
        .db()
        .map_err(OpenError::Migrate)?
        .detach();
    // Foreign keys off on this connection (closed afterwards) while the
    // migrations run: rebuilding a referenced table (0010) drops it, and
    // with them on that DROP would cascade into its children. The rebuild
    // checks every reference itself before it ends. SQLite ignores this
    // pragma inside a transaction, so it comes first.
    conn.execute("PRAGMA foreign_keys = OFF")
        .await
        .db()
        .map_err(OpenError::Migrate)?;
    let mut tx = conn
        .begin_with(crate::sql::SQLITE.begin_write)
        .await
        .db()
        .map_err(OpenError::Migrate)?;
    // `run_direct` is what `Migrator::run` calls after acquiring a
    // connection; `run` itself on a borrowed connection makes this future
    // lose `Send` (sqlx's `Acquire` is not general enough over lifetimes).
    migrate::sqlite()
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(migrate_error)?;
    tx.commit().await.db().map_err(OpenError::Migrate)?;
    conn.close().await.db().map_err(OpenError::Migrate)
}

fn create_parent_dir(path: &Path) -> Result<(), OpenError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => crate::private_files::create_private_dir(dir)
            .map_err(|source| OpenError::CreateDir {
                path: dir.to_path_buf(),
                source,
            }),
        _ => Ok(()),
    }
}

/// `url` with its password (user-info part or `password=` parameter)
/// replaced by `***`, so errors can show where a database is without its secret.
fn redact_password(url: &str) -> String {
    redact_password_parameter(&redact_user_info_password(url))
}

fn redact_user_info_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_string();
    };
    format!(
        "{}***{}",
        &url[..authority_start + colon + 1],
        &url[authority_start + at..]
    )
}

fn redact_password_parameter(url: &str) -> String {
    let Some(query_start) = url.find('?') else {
        return url.to_string();
    };
    let (base, query) = url.split_at(query_start + 1);
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => parameter.to_string(),
        })
        .collect();
    format!("{base}{}", parameters.join("&"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kv::SetOptions;

    const WRITERS: usize = 32;
    const WRITES_EACH: usize = 10;

    /// Has `WRITERS` tasks write `WRITES_EACH` entries each through
    /// `stores`, taking turns, all at once; returns the first failure.
    async fn write_concurrently(stores: &[Store]) -> Result<(), crate::KvError> {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = stores[writer % stores.len()].clone();
                tokio::spawn(async move {
                    for write in 0..WRITES_EACH {
                        let key = format!("writer-{writer}-{write}");
                        store
                            .kv_set(&key, &json!(write), SetOptions::default())
                            .await?;
                    }
                    Ok::<(), crate::KvError>(())
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap()?;
        }
        Ok(())
    }

    async fn entry_count(store: &Store) -> usize {
        store.storage_usage().await.unwrap().keys as usize
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_one_process_queue_without_waiting_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        // With no busy handler, a write that met another of this process
        // in SQLite's lock would fail at once ("database is locked").
        let store = Store::open_sqlite_waiting(&dir.path().join("cw.db"), Duration::ZERO)
            .await
            .unwrap();
        write_concurrently(std::slice::from_ref(&store))
            .await
            .unwrap();
        assert_eq!(entry_count(&store).await, WRITERS * WRITES_EACH);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_two_processes_on_one_file_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cw.db");
        let first = Store::open_sqlite(&path).await.unwrap();
        let second = Store::open_sqlite(&path).await.unwrap();
        write_concurrently(&[first.clone(), second]).await.unwrap();
        assert_eq!(entry_count(&first).await, WRITERS * WRITES_EACH);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_go_on_while_a_write_holds_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("cw.db")).await.unwrap();
        store
            .kv_set("committed", &json!(1), SetOptions::default())
            .await
            .unwrap();
        let Backend::Sqlite(pools) = &store.backend else {
            unreachable!("opened on SQLite")
        };
        let mut held = pools
            .writes
            .begin_with(crate::sql::SQLITE.begin_write)
            .await
            .unwrap();
        sqlx::query("DELETE FROM kv")
            .execute(&mut *held)
            .await
            .unwrap();
        // Were reads queued behind the held write, this would fail once the
        // pool's acquire timeout passed.
        assert_eq!(store.kv_get("committed").await.unwrap(), Some(json!(1)));
        held.rollback().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reading_connections_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("cw.db")).await.unwrap();
        let Backend::Sqlite(pools) = &store.backend else {
            unreachable!("opened on SQLite")
        };
        let error = sqlx::query("DELETE FROM kv")
            .execute(&pools.reads)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("readonly"), "{error}");
    }

    #[test]
    fn postgres_urls_are_recognised() {
        for url in [
            "postgres://u@h/db",
            "postgresql://h:5432/db?sslmode=disable",
        ] {
            assert_eq!(Location::parse(url).unwrap(), Location::Postgres);
        }
    }

    #[test]
    fn sqlite_urls_and_plain_paths_name_a_file() {
        let cases = [
            (
                "sqlite:///var/lib/clockwork/clockwork.db",
                "/var/lib/clockwork/clockwork.db",
            ),
            ("sqlite://data/clockwork.db", "data/clockwork.db"),
            ("sqlite:clockwork.db", "clockwork.db"),
            ("/srv/clockwork.db", "/srv/clockwork.db"),
            ("relative/clockwork.db", "relative/clockwork.db"),
        ];
        for (url, path) in cases {
            assert_eq!(
                Location::parse(url).unwrap(),
                Location::SqliteFile(PathBuf::from(path)),
                "{url}"
            );
        }
    }

    #[test]
    fn unsupported_urls_are_refused_with_a_reason() {
        for url in [
            "mysql://root@localhost/db",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:file:x?mode=memory",
            "sqlite://",
            "",
        ] {
            let error = Location::parse(url).unwrap_err();
            assert!(
                matches!(error, OpenError::InvalidUrl { .. }),
                "{url}: {error}"
            );
        }
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        let cases = [
            (
                "postgres://alice:s3cr%40t@db:5432/cw",
                "postgres://alice:***@db:5432/cw",
            ),
            (
                "postgres://alice:p@ss@db/cw?x=y",
                "postgres://alice:***@db/cw?x=y",
            ),
            ("postgres://alice@db/cw", "postgres://alice@db/cw"),
            ("postgres://db/cw?user=a", "postgres://db/cw?user=a"),
            (
                "postgres://db/cw?user=a&password=x&y=1",
                "postgres://db/cw?user=a&password=***&y=1",
            ),
            ("/plain/path", "/plain/path"),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_password(url), redacted, "{url}");
        }
    }

    #[test]
    fn a_refused_url_does_not_show_its_password() {
        let error = Location::parse("mysql://root:hunter2@localhost/db").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
