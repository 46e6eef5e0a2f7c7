//! HTTPS through rustls with the ring provider: a local TLS server whose
//! certificate is signed by a test CA the client is told to trust.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::Version;
use axum::routing::get;
use egress::{BuildError, Client, Error, Policy, Request, StatusCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::support::Server;

const CA: &[u8] = include_bytes!("../fixtures/ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("../fixtures/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("../fixtures/server.key");

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects our certificate ends the handshake: wait
            // for the next connection.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn tls_server() -> Server {
    let certificates = CertificateDer::pem_slice_iter(SERVER_CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = TlsListener {
        tcp: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    Server::serve(
        listener,
        Router::new().route("/secure", get(|| async { "sealed" })),
    )
}

fn https_url(server: &Server, host: &str) -> String {
    format!("https://{host}:{}/secure", server.addr.port())
}

#[tokio::test]
async fn https_works_with_a_trusted_root_and_negotiates_http2() {
    let server = tls_server().await;
    let client = Client::builder()
        .add_root_certificates_pem(CA)
        .unwrap()
        .build()
        .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let response = client
            .send(Request::get(https_url(&server, host)))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(&response.body[..], b"sealed");
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.version == Version::HTTP_2),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connection_error() {
    let server = tls_server().await;
    // Platform roots only: the test CA is unknown.
    let client = Client::new(Policy::default()).unwrap();
    let error = client
        .send(Request::get(https_url(&server, "localhost")))
        .await
        .unwrap_err();
    let Error::Connection { message, .. } = &error else {
        panic!("expected a connection error, got {error:?}");
    };
    assert!(message.contains("certificate"), "{message}");
    assert_eq!(server.count(), 0);
}

#[test]
fn garbage_root_certificates_are_rejected() {
    let error = Client::builder()
        .add_root_certificates_pem(b"not a certificate")
        .unwrap_err();
    assert!(
        matches!(error, BuildError::InvalidCertificate(_)),
        "{error:?}"
    );
}

/// Runs `child_builds_clients` in a child process whose environment points
/// the platform trust store at an empty file: no CA certificate at all.
#[test]
fn without_any_ca_certificate_building_fails_clearly_unless_roots_are_added() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tls::child_builds_clients",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", "/dev/null")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(
            "platform roots only: TLS setup failed: cannot load trust roots (unexpected error: \
             No CA certificates were loaded from the system); install the system CA bundle \
             (ca-certificates), point SSL_CERT_FILE at a PEM bundle, or add roots with \
             ClientBuilder::add_root_certificates_pem"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("with the test CA: 200 sealed"), "{stdout}");
}

#[tokio::test]
#[ignore = "run in a child process by the test above, with SSL_CERT_FILE=/dev/null"]
async fn child_builds_clients() {
    match Client::new(Policy::default()) {
        Ok(_) => println!("platform roots only: built"),
        Err(error) => println!("platform roots only: {error}"),
    }
    let server = tls_server().await;
    let client = Client::builder()
        .add_root_certificates_pem(CA)
        .unwrap()
        .build()
        .unwrap();
    let response = client
        .send(Request::get(https_url(&server, "localhost")))
        .await
        .unwrap();
    println!(
        "with the test CA: {} {}",
        response.status.as_u16(),
        String::from_utf8_lossy(&response.body)
    );
}
