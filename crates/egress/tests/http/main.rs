//! The client against real HTTP servers on 127.0.0.1. One test binary (one
//! link) with a module per concern.

// Test code may unwrap (clippy allows it in #[test] functions, not in the
// helpers and handlers they share).
#![allow(clippy::unwrap_used)]

mod calls;
mod limits;
mod reach;
mod redirects;
mod retries;
mod runtimes;
mod support;
mod tls;
