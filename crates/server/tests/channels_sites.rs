//! `/api/v1/channels…` (with a real test delivery to a real HTTP receiver)
//! and `/api/v1/sites…` (secrets write-only, configuration sites read-only,
//! the site book runs read) through the real router on a real port, on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
};

use axum::{Router, http::StatusCode, routing::post};
use common::{Engine, TestServer, postgres_url};
use runtime::{Credential, Sites};
use scheduler::ChannelSender;
use serde_json::{Value, json};
use server::{AppState, SiteBook};
use store::Store;

/// Posts with a plain HTTP client, as `clockwork serve`'s alert client does.
struct Poster(reqwest::Client);

impl ChannelSender for Poster {
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: Value,
    ) -> Pin<Box<dyn Future<Output = Result<u16, String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map(|response| response.status().as_u16())
                .map_err(|error| error.to_string())
        })
    }
}

/// A receiver that records bodies: `/ok` answers 200, `/down` 503.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let record = |status: StatusCode, received: Arc<Mutex<Vec<Value>>>| {
        post(move |body: String| {
            let received = received.clone();
            async move {
                received
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                status
            }
        })
    };
    let app = Router::new()
        .route("/ok", record(StatusCode::OK, received.clone()))
        .route(
            "/down",
            record(StatusCode::SERVICE_UNAVAILABLE, received.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

fn configured_sites() -> Sites {
    Sites {
        jira_url: Some("https://config.atlassian.net".into()),
        app: Some(Credential::Basic {
            email: "bot@example.com".into(),
            api_token: "config-token".into(),
        }),
        ..Sites::default()
    }
}

macro_rules! settings_tests {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (server, book, _) = super::settings_server(super::Engine::Sqlite).await;
                    super::$test(server, book).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (server, book, schema) = super::settings_server(super::Engine::Postgres).await;
                    let outcome = tokio::spawn(super::$test(server, book)).await;
                    super::drop_schema(schema).await;
                    if let Err(failure) = outcome {
                        std::panic::resume_unwind(failure.into_panic());
                    }
                }
            )+
        }
    };
}

settings_tests!(
    channels_are_created_listed_replaced_and_deleted,
    slack_urls_are_write_only,
    a_test_send_is_a_real_delivery_attempt,
    channel_requests_are_checked,
    stored_sites_keep_their_secret_and_reach_runs,
    configuration_sites_are_read_only,
    site_requests_are_checked,
);

async fn settings_server(engine: Engine) -> (TestServer, Arc<SiteBook>, Option<String>) {
    let book = SiteBook::new(configured_sites());
    let customize = {
        let book = book.clone();
        move |state: AppState| {
            state
                .with_sites(book)
                .with_channel_sender(Arc::new(Poster(common::http_client())))
        }
    };
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_sqlite(dir.path().join("clockwork.db"))
                .await
                .unwrap()
                .with_secret_key(store::SecretKey::generate());
            let server = TestServer::start_custom(store, Some(dir), false, customize).await;
            (server, book, None)
        }
        Engine::Postgres => {
            use sqlx::{AssertSqlSafe, Connection, Executor};
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let schema = format!(
                "settings_test_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            admin
                .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE SCHEMA {schema}"
                ))))
                .await
                .unwrap();
            let url = format!("{}?options=-c%20search_path%3D{schema}", postgres_url());
            let store = Store::open(&url)
                .await
                .unwrap()
                .with_secret_key(store::SecretKey::generate());
            let server = TestServer::start_custom(store, None, false, customize).await;
            (server, book, Some(schema))
        }
    }
}

async fn drop_schema(schema: Option<String>) {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    if let Some(schema) = schema {
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
        admin
            .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                "SET lock_timeout = '10s'; DROP SCHEMA {schema} CASCADE"
            ))))
            .await
            .unwrap();
    }
}

