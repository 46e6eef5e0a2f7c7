//! URLs made safe for history, logs and error messages.
//!
//! Credentials reach a URL in two ways: as userinfo (`https://user:pass@host/`)
//! and as query parameters (`?access_token=…`, pre-signed `X-Amz-Signature=…`).
//! Both are removed; everything else stays as written so a person can still
//! recognise the call. A secret placed in the path itself (some webhook URLs)
//! cannot be told apart from an ordinary path segment and is kept.

use reqwest::Url;

/// What replaces a secret query value.
const REDACTED: &str = "REDACTED";

/// Parameter names (lower case, letters and digits only) that are secrets.
const SECRET_NAMES: [&str; 11] = [
    "key",
    "sig",
    "code",
    "pwd",
    "pass",
    "auth",
    "jwt",
    "session",
    "sessionid",
    "sid",
    "otp",
];

/// Fragments of parameter names (normalised as above) that mark a secret:
/// `access_token`, `X-Amz-Security-Token`, `client_secret`, `api-key`, …
const SECRET_FRAGMENTS: [&str; 10] = [
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "apikey",
    "accesskey",
    "credential",
    "privatekey",
    "authorization",
];

/// Returns `url` without userinfo, fragment and the values of query parameters
/// whose names look like secrets (`token`, `api_key`, `password`, `signature`, …).
///
/// Works on text that is not a valid URL too (best effort), so even an invalid
/// URL can be named in an error without leaking what it carried.
///
/// ```
/// assert_eq!(
///     egress::redact_url("https://me:pw@api.example.com/v1/items?limit=5&access_token=abc#top"),
///     "https://api.example.com/v1/items?limit=5&access_token=REDACTED"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => redact_parsed(&parsed),
        Err(_) => redact_text(url),
    }
}

/// `text` (a message about a call to `url`) with `url` shown as its origin
/// only, `https://hooks.slack.com/…`: for URLs whose path is itself the
/// secret (Slack and other incoming-webhook URLs).
///
/// ```
/// let url = "https://hooks.slack.com/services/T1/B2/s3cr3t";
/// let error = format!("request to {} failed: could not connect", egress::redact_url(url));
/// assert_eq!(
///     egress::redact_path(&error, url),
///     "request to https://hooks.slack.com/… failed: could not connect"
/// );
/// ```
pub fn redact_path(text: &str, url: &str) -> String {
    let origin = match Url::parse(url) {
        Ok(parsed) => format!("{}/…", parsed.origin().ascii_serialization()),
        Err(_) => "the channel URL".to_owned(),
    };
    let mut safe = text.replace(&redact_url(url), &origin);
    if !url.is_empty() {
        safe = safe.replace(url, &origin);
    }
    safe
}

/// [`redact_url`] for an already parsed URL.
pub(crate) fn redact_parsed(url: &Url) -> String {
    let mut safe = url.clone();
    // Both fail only for URLs without an authority (`mailto:`), which have no
    // userinfo to remove.
    let _ = safe.set_username("");
    let _ = safe.set_password(None);
    safe.set_fragment(None);
    if let Some(query) = url.query() {
        safe.set_query(Some(&redact_query(query)));
    }
    safe.into()
}

/// The text fallback: cut the fragment and userinfo by position, then redact
/// the query.
fn redact_text(text: &str) -> String {
    let without_fragment = text.split_once('#').map_or(text, |(before, _)| before);
    let (before_query, query) = match without_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (without_fragment, None),
    };
    let mut safe = strip_userinfo(before_query);
    if let Some(query) = query {
        safe.push('?');
        safe.push_str(&redact_query(query));
    }
    safe
}

fn strip_userinfo(before_query: &str) -> String {
    let Some((scheme, rest)) = before_query.split_once("://") else {
        return before_query.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_secret_name(raw_name: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(raw_name.as_bytes())
        .map(|(name, _)| name.into_owned())
        .collect();
    let normalised: String = decoded
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_NAMES.contains(&normalised.as_str())
        || SECRET_FRAGMENTS
            .iter()
            .any(|fragment| normalised.contains(fragment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo_and_fragment() {
        assert_eq!(
            redact_url("https://alice:s3cret@example.com:8443/a/b?x=1#frag"),
            "https://example.com:8443/a/b?x=1"
        );
        assert_eq!(
            redact_url("http://token@example.com/"),
            "http://example.com/"
        );
    }

    #[test]
    fn redacts_secret_looking_query_values_and_keeps_the_rest() {
        let url = "https://api.example.com/search?jql=project%20%3D%20X&token=t1&api_key=k&apikey=k\
                   &access_token=a&Password=p&client_secret=s&X-Amz-Signature=abc\
                   &X-Amz-Credential=c&X-Amz-Security-Token=st&sig=x&key=g&maxResults=50&author=me";
        assert_eq!(
            redact_url(url),
            "https://api.example.com/search?jql=project%20%3D%20X&token=REDACTED&api_key=REDACTED\
             &apikey=REDACTED&access_token=REDACTED&Password=REDACTED&client_secret=REDACTED\
             &X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED\
             &sig=REDACTED&key=REDACTED&maxResults=50&author=me"
        );
    }

    #[test]
    fn percent_encoded_parameter_names_are_recognised() {
        assert_eq!(
            redact_url("http://h/?access%5Ftoken=abc&a=b"),
            "http://h/?access%5Ftoken=REDACTED&a=b"
        );
    }

    #[test]
    fn parameters_without_value_and_plain_urls_are_untouched() {
        assert_eq!(redact_url("http://h/p?token&x"), "http://h/p?token&x");
        assert_eq!(redact_url("http://h/p"), "http://h/p");
    }

    #[test]
    fn invalid_urls_are_redacted_as_text() {
        assert_eq!(
            redact_url("http://bob:pw@exa mple.com/p?password=x#f"),
            "http://exa mple.com/p?password=REDACTED"
        );
        assert_eq!(redact_url("not a url?token=1"), "not a url?token=REDACTED");
    }
}
