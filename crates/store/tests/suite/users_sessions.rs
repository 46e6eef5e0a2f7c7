//! Users (Argon2id passwords) and web UI sessions (hashed ids, owner
//! checks, sliding expiry), on both engines.

use std::time::Duration;

use store::{
    NewToken, NewUser, Role, SESSION_IDLE, SESSION_MAX_AGE, SessionOwner, StoreError, UserUpdate,
};

use crate::{fixtures::at, harness::TestDb};

store_tests! {
    a_user_signs_in_with_its_password_only,
    user_names_are_unique_and_inputs_are_checked,
    users_change_and_disabling_or_a_new_password_ends_their_sessions,
    deleting_a_user_ends_its_sessions,
    a_session_verifies_by_its_id_which_is_never_stored,
    sessions_slide_while_used_and_end_when_idle_or_too_old,
    a_token_session_follows_its_token,
    a_session_answers_with_the_owners_current_role,
    expired_sessions_are_purged,
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.into(),
        role,
        password: "correct horse battery".into(),
    }
}

async fn a_user_signs_in_with_its_password_only(db: TestDb) {
    assert_eq!(db.store.users_count().await.unwrap(), 0);
    let user = db
        .store
        .user_create(&new_user("ada", Role::Editor))
        .await
        .unwrap();
    assert_eq!((user.name.as_str(), user.role), ("ada", Role::Editor));
    assert!(!user.disabled);
    assert_eq!(user.created_at, at(0));
    let signed_in = db
        .store
        .user_authenticate("ada", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(signed_in, Some(user.clone()));
    for (name, password) in [
        ("ada", "correct horse batterY"),
        ("ada", ""),
        ("nobody", "correct horse battery"),
        ("ADA", "correct horse battery"),
    ] {
        assert_eq!(
            db.store.user_authenticate(name, password).await.unwrap(),
            None,
            "{name}/{password}"
        );
    }
    // Only an Argon2id hash is at rest: neither the password nor a plain digest.
    let stored = db.store.user_list().await.unwrap();
    assert_eq!(stored, vec![user]);
    let error = db
        .try_execute_raw(
            "INSERT INTO users (name, role, password_hash, created_at_ms, updated_at_ms) VALUES ('x', 'viewer', 'plain', 0, 0)",
            "INSERT INTO users (name, role, password_hash, created_at_ms, updated_at_ms) VALUES ('x', 'viewer', 'plain', 0, 0)",
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("users_password_is_argon2"),
        "{error}"
    );
}

async fn user_names_are_unique_and_inputs_are_checked(db: TestDb) {
    db.store
        .user_create(&new_user("ada", Role::Viewer))
        .await
        .unwrap();
    let taken = db
        .store
        .user_create(&new_user("ada", Role::Admin))
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken}");
    let short = NewUser {
        password: "1234567".into(),
        ..new_user("bob", Role::Viewer)
    };
    let error = db.store.user_create(&short).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Invalid {
                what: "password",
                ..
            }
        ),
        "{error}"
    );
    let error = db
        .store
        .user_create(&new_user("has space", Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { what: "name", .. }),
        "{error}"
    );
    let error = db
        .store
        .user_update(
            "ada",
            &UserUpdate {
                password: Some("short".into()),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Invalid {
                what: "password",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(db.store.users_count().await.unwrap(), 1);
    assert_eq!(
        db.store
            .user_update("nobody", &UserUpdate::default())
            .await
            .unwrap(),
        None
    );
}

async fn users_change_and_disabling_or_a_new_password_ends_their_sessions(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Viewer))
        .await
        .unwrap();
    let (_, kept) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    db.clock.advance(Duration::from_secs(5));
    let promoted = db
        .store
        .user_update(
            "ada",
            &UserUpdate {
                role: Some(Role::Admin),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(promoted.updated_at, at(5));
    assert!(
        db.store
            .session_verify(&kept, at(6))
            .await
            .unwrap()
            .is_some()
    );

    let changed = UserUpdate {
        password: Some("a new long password".into()),
        ..UserUpdate::default()
    };
    db.store
        .user_update("ada", &changed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.store.session_verify(&kept, at(7)).await.unwrap(), None);
    assert_eq!(
        db.store
            .user_authenticate("ada", "correct horse battery")
            .await
            .unwrap(),
        None
    );
    assert!(
        db.store
            .user_authenticate("ada", "a new long password")
            .await
            .unwrap()
            .is_some()
    );

    let (_, second) = db
        .store
        .session_create(SessionOwner::User(user.id), at(8))
        .await
        .unwrap();
    let disable = UserUpdate {
        disabled: Some(true),
        ..UserUpdate::default()
    };
    let disabled = db
        .store
        .user_update("ada", &disable)
        .await
        .unwrap()
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(db.store.session_verify(&second, at(9)).await.unwrap(), None);
    assert_eq!(
        db.store
            .user_authenticate("ada", "a new long password")
            .await
            .unwrap(),
        None,
        "a disabled user cannot sign in"
    );
    let error = db
        .store
        .session_create(SessionOwner::User(user.id), at(9))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
}

async fn deleting_a_user_ends_its_sessions(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Viewer))
        .await
        .unwrap();
    let (_, id) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    assert!(db.store.user_delete("ada").await.unwrap());
    assert!(!db.store.user_delete("ada").await.unwrap());
    assert_eq!(db.store.session_verify(&id, at(1)).await.unwrap(), None);
    assert_eq!(db.store.user_get("ada").await.unwrap(), None);
}

