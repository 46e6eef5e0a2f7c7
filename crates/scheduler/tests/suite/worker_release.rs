//! A run's worker is freed when its script ends, not when its end is
//! written: the next queued run starts while the first one's end still
//! waits for the database.
//!
//! PostgreSQL only: a row lock holds one run's end while the claim of
//! another run goes on. SQLite has a single writer, so there the claim
//! itself would wait.

use std::{sync::Arc, time::Duration};

use runtime::{KvStore, MemoryKvStore};
use sqlx::{Connection, PgConnection};
use store::{RunStatus, Trigger};

use crate::harness::{SharedStorage, TestEnv, eventually, is, on_postgres, spec, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_worker_freed_at_script_end_starts_the_next_run_before_the_first_end_is_written()
{
    on_postgres(a_worker_freed_at_script_end_starts_the_next_run_before_the_first_end_is_written)
        .await;
}

const HELD: &str = "await storage.set('first-live', true);\n\
     while (!(await storage.get('end-first'))) await new Promise((r) => setTimeout(r, 20));\n\
     return 'first';";

async fn a_worker_freed_at_script_end_starts_the_next_run_before_the_first_end_is_written(
    env: TestEnv,
) {
    let storage = Arc::new(MemoryKvStore::new());
    let first = env.create_job(spec("first", HELD), None).await;
    let second = env
        .create_job(spec("second", "return 'second'"), None)
        .await;
    let mut config = env.config("node-a");
    config.workers = 1;
    config.environment = Arc::new(SharedStorage(storage.clone()));
    let handle = env.start(config).await;
    let mut events = handle.events();
    let first_run = handle
        .run_now(first.id, None, Trigger::Manual)
        .await
        .unwrap();
    eventually("the first run's script is live", || async {
        storage.get("first-live").await.unwrap().is_some()
    })
    .await;
    let second_run = handle
        .run_now(second.id, None, Trigger::Manual)
        .await
        .unwrap();
    assert_eq!(
        second_run.status,
        RunStatus::Queued,
        "the one worker is busy"
    );

    // Another connection locks the first run's row: its end cannot be
    // written until this transaction ends.
    let mut other = PgConnection::connect(env.url()).await.unwrap();
    let mut lock = other.begin().await.unwrap();
    sqlx::query("SELECT id FROM runs WHERE id = $1 FOR UPDATE")
        .bind(first_run.id)
        .execute(&mut *lock)
        .await
        .unwrap();
    storage
        .set("end-first", serde_json::json!(true), None, false)
        .await
        .unwrap();

    wait_for(&mut events, "the second run starts", |event| {
        event.run_id == second_run.id && event.status == RunStatus::Running
    })
    .await;
    let first_row = env.store.run_get(first_run.id).await.unwrap().unwrap();
    assert_eq!(
        first_row.status,
        RunStatus::Running,
        "the first run's end is not written yet"
    );
    let second_row = env.store.run_get(second_run.id).await.unwrap().unwrap();
    assert!(
        second_row.started_at.is_some(),
        "the second run's start is committed: {second_row:?}"
    );

    lock.rollback().await.unwrap();
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let event = wait_for(&mut events, "both runs end", is(RunStatus::Succeeded)).await;
        ended.push(event.run_id);
    }
    ended.sort_unstable();
    let mut expected = vec![first_run.id, second_run.id];
    expected.sort_unstable();
    assert_eq!(ended, expected);
    handle.shutdown(Duration::from_secs(5)).await;
    other.close().await.unwrap();
}
