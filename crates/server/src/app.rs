//! The router, its shared state and the server loop.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderValue, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use jiff::Timestamp;
use scheduler::{ChannelSender, ConsoleRuns, JobSaves, SchedulerHandle};
use store::{Clock, JobSpec, RetentionPolicy, Store, SystemClock};
use tokio::{net::TcpListener, sync::watch};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};
use tracing::Span;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    audit, chains, channels, conditional, console, cron_preview,
    extract::MAX_BODY_BYTES,
    health, jobs, metrics,
    model::JobInput,
    openapi, problem,
    problem::ApiError,
    queues, runs, session,
    sites::{self, SiteBook},
    storage,
    throttle::SignInThrottle,
    ui, users,
};

/// What every handler shares: the store, the clock, the scheduler. Cheap
/// to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    scheduler: Option<SchedulerHandle>,
    job_names: Mutex<HashMap<i64, String>>,
    stopping: watch::Sender<bool>,
    default_retention: Option<RetentionPolicy>,
    default_limits: DefaultLimits,
    run_as_names: Option<Vec<String>>,
    console: Option<ConsoleRuns>,
    sites: Option<Arc<SiteBook>>,
    channel_sender: Option<Arc<dyn ChannelSender>>,
    metrics_public: bool,
    sign_in_throttle: Arc<SignInThrottle>,
}

/// The per-run limits a job gets when its input leaves them out (the
/// configuration's `[limits]`), instead of the built-in 900 s and 256 MiB.
/// A job that sets a limit keeps its own value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultLimits {
    /// Wall-clock limit of one run, in seconds.
    pub timeout_seconds: Option<u32>,
    /// Script heap limit of one run, in MiB.
    pub memory_limit_mb: Option<u32>,
    /// This node's memory budget for live runs, in MiB: a job whose
    /// `memory_limit_mb` exceeds it is refused when saved (its runs could
    /// never start here).
    pub total_memory_mb: Option<u32>,
}

