//! A TCP relay that stands between a process under test and its database,
//! and that the test can cut: every relayed connection is closed and
//! nothing listens on its port any more (a connection attempt is refused),
//! exactly what a process sees when the network to its database goes
//! away. [`Relay::restore`] listens again on the same port.
//!
//! Plain threads and blocking sockets, so it serves processes of any kind
//! (a `clockwork serve` child, a store in the test's own runtime) without
//! tying the test to an async runtime.

use std::{
    io,
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

/// Forwards every connection made to [`Relay::addr`] to its target until
/// cut; stops (cuts) when dropped.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    target: String,
    listening: Mutex<Option<Listening>>,
}

#[derive(Debug)]
struct Listening {
    cut: Arc<AtomicBool>,
    accept: JoinHandle<()>,
    /// Both sockets of every relayed connection, to close them on a cut.
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    /// Starts relaying a free port of 127.0.0.1 to `target` (`host:port`).
    ///
    /// # Panics
    /// When no port can be bound: a test cannot go on.
    pub fn start(target: &str) -> Relay {
        #[allow(clippy::expect_used)] // a harness: failing loudly is its report
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port for the relay");
        #[allow(clippy::expect_used)]
        let addr = listener.local_addr().expect("the relay's address");
        let relay = Relay {
            addr,
            target: target.to_owned(),
            listening: Mutex::new(None),
        };
        relay.listen_on(listener);
        relay
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (one naming the target's `host:port`) naming the relay instead.
    pub fn url_for(&self, url: &str) -> String {
        url.replacen(&self.target, &self.addr.to_string(), 1)
    }

    /// Closes every relayed connection and stops listening; returns once
    /// the port refuses connections. Does nothing when already cut.
    pub fn cut(&self) {
        let listening = self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(listening) = listening else {
            return;
        };
        listening.cut.store(true, Ordering::SeqCst);
        // Wakes the blocking accept, which then sees the cut and returns,
        // closing the listener.
        let _ = TcpStream::connect(self.addr);
        let _ = listening.accept.join();
        let sockets = std::mem::take(
            &mut *listening
                .sockets
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Listens again on the same port (after [`Relay::cut`]).
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub fn restore(&self) {
        if self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return;
        }
        #[allow(clippy::expect_used)]
        let listener = TcpListener::bind(self.addr).expect("the relay's port again");
        self.listen_on(listener);
    }

    fn listen_on(&self, listener: TcpListener) {
        let cut = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let cut = cut.clone();
            let sockets = sockets.clone();
            let target = self.target.clone();
            std::thread::spawn(move || accept_until_cut(&listener, &target, &cut, &sockets))
        };
        *self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Listening {
            cut,
            accept,
            sockets,
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

fn accept_until_cut(
    listener: &TcpListener,
    target: &str,
    cut: &AtomicBool,
    sockets: &Mutex<Vec<TcpStream>>,
) {
    for inbound in listener.incoming() {
        if cut.load(Ordering::SeqCst) {
            return;
        }
        let Ok(inbound) = inbound else { continue };
        let Ok(outbound) = TcpStream::connect(target) else {
            continue;
        };
        // Registered before the copying starts, so a cut closes it.
        let registered = (|| -> io::Result<()> {
            let mut all = sockets.lock().unwrap_or_else(PoisonError::into_inner);
            all.push(inbound.try_clone()?);
            all.push(outbound.try_clone()?);
            Ok(())
        })();
        if registered.is_err() {
            continue;
        }
        pipe(inbound.try_clone(), outbound.try_clone());
        pipe(Ok(outbound), Ok(inbound));
    }
}

/// Copies `from` to `to` on a thread of its own until either closes.
fn pipe(from: io::Result<TcpStream>, to: io::Result<TcpStream>) {
    let (Ok(mut from), Ok(mut to)) = (from, to) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// `host:port` of a `postgres://user@host:port/db?…` URL.
pub fn host_and_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split(['/', '?']).next().unwrap_or(rest)
}
