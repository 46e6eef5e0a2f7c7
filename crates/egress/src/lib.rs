//! Clockwork's one outbound HTTP policy point.
//!
//! Every HTTP call a script makes — Jira and Confluence product requests,
//! `fetch` to other hosts — and the scheduler's alert webhooks go through a
//! [`Client`]. It owns:
//!
//! - the egress allow-list ([`AllowList`], [`HostPattern`]), checked before
//!   anything is sent and again for every redirect hop;
//! - the addresses a call may connect to ([`Reach`]: loopback, link-local,
//!   this machine's own and private addresses), checked on the address
//!   actually connected to, after DNS, on every hop;
//! - the limits of a call ([`Policy`]): time budget, caller deadline, response
//!   size, redirect count;
//! - credentials ([`Auth`]), never forwarded to another origin on redirect;
//! - rate-limit retries for product requests: 429/503 honouring `Retry-After`
//!   or `X-RateLimit-Reset`, else exponential backoff with jitter, each retry
//!   reported live to an [`Observer`];
//! - one [`CallRecord`] per logical call for run history, with credentials
//!   redacted from the URL ([`redact_url`]);
//! - TLS (rustls with the `ring` provider and the platform's trust roots).
//!
//! A call is a [`Request`] in, a [`Response`] or a typed [`Error`] out. Any
//! HTTP status is a response; errors are only for calls that produced none.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use egress::{AllowList, Auth, Client, Method, Policy, Request};
//!
//! let client = Client::new(Policy {
//!     allowed_hosts: AllowList::new(["*.atlassian.net"])?,
//!     ..Policy::default()
//! })?;
//! let response = client
//!     .send(
//!         Request::new(Method::GET, "https://acme.atlassian.net/rest/api/3/myself")
//!             .auth(Auth::Basic { email: "me@acme.com".into(), api_token: "…".into() })
//!             .retry_rate_limited(true),
//!     )
//!     .await?;
//! println!("{} {}", response.status, response.body.len());
//! # Ok(()) }
//! ```
//!
//! This crate knows nothing about JavaScript, scripts, jobs, runs or
//! databases: callers map requests, responses and records to those.

#![deny(missing_docs)]

mod client;
mod error;
mod observe;
mod policy;
mod ratelimit;
mod reach;
mod redact;
mod request;
mod tls;

pub use crate::client::{Client, ClientBuilder};
pub use crate::error::{BuildError, Error};
pub use crate::observe::{CallRecord, Observer, RetryNotice, WaitReason};
pub use crate::policy::{AllowList, HostPattern, PatternError, Policy};
pub use crate::reach::Reach;
pub use crate::redact::{redact_path, redact_url};
pub use crate::request::{Auth, RedirectMode, Request, Response};
pub use bytes::Bytes;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode, Url};