impl AppState {
    /// State over `store`, reading time from the system clock.
    pub fn new(store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock: Arc::new(SystemClock),
                scheduler: None,
                job_names: Mutex::default(),
                stopping: watch::channel(false).0,
                default_retention: None,
                default_limits: DefaultLimits::default(),
                run_as_names: None,
                console: None,
                sites: None,
                channel_sender: None,
                metrics_public: false,
                sign_in_throttle: Arc::default(),
            }),
        }
    }

    /// The same state reading time from `clock` (tests pin "now").
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The same state with the scheduler of this process: job changes are
    /// told to it, runs are started and cancelled through it, live logs and
    /// metrics come from it. Without one those endpoints answer 503.
    pub fn with_scheduler(self, scheduler: SchedulerHandle) -> Self {
        self.rebuild(|inner| inner.scheduler = Some(scheduler))
    }

    /// The same state filling a job's omitted `retention` fields from this
    /// one (the configuration's default) instead of the built-in 1,000 runs
    /// and 30 days.
    pub fn with_default_retention(self, retention: RetentionPolicy) -> Self {
        self.rebuild(|inner| inner.default_retention = Some(retention))
    }

    /// The same state filling a job's omitted `timeout_seconds` and
    /// `memory_limit_mb` from `limits` (the configuration's defaults).
    pub fn with_default_limits(self, limits: DefaultLimits) -> Self {
        self.rebuild(|inner| inner.default_limits = limits)
    }

    /// The same state accepting only these names as a job's `run_as` (the
    /// user credentials the configuration defines).
    pub fn with_run_as_names(self, names: Vec<String>) -> Self {
        self.rebuild(|inner| inner.run_as_names = Some(names))
    }

    /// The same state running console and test runs (`POST
    /// /api/v1/console/run`) through `console` (the process's executor in
    /// the same environment as the scheduler's runs). Without it that
    /// endpoint answers 503.
    pub fn with_console(self, console: ConsoleRuns) -> Self {
        self.rebuild(|inner| inner.console = Some(console))
    }

    /// The same state listing the configuration's sites from `book` and
    /// reloading it after every site change (runs read it).
    pub fn with_sites(self, book: Arc<SiteBook>) -> Self {
        self.rebuild(|inner| inner.sites = Some(book))
    }

    /// The same state sending channels' test messages through `sender`;
    /// without one `POST /channels/{name}/test` answers 503.
    pub fn with_channel_sender(self, sender: Arc<dyn ChannelSender>) -> Self {
        self.rebuild(|inner| inner.channel_sender = Some(sender))
    }

    /// The same state serving `/metrics` without credentials (the
    /// configuration's `[metrics] public = true`); by default a scrape
    /// needs a viewer's token.
    pub fn with_public_metrics(self, public: bool) -> Self {
        self.rebuild(|inner| inner.metrics_public = public)
    }

    /// The failed sign-in counts of this node.
    pub(crate) fn sign_in_throttle(&self) -> &SignInThrottle {
        &self.inner.sign_in_throttle
    }

    /// True when `/metrics` needs no credentials.
    pub(crate) fn metrics_public(&self) -> bool {
        self.inner.metrics_public
    }

    /// The site book, when the process has one.
    pub(crate) fn sites(&self) -> Option<&SiteBook> {
        self.inner.sites.as_deref()
    }

    /// The channel sender, or a 503.
    pub(crate) fn channel_sender(&self) -> Result<&dyn ChannelSender, ApiError> {
        self.inner.channel_sender.as_deref().ok_or_else(|| {
            ApiError::Unavailable("this server has no HTTP client for channel tests".to_owned())
        })
    }

    /// The console runs, or a 503.
    pub(crate) fn console(&self) -> Result<&ConsoleRuns, ApiError> {
        self.inner.console.as_ref().ok_or_else(|| {
            ApiError::Unavailable("this server has no script executor for console runs".to_owned())
        })
    }

    /// The spec a client's input describes, with this server's defaults.
    pub(crate) fn spec_of(&self, input: &JobInput) -> JobSpec {
        let mut spec = input.to_spec();
        if let Some(default) = self.inner.default_retention {
            let given = input.retention;
            spec.retention = RetentionPolicy {
                keep_runs: given.and_then(|r| r.keep_runs).unwrap_or(default.keep_runs),
                keep_days: given.and_then(|r| r.keep_days).unwrap_or(default.keep_days),
            };
        }
        let limits = self.inner.default_limits;
        if let (None, Some(timeout)) = (input.timeout_seconds, limits.timeout_seconds) {
            spec.timeout_seconds = timeout;
        }
        if let (None, Some(memory)) = (input.memory_limit_mb, limits.memory_limit_mb) {
            spec.memory_limit_mb = memory;
        }
        spec
    }

    /// The largest `memory_limit_mb` a job may have (the node's memory
    /// budget), when the server knows it.
    pub(crate) fn memory_budget_mb(&self) -> Option<u32> {
        self.inner.default_limits.total_memory_mb
    }

    /// The names `run_as` may take, when the server knows them.
    pub(crate) fn run_as_names(&self) -> Option<&[String]> {
        self.inner.run_as_names.as_deref()
    }

    /// Starts draining for a graceful shutdown: open live-log streams end
    /// (each gets a final comment and closes, so the shutdown does not
    /// wait for runs to end), `/healthz` answers 503 `"draining"`, and only
    /// reads are served until the process exits.
    pub fn close_streams(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Whether the server is shutting down ([`AppState::close_streams`]).
    pub(crate) fn is_draining(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            store: self.inner.store.clone(),
            clock: Arc::clone(&self.inner.clock),
            scheduler: self.inner.scheduler.clone(),
            job_names: Mutex::default(),
            stopping: self.inner.stopping.clone(),
            default_retention: self.inner.default_retention,
            default_limits: self.inner.default_limits,
            run_as_names: self.inner.run_as_names.clone(),
            console: self.inner.console.clone(),
            sites: self.inner.sites.clone(),
            channel_sender: self.inner.channel_sender.clone(),
            metrics_public: self.inner.metrics_public,
            sign_in_throttle: Arc::clone(&self.inner.sign_in_throttle),
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

    /// Job saves: one scheduler call per change (next fire instant, write,
    /// notice to this process's scheduler, if any).
    pub(crate) fn job_saves(&self) -> JobSaves {
        let saves = JobSaves::new(self.inner.store.clone(), self.inner.clock.clone());
        match &self.inner.scheduler {
            Some(scheduler) => saves.with_scheduler(scheduler.clone()),
            None => saves,
        }
    }

    /// Appends an audit entry for a change already made; a failure is
    /// logged, not returned (the change stands either way).
    pub(crate) async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) {
        let entry = store::AuditEntry {
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        };
        if let Err(error) = self.store().audit_append(&entry).await {
            tracing::error!(%action, %target, error = %crate::problem::ErrorChain(&error), "cannot write the audit entry");
        }
    }

    /// The scheduler, or a 503 for endpoints that need one.
    pub(crate) fn scheduler(&self) -> Result<&SchedulerHandle, ApiError> {
        self.inner.scheduler.as_ref().ok_or_else(|| {
            ApiError::Unavailable("the scheduler is not running in this server".to_owned())
        })
    }

    /// The scheduler, when there is one.
    pub(crate) fn scheduler_if_any(&self) -> Option<&SchedulerHandle> {
        self.inner.scheduler.as_ref()
    }

    /// Completes when [`AppState::close_streams`] is called.
    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    /// Job names by id, for metric labels; looked up once, forgotten on change.
    pub(crate) async fn job_name(&self, id: i64) -> Option<String> {
        if let Some(name) = self.job_names().get(&id) {
            return Some(name.clone());
        }
        let job = self.store().job_get(&store::JobRef::Id(id)).await.ok()??;
        self.job_names().insert(id, job.spec.name.clone());
        Some(job.spec.name)
    }

    /// Forgets the cached name of job `id` (it changed or went).
    pub(crate) fn forget_job_name(&self, id: i64) {
        self.job_names().remove(&id);
    }

    fn job_names(&self) -> std::sync::MutexGuard<'_, HashMap<i64, String>> {
        self.inner
            .job_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        .routes(routes!(session::sign_in, session::get, session::sign_out))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::patch_user, users::delete_user))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(channels::list, channels::create))
        .routes(routes!(channels::get, channels::replace, channels::delete))
        .routes(routes!(channels::test))
        .routes(routes!(channels::deliveries))
        .routes(routes!(audit::list))
        .routes(routes!(sites::list))
        .routes(routes!(sites::put, sites::delete))
        .routes(routes!(storage::browse))
        .routes(routes!(storage::get, storage::put, storage::delete))
        .routes(routes!(cron_preview::preview))
        .routes(routes!(console::run))
        .routes(routes!(jobs::list, jobs::create))
        .routes(routes!(jobs::get, jobs::replace, jobs::patch, jobs::delete))
        .routes(routes!(jobs::versions))
        .routes(routes!(jobs::pause))
        .routes(routes!(jobs::resume))
        .routes(routes!(jobs::run_now))
        .routes(routes!(runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::logs))
        .routes(routes!(runs::cancel))
        .routes(routes!(chains::get))
        .routes(routes!(chains::cancel))
        .routes(routes!(queues::get))
        .routes(routes!(queues::job))
}

