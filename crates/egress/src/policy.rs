//! What a call may do: which hosts it may reach, how long it may take, how much
//! it may read, how often it retries.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::Reach;

/// The rules every call through a [`Client`](crate::Client) follows.
///
/// Plain data: build it with struct update syntax over [`Policy::default`].
#[derive(Clone, Debug)]
pub struct Policy {
    /// Hosts calls (and every redirect hop) may reach. Default: any host.
    pub allowed_hosts: AllowList,
    /// Addresses calls (and every redirect hop) may connect to, checked
    /// after DNS. Default: any address ([`Reach::any`]).
    pub reach: Reach,
    /// The whole budget of one call: connecting, redirects, reading the body
    /// and every rate-limit wait and retry. A wait that would pass it is not
    /// taken; the rate-limited response is returned instead. Default: 60 s.
    pub timeout: Duration,
    /// The largest response body read into memory (after decompression).
    /// Default: 32 MiB.
    pub max_response_bytes: u64,
    /// How many times a rate-limited product request (429/503) is retried.
    /// Default: 4.
    pub max_retries: u32,
    /// The first backoff when the server says nothing about when to retry;
    /// doubled on each retry, with jitter. Default: 1 s.
    pub backoff_base: Duration,
    /// The longest such backoff. Default: 30 s.
    pub backoff_cap: Duration,
    /// Redirects followed per call. Default: 10.
    pub max_redirects: u32,
    /// Sent as `User-Agent` unless the request sets its own.
    /// Default: `clockwork/<version>`.
    pub user_agent: HeaderValue,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_hosts: AllowList::any(),
            reach: Reach::any(),
            timeout: Duration::from_secs(60),
            max_response_bytes: 32 << 20,
            max_retries: 4,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(30),
            max_redirects: 10,
            user_agent: HeaderValue::from_static(concat!("clockwork/", env!("CARGO_PKG_VERSION"))),
        }
    }
}

/// The hosts calls may reach: any host, or those matching one of a list of
/// [`HostPattern`]s. An empty list allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// `None` allows every host.
    patterns: Option<Vec<HostPattern>>,
}

impl AllowList {
    /// Every host is allowed.
    pub fn any() -> Self {
        AllowList { patterns: None }
    }

    /// Only hosts matching one of `patterns` (see [`HostPattern`] for the syntax).
    ///
    /// ```
    /// let list = egress::AllowList::new(["*.atlassian.net", "localhost:8080"])?;
    /// assert!(list.allows_url("https://acme.atlassian.net/rest/api/3/myself"));
    /// assert!(!list.allows_url("http://localhost:9090/"));
    /// # Ok::<(), egress::PatternError>(())
    /// ```
    pub fn new<I>(patterns: I) -> Result<Self, PatternError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let patterns = patterns
            .into_iter()
            .map(|pattern| pattern.as_ref().parse())
            .collect::<Result<Vec<HostPattern>, _>>()?;
        Ok(AllowList {
            patterns: Some(patterns),
        })
    }

    /// No host at all.
    pub fn none() -> Self {
        AllowList {
            patterns: Some(Vec::new()),
        }
    }

    /// Adds `pattern` (nothing changes when every host is allowed already).
    pub(crate) fn push(&mut self, pattern: HostPattern) {
        if let Some(patterns) = &mut self.patterns {
            patterns.push(pattern);
        }
    }

    /// True when every host is allowed.
    pub fn allows_any(&self) -> bool {
        self.patterns.is_none()
    }

    /// The patterns, or `None` when every host is allowed.
    pub fn patterns(&self) -> Option<&[HostPattern]> {
        self.patterns.as_deref()
    }

    /// True when a call to `url` would be allowed; false for text that is not
    /// an absolute URL with a host.
    pub fn allows_url(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|url| self.allows(&url))
    }

    pub(crate) fn allows(&self, url: &Url) -> bool {
        let Some(patterns) = &self.patterns else {
            return true;
        };
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        patterns.iter().any(|pattern| pattern.matches(host, port))
    }
}

/// One entry of an [`AllowList`].
///
/// | pattern            | matches                                             |
/// |--------------------|-----------------------------------------------------|
/// | `api.example.com`  | that host on any port                               |
/// | `localhost:8080`   | that host on that port only                         |
/// | `*.atlassian.net`  | every subdomain at any depth, not `atlassian.net`   |
/// | `127.0.0.1`, `[::1]:8443` | IP addresses, IPv6 in brackets               |
/// | `*`                | every host                                          |
///
/// Names are compared as URLs normalise them: case-insensitively, IDNs as
/// punycode, a trailing dot ignored. A port is compared with the URL's
/// explicit port or its scheme's default (443, 80).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// Holds the suffix with its leading dot: `.atlassian.net`.
    Subdomains(String),
}

impl HostPattern {
    fn matches(&self, host: &str, port: u16) -> bool {
        let host_matches = match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(exact) => host == exact,
            HostMatch::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        };
        host_matches && self.port.is_none_or(|wanted| wanted == port)
    }
}