async fn admin(
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> common::Reply {
    server
        .call(&server.admin, method, path, body.as_ref())
        .await
}

async fn channels_are_created_listed_replaced_and_deleted(server: TestServer, _: Arc<SiteBook>) {
    let body = json!({"name": "ops", "kind": "webhook", "url": "https://example.com/hook"});
    let created = admin(&server, "POST", "/api/v1/channels", Some(body.clone())).await;
    let channel = created.expect(201).clone();
    assert_eq!(created.headers["location"], "/api/v1/channels/ops");
    assert_eq!(channel["url"], "https://example.com/hook");
    assert_eq!(channel["enabled"], true);
    assert_eq!(
        channel["events"],
        json!(["failed", "timed_out", "interrupted", "missed", "recovered"])
    );
    admin(&server, "POST", "/api/v1/channels", Some(body))
        .await
        .problem(409);
    let replaced = admin(
        &server,
        "PUT",
        "/api/v1/channels/ops",
        Some(json!({"kind": "webhook", "events": ["failed"], "enabled": false})),
    )
    .await;
    let replaced = replaced.expect(200);
    assert_eq!(
        replaced["url"], "https://example.com/hook",
        "an omitted URL is kept"
    );
    assert_eq!(replaced["events"], json!(["failed"]));
    assert_eq!(replaced["enabled"], false);
    let new = admin(
        &server,
        "PUT",
        "/api/v1/channels/second",
        Some(json!({"kind": "webhook", "url": "http://example.com/2"})),
    )
    .await;
    new.expect(201);
    let list = admin(&server, "GET", "/api/v1/channels", None).await;
    let names: Vec<&str> = list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ops", "second"]);
    admin(&server, "GET", "/api/v1/channels/ops", None)
        .await
        .expect(200);
    assert_eq!(
        admin(&server, "DELETE", "/api/v1/channels/ops", None)
            .await
            .status,
        204
    );
    admin(&server, "GET", "/api/v1/channels/ops", None)
        .await
        .problem(404);
    admin(&server, "DELETE", "/api/v1/channels/ops", None)
        .await
        .problem(404);
    let deliveries = admin(&server, "GET", "/api/v1/channels/second/deliveries", None).await;
    assert_eq!(deliveries.expect(200)["items"], json!([]));
    admin(&server, "GET", "/api/v1/channels/ops/deliveries", None)
        .await
        .problem(404);
    server.stop().await;
}

async fn slack_urls_are_write_only(server: TestServer, _: Arc<SiteBook>) {
    let secret_url = "https://hooks.slack.com/services/T000/B000/s3cr3t";
    let created = admin(
        &server,
        "POST",
        "/api/v1/channels",
        Some(json!({"name": "team", "kind": "slack", "url": secret_url})),
    )
    .await;
    assert_eq!(created.expect(201)["url"], "https://hooks.slack.com/…");
    assert!(!created.text.contains("s3cr3t"));
    for path in ["/api/v1/channels", "/api/v1/channels/team"] {
        let reply = admin(&server, "GET", path, None).await;
        assert!(!reply.expect(200).to_string().contains("s3cr3t"), "{path}");
    }
    // Sending back what was read keeps the stored URL.
    let mut read = admin(&server, "GET", "/api/v1/channels/team", None)
        .await
        .body
        .clone();
    read["enabled"] = json!(false);
    admin(&server, "PUT", "/api/v1/channels/team", Some(read))
        .await
        .expect(200);
    let stored = server.store.channel_get("team").await.unwrap().unwrap();
    assert_eq!(stored.spec.url, secret_url);
    assert!(!stored.spec.enabled);
    server.stop().await;
}

async fn a_test_send_is_a_real_delivery_attempt(server: TestServer, _: Arc<SiteBook>) {
    let (base, received) = receiver().await;
    for (name, path) in [("up", "/ok"), ("down", "/down")] {
        admin(
            &server,
            "POST",
            "/api/v1/channels",
            Some(json!({"name": name, "kind": "webhook", "url": format!("{base}{path}")})),
        )
        .await
        .expect(201);
    }
    admin(
        &server,
        "POST",
        "/api/v1/channels",
        Some(json!({"name": "gone", "kind": "slack", "url": "http://127.0.0.1:9/nothing"})),
    )
    .await
    .expect(201);
    let up = admin(&server, "POST", "/api/v1/channels/up/test", None).await;
    assert_eq!(
        up.expect(200),
        &json!({"delivered": true, "status": 200, "error": null})
    );
    let body = received.lock().unwrap()[0].clone();
    assert_eq!(body["event"], "test");
    assert_eq!(body["channel"], "up");
    let down = admin(&server, "POST", "/api/v1/channels/down/test", None).await;
    assert_eq!(down.expect(200)["delivered"], false);
    assert_eq!(down.body["status"], 503);
    assert!(down.body["error"].as_str().unwrap().contains("503"));
    let gone = admin(&server, "POST", "/api/v1/channels/gone/test", None).await;
    assert_eq!(gone.expect(200)["delivered"], false);
    assert_eq!(gone.body["status"], Value::Null);
    assert!(gone.body["error"].is_string());
    admin(&server, "POST", "/api/v1/channels/nope/test", None)
        .await
        .problem(404);
    server
        .call(&server.editor, "POST", "/api/v1/channels/up/test", None)
        .await
        .problem(403);
    let audit = server.store.audit_list(None, 5).await.unwrap();
    assert_eq!(audit.items[0].action, "channel.test");
    server.stop().await;
}

async fn channel_requests_are_checked(server: TestServer, _: Arc<SiteBook>) {
    for (body, fields) in [
        (json!({"kind": "webhook", "url": "https://x"}), vec!["name"]),
        (
            json!({"name": "a", "kind": "email", "url": "https://x"}),
            vec!["kind"],
        ),
        (json!({"name": "a", "kind": "webhook"}), vec!["url"]),
        (
            json!({"name": "a", "kind": "webhook", "url": "ftp://x"}),
            vec!["url"],
        ),
        (
            json!({"name": "a", "kind": "webhook", "url": "https://x", "events": []}),
            vec!["events"],
        ),
        (
            json!({"name": "a", "kind": "webhook", "url": "https://x", "events": ["boom"]}),
            vec!["events[0]"],
        ),
        (
            json!({"name": "a", "kind": "webhook", "url": "https://x", "colour": 1}),
            vec!["colour"],
        ),
        (
            json!({"name": "", "kind": "webhook", "url": "ftp://x"}),
            vec!["name", "url"],
        ),
    ] {
        let reply = admin(&server, "POST", "/api/v1/channels", Some(body.clone())).await;
        assert_eq!(reply.error_fields(), fields, "{body}");
    }
    let reply = admin(
        &server,
        "PUT",
        "/api/v1/channels/a",
        Some(json!({"name": "b", "kind": "webhook", "url": "https://x"})),
    )
    .await;
    assert_eq!(reply.error_fields(), vec!["name"]);
    let reply = admin(
        &server,
        "GET",
        "/api/v1/channels/a/deliveries?limit=0",
        None,
    )
    .await;
    assert_eq!(reply.error_fields(), vec!["limit"]);
    assert_eq!(server.store.channel_list().await.unwrap(), vec![]);
    for (method, path) in [("GET", "/api/v1/channels"), ("POST", "/api/v1/channels")] {
        server
            .call(&server.editor, method, path, Some(&json!({})))
            .await
            .problem(403);
    }
    server.get("/api/v1/channels").await.problem(401);
    server.stop().await;
}

async fn stored_sites_keep_their_secret_and_reach_runs(server: TestServer, book: Arc<SiteBook>) {
    let created = admin(
        &server,
        "PUT",
        "/api/v1/sites/wiki",
        Some(
            json!({"product": "confluence", "base_url": "https://wiki.example.com",
                    "auth": "bearer", "secret": "pat-123"}),
        ),
    )
    .await;
    assert_eq!(
        created.expect(201),
        &json!({"name": "wiki", "product": "confluence", "base_url": "https://wiki.example.com",
                "auth": "bearer", "has_secret": true, "source": "store"})
    );
    // Runs see it: the configured Jira site and its credential, plus the stored Confluence URL.
    let sites = book.effective();
    assert_eq!(
        sites.jira_url.as_deref(),
        Some("https://config.atlassian.net")
    );
    assert_eq!(
        sites.confluence_url.as_deref(),
        Some("https://wiki.example.com")
    );
    assert_eq!(configured_sites().app, sites.app);

    let list = admin(&server, "GET", "/api/v1/sites", None).await;
    assert!(!list.text.contains("pat-123"), "secrets never leave");
    let names: Vec<(&str, &str)> = list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["source"].as_str().unwrap()))
        .collect();
    assert_eq!(names, vec![("jira", "config"), ("wiki", "store")]);

    // Omitting the secret keeps it; the base URL changes.
    let replaced = admin(
        &server,
        "PUT",
        "/api/v1/sites/wiki",
        Some(json!({"product": "confluence", "base_url": "https://wiki2.example.com", "auth": "bearer"})),
    )
    .await;
    replaced.expect(200);
    let stored = server.store.site_credentials().await.unwrap();
    assert_eq!(stored[0].1.as_str(), "pat-123");
    assert_eq!(
        book.effective().confluence_url.as_deref(),
        Some("https://wiki2.example.com")
    );
    // At rest the secret is ciphertext.
    assert!(stored[0].0.spec.email.is_none());
    assert_eq!(
        admin(&server, "DELETE", "/api/v1/sites/wiki", None)
            .await
            .status,
        204
    );
    assert_eq!(book.effective().confluence_url, None);
    admin(&server, "DELETE", "/api/v1/sites/wiki", None)
        .await
        .problem(404);
    server.stop().await;
}

