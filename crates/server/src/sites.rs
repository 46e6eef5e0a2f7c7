//! `/api/v1/sites…` (admin): the Jira and Confluence sites runs call, and
//! the [`SiteBook`] runs read them from.
//!
//! Sites come from two places: `clockwork.toml` (listed with `"source":
//! "config"`, read-only: editing one is a 409) and the store (added here;
//! the secret is write-only and encrypted at rest). A run has one Jira and
//! one Confluence base URL and one app credential (the runtime's model), so
//! there is at most one site per product; a configured product cannot get
//! a stored site too. The app credential is the Jira site's, or the
//! Confluence site's when there is no Jira site.
//!
//! The book keeps the effective sites in memory (runs read them without
//! waiting on the database) and is reloaded after every change made here;
//! on PostgreSQL every other node reloads it too, as soon as the change's
//! notification arrives ([`SiteBook::follow_changes`]).

use std::sync::{Arc, RwLock};

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use runtime::{Credential, Sites};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{SiteAuth, SiteProduct, SiteSpec, Store, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::Admin,
    extract::{ApiJson, ApiPath},
    model::Items,
    problem::{ApiError, FieldError},
};

/// The sites runs use: the configuration's, overlaid with the stored ones.
pub struct SiteBook {
    config: Sites,
    effective: RwLock<Sites>,
}

impl SiteBook {
    /// A book over the configuration's sites (nothing stored read yet:
    /// call [`SiteBook::reload`]).
    pub fn new(config: Sites) -> Arc<SiteBook> {
        Arc::new(SiteBook {
            effective: RwLock::new(config.clone()),
            config,
        })
    }

    /// The sites a run gets now (without a `run_as` user).
    pub fn effective(&self) -> Sites {
        self.effective
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the stored sites (decrypting their secrets) and makes them
    /// effective beside the configuration's.
    pub async fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let stored = store.site_credentials().await?;
        let mut sites = self.config.clone();
        let credential = |site: &store::Site, secret: &str| match site.spec.auth {
            SiteAuth::Basic => Credential::Basic {
                email: site.spec.email.clone().unwrap_or_default(),
                api_token: secret.to_owned(),
            },
            SiteAuth::Bearer => Credential::Bearer {
                token: secret.to_owned(),
            },
        };
        let jira = stored
            .iter()
            .find(|(site, _)| site.spec.product == SiteProduct::Jira);
        let confluence = stored
            .iter()
            .find(|(site, _)| site.spec.product == SiteProduct::Confluence);
        if self.config.jira_url.is_none()
            && let Some((site, secret)) = jira
        {
            sites.jira_url = Some(site.spec.base_url.clone());
            sites.app = Some(credential(site, secret));
        }
        if self.config.confluence_url.is_none()
            && let Some((site, secret)) = confluence
        {
            sites.confluence_url = Some(site.spec.base_url.clone());
            if sites.app.is_none() {
                sites.app = Some(credential(site, secret));
            }
        }
        *self
            .effective
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = sites;
        Ok(())
    }

    /// Reloads the book whenever any node changes a stored site
    /// (PostgreSQL `LISTEN/NOTIFY`), and after every reconnection (a
    /// notification may have been lost meanwhile). Returns at once on
    /// SQLite, where this process is the only node; otherwise runs until
    /// the task is dropped.
    pub async fn follow_changes(self: Arc<Self>, store: Store) {
        const RETRY: std::time::Duration = std::time::Duration::from_secs(1);
        loop {
            let mut feed = match store.change_feed().await {
                Ok(Some(feed)) => feed,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for site changes; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            self.reload_or_warn(&store).await;
            loop {
                match feed.next().await {
                    Ok(store::Change::SitesChanged | store::Change::Resync) => {
                        self.reload_or_warn(&store).await;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "lost the site change feed; re-subscribing");
                        break;
                    }
                }
            }
        }
    }

    async fn reload_or_warn(&self, store: &Store) {
        if let Err(error) = self.reload(store).await {
            tracing::warn!(%error, "cannot re-read the stored sites; runs keep the previous ones");
        }
    }

    /// The configuration's sites as the API lists them.
    fn configured(&self) -> Vec<SiteView> {
        let (auth, email) = match &self.config.app {
            Some(Credential::Basic { email, .. }) => (SiteAuth::Basic, Some(email.clone())),
            Some(Credential::Bearer { .. }) | None => (SiteAuth::Bearer, None),
        };
        let view = |name: &str, product, url: &String| SiteView {
            name: name.to_owned(),
            product,
            base_url: url.clone(),
            auth,
            email: email.clone(),
            has_secret: self.config.app.is_some(),
            source: "config",
        };
        let mut views = Vec::new();
        if let Some(url) = &self.config.jira_url {
            views.push(view("jira", SiteProduct::Jira, url));
        }
        if let Some(url) = &self.config.confluence_url {
            views.push(view("confluence", SiteProduct::Confluence, url));
        }
        views
    }

