//! The schema's own guards: CHECK constraints refuse rows the store never
//! writes, in both dialects, whoever writes them.

use crate::harness::TestDb;

store_tests! {
    the_schema_refuses_rows_the_store_never_writes,
    the_schema_accepts_the_largest_rows_the_store_writes,
    the_run_schema_refuses_rows_the_state_machine_never_writes,
}

/// (what is wrong, what the error names, SQLite statement, PostgreSQL statement)
const REFUSED: &[(&str, &str, &str, &str)] = &[
    (
        "empty key",
        "kv_key_length",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES ('', '1', 0)",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES ('', '1', 0)",
    ),
    (
        "501-character key",
        "kv_key_length",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES (substr(hex(zeroblob(501)), 1, 501), '1', 0)",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES (repeat('x', 501), '1', 0)",
    ),
    (
        "value that is not JSON",
        "json",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES ('k', '{', 0)",
        "INSERT INTO kv (key, value, updated_at_ms) VALUES ('k', '{', 0)",
    ),
    (
        "value over 1 MiB",
        "kv_value_size",
        "INSERT INTO kv (key, value, updated_at_ms) \
         VALUES ('k', '\"' || substr(hex(zeroblob(524288)), 1, 1048575) || '\"', 0)",
        "INSERT INTO kv (key, value, updated_at_ms) \
         VALUES ('k', ('\"' || repeat('x', 1048575) || '\"')::json, 0)",
    ),
    (
        "entry without a write instant",
        "updated_at_ms",
        "INSERT INTO kv (key, value) VALUES ('k', '1')",
        "INSERT INTO kv (key, value) VALUES ('k', '1')",
    ),
    (
        "secret key version 0",
        "secret_key_version_positive",
        "INSERT INTO secret VALUES ('k', 0, zeroblob(24), zeroblob(16), 0)",
        "INSERT INTO secret VALUES ('k', 0, decode(repeat('00', 24), 'hex'), decode(repeat('00', 16), 'hex'), 0)",
    ),
    (
        "secret nonce of 12 bytes",
        "secret_nonce_length",
        "INSERT INTO secret VALUES ('k', 1, zeroblob(12), zeroblob(16), 0)",
        "INSERT INTO secret VALUES ('k', 1, decode(repeat('00', 12), 'hex'), decode(repeat('00', 16), 'hex'), 0)",
    ),
    (
        "secret ciphertext shorter than its tag",
        "secret_ciphertext_has_tag",
        "INSERT INTO secret VALUES ('k', 1, zeroblob(24), zeroblob(15), 0)",
        "INSERT INTO secret VALUES ('k', 1, decode(repeat('00', 24), 'hex'), decode(repeat('00', 15), 'hex'), 0)",
    ),
];

