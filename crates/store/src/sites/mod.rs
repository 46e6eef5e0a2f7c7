//! Jira and Confluence sites added through the API, with their credential's
//! secret (API token or bearer token) encrypted at rest under the store's
//! [`SecretKey`](crate::SecretKey), the site's name bound as associated
//! data. The secret is write-only for API clients: only runs read it back
//! ([`Store::site_credentials`]). One site per product, since a run has
//! one Jira and one Confluence base URL.

pub(crate) mod sql;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{
    codec::{Columns, commit_or_rollback, instant, parse_enum},
    error::{DbResultExt, SecretError, StoreError},
    secret::Sealed,
    store::{Store, with_backend, with_writer},
};

/// Which product a site serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteProduct {
    /// `requestJira`.
    Jira,
    /// `requestConfluence`.
    Confluence,
}

/// How requests to a site authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteAuth {
    /// `email` and an API token (Atlassian Cloud basic auth).
    Basic,
    /// A bearer token.
    Bearer,
}

crate::shared::stored_text!(SiteProduct { Jira => "jira", Confluence => "confluence" });
crate::shared::stored_text!(SiteAuth { Basic => "basic", Bearer => "bearer" });

/// A site as written (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSpec {
    /// Unique name, 1 to 100 characters.
    pub name: String,
    /// The product it serves.
    pub product: SiteProduct,
    /// `https://example.atlassian.net`.
    pub base_url: String,
    /// How it authenticates.
    pub auth: SiteAuth,
    /// The account's email (basic auth only).
    pub email: Option<String>,
}

