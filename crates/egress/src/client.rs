//! The client: one shared connection pool on one tokio runtime, a policy, and
//! the call loop (allow-list, redirects, size cap, rate-limit retries, record).

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use percent_encoding::percent_decode_str;
use reqwest::header::{self, HeaderMap, HeaderName, LOCATION, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use rustls::pki_types::CertificateDer;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::observe::{Recorder, RetryNotice};
use crate::ratelimit::{is_rate_limited, retry_delay};
use crate::reach::{self, Refused};
use crate::redact::{redact_parsed, redact_url};
use crate::request::{Auth, RedirectMode, Request, Response};
use crate::{BuildError, Error, Policy, tls};

/// Headers the transport owns: a caller's value would misframe the message or
/// misname its target, so they are dropped from every request.
const TRANSPORT_HEADERS: [HeaderName; 7] = [
    header::HOST,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Never sent to a different origin than the one the caller addressed.
const CREDENTIAL_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
    header::WWW_AUTHENTICATE,
];

/// Describe the body; dropped when a redirect turns the request into a GET.
const BODY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
];

/// The most memory reserved up front for a body, whatever length it announces.
const INITIAL_BODY_CAPACITY: u64 = 1 << 20;

/// The outbound HTTP client. Cheap to clone (two `Arc`s); clones share one
/// connection pool. Safe to use from any task, thread or tokio runtime.
///
/// Every call runs as a task on the runtime the client was built for (the
/// current one by default, or [`ClientBuilder::runtime`]), so pooled
/// connections always live on that one runtime — a connection pool shared
/// across runtimes loses requests. Callers on other runtimes just await the
/// result. Give the client a multi-thread runtime that outlives its callers;
/// once that runtime shuts down, calls fail with [`Error::Shutdown`]. Keeping
/// HTTP off threads that run long CPU-bound work (a JavaScript engine) keeps
/// connections responsive.
///
/// Proxies come from the environment (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `ALL_PROXY`, `NO_PROXY`); the allow-list always applies to the target
/// host, never to the proxy.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    policy: Arc<Policy>,
}

struct Shared {
    http: reqwest::Client,
    runtime: Handle,
}

impl Client {
    /// A client with `policy`, the platform's trust roots, on the current
    /// tokio runtime. Fails outside a runtime.
    pub fn new(policy: Policy) -> Result<Self, BuildError> {
        Client::builder().policy(policy).build()
    }

    /// Starts a [`ClientBuilder`] with the default policy.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            policy: Policy::default(),
            runtime: None,
            extra_roots: Vec::new(),
        }
    }

    /// The policy calls through this client follow.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A client with another policy that shares this one's connections and
    /// runtime (for example a job's own allow-list). Cheap.
    pub fn with_policy(&self, policy: Policy) -> Self {
        Client {
            shared: Arc::clone(&self.shared),
            policy: Arc::new(policy),
        }
    }

    /// Sends `request` and resolves to its final response.
    ///
    /// Non-2xx statuses are responses, not errors. A rate-limited product
    /// request is retried first (see [`Request::retry_rate_limited`]); the
    /// caller sees only the last answer. The returned future owns everything
    /// it needs (`'static`); dropping it abandons the call, which the
    /// observer then records as cancelled.
    pub fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'static + use<> {
        let call = run_call(self.shared.http.clone(), Arc::clone(&self.policy), request);
        CallHandle(self.shared.runtime.spawn(call))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]: its policy, runtime and extra trust roots.
pub struct ClientBuilder {
    policy: Policy,
    runtime: Option<Handle>,
    extra_roots: Vec<CertificateDer<'static>>,
}

impl ClientBuilder {
    /// The policy calls follow (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The runtime every call runs on (default: the one `build` is called in).
    pub fn runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Trusts the certificates in `pem` as roots too (an internal CA for a
    /// self-hosted Jira, a corporate TLS proxy), besides the platform's.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, BuildError> {
        self.extra_roots.extend(tls::parse_pem_certificates(pem)?);
        Ok(self)
    }

