//! Redirects: followed hop by hop, each hop allowed or refused, credentials
//! never carried to another origin.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue as AxumHeaderValue, StatusCode as AxumStatus, header};
use axum::response::IntoResponse;
use axum::routing::any;
use egress::{
    AllowList, Auth, Client, Error, HeaderName, HeaderValue, Method, Policy, RedirectMode, Request,
    StatusCode,
};

use crate::support::{Server, Watch, client, fast_policy};

/// `/to/{status}/{target}` answers `status` with `Location: target` (URL-decoded);
/// anything else answers 200 "arrived".
fn redirecting_router() -> Router {
    Router::new()
        .route(
            "/to/{status}/{*target}",
            any(|Path((status, target)): Path<(u16, String)>| async move {
                let mut response = AxumStatus::from_u16(status).unwrap().into_response();
                response.headers_mut().insert(
                    header::LOCATION,
                    AxumHeaderValue::from_str(&target).unwrap(),
                );
                response
            }),
        )
        .route("/{*path}", any(|| async { "arrived" }))
}

fn redirect_to(server: &Server, status: u16, target: &str) -> String {
    server.url(&format!("/to/{status}/{target}"))
}

fn with_credentials(request: Request) -> Request {
    request
        .auth(Auth::Bearer("site-token".into()))
        .header(
            HeaderName::from_static("cookie"),
            HeaderValue::from_static("session=abc"),
        )
        .header(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("r1"),
        )
}

#[tokio::test]
async fn a_same_origin_redirect_is_followed_with_credentials() {
    let server = Server::start(redirecting_router()).await;
    let response = client()
        .send(with_credentials(Request::get(redirect_to(
            &server, 302, "/landed",
        ))))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.redirected);
    assert_eq!(response.url.as_str(), server.url("/landed"));
    let landed = &server.requests()[1];
    assert_eq!(landed.uri, "/landed");
    assert_eq!(landed.header("authorization"), Some("Bearer site-token"));
    assert_eq!(landed.header("cookie"), Some("session=abc"));
}

#[tokio::test]
async fn a_redirect_to_another_host_drops_credentials_but_keeps_other_headers() {
    let first = Server::start(redirecting_router()).await;
    let second = Server::start(redirecting_router()).await;
    // 127.0.0.1:A → localhost:B (another host) and → 127.0.0.1:B (another port).
    for target in [second.localhost_url("/landed"), second.url("/landed")] {
        let response = client()
            .send(with_credentials(Request::get(redirect_to(
                &first, 307, &target,
            ))))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.url.as_str(), target);
    }
    assert_eq!(first.count(), 2);
    for first_hop in first.requests() {
        assert_eq!(first_hop.header("authorization"), Some("Bearer site-token"));
    }
    let landed = second.requests();
    assert_eq!(landed.len(), 2);
    for hop in landed {
        assert_eq!(hop.header("authorization"), None, "{hop:?}");
        assert_eq!(hop.header("cookie"), None);
        assert_eq!(hop.header("x-request-id"), Some("r1"));
    }
}

#[tokio::test]
async fn credentials_dropped_once_stay_dropped_when_coming_back() {
    let first = Server::start(redirecting_router()).await;
    let second = Server::start(redirecting_router()).await;
    let back_home = first.url("/home");
    let via_second = second.url(&format!("/to/302/{back_home}"));
    client()
        .send(with_credentials(Request::get(redirect_to(
            &first,
            302,
            &via_second,
        ))))
        .await
        .unwrap();
    let home = first.requests().pop().unwrap();
    assert_eq!(home.uri, "/home");
    assert_eq!(home.header("authorization"), None);
}

