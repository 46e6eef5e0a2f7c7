//! Secrets: round trips, separation from entries, encryption at rest, keys.

use serde_json::json;
use store::{KvQuery, SecretError, SecretKey, SetOptions, Store};

use crate::harness::TestDb;

store_tests! {
    secrets_round_trip_overwrite_and_delete,
    secrets_and_entries_live_apart,
    secrets_are_encrypted_at_rest,
    a_wrong_key_is_a_clear_decryption_error,
    altered_ciphertext_does_not_decrypt,
    a_ciphertext_moved_to_another_name_does_not_decrypt,
    an_unknown_key_version_is_reported,
    without_a_key_secrets_are_unavailable,
    invalid_secret_names_are_refused,
}

async fn secrets_round_trip_overwrite_and_delete(db: TestDb) {
    assert_eq!(db.store.secret_get("token").await.unwrap(), None);
    let value = json!({"user": "bot", "password": "pä55 \u{0} 😀", "scopes": [1, 2.5]});
    db.store.secret_set("token", &value).await.unwrap();
    assert_eq!(db.store.secret_get("token").await.unwrap(), Some(value));
    db.store
        .secret_set("token", &json!("rotated"))
        .await
        .unwrap();
    assert_eq!(
        db.store.secret_get("token").await.unwrap(),
        Some(json!("rotated"))
    );
    db.store.secret_delete("token").await.unwrap();
    assert_eq!(db.store.secret_get("token").await.unwrap(), None);
    db.store.secret_delete("token").await.unwrap();
}

async fn secrets_and_entries_live_apart(db: TestDb) {
    db.store
        .secret_set("shared-name", &json!("secret"))
        .await
        .unwrap();
    assert_eq!(db.store.kv_get("shared-name").await.unwrap(), None);
    assert!(
        db.store
            .kv_list(KvQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        db.store
            .kv_batch_get(&["shared-name".into()])
            .await
            .unwrap()
            .is_empty()
    );

    db.store
        .kv_set("shared-name", &json!("plain"), SetOptions::default())
        .await
        .unwrap();
    db.store.kv_delete("shared-name").await.unwrap();
    assert_eq!(
        db.store.secret_get("shared-name").await.unwrap(),
        Some(json!("secret"))
    );
}

async fn secrets_are_encrypted_at_rest(db: TestDb) {
    const PLAIN: &str = "plaintext-canary-0123456789";
    const SECRET: &str = "secret-canary-9876543210";
    db.store
        .kv_set("plain", &json!(PLAIN), SetOptions::default())
        .await
        .unwrap();
    db.store.secret_set("secret", &json!(SECRET)).await.unwrap();
    let bytes = db.bytes_at_rest().await;
    // The control proves the scan sees stored values at all.
    assert!(
        contains(&bytes, PLAIN.as_bytes()),
        "the scan missed the plain entry"
    );
    assert!(
        !contains(&bytes, SECRET.as_bytes()),
        "the secret is stored in plain text"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn a_wrong_key_is_a_clear_decryption_error(db: TestDb) {
    db.store
        .secret_set("token", &json!("s3cret"))
        .await
        .unwrap();
    let intruder = db.reopen_with_key(SecretKey::generate()).await;
    let error = intruder.secret_get("token").await.unwrap_err();
    assert!(
        matches!(&error, SecretError::Decrypt { key } if key == "token"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("not the one it was written with"),
        "{error}"
    );
    assert_eq!(
        db.reopen().await.secret_get("token").await.unwrap(),
        Some(json!("s3cret"))
    );
}

async fn altered_ciphertext_does_not_decrypt(db: TestDb) {
    db.store
        .secret_set("token", &json!("s3cret"))
        .await
        .unwrap();
    db.execute_raw(
        "UPDATE secret SET ciphertext = randomblob(length(ciphertext))",
        "UPDATE secret SET ciphertext = decode(md5(random()::text) || md5(random()::text), 'hex')",
    )
    .await;
    let error = db.store.secret_get("token").await.unwrap_err();
    assert!(matches!(error, SecretError::Decrypt { .. }), "{error:?}");
}

async fn a_ciphertext_moved_to_another_name_does_not_decrypt(db: TestDb) {
    db.store
        .secret_set("admin-token", &json!("admin"))
        .await
        .unwrap();
    db.store
        .secret_set("guest-token", &json!("guest"))
        .await
        .unwrap();
    let copy = "UPDATE secret SET \
                    nonce = (SELECT nonce FROM secret WHERE key = 'admin-token'), \
                    ciphertext = (SELECT ciphertext FROM secret WHERE key = 'admin-token') \
                WHERE key = 'guest-token'";
    db.execute_raw(copy, copy).await;
    let error = db.store.secret_get("guest-token").await.unwrap_err();
    assert!(matches!(error, SecretError::Decrypt { .. }), "{error:?}");
    assert_eq!(
        db.store.secret_get("admin-token").await.unwrap(),
        Some(json!("admin"))
    );
}

async fn an_unknown_key_version_is_reported(db: TestDb) {
    db.store
        .secret_set("token", &json!("s3cret"))
        .await
        .unwrap();
    let bump = "UPDATE secret SET key_version = 2";
    db.execute_raw(bump, bump).await;
    let error = db.store.secret_get("token").await.unwrap_err();
    assert!(
        matches!(
            error,
            SecretError::KeyVersionMismatch {
                stored: 2,
                configured: 1,
                ..
            }
        ),
        "{error:?}"
    );
}

async fn without_a_key_secrets_are_unavailable(db: TestDb) {
    db.store
        .secret_set("token", &json!("s3cret"))
        .await
        .unwrap();
    let keyless = Store::open(&db.url()).await.unwrap();
    assert!(matches!(
        keyless.secret_get("token").await,
        Err(SecretError::NoKey)
    ));
    assert!(matches!(
        keyless.secret_set("token", &json!(1)).await,
        Err(SecretError::NoKey)
    ));
    // Deleting needs no key.
    keyless.secret_delete("token").await.unwrap();
    assert_eq!(db.store.secret_get("token").await.unwrap(), None);
}

async fn invalid_secret_names_are_refused(db: TestDb) {
    let too_long = "s".repeat(501);
    for name in ["", too_long.as_str(), "a\0b"] {
        let result = db.store.secret_set(name, &json!(1)).await;
        assert!(
            matches!(result, Err(SecretError::InvalidKey { .. })),
            "{name:?}: {result:?}"
        );
        assert!(matches!(
            db.store.secret_get(name).await,
            Err(SecretError::InvalidKey { .. })
        ));
        assert!(matches!(
            db.store.secret_delete(name).await,
            Err(SecretError::InvalidKey { .. })
        ));
    }
}
