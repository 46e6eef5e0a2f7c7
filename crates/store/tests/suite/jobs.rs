//! Jobs: create, version, pause, delete, list, and what the scheduler reads.

use store::{
    JobEnable, JobFilter, JobRef, JobSpec, JobUpdate, NewJob, Overlap, StoreError, Trigger,
};

use crate::{
    fixtures::{at, create_job, queue_run, scheduled_spec},
    harness::TestDb,
};

store_tests! {
    a_created_job_reads_back_by_id_and_by_name,
    job_names_are_unique,
    an_update_makes_a_new_version_and_keeps_the_old_ones,
    an_update_based_on_a_stale_version_conflicts_and_changes_nothing,
    updating_or_pausing_a_missing_job_is_not_found,
    pause_and_resume_change_no_version_and_clear_the_next_fire_instant,
    jobs_that_do_not_fire_keep_no_next_fire_instant,
    deleting_a_job_deletes_its_versions_runs_and_logs,
    every_job_change_is_audited,
    only_enabled_scheduled_jobs_are_scheduled,
    invalid_specs_are_refused_with_the_field,
    job_lists_page_by_name_with_filters,
    a_job_shows_its_newest_run,
    jobs_carry_tags_and_list_by_one,
    jobs_carry_an_owner_and_list_by_it,
}

/// A new job of `spec`, by the actor `x`, with no next fire instant.
fn new_job(spec: JobSpec) -> NewJob {
    NewJob {
        spec,
        next_fire_at: None,
        actor: "x".into(),
    }
}

/// Creates a job of each spec.
async fn create_all(db: &TestDb, specs: impl IntoIterator<Item = JobSpec>) {
    for spec in specs {
        db.store.job_create(&new_job(spec)).await.unwrap();
    }
}

/// The names of a page's jobs, in its order.
fn names(page: store::Page<store::Job>) -> Vec<String> {
    page.items.into_iter().map(|j| j.spec.name).collect()
}

