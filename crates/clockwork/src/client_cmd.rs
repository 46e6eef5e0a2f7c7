//! Client commands against a running server: `clockwork job list|get|apply|
//! run|pause|resume|delete`, `clockwork runs NAME`, `clockwork logs RUN_ID
//! [--follow]`, `clockwork chain ID [--cancel]`. They speak the REST API (`server`'s JSON types) and turn
//! problem documents into one-line errors: exit code 2 when the request
//! was invalid (400, 404, 409, 422), 1 otherwise.

use std::{io::Write, path::PathBuf, time::Duration};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode, Url, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use server::{JobView, LogLineView, LogPage, Page, Problem, RunView};
use store::LogLevel;

use crate::{InvalidInput, job_file};

/// Where the server is and how to authenticate; every client command takes them.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerArgs {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "CLOCKWORK_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// An API token (`clockwork serve` prints the first admin token once).
    #[arg(long, global = true, env = "CLOCKWORK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the API token from this file (safer than --token, which other
    /// users can see in the process list).
    #[arg(long, global = true, env = "CLOCKWORK_TOKEN_FILE", value_name = "PATH")]
    token_file: Option<std::path::PathBuf>,
}

/// `clockwork job …`.
#[derive(Debug, Args)]
pub(crate) struct JobArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// List jobs: name, state, schedule, next fire instant, last run.
    List {
        /// Only jobs whose name contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Only jobs with this tag (exact).
        #[arg(long)]
        tag: Option<String>,
        /// Only jobs whose owner contains this text (case-insensitive).
        #[arg(long)]
        owner: Option<String>,
        /// Print the jobs as JSON, one array.
        #[arg(long)]
        json: bool,
    },
    /// Print one job: as the API's JSON, or as a job file `job apply`
    /// takes back (`--format toml|yaml`), so a job made in the UI can go
    /// into version control.
    Get {
        /// The job's name or id.
        job: String,
        /// `json` (the API's view, every field) or a job file: `toml`, `yaml`.
        #[arg(long, value_enum, default_value_t = GetFormat::Json)]
        format: GetFormat,
        /// Write the job file here instead of to standard output.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Write the script to this file and name it as `script_file` in
        /// the job file (relative to the job file's folder) instead of
        /// inline. Needs --format toml or yaml.
        #[arg(long, value_name = "PATH")]
        script_file: Option<PathBuf>,
    },
    /// Create or update jobs from declarative files (upsert by name).
    Apply {
        /// A TOML or YAML job file, or a directory of them; repeatable.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a job now; prints the queued run's id.
    Run {
        /// The job's name or id.
        job: String,
        /// Parameters for this run (a JSON object), instead of the job's.
        #[arg(long)]
        params: Option<String>,
    },
    /// Stop a job's schedule from firing.
    Pause {
        /// The job's name or id.
        job: String,
    },
    /// Let a paused job's schedule fire again.
    Resume {
        /// The job's name or id.
        job: String,
    },
    /// Delete a job with its history.
    Delete {
        /// The job's name or id.
        job: String,
    },
}

/// What `job get` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GetFormat {
    Json,
    Toml,
    Yaml,
}

/// `clockwork runs NAME`.
#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The job's name or id.
    job: String,
    /// Only runs in this status (queued, running, succeeded, failed, …).
    #[arg(long)]
    status: Option<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print the runs as JSON, one array.
    #[arg(long)]
    json: bool,
}

/// `clockwork logs RUN_ID`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The run's id.
    run: i64,
    /// Keep printing lines as the run writes them, until it ends.
    #[arg(short, long)]
    follow: bool,
    /// Only lines at this level or above: debug, info, warn, error.
    #[arg(long, value_parser = parse_level)]
    level: Option<LogLevel>,
    /// Only lines whose message contains this text (case-sensitive).
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
    /// Print each line as one JSON object (seq, ts, level, message).
    #[arg(long)]
    json: bool,
}

fn parse_level(text: &str) -> Result<LogLevel, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a level: debug, info, warn or error"))
}

