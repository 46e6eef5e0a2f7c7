//! All outbound HTTP of a run: `fetch`, `requestJira`, `requestConfluence`,
//! `requestBitbucket`. The JavaScript layer calls [`send`] and nothing else.
//!
//! Here a product request becomes an absolute URL (the site's base URL plus
//! the route's path) with the credential `asApp()` or `asUser()` selects; a
//! missing site or credential fails the call before anything is sent. Then
//! the egress client sends it: allow-list, redirects, size and time limits,
//! and rate-limit retries for product requests, never past the run's
//! deadline. Each retry becomes a `warn` line of the run's log, each call a
//! [`CallRecord`] of the outcome.
//!
//! Each request is in flight from the script's call until its answer (or
//! failure) is back: [`HttpContext::in_flight`] lists them, so a run can
//! let the requests a script did not await finish after its result settles,
//! and [`HttpContext::cut`] ends those that outlive that grace.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use egress::{Auth, CallRecord, HeaderName, HeaderValue, Method, Observer, RetryNotice};
use serde::{Deserialize, Serialize};

use crate::logs::LogSink;
use crate::outcome::LogLevel;
use crate::spec::{Credential, Sites};

/// Forge's message for a route that would reach another path than written.
const PATH_MANIPULATION: &str = "Disallowing path manipulation attempt. \
     For more information see: https://go.atlassian.com/product-fetch-api-route";

/// Calls a run records; later ones are counted in one log line.
const MAX_RECORDED_CALLS: usize = 10_000;

/// Which product a product request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Product {
    Jira,
    Confluence,
    Bitbucket,
}

/// `asApp()` or `asUser()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Principal {
    App,
    User,
}

/// `fetch`'s `redirect` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Redirect {
    #[default]
    Follow,
    Manual,
    Error,
}

/// A request as the JavaScript layer describes it (the body travels apart).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RequestMeta {
    Fetch {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        #[serde(default)]
        redirect: Redirect,
    },
    Product {
        product: Product,
        #[serde(rename = "as")]
        principal: Principal,
        path: String,
        method: String,
        headers: Vec<(String, String)>,
    },
}

/// The final response, as the JavaScript `Response` is built from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResponseMeta {
    pub(crate) status: u16,
    pub(crate) status_text: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) url: String,
    pub(crate) redirected: bool,
}

/// Why a call produced no response. `fetch` failures are `TypeError`s on the
/// web; configuration problems are plain `Error`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpFailure {
    TypeError(String),
    Error(String),
}

/// A request resolved to where it goes and how it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) credential: Option<Credential>,
    /// Product requests are retried on 429/503; `fetch` is not.
    pub(crate) product: bool,
    pub(crate) redirect: Redirect,
}

/// What every call of one run shares.
pub(crate) struct HttpContext {
    pub(crate) sites: Sites,
    client: Option<egress::Client>,
    deadline: Instant,
    observer: Arc<RunObserver>,
    flights: Arc<Flights>,
}

/// The requests in flight, by the order they were made.
#[derive(Default)]
struct Flights {
    open: Mutex<OpenRequests>,
    /// Signalled whenever a request lands.
    landed: tokio::sync::Notify,
    /// Set once: requests still in flight, and any made after, end at once.
    cut: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct OpenRequests {
    next: u64,
    /// id → `METHOD url` (credentials removed from the URL).
    requests: std::collections::BTreeMap<u64, String>,
}

/// One request in flight; it lands when dropped, however its call ended.
pub(crate) struct Flight {
    flights: Arc<Flights>,
    id: u64,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.flights
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .remove(&self.id);
        self.flights.landed.notify_waiters();
    }
}

impl HttpContext {
    pub(crate) fn new(
        sites: Sites,
        client: Option<egress::Client>,
        deadline: Instant,
        logs: Arc<LogSink>,
    ) -> Self {
        let client = client.map(|client| reaching_sites(&client, &sites));
        Self {
            sites,
            client,
            deadline,
            observer: Arc::new(RunObserver {
                logs,
                calls: Mutex::new(Calls::default()),
            }),
            flights: Arc::default(),
        }
    }

    /// Resolves a script's request and marks it in flight until the
    /// returned [`Flight`] is dropped (its call's future ends).
    pub(crate) fn take_off(&self, meta: RequestMeta) -> (Result<Resolved, HttpFailure>, Flight) {
        let resolved = resolve(&self.sites, meta);
        let label = match &resolved {
            Ok(resolved) => format!("{} {}", resolved.method, egress::redact_url(&resolved.url)),
            Err(_) => String::from("a request that could not be resolved"),
        };
        let mut open = self
            .flights
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = open.next;
        open.next += 1;
        open.requests.insert(id, label);
        let flight = Flight {
            flights: Arc::clone(&self.flights),
            id,
        };
        (resolved, flight)
    }

