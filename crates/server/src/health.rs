//! `GET /healthz`: is this process serving.

use axum::Json;
use serde::Serialize;

/// The health answer.
#[derive(Debug, Serialize)]
pub(crate) struct Health {
    status: &'static str,
}

/// Answers 200 while the server accepts requests.
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}