/// Which log lines `clockwork logs` prints, and how.
struct LogFilter {
    level: Option<LogLevel>,
    grep: Option<String>,
    json: bool,
}

impl LogFilter {
    fn keeps(&self, line: &LogLineView) -> bool {
        self.level
            .is_none_or(|level| rank(line.level) >= rank(level))
            && self
                .grep
                .as_deref()
                .is_none_or(|text| line.message.contains(text))
    }

    fn print(&self, out: &mut dyn Write, line: &LogLineView) -> Result<()> {
        if !self.keeps(line) {
            return Ok(());
        }
        if self.json {
            serde_json::to_writer(&mut *out, line)?;
            writeln!(out)?;
            Ok(())
        } else {
            print_log_line(out, line)
        }
    }
}

/// Levels in order of severity.
fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info => 1,
        LogLevel::Warn => 2,
        LogLevel::Error => 3,
    }
}

/// Runs `clockwork job …`.
pub(crate) fn job(args: JobArgs, out: &mut dyn Write) -> Result<()> {
    let api = Api::new(&args.server)?;
    block_on(async {
        match args.command {
            JobCommand::List {
                search,
                tag,
                owner,
                json,
            } => {
                let filters = [("search", search), ("tag", tag), ("owner", owner)];
                list_jobs(&api, &filters, json, out).await
            }
            JobCommand::Get {
                job,
                format,
                output,
                script_file,
            } => {
                let job: Value = api.call(Method::GET, &["jobs", &job], &[], None).await?;
                get_job(&job, format, output, script_file, out)
            }
            JobCommand::Apply { files } => apply(&api, &files, out).await,
            JobCommand::Run { job, params } => run_now(&api, &job, params, out).await,
            JobCommand::Pause { job } => set_paused(&api, &job, "pause", out).await,
            JobCommand::Resume { job } => set_paused(&api, &job, "resume", out).await,
            JobCommand::Delete { job } => {
                api.call_empty(Method::DELETE, &["jobs", &job]).await?;
                writeln!(out, "deleted {job}")?;
                Ok(())
            }
        }
    })
}

/// Prints or writes the job `job get` read, in `format`.
fn get_job(
    job: &Value,
    format: GetFormat,
    output: Option<PathBuf>,
    script_file: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<()> {
    let file_format = match format {
        GetFormat::Json if script_file.is_some() => {
            return Err(InvalidInput(
                "--script-file needs --format toml or yaml (a job file names its script file)"
                    .to_owned(),
            )
            .into());
        }
        GetFormat::Json => {
            let text = serde_json::to_string_pretty(job)? + "\n";
            return emit(&text, output.as_deref(), out);
        }
        GetFormat::Toml => job_file::Format::Toml,
        GetFormat::Yaml => job_file::Format::Yaml,
    };
    let reference = match &script_file {
        Some(path) => Some(script_reference(path, output.as_deref())?),
        None => None,
    };
    let text = job_file::export(job, file_format, reference.as_deref())?;
    if let Some(path) = &script_file {
        let script = job["script"].as_str().unwrap_or_default();
        std::fs::write(path, script).with_context(|| format!("cannot write {}", path.display()))?;
    }
    emit(&text, output.as_deref(), out)
}

/// How the job file at `job_file` (standard output: the current folder)
/// names `script`: relative to the job file's folder when it lies within
/// it, else as an absolute path.
fn script_reference(
    script: &std::path::Path,
    job_file: Option<&std::path::Path>,
) -> Result<String> {
    let absolute = |path: &std::path::Path| {
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
    };
    let script = absolute(script)?;
    let folder = match job_file {
        Some(file) => absolute(file)?
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
        None => absolute(std::path::Path::new("."))?,
    };
    let named = script.strip_prefix(&folder).unwrap_or(&script);
    named
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| InvalidInput(format!("{} is not valid UTF-8", named.display())).into())
}

/// Writes `text` to `path`, or to `out` when there is no path.
fn emit(text: &str, path: Option<&std::path::Path>, out: &mut dyn Write) -> Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => Ok(out.write_all(text.as_bytes())?),
    }
}