/// Builds the whole application: `/api/v1/…`, `/api/v1/openapi.json`,
/// `/healthz`, with problem documents for every error, request spans and
/// the body limit.
pub fn app(state: AppState) -> Router {
    let (api, document) = OpenApiRouter::with_openapi(openapi::base())
        .nest("/api/v1", api_routes())
        .split_for_parts();
    let facts = crate::openapi_contract::Facts {
        run_as_names: state.inner.run_as_names.as_deref(),
    };
    let document = Bytes::from(openapi::to_json(&document, &facts));
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
        .merge(ui::routes())
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            reads_only_while_draining,
        ))
        .layer(middleware::from_fn(problem::fill_instance))
        .layer(middleware::from_fn(conditional::etag))
        // Outside the validator, which hashes the uncompressed body; the
        // UI's assets come compressed already and event streams are left alone.
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response),
        )
        .with_state(state)
}

/// Middleware: once the server drains, a request that would change
/// something is refused (503) — the scheduler has stopped and the process
/// is about to exit — while reads go on being answered until it does.
async fn reads_only_while_draining(
    State(state): State<AppState>,
    request: Request,
    next: middleware::Next,
) -> Response {
    let read = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if state.is_draining() && !read {
        return ApiError::Unavailable(
            "the server is shutting down: it answers only reads until it exits".to_owned(),
        )
        .into_response();
    }
    next.run(request).await
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
    // The peer address feeds sign-in throttling per client.
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
