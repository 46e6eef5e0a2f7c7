//! Extractors that turn request bodies and query strings into typed values
//! or into problem documents naming the offending field.
//!
//! Request types derive `Deserialize` with `deny_unknown_fields`, so a typo
//! (`"schedul": …`, `?limt=5`) is an error with its path, not a silently
//! ignored field.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};

/// The largest request body accepted: a 1 MiB script plus JSON escaping and
/// the other fields.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A JSON request body of type `T`.
///
/// Rejections: a body that is not `application/json` (415), larger than
/// [`MAX_BODY_BYTES`] (413), not JSON (400, with line and column), or JSON of
/// the wrong shape (422, with the field's path).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(&request)?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: MAX_BODY_BYTES,
                    }
                } else {
                    ApiError::BadRequest(format!("cannot read the request body: {rejection}"))
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: a request without `Content-Type` and without a
/// body is `None`; anything else must be a valid JSON body.
impl<T, S> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = request.headers();
        let declared_length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let no_body = !headers.contains_key(header::CONTENT_TYPE)
            && !headers.contains_key(header::TRANSFER_ENCODING)
            && declared_length.unwrap_or(0) == 0;
        if no_body {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

fn require_json_content_type(request: &Request) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "expected a JSON body with Content-Type: application/json, got {}",
            if content_type.is_empty() {
                "no Content-Type".to_owned()
            } else {
                format!("{content_type:?}")
            }
        )))
    }
}

/// Parses a JSON document, reporting shape errors with the field's path.
/// A number written with a zero fraction (`30.0`) is the integer it equals,
/// as JSON Schema's `integer` has it.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| json_error(".".to_owned(), &error))?;
    integral_floats_as_integers(&mut value);
    parse_value(value)
}

/// Rewrites every float with no fraction that fits an `i64`/`u64` as that
/// integer, so `"timeout_seconds": 30.0` reads as 30.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            // Only integers a double holds exactly (|n| ≤ 2^53) are rewritten;
            // a larger one stays a float and is refused where an integer is due.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if let Some(float) = number.as_f64()
                && !number.is_i64()
                && !number.is_u64()
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                #[allow(clippy::cast_possible_truncation)] // integral and in range
                let integer = float as i64;
                *value = Value::from(integer);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(members) => members.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Reads a JSON value (e.g. a merged patch) as `T`, reporting shape
/// errors with the field's path like a request body.
pub(crate) fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    crate::strict_json::from_value(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        json_error(path, &inner)
    })
}

fn json_error(path: String, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => {
            let message = without_read_only_fields(&strip_position(&error.to_string()));
            ApiError::Validation(vec![FieldError::new(
                named_field_path(path, &message),
                message,
            )])
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::BadRequest(format!("the request body is not valid JSON: {error}"))
        }
    }
}

/// serde's unknown-field message lists every field the input type reads,
/// including those of a resource as read that it only ignores; a person
/// fixing a typo wants the ones they can set.
fn without_read_only_fields(message: &str) -> String {
    let Some((head, expected)) = message.split_once(", expected one of ") else {
        return message.to_owned();
    };
    if !head.starts_with("unknown field") {
        return message.to_owned();
    }
    let writable: Vec<&str> = expected
        .split(", ")
        .filter(|name| !crate::model::READ_ONLY_JOB_FIELDS.contains(&name.trim_matches('`')))
        .collect();
    format!("{head}, expected one of {}", writable.join(", "))
}

/// serde_json appends ` at line L column C` (positions in the whole body);
/// the field path says more for a shape error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string of type `T`; an error names the parameter (422), and
/// unknown parameters are errors when `T` denies unknown fields.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        ApiError::Validation(vec![FieldError::new(
            named_field_path(path, &message),
            message,
        )])
    })
}

/// serde reports a missing field at its parent's path, with the field's
/// own name in the message between backticks; the client wants the full
/// path. (An unknown field's path already ends with its name.)
fn named_field_path(parent: String, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match missing {
        Some(name) if parent == "." => name.to_owned(),
        Some(name) => format!("{parent}.{name}"),
        None => parent,
    }
}

/// The path's parameters as `T`; a value that does not fit (a run id that
/// is not a number) is a 404, as no such resource can exist.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::NotFound(format!("nothing at {}", parts.uri.path())))
    }
}

#[cfg(test)]
mod tests {
    use axum::{Json, Router, extract::DefaultBodyLimit, middleware, routing};
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        count: u32,
    }

    async fn echo(ApiJson(body): ApiJson<Outer>) -> Json<Outer> {
        Json(body)
    }

    /// Posts `body` with `content_type` to a real server routing `echo`
    /// with the application's body limit; returns status, content type, body.
    async fn post(content_type: &str, body: impl Into<reqwest::Body>) -> (u16, String, Value) {
        let app = Router::new()
            .route("/echo", routing::post(echo))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn(crate::problem::fill_instance));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let response = {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
        }
        .post(format!("http://{addr}/echo"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
        let status = response.status().as_u16();
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = response.text().await.unwrap();
        (
            status,
            kind,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn field_error(body: Value) -> Value {
        let (status, kind, problem) = post("application/json", body.to_string()).await;
        assert_eq!(
            (status, kind.as_str()),
            (422, "application/problem+json"),
            "{problem}"
        );
        assert_eq!(problem["instance"], "/echo");
        assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
        problem["errors"][0].clone()
    }

    #[tokio::test]
    async fn a_valid_body_is_accepted() {
        let body = json!({"name": "a", "inner": {"count": 2}});
        let (status, _, echoed) = post("application/json; charset=utf-8", body.to_string()).await;
        assert_eq!(status, 200);
        assert_eq!(echoed["inner"]["count"], 2);
    }

    #[tokio::test]
    async fn an_unknown_field_is_named_by_its_path() {
        let error = field_error(json!({"name": "a", "colour": 1})).await;
        assert_eq!(error["field"], "colour");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("unknown field `colour`")
        );
        let error = field_error(json!({"name": "a", "inner": {"count": 1, "extra": 1}})).await;
        assert_eq!(error["field"], "inner.extra");
    }

    #[tokio::test]
    async fn a_missing_field_is_named_by_its_path() {
        assert_eq!(field_error(json!({})).await["field"], "name");
        assert_eq!(
            field_error(json!({"name": "a", "inner": {}})).await["field"],
            "inner.count"
        );
    }

    #[tokio::test]
    async fn a_wrong_type_is_named_by_its_path_with_array_indices() {
        let error = field_error(json!({"name": "a", "list": [{"count": 1}, {"count": -1}]})).await;
        assert_eq!(error["field"], "list[1].count");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("invalid value: integer `-1`")
        );
        assert!(!error["message"].as_str().unwrap().contains(" at line "));
    }

    #[tokio::test]
    async fn malformed_json_is_a_bad_request() {
        let (status, kind, problem) = post("application/json", "{\"name\": ").await;
        assert_eq!((status, kind.as_str()), (400, "application/problem+json"));
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("not valid JSON"),
            "{problem}"
        );
        let (status, _, _) = post("application/json", "{\"name\": \"a\"} trailing").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_an_unsupported_media_type() {
        let (status, kind, problem) = post("text/plain", "{\"name\": \"a\"}").await;
        assert_eq!((status, kind.as_str()), (415, "application/problem+json"));
        assert!(
            problem["detail"].as_str().unwrap().contains("text/plain"),
            "{problem}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_before_parsing() {
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let (status, kind, problem) = post("application/json", huge).await;
        assert_eq!((status, kind.as_str()), (413, "application/problem+json"));
        assert_eq!(problem["type"], "urn:clockwork:problem:payload-too-large");
    }
}
