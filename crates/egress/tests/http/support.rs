//! Real local servers (axum on 127.0.0.1, port 0, plain or TLS; a raw TCP
//! responder for answers axum cannot give) that record every request they
//! receive, and an observer that keeps what it is told.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Version};
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use egress::{CallRecord, Client, Observer, Policy, RetryNotice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) at: Instant,
    pub(crate) wall: jiff::Timestamp,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `router` over plain HTTP on 127.0.0.1, recording every request.
    pub(crate) async fn start(router: Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Server::serve(listener, router)
    }

    /// Serves `router` on an already bound listener (plain or TLS).
    pub(crate) fn serve<L>(listener: L, router: Router) -> Server
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr().unwrap();
        let log = Log::default();
        let app = router.layer(middleware::from_fn_with_state(log.clone(), record));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, log, task }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The same server named `localhost`: another host to the client.
    pub(crate) fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub(crate) fn only_request(&self) -> Seen {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:#?}"
        );
        requests.into_iter().next().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let at = Instant::now();
    let wall = jiff::Timestamp::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        version: parts.version,
        headers: parts.headers.clone(),
        body: body.clone(),
        at,
        wall,
    });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A TCP server that answers every connection with `response` verbatim (for
/// reason phrases and chunked bodies axum does not produce) and counts them.
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RawServer {
    pub(crate) async fn start(response: Vec<u8>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let response = Arc::new(response);
        let task = tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let response = response.clone();
                tokio::spawn(async move {
                    read_request_head(&mut socket).await;
                    // The client may hang up early (body too large): fine.
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        RawServer { addr, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request_head(socket: &mut tokio::net::TcpStream) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = socket.read(&mut buffer).await.unwrap();
        if read == 0 {
            return;
        }
        head.extend_from_slice(&buffer[..read]);
    }
}

/// Keeps what the client reports about a call; optionally forwards records
/// to a channel so a test can await one.
#[derive(Default)]
pub(crate) struct Watch {
    retries: Mutex<Vec<RetryNotice>>,
    records: Mutex<Vec<CallRecord>>,
    forward: Option<mpsc::UnboundedSender<CallRecord>>,
}

impl Watch {
    pub(crate) fn new() -> Arc<Watch> {
        Arc::new(Watch::default())
    }

    pub(crate) fn with_channel() -> (Arc<Watch>, mpsc::UnboundedReceiver<CallRecord>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let watch = Watch {
            forward: Some(sender),
            ..Watch::default()
        };
        (Arc::new(watch), receiver)
    }

    pub(crate) fn retries(&self) -> Vec<RetryNotice> {
        self.retries.lock().unwrap().clone()
    }

    /// The single record of the single call this watch observed.
    pub(crate) fn record(&self) -> CallRecord {
        let records = self.records.lock().unwrap();
        assert_eq!(
            records.len(),
            1,
            "expected exactly one record: {records:#?}"
        );
        records[0].clone()
    }
}

impl Observer for Watch {
    fn on_retry(&self, retry: &RetryNotice) {
        self.retries.lock().unwrap().push(retry.clone());
    }

    fn on_complete(&self, record: &CallRecord) {
        self.records.lock().unwrap().push(record.clone());
        if let Some(forward) = &self.forward {
            let _ = forward.send(record.clone());
        }
    }
}

/// The default policy with millisecond backoff, so retries without server
/// hints do not slow the suite.
pub(crate) fn fast_policy() -> Policy {
    Policy {
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(5),
        ..Policy::default()
    }
}

pub(crate) fn client() -> Client {
    Client::new(fast_policy()).unwrap()
}
