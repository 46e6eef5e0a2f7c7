//! `clockwork run SCRIPT`: one run of a script, like a script console.
//!
//! The script runs in the same sandbox, with the same Forge API, as a job
//! under `clockwork serve`; product requests go to the sites given on the
//! command line (or in `CLOCKWORK_*` variables), storage to the database in
//! the data directory, so a checkpoint written by one run is there for the
//! next; custom entities are those of `--config`'s `clockwork.toml`. What only a server can do fails clearly: queue pushes (nothing
//! consumes them), chained chunks (reported, not started).
//!
//! Output: live logs and a readable result or error for a person, or with
//! `--json` exactly one JSON object on stdout. Exit status: 0 succeeded,
//! 1 failed, timed out or could not start, 2 bad usage or unreadable script,
//! 130 cancelled by Ctrl-C.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use runtime::{
    CallRecord, Credential, EntityCatalog, EntityQuery, ErrorInfo, Executor, ExecutorConfig,
    JobInfo, KvError, KvOp, KvPage, KvSetItem, KvStore, Language, LogLevel, LogLine, Outcome,
    QueueBackend, QueueError, QueueEvent, QueueJobStats, RunInfo, RunStatus, Services, Sites,
};
use scheduler::{RunIdentity, ScriptStorage};
use serde::Serialize;
use serde_json::Value;
use store::{JobSpec, MEMORY_LIMIT_MB_RANGE, SecretKey, Store};
use tokio::sync::OnceCell;

use crate::InvalidInput;
use crate::secret_args::SecretOption;