    /// The requests in flight now, oldest first, as `METHOD url`.
    pub(crate) fn in_flight(&self) -> Vec<String> {
        let open = self
            .flights
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.requests.values().cloned().collect()
    }

    /// Resolves once no request is in flight. The futures of the requests
    /// must be driven meanwhile (the script's context drives them).
    pub(crate) async fn all_landed(&self) {
        loop {
            let landed = self.flights.landed.notified();
            tokio::pin!(landed);
            // Registered before looking, so a landing in between is not missed.
            landed.as_mut().enable();
            if self.in_flight().is_empty() {
                return;
            }
            landed.await;
        }
    }

    /// Ends every request in flight, and refuses any made from now on:
    /// each fails with "cut" and is recorded as such.
    pub(crate) fn cut(&self) {
        self.flights.cut.send_replace(true);
    }

    /// The calls made so far; a log line tells how many more were not recorded.
    pub(crate) fn take_calls(&self) -> Vec<CallRecord> {
        let mut calls = self
            .observer
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if calls.unrecorded > 0 {
            self.observer.logs.push(
                LogLevel::Warn,
                format!(
                    "… {} more HTTP calls were made; only the first {MAX_RECORDED_CALLS} are recorded",
                    calls.unrecorded
                ),
            );
        }
        std::mem::take(&mut calls.records)
    }
}

/// The client with the run's own Jira and Confluence sites reachable
/// wherever they are (an internal address, or loopback in tests), whatever
/// else the policy refuses.
fn reaching_sites(client: &egress::Client, sites: &Sites) -> egress::Client {
    let policy = client.policy();
    if policy.reach.allows_everything() {
        return client.clone();
    }
    let urls = [sites.jira_url.as_deref(), sites.confluence_url.as_deref()];
    client.with_policy(egress::Policy {
        reach: policy.reach.clone().exempting(urls.into_iter().flatten()),
        ..policy.clone()
    })
}

#[derive(Default)]
struct Calls {
    records: Vec<CallRecord>,
    unrecorded: u64,
    /// `(method, url)` of cut calls whose egress record (cancelled) has
    /// not come in yet: that one is left out, the cut record stands.
    cut: Vec<(String, String)>,
}

impl Calls {
    fn push(&mut self, record: CallRecord) {
        if self.records.len() < MAX_RECORDED_CALLS {
            self.records.push(record);
        } else {
            self.unrecorded += 1;
        }
    }
}

impl RunObserver {
    /// Records a cut call; `egress_records_too` when the egress client had
    /// it and will record it as well (that record is left out).
    fn record_cut(&self, egress_records_too: bool, record: CallRecord) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if egress_records_too {
            calls.cut.push((record.method.clone(), record.url.clone()));
        }
        calls.push(record);
    }
}

/// Turns the egress client's reports into the run's log lines and call records.
struct RunObserver {
    logs: Arc<LogSink>,
    calls: Mutex<Calls>,
}

impl Observer for RunObserver {
    fn on_retry(&self, retry: &RetryNotice) {
        self.logs.push(LogLevel::Warn, retry.to_string());
    }

    fn on_complete(&self, record: &CallRecord) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let cut = calls
            .cut
            .iter()
            .position(|(method, url)| *method == record.method && *url == record.url);
        if let Some(cut) = cut {
            calls.cut.swap_remove(cut);
            return;
        }
        calls.push(record.clone());
    }
}

/// Sends one request of the script (resolved by [`HttpContext::take_off`])
/// and returns the final response; a [`HttpContext::cut`] ends it at once.
pub(crate) async fn send(
    http: &HttpContext,
    resolved: Result<Resolved, HttpFailure>,
    body: Option<Vec<u8>>,
) -> Result<(ResponseMeta, Vec<u8>), HttpFailure> {
    let resolved = resolved?;
    let label = (resolved.method.clone(), egress::redact_url(&resolved.url));
    let started = Instant::now();
    let mut cut = http.flights.cut.subscribe();
    if *cut.borrow() {
        return Err(record_cut(http, &label, started, false));
    }
    let cut = async {
        let _ = cut.wait_for(|cut| *cut).await;
        // Recorded before the transport's future is dropped: the egress
        // client then aborts the call on its own task, and its record of
        // that (whenever it comes) is left out for this one.
        record_cut(http, &label, started, true)
    };
    tokio::select! {
        sent = transport(http, resolved, body) => sent,
        failure = cut => Err(failure),
    }
}