    /// Builds the client: loads trust roots and creates the connection pool.
    /// Do it once and clone the client.
    pub fn build(self) -> Result<Client, BuildError> {
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => Handle::try_current().map_err(|_| BuildError::NoRuntime)?,
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls::client_config(self.extra_roots)?)
            // Redirects are followed here, hop by hop, to check each against
            // the allow-list of the calling policy.
            .redirect(reqwest::redirect::Policy::none())
            // Every name is resolved under the calling policy's reach.
            .dns_resolver(reach::CheckedResolver)
            .build()
            .map_err(|error| BuildError::Http(error_chain(&error)))?;
        Ok(Client {
            shared: Arc::new(Shared { http, runtime }),
            policy: Arc::new(self.policy),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("policy", &self.policy)
            .field("runtime", &self.runtime.is_some())
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

/// The caller's side of a spawned call: aborts the call when dropped.
struct CallHandle(JoinHandle<Result<Response, Error>>);

impl Future for CallHandle {
    type Output = Result<Response, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(Error::Shutdown),
        })
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One logical call, start to record.
async fn run_call(
    http: reqwest::Client,
    policy: Arc<Policy>,
    request: Request,
) -> Result<Response, Error> {
    let mut recorder = Recorder::start(
        request.observer.clone(),
        request.method.clone(),
        redact_url(&request.url),
    );
    let result = execute(&http, &policy, &request, &mut recorder).await;
    match &result {
        Ok(response) => recorder.finish(
            Some(response.status),
            Some(response.body.len() as u64),
            None,
        ),
        Err(error) => recorder.finish(None, None, Some(error)),
    }
    result
}

/// Checks, then sends and retries rate-limited answers within the budget.
async fn execute(
    http: &reqwest::Client,
    policy: &Policy,
    request: &Request,
    recorder: &mut Recorder,
) -> Result<Response, Error> {
    let mut url = parse_target(&request.url)?;
    check_allowed(policy, &url, false)?;
    let userinfo = take_userinfo(&mut url);
    let budget = Budget::new(request.timeout.unwrap_or(policy.timeout), request.deadline);
    let redacted = redact_parsed(&url);
    if budget.exhausted() {
        return Err(budget.error(redacted));
    }
    let exchange = Exchange {
        http,
        policy,
        mode: request.redirect,
        method: request.method.clone(),
        url,
        headers: request_headers(request, userinfo, policy)?,
        body: request.body.clone(),
    };
    loop {
        let response = budget.run(&redacted, exchange.run()).await?;
        let retries = recorder.retries();
        if !request.retry_rate_limited
            || !is_rate_limited(response.status)
            || retries >= policy.max_retries
        {
            return Ok(response);
        }
        let (wait, reason) = retry_delay(
            &response.headers,
            jiff::Timestamp::now(),
            retries,
            policy.backoff_base,
            policy.backoff_cap,
            fastrand::f64(),
        );
        if !budget.allows_wait(wait) {
            return Ok(response);
        }
        recorder.retry(&RetryNotice {
            method: request.method.clone(),
            url: redacted.clone(),
            status: response.status,
            retry: retries + 1,
            max_retries: policy.max_retries,
            wait,
            reason,
        });
        tokio::time::sleep(wait).await;
    }
}

/// The caller's headers plus credentials and user agent, minus what the
/// transport owns. Credentials come from [`Auth`], else from the caller's own
/// `Authorization` header, else from the URL's userinfo (as curl does).
fn request_headers(
    request: &Request,
    userinfo: Option<Auth>,
    policy: &Policy,
) -> Result<HeaderMap, Error> {
    let mut headers = request.headers.clone();
    for name in &TRANSPORT_HEADERS {
        headers.remove(name);
    }
    let auth = match (&request.auth, userinfo) {
        (Auth::None, Some(userinfo)) if !headers.contains_key(header::AUTHORIZATION) => userinfo,
        (auth, _) => auth.clone(),
    };
    if let Some(authorization) = auth.header_value()? {
        headers.insert(header::AUTHORIZATION, authorization);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, policy.user_agent.clone());
    }
    Ok(headers)
}

/// Removes `user:password@` from `url` (it is never sent as part of the URL)
/// and returns it as Basic credentials.
fn take_userinfo(url: &mut Url) -> Option<Auth> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
    let auth = Auth::Basic {
        email: decode(url.username()),
        api_token: decode(url.password().unwrap_or_default()),
    };
    // Cannot fail: `parse_target` accepted only http(s) URLs with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(auth)
}

