//! Size and time limits, and calls abandoned by their caller.

use std::io::Write;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue as AxumHeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use egress::{Client, Error, Policy, Request};
use tokio::sync::mpsc;

use crate::support::{RawServer, Server, Watch, client, fast_policy};

fn bytes_router() -> Router {
    Router::new()
        .route(
            "/bytes/{n}",
            get(|Path(n): Path<usize>| async move { vec![b'x'; n] }),
        )
        .route(
            "/gzip/{n}",
            get(|Path(n): Path<usize>| async move {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&vec![b'z'; n]).unwrap();
                let mut response = encoder.finish().unwrap().into_response();
                response.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    AxumHeaderValue::from_static("gzip"),
                );
                response
            }),
        )
}

const MIB: usize = 1 << 20;

#[tokio::test]
async fn a_12_mb_body_arrives_whole_under_the_default_cap() {
    let server = Server::start(bytes_router()).await;
    let watch = Watch::new();
    let size = 12_000_000;
    let response = client()
        .send(Request::get(server.url(&format!("/bytes/{size}"))).observer(watch.clone()))
        .await
        .unwrap();
    assert_eq!(response.body.len(), size);
    assert!(response.body.iter().all(|b| *b == b'x'));
    assert_eq!(watch.record().response_size, Some(size as u64));
}

#[tokio::test]
async fn a_body_announced_over_the_default_cap_fails_naming_limit_and_size() {
    let server = Server::start(bytes_router()).await;
    let watch = Watch::new();
    let size = 32 * MIB + 1;
    let url = server.url(&format!("/bytes/{size}"));
    let error = client()
        .send(Request::get(url.clone()).observer(watch.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::BodyTooLarge {
            url: url.clone(),
            limit: 32 * MIB as u64,
            content_length: Some(size as u64),
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "response body from {url} exceeds the 32 MiB (33554432 bytes) limit: \
             it announced 32.0 MiB (33554433 bytes)"
        )
    );
    assert_eq!(watch.record().error, Some(error.to_string()));
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_once_past_the_cap() {
    // 3 chunks of 400 KiB, no Content-Length, against a 1 MiB cap.
    let chunk = vec![b'c'; 400 * 1024];
    let mut raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let server = RawServer::start(raw).await;
    let client = Client::new(Policy {
        max_response_bytes: MIB as u64,
        ..fast_policy()
    })
    .unwrap();
    let error = client
        .send(Request::get(server.url("/")))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::BodyTooLarge {
            url: server.url("/"),
            limit: MIB as u64,
            content_length: None,
        }
    );
    assert!(
        error
            .to_string()
            .ends_with("more than 1 MiB (1048576 bytes) arrived")
    );
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_the_cap_applies_to_the_decoded_size() {
    let server = Server::start(bytes_router()).await;
    let response = client()
        .send(Request::get(server.url("/gzip/5000")))
        .await
        .unwrap();
    assert_eq!(response.body.len(), 5000);
    assert!(response.body.iter().all(|b| *b == b'z'));
    let accepted = server.only_request();
    assert!(
        accepted.header("accept-encoding").unwrap().contains("gzip"),
        "{accepted:?}"
    );

    // 2 MiB of zeros compress to a few KiB: a small download, a big body.
    let capped = Client::new(Policy {
        max_response_bytes: MIB as u64,
        ..fast_policy()
    })
    .unwrap();
    let error = capped
        .send(Request::get(server.url(&format!("/gzip/{}", 2 * MIB))))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::BodyTooLarge {
                content_length: None,
                ..
            }
        ),
        "{error:?}"
    );
}

/// A server whose handler never answers; it tells the test each time a
/// request has arrived.
async fn silent_server() -> (Server, mpsc::UnboundedReceiver<()>) {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let router = Router::new().route(
        "/{*path}",
        get(move || {
            let _ = arrived.send(());
            async {
                std::future::pending::<()>().await;
            }
        }),
    );
    (Server::start(router).await, arrivals)
}

#[tokio::test]
async fn a_call_that_takes_too_long_times_out() {
    let (server, _arrivals) = silent_server().await;
    let client = Client::new(Policy {
        timeout: Duration::from_millis(200),
        ..fast_policy()
    })
    .unwrap();
    let watch = Watch::new();
    let error = client
        .send(Request::get(server.url("/slow")).observer(watch.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::Timeout {
            url: server.url("/slow"),
            timeout: Duration::from_millis(200)
        }
    );
    assert_eq!(
        error.to_string(),
        format!("request to {} timed out after 200 ms", server.url("/slow"))
    );
    assert_eq!(watch.record().error, Some(error.to_string()));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_request_timeout_overrides_the_policy() {
    let (server, _arrivals) = silent_server().await;
    let error = client()
        .send(Request::get(server.url("/slow")).timeout(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(100)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_deadline_reached_during_a_request_stops_it() {
    let (server, _arrivals) = silent_server().await;
    let deadline = Instant::now() + Duration::from_millis(200);
    let error = client()
        .send(Request::get(server.url("/slow")).deadline(deadline))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DeadlineExceeded {
            url: server.url("/slow")
        }
    );
    assert!(Instant::now() >= deadline);
}

#[tokio::test]
async fn an_abandoned_call_is_recorded_as_cancelled() {
    // The caller stops awaiting (as a run's timeout does): the call is aborted
    // on the client's runtime and leaves a record saying so.
    let (server, mut arrivals) = silent_server().await;
    let (watch, mut records) = Watch::with_channel();
    let call = client().send(Request::get(server.url("/slow")).observer(watch.clone()));
    let running = tokio::spawn(call);
    arrivals.recv().await.unwrap();
    running.abort();
    let record = records.recv().await.unwrap();
    assert_eq!(record.status, None);
    assert!(
        record.error.as_deref().unwrap().starts_with("cancelled"),
        "{record:?}"
    );
    assert_eq!(watch.record(), record);
}
