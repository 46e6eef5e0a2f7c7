//! Many calls at once, and a client shared by several tokio runtimes.

use axum::Router;
use axum::routing::get;
use egress::{BuildError, Client, Error, Policy, Request, StatusCode};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::support::{Server, client};

fn echo_router() -> Router {
    Router::new().route(
        "/n/{n}",
        get(|axum::extract::Path(n): axum::extract::Path<u32>| async move { n.to_string() }),
    )
}

/// Sends `count` calls at once and checks each got its own answer.
async fn call_many(client: &Client, server_url: impl Fn(u32) -> String, count: u32) {
    let mut calls = JoinSet::new();
    for n in 0..count {
        calls.spawn(client.send(Request::get(server_url(n))));
    }
    let mut answered = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let response = joined.unwrap().unwrap();
        assert_eq!(response.status, StatusCode::OK);
        answered.push(String::from_utf8(response.body.to_vec()).unwrap());
    }
    answered.sort_by_key(|n| n.parse::<u32>().unwrap());
    let expected: Vec<String> = (0..count).map(|n| n.to_string()).collect();
    assert_eq!(answered, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_all_succeed() {
    let server = Server::start(echo_router()).await;
    call_many(&client(), |n| server.url(&format!("/n/{n}")), 200).await;
    assert_eq!(server.count(), 200);
}

fn multi_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn one_client_serves_callers_on_other_runtimes_that_come_and_go() {
    let home = multi_thread_runtime();
    let (server, client) = home.block_on(async {
        let server = Server::start(echo_router()).await;
        let client = Client::new(Policy::default()).unwrap();
        (server, client)
    });
    let base = server.url("/n");
    // Each caller runtime makes 100 concurrent calls, then is dropped with
    // connections in the pool; the next one must not inherit dead ones.
    for _ in 0..3 {
        let caller = current_thread_runtime();
        caller.block_on(call_many(&client, |n| format!("{base}/{n}"), 100));
        drop(caller);
    }
    // Plain threads without any runtime can use it too, through a runtime
    // of their own.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                current_thread_runtime().block_on(call_many(
                    &client,
                    |n| format!("{base}/{n}"),
                    50,
                ));
            });
        }
    });
    home.block_on(async { assert_eq!(server.count(), 400) });
}

#[test]
fn calls_after_the_clients_runtime_shut_down_fail_with_shutdown() {
    let home = current_thread_runtime();
    let client = home.block_on(async { Client::new(Policy::default()).unwrap() });
    drop(home);
    let error = current_thread_runtime()
        .block_on(client.send(Request::get("http://127.0.0.1:9/")))
        .unwrap_err();
    assert_eq!(error, Error::Shutdown);
}

#[test]
fn building_outside_a_runtime_needs_one_given() {
    let error = Client::new(Policy::default()).unwrap_err();
    assert!(matches!(error, BuildError::NoRuntime), "{error:?}");

    let runtime = multi_thread_runtime();
    let client = Client::builder()
        .runtime(runtime.handle().clone())
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(echo_router()));
    let response = runtime
        .block_on(client.send(Request::get(server.url("/n/7"))))
        .unwrap();
    assert_eq!(&response.body[..], b"7");
}

#[test]
fn the_call_future_is_send_and_static() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let runtime = current_thread_runtime();
    let _guard = runtime.enter();
    let client = Client::new(Policy::default()).unwrap();
    let future = client.send(Request::get("http://127.0.0.1:9/"));
    drop(client);
    assert_send_static(&future);
}
