//! The schema migrations, embedded in the binary, one folder per dialect.
//!
//! `sqlx::migrate!` would need sqlx's proc-macro feature; listing the files
//! here with `include_str!` embeds the same SQL with sqlx's own runner
//! (same `_sqlx_migrations` table, checksums and locking) and no macro crate.

use std::borrow::Cow;

use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};

/// Declares every migration once; each must exist in both dialects' folders.
macro_rules! migrations {
    ($($version:literal => $stem:literal: $description:literal),* $(,)?) => {
        /// The migrations of the SQLite schema.
        pub(crate) fn sqlite() -> Migrator {
            Migrator::with_migrations(vec![$(
                migration($version, $description,
                    include_str!(concat!("../migrations/sqlite/", $stem, ".sql"))),
            )*])
        }

        /// The migrations of the PostgreSQL schema.
        pub(crate) fn postgres() -> Migrator {
            Migrator::with_migrations(vec![$(
                migration($version, $description,
                    include_str!(concat!("../migrations/postgres/", $stem, ".sql"))),
            )*])
        }

        #[cfg(test)]
        const FILE_STEMS: &[&str] = &[$($stem),*];
    };
}

migrations! {
    1 => "0001_kv_and_secrets": "kv and secrets",
    2 => "0002_jobs_runs_tokens_audit": "jobs, runs, logs, tokens, audit, notifications",
    3 => "0003_chains": "chains of runs",
    4 => "0004_queues": "queues: queue jobs, events, event runs",
    5 => "0005_users_sessions": "users, sessions, sites",
    9 => "0009_runs_start_when_the_script_begins": "runs start when their script begins",
    10 => "0010_ids_are_never_reused": "ids are never reused",
    12 => "0012_custom_entities": "custom entities and their indexes",
    13 => "0013_job_owner": "job owner",
    14 => "0014_storage_usage": "storage usage for the quota",
    15 => "0015_job_tags": "job tags",
    16 => "0016_run_lease_tokens": "run lease tokens",
    17 => "0017_entities_count_toward_the_quota": "custom entities count toward the storage quota",
    18 => "0018_queue_claims_without_ranking": "queue claims without ranking every due event",
    19 => "0019_event_runs_indexed_by_event": "event runs indexed by their event, not their status",
    20 => "0020_deliveries_by_run": "alert deliveries indexed by their run",
}

fn migration(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration::new(
        version,
        Cow::Borrowed(description),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn stems_in(dialect: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut stems: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        stems.sort();
        stems
    }

    #[test]
    fn every_migration_file_is_registered_in_both_dialects() {
        let registered: Vec<String> = FILE_STEMS.iter().map(|s| s.to_string()).collect();
        assert_eq!(stems_in("sqlite"), registered);
        assert_eq!(stems_in("postgres"), registered);
    }

    #[test]
    fn versions_are_ascending_and_match_file_names() {
        for migrator in [sqlite(), postgres()] {
            let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
            let expected: Vec<i64> = FILE_STEMS
                .iter()
                .map(|stem| stem[..4].parse().unwrap())
                .collect();
            assert_eq!(versions, expected);
        }
    }
}
