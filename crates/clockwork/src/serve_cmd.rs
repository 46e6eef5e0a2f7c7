//! `clockwork serve`: the store, the scheduler with its workers and the
//! REST API in one process, until SIGTERM or SIGINT.
//!
//! Start-up: logs (human or JSON), the configuration file, the data
//! directory, the listener (bound first, so a port in use fails before
//! anything is written), the database (SQLite in the data directory unless
//! `--database` names PostgreSQL), the secret key, the first admin token on
//! an empty database (and the user `admin` when `CLOCKWORK_ADMIN_PASSWORD`
//! is set and no user exists) — or, on a database with no user, how to make
//! one — the node id (kept in the data directory), then the scheduler
//! (which takes back its previous process's runs, interrupts runs whose
//! node died and retries them per policy) and the API. On SIGTERM/SIGINT:
//! no new runs or writes, live-log streams end, running runs get the grace
//! period (`scheduler.grace_seconds`, default 30 s) while the listener
//! keeps answering reads and `/healthz` (503 "draining"), then the database
//! closes. The line `clockwork listening on
//! http://ADDR` on stdout tells scripts (and the end-to-end tests) the port.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use runtime::KvStore as _;
use scheduler::{Scheduler, SchedulerConfig, SchedulerHandle, ScriptStorage};
use store::{NewToken, NewUser, Role, SecretKey, Store, SystemClock};
use tracing_subscriber::{EnvFilter, fmt};

use crate::{InvalidInput, config};

mod environment;
mod node_id;
use environment::ServeEnvironment;

/// How long running runs may finish after SIGTERM/SIGINT unless configured.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// The environment variable that sets the first admin token's secret.
const ADMIN_TOKEN_ENV: &str = "CLOCKWORK_ADMIN_TOKEN";

/// The environment variable that sets the first user `admin`'s password.
const ADMIN_PASSWORD_ENV: &str = "CLOCKWORK_ADMIN_PASSWORD";

/// Arguments of `clockwork serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address (or host name) and port to listen on, e.g. `127.0.0.1:8080`,
    /// `localhost:8080`, `[::]:8080`; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where the SQLite database and the secret key file live.
    #[arg(long, default_value = "./clockwork-data")]
    data_dir: PathBuf,
    /// `postgres://…` for a shared PostgreSQL database; default: the SQLite
    /// file `clockwork.db` in the data directory.
    #[arg(long, env = "CLOCKWORK_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// The configuration file (sites, credentials, egress, limits, alerts).
    #[arg(long)]
    config: Option<PathBuf>,
    /// This node's name in the database; unique among nodes sharing one.
    /// Default: the id stored in the data directory (`node-id`, created
    /// from the host name on first start), so a restarted node takes back
    /// its previous process's runs at once.
    #[arg(long, env = "CLOCKWORK_NODE_ID")]
    node_id: Option<String>,
    /// `true`: `/metrics` answers without a token (for a Prometheus that
    /// scrapes without credentials); overrides `[metrics] public` of the
    /// configuration file.
    #[arg(long, env = "CLOCKWORK_METRICS_PUBLIC", value_name = "BOOL")]
    metrics_public: Option<bool>,
    /// How logs are written to stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Runs the server until a shutdown signal.
pub(crate) fn run(args: ServeArgs) -> Result<()> {
    init_logs(args.log_format);
    let settings = match &args.config {
        Some(path) => config::load(path, &|name| std::env::var(name).ok())
            .map_err(|error| InvalidInput(error.to_string()))?,
        None => config::Settings::default(),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args, settings))
}

fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("CLOCKWORK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn serve(args: ServeArgs, settings: config::Settings) -> Result<()> {
    store::create_private_dir(&args.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            args.data_dir.display()
        )
    })?;
    // Listen first: a port in use must fail before anything is written,
    // or the one-time admin token would be printed for a server that never ran.
    let listener = tokio::net::TcpListener::bind(args.listen.as_str())
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let store = open_store(&args)
        .await?
        .with_storage_quota(settings.storage.quota());
    warn_if_shared(&args);
    let token_created = bootstrap_admin_token(&store).await?;
    bootstrap_admin_user(&store).await?;
    if !token_created && store.users_count().await? == 0 {
        eprintln!("{}", how_to_sign_in(&args));
    }
    for channel in &settings.channels {
        store
            .channel_upsert(channel)
            .await
            .with_context(|| format!("cannot save the notification channel {:?}", channel.name))?;
    }
    // Before any run: a new or changed index is built from the stored values.
    ScriptStorage::new(store.clone())
        .entity_declare(&settings.entities)
        .await
        .context("cannot build the indexes of the custom entities")?;
    let address = listener
        .local_addr()
        .context("the listener has no address")?;
    tracing::info!(%address, engine = %store.engine(), "serving");
    println!("clockwork listening on http://{address}");
    let executor = Arc::new(
        runtime::Executor::new(runtime::ExecutorConfig::default())
            .context("cannot start the script engine")?,
    );
    let sites = server::SiteBook::new(settings.sites.clone());
    sites
        .reload(&store)
        .await
        .context("cannot read the sites stored in the database")?;
    // Other nodes' site changes (PostgreSQL); ends with the process.
    tokio::spawn(Arc::clone(&sites).follow_changes(store.clone()));
    let config = SchedulerConfig::new(node_id::node_id(args.node_id.as_deref(), &args.data_dir)?);
    let (environment, alerts) = run_environment(&settings, &store, Arc::clone(&sites), &config)?;
    let scheduler = start_scheduler(
        config,
        &settings,
        &store,
        Arc::clone(&executor),
        Arc::clone(&environment),
        alerts.clone(),
    )
    .await?;
    let mut state = server::AppState::new(store.clone())
        .with_scheduler(scheduler.clone())
        .with_console(scheduler::ConsoleRuns::new(executor, environment))
        .with_sites(sites)
        // Channels' test messages go through the alerts' client (outside
        // the scripts' allow-list, like the alerts themselves).
        .with_channel_sender(Arc::new(alerts))
        .with_run_as_names(settings.users.keys().cloned().collect())
        .with_default_limits(server::DefaultLimits {
            // Saves are checked against the budget in force, configured or not.
            total_memory_mb: Some(settings.memory_budget_mb()),
            ..settings.limits
        })
        .with_public_metrics(args.metrics_public.unwrap_or(settings.metrics_public));
    if let Some(retention) = settings.retention {
        state = state.with_default_retention(retention);
    }
    let draining = state.clone();
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut http = tokio::spawn(server::serve(listener, state, async move {
        let _ = http_stopped.await;
    }));
    // The listener stays open through the shutdown: `/healthz` says
    // "draining" and reads are answered until the process exits.
    let failed_early = tokio::select! {
        () = shutdown_signal() => None,
        served = &mut http => Some(served),
    };
    tracing::info!("shutting down: draining (reads and /healthz only), no new runs");
    draining.close_streams();
    let grace = settings
        .grace_seconds
        .map_or(DEFAULT_GRACE, Duration::from_secs);
    scheduler.shutdown(grace).await;
    let served = match failed_early {
        Some(served) => served,
        None => {
            let _ = stop_http.send(());
            http.await
        }
    };
    store.close().await;
    served
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")
}

/// What runs reach (sites, storage, egress) — shared by scheduled and
/// console runs — and the client failure alerts are sent with.
fn run_environment(
    settings: &config::Settings,
    store: &Store,
    sites: Arc<server::SiteBook>,
    config: &SchedulerConfig,
) -> Result<(Arc<ServeEnvironment>, egress::Client)> {
    let allowed = match &settings.egress_allow {
        Some(patterns) => egress::AllowList::new(patterns).context("egress.allow")?,
        None => egress::AllowList::any(),
    };
    let http = egress::Client::new(egress::Policy {
        allowed_hosts: allowed,
        reach: public_reach(settings.egress_allow_private),
        ..egress::Policy::default()
    })
    .context("cannot set up the outbound HTTP client")?;
    // Alert channels are the operator's own configuration, not a script's
    // reach: the scripts' allow-list does not apply to them, but the
    // address rules do (a channel URL must not reach the server itself),
    // except for the hosts `[egress] alerts_allow_hosts` names.
    let alerts = http.with_policy(egress::Policy {
        reach: egress::Reach {
            exempt: egress::AllowList::new(&settings.alerts_allow_hosts)
                .context("egress.alerts_allow_hosts")?,
            ..public_reach(settings.alerts_allow_private)
        },
        ..egress::Policy::default()
    });
    // Pushes are stored with their runs; the same signal wakes this node's workers.
    let queue = scheduler::StoreQueue::new(
        store.clone(),
        Arc::new(SystemClock),
        config.runs_queued.clone(),
    );
    let environment = ServeEnvironment::new(
        sites,
        settings.users.clone(),
        Arc::new(ScriptStorage::new(store.clone())),
        Arc::new(settings.entities.clone()),
        Arc::new(queue),
        http,
    );
    Ok((Arc::new(environment), alerts))
}

/// Public addresses, and private ranges when `allow_private`; the runtime
/// adds the configured sites wherever they are.
pub(crate) fn public_reach(allow_private: bool) -> egress::Reach {
    egress::Reach {
        private: allow_private,
        ..egress::Reach::public()
    }
}