#[tokio::test]
async fn a_redirect_to_a_disallowed_host_fails_naming_it() {
    let first = Server::start(redirecting_router()).await;
    let second = Server::start(redirecting_router()).await;
    let client = Client::new(Policy {
        allowed_hosts: AllowList::new(["127.0.0.1"]).unwrap(),
        ..fast_policy()
    })
    .unwrap();
    let watch = Watch::new();
    let error = client
        .send(
            Request::get(redirect_to(&first, 302, &second.localhost_url("/x")))
                .observer(watch.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DisallowedHost {
            host: "localhost".into(),
            port: Some(second.addr.port()),
            via_redirect: true,
        }
    );
    assert!(error.to_string().contains("a redirect to host `localhost:"));
    assert_eq!(second.count(), 0);
    assert_eq!(watch.record().error, Some(error.to_string()));
}

#[tokio::test]
async fn a_disallowed_host_fails_before_anything_is_sent() {
    let server = Server::start(redirecting_router()).await;
    let client = Client::new(Policy {
        allowed_hosts: AllowList::new(["*.atlassian.net", "api.example.com"]).unwrap(),
        ..fast_policy()
    })
    .unwrap();
    let watch = Watch::new();
    let error = client
        .send(
            Request::new(Method::POST, server.url("/x"))
                .body("data")
                .observer(watch.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DisallowedHost {
            host: "127.0.0.1".into(),
            port: Some(server.addr.port()),
            via_redirect: false,
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "host `127.0.0.1:{port}` is not in the egress allow-list; to allow it, \
             add `127.0.0.1:{port}` to the allowed hosts",
            port = server.addr.port()
        )
    );
    assert_eq!(server.count(), 0);
    let record = watch.record();
    assert_eq!(
        (record.status, record.error),
        (None, Some(error.to_string()))
    );
}

#[tokio::test]
async fn with_policy_shares_the_client_but_applies_its_own_allow_list() {
    let server = Server::start(redirecting_router()).await;
    let open = client();
    let closed = open.with_policy(Policy {
        allowed_hosts: AllowList::new(["api.example.com"]).unwrap(),
        ..fast_policy()
    });
    assert!(open.send(Request::get(server.url("/a"))).await.is_ok());
    let error = closed
        .send(Request::get(server.url("/a")))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DisallowedHost { .. }), "{error:?}");
    assert!(open.policy().allowed_hosts.allows_any());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn too_many_redirects_is_an_error() {
    let server = Server::start(redirecting_router()).await;
    let client = Client::new(Policy {
        max_redirects: 3,
        ..fast_policy()
    })
    .unwrap();
    let looping = server.url("/to/302/loop");
    let error = client
        .send(Request::get(looping.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::TooManyRedirects {
            url: looping,
            limit: 3
        }
    );
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn see_other_after_post_becomes_a_get_without_body() {
    let server = Server::start(redirecting_router()).await;
    client()
        .send(
            Request::new(Method::POST, redirect_to(&server, 303, "/result"))
                .header(
                    HeaderName::from_static("content-type"),
                    HeaderValue::from_static("application/json"),
                )
                .body("{}"),
        )
        .await
        .unwrap();
    let result = &server.requests()[1];
    assert_eq!(
        (result.method.as_str(), result.uri.as_str()),
        ("GET", "/result")
    );
    assert!(result.body.is_empty());
    assert_eq!(result.header("content-type"), None);
}

#[tokio::test]
async fn temporary_and_permanent_redirects_keep_method_and_body() {
    let server = Server::start(redirecting_router()).await;
    for status in [307, 308] {
        client()
            .send(Request::new(Method::PUT, redirect_to(&server, status, "/moved")).body("v2"))
            .await
            .unwrap();
        let moved = server.requests().pop().unwrap();
        assert_eq!(
            (moved.method.as_str(), &moved.body[..]),
            ("PUT", &b"v2"[..])
        );
    }
}

#[tokio::test]
async fn manual_mode_returns_the_redirect_and_error_mode_refuses_it() {
    let server = Server::start(redirecting_router()).await;
    let url = redirect_to(&server, 302, "/elsewhere");
    let manual = client()
        .send(Request::get(url.clone()).redirect(RedirectMode::Manual))
        .await
        .unwrap();
    assert_eq!(manual.status, StatusCode::FOUND);
    assert_eq!(manual.headers["location"], "/elsewhere");
    assert!(!manual.redirected);

    let error = client()
        .send(Request::get(url.clone()).redirect(RedirectMode::Error))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::RedirectRejected {
            url,
            location: "/elsewhere".into()
        }
    );
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_redirect_to_another_scheme_or_a_broken_url_is_invalid() {
    let server = Server::start(redirecting_router()).await;
    for (target, expected_reason) in [
        (
            "ftp://files.example/x",
            "only http and https URLs can be fetched, not `ftp:`",
        ),
        ("http://exa mple.com/", "invalid international domain name"),
    ] {
        let error = client()
            .send(Request::get(redirect_to(&server, 301, target)))
            .await
            .unwrap_err();
        let Error::InvalidRedirect {
            location, reason, ..
        } = &error
        else {
            panic!("expected InvalidRedirect, got {error:?}");
        };
        assert_eq!(location, target);
        assert_eq!(reason, expected_reason);
    }
}

#[tokio::test]
async fn a_redirect_without_location_is_returned_as_is() {
    let router = Router::new().route("/", any(|| async { AxumStatus::FOUND }));
    let server = Server::start(router).await;
    let response = client().send(Request::get(server.url("/"))).await.unwrap();
    assert_eq!(response.status, StatusCode::FOUND);
}
