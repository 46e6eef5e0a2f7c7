//! The store's error types, all built with `thiserror`. A leaf: it imports
//! none of the store's resource modules (the key-value store's own error,
//! [`KvError`](crate::KvError), lives beside it in `kv`).

use std::{fmt, io, path::PathBuf, sync::Arc};

/// A failure inside the database engine or driver: connection lost, disk
/// full, constraint violated, migration refused.
///
/// Opaque on purpose: callers decide by the error that wraps it
/// ([`KvError`], [`SecretError`], [`OpenError`]), not by driver details.
/// Cheap to clone: one failed group commit is every caller's failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct DatabaseError(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Sqlx(Arc<sqlx::Error>),
    Migrate(Arc<sqlx::migrate::MigrateError>),
}

// Transparent, except that the database's own words are given without the
// driver's decoration (PostgreSQL's error also names the line of its C
// source that raised it, which tells an operator nothing).
impl std::fmt::Display for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlx(error) => match error.as_ref() {
                sqlx::Error::Database(error) => {
                    write!(f, "the database refused: {}", error.message())
                }
                error => error.fmt(f),
            },
            Self::Migrate(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for Inner {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlx(error) => match error.as_ref() {
                sqlx::Error::Database(_) => None,
                error => error.source(),
            },
            Self::Migrate(error) => error.source(),
        }
    }
}

impl DatabaseError {
    pub(crate) fn migrate(error: sqlx::migrate::MigrateError) -> Self {
        Self(Inner::Migrate(Arc::new(error)))
    }
}

/// Converts driver results into [`DatabaseError`] without making the driver's
/// error type part of this crate's public conversions.
pub(crate) trait DbResultExt<T> {
    fn db(self) -> Result<T, DatabaseError>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, DatabaseError> {
        self.map_err(|error| DatabaseError(Inner::Sqlx(Arc::new(error))))
    }
}

/// Why [`Store::open`](crate::Store::open) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no engine this store supports, or a form it refuses.
    #[error("unsupported database URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given, with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the {engine} database at {url}")]
    Connect {
        /// `SQLite` or `PostgreSQL`.
        engine: &'static str,
        /// The URL or path, with any password replaced by `***`.
        url: String,
        /// The driver's reason.
        #[source]
        source: DatabaseError,
    },
    /// The schema migrations could not be applied.
    #[error("cannot apply the database migrations")]
    Migrate(#[source] DatabaseError),
}

/// Which limit of the [`StorageQuota`](crate::StorageQuota) a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    /// [`StorageQuota::max_keys`](crate::StorageQuota::max_keys).
    Keys,
    /// [`StorageQuota::max_bytes`](crate::StorageQuota::max_bytes).
    Bytes,
}

impl QuotaResource {
    /// The `[limits]` setting of the configuration file that raises this limit.
    pub fn setting(self) -> &'static str {
        match self {
            QuotaResource::Keys => "storage_keys",
            QuotaResource::Bytes => "storage_mb",
        }
    }

    /// `keys` or `bytes`.
    pub fn unit(self) -> &'static str {
        match self {
            QuotaResource::Keys => "keys",
            QuotaResource::Bytes => "bytes",
        }
    }
}

/// A write would have taken storage above its quota; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct QuotaExceeded {
    /// The limit the write ran into.
    pub resource: QuotaResource,
    /// The usage before the write.
    pub usage: u64,
    /// The usage the write would have left.
    pub requested: u64,
    /// The limit.
    pub limit: u64,
}

impl fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = self.resource.unit();
        write!(
            f,
            "storage quota exceeded: this write would take the installation's storage \
             (entries, secrets and custom entity values) from {} to {} {unit}, above the limit of {} {unit}; \
             delete keys, or raise [limits] {} in the configuration",
            self.usage,
            self.requested,
            self.limit,
            self.resource.setting()
        )
    }
}

