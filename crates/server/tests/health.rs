//! `/healthz` checks the database: 200 while it answers a query, a 503
//! problem document (`database-unavailable`) while it cannot, and 200
//! again once it is back. The
//! PostgreSQL case reaches the database through a TCP relay in the test,
//! which is cut (every connection closed, nothing listening) and restored
//! on the same port: a real network outage, not a stub.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::{net::SocketAddr, time::Duration};

use common::{Reply, TestServer, postgres_url};
use store::Store;
use test_support::PgSchema;
use tokio::{
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// Forwards every connection made to `addr` to `target` until cut.
struct Relay {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(bind: SocketAddr, target: String) -> Relay {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            // Owned by this task: aborting it drops (and aborts) every
            // connection's task, closing both of its sockets.
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { addr, accept }
    }

    /// Closes every relayed connection and stops listening.
    async fn cut(self) -> SocketAddr {
        self.accept.abort();
        let _ = self.accept.await;
        self.addr
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_and_port(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap()
}

async fn healthz(server: &TestServer) -> Reply {
    // Bounded by the endpoint's own 2 s database timeout; the client's
    // limit only turns a hang (the bug this guards against) into a failure.
    let request = server
        .client
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(10));
    server.send(request).await
}

fn assert_unavailable(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(
        reply.body["type"],
        "urn:clockwork:problem:database-unavailable"
    );
    assert_eq!(reply.body["status"], 503);
    assert_eq!(reply.body["instance"], "/healthz");
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains("database"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_the_database_and_is_503_once_the_sqlite_store_is_closed() {
    let server = TestServer::sqlite().await;
    let reply = healthz(&server).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "ok");
    assert_eq!(reply.body["database"], "sqlite");
    server.store.close().await;
    assert_unavailable(&healthz(&server).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_while_postgres_is_unreachable_and_200_once_it_is_back() {
    let schema = PgSchema::create("health_test").await;
    let target = host_and_port(&postgres_url()).to_owned();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), target.clone()).await;
    // The schema's URL, through the relay.
    let url = schema.url().replacen(&target, &relay.addr.to_string(), 1);
    let outcome = tokio::spawn(async move {
        let store = Store::open(&url).await.unwrap();
        let server = TestServer::start(store, None).await;
        let reply = healthz(&server).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["database"], "postgres");

        let addr = relay.cut().await;
        assert_unavailable(&healthz(&server).await);
        // Still unavailable on a second look (no cached answer either way).
        assert_unavailable(&healthz(&server).await);

        let relay = Relay::start(addr, target).await;
        let started = std::time::Instant::now();
        loop {
            let reply = healthz(&server).await;
            if reply.status == 200 {
                assert_eq!(reply.body["status"], "ok");
                break;
            }
            assert_unavailable(&reply);
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "healthz stayed 503 after the database came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.stop().await;
        relay.cut().await;
    })
    .await;
    schema.drop().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