/// Why a request the script did not await ended unanswered.
const CUT: &str = "cut: the script's result had settled and the request outlived the grace \
     Clockwork gives requests the script did not await";

/// Records a request cut (or refused once the grace is over) as the
/// script's call record says it: unanswered, with why.
fn record_cut(
    http: &HttpContext,
    (method, url): &(String, String),
    started: Instant,
    egress_records_too: bool,
) -> HttpFailure {
    http.observer.record_cut(
        egress_records_too,
        CallRecord {
            method: method.clone(),
            url: url.clone(),
            status: None,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            retries: 0,
            error: Some(String::from(CUT)),
            response_size: None,
        },
    );
    HttpFailure::Error(String::from(CUT))
}

/// The one place bytes leave the process.
async fn transport(
    http: &HttpContext,
    resolved: Resolved,
    body: Option<Vec<u8>>,
) -> Result<(ResponseMeta, Vec<u8>), HttpFailure> {
    let failure = |message: String| {
        if resolved.product {
            HttpFailure::Error(message)
        } else {
            HttpFailure::TypeError(message)
        }
    };
    let Some(client) = &http.client else {
        return Err(failure(format!(
            "{} {}: no HTTP client is configured for this run",
            resolved.method,
            egress::redact_url(&resolved.url)
        )));
    };
    let method = Method::from_bytes(resolved.method.as_bytes()).map_err(|_| {
        HttpFailure::TypeError(format!("invalid HTTP method \"{}\"", resolved.method))
    })?;
    let mut request = egress::Request::new(method, resolved.url.as_str())
        .retry_rate_limited(resolved.product)
        .redirect(match resolved.redirect {
            Redirect::Follow => egress::RedirectMode::Follow,
            Redirect::Manual => egress::RedirectMode::Manual,
            Redirect::Error => egress::RedirectMode::Error,
        })
        .deadline(http.deadline)
        .observer(Arc::clone(&http.observer) as Arc<dyn Observer>);
    for (name, value) in &resolved.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpFailure::TypeError(format!("invalid header name \"{name}\"")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| HttpFailure::TypeError(format!("invalid value for header \"{name}\"")))?;
        request = request.header(name, value);
    }
    if let Some(credential) = resolved.credential {
        request = request.auth(match credential {
            Credential::Basic { email, api_token } => Auth::Basic { email, api_token },
            Credential::Bearer { token } => Auth::Bearer(token),
        });
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = client
        .send(request)
        .await
        .map_err(|error| failure(error.to_string()))?;
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let meta = ResponseMeta {
        status: response.status.as_u16(),
        status_text: response.status_text,
        headers,
        url: response.url.to_string(),
        redirected: response.redirected,
    };
    Ok((meta, response.body.to_vec()))
}

/// What a script hears when it calls Jira and no site is configured: where to add one.
const NO_JIRA_SITE: &str = "requestJira: no Jira site is configured in Clockwork: add one in the web UI \
     (Settings → Sites), in clockwork.toml ([site] jira_url), or with `clockwork run --jira-url`";
/// The same for Confluence (which falls back to the Jira site).
const NO_CONFLUENCE_SITE: &str = "requestConfluence: no Confluence (or Jira) site is configured in Clockwork: \
     add one in the web UI (Settings → Sites), in clockwork.toml ([site] confluence_url or jira_url), \
     or with `clockwork run --confluence-url`";

