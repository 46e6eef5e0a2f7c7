//! What a caller asks for, and what it gets back.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::Error;
use crate::observe::Observer;
use crate::redact::redact_url;

/// One logical HTTP call.
///
/// ```
/// use egress::{Auth, Method, Request};
/// let request = Request::new(Method::GET, "https://acme.atlassian.net/rest/api/3/myself")
///     .auth(Auth::Basic { email: "me@acme.com".into(), api_token: "…".into() })
///     .retry_rate_limited(true);
/// # let _ = request;
/// ```
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) auth: Auth,
    pub(crate) retry_rate_limited: bool,
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) redirect: RedirectMode,
    pub(crate) observer: Option<Arc<dyn Observer>>,
}

impl Request {
    /// A request with no headers, body or auth that follows redirects and does
    /// not retry. `url` must be absolute `http` or `https`; it is checked when
    /// the request is sent, so a bad URL is reported (and recorded) like any
    /// other failed call.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            auth: Auth::None,
            retry_rate_limited: false,
            deadline: None,
            timeout: None,
            redirect: RedirectMode::Follow,
            observer: None,
        }
    }

    /// `Request::new(Method::GET, url)`.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new(Method::GET, url)
    }

    /// Adds a header value (repeated names are kept, in order).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Replaces all headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body. It is sent again, unchanged, on retries and on 307/308
    /// redirects; `Bytes` makes that free.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the credentials to send; other variants than [`Auth::None`]
    /// replace any `Authorization` header the caller set. With `Auth::None`
    /// (the default) the caller's header is sent as is, or, when there is
    /// none, a URL's `user:password@` as Basic credentials (as curl does).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Retry 429 and 503 answers (honouring `Retry-After`): true for
    /// Jira/Confluence product requests; plain `fetch` leaves it false and
    /// receives such answers as they are.
    pub fn retry_rate_limited(mut self, retry: bool) -> Self {
        self.retry_rate_limited = retry;
        self
    }

    /// An instant the call never runs past: it is not started after it, is
    /// stopped at it ([`Error::DeadlineExceeded`]), and a retry wait that would
    /// end after it is not taken (the rate-limited response is returned).
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Overrides [`Policy::timeout`](crate::Policy::timeout) for this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How redirects are handled; default [`RedirectMode::Follow`].
    pub fn redirect(mut self, mode: RedirectMode) -> Self {
        self.redirect = mode;
        self
    }

    /// Receives this call's retries as they happen and its [`CallRecord`](crate::CallRecord)
    /// when it ends (also when it fails or is abandoned).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// Shows no secret: the URL redacted, header names without values.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &header_names)
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .field("auth", &self.auth)
            .field("retry_rate_limited", &self.retry_rate_limited)
            .field("deadline", &self.deadline)
            .field("timeout", &self.timeout)
            .field("redirect", &self.redirect)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// Credentials a request carries. Never forwarded to another host on redirect.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// Nothing is added (a plain `fetch`).
    #[default]
    None,
    /// Atlassian Cloud API token: `Authorization: Basic base64(email:api_token)`.
    Basic {
        /// The account's email.
        email: String,
        /// The API token.
        api_token: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl Auth {
    /// The `Authorization` value, marked sensitive so it never shows in debug output.
    pub(crate) fn header_value(&self) -> Result<Option<HeaderValue>, Error> {
        let text = match self {
            Auth::None => return Ok(None),
            Auth::Basic { email, api_token } => {
                let pair = format!("{email}:{api_token}");
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            Auth::Bearer(token) => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| Error::InvalidRequest {
            reason: "the credential contains characters an HTTP header cannot carry".to_owned(),
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { email, .. } => f
                .debug_struct("Basic")
                .field("email", email)
                .field("api_token", &"<redacted>")
                .finish(),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// What to do when the server answers with a redirect (fetch's `redirect`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedirectMode {
    /// Follow up to [`Policy::max_redirects`](crate::Policy::max_redirects)
    /// hops, each checked against the allow-list; credentials and cookies are
    /// dropped when a hop changes scheme, host or port.
    #[default]
    Follow,
    /// Return the 3xx response as it is.
    Manual,
    /// Fail with [`Error::RedirectRejected`].
    Error,
}

/// The final answer to a call. Any status, 2xx or not, is a `Response`.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase the server sent (HTTP/1), else the standard one for
    /// the code, else empty.
    pub status_text: String,
    /// Headers in the order received; a repeated name keeps all its values.
    pub headers: HeaderMap,
    /// The URL that answered, after redirects.
    pub url: Url,
    /// True when at least one redirect was followed.
    pub redirected: bool,
    /// The whole body (decompressed), at most
    /// [`Policy::max_response_bytes`](crate::Policy::max_response_bytes).
    pub body: Bytes,
}

impl Response {
    /// True for a 2xx status (fetch's `ok`).
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_of_email_colon_token() {
        let auth = Auth::Basic {
            email: "me@acme.com".into(),
            api_token: "tok:en".into(),
        };
        let value = auth.header_value().unwrap().unwrap();
        // base64("me@acme.com:tok:en")
        assert_eq!(value.to_str().unwrap(), "Basic bWVAYWNtZS5jb206dG9rOmVu");
        assert!(value.is_sensitive());
    }

    #[test]
    fn bearer_with_a_newline_is_an_invalid_request() {
        let error = Auth::Bearer("abc\ndef".into()).header_value().unwrap_err();
        assert!(matches!(error, Error::InvalidRequest { .. }), "{error}");
        assert!(!error.to_string().contains("abc"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let request = Request::get("http://h/?token=hunter2")
            .header(
                reqwest::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer hunter2"),
            )
            .auth(Auth::Basic {
                email: "me@acme.com".into(),
                api_token: "hunter2".into(),
            });
        let shown = format!("{request:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("me@acme.com"));
        assert_eq!(
            format!("{:?}", Auth::Bearer("hunter2".into())),
            "Bearer(<redacted>)"
        );
    }
}