async fn the_schema_refuses_rows_the_store_never_writes(db: TestDb) {
    for (what, guard, sqlite, postgres) in REFUSED {
        let error = match db.try_execute_raw(sqlite, postgres).await {
            Ok(()) => panic!("the schema accepted a row with {what}"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.contains(guard),
            "{what}: refused for another reason: {error}"
        );
    }
}

async fn the_schema_accepts_the_largest_rows_the_store_writes(db: TestDb) {
    // The guards above are not simply refusing everything.
    db.execute_raw(
        "INSERT INTO kv (key, value, updated_at_ms) \
         VALUES (substr(hex(zeroblob(500)), 1, 500), '\"' || substr(hex(zeroblob(524288)), 1, 1048574) || '\"', 0); \
         INSERT INTO secret VALUES ('k', 1, zeroblob(24), zeroblob(16), 0)",
        "INSERT INTO kv (key, value, updated_at_ms) \
         VALUES (repeat('x', 500), ('\"' || repeat('x', 1048574) || '\"')::json, 0); \
         INSERT INTO secret VALUES ('k', 1, decode(repeat('00', 24), 'hex'), decode(repeat('00', 16), 'hex'), 0)",
    )
    .await;
}

/// Prefix of a runs insert for job 1 at version 1; each case appends its columns.
const RUN: &str = "INSERT INTO runs (job_id, job_version, trigger, status, attempt, \
    scheduled_for_ms, queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, \
    lease_expires_at_ms, missed_count) VALUES (1, 1, ";

/// (what is wrong, the constraint that refuses it, the row's values after `RUN`)
const RUN_CASES: &[(&str, &str, &str)] = &[
    (
        "unknown status",
        "runs_status_known",
        "'manual', 'paused', 1, NULL, 0, 0, NULL, 5, NULL, NULL, NULL)",
    ),
    (
        "unknown trigger",
        "runs_trigger_known",
        "'cron', 'queued', 1, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL)",
    ),
    (
        "attempt 0",
        "runs_attempt_positive",
        "'manual', 'queued', 0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL)",
    ),
    (
        "queued run with an end",
        "runs_finished_iff_terminal",
        "'manual', 'queued', 1, NULL, 0, 0, NULL, 5, NULL, NULL, NULL)",
    ),
    (
        "ended run without an end",
        "runs_finished_iff_terminal",
        "'manual', 'succeeded', 1, NULL, 0, 0, 1, NULL, NULL, NULL, NULL)",
    ),
    (
        "queued run that started",
        "runs_not_started_when_it_never_ran",
        "'manual', 'queued', 1, NULL, 0, 0, 1, NULL, NULL, NULL, NULL)",
    ),
    (
        "end before start",
        "runs_finished_after_started",
        "'manual', 'failed', 1, NULL, 0, 0, 10, 5, NULL, NULL, NULL)",
    ),
    (
        "running run without a lease",
        "runs_running_holds_a_lease",
        "'manual', 'running', 1, NULL, 0, 0, 1, NULL, 'n', NULL, NULL)",
    ),
    (
        "ended run still leased",
        "runs_lease_only_while_running",
        "'manual', 'failed', 1, NULL, 0, 0, 1, 5, 'n', 9, NULL)",
    ),
    (
        "missed row without a count",
        "runs_missed_counts_occurrences",
        "'schedule', 'missed', 1, 7, 0, 0, NULL, 5, NULL, NULL, NULL)",
    ),
    (
        "missed count 0",
        "runs_missed_counts_occurrences",
        "'schedule', 'missed', 1, 7, 0, 0, NULL, 5, NULL, NULL, 0)",
    ),
    (
        "count on a run that was not missed",
        "runs_missed_counts_occurrences",
        "'schedule', 'skipped', 1, 7, 0, 0, NULL, 5, NULL, NULL, 2)",
    ),
    (
        "occurrence without an instant",
        "runs_occurrence_has_instant",
        "'schedule', 'queued', 1, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL)",
    ),
    (
        "skipped manual run",
        "runs_only_occurrences_are_skipped_or_missed",
        "'manual', 'skipped', 1, 7, 0, 0, NULL, 5, NULL, NULL, NULL)",
    ),
];

async fn the_run_schema_refuses_rows_the_state_machine_never_writes(db: TestDb) {
    let job = "INSERT INTO jobs (name, version, enabled, overlap, misfire, keep_runs, keep_days, \
               created_at_ms, updated_at_ms) VALUES ('j', 1, TRUE, 'skip', 'run_once', 1, 1, 0, 0)";
    db.execute_raw(job, job).await;
    for (what, guard, values) in RUN_CASES {
        let insert = format!("{RUN}{values}");
        let error = match db.try_execute_raw(&insert, &insert).await {
            Ok(()) => panic!("the schema accepted a run row with {what}"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.contains(guard),
            "{what}: refused for another reason: {error}"
        );
    }
    // A row the machine does write passes, so the guards are not blanket refusals.
    let ok = format!("{RUN}'schedule', 'missed', 1, 7, 0, 0, NULL, 5, NULL, NULL, 3)");
    db.execute_raw(&ok, &ok).await;
    let fires_while_paused = "INSERT INTO jobs (name, version, enabled, overlap, misfire, keep_runs, \
        keep_days, next_fire_at_ms, created_at_ms, updated_at_ms) \
        VALUES ('p', 1, FALSE, 'skip', 'run_once', 1, 1, 5, 0, 0)";
    let error = db
        .try_execute_raw(fires_while_paused, fires_while_paused)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("jobs_fire_only_when_enabled_and_scheduled"),
        "{error}"
    );
}