pub(crate) fn resolve(sites: &Sites, meta: RequestMeta) -> Result<Resolved, HttpFailure> {
    match meta {
        RequestMeta::Fetch {
            url,
            method,
            headers,
            redirect,
        } => {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(HttpFailure::TypeError(format!(
                    "fetch needs an absolute http(s) URL, not \"{url}\""
                )));
            }
            Ok(Resolved {
                method,
                url,
                headers,
                credential: None,
                product: false,
                redirect,
            })
        }
        RequestMeta::Product {
            product,
            principal,
            path,
            method,
            headers,
        } => {
            let base = match product {
                Product::Jira => sites
                    .jira_url
                    .as_deref()
                    .ok_or_else(|| HttpFailure::Error(String::from(NO_JIRA_SITE)))?,
                Product::Confluence => sites
                    .confluence_base()
                    .ok_or_else(|| HttpFailure::Error(String::from(NO_CONFLUENCE_SITE)))?,
                Product::Bitbucket => {
                    return Err(HttpFailure::Error(String::from(
                        "requestBitbucket: Clockwork has no Bitbucket site; use fetch() with the Bitbucket API URL",
                    )));
                }
            };
            let credential = match principal {
                Principal::App => sites.app.clone().ok_or_else(|| {
                    HttpFailure::Error(String::from(
                        "asApp(): no app credential is configured for the site",
                    ))
                })?,
                Principal::User => sites.user.clone().ok_or_else(|| {
                    HttpFailure::Error(String::from(
                        "asUser(): there is no user context. Scheduled and queued runs have no user; \
                         give the job a run-as credential, or use asApp()",
                    ))
                })?,
            };
            // Even a trusted route: the URL parser drops tab, LF and CR,
            // so what the script's checks saw would not be what is sent.
            if path.chars().any(|c| c.is_ascii_control()) {
                return Err(HttpFailure::Error(format!(
                    "{PATH_MANIPULATION} (the path contains a control character)"
                )));
            }
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            Ok(Resolved {
                method,
                url: format!("{}{path}", base.trim_end_matches('/')),
                headers,
                credential: Some(credential),
                product: true,
                redirect: Redirect::Follow,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(product: Product, principal: Principal, path: &str) -> RequestMeta {
        RequestMeta::Product {
            product,
            principal,
            path: path.into(),
            method: "GET".into(),
            headers: vec![],
        }
    }

    fn sites() -> Sites {
        Sites {
            jira_url: Some("https://acme.atlassian.net/".into()),
            confluence_url: None,
            cloud_id: None,
            app: Some(Credential::Bearer {
                token: "app".into(),
            }),
            user: None,
        }
    }

    #[test]
    fn product_requests_go_to_their_site_with_the_app_credential() {
        let resolved = resolve(
            &sites(),
            product(Product::Jira, Principal::App, "/rest/api/3/myself"),
        )
        .unwrap();
        assert_eq!(resolved.url, "https://acme.atlassian.net/rest/api/3/myself");
        assert_eq!(
            resolved.credential,
            Some(Credential::Bearer {
                token: "app".into()
            })
        );
        assert!(resolved.product);
        let resolved = resolve(
            &sites(),
            product(Product::Confluence, Principal::App, "/wiki/api/v2/pages"),
        )
        .unwrap();
        assert_eq!(resolved.url, "https://acme.atlassian.net/wiki/api/v2/pages");
        let mut own = sites();
        own.confluence_url = Some("https://wiki.example.com".into());
        let resolved = resolve(
            &own,
            product(Product::Confluence, Principal::App, "/wiki/rest/api/space"),
        )
        .unwrap();
        assert_eq!(resolved.url, "https://wiki.example.com/wiki/rest/api/space");
    }

    #[test]
    fn as_user_without_a_credential_fails_before_sending() {
        let error = resolve(
            &sites(),
            product(Product::Jira, Principal::User, "/rest/api/3/myself"),
        )
        .unwrap_err();
        assert!(
            matches!(error, HttpFailure::Error(m) if m.starts_with("asUser(): there is no user context"))
        );
        let mut with_user = sites();
        with_user.user = Some(Credential::Basic {
            email: "u@x".into(),
            api_token: "t".into(),
        });
        let resolved = resolve(&with_user, product(Product::Jira, Principal::User, "/x")).unwrap();
        assert_eq!(resolved.credential, with_user.user);
    }

    #[test]
    fn control_characters_in_a_product_path_are_refused_even_in_trusted_routes() {
        for c in (0u8..0x20).chain([0x7f]) {
            let path = format!("/rest/api/3/issue/.{}./comment", char::from(c));
            let error = resolve(&sites(), product(Product::Jira, Principal::App, &path));
            assert!(
                matches!(&error, Err(HttpFailure::Error(m)) if m.starts_with(PATH_MANIPULATION)),
                "{c:#x}: {error:?}"
            );
        }
    }

    #[test]
    fn missing_sites_and_bad_urls_fail_clearly() {
        let none = Sites::default();
        assert!(matches!(
            resolve(&none, product(Product::Jira, Principal::App, "/x")),
            Err(HttpFailure::Error(m)) if m == NO_JIRA_SITE
        ));
        assert!(resolve(&sites(), product(Product::Bitbucket, Principal::App, "/x")).is_err());
        let fetch = RequestMeta::Fetch {
            url: "/relative".into(),
            method: "GET".into(),
            headers: vec![],
            redirect: Redirect::Follow,
        };
        assert!(matches!(
            resolve(&sites(), fetch),
            Err(HttpFailure::TypeError(_))
        ));
        let fetch = RequestMeta::Fetch {
            url: "HTTPS://x.test/a".into(),
            method: "GET".into(),
            headers: vec![],
            redirect: Redirect::Follow,
        };
        let resolved = resolve(&sites(), fetch).unwrap();
        assert_eq!(resolved.credential, None);
        assert!(!resolved.product);
    }
}