/// Runs `clockwork runs …`.
pub(crate) fn runs(args: RunsArgs, out: &mut dyn Write) -> Result<()> {
    let api = Api::new(&args.server)?;
    block_on(async {
        let limit = args.limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(status) = &args.status {
            query.push(("status", status));
        }
        let page: Page<RunView> = api
            .call(Method::GET, &["jobs", &args.job, "runs"], &query, None)
            .await?;
        if args.json {
            return print_json(out, &page.items);
        }
        let rows = page.items.iter().map(|run| {
            vec![
                run.id.to_string(),
                run.status.to_string(),
                run.trigger.to_string(),
                run.scheduled_for.map_or("-".into(), |t| t.to_string()),
                run.started_at.map_or("-".into(), |t| t.to_string()),
                run.duration_ms.map_or("-".into(), |ms| format!("{ms} ms")),
                run.attempt.to_string(),
                run.chain_id.map_or("-".into(), |id| id.to_string()),
            ]
        });
        print_table(
            out,
            &[
                "ID",
                "STATUS",
                "TRIGGER",
                "SCHEDULED FOR",
                "STARTED",
                "DURATION",
                "ATTEMPT",
                "CHAIN",
            ],
            rows,
        )
    })
}

/// `clockwork chain ID`.
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The chain's id (the id of its first chunk, the CHAIN column of `clockwork runs`).
    chain: i64,
    /// Cancel the chain instead of showing it.
    #[arg(long)]
    cancel: bool,
    /// Print the chain as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `clockwork chain …`: a chain's summary and its chunks in order.
pub(crate) fn chain(args: ChainArgs, out: &mut dyn Write) -> Result<()> {
    let api = Api::new(&args.server)?;
    block_on(async {
        let id = args.chain.to_string();
        let chain: server::ChainView = if args.cancel {
            api.call(Method::POST, &["chains", &id, "cancel"], &[], None)
                .await?
        } else {
            api.call(Method::GET, &["chains", &id], &[], None).await?
        };
        if args.json {
            return print_json(out, &chain);
        }
        writeln!(
            out,
            "chain {} of job {}: {}, {} chunks done, {} ms executing, latest state {} bytes",
            chain.id,
            chain.job_id,
            chain.status,
            chain.chunks_done,
            chain.total_duration_ms,
            chain.latest_state_bytes
        )?;
        let rows = chain.chunks.iter().map(|chunk| {
            vec![
                chunk.id.to_string(),
                chunk.status.to_string(),
                chunk.trigger.to_string(),
                chunk.attempt.to_string(),
                chunk.started_at.map_or("-".into(), |t| t.to_string()),
                chunk
                    .duration_ms
                    .map_or("-".into(), |ms| format!("{ms} ms")),
            ]
        });
        print_table(
            out,
            &["RUN", "STATUS", "TRIGGER", "ATTEMPT", "STARTED", "DURATION"],
            rows,
        )
    })
}

/// Runs `clockwork logs …`.
pub(crate) fn logs(args: LogsArgs, out: &mut dyn Write) -> Result<()> {
    let api = Api::new(&args.server)?;
    let filter = LogFilter {
        level: args.level,
        grep: args.grep,
        json: args.json,
    };
    block_on(async {
        if args.follow {
            follow_logs(&api, args.run, &filter, out).await
        } else {
            stored_logs(&api, args.run, &filter, out).await
        }
    })
}

fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}