/// Exit status of a run cancelled by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_CANCELLED: u8 = 130;
/// The longest run a one-off run allows, as for jobs (FORGE-API §6).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Arguments of `clockwork run`. Every option can also come from its
/// `CLOCKWORK_*` environment variable; secrets are never shown in `--help`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The script file, in either form (a Script Master body or a Forge
    /// module); `-` reads it from standard input. `.ts`, `.mts` and `.cts`
    /// files are TypeScript.
    script: PathBuf,
    /// The script's language, when its file name does not say it (standard
    /// input, or a TypeScript file named otherwise).
    #[arg(long, value_name = "javascript|typescript")]
    language: Option<Language>,
    /// Print exactly one JSON object on stdout: status, result, error, logs,
    /// duration_ms, http_calls.
    #[arg(long)]
    json: bool,
    /// Jira base URL for requestJira, e.g. https://acme.atlassian.net.
    #[arg(long, env = "CLOCKWORK_JIRA_URL", value_name = "URL")]
    jira_url: Option<String>,
    /// Confluence base URL for requestConfluence (default: the Jira URL).
    #[arg(long, env = "CLOCKWORK_CONFLUENCE_URL", value_name = "URL")]
    confluence_url: Option<String>,
    /// The site's cloud id, as `event.context.cloudId`.
    #[arg(long, env = "CLOCKWORK_CLOUD_ID", value_name = "ID")]
    cloud_id: Option<String>,
    /// Account email for asApp() (with --api-token: Basic authentication).
    #[arg(long, env = "CLOCKWORK_EMAIL")]
    email: Option<String>,
    /// Atlassian API token for asApp() (with --email).
    #[arg(
        long,
        env = "CLOCKWORK_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    api_token: Option<String>,
    /// Read the API token from this file (safer than --api-token, which
    /// other users can see in the process list).
    #[arg(long, env = "CLOCKWORK_API_TOKEN_FILE", value_name = "PATH")]
    api_token_file: Option<PathBuf>,
    /// Bearer token for asApp(), instead of --email and --api-token.
    #[arg(
        long,
        env = "CLOCKWORK_BEARER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    bearer_token: Option<String>,
    /// Read the bearer token from this file.
    #[arg(long, env = "CLOCKWORK_BEARER_TOKEN_FILE", value_name = "PATH")]
    bearer_token_file: Option<PathBuf>,
    /// Wall-clock limit: 500ms, 90s, 15m, 1h30m… (at most 24h); then the
    /// run is timed_out.
    #[arg(long, env = "CLOCKWORK_TIMEOUT", default_value = "15m", value_parser = parse_timeout, value_name = "DURATION")]
    timeout: Duration,
    /// Heap limit of the script, in MiB.
    #[arg(long, env = "CLOCKWORK_MEMORY_LIMIT", default_value_t = 256, value_name = "MB",
          value_parser = clap::value_parser!(u32).range(i64::from(*MEMORY_LIMIT_MB_RANGE.start())..=i64::from(*MEMORY_LIMIT_MB_RANGE.end())))]
    memory_limit: u32,
    /// The job parameters, `context.params`: a JSON object.
    #[arg(long, env = "CLOCKWORK_PARAMS", value_parser = parse_params, value_name = "JSON")]
    params: Option<Value>,
    /// The exported function a module is called as, as a job's `handler`
    /// (default: run, handler, the default export, or the only exported function).
    #[arg(long, value_name = "NAME")]
    handler: Option<String>,
    /// A `process.env` variable, NAME=VALUE (repeatable); VALUE `secret:S`
    /// reads the stored secret S. Nothing else of this shell's environment is passed.
    #[arg(long = "env", value_parser = parse_env_pair, value_name = "NAME=VALUE")]
    env: Vec<(String, String)>,
    /// Where the SQLite database (storage, secrets) and the secret key live;
    /// created on the first storage call.
    #[arg(
        long,
        env = "CLOCKWORK_DATA_DIR",
        default_value = "./clockwork-data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// `postgres://…` to use a shared PostgreSQL database's storage instead
    /// of the SQLite file in the data directory.
    #[arg(
        long,
        env = "CLOCKWORK_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    database: Option<String>,
    /// A `clockwork.toml` whose `[[entities]]` the script can use, as under
    /// `clockwork serve` with that file; its other sections are checked but
    /// not used by a one-off run.
    #[arg(long, env = "CLOCKWORK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Let the script reach private address ranges (10/8, 172.16/12,
    /// 192.168/16, 100.64/10, fc00::/7). Loopback, link-local and this
    /// machine's own addresses stay unreachable except the sites given.
    #[arg(long, env = "CLOCKWORK_ALLOW_PRIVATE")]
    allow_private: bool,
    /// When to colour the output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, env = "CLOCKWORK_COLOR", value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Runs `clockwork run` and returns the process's exit status. Prints the
/// result on `stdout`; logs, errors and notes go to stderr.
pub(crate) fn run(args: RunArgs, stdout: &mut dyn Write) -> ExitCode {
    match run_to_status(args, stdout) {
        Ok(code) => code,
        Err(error) if crate::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::from(crate::exit_code(&error))
        }
    }
}

fn run_to_status(args: RunArgs, stdout: &mut dyn Write) -> Result<ExitCode> {
    let script = read_script(&args.script)?;
    let spec = RunSetup::from_args(&args, script)?;
    let colour = Palette::new(use_colour(args.color));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(execute(spec, args.json, colour))?;
    let written = if args.json {
        report.write_json(stdout)
    } else {
        report.write_human(stdout, &mut io::stderr().lock(), colour)
    }
    .and_then(|()| stdout.flush())
    .and_then(|()| report.write_notes(&mut io::stderr().lock(), colour));
    match written {
        // Output piped into `head` is closed early: the run's status still
        // tells how it ended.
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(report.exit_code()),
    }
}

// ---------------------------------------------------------------------------
// Setting the run up

