//! `clockwork.toml`: the site and its credentials, user credentials jobs may
//! run as, the egress allow-list, default run limits and retention,
//! scheduler sizing, notification channels and custom entities.
//!
//! Secret values may be written as `env:NAME` to read them from the
//! environment at start-up (so the file can live in git). Unknown keys are
//! errors that name the file, line and column, so a typo never silently
//! falls back to a default.
//!
//! ```toml
//! [site]
//! jira_url = "https://example.atlassian.net"
//! [site.app]
//! email = "automation@example.com"
//! api_token = "env:JIRA_API_TOKEN"
//!
//! [credentials.ops]          # `run_as = "ops"` in a job
//! email = "ops@example.com"
//! api_token = "env:OPS_API_TOKEN"
//!
//! [egress]
//! allow = ["example.atlassian.net", "*.example.com"]
//! allow_private = false     # 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7
//! alerts_allow_hosts = []    # channel hosts reachable wherever they resolve
//!
//! [limits]                  # for jobs that set none
//! timeout_seconds = 900
//! memory_limit_mb = 256
//! total_memory_mb = 4096    # this node's live runs' limits add up to at most this
//! storage_mb = 256          # storage quota of the installation; 0: none
//! storage_keys = 100000
//!
//! [retention]
//! keep_runs = 1000
//! keep_days = 30
//! audit_days = 90           # audit entries older than this are deleted
//!
//! [scheduler]
//! workers = 8
//! grace_seconds = 30
//! lease_seconds = 30
//!
//! [metrics]
//! public = false            # true: /metrics answers without a token
//!
//! [[notifications]]
//! name = "ops-slack"
//! kind = "slack"             # or "webhook"
//! url = "env:SLACK_WEBHOOK_URL"
//! events = ["failed", "timed_out", "interrupted", "missed", "recovered"]
//!
//! [[entities]]               # custom entities, as in a Forge manifest
//! name = "reminder"
//! attributes = { day = { type = "string" }, ts = { type = "integer" } }
//! indexes = ["ts", { name = "by-day", partition = ["day"], range = ["ts"] }]
//! ```

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;
use store::{AlertEvent, ChannelKind, ChannelSpec, RetentionPolicy};

/// Why the configuration cannot be used. The message names the file and,
/// where there is one, the key.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub(crate) struct ConfigError {
    file: String,
    message: String,
}

/// The configuration, resolved: every `env:` value read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// Product requests' site and app credential.
    pub(crate) sites: runtime::Sites,
    /// Named user credentials, for jobs' `run_as`.
    pub(crate) users: BTreeMap<String, runtime::Credential>,
    /// Hosts scripts may call; `None` allows every host.
    pub(crate) egress_allow: Option<Vec<String>>,
    /// Scripts may reach private address ranges (loopback, link-local and
    /// this machine's own addresses stay refused).
    pub(crate) egress_allow_private: bool,
    /// Alert channels may reach private address ranges (default: as scripts).
    pub(crate) alerts_allow_private: bool,
    /// Hosts (or `host:port`) alert channels may reach wherever they
    /// resolve, loopback included: a relay the operator runs on purpose.
    pub(crate) alerts_allow_hosts: Vec<String>,
    /// The run limits of jobs that set none.
    pub(crate) limits: server::DefaultLimits,
    /// The installation's storage quota.
    pub(crate) storage: StorageLimits,
    /// The history kept per job unless the job says otherwise.
    pub(crate) retention: Option<RetentionPolicy>,
    /// Concurrent runs on this node.
    pub(crate) workers: Option<u32>,
    /// How long running runs may finish after SIGTERM/SIGINT.
    pub(crate) grace_seconds: Option<u64>,
    /// How long a run stays this node's without a heartbeat.
    pub(crate) lease_seconds: Option<u64>,
    /// Alert channels.
    pub(crate) channels: Vec<ChannelSpec>,
    /// `/metrics` answers without a token.
    pub(crate) metrics_public: bool,
    /// How many days audit entries are kept (default: the scheduler's).
    pub(crate) audit_days: Option<u32>,
    /// The custom entities scripts can use (`kvs.entity(name)`).
    pub(crate) entities: runtime::EntityCatalog,
}