async fn a_session_verifies_by_its_id_which_is_never_stored(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Editor))
        .await
        .unwrap();
    let (session, id) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    assert_eq!(session.name, "ada");
    assert_eq!(session.role, Role::Editor);
    assert!(id.len() >= 43 && session.csrf_token.len() >= 43);
    assert_ne!(id, session.csrf_token);
    let verified = db.store.session_verify(&id, at(1)).await.unwrap().unwrap();
    assert_eq!(verified.owner, SessionOwner::User(user.id));
    assert_eq!(verified.csrf_token, session.csrf_token);
    assert_eq!(
        db.store
            .session_verify("not-a-session", at(1))
            .await
            .unwrap(),
        None
    );
    // Signing out ends it.
    assert!(db.store.session_delete(&id).await.unwrap());
    assert!(!db.store.session_delete(&id).await.unwrap());
    assert_eq!(db.store.session_verify(&id, at(2)).await.unwrap(), None);
    // The table holds nothing but 32-byte hashes of ids.
    let error = db
        .try_execute_raw(
            "INSERT INTO sessions (id_hash, user_id, role, csrf_token, created_at_ms, expires_at_ms, last_seen_at_ms) VALUES (X'00', 1, 'viewer', 'c', 0, 1, 0)",
            "INSERT INTO sessions (id_hash, user_id, role, csrf_token, created_at_ms, expires_at_ms, last_seen_at_ms) VALUES ('\\x00', 1, 'viewer', 'c', 0, 1, 0)",
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("sessions_id_is_sha256"),
        "{error}"
    );
}

async fn sessions_slide_while_used_and_end_when_idle_or_too_old(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Viewer))
        .await
        .unwrap();
    let idle = SESSION_IDLE.as_secs() as i64;
    let (session, id) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    assert_eq!(session.expires_at, at(idle));
    // Used just before it would end: it slides.
    let used = db
        .store
        .session_verify(&id, at(idle - 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.expires_at, at(idle - 1 + idle));
    assert!(
        db.store
            .session_verify(&id, at(2 * idle - 2))
            .await
            .unwrap()
            .is_some()
    );
    // Idle past its expiry: gone.
    let (_, idle_one) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    assert_eq!(
        db.store.session_verify(&idle_one, at(idle)).await.unwrap(),
        None
    );
    // Used all the time, it still ends at the maximum age.
    let max = SESSION_MAX_AGE.as_secs() as i64;
    let (_, busy) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    let mut t = 0;
    while t + idle / 2 < max {
        t += idle / 2;
        let session = db.store.session_verify(&busy, at(t)).await.unwrap();
        assert!(session.is_some(), "alive at {t}");
        assert!(session.unwrap().expires_at <= at(max));
    }
    assert_eq!(db.store.session_verify(&busy, at(max)).await.unwrap(), None);
}

async fn a_token_session_follows_its_token(db: TestDb) {
    let (token, _) = db
        .store
        .token_create(&NewToken {
            name: "ci".into(),
            role: Role::Admin,
            secret: None,
        })
        .await
        .unwrap();
    let (session, id) = db
        .store
        .session_create(SessionOwner::Token(token.id), at(0))
        .await
        .unwrap();
    assert_eq!((session.name.as_str(), session.role), ("ci", Role::Admin));
    assert!(db.store.session_verify(&id, at(1)).await.unwrap().is_some());
    assert!(db.store.token_revoke(token.id).await.unwrap());
    assert_eq!(db.store.session_verify(&id, at(2)).await.unwrap(), None);
    let error = db
        .store
        .session_create(SessionOwner::Token(token.id), at(3))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error}");
}

async fn a_session_answers_with_the_owners_current_role(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Admin))
        .await
        .unwrap();
    let (_, id) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    let demote = UserUpdate {
        role: Some(Role::Viewer),
        ..UserUpdate::default()
    };
    db.store.user_update("ada", &demote).await.unwrap();
    let session = db.store.session_verify(&id, at(1)).await.unwrap().unwrap();
    assert_eq!(session.role, Role::Viewer);
}

async fn expired_sessions_are_purged(db: TestDb) {
    let user = db
        .store
        .user_create(&new_user("ada", Role::Viewer))
        .await
        .unwrap();
    let idle = SESSION_IDLE.as_secs() as i64;
    let (_, old) = db
        .store
        .session_create(SessionOwner::User(user.id), at(0))
        .await
        .unwrap();
    let (_, fresh) = db
        .store
        .session_create(SessionOwner::User(user.id), at(idle))
        .await
        .unwrap();
    assert_eq!(
        db.store.sessions_purge_expired(at(idle + 1)).await.unwrap(),
        1
    );
    assert!(!db.store.session_delete(&old).await.unwrap());
    assert!(
        db.store
            .session_verify(&fresh, at(idle + 2))
            .await
            .unwrap()
            .is_some()
    );
}