fn read_script(path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        io::stdin().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(path).map(|content| bytes = content)
    };
    read.map_err(|error| {
        InvalidInput(format!(
            "cannot read the script {}: {error}",
            path.display()
        ))
    })?;
    String::from_utf8(bytes).map_err(|error| {
        InvalidInput(format!(
            "the script {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
        .into()
    })
}

/// `--timeout`: a number with a unit (`500ms`, `90s`, `15m`, `1h`,
/// combinations such as `1h30m`, or ISO 8601 `PT15M`), parsed by jiff's
/// duration grammar (no extra dependency). A bare number is refused: its
/// unit would be a guess.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("add a unit: {text}s, {text}m or {text}ms"));
    }
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|_| String::from("expected a duration such as 500ms, 90s, 15m or 1h30m"))?;
    let duration = Duration::try_from(parsed)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| String::from("the timeout must be positive"))?;
    if duration > MAX_TIMEOUT {
        return Err(String::from("the timeout is at most 24h"));
    }
    Ok(duration)
}

/// `--params`: a JSON object, as a job's parameters are.
fn parse_params(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(Value::Object(map)),
        Ok(_) => Err(String::from(
            "expected a JSON object, e.g. '{\"project\":\"OPS\"}'",
        )),
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

/// `--env NAME=VALUE`.
fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(String::from("expected NAME=VALUE, e.g. --env REGION=eu")),
    }
}

/// What one run needs, validated, before anything starts.
struct RunSetup {
    script: String,
    language: Language,
    /// The job name a one-off run has: the file's stem (`moduleKey`).
    script_name: String,
    /// The file as the user named it, for error positions.
    shown_path: String,
    /// The file's name (no directory), as stack traces name the script;
    /// `None` for standard input.
    file_name: Option<String>,
    sites: Sites,
    timeout: Duration,
    memory_limit_mb: u32,
    params: Value,
    handler: Option<String>,
    env: std::collections::BTreeMap<String, String>,
    database: DatabaseLocation,
    allow_private: bool,
}

/// Where storage lives; opened on the first storage call only.
#[derive(Debug, Clone)]
struct DatabaseLocation {
    data_dir: PathBuf,
    url: Option<String>,
    /// The custom entities `--config` declares; their indexes are declared
    /// in the database when it is opened, as `clockwork serve` does at start.
    entities: Arc<EntityCatalog>,
}

impl RunSetup {
    fn from_args(args: &RunArgs, script: String) -> Result<Self> {
        let script_name = if args.script == Path::new("-") {
            String::from("stdin")
        } else {
            args.script.file_stem().map_or_else(
                || String::from("script"),
                |stem| stem.to_string_lossy().into_owned(),
            )
        };
        let shown_path = if args.script == Path::new("-") {
            String::from("<stdin>")
        } else {
            args.script.display().to_string()
        };
        let sites = Sites {
            jira_url: site_url("--jira-url", args.jira_url.as_deref())?,
            confluence_url: site_url("--confluence-url", args.confluence_url.as_deref())?,
            cloud_id: args.cloud_id.clone(),
            app: app_credential(args)?,
            user: None,
        };
        Ok(Self {
            script,
            language: args
                .language
                .unwrap_or_else(|| Language::of_path(&args.script)),
            script_name,
            shown_path,
            file_name: (args.script != Path::new("-"))
                .then(|| args.script.file_name())
                .flatten()
                .map(|name| name.to_string_lossy().into_owned()),
            sites,
            timeout: args.timeout,
            memory_limit_mb: args.memory_limit,
            params: args
                .params
                .clone()
                .unwrap_or_else(|| Value::Object(serde_json::Map::new())),
            handler: args.handler.clone(),
            env: args.env.iter().cloned().collect(),
            database: DatabaseLocation {
                data_dir: args.data_dir.clone(),
                url: args.database.clone(),
                entities: Arc::new(entities_of(args.config.as_deref())?),
            },
            allow_private: args.allow_private,
        })
    }
}

