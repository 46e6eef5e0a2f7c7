//! The errors a call or a client build can end with.
//!
//! Every message is safe to show a script author and to store in history: URLs
//! in them are redacted (see [`crate::redact_url`]) and no header value, body or
//! credential ever appears.

use std::fmt;
use std::time::Duration;

/// Why a call produced no [`Response`](crate::Response).
///
/// A non-2xx status is never an error: it is a normal response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed, is not absolute, or is not `http`/`https`.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The request's host (or a redirect's) is not in the egress allow-list.
    /// Nothing was sent to that host.
    #[error("{}", disallowed_host_message(host, *port, *via_redirect))]
    DisallowedHost {
        /// The host that was refused, as it appears in the URL.
        host: String,
        /// The port, when the URL names a non-default one.
        port: Option<u16>,
        /// True when a redirect pointed at the host.
        via_redirect: bool,
    },

    /// The request itself cannot be sent as given (for example a credential
    /// that contains characters an HTTP header cannot carry).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },

    /// The call's own time budget ([`Policy::timeout`](crate::Policy::timeout)
    /// or [`Request::timeout`](crate::Request::timeout)) ran out.
    #[error("request to {url} timed out after {}", human_duration(*timeout))]
    Timeout {
        /// The request URL, redacted.
        url: String,
        /// The budget that ran out.
        timeout: Duration,
    },

    /// The caller's deadline ([`Request::deadline`](crate::Request::deadline))
    /// passed before the call could finish, or before it could start.
    #[error("request to {url} was stopped at the caller's deadline")]
    DeadlineExceeded {
        /// The request URL, redacted.
        url: String,
    },

    /// The response body is larger than
    /// [`Policy::max_response_bytes`](crate::Policy::max_response_bytes).
    #[error("{}", body_too_large_message(url, *limit, *content_length))]
    BodyTooLarge {
        /// The URL that answered, redacted.
        url: String,
        /// The limit in bytes.
        limit: u64,
        /// The size the server announced, when it did; otherwise the body was
        /// cut off as soon as it passed the limit.
        content_length: Option<u64>,
    },

    /// More redirects than [`Policy::max_redirects`](crate::Policy::max_redirects).
    #[error("too many redirects (more than {limit}) starting from {url}")]
    TooManyRedirects {
        /// The original request URL, redacted.
        url: String,
        /// The limit.
        limit: u32,
    },

    /// A redirect's `Location` is not a usable `http`/`https` URL.
    #[error("invalid redirect from {url} to `{location}`: {reason}")]
    InvalidRedirect {
        /// The URL that answered with the redirect, redacted.
        url: String,
        /// The `Location` header, redacted.
        location: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The request asked for [`RedirectMode::Error`](crate::RedirectMode::Error)
    /// and the server answered with a redirect.
    #[error("{url} redirected to `{location}` and the request does not allow redirects")]
    RedirectRejected {
        /// The URL that answered with the redirect, redacted.
        url: String,
        /// The `Location` header, redacted.
        location: String,
    },

    /// The connection could not be made or broke (DNS, refused, TLS, reset).
    #[error("request to {url} failed: {message}")]
    Connection {
        /// The URL being fetched, redacted.
        url: String,
        /// The cause chain, without URL or credentials.
        message: String,
    },

    /// The tokio runtime the [`Client`](crate::Client) runs its calls on has
    /// shut down.
    #[error("the HTTP client's runtime has shut down")]
    Shutdown,
}

/// Why a [`Client`](crate::Client) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No runtime was given and the builder was not called inside one.
    #[error(
        "no tokio runtime: build the HTTP client inside a tokio runtime or pass one with ClientBuilder::runtime"
    )]
    NoRuntime,

    /// A PEM root certificate could not be read.
    #[error("invalid root certificate: {0}")]
    InvalidCertificate(String),

    /// The TLS configuration could not be built, typically because the system
    /// has no CA certificates (the message says how to provide them).
    #[error("TLS setup failed: {0}")]
    Tls(String),

    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    Http(String),
}

fn disallowed_host_message(host: &str, port: Option<u16>, via_redirect: bool) -> String {
    let target = match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let what = if via_redirect {
        "a redirect to host"
    } else {
        "host"
    };
    let wildcard = match parent_domain(host) {
        Some(parent) => format!(" (or a wildcard pattern such as `*.{parent}`)"),
        None => String::new(),
    };
    format!(
        "{what} `{target}` is not in the egress allow-list; \
         to allow it, add `{target}`{wildcard} to the allowed hosts"
    )
}

/// `api.example.com` → `example.com`; none for an IP address or a name with
/// fewer than three labels (a wildcard over a whole top-level domain is no advice).
fn parent_domain(host: &str) -> Option<&str> {
    let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    match host.split_once('.') {
        Some((_, parent)) if !is_ip && parent.contains('.') => Some(parent),
        _ => None,
    }
}

fn body_too_large_message(url: &str, limit: u64, content_length: Option<u64>) -> String {
    let size = match content_length {
        Some(length) => format!("it announced {}", human_bytes(length)),
        None => format!("more than {} arrived", human_bytes(limit)),
    };
    format!(
        "response body from {url} exceeds the {} limit: {size}",
        human_bytes(limit)
    )
}

/// `33554432` → `32 MiB (33554432 bytes)`; small sizes stay in bytes.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            let shown = if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{value:.1} {unit}")
            };
            return format!("{shown} ({bytes} bytes)");
        }
    }
    format!("{bytes} bytes")
}

/// `1.5 s`, `250 ms`: how a person reads a wait or a timeout.
pub(crate) fn human_duration(duration: Duration) -> impl fmt::Display {
    struct Human(Duration);
    impl fmt::Display for Human {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.0 < Duration::from_secs(1) {
                write!(f, "{} ms", self.0.as_millis())
            } else {
                write!(f, "{:.1} s", self.0.as_secs_f64())
            }
        }
    }
    Human(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disallowed_host_names_the_host_and_how_to_allow_it() {
        let error = Error::DisallowedHost {
            host: "api.evil.example".into(),
            port: None,
            via_redirect: false,
        };
        assert_eq!(
            error.to_string(),
            "host `api.evil.example` is not in the egress allow-list; to allow it, add \
             `api.evil.example` (or a wildcard pattern such as `*.evil.example`) to the allowed hosts"
        );
    }

    #[test]
    fn disallowed_redirect_with_port_says_so() {
        let error = Error::DisallowedHost {
            host: "localhost".into(),
            port: Some(8080),
            via_redirect: true,
        };
        let message = error.to_string();
        assert_eq!(
            message,
            "a redirect to host `localhost:8080` is not in the egress allow-list; \
             to allow it, add `localhost:8080` to the allowed hosts"
        );
    }

    #[test]
    fn body_too_large_names_limit_and_size() {
        let error = Error::BodyTooLarge {
            url: "http://x/".into(),
            limit: 32 << 20,
            content_length: Some(40_000_000),
        };
        assert_eq!(
            error.to_string(),
            "response body from http://x/ exceeds the 32 MiB (33554432 bytes) limit: \
             it announced 38.1 MiB (40000000 bytes)"
        );
        let streamed = Error::BodyTooLarge {
            url: "http://x/".into(),
            limit: 1000,
            content_length: None,
        };
        assert_eq!(
            streamed.to_string(),
            "response body from http://x/ exceeds the 1000 bytes limit: more than 1000 bytes arrived"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(
            human_duration(Duration::from_millis(250)).to_string(),
            "250 ms"
        );
        assert_eq!(
            human_duration(Duration::from_millis(1500)).to_string(),
            "1.5 s"
        );
    }
}
