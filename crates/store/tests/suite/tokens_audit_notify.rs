//! API tokens, the audit log and notification channels and deliveries.

use std::time::Duration;

use store::{
    AlertEvent, AuditEntry, AuditFilter, ChannelKind, ChannelSpec, DeliveryOutcome, DeliveryStatus,
    NewDelivery, NewToken, Role, SecretKey, StoreError,
};

use crate::{
    fixtures::{NODE, at, create_job, finish_as, running_run},
    harness::TestDb,
};

store_tests! {
    a_token_verifies_by_its_secret_which_is_never_stored,
    a_given_secret_becomes_the_token_and_short_ones_are_refused,
    revoked_tokens_verify_as_nothing,
    token_use_is_recorded_at_most_once_a_minute,
    the_audit_log_pages_newest_first,
    the_audit_log_filters_by_actor_and_target_and_pages,
    old_audit_entries_are_pruned_in_batches,
    runs_queued_on_request_are_audited_with_them,
    channels_are_upserted_by_name,
    channel_urls_are_sealed_at_rest,
    deliveries_are_enqueued_once_and_claimed_by_one_sender,
    delivery_outcomes_are_recorded_once,
    runs_ended_with_an_alert_and_no_delivery_are_found_by_end_and_id,
}

async fn a_token_verifies_by_its_secret_which_is_never_stored(db: TestDb) {
    assert_eq!(db.store.tokens_live_count().await.unwrap(), 0);
    let (token, secret) = db
        .store
        .token_create(&NewToken {
            name: "ci".into(),
            role: Role::Editor,
            secret: None,
        })
        .await
        .unwrap();
    assert!(secret.starts_with(store::TOKEN_PREFIX));
    assert_eq!(token.role, Role::Editor);
    assert_eq!(token.created_at, at(0));
    let verified = db
        .store
        .token_verify(&secret, at(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(verified.id, token.id);
    assert_eq!(verified.role, Role::Editor);
    assert_eq!(
        db.store.token_verify("cw_wrong", at(1)).await.unwrap(),
        None
    );
    assert_eq!(db.store.tokens_live_count().await.unwrap(), 1);
    // The schema holds nothing but a 32-byte hash.
    let check = "INSERT INTO api_tokens (name, role, token_hash, created_at_ms) VALUES ('x', 'viewer', X'00', 0)";
    let check_pg = "INSERT INTO api_tokens (name, role, token_hash, created_at_ms) VALUES ('x', 'viewer', '\\x00', 0)";
    let error = db.try_execute_raw(check, check_pg).await.unwrap_err();
    assert!(
        error.to_string().contains("api_tokens_hash_is_sha256"),
        "{error}"
    );
}

async fn a_given_secret_becomes_the_token_and_short_ones_are_refused(db: TestDb) {
    let secret = "a-bootstrap-admin-token-from-env";
    let (token, returned) = db
        .store
        .token_create(&NewToken {
            name: "admin".into(),
            role: Role::Admin,
            secret: Some(secret.into()),
        })
        .await
        .unwrap();
    assert_eq!(returned, secret);
    assert_eq!(
        db.store
            .token_verify(secret, at(0))
            .await
            .unwrap()
            .unwrap()
            .id,
        token.id
    );
    let error = db
        .store
        .token_create(&NewToken {
            name: "short".into(),
            role: Role::Viewer,
            secret: Some("short".into()),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
    let error = db
        .store
        .token_create(&NewToken {
            name: "again".into(),
            role: Role::Viewer,
            secret: Some(secret.into()),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
}

async fn revoked_tokens_verify_as_nothing(db: TestDb) {
    let (token, secret) = db
        .store
        .token_create(&NewToken {
            name: "old".into(),
            role: Role::Viewer,
            secret: None,
        })
        .await
        .unwrap();
    db.clock.set(at(9));
    assert!(db.store.token_revoke(token.id).await.unwrap());
    assert!(!db.store.token_revoke(token.id).await.unwrap());
    assert_eq!(db.store.token_verify(&secret, at(10)).await.unwrap(), None);
    let listed = db.store.token_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(at(9)));
    assert_eq!(db.store.tokens_live_count().await.unwrap(), 0);
}

async fn token_use_is_recorded_at_most_once_a_minute(db: TestDb) {
    let (_, secret) = db
        .store
        .token_create(&NewToken {
            name: "busy".into(),
            role: Role::Viewer,
            secret: None,
        })
        .await
        .unwrap();
    let last_used = |db: &TestDb| {
        let store = db.store.clone();
        async move { store.token_list().await.unwrap()[0].last_used_at }
    };
    assert_eq!(last_used(&db).await, None);
    db.store.token_verify(&secret, at(10)).await.unwrap();
    assert_eq!(last_used(&db).await, Some(at(10)));
    db.store.token_verify(&secret, at(30)).await.unwrap();
    assert_eq!(last_used(&db).await, Some(at(10)));
    db.store.token_verify(&secret, at(70)).await.unwrap();
    assert_eq!(last_used(&db).await, Some(at(70)));
}

async fn the_audit_log_pages_newest_first(db: TestDb) {
    for i in 0..5 {
        db.clock.set(at(i));
        let record = db
            .store
            .audit_append(&AuditEntry {
                actor: format!("user-{i}"),
                action: "token.create".into(),
                target: format!("token:{i}"),
                detail: serde_json::json!({"i": i}),
            })
            .await
            .unwrap();
        assert_eq!(record.at, at(i));
    }
    let first = db.store.audit_list(None, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].actor, "user-4");
    let second = db
        .store
        .audit_list(first.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(second.items[0].actor, "user-2");
    assert_eq!(second.items[1].detail, serde_json::json!({"i": 1}));
    let third = db
        .store
        .audit_list(second.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(third.items.len(), 1);
    assert_eq!(third.next_cursor, None);
    assert!(matches!(
        db.store.audit_list(Some("bogus"), 2).await,
        Err(StoreError::InvalidCursor)
    ));
}

async fn the_audit_log_filters_by_actor_and_target_and_pages(db: TestDb) {
    for i in 0..6 {
        db.store
            .audit_append(&AuditEntry {
                actor: if i % 2 == 0 { "ana" } else { "bo" }.into(),
                action: "job.update".into(),
                target: format!("job:{}", i % 3),
                detail: serde_json::json!({"i": i}),
            })
            .await
            .unwrap();
    }
    let search = |actor: Option<&str>, target: Option<&str>| AuditFilter {
        actor: actor.map(str::to_owned),
        target: target.map(str::to_owned),
    };
    let details = |page: &store::Page<store::AuditRecord>| -> Vec<i64> {
        page.items
            .iter()
            .map(|e| e.detail["i"].as_i64().unwrap())
            .collect()
    };
    let by_ana = db
        .store
        .audit_search(&search(Some("ana"), None), None, 2)
        .await
        .unwrap();
    assert_eq!(details(&by_ana), [4, 2]);
    let rest = db
        .store
        .audit_search(&search(Some("ana"), None), by_ana.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(details(&rest), [0]);
    assert_eq!(rest.next_cursor, None);
    let on_job_1 = db
        .store
        .audit_search(&search(None, Some("job:1")), None, 10)
        .await
        .unwrap();
    assert_eq!(details(&on_job_1), [4, 1]);
    let both = db
        .store
        .audit_search(&search(Some("bo"), Some("job:1")), None, 10)
        .await
        .unwrap();
    assert_eq!(details(&both), [1]);
    let nobody = db
        .store
        .audit_search(&search(Some("nobody"), None), None, 10)
        .await
        .unwrap();
    assert!(nobody.items.is_empty());
    let all = db
        .store
        .audit_search(&AuditFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(details(&all), [5, 4, 3, 2, 1, 0]);
}

fn slack() -> ChannelSpec {
    ChannelSpec {
        name: "ops-slack".into(),
        kind: ChannelKind::Slack,
        url: "https://hooks.slack.example/T000/B000/XXX".into(),
        events: vec![AlertEvent::Failed, AlertEvent::Recovered],
        enabled: true,
    }
}

async fn channels_are_upserted_by_name(db: TestDb) {
    let created = db.store.channel_upsert(&slack()).await.unwrap();
    assert_eq!(created.spec, slack());
    db.clock.set(at(5));
    let mut changed = slack();
    changed.events = vec![AlertEvent::TimedOut];
    changed.enabled = false;
    let updated = db.store.channel_upsert(&changed).await.unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.created_at, at(0));
    assert_eq!(updated.updated_at, at(5));
    let mut webhook = slack();
    webhook.name = "a-webhook".into();
    webhook.kind = ChannelKind::Webhook;
    db.store.channel_upsert(&webhook).await.unwrap();
    let names: Vec<String> = db
        .store
        .channel_list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.spec.name)
        .collect();
    assert_eq!(names, ["a-webhook", "ops-slack"]);
    assert!(db.store.channel_delete("a-webhook").await.unwrap());
    assert!(!db.store.channel_delete("a-webhook").await.unwrap());
    let mut unnamed = slack();
    unnamed.name = String::new();
    assert!(matches!(
        db.store.channel_upsert(&unnamed).await,
        Err(StoreError::Invalid { .. })
    ));
}

async fn deliveries_are_enqueued_once_and_claimed_by_one_sender(db: TestDb) {
    let channel = db.store.channel_upsert(&slack()).await.unwrap();
    let delivery = |run_id| NewDelivery {
        channel_id: channel.id,
        job_id: 1,
        run_id,
        event: AlertEvent::Failed,
        payload: serde_json::json!({"text": format!("run {run_id} failed")}),
    };
    assert_eq!(
        db.store
            .deliveries_enqueue(&[delivery(1), delivery(2)], at(0))
            .await
            .unwrap(),
        2
    );
    // Another node seeing run 1 end adds nothing.
    assert_eq!(
        db.store
            .deliveries_enqueue(&[delivery(1)], at(0))
            .await
            .unwrap(),
        0
    );
    let other_node = db.reopen().await;
    let claimed = db
        .store
        .deliveries_claim_due(at(1), at(61), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].payload["text"], "run 1 failed");
    let rest = other_node
        .deliveries_claim_due(at(1), at(61), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, claimed[0].id);
    assert!(
        db.store
            .deliveries_claim_due(at(60), at(120), 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed deliveries are invisible until the claim window ends"
    );
    // A sender that died: its deliveries come back after the window.
    let again = db
        .store
        .deliveries_claim_due(at(61), at(121), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|d| d.attempts == 2));
}

async fn delivery_outcomes_are_recorded_once(db: TestDb) {
    let channel = db.store.channel_upsert(&slack()).await.unwrap();
    db.store
        .deliveries_enqueue(
            &[NewDelivery {
                channel_id: channel.id,
                job_id: 1,
                run_id: 9,
                event: AlertEvent::Missed,
                payload: serde_json::json!({}),
            }],
            at(0),
        )
        .await
        .unwrap();
    let id = db
        .store
        .deliveries_claim_due(at(0), at(60), 10)
        .await
        .unwrap()[0]
        .id;
    let retry = DeliveryOutcome::Retry {
        next_attempt_at: at(0) + Duration::from_secs(5),
        error: "HTTP 503".into(),
    };
    assert!(
        db.store
            .delivery_record_if_pending(id, &retry, at(1))
            .await
            .unwrap()
    );
    let listed = db.store.deliveries_list(None, 10).await.unwrap().items;
    assert_eq!(listed[0].status, DeliveryStatus::Pending);
    assert_eq!(listed[0].last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(listed[0].next_attempt_at, Some(at(5)));
    assert_eq!(
        db.store
            .deliveries_claim_due(at(5), at(65), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        db.store
            .delivery_record_if_pending(id, &DeliveryOutcome::Delivered, at(6))
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .delivery_record_if_pending(
                id,
                &DeliveryOutcome::GaveUp {
                    error: "late".into()
                },
                at(7)
            )
            .await
            .unwrap()
    );
    let listed = db.store.deliveries_list(None, 10).await.unwrap().items;
    assert_eq!(listed[0].status, DeliveryStatus::Delivered);
    assert_eq!(listed[0].last_error.as_deref(), Some("HTTP 503"), "kept");
    assert_eq!(listed[0].next_attempt_at, None);
    assert_eq!(listed[0].attempts, 2);
    assert!(
        db.store
            .deliveries_claim_due(at(1000), at(1060), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn old_audit_entries_are_pruned_in_batches(db: TestDb) {
    for i in 0..5 {
        db.clock.set(at(i));
        db.store
            .audit_append(&AuditEntry {
                actor: format!("user-{i}"),
                action: "session.sign_in_failed".into(),
                target: "session".into(),
                detail: serde_json::json!({}),
            })
            .await
            .unwrap();
    }
    // Entries before at(3): user-0, user-1, user-2, deleted two at a time.
    assert_eq!(db.store.audit_prune(at(3), 2).await.unwrap(), 2);
    assert_eq!(db.store.audit_prune(at(3), 2).await.unwrap(), 1);
    assert_eq!(db.store.audit_prune(at(3), 2).await.unwrap(), 0);
    let left = db.store.audit_list(None, 10).await.unwrap();
    let actors: Vec<&str> = left.items.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors, ["user-4", "user-3"]);
}

async fn channel_urls_are_sealed_at_rest(db: TestDb) {
    let created = db.store.channel_upsert(&slack()).await.unwrap();
    assert_eq!(created.spec.url, slack().url);
    assert_eq!(
        db.reopen().await.channel_list().await.unwrap()[0].spec,
        slack()
    );
    // Without the key the stored text is of no use, and another key cannot open it.
    let bare = store::Store::open(&db.url()).await.unwrap();
    assert!(bare.channel_list().await.is_err());
    let other = db.reopen_with_key(SecretKey::generate()).await;
    assert!(other.channel_list().await.is_err());
    // A URL stored before sealing (or without a key) still reads as written.
    db.execute_raw(
        "UPDATE notification_channels SET url = 'https://hooks.example/plain'",
        "UPDATE notification_channels SET url = 'https://hooks.example/plain'",
    )
    .await;
    assert_eq!(
        db.store.channel_list().await.unwrap()[0].spec.url,
        "https://hooks.example/plain"
    );
}

/// Runs queued on request, many at once: each has its audit entry (target
/// `run:<id>`, its own actor and detail) and is queued as any run, in the
/// order asked; a request for a job that does not exist, or an invalid
/// one, queues nothing and holds back none of the others.
async fn runs_queued_on_request_are_audited_with_them(db: TestDb) {
    let first = create_job(&db.store, "audited").await;
    let second = create_job(&db.store, "audited-too").await;
    let asked = |job_id: i64, actor: &str, attempt: u32| store::RequestedRun {
        new: store::NewRun {
            attempt,
            params: Some(serde_json::json!({"who": actor})),
            ..store::NewRun::new(job_id, store::Trigger::Api, at(0))
        },
        audit: store::RunAudit {
            actor: actor.into(),
            action: "run.start".into(),
            detail: serde_json::json!({"job_id": job_id, "by": actor}),
        },
    };
    let requested = [
        asked(second.id, "ana", 1),
        asked(424_242, "ghost", 1),
        asked(first.id, "bo", 1),
        asked(first.id, "invalid", 0),
        asked(second.id, "cy", 1),
    ];
    let done = db.store.runs_insert_requested(&requested).await.unwrap();
    done.audited.unwrap();
    assert_eq!(done.runs.len(), requested.len());
    assert!(
        matches!(&done.runs[1], Err(StoreError::JobNotFound { .. })),
        "{:?}",
        done.runs[1]
    );
    assert!(
        matches!(
            &done.runs[3],
            Err(StoreError::Invalid {
                what: "attempt",
                ..
            })
        ),
        "{:?}",
        done.runs[3]
    );
    let mut queued = Vec::new();
    for (index, actor) in [(0, "ana"), (2, "bo"), (4, "cy")] {
        let run = done.runs[index].as_ref().unwrap();
        assert_eq!(run.job_id, requested[index].new.job_id, "{actor}");
        assert_eq!(run.status, store::RunStatus::Queued);
        assert_eq!(run.trigger, store::Trigger::Api);
        assert_eq!(run.params, Some(serde_json::json!({"who": actor})));
        assert_eq!(db.store.run_get(run.id).await.unwrap().as_ref(), Some(run));
        let entries = entries_by(&db, actor).await;
        assert_eq!(entries.len(), 1, "{actor}: {entries:?}");
        assert_eq!(entries[0].action, "run.start");
        assert_eq!(entries[0].target, format!("run:{}", run.id));
        assert_eq!(
            entries[0].detail,
            serde_json::json!({"job_id": run.job_id, "by": actor})
        );
        assert_eq!(entries[0].at, at(0));
        queued.push(run.id);
    }
    assert!(queued.is_sorted(), "queued in the order asked: {queued:?}");
    for actor in ["ghost", "invalid"] {
        let entries = entries_by(&db, actor).await;
        assert!(entries.is_empty(), "{actor}: {entries:?}");
    }

    // Nothing to queue: no run, no entry, no error.
    let none = db
        .store
        .runs_insert_requested(&[asked(424_242, "ghost", 1)])
        .await
        .unwrap();
    none.audited.unwrap();
    assert!(matches!(
        &none.runs[..],
        [Err(StoreError::JobNotFound { .. })]
    ));
}

/// The audit entries `actor` made, newest first (at most 10).
async fn entries_by(db: &TestDb, actor: &str) -> Vec<store::AuditRecord> {
    db.store
        .audit_search(
            &AuditFilter {
                actor: Some(actor.into()),
                target: None,
            },
            None,
            10,
        )
        .await
        .unwrap()
        .items
}

/// What a starting node finds of alerts a stopped process never stored:
/// runs that ended with a status that raises one, since the instant asked,
/// that have no delivery, in id order and paged by id.
async fn runs_ended_with_an_alert_and_no_delivery_are_found_by_end_and_id(db: TestDb) {
    let mut ended = Vec::new();
    for (name, status, end) in [
        ("failed", store::RunStatus::Failed, 10),
        ("succeeded", store::RunStatus::Succeeded, 10),
        ("timed-out-early", store::RunStatus::TimedOut, 4),
        ("delivered", store::RunStatus::Failed, 10),
        ("interrupted", store::RunStatus::Interrupted, 11),
    ] {
        let run = running_run(&db, name).await;
        db.store
            .runs_write_if_running(&store::RunWrites {
                finishes: vec![finish_as(run.id, NODE, status, at(end))],
                ..store::RunWrites::default()
            })
            .await
            .unwrap();
        ended.push(run);
    }
    let channel = db.store.channel_upsert(&slack()).await.unwrap();
    db.store
        .deliveries_enqueue(
            &[NewDelivery {
                channel_id: channel.id,
                job_id: ended[3].job_id,
                run_id: ended[3].id,
                event: AlertEvent::Failed,
                payload: serde_json::json!({"text": "failed"}),
            }],
            at(10),
        )
        .await
        .unwrap();
    let found = |after, limit| {
        let store = db.store.clone();
        async move {
            store
                .runs_ended_without_alerts(at(5), after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|run| (run.id, run.status))
                .collect::<Vec<_>>()
        }
    };
    let (failed, interrupted) = (ended[0].id, ended[4].id);
    assert_eq!(
        found(0, 10).await,
        [
            (failed, store::RunStatus::Failed),
            (interrupted, store::RunStatus::Interrupted)
        ]
    );
    assert_eq!(found(0, 1).await, [(failed, store::RunStatus::Failed)]);
    assert_eq!(
        found(failed, 1).await,
        [(interrupted, store::RunStatus::Interrupted)]
    );
    assert_eq!(found(interrupted, 10).await, []);
}