async fn jobs_carry_an_owner_and_list_by_it(db: TestDb) {
    let owned = |name: &str, owner: &str| JobSpec {
        owner: owner.to_owned(),
        ..scheduled_spec(name)
    };
    create_all(
        &db,
        [
            owned("sync", "Ada Lovelace <ada@example.com>"),
            owned("report", "ada"),
            owned("cleanup", "Grace"),
            owned("orphan", ""),
        ],
    )
    .await;
    let by_owner = |owner: &str| JobFilter {
        owner: Some(owner.to_owned()),
        ..JobFilter::default()
    };
    // Contains, case-insensitive: a name finds the jobs its e-mail owns too.
    assert_eq!(
        names(db.store.job_list(&by_owner("ADA")).await.unwrap()),
        ["report", "sync"]
    );
    assert_eq!(db.store.job_count(&by_owner("ada")).await.unwrap(), 2);
    assert_eq!(
        db.store
            .job_count(&JobFilter {
                last_run: Some(store::LastRunFilter::Never),
                ..by_owner("grace")
            })
            .await
            .unwrap(),
        1
    );
    // An empty filter is no filter.
    assert_eq!(db.store.job_count(&by_owner("")).await.unwrap(), 4);
    let read = db
        .store
        .job_get(&JobRef::Name("sync".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.spec.owner, "Ada Lovelace <ada@example.com>");

    // A new version's owner replaces the old one in the filter too, and the
    // old version keeps its owner.
    db.store
        .job_update(&JobUpdate {
            id: read.id,
            spec: owned("sync", "Grace"),
            expected_version: None,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        names(db.store.job_list(&by_owner("grace")).await.unwrap()),
        ["cleanup", "sync"]
    );
    let versions = db.store.job_versions(read.id).await.unwrap();
    assert!(
        versions
            .iter()
            .any(|v| v.version == 1 && v.spec.owner.starts_with("Ada")),
        "{versions:?}"
    );

    for bad in [
        "two\nlines".to_owned(),
        "x".repeat(store::MAX_OWNER_CHARS + 1),
    ] {
        let refused = db
            .store
            .job_create(&new_job(owned("bad-owner", &bad)))
            .await;
        assert!(
            matches!(&refused, Err(StoreError::InvalidSpec(problem)) if problem.field == "owner"),
            "{bad:?}: {refused:?}"
        );
    }
    assert!(
        db.store
            .job_get(&JobRef::Name("bad-owner".into()))
            .await
            .unwrap()
            .is_none(),
        "a refused job is not stored"
    );
}

async fn jobs_carry_tags_and_list_by_one(db: TestDb) {
    let tagged = |name: &str, tags: &[&str]| {
        let mut spec = scheduled_spec(name);
        spec.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        spec
    };
    create_all(
        &db,
        [
            tagged("billing-sync", &["billing", "nightly"]),
            tagged("billing-report", &["billing"]),
            tagged("cleanup", &["nightly", "bill"]),
            tagged("untagged", &[]),
        ],
    )
    .await;
    let by_tag = |tag: &str| JobFilter {
        tag: Some(tag.to_owned()),
        ..JobFilter::default()
    };
    // Whole tags only: `bill` is not a prefix match of `billing`.
    assert_eq!(
        names(db.store.job_list(&by_tag("billing")).await.unwrap()),
        ["billing-report", "billing-sync"]
    );
    assert_eq!(
        names(db.store.job_list(&by_tag("bill")).await.unwrap()),
        ["cleanup"]
    );
    assert_eq!(db.store.job_count(&by_tag("nightly")).await.unwrap(), 2);
    assert_eq!(
        db.store
            .job_count(&JobFilter {
                last_run: Some(store::LastRunFilter::Never),
                ..by_tag("nightly")
            })
            .await
            .unwrap(),
        2
    );
    assert!(
        db.store
            .job_list(&by_tag("none"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let read = db
        .store
        .job_get(&JobRef::Name("billing-sync".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.spec.tags, ["billing", "nightly"]);

    // A new version's tags replace the old ones in the filter too.
    db.store
        .job_update(&JobUpdate {
            id: read.id,
            spec: tagged("billing-sync", &["finance"]),
            expected_version: None,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        names(db.store.job_list(&by_tag("billing")).await.unwrap()),
        ["billing-report"]
    );
    assert_eq!(
        names(db.store.job_list(&by_tag("finance")).await.unwrap()),
        ["billing-sync"]
    );

    for bad in [&["a,b"][..], &["has space"], &[""], &["x", "x"]] {
        let refused = db.store.job_create(&new_job(tagged("bad-tags", bad))).await;
        assert!(
            matches!(&refused, Err(StoreError::InvalidSpec(problem)) if problem.field == "tags"),
            "{bad:?}: {refused:?}"
        );
    }
}

async fn a_created_job_reads_back_by_id_and_by_name(db: TestDb) {
    let mut spec = scheduled_spec("nightly-sync");
    spec.description = "syncs things".into();
    spec.params = serde_json::json!({"project": "OPS", "nested": {"a": [1, 2.5, "x"]}});
    spec.overlap = Overlap::QueueOne;
    let job = db
        .store
        .job_create(&NewJob {
            spec: spec.clone(),
            next_fire_at: Some(at(1)),
            actor: "alice".into(),
        })
        .await
        .unwrap();
    assert_eq!(job.version, 1);
    assert_eq!(job.spec, spec);
    assert_eq!(job.next_fire_at, Some(at(1)));
    assert_eq!(job.created_at, at(0));
    assert_eq!(job.last_run, None);
    let by_id = db.store.job_get(&JobRef::Id(job.id)).await.unwrap();
    let by_name = db
        .store
        .job_get(&JobRef::Name("nightly-sync".into()))
        .await
        .unwrap();
    assert_eq!(by_id.as_ref(), Some(&job));
    assert_eq!(by_name.as_ref(), Some(&job));
    assert_eq!(
        db.store.job_get(&JobRef::Id(job.id + 1)).await.unwrap(),
        None
    );
    assert_eq!(
        db.store
            .job_get(&JobRef::Name("other".into()))
            .await
            .unwrap(),
        None
    );
}

async fn job_names_are_unique(db: TestDb) {
    create_job(&db.store, "dup").await;
    let error = db
        .store
        .job_create(&NewJob {
            spec: scheduled_spec("dup"),
            next_fire_at: None,
            actor: "bob".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NameTaken { ref name } if name == "dup"),
        "{error}"
    );
    let other = create_job(&db.store, "other").await;
    let error = db
        .store
        .job_update(&JobUpdate {
            id: other.id,
            spec: scheduled_spec("dup"),
            expected_version: None,
            next_fire_at: None,
            actor: "bob".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NameTaken { .. }), "{error}");
    assert_eq!(db.store.job_versions(other.id).await.unwrap().len(), 1);
}

async fn an_update_makes_a_new_version_and_keeps_the_old_ones(db: TestDb) {
    let job = create_job(&db.store, "versioned").await;
    db.clock.set(at(60));
    let mut spec = scheduled_spec("renamed");
    spec.script = "return 2".into();
    let updated = db
        .store
        .job_update(&JobUpdate {
            id: job.id,
            spec: spec.clone(),
            expected_version: Some(1),
            next_fire_at: Some(at(61)),
            actor: "carol".into(),
        })
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.spec, spec);
    assert_eq!(updated.next_fire_at, Some(at(61)));
    assert_eq!(updated.created_at, at(0));
    assert_eq!(updated.updated_at, at(60));
    let versions = db.store.job_versions(job.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(versions[1].spec.script, "return 1");
    assert_eq!(versions[1].actor, "tester");
    assert_eq!(versions[0].actor, "carol");
    assert_eq!(versions[0].created_at, at(60));
    let first = db.store.job_version(job.id, 1).await.unwrap().unwrap();
    assert_eq!(first.spec.name, "versioned");
    assert_eq!(db.store.job_version(job.id, 3).await.unwrap(), None);
}

async fn an_update_based_on_a_stale_version_conflicts_and_changes_nothing(db: TestDb) {
    let job = create_job(&db.store, "stale").await;
    let update = |expected| JobUpdate {
        id: job.id,
        spec: scheduled_spec("stale"),
        expected_version: expected,
        next_fire_at: None,
        actor: "x".into(),
    };
    db.store.job_update(&update(Some(1))).await.unwrap();
    let error = db.store.job_update(&update(Some(1))).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(db.store.job_versions(job.id).await.unwrap().len(), 2);
    // Without an expectation, the last writer wins.
    assert_eq!(db.store.job_update(&update(None)).await.unwrap().version, 3);
}

async fn updating_or_pausing_a_missing_job_is_not_found(db: TestDb) {
    let error = db
        .store
        .job_update(&JobUpdate {
            id: 999,
            spec: scheduled_spec("ghost"),
            expected_version: None,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::JobNotFound { .. }), "{error}");
    let error = db
        .store
        .job_set_enabled(&JobEnable {
            id: 999,
            enabled: false,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::JobNotFound { .. }), "{error}");
    assert!(!db.store.job_delete(999, "x").await.unwrap());
}

async fn pause_and_resume_change_no_version_and_clear_the_next_fire_instant(db: TestDb) {
    let job = create_job(&db.store, "pausable").await;
    let pause = JobEnable {
        id: job.id,
        enabled: false,
        next_fire_at: Some(at(5)),
        actor: "dave".into(),
    };
    let paused = db.store.job_set_enabled(&pause).await.unwrap();
    assert!(!paused.spec.enabled);
    assert_eq!(paused.version, 1);
    assert_eq!(paused.next_fire_at, None, "a paused job does not fire");
    assert!(db.store.jobs_scheduled().await.unwrap().is_empty());
    let resumed = db
        .store
        .job_set_enabled(&JobEnable {
            enabled: true,
            ..pause
        })
        .await
        .unwrap();
    assert!(resumed.spec.enabled);
    assert_eq!(resumed.version, 1);
    assert_eq!(resumed.next_fire_at, Some(at(5)));
    assert_eq!(db.store.job_versions(job.id).await.unwrap().len(), 1);
}

async fn jobs_that_do_not_fire_keep_no_next_fire_instant(db: TestDb) {
    let manual = db
        .store
        .job_create(&NewJob {
            spec: JobSpec::new("manual-only", "return 1"),
            next_fire_at: Some(at(1)),
            actor: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(manual.next_fire_at, None);
    let mut disabled = scheduled_spec("disabled");
    disabled.enabled = false;
    let disabled = db
        .store
        .job_create(&NewJob {
            spec: disabled,
            next_fire_at: Some(at(1)),
            actor: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(disabled.next_fire_at, None);
    // Resuming a job without a schedule still gives it no instant.
    let resumed = db
        .store
        .job_set_enabled(&JobEnable {
            id: manual.id,
            enabled: true,
            next_fire_at: Some(at(3)),
            actor: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(resumed.next_fire_at, None);
}

async fn deleting_a_job_deletes_its_versions_runs_and_logs(db: TestDb) {
    let job = create_job(&db.store, "doomed").await;
    let keep = create_job(&db.store, "kept").await;
    let run = queue_run(&db.store, job.id).await;
    let kept_run = queue_run(&db.store, keep.id).await;
    assert!(db.store.job_delete(job.id, "erin").await.unwrap());
    assert_eq!(db.store.job_get(&JobRef::Id(job.id)).await.unwrap(), None);
    assert!(db.store.job_versions(job.id).await.unwrap().is_empty());
    assert_eq!(db.store.run_get(run.id).await.unwrap(), None);
    assert!(db.store.run_get(kept_run.id).await.unwrap().is_some());
    assert!(!db.store.job_delete(job.id, "erin").await.unwrap());
    // The name is free again.
    create_job(&db.store, "doomed").await;
}

async fn every_job_change_is_audited(db: TestDb) {
    let job = create_job(&db.store, "audited").await;
    db.clock.set(at(10));
    db.store
        .job_update(&JobUpdate {
            id: job.id,
            spec: scheduled_spec("audited"),
            expected_version: None,
            next_fire_at: None,
            actor: "frank".into(),
        })
        .await
        .unwrap();
    let change = |enabled| JobEnable {
        id: job.id,
        enabled,
        next_fire_at: None,
        actor: "gina".into(),
    };
    db.store.job_set_enabled(&change(false)).await.unwrap();
    db.store.job_set_enabled(&change(true)).await.unwrap();
    db.store.job_delete(job.id, "hank").await.unwrap();
    let page = db.store.audit_list(None, 0).await.unwrap();
    let entries: Vec<(&str, &str)> = page
        .items
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("hank", "job.delete"),
            ("gina", "job.resume"),
            ("gina", "job.pause"),
            ("frank", "job.update"),
            ("tester", "job.create"),
        ]
    );
    let target = format!("job:{}", job.id);
    assert!(page.items.iter().all(|e| e.target == target));
    assert_eq!(page.items[3].detail["version"], 2);
    assert_eq!(page.items[3].at, at(10));
    assert_eq!(page.items[0].detail["name"], "audited");
}

async fn only_enabled_scheduled_jobs_are_scheduled(db: TestDb) {
    let mut spec = scheduled_spec("tz-job");
    spec.schedule.as_mut().unwrap().timezone = "Europe/Berlin".into();
    spec.overlap = Overlap::Replace;
    spec.misfire = store::Misfire::RunAll;
    let scheduled = db
        .store
        .job_create(&NewJob {
            spec,
            next_fire_at: Some(at(7)),
            actor: "x".into(),
        })
        .await
        .unwrap();
    db.store
        .job_create(&NewJob {
            spec: JobSpec::new("unscheduled", ""),
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let mut disabled = scheduled_spec("disabled");
    disabled.enabled = false;
    db.store
        .job_create(&NewJob {
            spec: disabled,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();
    let all = db.store.jobs_scheduled().await.unwrap();
    assert_eq!(all.len(), 1);
    let job = &all[0];
    assert_eq!(job.id, scheduled.id);
    assert_eq!(job.schedule.timezone, "Europe/Berlin");
    assert_eq!(job.next_fire_at, Some(at(7)));
    assert_eq!(job.overlap, Overlap::Replace);
    assert_eq!(job.misfire, store::Misfire::RunAll);
    assert_eq!(
        db.store.job_scheduled(scheduled.id).await.unwrap().as_ref(),
        Some(job)
    );
    assert_eq!(
        db.store.job_scheduled(scheduled.id + 1).await.unwrap(),
        None
    );
}

async fn invalid_specs_are_refused_with_the_field(db: TestDb) {
    let mut spec = scheduled_spec("bad");
    spec.timeout_seconds = 100_000;
    let error = db
        .store
        .job_create(&NewJob {
            spec,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap_err();
    match error {
        StoreError::InvalidSpec(problem) => assert_eq!(problem.field, "timeout_seconds"),
        other => panic!("{other}"),
    }
    assert!(
        db.store
            .job_list(&JobFilter::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn job_lists_page_by_name_with_filters(db: TestDb) {
    // Names in an order that differs from creation order.
    let names: Vec<String> = (0..23)
        .map(|i| format!("job-{:02}", (i * 7) % 23))
        .collect();
    for name in &names {
        create_job(&db.store, name).await;
    }
    let mut special = scheduled_spec("Zeta-Special");
    special.enabled = false;
    db.store
        .job_create(&NewJob {
            spec: special,
            next_fire_at: None,
            actor: "x".into(),
        })
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = db
            .store
            .job_list(&JobFilter {
                cursor: cursor.clone(),
                limit: 5,
                ..JobFilter::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 5);
        seen.extend(page.items.into_iter().map(|j| j.spec.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected = names.clone();
    expected.push("Zeta-Special".into());
    expected.sort();
    assert_eq!(seen, expected, "code point order: upper case first");

    let search = db
        .store
        .job_list(&JobFilter {
            search: Some("SPECIAL".into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(search.items.len(), 1);
    assert_eq!(search.next_cursor, None);
    let paused = db
        .store
        .job_list(&JobFilter {
            enabled: Some(false),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(paused.items.len(), 1);
    assert_eq!(paused.items[0].spec.name, "Zeta-Special");
    let enabled = db
        .store
        .job_list(&JobFilter {
            enabled: Some(true),
            limit: 500,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(enabled.items.len(), 23);
    let error = db
        .store
        .job_list(&JobFilter {
            cursor: Some("not-a-cursor".into()),
            ..JobFilter::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidCursor), "{error}");
}

async fn a_job_shows_its_newest_run(db: TestDb) {
    let job = create_job(&db.store, "with-runs").await;
    queue_run(&db.store, job.id).await;
    let newest = queue_run(&db.store, job.id).await;
    let read = db
        .store
        .job_get(&JobRef::Id(job.id))
        .await
        .unwrap()
        .unwrap();
    let last = read.last_run.unwrap();
    assert_eq!(last.id, newest.id);
    assert_eq!(last.status, store::RunStatus::Queued);
    assert_eq!(last.trigger, Trigger::Manual);
    let listed = db.store.job_list(&JobFilter::default()).await.unwrap();
    assert_eq!(listed.items[0].last_run.as_ref().unwrap().id, newest.id);
}
