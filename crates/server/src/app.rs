//! The router, its shared state and the server loop.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderValue, header},
    middleware,
    response::IntoResponse,
    routing::get,
};
use jiff::Timestamp;
use store::{Clock, Store, SystemClock};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{cron_preview, extract::MAX_BODY_BYTES, health, jobs, openapi, problem, runs};

/// What every handler shares: the store, the clock. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    job_listener: Option<JobListener>,
}

/// Called with a job's id after this server created, changed or deleted it.
pub type JobListener = Arc<dyn Fn(i64) + Send + Sync>;

impl AppState {
    /// State over `store`, reading time from the system clock.
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock: Arc::new(SystemClock),
                job_listener: None,
            }),
        }
    }

    /// The same state reading time from `clock` (tests pin "now").
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The same state, calling `listener` after every job change it makes
    /// (so a scheduler in this process re-reads the job at once).
    pub fn with_job_listener(self, listener: JobListener) -> Self {
        self.rebuild(|inner| inner.job_listener = Some(listener))
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            store: self.inner.store.clone(),
            clock: Arc::clone(&self.inner.clock),
            job_listener: self.inner.job_listener.clone(),
        };
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The store handlers read and write.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Tells the listener, if any, that job `id` changed.
    pub(crate) fn job_changed(&self, id: i64) {
        if let Some(listener) = &self.inner.job_listener {
            listener(id);
        }
    }

    /// The current instant by the state's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// The API routes under `/api/v1`, each registered with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cron_preview::preview))
        .routes(routes!(jobs::list, jobs::create))
        .routes(routes!(jobs::get, jobs::replace, jobs::patch, jobs::delete))
        .routes(routes!(jobs::versions))
        .routes(routes!(jobs::pause))
        .routes(routes!(jobs::resume))
        .routes(routes!(runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::logs))
}

/// Builds the whole application: `/api/v1/…`, `/api/v1/openapi.json`,
/// `/healthz`, with problem documents for every error, request spans and
/// the body limit.
pub fn app(state: AppState) -> Router {
    let (api, document) = OpenApiRouter::with_openapi(openapi::base())
        .nest("/api/v1", api_routes())
        .split_for_parts();
    let document = Bytes::from(openapi::to_json(&document));
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    document.clone(),
                )
                    .into_response()
            }),
        )
        .route("/healthz", get(health::healthz))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(problem::fill_instance))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response),
        )
        .with_state(state)
}

/// One span per request, named by the route (not the raw path) so ids and
/// names do not explode the span's cardinality.
fn request_span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        path = %request.uri().path(),
    )
}

fn log_response<B>(response: &axum::http::Response<B>, latency: Duration, _span: &Span) {
    tracing::debug!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "response"
    );
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
