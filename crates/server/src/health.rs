//! `GET /healthz`: is this process serving, and can it reach its database.
//!
//! A load balancer or orchestrator polls it, so it must answer quickly
//! either way: the database check is one trivial query bounded by
//! [`DATABASE_CHECK_TIMEOUT`]. An unreachable or hung database is a 503
//! problem document (the node cannot claim, run or record anything), not a
//! request that hangs until the pool's own acquire timeout.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use store::Engine;

use crate::{AppState, problem::ApiError};

/// How long the database may take to answer the health query.
pub(crate) const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The health answer.
#[derive(Debug, Serialize)]
pub(crate) struct Health {
    status: &'static str,
    /// The engine that answered: `sqlite` or `postgres`.
    database: &'static str,
}

/// Answers 200 while the server accepts requests, its database answers a
/// query within [`DATABASE_CHECK_TIMEOUT`] and its writes succeed;
/// otherwise 503: `"status": "draining"` once the server is shutting down
/// (it still answers reads until it exits), a problem document while the
/// database is unreachable, slow, or refuses writes (a full disk — a
/// query still works then, so the latest write's outcome is what tells).
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store();
    let engine = store.engine();
    let database = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    if state.is_draining() {
        let draining = Health {
            status: "draining",
            database,
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(draining)).into_response();
    }
    match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => match store.write_failure() {
            None => Json(Health {
                status: "ok",
                database,
            })
            .into_response(),
            Some(why) => ApiError::DatabaseUnavailable(why).into_response(),
        },
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: the database query failed");
            // Only the kind of failure: this endpoint needs no token.
            ApiError::DatabaseUnavailable(
                error
                    .unavailability()
                    .unwrap_or(store::Unavailability::Unreachable),
            )
            .into_response()
        }
        Err(_) => {
            tracing::warn!(
                "health check: the database did not answer within {} s",
                DATABASE_CHECK_TIMEOUT.as_secs()
            );
            ApiError::DatabaseUnavailable(store::Unavailability::Unreachable).into_response()
        }
    }
}