async fn configuration_sites_are_read_only(server: TestServer, _: Arc<SiteBook>) {
    let body = json!({"product": "jira", "base_url": "https://x.atlassian.net", "auth": "bearer", "secret": "t"});
    admin(&server, "PUT", "/api/v1/sites/jira", Some(body.clone()))
        .await
        .problem(409);
    admin(&server, "PUT", "/api/v1/sites/other-jira", Some(body))
        .await
        .problem(409);
    admin(&server, "DELETE", "/api/v1/sites/jira", None)
        .await
        .problem(409);
    // One site per product among stored ones too.
    let wiki =
        json!({"product": "confluence", "base_url": "https://w", "auth": "bearer", "secret": "t"});
    admin(&server, "PUT", "/api/v1/sites/w1", Some(wiki.clone()))
        .await
        .expect(201);
    admin(&server, "PUT", "/api/v1/sites/w2", Some(wiki))
        .await
        .problem(409);
    assert_eq!(server.store.site_list().await.unwrap().len(), 1);
    server.stop().await;
}

async fn site_requests_are_checked(server: TestServer, _: Arc<SiteBook>) {
    let base = json!({"product": "confluence", "base_url": "https://w", "auth": "basic",
                      "email": "a@b.c", "secret": "t"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("product", json!("bitbucket")), "product"),
        (with("base_url", json!("wiki.example.com")), "base_url"),
        (with("auth", json!("oauth")), "auth"),
        (with("email", Value::Null), "email"),
        (with("secret", json!("")), "secret"),
        (with("colour", json!(1)), "colour"),
        (with("secret", Value::Null), "secret"),
    ] {
        let reply = admin(&server, "PUT", "/api/v1/sites/w", Some(body.clone())).await;
        assert_eq!(reply.error_fields(), vec![field.to_owned()], "{body}");
    }
    let bearer_with_email = json!({"product": "confluence", "base_url": "https://w",
                                   "auth": "bearer", "email": "a@b.c", "secret": "t"});
    let reply = admin(&server, "PUT", "/api/v1/sites/w", Some(bearer_with_email)).await;
    assert_eq!(reply.error_fields(), vec!["email"]);
    assert!(server.store.site_list().await.unwrap().is_empty());
    server
        .call(&server.editor, "GET", "/api/v1/sites", None)
        .await
        .problem(403);
    server
        .call(&server.editor, "PUT", "/api/v1/sites/w", Some(&base))
        .await
        .problem(403);
    server.stop().await;
}
