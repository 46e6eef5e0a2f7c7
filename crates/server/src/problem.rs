//! The one error type of the API and its RFC 9457 problem document.
//!
//! Every failure a handler or extractor can meet is an [`ApiError`]; its
//! `IntoResponse` writes an `application/problem+json` body. Internal
//! failures are logged with their cause chain and answered with a generic
//! text, so no SQL, path or driver message reaches a client. The
//! [`fill_instance`] middleware adds the request path as `instance`.

use std::error::Error as StdError;

use axum::{
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, as every error response of the API carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:clockwork:problem:validation`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// The request path the problem occurred on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For validation problems: each invalid field, in input order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `schedule.cron`, `retry.max_attempts`
    /// or a query parameter's name; `.` for the whole body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// The 1-based line inside the field's text (scripts), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The 1-based column (in characters) inside the field's text (cron
    /// expressions, scripts), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl FieldError {
    /// An error on `field` without a position.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// The same error, pointing at `line` and `column` of the field's text.
    pub fn at(mut self, line: Option<u32>, column: Option<u32>) -> Self {
        self.line = line;
        self.column = column;
        self
    }
}

/// Why a request failed. Converts into a problem document response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be understood (malformed JSON, a bad header).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but some fields are invalid.
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// No valid bearer token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The token is valid but its role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A change made with the session cookie lacks the session's CSRF token.
    #[error("{0}")]
    Csrf(&'static str),
    /// The path names nothing, or a resource that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The change conflicts with the current state (stale version).
    #[error("{0}")]
    Conflict(String),
    /// One field's value conflicts with the current state (a name taken):
    /// a 409 whose `errors` name the field, so a form can show it there.
    #[error("{}", .0.message)]
    FieldConflict(FieldError),
    /// An `If-Match` precondition did not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The body is larger than the server accepts.
    #[error(
        "the request body is larger than {limit} bytes (a job's or console script may be at most {} bytes, 1 MiB)",
        store::MAX_SCRIPT_BYTES
    )]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not in a media type the endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many attempts (sign-in guesses): try again after the wait.
    #[error("too many failed sign-in attempts; try again in {} s", retry_after.as_secs().max(1))]
    TooManyRequests {
        /// How long the client must wait.
        retry_after: std::time::Duration,
    },
    /// The server cannot do this now (shutting down, scheduler not running).
    #[error("{0}")]
    Unavailable(String),
    /// The database cannot serve now (unreachable, or its disk is full):
    /// nothing was done, and the request may be retried once it is back.
    /// The cause is logged; the detail says which of the two it is.
    #[error("{0}; nothing was changed, retry once it is resolved")]
    DatabaseUnavailable(store::Unavailability),
    /// The write would take the scripts' storage above its quota; nothing
    /// was written. The detail names the limit, the usage and the setting.
    #[error("{0}")]
    StorageQuotaExceeded(store::QuotaExceeded),
    /// A failure that is the server's, not the client's. Logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    /// Wraps a server-side failure; its text is logged, never sent.
    pub fn internal(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    /// A validation problem with one invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The status code and the `type` slug and title of this kind of problem.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::Csrf(_) => (StatusCode::FORBIDDEN, "csrf", "Missing or wrong CSRF token"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::Conflict(_) | Self::FieldConflict(_) => {
                (StatusCode::CONFLICT, "conflict", "Conflict")
            }
            Self::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::DatabaseUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                "Database unavailable",
            ),
            Self::StorageQuotaExceeded(_) => (
                StatusCode::INSUFFICIENT_STORAGE,
                "storage-quota-exceeded",
                "Storage quota exceeded",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// The problem document for this error (without `instance`).
    pub fn to_problem(&self) -> Problem {
        let (status, slug, title) = self.kind();
        let detail = match self {
            Self::Validation(errors) => validation_detail(errors),
            Self::Internal(_) => {
                "the server failed to handle the request; the failure is in its log".to_owned()
            }
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("urn:clockwork:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: None,
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                Self::FieldConflict(error) => vec![error.clone()],
                _ => Vec::new(),
            },
        }
    }
}

fn validation_detail(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} fields are invalid", many.len()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(error) = &self {
            tracing::error!(error = %ErrorChain(error.as_ref()), "request failed");
        }
        let problem = self.to_problem();
        let mut response = problem_response(&problem);
        if matches!(self, Self::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"clockwork\""),
            );
        }
        if let Self::TooManyRequests { retry_after } = &self {
            // Whole seconds, rounded up: a client never retries too early.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        // Kept for `fill_instance`, which knows the request path.
        response.extensions_mut().insert(problem);
        response
    }
}

fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Serialising plain strings and numbers cannot fail; fall back to an empty object anyway.
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
        body,
    )
        .into_response()
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        use store::StoreError as E;
        match error {
            E::NameTaken { .. } => Self::FieldConflict(FieldError::new("name", error.to_string())),
            E::VersionConflict { .. } => Self::Conflict(error.to_string()),
            E::JobNotFound { .. } | E::NoConsumer { .. } => Self::NotFound(error.to_string()),
            E::InvalidSpec(problem) => Self::invalid(problem.field, problem.reason),
            E::Invalid { what, reason } => Self::invalid(what, reason),
            E::InvalidCursor => Self::invalid("cursor", "is not a cursor this server handed out"),
            E::Conflict(message) => Self::Conflict(message),
            other @ E::Database(_) => match other.unavailability() {
                Some(why) => {
                    tracing::warn!(error = %ErrorChain(&other), "the database is unavailable");
                    Self::DatabaseUnavailable(why)
                }
                None => Self::internal(other),
            },
            other @ (E::Corrupt { .. } | E::ClaimAbandoned) => Self::internal(other),
        }
    }
}

impl From<scheduler::SchedulerError> for ApiError {
    fn from(error: scheduler::SchedulerError) -> Self {
        match error {
            scheduler::SchedulerError::Store(error) => error.into(),
            scheduler::SchedulerError::Stopped => {
                Self::Unavailable("the scheduler is shutting down".to_owned())
            }
        }
    }
}

/// Middleware: writes the request path as the `instance` of every problem
/// document an inner handler or extractor returned.
pub(crate) async fn fill_instance(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    match response.extensions().get::<Problem>() {
        Some(problem) if problem.instance.is_none() => {
            let problem = Problem {
                instance: Some(path),
                ..problem.clone()
            };
            let (mut parts, _) = response.into_parts();
            let rebuilt = problem_response(&problem);
            parts.headers.remove(header::CONTENT_LENGTH);
            let (_, body) = rebuilt.into_parts();
            parts.extensions.insert(problem);
            Response::from_parts(parts, body)
        }
        _ => response,
    }
}

/// Displays an error with its sources, `outer: inner: innermost`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

/// Answers every path no route matches.
pub(crate) async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!("no endpoint at {}", request.uri().path()))
}

/// Answers a known path with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_hides_its_cause() {
        let cause = std::io::Error::other("disk /var/lib/secret.db is full");
        let problem = ApiError::internal(cause).to_problem();
        assert_eq!(problem.status, 500);
        assert_eq!(problem.problem_type, "urn:clockwork:problem:internal");
        let text = serde_json::to_string(&problem).unwrap();
        assert!(!text.contains("secret.db"), "{text}");
    }

    #[test]
    fn unauthorized_responses_name_the_bearer_scheme() {
        let response = ApiError::Unauthorized("missing token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"clockwork\""
        );
    }

    #[test]
    fn the_chain_shows_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(ErrorChain(&error).to_string(), "outer: inner");
    }
}