    fn configures(&self, product: SiteProduct) -> bool {
        match product {
            SiteProduct::Jira => self.config.jira_url.is_some(),
            SiteProduct::Confluence => self.config.confluence_url.is_some(),
        }
    }
}

impl std::fmt::Debug for SiteBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteBook").finish_non_exhaustive()
    }
}

/// A site as the API shows it (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct SiteView {
    /// Unique name.
    name: String,
    /// `jira` or `confluence`.
    #[schema(value_type = String, example = "jira")]
    product: SiteProduct,
    /// `https://example.atlassian.net`.
    base_url: String,
    /// `basic` (email and API token) or `bearer`.
    #[schema(value_type = String, example = "basic")]
    auth: SiteAuth,
    /// The account's email (basic auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// Whether a secret is set (it is never shown).
    has_secret: bool,
    /// `config` (clockwork.toml, read-only) or `store` (added through the API).
    #[schema(example = "store")]
    source: &'static str,
}

impl From<store::Site> for SiteView {
    fn from(site: store::Site) -> Self {
        Self {
            name: site.spec.name,
            product: site.spec.product,
            base_url: site.spec.base_url,
            auth: site.spec.auth,
            email: site.spec.email,
            has_secret: true,
            source: "store",
        }
    }
}

/// Body of `PUT /sites/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteInput {
    /// `jira` or `confluence`.
    #[schema(value_type = String, example = "jira")]
    product: SiteProduct,
    /// An http(s) URL.
    base_url: String,
    /// `basic` or `bearer`.
    #[schema(value_type = String, example = "basic")]
    auth: SiteAuth,
    /// The account's email (basic auth only).
    #[serde(default)]
    email: Option<String>,
    /// The API token or bearer token; write-only. Omitted keeps the stored one.
    #[serde(default)]
    secret: Option<String>,
}

/// The site path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SitePath {
    /// The site's name.
    name: String,
}

/// Every site: the configuration's, then the stored ones by name.
#[utoipa::path(get, path = "/sites", tag = "sites",
    responses(
        (status = 200, body = Items<SiteView>),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Items<SiteView>>, ApiError> {
    let mut items = state
        .sites()
        .map(|book| book.configured())
        .unwrap_or_default();
    items.extend(
        state
            .store()
            .site_list()
            .await?
            .into_iter()
            .map(SiteView::from),
    );
    Ok(Json(Items { items }))
}

/// Creates or replaces a stored site.
#[utoipa::path(put, path = "/sites/{name}", tag = "sites", params(SitePath), request_body = SiteInput,
    responses(
        (status = 200, body = SiteView, description = "Replaced"),
        (status = 201, body = SiteView, description = "Created"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "A configuration site, or a second site for the product"),
        (status = 422, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<SitePath>,
    ApiJson(input): ApiJson<SiteInput>,
) -> Result<Response, ApiError> {
    if let Some(book) = state.sites() {
        if book.configured().iter().any(|site| site.name == path.name) {
            return Err(read_only(&path.name));
        }
        if book.configures(input.product) {
            return Err(ApiError::Conflict(format!(
                "clockwork.toml defines the {} site; edit it there",
                input.product.as_str()
            )));
        }
    }
    if input.secret.as_deref() == Some("") {
        return Err(ApiError::Validation(vec![FieldError::new(
            "secret",
            "must not be empty (omit it to keep the stored one)",
        )]));
    }
    let spec = SiteSpec {
        name: path.name,
        product: input.product,
        base_url: input.base_url,
        auth: input.auth,
        email: input.email,
    };
    let (site, created) = state
        .store()
        .site_put(&spec, input.secret.as_deref())
        .await?;
    reload(&state).await?;
    state
        .audit(
            caller.actor(),
            if created {
                "site.create"
            } else {
                "site.update"
            },
            &format!("site:{}", site.spec.name),
            json!({"product": site.spec.product.as_str(), "base_url": site.spec.base_url,
                   "secret_changed": input.secret.is_some()}),
        )
        .await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SiteView::from(site))).into_response())
}

/// Deletes a stored site.
#[utoipa::path(delete, path = "/sites/{name}", tag = "sites", params(SitePath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::Problem, content_type = "application/problem+json", description = "A configuration site"),
    ),
    security(("bearer" = []), ("session" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Admin,
    ApiPath(path): ApiPath<SitePath>,
) -> Result<StatusCode, ApiError> {
    if let Some(book) = state.sites()
        && book.configured().iter().any(|site| site.name == path.name)
    {
        return Err(read_only(&path.name));
    }
    if !state.store().site_delete(&path.name).await? {
        return Err(ApiError::NotFound(format!("no site named {:?}", path.name)));
    }
    reload(&state).await?;
    state
        .audit(
            caller.actor(),
            "site.delete",
            &format!("site:{}", path.name),
            json!({}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn reload(state: &AppState) -> Result<(), ApiError> {
    if let Some(book) = state.sites() {
        book.reload(state.store()).await?;
    }
    Ok(())
}

fn read_only(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "the site {name:?} comes from clockwork.toml and is read-only here"
    ))
}