impl FromStr for HostPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        let fail = |reason: &str| PatternError {
            pattern: text.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed.contains("://") || trimmed.contains(['/', '?', '#', '@']) {
            return Err(fail(
                "write a host or host:port, not a URL (e.g. `api.example.com` or `localhost:8080`)",
            ));
        }
        let (host, port) = split_port(trimmed).map_err(|reason| fail(&reason))?;
        let (subdomains, name) = match host.strip_prefix("*.") {
            Some(parent) => (true, parent),
            None => (false, host),
        };
        let host = if host == "*" {
            HostMatch::Any
        } else if name.contains('*') {
            return Err(fail(
                "a wildcard may only be the whole pattern (`*`) or its first label (`*.example.com`)",
            ));
        } else {
            let normalised = normalise_host(name).map_err(|reason| fail(&reason))?;
            if subdomains {
                HostMatch::Subdomains(format!(".{normalised}"))
            } else {
                HostMatch::Exact(normalised)
            }
        };
        Ok(HostPattern { host, port })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostMatch::Any => f.write_str("*")?,
            HostMatch::Exact(host) => f.write_str(host)?,
            HostMatch::Subdomains(suffix) => write!(f, "*{suffix}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// `host:port`, `[v6]:port` or a bare host → (host, port).
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if text.starts_with('[') {
        let end = text
            .find(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        let (host, rest) = text.split_at(end + 1);
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or("expected `:port` after `]`")?),
        };
        (host, port)
    } else {
        match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. `[::1]:8080`".to_owned());
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .map_err(|_| format!("`{port}` is not a port number"))
        })
        .transpose()?;
    Ok((host, port))
}

/// Normalises a host exactly as URL parsing does, so patterns and URLs compare.
fn normalise_host(host: &str) -> Result<String, String> {
    let url = Url::parse(&format!("http://{host}/"))
        .map_err(|error| format!("`{host}` is not a valid host name: {error}"))?;
    let normalised = url.host_str().ok_or("it has no host")?;
    Ok(normalised
        .strip_suffix('.')
        .unwrap_or(normalised)
        .to_owned())
}

/// An allow-list pattern that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed-host pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(patterns: &[&str]) -> AllowList {
        AllowList::new(patterns).unwrap()
    }

    #[test]
    fn default_policy_allows_any_host_with_documented_limits() {
        let policy = Policy::default();
        assert!(policy.allowed_hosts.allows_any());
        assert!(policy.allowed_hosts.allows_url("https://anything.example/"));
        assert_eq!(policy.timeout, Duration::from_secs(60));
        assert_eq!(policy.max_response_bytes, 32 * 1024 * 1024);
        assert_eq!(policy.max_retries, 4);
        assert_eq!(policy.max_redirects, 10);
        assert_eq!(policy.user_agent.to_str().unwrap(), "clockwork/0.1.0");
    }

    #[test]
    fn wildcard_matches_subdomains_at_any_depth_but_not_the_apex_or_lookalikes() {
        let allow = list(&["*.atlassian.net"]);
        assert!(allow.allows_url("https://acme.atlassian.net/rest"));
        assert!(allow.allows_url("https://a.b.atlassian.net/"));
        assert!(allow.allows_url("https://ACME.Atlassian.NET./x"));
        assert!(!allow.allows_url("https://atlassian.net/"));
        assert!(!allow.allows_url("https://evilatlassian.net/"));
        assert!(!allow.allows_url("https://atlassian.net.evil.com/"));
    }

    #[test]
    fn exact_host_matches_any_port_and_host_port_only_that_port() {
        let allow = list(&["api.example.com", "localhost:8080"]);
        assert!(allow.allows_url("https://api.example.com/"));
        assert!(allow.allows_url("http://api.example.com:9999/"));
        assert!(!allow.allows_url("https://www.example.com/"));
        assert!(allow.allows_url("http://localhost:8080/"));
        assert!(!allow.allows_url("http://localhost:8081/"));
        assert!(!allow.allows_url("http://localhost/"));
    }

    #[test]
    fn ports_compare_with_scheme_defaults() {
        let allow = list(&["secure.example.com:443"]);
        assert!(allow.allows_url("https://secure.example.com/"));
        assert!(!allow.allows_url("http://secure.example.com/"));
    }

    #[test]
    fn ip_addresses_match_in_normalised_form() {
        let allow = list(&["127.0.0.1", "[::1]:8443"]);
        assert!(allow.allows_url("http://127.0.0.1:3000/"));
        assert!(allow.allows_url("http://127.1:3000/"));
        assert!(allow.allows_url("https://[0:0::1]:8443/"));
        assert!(!allow.allows_url("https://[::1]:8444/"));
        assert!(!allow.allows_url("http://127.0.0.2/"));
    }

    #[test]
    fn star_allows_everything_and_empty_list_nothing() {
        assert!(list(&["*"]).allows_url("https://whatever.example/"));
        assert!(!list(&[]).allows_url("https://whatever.example/"));
        assert!(!list(&[]).allows_any());
    }

    #[test]
    fn unicode_names_match_their_punycode() {
        let allow = list(&["bücher.example"]);
        assert!(allow.allows_url("https://xn--bcher-kva.example/"));
    }

    #[test]
    fn patterns_print_back_normalised() {
        let shown: Vec<String> = ["*.Atlassian.net", "LOCALHOST:8080", "*", "[::1]"]
            .iter()
            .map(|p| p.parse::<HostPattern>().unwrap().to_string())
            .collect();
        assert_eq!(shown, ["*.atlassian.net", "localhost:8080", "*", "[::1]"]);
    }

    #[test]
    fn bad_patterns_are_rejected_with_a_reason() {
        for (pattern, reason) in [
            ("", "it is empty"),
            ("https://api.example.com", "not a URL"),
            ("api.example.com/path", "not a URL"),
            ("api.*.com", "a wildcard may only be"),
            ("**.example.com", "a wildcard may only be"),
            ("*.*.example.com", "a wildcard may only be"),
            ("localhost:http", "`http` is not a port number"),
            ("localhost:70000", "`70000` is not a port number"),
            ("::1", "in brackets"),
            ("[::1", "closing `]`"),
            ("exa mple.com", "not a valid host name"),
        ] {
            let error = pattern.parse::<HostPattern>().unwrap_err();
            assert!(
                error.reason.contains(reason),
                "{pattern:?}: {error} (wanted {reason:?})"
            );
            assert!(error.to_string().contains(&format!("`{pattern}`")));
        }
    }
}
