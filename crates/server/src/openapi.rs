//! The OpenAPI document's fixed parts; the paths and schemas come from the
//! handlers' `#[utoipa::path]` annotations as they are routed.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::problem::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Clockwork API",
        description = "Jobs, runs, live logs and cron previews of a Clockwork server. \
            Every request needs `Authorization: Bearer <token>` or the web UI's session \
            cookie (`POST /session`; then changes also need `X-CSRF-Token`); errors are \
            RFC 9457 problem documents (`application/problem+json`).",
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, document: &mut openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token created by `clockwork serve` or an admin",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The web UI's session (`POST /api/v1/session`); requests that change \
                 something must also send `X-CSRF-Token` with the session's `csrf_token`",
            ))),
        );
    }
}

/// The document before any path is added.
pub(crate) fn base() -> openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}

/// The served document as JSON text: the generated one completed into
/// the contract the server keeps ([`crate::openapi_contract`]).
pub(crate) fn to_json(
    document: &openapi::OpenApi,
    facts: &crate::openapi_contract::Facts<'_>,
) -> String {
    // The document is plain data built by our own code; serialising it cannot fail.
    let mut value = serde_json::to_value(document).unwrap_or_default();
    crate::openapi_contract::complete(&mut value, facts);
    serde_json::to_string(&value).unwrap_or_else(|_| "{}".to_owned())
}