/// Why a secret operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The store was opened without [`Store::with_secret_key`](crate::Store::with_secret_key).
    #[error("secrets are unavailable: no secret key is configured")]
    NoKey,
    /// The secret's name is empty, too long, or contains a NUL character.
    #[error("invalid secret key {key:?}: {reason}")]
    InvalidKey {
        /// The secret's name (NUL characters shown escaped).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The secret's JSON text is larger than the store accepts.
    #[error("secret {key:?} is {size} bytes as JSON, more than the store's limit of {max}")]
    ValueTooLarge {
        /// The secret's name.
        key: String,
        /// The JSON text's size in bytes.
        size: usize,
        /// [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES).
        max: usize,
    },
    /// The secret was encrypted under a key version this process does not have.
    #[error(
        "secret {key:?} was encrypted with secret key version {stored}, but the configured key is version {configured}"
    )]
    KeyVersionMismatch {
        /// The secret's name.
        key: String,
        /// The version recorded with the secret.
        stored: i32,
        /// The configured key's version.
        configured: i32,
    },
    /// Authenticated decryption failed: the configured key is not the one the
    /// secret was written with, or the stored bytes were altered.
    #[error(
        "cannot decrypt secret {key:?}: the configured secret key is not the one it was written with, or the stored data was altered"
    )]
    Decrypt {
        /// The secret's name.
        key: String,
    },
    /// The write would take storage above its quota.
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    /// The database failed.
    #[error("secret store failure")]
    Database(#[from] DatabaseError),
}

/// Why a [`SecretKey`](crate::SecretKey) could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// The environment variable is set but does not hold a key.
    #[error(
        "{var} is not a valid secret key: {reason}; expected 32 bytes as base64 (44 characters) or hex (64 characters)"
    )]
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with its value (never the value itself).
        reason: &'static str,
    },
    /// The key file exists but does not hold a key.
    #[error(
        "secret key file {} is not valid: {reason}; expected 32 bytes as base64 or hex",
        path.display()
    )]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents (never the contents themselves).
        reason: &'static str,
    },
    /// The key file can be read by other users; it is refused rather than used.
    #[error(
        "secret key file {} is accessible by group or others (mode {mode:03o}); restrict it with `chmod 600`",
        path.display()
    )]
    InsecureFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file or its directory could not be read or created.
    #[error("cannot read or create the secret key file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

/// Why an operation on jobs, runs, tokens, the audit log or notification
/// channels failed. Nothing was written when one is returned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another job already has this name.
    #[error("a job named {name:?} already exists")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// The job changed since the caller read it.
    #[error("job {id} is at version {actual}, not the expected version {expected}")]
    VersionConflict {
        /// The job.
        id: i64,
        /// The version the caller based its change on.
        expected: i64,
        /// The job's current version.
        actual: i64,
    },
    /// No job has this id or name.
    #[error("no job {job}")]
    JobNotFound {
        /// The id or name asked for.
        job: String,
    },
    /// A push to a queue key no job consumes (nothing was written).
    #[error(
        "no job consumes queue {queue:?}: set \"queue\": {queue:?} on the job that should receive its events"
    )]
    NoConsumer {
        /// The queue key.
        queue: String,
    },
    /// A spec breaks a bound the store enforces.
    #[error("invalid job spec: {0}")]
    InvalidSpec(#[from] SpecProblem),
    /// An argument the store refuses (with what is wrong with it).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A list cursor that this store did not hand out.
    #[error("invalid list cursor")]
    InvalidCursor,
    /// The change conflicts with what is stored (a user or site name taken,
    /// a second site for one product).
    #[error("{0}")]
    Conflict(String),
    /// The caller abandoned an occurrence claim its plan found stale
    /// (nothing was written); claiming again with the current time works.
    #[error(
        "the occurrence claim was abandoned: it waited for the database past the next occurrence"
    )]
    ClaimAbandoned,
    /// A stored row no longer decodes (the database was edited by hand).
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
    /// The database failed (the driver's reason follows, so a log line
    /// says what happened: a lost connection, a full disk).
    #[error("database failure: {0}")]
    Database(#[from] DatabaseError),
}

impl StoreError {
    /// Why the database cannot serve now, when that is what failed (a lost
    /// connection, a full disk) rather than the request itself.
    pub fn unavailability(&self) -> Option<Unavailability> {
        match self {
            StoreError::Database(error) => error.unavailability(),
            _ => None,
        }
    }

    /// Whether trying the same operation again may succeed: [`Transient`]
    /// for failures of the database itself (unreachable, disk full, a
    /// lock or serialization conflict), [`Permanent`] for a request the
    /// store or the database refuses as such (a violated constraint, an
    /// invalid or corrupt value). A caller that retries should retry only
    /// transient failures, and drop (and report) permanent ones.
    ///
    /// [`Transient`]: ErrorClass::Transient
    /// [`Permanent`]: ErrorClass::Permanent
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Database(error) => error.class(),
            StoreError::ClaimAbandoned => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

/// Why the database cannot serve: a failure of the database itself, not of
/// the request, which clients may retry once it is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailability {
    /// The disk holding the database is full: reads work, writes fail.
    DiskFull,
    /// The database cannot be reached or does not answer (connection
    /// refused or lost, pool exhausted, I/O errors, shutting down).
    Unreachable,
}

