//! The web UI's session cookie as an alternative to bearer tokens, its CSRF
//! check, the `admin` role, and the admin endpoints for users and tokens —
//! through the real router on a real port, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::{Reply, TestServer};
use serde_json::{Value, json};
use store::{NewUser, Role};

engine_tests!(
    a_user_signs_in_reads_with_the_cookie_and_signs_out,
    a_token_signs_in_and_wrong_credentials_say_nothing_more,
    cookie_changes_need_the_csrf_token,
    roles_are_enforced_for_sessions_and_tokens,
    sign_in_bodies_are_checked,
    admins_manage_users,
    admins_manage_tokens,
    sign_ins_and_changes_are_audited,
    ended_sessions_end_and_are_deleted_at_the_next_sign_in,
    wrong_guesses_for_an_account_back_off_exponentially,
    wrong_guesses_from_one_address_back_off_across_accounts,
    a_signed_in_user_owns_the_jobs_they_create_unless_they_name_another,
);

const PASSWORD: &str = "correct horse battery";

async fn add_user(server: &TestServer, name: &str, role: Role) {
    server
        .store
        .user_create(&NewUser {
            name: name.into(),
            role,
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
}

/// A signed-in browser: the cookie and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(server: &TestServer, body: Value) -> (Reply, Option<Browser>) {
    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/session"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    let browser = reply
        .headers
        .get("set-cookie")
        .map(|value| value.to_str().unwrap().to_owned())
        .filter(|_| reply.status == 200)
        .map(|set_cookie| Browser {
            cookie: set_cookie.split(';').next().unwrap().to_owned(),
            csrf: reply.body["csrf_token"].as_str().unwrap().to_owned(),
        });
    (reply, browser)
}

/// `method path` with the browser's cookie, `csrf` as `X-CSRF-Token` when given.
async fn with_cookie(
    server: &TestServer,
    browser: &Browser,
    method: &str,
    path: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = server
        .client
        .request(method, server.url(path))
        .header("cookie", &browser.cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    server.send(request).await
}

async fn a_user_signs_in_reads_with_the_cookie_and_signs_out(server: TestServer) {
    add_user(&server, "ada", Role::Editor).await;
    let (reply, browser) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    let body = reply.expect(200);
    assert_eq!(
        body["user"],
        json!({"name": "ada", "role": "editor", "kind": "user"})
    );
    let set_cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with("clockwork_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let browser = browser.unwrap();

    let session = with_cookie(&server, &browser, "GET", "/api/v1/session", None, None).await;
    assert_eq!(session.expect(200)["csrf_token"], browser.csrf.as_str());
    let jobs = with_cookie(&server, &browser, "GET", "/api/v1/jobs", None, None).await;
    assert_eq!(jobs.expect(200)["total"], 0);

    let out = with_cookie(
        &server,
        &browser,
        "DELETE",
        "/api/v1/session",
        Some(&browser.csrf),
        None,
    )
    .await;
    assert_eq!(out.status, 204, "{}", out.text);
    let cleared = out.headers["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("clockwork_session=;") && cleared.contains("Max-Age=0"));
    // Ended server-side: the old cookie no longer works.
    with_cookie(&server, &browser, "GET", "/api/v1/session", None, None)
        .await
        .problem(401);
    with_cookie(&server, &browser, "GET", "/api/v1/jobs", None, None)
        .await
        .problem(401);
    server.get("/api/v1/session").await.problem(401);

    // Behind an https proxy the cookie is Secure.
    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/session"))
                .header("content-type", "application/json")
                .header("x-forwarded-proto", "https")
                .body(json!({"username": "ada", "password": PASSWORD}).to_string()),
        )
        .await;
    reply.expect(200);
    assert!(
        reply.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
    server.stop().await;
}

async fn a_token_signs_in_and_wrong_credentials_say_nothing_more(server: TestServer) {
    let (reply, browser) = sign_in(&server, json!({"token": server.admin})).await;
    assert_eq!(
        reply.expect(200)["user"],
        json!({"name": "admin", "role": "admin", "kind": "token"})
    );
    let browser = browser.unwrap();
    with_cookie(&server, &browser, "GET", "/api/v1/users", None, None)
        .await
        .expect(200);

    add_user(&server, "ada", Role::Viewer).await;
    let mut details = Vec::new();
    for body in [
        json!({"username": "ada", "password": "wrong password"}),
        json!({"username": "nobody", "password": PASSWORD}),
        json!({"token": "cw_not_a_token"}),
    ] {
        let (reply, browser) = sign_in(&server, body).await;
        assert!(browser.is_none());
        assert!(reply.headers.get("set-cookie").is_none());
        details.push(reply.problem(401)["detail"].clone());
    }
    assert!(details.iter().all(|d| *d == details[0]), "{details:?}");

    // A revoked token's session ends with it.
    let tokens = server
        .call(&server.admin, "GET", "/api/v1/tokens", None)
        .await;
    let admin_id = tokens.expect(200)["items"][0]["id"].as_i64().unwrap();
    server
        .call(
            &server.admin,
            "DELETE",
            &format!("/api/v1/tokens/{admin_id}"),
            None,
        )
        .await;
    with_cookie(&server, &browser, "GET", "/api/v1/jobs", None, None)
        .await
        .problem(401);
    server.stop().await;
}

async fn cookie_changes_need_the_csrf_token(server: TestServer) {
    add_user(&server, "ada", Role::Editor).await;
    let (_, browser) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    let browser = browser.unwrap();
    let job = json!({"name": "nightly", "script": "return 1"});
    let missing = with_cookie(&server, &browser, "POST", "/api/v1/jobs", None, Some(&job)).await;
    let problem = missing.problem(403);
    assert_eq!(problem["type"], "urn:clockwork:problem:csrf");
    let wrong = with_cookie(
        &server,
        &browser,
        "POST",
        "/api/v1/jobs",
        Some("not-the-token"),
        Some(&job),
    )
    .await;
    assert_eq!(wrong.problem(403)["type"], "urn:clockwork:problem:csrf");
    assert_eq!(
        server.read("/api/v1/jobs").await.body["total"],
        0,
        "nothing saved"
    );
    // Signing out needs it too.
    with_cookie(&server, &browser, "DELETE", "/api/v1/session", None, None)
        .await
        .problem(403);

    let created = with_cookie(
        &server,
        &browser,
        "POST",
        "/api/v1/jobs",
        Some(&browser.csrf),
        Some(&job),
    )
    .await;
    assert_eq!(created.expect(201)["name"], "nightly");
    let versions = server.read("/api/v1/jobs/nightly/versions").await;
    assert_eq!(versions.expect(200)["items"][0]["actor"], "ada");
    // A bearer token needs no CSRF token, even with a cookie beside it.
    let reply = server
        .send(
            server
                .client
                .post(server.url("/api/v1/jobs/nightly/pause"))
                .bearer_auth(&server.editor)
                .header("cookie", &browser.cookie),
        )
        .await;
    reply.expect(200);
    server.stop().await;
}

async fn roles_are_enforced_for_sessions_and_tokens(server: TestServer) {
    add_user(&server, "vic", Role::Viewer).await;
    add_user(&server, "eve", Role::Editor).await;
    let (_, viewer) = sign_in(&server, json!({"username": "vic", "password": PASSWORD})).await;
    let viewer = viewer.unwrap();
    let job = json!({"name": "nightly", "script": "return 1"});
    let refused = with_cookie(
        &server,
        &viewer,
        "POST",
        "/api/v1/jobs",
        Some(&viewer.csrf),
        Some(&job),
    )
    .await;
    assert!(
        refused.problem(403)["detail"]
            .as_str()
            .unwrap()
            .contains("needs the editor role"),
        "{}",
        refused.text
    );
    let (_, editor) = sign_in(&server, json!({"username": "eve", "password": PASSWORD})).await;
    let editor = editor.unwrap();
    for path in ["/api/v1/users", "/api/v1/tokens"] {
        let reply = with_cookie(&server, &editor, "GET", path, None, None).await;
        assert!(
            reply.problem(403)["detail"]
                .as_str()
                .unwrap()
                .contains("needs the admin role")
        );
        server
            .call(&server.editor, "GET", path, None)
            .await
            .problem(403);
        server.get(path).await.problem(401);
    }
    server.stop().await;
}

async fn sign_in_bodies_are_checked(server: TestServer) {
    for (body, field) in [
        (json!({}), "."),
        (json!({"username": "ada"}), "password"),
        (json!({"password": "x"}), "username"),
        (
            json!({"token": "x", "username": "ada", "password": "y"}),
            "token",
        ),
        (
            json!({"username": "ada", "password": "y", "remember": true}),
            "remember",
        ),
        (json!({"username": 5, "password": "y"}), "username"),
    ] {
        let (reply, _) = sign_in(&server, body.clone()).await;
        assert_eq!(reply.error_fields(), vec![field.to_owned()], "{body}");
    }
    server.stop().await;
}

async fn admin(server: &TestServer, method: &str, path: String, body: Option<Value>) -> Reply {
    server
        .call(&server.admin, method, &path, body.as_ref())
        .await
}

async fn admins_manage_users(server: TestServer) {
    let created = admin(
        &server,
        "POST",
        "/api/v1/users".into(),
        Some(json!({"name": "ada", "password": PASSWORD, "role": "editor"})),
    )
    .await;
    let body = created.expect(201).clone();
    assert_eq!(body["name"], "ada");
    assert_eq!(body["role"], "editor");
    assert_eq!(body["disabled"], false);
    assert!(body.get("password").is_none() && !created.text.contains(PASSWORD));
    assert_eq!(created.headers["location"], "/api/v1/users/ada");

    let taken = admin(
        &server,
        "POST",
        "/api/v1/users".into(),
        Some(json!({"name": "ada", "password": PASSWORD, "role": "viewer"})),
    )
    .await;
    taken.problem(409);
    for (body, field) in [
        (
            json!({"name": "bob", "password": "short", "role": "viewer"}),
            "password",
        ),
        (
            json!({"name": "bad name", "password": PASSWORD, "role": "viewer"}),
            "name",
        ),
        (
            json!({"name": "bob", "password": PASSWORD, "role": "owner"}),
            "role",
        ),
        (
            json!({"name": "bob", "password": PASSWORD, "role": "viewer", "x": 1}),
            "x",
        ),
        (json!({"name": "bob", "role": "viewer"}), "password"),
    ] {
        let reply = admin(&server, "POST", "/api/v1/users".into(), Some(body.clone())).await;
        assert_eq!(reply.error_fields(), vec![field.to_owned()], "{body}");
    }

    let list = admin(&server, "GET", "/api/v1/users".into(), None).await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["created_at", "disabled", "name", "role"]
    );

    let patched = admin(
        &server,
        "PATCH",
        "/api/v1/users/ada".into(),
        Some(json!({"role": "admin", "disabled": true})),
    )
    .await;
    assert_eq!(patched.expect(200)["role"], "admin");
    assert_eq!(patched.body["disabled"], true);
    let (reply, _) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    reply.problem(401);
    admin(
        &server,
        "PATCH",
        "/api/v1/users/ada".into(),
        Some(json!({"disabled": false, "password": "a brand new password"})),
    )
    .await
    .expect(200);
    let (reply, _) = sign_in(
        &server,
        json!({"username": "ada", "password": "a brand new password"}),
    )
    .await;
    reply.expect(200);
    admin(
        &server,
        "PATCH",
        "/api/v1/users/nobody".into(),
        Some(json!({})),
    )
    .await
    .problem(404);
    let bad = admin(
        &server,
        "PATCH",
        "/api/v1/users/ada".into(),
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!(bad.error_fields(), vec!["password"]);
    let unknown = admin(
        &server,
        "PATCH",
        "/api/v1/users/ada".into(),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(unknown.error_fields(), vec!["name"]);

    assert_eq!(
        admin(&server, "DELETE", "/api/v1/users/ada".into(), None)
            .await
            .status,
        204
    );
    admin(&server, "DELETE", "/api/v1/users/ada".into(), None)
        .await
        .problem(404);
    server
        .call(&server.editor, "DELETE", "/api/v1/users/ada", None)
        .await
        .problem(403);
    server.stop().await;
}

async fn admins_manage_tokens(server: TestServer) {
    let created = server
        .call(
            &server.admin,
            "POST",
            "/api/v1/tokens",
            Some(&json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    let body = created.expect(201).clone();
    let secret = body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cw_"));
    let id = body["id"].as_i64().unwrap();
    server
        .call(&secret, "GET", "/api/v1/jobs", None)
        .await
        .expect(200);

    let list = server
        .call(&server.admin, "GET", "/api/v1/tokens", None)
        .await;
    let items = list.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4);
    assert!(!list.text.contains(&secret), "a secret is shown only once");
    let ci = items.iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(
        ci.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![
            "created_at",
            "id",
            "last_used_at",
            "name",
            "revoked_at",
            "role"
        ]
    );
    assert!(ci["last_used_at"].is_string());

    for (body, field) in [
        (json!({"name": "", "role": "viewer"}), "name"),
        (json!({"name": "x", "role": "root"}), "role"),
        (json!({"name": "x"}), "role"),
        (
            json!({"name": "x", "role": "viewer", "secret": "y"}),
            "secret",
        ),
    ] {
        let reply = server
            .call(&server.admin, "POST", "/api/v1/tokens", Some(&body))
            .await;
        assert_eq!(reply.error_fields(), vec![field.to_owned()], "{body}");
    }
    server
        .call(
            &server.viewer,
            "POST",
            "/api/v1/tokens",
            Some(&json!({"name": "x", "role": "admin"})),
        )
        .await
        .problem(403);

    let revoke = server
        .call(
            &server.admin,
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204);
    server
        .call(&secret, "GET", "/api/v1/jobs", None)
        .await
        .problem(401);
    server
        .call(
            &server.admin,
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            None,
        )
        .await
        .problem(404);
    server
        .call(&server.admin, "DELETE", "/api/v1/tokens/not-a-number", None)
        .await
        .problem(404);
    server.stop().await;
}

async fn sign_ins_and_changes_are_audited(server: TestServer) {
    add_user(&server, "ada", Role::Admin).await;
    sign_in(
        &server,
        json!({"username": "ada", "password": "wrong password"}),
    )
    .await;
    let (_, browser) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    let browser = browser.unwrap();
    with_cookie(
        &server,
        &browser,
        "POST",
        "/api/v1/users",
        Some(&browser.csrf),
        Some(&json!({"name": "bob", "password": PASSWORD, "role": "viewer"})),
    )
    .await
    .expect(201);
    with_cookie(
        &server,
        &browser,
        "POST",
        "/api/v1/tokens",
        Some(&browser.csrf),
        Some(&json!({"name": "ci", "role": "viewer"})),
    )
    .await
    .expect(201);
    let audit = server.store.audit_list(None, 50).await.unwrap();
    let actions: Vec<(String, String)> = audit
        .items
        .iter()
        .rev()
        .map(|e| (e.actor.clone(), e.action.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("anonymous", "session.sign_in_failed"),
        ("ada", "session.sign_in"),
        ("ada", "user.create"),
        ("ada", "token.create"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(actions, expected);
    assert!(
        !serde_json::to_string(&audit.items)
            .unwrap()
            .contains(PASSWORD),
        "no password in the audit log"
    );
    server.stop().await;
}

async fn ended_sessions_end_and_are_deleted_at_the_next_sign_in(server: TestServer) {
    add_user(&server, "ada", Role::Viewer).await;
    let (_, old) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    let old = old.unwrap();
    server
        .clock
        .advance(store::SESSION_IDLE + std::time::Duration::from_secs(1));
    with_cookie(&server, &old, "GET", "/api/v1/jobs", None, None)
        .await
        .problem(401);
    let (reply, _) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    reply.expect(200);
    let old_id = old.cookie.trim_start_matches("clockwork_session=");
    assert!(
        !server.store.session_delete(old_id).await.unwrap(),
        "the ended session's row is gone"
    );
    server.stop().await;
}

/// The `Retry-After` of a 429 answer, in seconds.
fn retry_after(reply: &Reply) -> u64 {
    reply.problem(429);
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn wrong_guesses_for_an_account_back_off_exponentially(server: TestServer) {
    add_user(&server, "ada", Role::Viewer).await;
    let wrong = json!({"username": "ada", "password": "wrong password"});
    let right = json!({"username": "ada", "password": PASSWORD});
    for _ in 0..4 {
        sign_in(&server, wrong.clone()).await.0.problem(401);
    }
    // The fifth wrong guess starts the back-off: 1 s, then 2 s, 4 s…
    sign_in(&server, wrong.clone()).await.0.problem(401);
    let (reply, browser) = sign_in(&server, right.clone()).await;
    assert!(browser.is_none(), "even the right password waits");
    assert_eq!(retry_after(&reply), 1);
    server.clock.advance(std::time::Duration::from_secs(1));
    sign_in(&server, wrong.clone()).await.0.problem(401);
    assert_eq!(retry_after(&sign_in(&server, wrong.clone()).await.0), 2);
    server.clock.advance(std::time::Duration::from_secs(2));
    sign_in(&server, wrong.clone()).await.0.problem(401);
    assert_eq!(retry_after(&sign_in(&server, right.clone()).await.0), 4);
    // Throttled attempts are not checked, so they are not audited either.
    let audit = server.store.audit_list(None, 50).await.unwrap().items;
    let failed = audit
        .iter()
        .filter(|entry| entry.action == "session.sign_in_failed")
        .count();
    assert_eq!(failed, 7);
    // After the wait the right password works and clears the count.
    server.clock.advance(std::time::Duration::from_secs(4));
    let (reply, browser) = sign_in(&server, right.clone()).await;
    reply.expect(200);
    assert!(browser.is_some());
    sign_in(&server, wrong.clone()).await.0.problem(401);
    sign_in(&server, right).await.0.expect(200);
    server.stop().await;
}

async fn wrong_guesses_from_one_address_back_off_across_accounts(server: TestServer) {
    add_user(&server, "ada", Role::Viewer).await;
    for name in ["a", "b", "c", "d", "e"] {
        sign_in(&server, json!({"username": name, "password": "guess"}))
            .await
            .0
            .problem(401);
    }
    // Another account, and token guesses, from the same address wait too.
    let (reply, _) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    assert_eq!(retry_after(&reply), 1);
    let (reply, _) = sign_in(&server, json!({"token": "cw_guess"})).await;
    assert_eq!(retry_after(&reply), 1);
    server.stop().await;
}

async fn a_signed_in_user_owns_the_jobs_they_create_unless_they_name_another(server: TestServer) {
    add_user(&server, "ada", Role::Editor).await;
    let (_, ada) = sign_in(&server, json!({"username": "ada", "password": PASSWORD})).await;
    let ada = ada.unwrap();
    let create = |name: &str, owner: Option<&str>| {
        let mut job = json!({"name": name, "script": "return 1;"});
        if let Some(owner) = owner {
            job["owner"] = json!(owner);
        }
        job
    };
    let by_ada = |method: &'static str, path: String, body: Value| {
        let ada = &ada;
        let server = &server;
        async move { with_cookie(server, ada, method, &path, Some(&ada.csrf), Some(&body)).await }
    };
    let mine = by_ada("POST", "/api/v1/jobs".into(), create("mine", None)).await;
    assert_eq!(mine.expect(201)["owner"], "ada");
    let named = by_ada(
        "POST",
        "/api/v1/jobs".into(),
        create("named", Some("Ops team")),
    )
    .await;
    assert_eq!(named.expect(201)["owner"], "Ops team");
    // A PUT that creates the job is a creation too.
    let put = by_ada(
        "PUT",
        "/api/v1/jobs/put-made".into(),
        create("put-made", None),
    )
    .await;
    assert_eq!(put.expect(201)["owner"], "ada");

    // Tokens are programs: their jobs have no owner unless they name one,
    // whether they send the token or a session made with it.
    let by_token = server
        .write("POST", "/api/v1/jobs", Some(&create("by-token", None)))
        .await;
    assert_eq!(by_token.expect(201)["owner"], "");
    let (_, token_browser) = sign_in(&server, json!({"token": server.admin})).await;
    let token_browser = token_browser.unwrap();
    let by_token_session = with_cookie(
        &server,
        &token_browser,
        "POST",
        "/api/v1/jobs",
        Some(&token_browser.csrf),
        Some(&create("by-token-session", None)),
    )
    .await;
    assert_eq!(by_token_session.expect(201)["owner"], "");

    // An edit keeps what it is given: an update is not a creation.
    let cleared = by_ada(
        "PATCH",
        "/api/v1/jobs/mine".into(),
        json!({"owner": "grace@example.com"}),
    )
    .await;
    assert_eq!(cleared.expect(200)["owner"], "grace@example.com");
    let ada_jobs = server.read("/api/v1/jobs?owner=ADA").await;
    assert_eq!(ada_jobs.item_names(), ["put-made"]);
}
