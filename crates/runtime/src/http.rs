//! All outbound HTTP of a run: `fetch`, `requestJira`, `requestConfluence`,
//! `requestBitbucket`. The JavaScript layer calls [`send`] and nothing else.
//!
//! Here a product request becomes an absolute URL (the site's base URL plus
//! the route's path) with the credential `asApp()` or `asUser()` selects; a
//! missing site or credential fails the call before anything is sent.

use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::spec::{Credential, Sites};

/// One outbound call, as recorded in [`Outcome::http_calls`](crate::Outcome::http_calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCall {
    /// The request method.
    pub method: String,
    /// The request URL (credentials removed).
    pub url: String,
    /// The final status, when a response arrived.
    pub status: Option<u16>,
    /// Time from the first attempt to the final answer.
    pub duration_ms: u64,
    /// Rate-limit retries made.
    pub retries: u32,
    /// Why no response arrived, when none did.
    pub error: Option<String>,
}

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

/// A request as the JavaScript layer describes it (the body travels apart).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum RequestMeta {
    Fetch {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
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
}

/// What every call of one run shares.
pub(crate) struct HttpContext {
    pub(crate) sites: Sites,
    calls: Mutex<Vec<HttpCall>>,
}

impl HttpContext {
    pub(crate) fn new(sites: Sites) -> Self {
        Self {
            sites,
            calls: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn take_calls(&self) -> Vec<HttpCall> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Sends one request of the script and returns the final response.
pub(crate) async fn send(
    http: &HttpContext,
    meta: RequestMeta,
    body: Option<Vec<u8>>,
) -> Result<(ResponseMeta, Vec<u8>), HttpFailure> {
    let resolved = resolve(&http.sites, meta)?;
    transport(http, resolved, body).await
}

/// The one place bytes leave the process. The egress client is not wired
/// into the runtime yet, so every call fails clearly, after the checks above.
async fn transport(
    _http: &HttpContext,
    resolved: Resolved,
    _body: Option<Vec<u8>>,
) -> Result<(ResponseMeta, Vec<u8>), HttpFailure> {
    Err(HttpFailure::Error(format!(
        "{} {}: outbound HTTP is not available in this build of the runtime (the egress client is not wired in yet)",
        resolved.method, resolved.url
    )))
}

pub(crate) fn resolve(sites: &Sites, meta: RequestMeta) -> Result<Resolved, HttpFailure> {
    match meta {
        RequestMeta::Fetch {
            url,
            method,
            headers,
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
                Product::Jira => sites.jira_url.as_deref().ok_or_else(|| {
                    HttpFailure::Error(String::from(
                        "requestJira: no Jira site is configured in Clockwork",
                    ))
                })?,
                Product::Confluence => sites.confluence_base().ok_or_else(|| {
                    HttpFailure::Error(String::from(
                        "requestConfluence: no Confluence (or Jira) site is configured in Clockwork",
                    ))
                })?,
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
    fn missing_sites_and_bad_urls_fail_clearly() {
        let none = Sites::default();
        assert!(matches!(
            resolve(&none, product(Product::Jira, Principal::App, "/x")),
            Err(HttpFailure::Error(m)) if m == "requestJira: no Jira site is configured in Clockwork"
        ));
        assert!(resolve(&sites(), product(Product::Bitbucket, Principal::App, "/x")).is_err());
        let fetch = RequestMeta::Fetch {
            url: "/relative".into(),
            method: "GET".into(),
            headers: vec![],
        };
        assert!(matches!(
            resolve(&sites(), fetch),
            Err(HttpFailure::TypeError(_))
        ));
        let fetch = RequestMeta::Fetch {
            url: "HTTPS://x.test/a".into(),
            method: "GET".into(),
            headers: vec![],
        };
        let resolved = resolve(&sites(), fetch).unwrap();
        assert_eq!(resolved.credential, None);
        assert!(!resolved.product);
    }
}
