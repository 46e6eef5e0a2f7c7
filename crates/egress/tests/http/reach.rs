//! Reach: the address actually connected to (IP literal as written, a name
//! after DNS, every redirect hop) must be within the policy's reach; a
//! refusal reads exactly like a closed port.

use axum::Router;
use axum::http::{HeaderValue as AxumHeaderValue, StatusCode as AxumStatus, header};
use axum::response::IntoResponse;
use axum::routing::any;
use egress::{AllowList, Client, Error, Policy, Reach, Request, StatusCode};

use crate::support::{Server, fast_policy};

fn public_client(reach: Reach) -> Client {
    Client::new(Policy {
        reach,
        ..fast_policy()
    })
    .unwrap()
}

fn ok_router() -> Router {
    Router::new().route("/{*path}", any(|| async { "reached" }))
}

/// The error a call to `url` ends with; it must be the uniform connection error.
async fn refusal(client: &Client, url: &str) -> String {
    let error = client.send(Request::get(url)).await.unwrap_err();
    let Error::Connection { message, .. } = &error else {
        panic!("{url}: expected a connection error, got {error:?}");
    };
    message.clone()
}

#[tokio::test]
async fn loopback_in_every_spelling_is_refused_before_anything_is_sent() {
    let server = Server::start(ok_router()).await;
    let port = server.addr.port();
    let client = public_client(Reach::public());
    for url in [
        format!("http://127.0.0.1:{port}/metrics"),
        format!("http://localhost:{port}/metrics"),
        format!("http://2130706433:{port}/metrics"),
        format!("http://0x7f.1:{port}/metrics"),
        format!("http://127.1:{port}/metrics"),
        format!("http://0.0.0.0:{port}/metrics"),
        format!("http://[::ffff:127.0.0.1]:{port}/metrics"),
        format!("http://[::1]:{port}/metrics"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        assert_eq!(refusal(&client, &url).await, "could not connect", "{url}");
    }
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn a_refusal_reads_exactly_like_a_closed_port() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let open = Server::start(ok_router()).await;
    let refused = refusal(
        &public_client(Reach::public()),
        &format!("http://127.0.0.1:{}/", open.addr.port()),
    )
    .await;
    let failed = refusal(
        &public_client(Reach::any()),
        &format!("http://127.0.0.1:{closed}/"),
    )
    .await;
    assert_eq!(refused, failed);
    let unknown = refusal(&public_client(Reach::any()), "http://no-such-host.invalid/").await;
    assert_eq!(unknown, failed);
}

#[tokio::test]
async fn exempt_hosts_stay_reachable_on_loopback() {
    let server = Server::start(ok_router()).await;
    let port = server.addr.port();
    let client = public_client(Reach {
        exempt: AllowList::new([format!("127.0.0.1:{port}"), format!("localhost:{port}")]).unwrap(),
        ..Reach::public()
    });
    for url in [server.url("/a"), server.localhost_url("/b")] {
        let response = client.send(Request::get(url)).await.unwrap();
        assert_eq!(response.status, StatusCode::OK);
    }
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_redirect_from_an_exempt_host_to_loopback_is_refused() {
    let target = Server::start(ok_router()).await;
    let location = target.url("/metrics");
    let redirector = Server::start(Router::new().route(
        "/{*path}",
        any(move || {
            let location = location.clone();
            async move {
                let mut response = AxumStatus::FOUND.into_response();
                response.headers_mut().insert(
                    header::LOCATION,
                    AxumHeaderValue::from_str(&location).unwrap(),
                );
                response
            }
        }),
    ))
    .await;
    let client = public_client(Reach {
        exempt: AllowList::new([format!("127.0.0.1:{}", redirector.addr.port())]).unwrap(),
        ..Reach::public()
    });
    let message = refusal(&client, &redirector.url("/go")).await;
    assert_eq!(message, "could not connect");
    assert_eq!(redirector.count(), 1);
    assert_eq!(target.count(), 0);
}

#[tokio::test]
async fn this_machines_own_address_is_refused_even_with_private_ranges_allowed() {
    let own = if_addrs::get_if_addrs()
        .unwrap()
        .into_iter()
        .map(|interface| interface.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback());
    let Some(own) = own else {
        eprintln!("no non-loopback IPv4 interface: nothing to test");
        return;
    };
    let listener = tokio::net::TcpListener::bind((own, 0)).await.unwrap();
    let server = Server::serve(listener, ok_router());
    let url = format!("http://{}/metrics", server.addr);
    let client = public_client(Reach {
        private: true,
        ..Reach::public()
    });
    assert_eq!(refusal(&client, &url).await, "could not connect");
    assert_eq!(server.count(), 0);
    // The same server is reachable when local addresses are.
    let response = public_client(Reach::any())
        .send(Request::get(url))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
}
