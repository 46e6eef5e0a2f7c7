//! Plain calls: what is sent (auth, headers, body), what comes back, and the
//! record each call leaves.

use axum::Router;
use axum::http::{HeaderValue as AxumHeaderValue, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use egress::{Auth, Error, HeaderName, HeaderValue, Method, Request, StatusCode};

use crate::support::{RawServer, Server, Watch, client};

fn ok_router() -> Router {
    Router::new().route("/{*path}", any(|| async { "ok" }))
}

#[tokio::test]
async fn basic_auth_arrives_as_base64_of_email_and_token() {
    let server = Server::start(ok_router()).await;
    let response = client()
        .send(
            Request::get(server.url("/rest/api/3/myself")).auth(Auth::Basic {
                email: "admin@acme.com".into(),
                api_token: "ATATT3x".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let seen = server.only_request();
    // base64("admin@acme.com:ATATT3x")
    assert_eq!(
        seen.header("authorization"),
        Some("Basic YWRtaW5AYWNtZS5jb206QVRBVFQzeA==")
    );
    assert_eq!(seen.header("user-agent"), Some("clockwork/0.1.0"));
}

#[tokio::test]
async fn bearer_auth_arrives_as_bearer_token() {
    let server = Server::start(ok_router()).await;
    client()
        .send(Request::get(server.url("/x")).auth(Auth::Bearer("tok-123".into())))
        .await
        .unwrap();
    assert_eq!(
        server.only_request().header("authorization"),
        Some("Bearer tok-123")
    );
}

#[tokio::test]
async fn fetch_style_request_carries_no_auth_and_keeps_its_headers_in_order() {
    let server = Server::start(ok_router()).await;
    let x_multi = HeaderName::from_static("x-multi");
    client()
        .send(
            Request::new(Method::POST, server.url("/hook"))
                .header(x_multi.clone(), HeaderValue::from_static("one"))
                .header(x_multi, HeaderValue::from_static("two"))
                .header(
                    HeaderName::from_static("content-type"),
                    HeaderValue::from_static("text/plain"),
                )
                .body("hello"),
        )
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(seen.method, "POST");
    assert!(seen.headers.get("authorization").is_none());
    let multi: Vec<&str> = seen
        .headers
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(seen.header("content-type"), Some("text/plain"));
    assert_eq!(&seen.body[..], b"hello");
}

#[tokio::test]
async fn auth_replaces_an_authorization_header_the_caller_set() {
    let server = Server::start(ok_router()).await;
    client()
        .send(
            Request::get(server.url("/x"))
                .header(
                    HeaderName::from_static("authorization"),
                    HeaderValue::from_static("Bearer from-script"),
                )
                .auth(Auth::Bearer("from-site".into())),
        )
        .await
        .unwrap();
    let seen = server.only_request();
    let values: Vec<_> = seen.headers.get_all("authorization").iter().collect();
    assert_eq!(values, ["Bearer from-site"]);
}

#[tokio::test]
async fn a_fetch_may_set_its_own_authorization_and_user_agent() {
    let server = Server::start(ok_router()).await;
    client()
        .send(
            Request::get(server.url("/x"))
                .header(
                    HeaderName::from_static("authorization"),
                    HeaderValue::from_static("Token third-party"),
                )
                .header(
                    HeaderName::from_static("user-agent"),
                    HeaderValue::from_static("my-script/2"),
                ),
        )
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(seen.header("authorization"), Some("Token third-party"));
    assert_eq!(seen.header("user-agent"), Some("my-script/2"));
}

#[tokio::test]
async fn transport_headers_from_the_caller_are_dropped() {
    let server = Server::start(ok_router()).await;
    client()
        .send(
            Request::new(Method::PUT, server.url("/x"))
                .header(
                    HeaderName::from_static("host"),
                    HeaderValue::from_static("internal.example"),
                )
                .header(
                    HeaderName::from_static("content-length"),
                    HeaderValue::from_static("999"),
                )
                .body("abc"),
        )
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(seen.header("host"), Some(server.addr.to_string().as_str()));
    assert_eq!(seen.header("content-length"), Some("3"));
    assert_eq!(&seen.body[..], b"abc");
}

#[tokio::test]
async fn response_carries_status_headers_url_and_body() {
    let router = Router::new().route(
        "/item",
        get(|| async {
            let mut response = (AxumStatus::CREATED, "{\"id\":7}").into_response();
            let headers = response.headers_mut();
            headers.append("set-cookie", AxumHeaderValue::from_static("a=1"));
            headers.append("set-cookie", AxumHeaderValue::from_static("b=2"));
            headers.insert(
                "content-type",
                AxumHeaderValue::from_static("application/json"),
            );
            response
        }),
    );
    let server = Server::start(router).await;
    let response = client()
        .send(Request::get(server.url("/item")))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.status_text, "Created");
    assert!(response.ok());
    assert!(!response.redirected);
    assert_eq!(response.url.as_str(), server.url("/item"));
    assert_eq!(&response.body[..], b"{\"id\":7}");
    let cookies: Vec<_> = response.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(response.headers["content-type"], "application/json");
}

#[tokio::test]
async fn a_custom_reason_phrase_is_kept() {
    let server =
        RawServer::start(b"HTTP/1.1 418 Short And Stout\r\ncontent-length: 0\r\n\r\n".to_vec())
            .await;
    let response = client().send(Request::get(server.url("/"))).await.unwrap();
    assert_eq!(response.status.as_u16(), 418);
    assert_eq!(response.status_text, "Short And Stout");
}

#[tokio::test]
async fn error_statuses_are_responses_and_are_not_retried() {
    let router = Router::new().route(
        "/status/{code}",
        get(
            |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                (AxumStatus::from_u16(code).unwrap(), "no")
            },
        ),
    );
    let server = Server::start(router).await;
    let client = client();
    for code in [401, 404, 500] {
        let watch = Watch::new();
        let response = client
            .send(
                Request::get(server.url(&format!("/status/{code}")))
                    .retry_rate_limited(true)
                    .observer(watch.clone()),
            )
            .await
            .unwrap();
        assert_eq!(response.status.as_u16(), code);
        assert!(!response.ok());
        assert_eq!(&response.body[..], b"no");
        assert!(watch.retries().is_empty());
        let record = watch.record();
        assert_eq!(
            (record.status, record.retries, record.error),
            (Some(code), 0, None)
        );
    }
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn the_record_describes_the_call_without_its_secrets() {
    let server = Server::start(ok_router()).await;
    let url = format!(
        "http://me:pa55@{}/search?jql=x&access_token=abc123&limit=5",
        server.addr
    );
    let watch = Watch::new();
    client()
        .send(Request::get(&url).observer(watch.clone()))
        .await
        .unwrap();
    let record = watch.record();
    assert_eq!(record.method, "GET");
    assert_eq!(
        record.url,
        format!(
            "http://{}/search?jql=x&access_token=REDACTED&limit=5",
            server.addr
        )
    );
    assert_eq!(record.status, Some(200));
    assert_eq!(record.response_size, Some(2));
    assert_eq!(record.retries, 0);
    assert_eq!(record.error, None);
    // Redaction is for the record only: the server got the real request, the
    // userinfo as Basic credentials (as curl sends it).
    let seen = server.only_request();
    assert_eq!(seen.uri, "/search?jql=x&access_token=abc123&limit=5");
    // base64("me:pa55")
    assert_eq!(seen.header("authorization"), Some("Basic bWU6cGE1NQ=="));
}

#[tokio::test]
async fn userinfo_is_sent_as_basic_auth_only_without_other_credentials() {
    let server = Server::start(ok_router()).await;
    let url = format!("http://us%40er:p%3Ass@{}/x", server.addr);
    let client = client();
    client.send(Request::get(&url)).await.unwrap();
    client
        .send(Request::get(&url).auth(Auth::Bearer("site".into())))
        .await
        .unwrap();
    client
        .send(Request::get(&url).header(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Token own"),
        ))
        .await
        .unwrap();
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|seen| seen.header("authorization").unwrap().to_owned())
        .collect();
    // base64("us@er:p:ss")
    assert_eq!(sent, ["Basic dXNAZXI6cDpzcw==", "Bearer site", "Token own"]);
}

#[tokio::test]
async fn connection_failure_is_typed_recorded_and_free_of_secrets() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let watch = Watch::new();
    let error = client()
        .send(
            Request::get(format!("http://u:hunter2@127.0.0.1:{port}/x?token=hunter2"))
                .observer(watch.clone()),
        )
        .await
        .unwrap_err();
    let Error::Connection { url, message } = &error else {
        panic!("expected a connection error, got {error:?}");
    };
    assert_eq!(url, &format!("http://127.0.0.1:{port}/x?token=REDACTED"));
    assert!(message.to_lowercase().contains("connect"), "{message}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let record = watch.record();
    assert_eq!(record.status, None);
    assert_eq!(record.response_size, None);
    assert_eq!(record.error.as_deref(), Some(error.to_string().as_str()));
}

#[tokio::test]
async fn a_body_cut_short_by_the_server_is_a_connection_error() {
    let server = RawServer::start(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly twenty bytes...".to_vec(),
    )
    .await;
    let error = client()
        .send(Request::get(server.url("/")))
        .await
        .unwrap_err();
    let Error::Connection { url, message } = &error else {
        panic!("expected a connection error, got {error:?}");
    };
    assert_eq!(url, &server.url("/"));
    assert!(message.contains("body"), "{message}");
}

#[tokio::test]
async fn a_credential_that_cannot_be_a_header_fails_before_sending() {
    let server = Server::start(ok_router()).await;
    let error = client()
        .send(Request::get(server.url("/x")).auth(Auth::Bearer("line\nbreak".into())))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest { .. }), "{error:?}");
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn invalid_urls_are_typed_errors_and_recorded() {
    let client = client();
    for (url, reason) in [
        ("not a url", "relative URL without a base"),
        ("/rest/api/3/myself", "relative URL without a base"),
        (
            "ftp://files.example/x",
            "only http and https URLs can be fetched, not `ftp:`",
        ),
        (
            "http://exa mple.com/?password=x",
            "invalid international domain name",
        ),
    ] {
        let watch = Watch::new();
        let error = client
            .send(Request::get(url).observer(watch.clone()))
            .await
            .unwrap_err();
        let Error::InvalidUrl { reason: got, .. } = &error else {
            panic!("{url}: expected InvalidUrl, got {error:?}");
        };
        assert_eq!(got, reason, "{url}");
        assert!(!error.to_string().contains("password=x"), "{error}");
        assert_eq!(watch.record().error, Some(error.to_string()));
    }
}
