//! Issue 13 point 10: ids are never reused. On SQLite a table without
//! AUTOINCREMENT gave a new row the largest id + 1, so deleting the newest
//! job handed its id (and its run's id) to the next one; migration 0010
//! rebuilds those tables. PostgreSQL's identity columns never went back.

use store::{AlertEvent, ChannelKind, ChannelSpec, NewUser, Role};

use crate::{
    fixtures::{create_job, queue_run},
    harness::TestDb,
};

store_tests! {
    a_deleted_jobs_and_runs_ids_are_not_given_again,
    a_deleted_users_and_channels_ids_are_not_given_again,
}

async fn a_deleted_jobs_and_runs_ids_are_not_given_again(db: TestDb) {
    create_job(&db.store, "first").await;
    let newest = create_job(&db.store, "newest").await;
    let newest_run = queue_run(&db.store, newest.id).await;
    assert!(db.store.job_delete(newest.id, "tester").await.unwrap());

    let next = create_job(&db.store, "next").await;
    assert!(next.id > newest.id, "job id {} given again", next.id);
    let next_run = queue_run(&db.store, next.id).await;
    assert!(
        next_run.id > newest_run.id,
        "run id {} given again",
        next_run.id
    );

    // Also after a restart: the high-water mark is stored, not remembered.
    assert!(db.store.job_delete(next.id, "tester").await.unwrap());
    let store = db.reopen().await;
    let after_restart = create_job(&store, "after-restart").await;
    assert!(
        after_restart.id > next.id,
        "job id {} given again",
        after_restart.id
    );
    let run = queue_run(&store, after_restart.id).await;
    assert!(run.id > next_run.id, "run id {} given again", run.id);
}

async fn a_deleted_users_and_channels_ids_are_not_given_again(db: TestDb) {
    let user = |name: &str| NewUser {
        name: name.into(),
        role: Role::Viewer,
        password: "correct horse battery".into(),
    };
    db.store.user_create(&user("first")).await.unwrap();
    let newest = db.store.user_create(&user("newest")).await.unwrap();
    assert!(db.store.user_delete("newest").await.unwrap());
    let next = db.store.user_create(&user("next")).await.unwrap();
    assert!(next.id > newest.id, "user id {} given again", next.id);

    let channel = |name: &str| ChannelSpec {
        name: name.into(),
        kind: ChannelKind::Webhook,
        url: "https://hooks.example/alerts".into(),
        events: vec![AlertEvent::Failed],
        enabled: true,
    };
    db.store.channel_upsert(&channel("first")).await.unwrap();
    let newest = db.store.channel_upsert(&channel("newest")).await.unwrap();
    assert!(db.store.channel_delete("newest").await.unwrap());
    let next = db.store.channel_upsert(&channel("next")).await.unwrap();
    assert!(next.id > newest.id, "channel id {} given again", next.id);
}

/// The rebuild keeps what is there: applied to a database with rows in
/// the rebuilt tables (as an upgrade from 0009 does), every id and row
/// stays, and the foreign keys still hold and still cascade.
#[tokio::test]
async fn sqlite_the_rebuild_keeps_every_row_id_and_reference() {
    crate::harness::on_sqlite(|db: TestDb| async move {
        let job = create_job(&db.store, "kept").await;
        let run = queue_run(&db.store, job.id).await;
        let user = db
            .store
            .user_create(&NewUser {
                name: "ada".into(),
                role: Role::Editor,
                password: "correct horse battery".into(),
            })
            .await
            .unwrap();
        let channel = db
            .store
            .channel_upsert(&ChannelSpec {
                name: "ops".into(),
                kind: ChannelKind::Webhook,
                url: "https://hooks.example/alerts".into(),
                events: vec![AlertEvent::Failed],
                enabled: true,
            })
            .await
            .unwrap();

        // 0010 again, then every later migration again, as an upgrade from
        // 0009 would apply them (a later one may add a column 0010 drops).
        let rebuild = include_str!("../../migrations/sqlite/0010_ids_are_never_reused.sql");
        let later = migrations_after(10);
        db.execute_raw(
            &format!("PRAGMA foreign_keys = OFF; BEGIN; {rebuild} {later} COMMIT;"),
            "",
        )
        .await;

        let store = db.reopen().await;
        let kept = store
            .run_get(run.id)
            .await
            .unwrap()
            .expect("the run is kept");
        assert_eq!(kept.job_id, job.id);
        assert_eq!(store.user_get("ada").await.unwrap().unwrap().id, user.id);
        assert_eq!(
            store.channel_get("ops").await.unwrap().unwrap().id,
            channel.id
        );
        // The children still reference the rebuilt parent: deleting cascades.
        assert!(store.job_delete(job.id, "tester").await.unwrap());
        assert!(
            store.run_get(run.id).await.unwrap().is_none(),
            "the run went with its job"
        );
        let next = create_job(&store, "next").await;
        assert!(next.id > job.id);
    })
    .await;
}

/// The SQLite migrations numbered above `version`, in order, as one script.
fn migrations_after(version: u32) -> String {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let number: u32 = name.get(..4)?.parse().ok()?;
            (number > version).then_some((number, path))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|(_, path)| std::fs::read_to_string(path).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}
