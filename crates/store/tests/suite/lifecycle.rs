//! Opening, reopening and migrating databases; the secret key file.

use std::{fs, os::unix::fs::PermissionsExt as _};

use serde_json::json;
use store::{
    Engine, KvQuery, OpenError, SECRET_KEY_FILE, SecretKey, SecretKeyError, SetOptions, Store,
};

use crate::harness::TestDb;

store_tests! {
    data_survives_closing_and_reopening,
    reopening_migrates_nothing_twice,
}

async fn data_survives_closing_and_reopening(db: TestDb) {
    db.store
        .kv_set("k", &json!({"kept": true}), SetOptions::default())
        .await
        .unwrap();
    db.store.secret_set("s", &json!("kept")).await.unwrap();
    db.store.close().await;
    assert!(
        db.store.kv_get("k").await.is_err(),
        "a closed store must not serve reads"
    );

    let reopened = db.reopen().await;
    assert_eq!(reopened.engine(), db.engine());
    assert_eq!(
        reopened.kv_get("k").await.unwrap(),
        Some(json!({"kept": true}))
    );
    assert_eq!(reopened.secret_get("s").await.unwrap(), Some(json!("kept")));
}

async fn reopening_migrates_nothing_twice(db: TestDb) {
    db.store
        .kv_set("k", &json!(1), SetOptions::default())
        .await
        .unwrap();
    // Concurrent opens of a migrated database: each checks, none re-applies.
    let (a, b) = tokio::join!(db.reopen(), db.reopen());
    let c = db.reopen().await;
    for store in [&a, &b, &c] {
        assert_eq!(
            store.kv_list(KvQuery::default()).await.unwrap().items.len(),
            1
        );
    }
}

#[tokio::test]
async fn a_sqlite_url_creates_the_file_and_its_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep").join("er").join("clockwork.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.engine(), Engine::Sqlite);
    store
        .kv_set("k", &json!(1), SetOptions::default())
        .await
        .unwrap();
    assert!(path.is_file());
}

#[tokio::test]
async fn a_plain_path_opens_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clockwork.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(store.engine(), Engine::Sqlite);
    assert!(path.is_file());
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://root@localhost/db", "sqlite::memory:"] {
        let error = Store::open(url).await.unwrap_err();
        assert!(
            matches!(error, OpenError::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_postgres_login_is_a_connect_error_without_the_password() {
    // A refused login fails at once; an unreachable server is retried until
    // the store's acquire timeout (10 s), too slow for a test.
    let url = crate::harness::postgres_url().replace("://postgres@", "://no_such_role:hunter2@");
    assert!(
        url.contains("hunter2"),
        "the test URL must carry a password: {url}"
    );
    let error = Store::open(&url).await.unwrap_err();
    assert!(
        matches!(
            error,
            OpenError::Connect {
                engine: "PostgreSQL",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clockwork.db");
    fs::write(&path, vec![b'x'; 8192]).unwrap();
    let error = Store::open_sqlite(&path).await.unwrap_err();
    assert!(
        matches!(error, OpenError::Connect { .. } | OpenError::Migrate(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_directory_that_cannot_be_created_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let error = Store::open_sqlite(file.join("sub").join("clockwork.db"))
        .await
        .unwrap_err();
    assert!(matches!(error, OpenError::CreateDir { .. }), "{error:?}");
}

#[test]
fn the_key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join(SECRET_KEY_FILE);
    SecretKey::load_or_create_file(&path).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    SecretKey::load_or_create_file(&path).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        text,
        "the key must not be replaced"
    );
}

#[tokio::test]
async fn the_reloaded_key_file_decrypts_what_the_first_key_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clockwork.db");
    let key_file = dir.path().join(SECRET_KEY_FILE);
    let store = Store::open_sqlite(&db)
        .await
        .unwrap()
        .with_secret_key(SecretKey::load_or_create_file(&key_file).unwrap());
    store.secret_set("s", &json!("v")).await.unwrap();
    let again = Store::open_sqlite(&db)
        .await
        .unwrap()
        .with_secret_key(SecretKey::load_or_create_file(&key_file).unwrap());
    assert_eq!(again.secret_get("s").await.unwrap(), Some(json!("v")));
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SECRET_KEY_FILE);
    SecretKey::load_or_create_file(&path).unwrap();
    for mode in [0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let error = SecretKey::load_or_create_file(&path).unwrap_err();
        assert!(
            matches!(error, SecretKeyError::InsecureFile { mode: m, .. } if m == mode),
            "{error:?}"
        );
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    SecretKey::load_or_create_file(&path).unwrap();
}

#[test]
fn a_key_file_without_a_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SECRET_KEY_FILE);
    for contents in ["", "too short", &"ab".repeat(31)] {
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let error = SecretKey::load_or_create_file(&path).unwrap_err();
        assert!(
            matches!(error, SecretKeyError::InvalidFile { .. }),
            "{contents:?}: {error:?}"
        );
    }
    let error = SecretKey::load_or_create_file(dir.path()).unwrap_err();
    assert!(
        matches!(
            error,
            SecretKeyError::InvalidFile {
                reason: "it is not a regular file",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_key_file_that_cannot_be_created_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    fs::write(&blocker, b"").unwrap();
    let error = SecretKey::load_or_create_file(&blocker.join(SECRET_KEY_FILE)).unwrap_err();
    assert!(matches!(error, SecretKeyError::Io { .. }), "{error:?}");
}

#[tokio::test]
async fn racing_creators_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join(SECRET_KEY_FILE);
    let keys: Vec<SecretKey> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| SecretKey::load_or_create_file(&path).unwrap()))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "temporary files must not be left behind");

    // What the first key encrypts, every other key decrypts: they are one key.
    let store = Store::open_sqlite(dir.path().join("clockwork.db"))
        .await
        .unwrap();
    store
        .clone()
        .with_secret_key(keys[0].clone())
        .secret_set("s", &json!("v"))
        .await
        .unwrap();
    for key in keys {
        let reader = store.clone().with_secret_key(key);
        assert_eq!(reader.secret_get("s").await.unwrap(), Some(json!("v")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_of_a_new_sqlite_file_all_succeed() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clockwork.db");
        let opens: Vec<_> = (0..3)
            .map(|_| tokio::spawn(Store::open_sqlite(path.clone())))
            .collect();
        for open in opens {
            open.await.unwrap().unwrap();
        }
    }
}

#[tokio::test]
async fn a_new_sqlite_database_and_its_directory_are_private_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("clockwork.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    store
        .kv_set(
            "k",
            &json!("a value to put in the WAL"),
            SetOptions::default(),
        )
        .await
        .unwrap();
    let mode = |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["clockwork.db", "clockwork.db-wal", "clockwork.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(store::shared_paths(&data), []);
    store.close().await;

    // An existing world-readable directory and database keep their modes
    // (the operator chose them) but are reported for a warning.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let shared = store::shared_paths(&data);
    assert_eq!(shared, [(data.clone(), 0o755), (path.clone(), 0o644)]);
}