/// A site's base URL: absolute http(s) with a host. The URL is never echoed
/// (it may carry credentials).
fn site_url(flag: &str, url: Option<&str>) -> Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let valid = egress::Url::parse(url).is_ok_and(|parsed| {
        matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some()
    });
    if !valid {
        return Err(InvalidInput(format!(
            "{flag} must be an absolute http(s) URL such as https://acme.atlassian.net"
        ))
        .into());
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

fn app_credential(args: &RunArgs) -> Result<Option<Credential>> {
    let given = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let api_token = SecretOption {
        flag: "--api-token",
        env: "CLOCKWORK_API_TOKEN",
        value: args.api_token.as_deref(),
        file: args.api_token_file.as_deref(),
    }
    .resolve()?;
    let bearer_token = SecretOption {
        flag: "--bearer-token",
        env: "CLOCKWORK_BEARER_TOKEN",
        value: args.bearer_token.as_deref(),
        file: args.bearer_token_file.as_deref(),
    }
    .resolve()?;
    match (given(&args.email), api_token, bearer_token) {
        (None, None, None) => Ok(None),
        (None, None, Some(token)) => Ok(Some(Credential::Bearer { token })),
        (Some(email), Some(api_token), None) => Ok(Some(Credential::Basic { email, api_token })),
        (_, _, Some(_)) => Err(InvalidInput(String::from(
            "give either --bearer-token or --email with --api-token, not both",
        ))
        .into()),
        (Some(_), None, None) => Err(InvalidInput(String::from(
            "--email needs --api-token (or CLOCKWORK_API_TOKEN)",
        ))
        .into()),
        (None, Some(_), None) => Err(InvalidInput(String::from(
            "--api-token needs --email (or CLOCKWORK_EMAIL)",
        ))
        .into()),
    }
}

// ---------------------------------------------------------------------------
// Running

/// How the run ended, with what the output needs.
struct Report {
    outcome: Outcome,
    script: String,
    shown_path: String,
    cancelled_by_user: bool,
}

async fn execute(setup: RunSetup, json: bool, colour: Palette) -> Result<Report> {
    let executor = Executor::new(ExecutorConfig { worker_threads: 1 })
        .context("cannot start the script engine")?;
    let storage = Arc::new(LazyStorage::new(setup.database.clone()));
    let http = egress::Client::new(egress::Policy {
        reach: crate::serve_cmd::public_reach(setup.allow_private),
        ..egress::Policy::default()
    })
    .context("cannot set up the HTTP client")?;
    let job = JobSpec {
        language: scheduler::to_store::script_language(setup.language),
        params: setup.params,
        handler: setup.handler,
        env: setup.env,
        memory_limit_mb: setup.memory_limit_mb,
        ..JobSpec::new(setup.script_name.clone(), setup.script.clone())
    };
    let identity = RunIdentity {
        job: JobInfo {
            id: String::new(),
            name: setup.script_name.clone(),
            version: 0,
        },
        run: RunInfo {
            id: run_id(),
            attempt: 1,
            trigger: String::from("manual"),
            scheduled_for: None,
        },
        ..RunIdentity::default()
    };
    let services = Services {
        kv: Arc::clone(&storage) as Arc<dyn KvStore>,
        entities: Arc::clone(&setup.database.entities),
        queue: Arc::new(NoQueueDelivery),
        http: Some(http),
    };
    let mut spec = scheduler::run_spec(&job, identity, setup.sites, services);
    // A one-off run's timeout is any duration (`500ms`), not whole seconds.
    spec.limits.timeout = setup.timeout;
    // Stack traces name the file the user ran.
    spec.script_name = setup.file_name.clone();
    let interrupted = interrupt_listener().await;
    tokio::pin!(interrupted);
    let handle = executor.start(spec);
    let printer = (!json).then(|| {
        let mut logs = handle.logs();
        tokio::spawn(async move {
            let mut printed = 0_usize;
            while let Some(line) = logs.next().await {
                // A closed stderr must not stop the run; the result still counts.
                let _ = write_log_line(&mut io::stderr().lock(), &line, colour);
                printed += 1;
            }
            printed
        })
    });
    let control = handle.control();
    let outcome = handle.outcome();
    tokio::pin!(outcome);
    let mut cancelled_by_user = false;
    let outcome = tokio::select! {
        outcome = &mut outcome => outcome,
        _ = &mut interrupted => {
            cancelled_by_user = true;
            control.cancel();
            outcome.await
        }
    };
    if let Some(printer) = printer {
        // A run that ended before the stream subscribed streams nothing
        // (its lines were handed to the outcome): print them now. A stream
        // that started earlier replayed every line from the first.
        let printed = printer.await.unwrap_or(0);
        if printed == 0 {
            let mut err = io::stderr().lock();
            for line in &outcome.logs {
                let _ = write_log_line(&mut err, line, colour);
            }
        }
    }
    storage.close().await;
    Ok(Report {
        outcome,
        script: setup.script,
        shown_path: setup.shown_path,
        cancelled_by_user,
    })
}

/// Resolves on Ctrl-C (SIGINT). The handler is installed before this
/// returns, so an interrupt right after the run starts (even before its
/// first log line is printed) cancels the run rather than killing the
/// process.
async fn interrupt_listener() -> impl Future<Output = ()> {
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    // The first poll installs the handler; it cannot have fired yet.
    tokio::select! {
        biased;
        _ = &mut ctrl_c => {}
        () = std::future::ready(()) => {}
    }
    async move {
        // Without a handler (it could not be installed) there is no Ctrl-C
        // to wait for; the run ends by itself.
        if ctrl_c.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// An id for `context.run.id`, unique enough on one machine.
fn run_id() -> String {
    format!(
        "local-{}-{}",
        jiff::Timestamp::now().as_millisecond(),
        std::process::id()
    )
}

/// Storage in the database of the data directory, opened on first use so a
/// script that stores nothing creates no files.
struct LazyStorage {
    location: DatabaseLocation,
    storage: OnceCell<(Store, ScriptStorage)>,
    /// The CLI's runtime: the database pool's tasks live there, not on the
    /// script engine's threads.
    runtime: tokio::runtime::Handle,
}

impl LazyStorage {
    fn new(location: DatabaseLocation) -> Self {
        Self {
            location,
            storage: OnceCell::new(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    async fn get(&self) -> Result<&ScriptStorage, KvError> {
        let (_, storage) = self
            .storage
            .get_or_try_init(|| async {
                let location = self.location.clone();
                let opened = self.runtime.spawn(open_storage(location)).await;
                match opened {
                    Ok(result) => result.map_err(|error| KvError::Backend(format!("{error:#}"))),
                    Err(_) => Err(KvError::Backend(String::from(
                        "the storage could not be opened: the process is shutting down",
                    ))),
                }
            })
            .await?;
        Ok(storage)
    }

    async fn close(&self) {
        if let Some((store, _)) = self.storage.get() {
            store.close().await;
        }
    }
}

async fn open_storage(location: DatabaseLocation) -> Result<(Store, ScriptStorage)> {
    store::create_private_dir(&location.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            location.data_dir.display()
        )
    })?;
    let key =
        SecretKey::from_env_or_file(&location.data_dir).context("cannot load the secret key")?;
    let store = match &location.url {
        Some(url) => Store::open(url).await,
        None => Store::open_sqlite(location.data_dir.join(store::DATABASE_FILE)).await,
    }
    .context("cannot open the database")?
    .with_secret_key(key);
    let storage = ScriptStorage::new(store.clone());
    storage
        .entity_declare(&location.entities)
        .await
        .context("cannot build the indexes of the custom entities")?;
    Ok((store, storage))
}

/// The custom entities of `--config`'s file; none without one. The whole
/// file is parsed (one parser for `clockwork serve` and `clockwork run`), so
/// a file the server would refuse is refused here too.
fn entities_of(config: Option<&Path>) -> Result<EntityCatalog> {
    let Some(path) = config else {
        return Ok(EntityCatalog::default());
    };
    let settings = crate::config::load(path, &|name| std::env::var(name).ok())
        .map_err(|error| InvalidInput(error.to_string()))?;
    Ok(settings.entities)
}

#[async_trait::async_trait]
impl KvStore for LazyStorage {
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        self.get().await?.get(key).await
    }
    async fn set(
        &self,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
        if_absent: bool,
    ) -> Result<(), KvError> {
        self.get().await?.set(key, value, ttl, if_absent).await
    }
    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.get().await?.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<KvPage, KvError> {
        self.get().await?.list(prefix, limit, cursor).await
    }
    async fn batch_get(&self, keys: &[String]) -> Result<Vec<(String, Value)>, KvError> {
        self.get().await?.batch_get(keys).await
    }
    async fn batch_set(&self, items: Vec<KvSetItem>) -> Result<(), KvError> {
        self.get().await?.batch_set(items).await
    }
    async fn batch_delete(&self, keys: &[String]) -> Result<(), KvError> {
        self.get().await?.batch_delete(keys).await
    }
    async fn transact(&self, ops: Vec<KvOp>) -> Result<(), KvError> {
        self.get().await?.transact(ops).await
    }
    async fn secret_get(&self, key: &str) -> Result<Option<Value>, KvError> {
        self.get().await?.secret_get(key).await
    }
    async fn secret_set(&self, key: &str, value: Value) -> Result<(), KvError> {
        self.get().await?.secret_set(key, value).await
    }
    async fn secret_delete(&self, key: &str) -> Result<(), KvError> {
        self.get().await?.secret_delete(key).await
    }
    async fn entity_declare(&self, catalog: &EntityCatalog) -> Result<(), KvError> {
        self.get().await?.entity_declare(catalog).await
    }
    async fn entity_get(&self, entity: &str, key: &str) -> Result<Option<Value>, KvError> {
        self.get().await?.entity_get(entity, key).await
    }
    async fn entity_set(&self, entity: &str, key: &str, value: Value) -> Result<(), KvError> {
        self.get().await?.entity_set(entity, key, value).await
    }
    async fn entity_delete(&self, entity: &str, key: &str) -> Result<(), KvError> {
        self.get().await?.entity_delete(entity, key).await
    }
    async fn entity_query(
        &self,
        query: EntityQuery,
        keep: &(dyn for<'v> Fn(&'v Value) -> bool + Send + Sync),
    ) -> Result<KvPage, KvError> {
        self.get().await?.entity_query(query, keep).await
    }
}

/// Queues of a one-off run: nothing would ever consume an event, so a push
/// fails instead of dropping it.
struct NoQueueDelivery;

impl NoQueueDelivery {
    fn refusal(queue: &str) -> QueueError {
        QueueError::Backend(format!(
            "events pushed to queue \"{queue}\" need `clockwork serve`, where the job \
             consuming that queue runs them; a one-off `clockwork run` cannot deliver \
             events, so nothing was pushed"
        ))
    }
}

#[async_trait::async_trait]
impl QueueBackend for NoQueueDelivery {
    async fn push(&self, queue: &str, _events: Vec<QueueEvent>) -> Result<String, QueueError> {
        Err(Self::refusal(queue))
    }
    async fn stats(&self, queue: &str, _job_id: &str) -> Result<QueueJobStats, QueueError> {
        Err(Self::refusal(queue))
    }
    async fn cancel(&self, queue: &str, _job_id: &str) -> Result<(), QueueError> {
        Err(Self::refusal(queue))
    }
}

// ---------------------------------------------------------------------------
// Output

/// `--json`: exactly these keys.
#[derive(Serialize)]
struct JsonReport<'a> {
    status: RunStatus,
    result: &'a Value,
    error: Option<&'a ErrorInfo>,
    logs: &'a [LogLine],
    duration_ms: u64,
    http_calls: &'a [CallRecord],
}

impl Report {
    fn exit_code(&self) -> ExitCode {
        match self.outcome.status {
            RunStatus::Succeeded => ExitCode::SUCCESS,
            RunStatus::Cancelled if self.cancelled_by_user => ExitCode::from(EXIT_CANCELLED),
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled => {
                ExitCode::from(crate::EXIT_FAILURE)
            }
        }
    }

    fn duration_ms(&self) -> u64 {
        u64::try_from(self.outcome.duration.as_millis()).unwrap_or(u64::MAX)
    }

    fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let report = JsonReport {
            status: self.outcome.status,
            result: &self.outcome.result,
            error: self.outcome.error.as_ref(),
            logs: &self.outcome.logs,
            duration_ms: self.duration_ms(),
            http_calls: &self.outcome.http_calls,
        };
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)
    }

    /// The result (pretty JSON) on `out` when the run succeeded; a summary
    /// line, and the error with its source line, on `err`.
    fn write_human(
        &self,
        out: &mut dyn Write,
        err: &mut dyn Write,
        colour: Palette,
    ) -> io::Result<()> {
        let outcome = &self.outcome;
        let calls = match outcome.http_calls.len() {
            1 => String::from("1 HTTP call"),
            n => format!("{n} HTTP calls"),
        };
        let took = human_duration(outcome.duration);
        match outcome.status {
            RunStatus::Succeeded => {
                writeln!(
                    err,
                    "{} in {took}, {calls}",
                    colour.paint(GREEN, "succeeded")
                )?;
                let pretty =
                    serde_json::to_string_pretty(&outcome.result).map_err(io::Error::other)?;
                writeln!(out, "{pretty}")?;
            }
            status => {
                let word = match status {
                    RunStatus::TimedOut => "timed out",
                    RunStatus::Cancelled => "cancelled",
                    _ => "failed",
                };
                writeln!(err, "{} after {took}, {calls}", colour.paint(RED, word))?;
                if let Some(error) = &outcome.error {
                    let text = describe_error(error, &self.script, &self.shown_path, colour);
                    err.write_all(text.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// What the run asked for that only a server does.
    fn write_notes(&self, err: &mut dyn Write, colour: Palette) -> io::Result<()> {
        if let Some(next) = &self.outcome.continuation {
            writeln!(
                err,
                "{} the script called context.continueWith(…) (next chunk in {} s, state {}); \
                 a one-off run does not start it: chains run under `clockwork serve`",
                colour.paint(YELLOW, "note:"),
                next.delay_seconds,
                next.state
            )?;
        }
        if self.outcome.retry.is_some() {
            writeln!(
                err,
                "{} the script returned an InvocationError asking to be retried; \
                 a one-off run is not retried: queue consumers run under `clockwork serve`",
                colour.paint(YELLOW, "note:")
            )?;
        }
        Ok(())
    }
}

/// `error: message`, then ` --> name:line:column`, the offending source line
/// with a caret under the column, and the stack's frames.
fn describe_error(error: &ErrorInfo, script: &str, shown_path: &str, colour: Palette) -> String {
    let mut text = format!("{} {}\n", colour.paint(RED_BOLD, "error:"), error.message);
    if let Some(line_number) = error.line {
        let column = error.column.unwrap_or(1).max(1);
        let gutter = line_number.to_string();
        let pad = " ".repeat(gutter.len());
        let _ = writeln!(
            text,
            "{pad}{} {shown_path}:{line_number}:{column}",
            colour.paint(BLUE, "-->")
        );
        if let Some(source) = script.lines().nth(line_number.saturating_sub(1) as usize) {
            let _ = writeln!(text, "{pad} {}", colour.paint(BLUE, "|"));
            let _ = writeln!(
                text,
                "{} {} {source}",
                colour.paint(BLUE, &gutter),
                colour.paint(BLUE, "|")
            );
            let _ = writeln!(
                text,
                "{pad} {} {}{}",
                colour.paint(BLUE, "|"),
                caret_indent(source, column),
                colour.paint(RED_BOLD, "^")
            );
        }
    }
    if let Some(stack) = &error.stack {
        for frame in stack
            .lines()
            .filter(|line| line.trim_start().starts_with("at "))
        {
            let _ = writeln!(text, "    {}", frame.trim());
        }
    }
    text
}

/// Blanks up to the 1-based character `column` of `line`, keeping tabs so
/// the caret lines up under the same terminal column.
fn caret_indent(line: &str, column: u32) -> String {
    line.chars()
        .take(column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect()
}

fn human_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// One live log line: local time, level, message; continuation lines of a
/// multi-line message are indented under the message.
fn write_log_line(out: &mut dyn Write, line: &LogLine, colour: Palette) -> io::Result<()> {
    let time = line
        .ts
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%H:%M:%S%.3f")
        .to_string();
    let (label, style) = match line.level {
        LogLevel::Debug => ("DEBUG", DIM),
        LogLevel::Info => ("INFO ", GREEN),
        LogLevel::Warn => ("WARN ", YELLOW),
        LogLevel::Error => ("ERROR", RED),
    };
    let mut message = line.message.lines();
    let first = message.next().unwrap_or("");
    writeln!(
        out,
        "{} {} {first}",
        colour.paint(DIM, &time),
        colour.paint(style, label)
    )?;
    let indent = " ".repeat(time.len() + 1 + label.len() + 1);
    for rest in message {
        writeln!(out, "{indent}{rest}")?;
    }
    out.flush()
}

const DIM: &str = "2";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";
const RED_BOLD: &str = "1;31";
const BLUE: &str = "34";

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
struct Palette {
    enabled: bool,
}

impl Palette {
    fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    fn paint(self, style: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{style}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Colour for stderr (where logs, statuses and errors go): `--color`, else a
/// terminal and no `NO_COLOR` (<https://no-color.org>), and not `TERM=dumb`.
fn use_colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
            let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
            io::stderr().is_terminal() && !no_color && !dumb
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_a_unit() {
        for (text, expected) in [
            ("500ms", Duration::from_millis(500)),
            ("90s", Duration::from_secs(90)),
            ("15m", Duration::from_secs(900)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("2 minutes", Duration::from_secs(120)),
            ("PT15M", Duration::from_secs(900)),
            ("24h", MAX_TIMEOUT),
        ] {
            assert_eq!(parse_timeout(text), Ok(expected), "{text}");
        }
        assert_eq!(
            parse_timeout("90"),
            Err(String::from("add a unit: 90s, 90m or 90ms"))
        );
        for bad in ["", "soon", "-5s", "0s", "25h", "1.5.5s"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params_are_a_json_object() {
        assert_eq!(
            parse_params(r#"{"project":"OPS"}"#),
            Ok(serde_json::json!({"project": "OPS"}))
        );
        assert!(
            parse_params("[1]")
                .unwrap_err()
                .starts_with("expected a JSON object")
        );
        assert!(parse_params("{").unwrap_err().starts_with("not valid JSON"));
    }

    #[test]
    fn carets_keep_tabs_and_count_characters() {
        assert_eq!(caret_indent("\tfoo.bar", 6), "\t    ");
        assert_eq!(caret_indent("é = x.y", 5), "    ");
        assert_eq!(caret_indent("short", 40), "     ");
        assert_eq!(caret_indent("x", 0), "");
    }

    #[test]
    fn errors_show_their_line_and_frames() {
        let error = ErrorInfo {
            message: String::from("TypeError: cannot read property 'x' of null"),
            stack: Some(String::from(
                "TypeError: cannot read property 'x' of null\n    at job (job.js:2:5)",
            )),
            line: Some(2),
            column: Some(5),
        };
        let text = describe_error(
            &error,
            "const a = 1;\n    null.x;\n",
            "sync.js",
            Palette::new(false),
        );
        assert_eq!(
            text,
            "error: TypeError: cannot read property 'x' of null\n --> sync.js:2:5\n  |\n2 |     null.x;\n  |     ^\n    at job (job.js:2:5)\n"
        );
    }
}