/// Lists the jobs matching `filters` (`GET /jobs` query parameters, each
/// sent when given), every page of them.
async fn list_jobs(
    api: &Api,
    filters: &[(&str, Option<String>)],
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "500")];
        for (name, value) in filters {
            if let Some(value) = value {
                query.push((*name, value.as_str()));
            }
        }
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let page: Page<JobView> = api.call(Method::GET, &["jobs"], &query, None).await?;
        jobs.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if json {
        return print_json(out, &jobs);
    }
    let rows = jobs.iter().map(|job| {
        vec![
            job.name.clone(),
            if job.owner.is_empty() {
                "-".to_owned()
            } else {
                job.owner.clone()
            },
            if job.enabled { "enabled" } else { "paused" }.to_owned(),
            job.schedule
                .as_ref()
                .map_or("-".into(), |s| format!("{} ({})", s.cron, s.timezone)),
            job.next_fire_at.map_or("-".into(), |t| t.to_string()),
            job.last_run
                .as_ref()
                .map_or("-".into(), |run| format!("{} #{}", run.status, run.id)),
        ]
    });
    print_table(
        out,
        &[
            "NAME",
            "OWNER",
            "STATE",
            "SCHEDULE",
            "NEXT FIRE",
            "LAST RUN",
        ],
        rows,
    )
}

async fn apply(api: &Api, paths: &[PathBuf], out: &mut dyn Write) -> Result<()> {
    // Check every file first — read here, then by the server without
    // writing — and report every problem: one bad file applies nothing.
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let paths = job_file::collect(paths)?;
    for path in &paths {
        match job_file::read(path) {
            Ok(file) => files.push(file),
            Err(error) => problems.push(format!("{error:#}")),
        }
    }
    for file in &files {
        let checked = api
            .send(
                Method::PUT,
                &["jobs", &file.name],
                &[("dry_run", "true")],
                Some(&file.body),
            )
            .await;
        match checked {
            Ok(_) => {}
            Err(error) if error.is::<InvalidInput>() => {
                problems.push(format!("{}: {error:#}", file.path.display()));
            }
            Err(error) => return Err(error),
        }
    }
    if let [only] = problems.as_slice()
        && paths.len() == 1
    {
        return Err(InvalidInput(only.clone()).into());
    }
    if !problems.is_empty() {
        return Err(InvalidInput(format!(
            "nothing was applied: {} problem(s) in {} file(s)\n  {}",
            problems.len(),
            paths.len(),
            problems.join("\n  ")
        ))
        .into());
    }
    for file in files {
        let before: Option<JobView> = api.call_optional(&["jobs", &file.name]).await?;
        let (status, job): (StatusCode, JobView) = api
            .call_with_status(Method::PUT, &["jobs", &file.name], &[], Some(&file.body))
            .await
            .with_context(|| format!("{}", file.path.display()))?;
        let verb = match (status, before) {
            (StatusCode::CREATED, _) => "created",
            (_, Some(before)) if before.version == job.version => "unchanged",
            _ => "updated",
        };
        writeln!(out, "{verb} {} (version {})", job.name, job.version)?;
    }
    Ok(())
}

async fn run_now(api: &Api, job: &str, params: Option<String>, out: &mut dyn Write) -> Result<()> {
    let body = match params {
        Some(text) => {
            let params: Value = serde_json::from_str(&text)
                .map_err(|error| InvalidInput(format!("--params is not JSON: {error}")))?;
            serde_json::json!({ "params": params, "trigger": "manual" })
        }
        None => serde_json::json!({ "trigger": "manual" }),
    };
    let run: RunView = api
        .call(Method::POST, &["jobs", job, "run"], &[], Some(&body))
        .await?;
    writeln!(out, "queued run {} of {job}", run.id)?;
    Ok(())
}

async fn set_paused(api: &Api, job: &str, action: &str, out: &mut dyn Write) -> Result<()> {
    let view: JobView = api
        .call(Method::POST, &["jobs", job, action], &[], None)
        .await?;
    let state = if view.enabled { "enabled" } else { "paused" };
    writeln!(out, "{} is {state}", view.name)?;
    Ok(())
}

async fn stored_logs(api: &Api, run: i64, filter: &LogFilter, out: &mut dyn Write) -> Result<()> {
    let run = run.to_string();
    let mut after = 0u64;
    loop {
        let after_text = after.to_string();
        let page: LogPage = api
            .call(
                Method::GET,
                &["runs", &run, "logs"],
                &[("after", &after_text), ("limit", "10000")],
                None,
            )
            .await?;
        for line in &page.items {
            filter.print(out, line)?;
        }
        match page.next_after {
            Some(next) => after = next,
            None => return Ok(()),
        }
    }
}

