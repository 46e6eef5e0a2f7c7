//! What one run needs: the script, its limits, its inputs and its services.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::entity::EntityCatalog;
use crate::kv::{KvStore, MemoryKvStore};
use crate::queue::{MemoryQueue, QueueBackend};
use crate::typescript::Language;

/// Everything one run needs. Build it with [`RunSpec::new`] and set the fields
/// that matter; the defaults suit a one-off console run.
#[derive(Clone)]
pub struct RunSpec {
    /// The user's text, in either form (FORGE-API §1).
    pub script: String,
    /// The language `script` is written in.
    pub language: Language,
    /// Hard limits of this run.
    pub limits: Limits,
    /// The job's parameters, `context.params`.
    pub params: Value,
    /// A chain's saved state, `context.state` (from the previous chunk's `continueWith`).
    pub state: Option<Value>,
    /// The queue event this run consumes; `None` for a scheduled or manual run,
    /// which then gets the scheduled-trigger event `{ context: { cloudId, moduleKey }, contextToken }`.
    pub event: Option<Value>,
    /// `context.job`.
    pub job: JobInfo,
    /// `context.run`.
    pub run: RunInfo,
    /// Where product requests go and with which credentials.
    pub sites: Sites,
    /// Storage and queues.
    pub services: Services,
    /// The exported function a module-style script is called as (Forge's
    /// `handler: index.trigger`); `None` picks `run`, `handler`, the default
    /// export or the only exported function.
    pub handler: Option<String>,
    /// `process.env`: name → value, or `secret:NAME` for the stored secret
    /// `NAME` (read when the run starts). Nothing else of any environment.
    pub env: BTreeMap<String, String>,
    /// The file name stack traces give the script (`nightly-sync.js`);
    /// `None` names it after the job (see [`RunSpec::display_name`]).
    pub script_name: Option<String>,
}

impl RunSpec {
    /// The file name stack traces give the script: [`RunSpec::script_name`],
    /// else the job's name with the language's extension (`nightly-sync.ts`),
    /// else `job.js` (`job.ts`).
    pub fn display_name(&self) -> String {
        if let Some(name) = self.script_name.as_deref().filter(|name| !name.is_empty()) {
            return name.to_owned();
        }
        let extension = match self.language {
            Language::JavaScript => "js",
            Language::TypeScript => "ts",
        };
        let stem = Some(self.job.name.as_str())
            .filter(|name| !name.is_empty())
            .unwrap_or("job");
        format!("{stem}.{extension}")
    }
    /// A spec with default limits, no site, and fresh in-memory storage and queues.
    pub fn new(script: impl Into<String>) -> Self {
        Self {
            script: script.into(),
            language: Language::JavaScript,
            limits: Limits::default(),
            params: Value::Object(serde_json::Map::new()),
            state: None,
            event: None,
            job: JobInfo::default(),
            run: RunInfo::default(),
            sites: Sites::default(),
            services: Services::in_memory(),
            handler: None,
            env: BTreeMap::new(),
            script_name: None,
        }
    }
}

impl fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunSpec")
            .field("script_bytes", &self.script.len())
            .field("language", &self.language)
            .field("limits", &self.limits)
            .field("job", &self.job)
            .field("run", &self.run)
            .field("sites", &self.sites)
            .field("handler", &self.handler)
            .field("env_names", &self.env.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Hard limits of one run (DESIGN "Each run has hard limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time from [`Executor::start`](crate::Executor::start) to the end; then `timed_out`.
    pub timeout: Duration,
    /// Bytes the script's heap may hold; beyond it the run fails.
    pub memory_bytes: usize,
    /// Bytes of log kept: each line's message plus 64 bytes; later lines are
    /// counted in one marker line.
    pub log_bytes: usize,
    /// Bytes of the JSON result; a larger result fails the run.
    pub result_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15 * 60),
            memory_bytes: 256 * 1024 * 1024,
            log_bytes: 5 * 1000 * 1000,
            result_bytes: 1024 * 1024,
        }
    }
}

/// The job a run belongs to, as `context.job`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobInfo {
    /// The job's id.
    pub id: String,
    /// The job's unique name; also the scheduled event's `moduleKey`.
    pub name: String,
    /// The job version this run executes.
    pub version: u32,
}

/// The run itself, as `context.run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// The run's id.
    pub id: String,
    /// 1 for the first attempt, then 2, 3, … for retries.
    pub attempt: u32,
    /// What started it (`schedule`, `manual`, `api`, `retry`, `catch_up`, `continuation`, `event`).
    pub trigger: String,
    /// The occurrence this run is for, when it has one.
    pub scheduled_for: Option<jiff::Timestamp>,
}

/// Where product requests go (FORGE-API §2) and with which credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sites {
    /// Jira base URL, e.g. `https://example.atlassian.net`.
    pub jira_url: Option<String>,
    /// Confluence base URL; `None` means the Jira base URL.
    pub confluence_url: Option<String>,
    /// The site's cloud id, `event.context.cloudId`.
    pub cloud_id: Option<String>,
    /// The credential of `asApp()` (and of plain `requestJira`).
    pub app: Option<Credential>,
    /// The job's run-as credential for `asUser()`; without it `asUser()` fails.
    pub user: Option<Credential>,
}

impl Sites {
    /// The Confluence base URL, which defaults to Jira's.
    pub fn confluence_base(&self) -> Option<&str> {
        self.confluence_url.as_deref().or(self.jira_url.as_deref())
    }
}

/// A credential for product requests. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Atlassian Cloud: `Authorization: Basic base64(email:api_token)`.
    Basic {
        /// The account's email address.
        email: String,
        /// The API token.
        api_token: String,
    },
    /// `Authorization: Bearer token`.
    Bearer {
        /// The token.
        token: String,
    },
}

impl Credential {
    /// The secret part: the API token or the bearer token.
    pub fn secret(&self) -> &str {
        match self {
            Self::Basic { api_token, .. } => api_token,
            Self::Bearer { token } => token,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { email, .. } => f
                .debug_struct("Basic")
                .field("email", email)
                .field("api_token", &"<redacted>")
                .finish(),
            Self::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// The services a script reaches through the Forge API.
#[derive(Clone)]
pub struct Services {
    /// `storage` and `kvs`.
    pub kv: Arc<dyn KvStore>,
    /// The custom entities `kvs.entity(name)` reaches.
    pub entities: Arc<EntityCatalog>,
    /// `@forge/events` queues.
    pub queue: Arc<dyn QueueBackend>,
    /// The outbound HTTP client (its policy is the run's egress allow-list).
    /// Without one, every `fetch` and product request fails clearly.
    pub http: Option<egress::Client>,
}

impl Services {
    /// Fresh in-memory storage and queues, and no HTTP client (tests, one-off runs).
    pub fn in_memory() -> Self {
        Self {
            kv: Arc::new(MemoryKvStore::new()),
            entities: Arc::default(),
            queue: Arc::new(MemoryQueue::new()),
            http: None,
        }
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
