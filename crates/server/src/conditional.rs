//! Conditional GETs: every `200 application/json` answer to a GET carries
//! an `ETag` (a hash of its body) and `Cache-Control: private, no-cache`, so
//! a client that asks again with `If-None-Match` gets `304 Not Modified`
//! and no body when nothing changed — the web UI's periodic refreshes then
//! move a few hundred bytes instead of the whole page.

use std::hash::{DefaultHasher, Hasher};

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Adds the validator to JSON answers of GETs and answers a matching
/// `If-None-Match` with 304.
pub(crate) async fn etag(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || !is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // JSON answers are serialised into memory before they are sent, so
    // holding the bytes here costs no more than sending them.
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "cannot read a JSON answer to tag it");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let tag = tag_of(&bytes);
    parts.headers.insert(header::ETAG, tag.clone());
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    parts.headers.insert(
        header::VARY,
        HeaderValue::from_static("authorization, cookie, accept, accept-encoding"),
    );
    if if_none_match.is_some_and(|value| matches(&value, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// A strong validator: 64 bits of a hash of the body, quoted.
fn tag_of(body: &[u8]) -> HeaderValue {
    let mut hasher = DefaultHasher::new();
    hasher.write(body);
    // Hex digits and quotes are always a valid header value.
    HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether an `If-None-Match` value names `tag` (or is `*`), weak or strong.
fn matches(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    list.split(',')
        .map(|item| item.trim().trim_start_matches("W/"))
        .any(|item| item == "*" || item == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_weak_and_strong_tags() {
        let tag = tag_of(b"{}");
        let text = tag.to_str().unwrap().to_owned();
        for value in [
            text.clone(),
            format!("W/{text}"),
            format!("\"x\", {text}"),
            "*".to_owned(),
        ] {
            assert!(
                matches(&HeaderValue::from_str(&value).unwrap(), &tag),
                "{value}"
            );
        }
        assert!(!matches(&HeaderValue::from_static("\"other\""), &tag));
        assert_ne!(tag_of(b"{}"), tag_of(b"[]"));
    }
}