/// A stored site (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// What it is.
    pub spec: SiteSpec,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Store {
    /// Creates or replaces the site `spec.name`. `secret` `None` keeps the
    /// stored one (a new site needs one). Returns the site and whether it
    /// was created. A second site of one product is [`StoreError::Conflict`].
    pub async fn site_put(
        &self,
        spec: &SiteSpec,
        secret: Option<&str>,
    ) -> Result<(Site, bool), StoreError> {
        check_spec(spec)?;
        let key = self.secret_key().map_err(secret_error)?;
        let sealed = match secret {
            Some("") => {
                return Err(StoreError::Invalid {
                    what: "secret",
                    reason: "must not be empty".into(),
                });
            }
            Some(secret) => Some(key.encrypt(&aad_name(&spec.name), secret).ok_or_else(|| {
                StoreError::Invalid {
                    what: "secret",
                    reason: "is too large".into(),
                }
            })?),
            None => None,
        };
        let now = self.now_ms();
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let existing: Option<(i32, Vec<u8>, Vec<u8>, i64)> =
                    sqlx::query_as(sql::SITE_SECRET)
                        .bind(&spec.name)
                        .fetch_optional(&mut *tx)
                        .await
                        .db()?;
                let created = existing.is_none();
                let (version, nonce, ciphertext, created_at) = match (&sealed, existing) {
                    (Some(sealed), existing) => (
                        sealed.version,
                        sealed.nonce.clone(),
                        sealed.ciphertext.clone(),
                        existing.map_or(now, |row| row.3),
                    ),
                    (None, Some(row)) => row,
                    (None, None) => {
                        return Err(StoreError::Invalid {
                            what: "secret",
                            reason: "is required for a new site".into(),
                        });
                    }
                };
                sqlx::query(sql::SITE_UPSERT)
                    .bind(&spec.name)
                    .bind(spec.product.as_str())
                    .bind(&spec.base_url)
                    .bind(spec.auth.as_str())
                    .bind(spec.email.as_deref())
                    .bind(version)
                    .bind(&nonce)
                    .bind(&ciphertext)
                    .bind(created_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .db()
                    .map_err(|error| {
                        if error.is_unique_violation() {
                            StoreError::Conflict(format!(
                                "another site already serves {}; one site per product",
                                spec.product.as_str()
                            ))
                        } else {
                            StoreError::Database(error)
                        }
                    })?;
                let site = Site {
                    spec: spec.clone(),
                    created_at: instant(created_at)?,
                    updated_at: instant(now)?,
                };
                // Every node (PostgreSQL) hears of it when it is visible,
                // and only if it commits: each keeps the sites in memory.
                if let Some(notify) = sql.notify {
                    sqlx::query(notify)
                        .bind(crate::feed::SETTINGS_CHANNEL)
                        .bind(crate::feed::SITES_CHANGED)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                Ok((site, created))
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Every stored site by name.
    pub async fn site_list(&self) -> Result<Vec<Site>, StoreError> {
        with_backend!(self, |pool, _sql| {
            let rows = sqlx::query(sql::SITE_LIST).fetch_all(pool).await.db()?;
            rows.iter().map(decode_site).collect()
        })
    }

    /// Deletes a site; returns whether it existed.
    pub async fn site_delete(&self, name: &str) -> Result<bool, StoreError> {
        with_writer!(self, |pool, sql| {
            let mut tx = pool.begin_with(sql.begin_write).await.db()?;
            let outcome = async {
                let deleted = sqlx::query(sql::SITE_DELETE)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
                if deleted == 1 {
                    // Every node (PostgreSQL) hears of it when it is visible,
                    // and only if it commits: each keeps the sites in memory.
                    if let Some(notify) = sql.notify {
                        sqlx::query(notify)
                            .bind(crate::feed::SETTINGS_CHANNEL)
                            .bind(crate::feed::SITES_CHANGED)
                            .execute(&mut *tx)
                            .await
                            .db()?;
                    }
                }
                Ok(deleted == 1)
            }
            .await;
            commit_or_rollback(tx, outcome).await
        })
    }

    /// Every stored site with its decrypted secret: what runs use.
    pub async fn site_credentials(&self) -> Result<Vec<(Site, Zeroizing<String>)>, StoreError> {
        let key = self.secret_key().map_err(secret_error)?;
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
            i64,
            i32,
            Vec<u8>,
            Vec<u8>,
        );
        let rows: Vec<Row> = with_backend!(self, |pool, _sql| {
            sqlx::query_as(sql::SITE_LIST_WITH_SECRET)
                .fetch_all(pool)
                .await
                .db()?
        });
        let rows = rows
            .into_iter()
            .map(
                |(name, product, base_url, auth, email, created, updated, version, nonce, ct)| {
                    let site = Site {
                        spec: SiteSpec {
                            name,
                            product: parse_enum("site product", &product)?,
                            base_url,
                            auth: parse_enum("site auth", &auth)?,
                            email,
                        },
                        created_at: instant(created)?,
                        updated_at: instant(updated)?,
                    };
                    let sealed = Sealed {
                        version,
                        nonce,
                        ciphertext: ct,
                    };
                    Ok((site, sealed))
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        rows.into_iter()
            .map(|(site, sealed)| {
                let plain = key
                    .decrypt(&aad_name(&site.spec.name), &sealed)
                    .map_err(secret_error)?;
                let text = String::from_utf8(plain.to_vec())
                    .map_err(|_| StoreError::corrupt("site secret", "not UTF-8"))?;
                Ok((site, Zeroizing::new(text)))
            })
            .collect()
    }
}

/// The associated data a site's secret is bound to (apart from the
/// scripts' secrets, whose names never start with a NUL).
fn aad_name(name: &str) -> String {
    format!("\0site:{name}")
}

fn secret_error(error: SecretError) -> StoreError {
    match error {
        SecretError::NoKey => StoreError::Invalid {
            what: "secret",
            reason: "cannot be stored: no secret key is configured".into(),
        },
        SecretError::Database(error) => StoreError::Database(error),
        other => StoreError::corrupt("site secret", other),
    }
}

fn check_spec(spec: &SiteSpec) -> Result<(), StoreError> {
    let chars = spec.name.chars().count();
    if chars == 0 || chars > 100 {
        return Err(StoreError::Invalid {
            what: "name",
            reason: "must be 1 to 100 characters".into(),
        });
    }
    if !(spec.base_url.starts_with("https://") || spec.base_url.starts_with("http://")) {
        return Err(StoreError::Invalid {
            what: "base_url",
            reason: "must be an http:// or https:// URL".into(),
        });
    }
    match (spec.auth, &spec.email) {
        (SiteAuth::Basic, None) => Err(StoreError::Invalid {
            what: "email",
            reason: "is required with basic auth".into(),
        }),
        (SiteAuth::Bearer, Some(_)) => Err(StoreError::Invalid {
            what: "email",
            reason: "goes only with basic auth".into(),
        }),
        _ => Ok(()),
    }
}

fn decode_site(row: &impl Columns) -> Result<Site, StoreError> {
    Ok(Site {
        spec: SiteSpec {
            name: row.text(0)?,
            product: parse_enum("site product", &row.text(1)?)?,
            base_url: row.text(2)?,
            auth: parse_enum("site auth", &row.text(3)?)?,
            email: row.opt_text(4)?,
        },
        created_at: instant(row.i64(5)?)?,
        updated_at: instant(row.i64(6)?)?,
    })
}