/// Follows the run's live log (server-sent events) until the run ends,
/// reconnecting after the last line seen if the connection drops.
async fn follow_logs(api: &Api, run: i64, filter: &LogFilter, out: &mut dyn Write) -> Result<()> {
    let mut last_seq = 0u64;
    let mut reconnects = 0;
    loop {
        let response = api
            .request(Method::GET, &["runs", &run.to_string(), "logs"], &[])?
            .header(header::ACCEPT, "text/event-stream")
            .header("last-event-id", last_seq.to_string())
            .send()
            .await
            .map_err(|error| api.unreachable(error))?;
        let response = api.check(response).await?;
        let mut events = SseReader::new(response);
        loop {
            match events.next().await {
                Ok(Some(event)) if event.name == "log" => {
                    let line: LogLineView = serde_json::from_str(&event.data)
                        .context("the server sent a log line that is not JSON")?;
                    last_seq = line.seq;
                    filter.print(out, &line)?;
                    out.flush()?;
                }
                Ok(Some(event)) if event.name == "end" => {
                    let run: RunView = serde_json::from_str(&event.data)
                        .context("the server sent an end event that is not JSON")?;
                    eprintln!("run {} ended: {}", run.id, run.status);
                    return Ok(());
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) if reconnects < 5 => {
                    reconnects += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
                Ok(None) => return Err(anyhow!("the server closed the log stream")),
                Err(error) => return Err(error),
            }
        }
    }
}

fn print_log_line(out: &mut dyn Write, line: &LogLineView) -> Result<()> {
    writeln!(
        out,
        "{} {:<5} {}",
        line.ts,
        line.level.as_str(),
        line.message
    )?;
    Ok(())
}

fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_table(
    out: &mut dyn Write,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<()> {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// POSTs `body` as JSON to `/api/v1/<segments>` of the server `args` name;
/// a problem answer is the error.
pub(crate) async fn post_json(args: &ServerArgs, segments: &[&str], body: &Value) -> Result<()> {
    let api = Api::new(args)?;
    let _: Value = api.call(Method::POST, segments, &[], Some(body)).await?;
    Ok(())
}

/// The REST API at one base URL, with one token.
#[derive(Debug)]
struct Api {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    fn new(args: &ServerArgs) -> Result<Api> {
        let base = Url::parse(&args.server).map_err(|error| {
            InvalidInput(format!("--server {:?} is not a URL: {error}", args.server))
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(InvalidInput(format!(
                "--server {:?} must be an http:// or https:// URL",
                args.server
            ))
            .into());
        }
        // reqwest is built without a default TLS provider (see egress); this
        // process only acts as a client, so it installs ring, already built.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        let token = crate::secret_args::SecretOption {
            flag: "--token",
            env: "CLOCKWORK_TOKEN",
            value: args.token.as_deref(),
            file: args.token_file.as_deref(),
        }
        .resolve()?;
        Ok(Api { base, token, http })
    }

    /// `base/api/v1/segments…?query`, each segment percent-encoded.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow!("the server URL cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v1"])
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder> {
        let mut request = self.http.request(method, self.url(segments, query)?);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        Ok(request)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T> {
        Ok(self
            .call_with_status(method, segments, query, body)
            .await?
            .1)
    }

    async fn call_with_status<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, T)> {
        let response = self.send(method, segments, query, body).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("the server's answer broke off")?;
        let value = serde_json::from_slice(&bytes)
            .context("the server's answer is not the JSON this client expects")?;
        Ok((status, value))
    }

    /// Sends a request with `body` as JSON; the response when it succeeded,
    /// its problem document as an error when not.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let mut request = self.request(method, segments, query)?;
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        self.check(response).await
    }

    /// A GET whose 404 means "none".
    async fn call_optional<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<Option<T>> {
        let response = self
            .request(Method::GET, segments, &[])?
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = self.check(response).await?;
        let bytes = response
            .bytes()
            .await
            .context("the server's answer broke off")?;
        Ok(Some(serde_json::from_slice(&bytes).context(
            "the server's answer is not the JSON this client expects",
        )?))
    }

    async fn call_empty(&self, method: Method, segments: &[&str]) -> Result<()> {
        let response = self
            .request(method, segments, &[])?
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        self.check(response).await.map(drop)
    }

    /// The response if it succeeded; its problem document as an error if not.
    async fn check(&self, response: reqwest::Response) -> Result<reqwest::Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => problem_message(&problem),
            Err(_) => format!("the server answered {status}: {}", text.trim()),
        };
        let message = if status == StatusCode::UNAUTHORIZED && self.token.is_none() {
            format!("{message} (pass --token or set CLOCKWORK_TOKEN)")
        } else {
            message
        };
        if matches!(status.as_u16(), 400 | 404 | 409 | 412 | 413 | 415 | 422) {
            Err(InvalidInput(message).into())
        } else {
            Err(anyhow!(message))
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the Clockwork server at {} ({error}); start it with `clockwork serve` \
             or point --server / CLOCKWORK_SERVER at it",
            self.base
        )
    }
}