fn parse_target(text: &str) -> Result<Url, Error> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: redact_url(text),
        reason,
    };
    let url = Url::parse(text).map_err(|error| invalid(error.to_string()))?;
    check_scheme(&url).map_err(invalid)?;
    Ok(url)
}

fn check_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(()),
        "http" | "https" => Err("it has no host".to_owned()),
        other => Err(format!(
            "only http and https URLs can be fetched, not `{other}:`"
        )),
    }
}

fn check_allowed(policy: &Policy, url: &Url, via_redirect: bool) -> Result<(), Error> {
    if policy.allowed_hosts.allows(url) {
        return Ok(());
    }
    Err(Error::DisallowedHost {
        host: url.host_str().unwrap_or_default().to_owned(),
        port: url.port(),
        via_redirect,
    })
}

/// The time a call may take: the earlier of its timeout and its deadline.
struct Budget {
    until: Instant,
    /// `None` when the deadline is the binding limit.
    timeout: Option<Duration>,
}

impl Budget {
    fn new(timeout: Duration, deadline: Option<std::time::Instant>) -> Self {
        let now = Instant::now();
        // A timeout too large to add means "no timeout": a century will do.
        let by_timeout = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        match deadline.map(Instant::from_std) {
            Some(deadline) if deadline <= by_timeout => Budget {
                until: deadline,
                timeout: None,
            },
            _ => Budget {
                until: by_timeout,
                timeout: Some(timeout),
            },
        }
    }

    fn exhausted(&self) -> bool {
        Instant::now() >= self.until
    }

    /// A wait is taken only if time is left after it for another attempt.
    fn allows_wait(&self, wait: Duration) -> bool {
        Instant::now()
            .checked_add(wait)
            .is_some_and(|end| end < self.until)
    }

    fn error(&self, url: String) -> Error {
        match self.timeout {
            Some(timeout) => Error::Timeout { url, timeout },
            None => Error::DeadlineExceeded { url },
        }
    }

    async fn run<T>(
        &self,
        url: &str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout_at(self.until, work).await {
            Ok(result) => result,
            Err(_) => Err(self.error(url.to_owned())),
        }
    }
}

/// One attempt: a request and the redirects it leads to, ending in a response
/// whose body has been read.
struct Exchange<'a> {
    http: &'a reqwest::Client,
    policy: &'a Policy,
    mode: RedirectMode,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl Exchange<'_> {
    async fn run(&self) -> Result<Response, Error> {
        let mut method = self.method.clone();
        let mut url = self.url.clone();
        let mut headers = self.headers.clone();
        let mut body = self.body.clone();
        let mut hops = 0;
        loop {
            let response = self
                .send_once(&method, &url, &headers, body.as_ref())
                .await?;
            let location = match (redirect_location(&response), self.mode) {
                (None, _) | (Some(_), RedirectMode::Manual) => {
                    let limit = self.policy.max_response_bytes;
                    return read_response(response, url, hops > 0, limit).await;
                }
                (Some(location), RedirectMode::Error) => {
                    return Err(Error::RedirectRejected {
                        url: redact_parsed(&url),
                        location: redact_url(&location),
                    });
                }
                (Some(location), RedirectMode::Follow) => location,
            };
            if hops >= self.policy.max_redirects {
                return Err(Error::TooManyRedirects {
                    url: redact_parsed(&self.url),
                    limit: self.policy.max_redirects,
                });
            }
            let next = self.redirect_target(&url, &location)?;
            if !same_origin(&url, &next) {
                for name in &CREDENTIAL_HEADERS {
                    headers.remove(name);
                }
            }
            if redirect_becomes_get(response.status(), &method) {
                method = Method::GET;
                body = None;
                for name in &BODY_HEADERS {
                    headers.remove(name);
                }
            }
            url = next;
            hops += 1;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&Bytes>,
    ) -> Result<reqwest::Response, Error> {
        let reach = self.policy.reach.for_url(url);
        if reach::literal_ip(url).is_some_and(|ip| !reach.permits(ip)) {
            return Err(Error::Connection {
                url: redact_parsed(url),
                message: Refused.to_string(),
            });
        }
        let mut request = reqwest::Request::new(method.clone(), url.clone());
        *request.headers_mut() = headers.clone();
        if let Some(body) = body {
            *request.body_mut() = Some(body.clone().into());
        }
        reach::within(reach, self.http.execute(request))
            .await
            .map_err(|error| connection_error(url, &error))
    }

    fn redirect_target(&self, from: &Url, location: &str) -> Result<Url, Error> {
        let invalid = |reason: String| Error::InvalidRedirect {
            url: redact_parsed(from),
            location: redact_url(location),
            reason,
        };
        let next = from
            .join(location)
            .map_err(|error| invalid(error.to_string()))?;
        check_scheme(&next).map_err(invalid)?;
        check_allowed(self.policy, &next, true)?;
        Ok(next)
    }
}