impl Settings {
    /// This node's memory budget for live runs, in MiB: `[limits]
    /// total_memory_mb`, or the scheduler's default from the machine.
    pub(crate) fn memory_budget_mb(&self) -> u32 {
        self.limits
            .total_memory_mb
            .unwrap_or_else(scheduler::default_total_memory_mb)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    site: Option<SiteFile>,
    #[serde(default)]
    credentials: BTreeMap<String, CredentialFile>,
    #[serde(default)]
    egress: Option<EgressFile>,
    #[serde(default)]
    limits: Option<LimitsFile>,
    #[serde(default)]
    retention: Option<RetentionFile>,
    #[serde(default)]
    scheduler: Option<SchedulerFile>,
    #[serde(default)]
    notifications: Vec<ChannelFile>,
    #[serde(default)]
    metrics: Option<MetricsFile>,
    #[serde(default)]
    entities: Vec<runtime::EntityDeclaration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsFile {
    #[serde(default)]
    public: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    jira_url: Option<String>,
    confluence_url: Option<String>,
    cloud_id: Option<String>,
    app: Option<CredentialFile>,
}

/// `{email, api_token}` (Atlassian basic auth) or `{token}` (bearer).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    email: Option<String>,
    api_token: Option<String>,
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EgressFile {
    allow: Option<Vec<String>>,
    #[serde(default)]
    allow_private: bool,
    alerts_allow_private: Option<bool>,
    #[serde(default)]
    alerts_allow_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    timeout_seconds: Option<u32>,
    memory_limit_mb: Option<u32>,
    total_memory_mb: Option<u32>,
    storage_mb: Option<u64>,
    storage_keys: Option<u64>,
}

/// The storage quota: what the entries, secrets and entity values of all
/// jobs may hold together, as Forge limits an installation. 0 means unlimited.
///
/// The defaults are two orders of magnitude above what a typical app keeps
/// (hundreds of keys, a few MiB) and still stop a runaway loop long before
/// it fills the disk: 100,000 keys of the 240 KiB largest value would be
/// 23 GiB, so the byte limit is the one that holds the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorageLimits {
    /// `[limits] storage_mb`: MiB of keys and values.
    pub(crate) mb: u64,
    /// `[limits] storage_keys`: keys (entries, secrets, entity values).
    pub(crate) keys: u64,
}

impl Default for StorageLimits {
    fn default() -> Self {
        Self {
            mb: 256,
            keys: 100_000,
        }
    }
}

impl StorageLimits {
    /// The quota the store enforces.
    pub(crate) fn quota(self) -> store::StorageQuota {
        let limit = |value: u64| (value > 0).then_some(value);
        store::StorageQuota {
            max_keys: limit(self.keys),
            max_bytes: limit(self.mb).map(|mb| mb.saturating_mul(1024 * 1024)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    keep_runs: Option<u32>,
    keep_days: Option<u32>,
    audit_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerFile {
    workers: Option<u32>,
    grace_seconds: Option<u64>,
    lease_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelFile {
    name: String,
    kind: ChannelKind,
    url: String,
    #[serde(default = "all_events")]
    events: Vec<AlertEvent>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn all_events() -> Vec<AlertEvent> {
    vec![
        AlertEvent::Failed,
        AlertEvent::TimedOut,
        AlertEvent::Interrupted,
        AlertEvent::Missed,
        AlertEvent::Recovered,
    ]
}

fn yes() -> bool {
    true
}

/// Reads and resolves the configuration file at `path`, looking `env:`
/// values up with `env`.
pub(crate) fn load(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        file: file.clone(),
        message: format!("cannot read the configuration file: {error}"),
    })?;
    parse(&text, env).map_err(|message| ConfigError { file, message })
}

fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let raw: File = toml::from_str(text).map_err(|error| toml_message(text, &error))?;
    Resolver { env }.settings(raw)
}

/// `line L, column C: message` from toml's multi-line report.
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

/// The limits, each within the range a job's own value must be in (so a
/// default can never make a job invalid).
fn limits_of(raw: LimitsFile) -> Result<server::DefaultLimits, String> {
    if let Some(timeout) = raw.timeout_seconds {
        let range = store::TIMEOUT_SECONDS_RANGE;
        if !range.contains(&timeout) {
            return Err(format!(
                "limits.timeout_seconds: must be between {} and {} (24 h), not {timeout}",
                range.start(),
                range.end()
            ));
        }
    }
    if let Some(memory) = raw.memory_limit_mb {
        let range = store::MEMORY_LIMIT_MB_RANGE;
        if !range.contains(&memory) {
            return Err(format!(
                "limits.memory_limit_mb: must be between {} and {}, not {memory}",
                range.start(),
                range.end()
            ));
        }
    }
    if let Some(total) = raw.total_memory_mb {
        let per_run = raw
            .memory_limit_mb
            .unwrap_or(store::DEFAULT_MEMORY_LIMIT_MB);
        if total < per_run {
            return Err(format!(
                "limits.total_memory_mb: {total} MiB cannot hold even one run with the default memory_limit_mb ({per_run} MiB); raise it or lower limits.memory_limit_mb"
            ));
        }
    }
    Ok(server::DefaultLimits {
        timeout_seconds: raw.timeout_seconds,
        memory_limit_mb: raw.memory_limit_mb,
        total_memory_mb: raw.total_memory_mb,
    })
}

struct Resolver<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_> {
    fn settings(&self, raw: File) -> Result<Settings, String> {
        let mut settings = Settings::default();
        if let Some(site) = raw.site {
            settings.sites = runtime::Sites {
                jira_url: site
                    .jira_url
                    .map(|url| self.value("site.jira_url", url))
                    .transpose()?,
                confluence_url: site
                    .confluence_url
                    .map(|url| self.value("site.confluence_url", url))
                    .transpose()?,
                cloud_id: site.cloud_id,
                app: site
                    .app
                    .map(|app| self.credential("site.app", app))
                    .transpose()?,
                user: None,
            };
        }
        for (name, credential) in raw.credentials {
            let key = format!("credentials.{name}");
            let credential = self.credential(&key, credential)?;
            settings.users.insert(name, credential);
        }
        if let Some(egress) = raw.egress {
            if let Some(allow) = &egress.allow {
                egress::AllowList::new(allow).map_err(|error| format!("egress.allow: {error}"))?;
            }
            settings.egress_allow = egress.allow;
            settings.egress_allow_private = egress.allow_private;
            settings.alerts_allow_private =
                egress.alerts_allow_private.unwrap_or(egress.allow_private);
            egress::AllowList::new(&egress.alerts_allow_hosts)
                .map_err(|error| format!("egress.alerts_allow_hosts: {error}"))?;
            settings.alerts_allow_hosts = egress.alerts_allow_hosts;
        }
        settings.metrics_public = raw.metrics.is_some_and(|metrics| metrics.public);
        settings.entities = runtime::EntityCatalog::new(raw.entities)
            .map_err(|error| format!("entities: {error}"))?;
        if let Some(limits) = raw.limits {
            let defaults = StorageLimits::default();
            settings.storage = StorageLimits {
                mb: limits.storage_mb.unwrap_or(defaults.mb),
                keys: limits.storage_keys.unwrap_or(defaults.keys),
            };
            settings.limits = limits_of(limits)?;
        }
        if let Some(retention) = raw.retention {
            if retention.audit_days == Some(0) {
                return Err("retention.audit_days: must be at least 1".to_owned());
            }
            settings.audit_days = retention.audit_days;
            let defaults = RetentionPolicy::default();
            settings.retention = Some(RetentionPolicy {
                keep_runs: retention.keep_runs.unwrap_or(defaults.keep_runs),
                keep_days: retention.keep_days.unwrap_or(defaults.keep_days),
            });
        }
        if let Some(scheduler) = raw.scheduler {
            if scheduler.workers == Some(0) {
                return Err("scheduler.workers: must be at least 1".to_owned());
            }
            if scheduler.lease_seconds == Some(0) {
                return Err("scheduler.lease_seconds: must be at least 1".to_owned());
            }
            settings.workers = scheduler.workers;
            settings.grace_seconds = scheduler.grace_seconds;
            settings.lease_seconds = scheduler.lease_seconds;
        }
        for (index, channel) in raw.notifications.into_iter().enumerate() {
            let key = format!("notifications[{index}]");
            let url = self.value(&format!("{key}.url"), channel.url)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("{key}.url: must be an http:// or https:// URL"));
            }
            settings.channels.push(ChannelSpec {
                name: channel.name,
                kind: channel.kind,
                url,
                events: channel.events,
                enabled: channel.enabled,
            });
        }
        Ok(settings)
    }

    fn credential(&self, key: &str, raw: CredentialFile) -> Result<runtime::Credential, String> {
        match raw {
            CredentialFile {
                email: Some(email),
                api_token: Some(api_token),
                token: None,
            } => Ok(runtime::Credential::Basic {
                email,
                api_token: self.value(&format!("{key}.api_token"), api_token)?,
            }),
            CredentialFile {
                email: None,
                api_token: None,
                token: Some(token),
            } => Ok(runtime::Credential::Bearer {
                token: self.value(&format!("{key}.token"), token)?,
            }),
            _ => Err(format!(
                "{key}: give either `email` and `api_token` (Atlassian API token) or `token` (bearer)"
            )),
        }
    }

    /// The value itself, or for `env:NAME` the variable's value.
    fn value(&self, key: &str, raw: String) -> Result<String, String> {
        let Some(name) = raw.strip_prefix("env:") else {
            return Ok(raw);
        };
        match (self.env)(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(format!(
                "{key}: the environment variable {name} (named by \"env:{name}\") is not set"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "JIRA_API_TOKEN" => Some("secret-1".into()),
            "SLACK_URL" => Some("https://hooks.slack.test/T1".into()),
            _ => None,
        }
    }

    #[test]
    fn a_full_file_resolves_env_values() {
        let text = r#"
[site]
jira_url = "https://example.atlassian.net"
cloud_id = "abc"
[site.app]
email = "bot@example.com"
api_token = "env:JIRA_API_TOKEN"

[credentials.ops]
token = "literal-token"

[egress]
allow = ["example.atlassian.net", "*.example.com"]

[limits]
timeout_seconds = 60
storage_mb = 0
storage_keys = 500

[retention]
keep_days = 7

[scheduler]
workers = 3
grace_seconds = 5

[[notifications]]
name = "ops"
kind = "slack"
url = "env:SLACK_URL"
events = ["failed"]
"#;
        let settings = parse(text, &env).unwrap();
        assert_eq!(
            settings.sites.jira_url.as_deref(),
            Some("https://example.atlassian.net")
        );
        assert_eq!(
            settings.sites.app,
            Some(runtime::Credential::Basic {
                email: "bot@example.com".into(),
                api_token: "secret-1".into()
            })
        );
        assert_eq!(
            settings.users["ops"],
            runtime::Credential::Bearer {
                token: "literal-token".into()
            }
        );
        assert_eq!(settings.egress_allow.as_ref().unwrap().len(), 2);
        assert_eq!(
            settings.retention,
            Some(RetentionPolicy {
                keep_runs: 1000,
                keep_days: 7
            })
        );
        assert_eq!(
            settings.limits,
            server::DefaultLimits {
                timeout_seconds: Some(60),
                memory_limit_mb: None,
                total_memory_mb: None,
            }
        );
        assert_eq!(
            settings.storage.quota(),
            store::StorageQuota {
                max_keys: Some(500),
                max_bytes: None
            }
        );
        assert_eq!(settings.workers, Some(3));
        let text = "[limits]\nmemory_limit_mb = 64\ntotal_memory_mb = 128\n";
        assert_eq!(parse(text, &env).unwrap().limits.total_memory_mb, Some(128));
        assert_eq!(settings.channels[0].url, "https://hooks.slack.test/T1");
        assert_eq!(settings.channels[0].events, [AlertEvent::Failed]);
        assert!(settings.channels[0].enabled);
    }

    #[test]
    fn security_keys_are_read_and_default_to_closed() {
        let settings = parse("", &env).unwrap();
        assert!(!settings.egress_allow_private);
        assert!(!settings.alerts_allow_private);
        assert!(!settings.metrics_public);
        assert_eq!(settings.audit_days, None);
        let text = "[egress]\nallow_private = true\n[metrics]\npublic = true\n\
                    [retention]\naudit_days = 30\n";
        let settings = parse(text, &env).unwrap();
        assert!(settings.egress_allow.is_none(), "no allow-list: any host");
        assert!(settings.egress_allow_private);
        assert!(settings.alerts_allow_private, "alerts follow scripts");
        assert!(settings.metrics_public);
        assert_eq!(settings.audit_days, Some(30));
        let text = "[egress]\nallow_private = true\nalerts_allow_private = false\n";
        let settings = parse(text, &env).unwrap();
        assert!(!settings.alerts_allow_private);
        assert!(settings.alerts_allow_hosts.is_empty());
        let text = "[egress]\nalerts_allow_hosts = [\"127.0.0.1\", \"relay.internal:8443\"]\n";
        let settings = parse(text, &env).unwrap();
        assert_eq!(
            settings.alerts_allow_hosts,
            ["127.0.0.1", "relay.internal:8443"]
        );
        let error = parse("[egress]\nalerts_allow_hosts = [\"\"]\n", &env).unwrap_err();
        assert!(error.starts_with("egress.alerts_allow_hosts: "), "{error}");
        let error = parse("[retention]\naudit_days = 0\n", &env).unwrap_err();
        assert_eq!(error, "retention.audit_days: must be at least 1");
        assert!(parse("[metrics]\npublick = true\n", &env).is_err());
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        let settings = parse("", &env).unwrap();
        assert_eq!(settings.sites, runtime::Sites::default());
        assert!(settings.egress_allow.is_none());
        assert_eq!(settings.limits, server::DefaultLimits::default());
        assert_eq!(
            settings.storage.quota(),
            store::StorageQuota {
                max_keys: Some(100_000),
                max_bytes: Some(256 * 1024 * 1024)
            }
        );
        assert!(settings.channels.is_empty());
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_column() {
        let error =
            parse("[site]\njira_url = \"https://x\"\njira_ulr = \"y\"\n", &env).unwrap_err();
        assert!(
            error.starts_with("line 3, column 1: unknown field `jira_ulr`"),
            "{error}"
        );
        let error = parse("[sheduler]\nworkers = 2\n", &env).unwrap_err();
        assert!(error.contains("unknown field `sheduler`"), "{error}");
    }

    #[test]
    fn problems_name_their_key() {
        let cases = [
            (
                "[site.app]\nemail = \"a\"\napi_token = \"env:MISSING\"",
                "site.app.api_token: the environment variable MISSING",
            ),
            (
                "[credentials.x]\nemail = \"a\"",
                "credentials.x: give either",
            ),
            ("[egress]\nallow = [\"http://x/\"]", "egress.allow:"),
            ("[scheduler]\nworkers = 0", "scheduler.workers"),
            (
                "[[notifications]]\nname = \"n\"\nkind = \"email\"\nurl = \"x\"",
                "unknown variant `email`",
            ),
            (
                "[[notifications]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"ftp://x\"",
                "notifications[0].url",
            ),
            ("[retention]\nkeep_runs = -1", "line 2"),
            (
                "[limits]\ntimeout_seconds = 86401",
                "limits.timeout_seconds: must be between 1 and 86400 (24 h), not 86401",
            ),
            ("[limits]\ntimeout_seconds = 0", "limits.timeout_seconds"),
            (
                "[limits]\nmemory_limit_mb = 0",
                "limits.memory_limit_mb: must be between 1 and 16384",
            ),
            ("[limits]\nmax_runtime = 5", "unknown field `max_runtime`"),
            (
                "[limits]\ntotal_memory_mb = 100",
                "limits.total_memory_mb: 100 MiB cannot hold even one run with the default memory_limit_mb (256 MiB)",
            ),
            (
                "[limits]\nmemory_limit_mb = 512\ntotal_memory_mb = 500",
                "limits.total_memory_mb: 500 MiB cannot hold even one run",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text, &env).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clockwork.toml");
        std::fs::write(&path, "bogus = 1\n").unwrap();
        let error = load(&path, &env).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}: line 1, column 1", path.display())),
            "{error}"
        );
        let missing = load(&dir.path().join("nope.toml"), &env)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("cannot read the configuration file"),
            "{missing}"
        );
    }

    #[test]
    fn entities_are_declared_as_in_a_forge_manifest() {
        let text = r#"
[[entities]]
name = "reminder"
attributes = { day = { type = "string" }, ts = { type = "integer" } }
indexes = ["ts", { name = "by-day", partition = ["day"], range = ["ts"] }]
"#;
        let settings = parse(text, &env).unwrap();
        let entity = settings.entities.entities().next().unwrap();
        assert_eq!(entity.name, "reminder");
        assert_eq!(
            entity.indexes[1],
            runtime::EntityIndex {
                name: "by-day".into(),
                partition: vec!["day".into()],
                range: "ts".into(),
            }
        );
        let unknown_type = parse(
            "[[entities]]\nname = \"reminder\"\nattributes = { ts = { type = \"date\" } }",
            &env,
        )
        .unwrap_err();
        assert!(
            unknown_type.contains("unknown variant `date`"),
            "{unknown_type}"
        );
        let undeclared = parse(
            "[[entities]]\nname = \"reminder\"\nattributes = {}\nindexes = [\"ts\"]",
            &env,
        )
        .unwrap_err();
        assert_eq!(
            undeclared,
            "entities: entity 'reminder': index 'ts' uses attribute 'ts', which is not declared (declared: none)"
        );
    }
}