/// One line: the detail, then each invalid field with its position.
fn problem_message(problem: &Problem) -> String {
    if problem.errors.is_empty() {
        return problem.detail.clone();
    }
    let fields: Vec<String> = problem
        .errors
        .iter()
        .map(|error| match error.line {
            // Cron messages carry their column already; scripts get both.
            Some(line) => {
                let column = error
                    .column
                    .map(|column| format!(", column {column}"))
                    .unwrap_or_default();
                format!("{}: {} (line {line}{column})", error.field, error.message)
            }
            None => format!("{}: {}", error.field, error.message),
        })
        .collect();
    fields.join("; ")
}

/// One server-sent event.
struct SseEvent {
    name: String,
    data: String,
}

/// Reads server-sent events from a streaming response.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return Ok(Some(event));
                }
                continue;
            }
            match self
                .response
                .chunk()
                .await
                .context("the log stream broke off")?
            {
                Some(chunk) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
                None => return Ok(None),
            }
        }
    }
}

/// Parses one event block (`event:`, `data:` lines); comments and blocks
/// without data (keep-alives) yield nothing.
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut name = "message".to_owned();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty()).then(|| SseEvent {
        name,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_with_names_and_multi_line_data() {
        let event = parse_event("event: log\nid: 3\ndata: {\"a\":\ndata: 1}\n\n").unwrap();
        assert_eq!(event.name, "log");
        assert_eq!(event.data, "{\"a\":\n1}");
        assert!(parse_event(": keep-alive\n\n").is_none());
        assert_eq!(parse_event("data: x\n\n").unwrap().name, "message");
    }

    #[test]
    fn problems_become_one_line_with_fields_and_positions() {
        let problem: Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:clockwork:problem:validation",
            "title": "Invalid request",
            "status": 422,
            "detail": "2 fields are invalid",
            "errors": [
                {"field": "schedule.cron", "message": "minute field: 60 is out of range 0-59 (column 3)", "column": 3},
                {"field": "script", "message": "SyntaxError: unexpected token", "line": 2, "column": 11},
            ]
        }))
        .unwrap();
        assert_eq!(
            problem_message(&problem),
            "schedule.cron: minute field: 60 is out of range 0-59 (column 3); \
             script: SyntaxError: unexpected token (line 2, column 11)"
        );
    }

    #[test]
    fn urls_encode_each_segment_and_keep_a_base_path() {
        let api = Api::new(&ServerArgs {
            server: "http://example.test:8080/clockwork/".into(),
            token: None,
            token_file: None,
        })
        .unwrap();
        let url = api
            .url(&["jobs", "a b/c", "runs"], &[("status", "failed")])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://example.test:8080/clockwork/api/v1/jobs/a%20b%2Fc/runs?status=failed"
        );
        let bad = Api::new(&ServerArgs {
            server: "ftp://x".into(),
            token: None,
            token_file: None,
        });
        assert!(bad.unwrap_err().is::<InvalidInput>());
    }
}