/// The `Location` of a redirect status; `None` for any other answer, and for
/// a redirect without a readable `Location` (returned to the caller as is).
fn redirect_location(response: &reqwest::Response) -> Option<String> {
    let redirect = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !redirect {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    Some(location.to_owned())
}

/// 303 turns anything but HEAD into GET; 301/302 turn POST into GET (as
/// browsers and fetch do); 307/308 keep method and body.
fn redirect_becomes_get(status: StatusCode, method: &Method) -> bool {
    match status {
        StatusCode::SEE_OTHER => *method != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => *method == Method::POST,
        _ => false,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

async fn read_response(
    mut response: reqwest::Response,
    url: Url,
    redirected: bool,
    limit: u64,
) -> Result<Response, Error> {
    let too_large = |content_length| Error::BodyTooLarge {
        url: redact_parsed(&url),
        limit,
        content_length,
    };
    let announced = response.content_length();
    if let Some(length) = announced.filter(|length| *length > limit) {
        return Err(too_large(Some(length)));
    }
    let capacity = announced.unwrap_or(0).min(INITIAL_BODY_CAPACITY);
    let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| connection_error(&url, &error))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
    let status = response.status();
    Ok(Response {
        status,
        status_text: status_text(&response),
        headers: std::mem::take(response.headers_mut()),
        url,
        redirected,
        body: body.freeze(),
    })
}

/// The reason phrase as sent when it differs from the standard one (hyper
/// keeps only those), else the standard one.
fn status_text(response: &reqwest::Response) -> String {
    if let Some(reason) = response.extensions().get::<hyper::ext::ReasonPhrase>() {
        return String::from_utf8_lossy(reason.as_bytes()).into_owned();
    }
    response
        .status()
        .canonical_reason()
        .unwrap_or_default()
        .to_owned()
}

/// A connection that could not be made (refused, reset, unreachable, an
/// unknown name or not within the policy's reach) reads the same whatever
/// the cause, so a script cannot map ports or addresses through the
/// differences; TLS and mid-exchange failures keep their detail.
fn connection_error(url: &Url, error: &reqwest::Error) -> Error {
    let message = if error.is_connect() && is_not_connected(error) {
        Refused.to_string()
    } else {
        error_chain(error)
    };
    Error::Connection {
        url: redact_parsed(url),
        message,
    }
}

/// True when no connection was established: the reach refused it, or the
/// operating system could not connect.
fn is_not_connected(error: &reqwest::Error) -> bool {
    use std::io::ErrorKind;
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<Refused>() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::TimedOut
            )
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// `error: cause: cause…` without the URL reqwest would include (it may carry
/// credentials); a cause already contained in the previous text is skipped.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = vec![without_url(error)];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn without_url(error: &reqwest::Error) -> String {
    let text = error.to_string();
    match error.url() {
        Some(url) => text
            .replace(&format!(" for url ({url})"), "")
            .replace(url.as_str(), "<url>"),
        None => text,
    }
}
