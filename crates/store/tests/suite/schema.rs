//! The schema's own guards: CHECK constraints refuse rows the store never
//! writes, in both dialects, whoever writes them.

use crate::harness::TestDb;

store_tests! {
    the_schema_refuses_rows_the_store_never_writes,
    the_schema_accepts_the_largest_rows_the_store_writes,
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