async fn start_scheduler(
    mut config: SchedulerConfig,
    settings: &config::Settings,
    store: &Store,
    executor: Arc<runtime::Executor>,
    environment: Arc<ServeEnvironment>,
    alerts: egress::Client,
) -> Result<SchedulerHandle> {
    config.environment = environment;
    config.alerts = Some(alerts);
    if let Some(workers) = settings.workers {
        config.workers = workers as usize;
    }
    config.total_memory_mb = settings.memory_budget_mb();
    if let Some(days) = settings.audit_days {
        config.audit_days = Some(days);
    }
    if let Some(lease) = settings.lease_seconds {
        config.lease = Duration::from_secs(lease);
    }
    Scheduler::start(config, store.clone(), executor, Arc::new(SystemClock))
        .await
        .context("cannot start the scheduler")
}

async fn open_store(args: &ServeArgs) -> Result<Store> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => sqlite_url(&args.data_dir),
    };
    let key = SecretKey::from_env_or_file(&args.data_dir).context("cannot load the secret key")?;
    let store = Store::open(&url).await?;
    Ok(store.with_secret_key(key))
}

/// The data directory holds the secret key and the database: others on the
/// machine must not read them. Existing modes are the operator's choice,
/// so they are reported, not changed.
fn warn_if_shared(args: &ServeArgs) {
    for (path, mode) in store::shared_paths(&args.data_dir) {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:o}"),
            "readable by other users of this machine; run `chmod go-rwx {}`",
            path.display()
        );
    }
}

fn sqlite_url(data_dir: &Path) -> String {
    data_dir.join(store::DATABASE_FILE).display().to_string()
}

/// What a start without a new token and without users says: the first
/// admin token was printed once, at the first start; a user can be made.
fn how_to_sign_in(args: &ServeArgs) -> String {
    let target = match &args.database {
        Some(_) => "--database \"$CLOCKWORK_DATABASE\"".to_owned(),
        None => format!("--data-dir {}", args.data_dir.display()),
    };
    format!(
        "No user exists yet. Sign in with the admin API token printed at the first start, \
         or create an admin user (the password is read from standard input):\n\n    \
         clockwork user add admin --role admin {target}\n"
    )
}

/// On a database without live tokens, creates the `admin` token: its
/// secret from `CLOCKWORK_ADMIN_TOKEN`, or generated and printed once.
/// True when it created one.
async fn bootstrap_admin_token(store: &Store) -> Result<bool> {
    if store.tokens_live_count().await? > 0 {
        return Ok(false);
    }
    let given = std::env::var(ADMIN_TOKEN_ENV)
        .ok()
        .filter(|s| !s.is_empty());
    let from_env = given.is_some();
    let (token, secret) = store
        .token_create(&NewToken {
            name: "admin".to_owned(),
            role: Role::Admin,
            secret: given,
        })
        .await
        .with_context(|| {
            format!("cannot create the first admin token (from {ADMIN_TOKEN_ENV}?)")
        })?;
    if from_env {
        tracing::info!(
            token = token.id,
            "created the admin token from {ADMIN_TOKEN_ENV}"
        );
    } else {
        // Shown once: only its hash is stored.
        eprintln!(
            "\nCreated the first admin API token (shown only now, store it safely):\n\n    {secret}\n\n\
             Use it as `Authorization: Bearer <token>`, or `export CLOCKWORK_TOKEN=<token>` for the CLI.\n"
        );
    }
    Ok(true)
}

/// On a database without users, creates the user `admin` (role admin)
/// with the password in `CLOCKWORK_ADMIN_PASSWORD`, when it is set; without
/// it no user exists until an admin creates one (the admin token signs in
/// to the web UI too).
async fn bootstrap_admin_user(store: &Store) -> Result<()> {
    let Some(password) = std::env::var(ADMIN_PASSWORD_ENV)
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    if store.users_count().await? > 0 {
        return Ok(());
    }
    let user = store
        .user_create(&NewUser {
            name: "admin".to_owned(),
            role: Role::Admin,
            password,
        })
        .await
        .map_err(|error| InvalidInput(format!("{ADMIN_PASSWORD_ENV}: {error}")))?;
    store
        .audit_append(&store::AuditEntry {
            actor: "system".to_owned(),
            action: "user.create".to_owned(),
            target: format!("user:{}", user.name),
            detail: serde_json::json!({"role": "admin", "from": ADMIN_PASSWORD_ENV}),
        })
        .await?;
    tracing::info!("created the user admin from {ADMIN_PASSWORD_ENV}");
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
