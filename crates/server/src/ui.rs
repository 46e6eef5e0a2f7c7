//! The web UI: the browser app's assets, embedded in the binary and served
//! at `/` beside the API (no CDN, nothing downloaded at run time).
//!
//! This module owns only serving the files; the app itself lives in
//! `crates/server/ui/` and speaks to the server through `/api/v1` alone.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{Html, IntoResponse},
    routing::get,
};

use crate::app::AppState;

/// The UI's routes, merged into the application beside the API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

async fn index() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Html(
            "<!doctype html><title>Clockwork</title><p>Clockwork is running. The API is at /api/v1.</p>",
        ),
    )
}