impl std::fmt::Display for Unavailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailability::DiskFull => "the database's disk is full",
            Unavailability::Unreachable => "the database is unreachable",
        })
    }
}

/// Whether an operation that failed may succeed if tried again
/// ([`StoreError::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The database could not do it now; the same request may succeed later.
    Transient,
    /// The request itself is refused; trying it again gives the same answer.
    Permanent,
}

/// SQLite result codes (the primary code: the low byte of an extended one).
const SQLITE_TOOBIG: i64 = 18;
const SQLITE_CONSTRAINT: i64 = 19;
const SQLITE_MISMATCH: i64 = 20;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;

impl DatabaseError {
    /// Why the database cannot serve, if this error says so.
    pub fn unavailability(&self) -> Option<Unavailability> {
        let Inner::Sqlx(error) = &self.0 else {
            return None;
        };
        match error.as_ref() {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Some(Unavailability::Unreachable),
            sqlx::Error::Database(error) => {
                let code = error.code()?;
                let is_sqlite = error
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some();
                if is_sqlite {
                    let extended: i64 = code.parse().ok()?;
                    return match extended & 0xff {
                        SQLITE_FULL => Some(Unavailability::DiskFull),
                        SQLITE_IOERR | SQLITE_CANTOPEN => Some(Unavailability::Unreachable),
                        _ => None,
                    };
                }
                // PostgreSQL SQLSTATE: 53100 disk full; class 08 connection
                // exceptions; 57P01–57P03 shutting down or not accepting.
                match code.as_ref() {
                    "53100" => Some(Unavailability::DiskFull),
                    "57P01" | "57P02" | "57P03" => Some(Unavailability::Unreachable),
                    state if state.starts_with("08") => Some(Unavailability::Unreachable),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// See [`StoreError::class`]. A failure the database itself does not
    /// classify as the request's fault (a lost connection, a driver error)
    /// counts as transient: wrongly retrying costs a retry, wrongly
    /// dropping loses a write.
    pub fn class(&self) -> ErrorClass {
        let Inner::Sqlx(error) = &self.0 else {
            return ErrorClass::Permanent;
        };
        match error.as_ref() {
            sqlx::Error::Database(error) => {
                let Some(code) = error.code() else {
                    return ErrorClass::Transient;
                };
                let is_sqlite = error
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some();
                let permanent = if is_sqlite {
                    code.parse::<i64>().is_ok_and(|extended| {
                        matches!(
                            extended & 0xff,
                            SQLITE_CONSTRAINT | SQLITE_MISMATCH | SQLITE_TOOBIG
                        )
                    })
                } else {
                    // SQLSTATE classes 22 (data exception), 23 (integrity
                    // constraint violation), 42 (syntax or access rule).
                    ["22", "23", "42"]
                        .iter()
                        .any(|class| code.starts_with(class))
                };
                if permanent {
                    ErrorClass::Permanent
                } else {
                    ErrorClass::Transient
                }
            }
            sqlx::Error::Encode(_)
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::RowNotFound
            | sqlx::Error::Configuration(_) => ErrorClass::Permanent,
            _ => ErrorClass::Transient,
        }
    }

    /// Whether the database refused a write that would duplicate a unique key.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(&self.0, Inner::Sqlx(error)
            if matches!(error.as_ref(), sqlx::Error::Database(error) if error.is_unique_violation()))
    }
}

/// A bound a [`JobSpec`] breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct SpecProblem {
    /// The field's path, e.g. `retry.max_attempts`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(error: sqlx::Error) -> StoreError {
        StoreError::Database(DatabaseError(Inner::Sqlx(Arc::new(error))))
    }

    #[test]
    fn failures_of_the_database_are_transient_refused_requests_permanent() {
        for transient in [
            database(sqlx::Error::PoolClosed),
            database(sqlx::Error::PoolTimedOut),
            database(sqlx::Error::Io(io::Error::from(
                io::ErrorKind::ConnectionReset,
            ))),
            StoreError::ClaimAbandoned,
        ] {
            assert_eq!(transient.class(), ErrorClass::Transient, "{transient}");
        }
        for permanent in [
            database(sqlx::Error::RowNotFound),
            StoreError::JobNotFound { job: "7".into() },
            StoreError::Invalid {
                what: "attempt",
                reason: "attempts count from 1".into(),
            },
            StoreError::corrupt("run", "bad"),
        ] {
            assert_eq!(permanent.class(), ErrorClass::Permanent, "{permanent}");
        }
    }
}
