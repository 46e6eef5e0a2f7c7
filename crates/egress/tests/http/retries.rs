//! Rate-limit retries of product requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::any;
use egress::{Client, Error, Method, Policy, Request, StatusCode, WaitReason};

use crate::support::{Server, Watch, client, fast_policy};

/// Answers the first `limited` requests with `status` and `headers()`, then 200.
fn limited_router(
    limited: usize,
    status: AxumStatus,
    headers: impl Fn() -> Vec<(&'static str, String)> + Clone + Send + Sync + 'static,
) -> Router {
    let answered = Arc::new(AtomicUsize::new(0));
    Router::new().route(
        "/{*path}",
        any(move || {
            let headers = headers.clone();
            let answered = answered.clone();
            async move {
                if answered.fetch_add(1, Ordering::SeqCst) < limited {
                    let mut map = HeaderMap::new();
                    for (name, value) in headers() {
                        map.insert(name, value.parse().unwrap());
                    }
                    (status, map, "slow down").into_response()
                } else {
                    "done".into_response()
                }
            }
        }),
    )
}

fn retry_after(value: &'static str) -> impl Fn() -> Vec<(&'static str, String)> + Clone {
    move || vec![("retry-after", value.to_owned())]
}

fn product_request(url: String, watch: &Arc<Watch>) -> Request {
    Request::get(url)
        .retry_rate_limited(true)
        .observer(watch.clone())
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_retried() {
    let server = Server::start(limited_router(
        1,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("1"),
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/rest/api/3/search"), &watch))
        .await
        .unwrap();

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"done");
    let retries = watch.retries();
    assert_eq!(retries.len(), 1);
    let retry = &retries[0];
    assert_eq!(retry.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((retry.retry, retry.max_retries), (1, 4));
    assert_eq!(retry.wait, Duration::from_secs(1));
    assert_eq!(retry.reason, WaitReason::RetryAfter);
    assert_eq!(retry.method, Method::GET);
    assert_eq!(retry.url, server.url("/rest/api/3/search"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].at.duration_since(requests[0].at) >= Duration::from_secs(1),
        "the retry came before Retry-After elapsed"
    );
    let record = watch.record();
    assert_eq!((record.status, record.retries), (Some(200), 1));
}

#[tokio::test]
async fn a_503_is_retried_too() {
    let server = Server::start(limited_router(
        1,
        AxumStatus::SERVICE_UNAVAILABLE,
        retry_after("0"),
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/wiki/api/v2/pages"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let retries = watch.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn after_max_retries_the_last_429_is_returned() {
    let server = Server::start(limited_router(
        usize::MAX,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("0"),
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/x"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(&response.body[..], b"slow down");
    let numbers: Vec<u32> = watch.retries().iter().map(|r| r.retry).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(server.count(), 5);
    let record = watch.record();
    assert_eq!((record.status, record.retries), (Some(429), 4));
}

#[tokio::test]
async fn without_hints_it_backs_off_exponentially() {
    let server = Server::start(limited_router(2, AxumStatus::TOO_MANY_REQUESTS, Vec::new)).await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/x"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let retries = watch.retries();
    assert_eq!(retries.len(), 2);
    for retry in &retries {
        assert_eq!(retry.reason, WaitReason::Backoff);
    }
    // fast_policy: base 1 ms → first wait in [0.5, 1) ms, second in [1, 2) ms.
    assert!(
        retries[0].wait < Duration::from_millis(1),
        "{:?}",
        retries[0].wait
    );
    assert!(
        retries[1].wait >= Duration::from_millis(1),
        "{:?}",
        retries[1].wait
    );
}

#[tokio::test]
async fn x_ratelimit_reset_is_honoured() {
    let reset_at = Arc::new(std::sync::Mutex::new(None::<jiff::Timestamp>));
    let reset_for_server = reset_at.clone();
    let server = Server::start(limited_router(
        1,
        AxumStatus::TOO_MANY_REQUESTS,
        move || {
            let reset = jiff::Timestamp::now() + Duration::from_millis(300);
            *reset_for_server.lock().unwrap() = Some(reset);
            vec![("x-ratelimit-reset", reset.to_string())]
        },
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/x"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let retries = watch.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].reason, WaitReason::RateLimitReset);
    assert!(retries[0].wait <= Duration::from_millis(300));
    let reset = reset_at.lock().unwrap().unwrap();
    let retried = &server.requests()[1];
    assert!(
        retried.wall >= reset,
        "retried at {} before the reset at {reset}",
        retried.wall
    );
}

#[tokio::test]
async fn fetch_style_requests_get_the_429_as_is() {
    let server = Server::start(limited_router(
        1,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("0"),
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(Request::get(server.url("/x")).observer(watch.clone()))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(watch.retries().is_empty());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_retry_that_would_pass_the_deadline_is_not_taken() {
    let server = Server::start(limited_router(
        usize::MAX,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("30"),
    ))
    .await;
    let watch = Watch::new();
    let started = Instant::now();
    let response = client()
        .send(product_request(server.url("/x"), &watch).deadline(started + Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(watch.retries().is_empty());
    assert_eq!(server.count(), 1);
    assert_eq!(watch.record().retries, 0);
}

#[tokio::test]
async fn a_retry_that_would_pass_the_timeout_is_not_taken() {
    let server = Server::start(limited_router(
        usize::MAX,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("120"),
    ))
    .await;
    let watch = Watch::new();
    let response = client()
        .send(product_request(server.url("/x"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(watch.retries().is_empty());
}

#[tokio::test]
async fn retries_stop_at_the_deadline_even_with_retries_left() {
    // Each answer asks for 1 s. With 1.5 s to the deadline the first wait
    // fits and the second does not: one retry, then the second 429 is returned.
    let server = Server::start(limited_router(
        usize::MAX,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("1"),
    ))
    .await;
    let watch = Watch::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let response = client()
        .send(product_request(server.url("/x"), &watch).deadline(deadline))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(watch.retries().len(), 1);
    assert_eq!(server.count(), 2);
    assert!(server.requests().iter().all(|seen| seen.at < deadline));
    assert_eq!(watch.record().retries, 1);
}

#[tokio::test]
async fn a_deadline_already_passed_sends_nothing() {
    let server = Server::start(limited_router(0, AxumStatus::OK, Vec::new)).await;
    let watch = Watch::new();
    let error = client()
        .send(product_request(server.url("/x"), &watch).deadline(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::DeadlineExceeded {
            url: server.url("/x")
        }
    );
    assert_eq!(server.count(), 0);
    assert_eq!(watch.record().error, Some(error.to_string()));
}

#[tokio::test]
async fn a_post_body_is_sent_again_on_retry() {
    let server = Server::start(limited_router(
        1,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("0"),
    ))
    .await;
    let watch = Watch::new();
    client()
        .send(
            Request::new(Method::POST, server.url("/rest/api/3/issue"))
                .body(r#"{"fields":{}}"#)
                .retry_rate_limited(true)
                .observer(watch.clone()),
        )
        .await
        .unwrap();
    let bodies: Vec<_> = server.requests().into_iter().map(|s| s.body).collect();
    assert_eq!(bodies, [r#"{"fields":{}}"#, r#"{"fields":{}}"#]);
}

#[tokio::test]
async fn max_retries_is_configurable() {
    let server = Server::start(limited_router(
        usize::MAX,
        AxumStatus::TOO_MANY_REQUESTS,
        retry_after("0"),
    ))
    .await;
    let client = Client::new(Policy {
        max_retries: 1,
        ..fast_policy()
    })
    .unwrap();
    let watch = Watch::new();
    let response = client
        .send(product_request(server.url("/x"), &watch))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.count(), 2);
}
