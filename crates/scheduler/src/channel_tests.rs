//! Channel tests: one real message to a notification channel now, sent as
//! alerts are (a Slack message or the generic webhook's JSON), but not
//! stored as a delivery (a delivery belongs to a run) and not retried. The
//! caller gets what happened; the alerts' own client is a
//! [`ChannelSender`] (`egress::Client`), tests may hand in another.

use std::{future::Future, pin::Pin, time::Duration};

use serde_json::{Value, json};
use store::{ChannelKind, ChannelSpec};

/// One attempt's time budget (as an alert delivery's).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts a JSON body to a channel's URL: the status of the answer, or why
/// none came (never the URL's secret path).
pub trait ChannelSender: Send + Sync {
    /// One POST of `body` to `url`.
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: Value,
    ) -> Pin<Box<dyn Future<Output = Result<u16, String>> + Send + 'a>>;
}

/// The alerts' client: outside the scripts' allow-list, like the alerts.
impl ChannelSender for egress::Client {
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: Value,
    ) -> Pin<Box<dyn Future<Output = Result<u16, String>> + Send + 'a>> {
        Box::pin(post_json(self, url, body.to_string()))
    }
}

/// POSTs `body` as JSON to `url`; an error names the URL without its path
/// (a Slack or webhook URL's path is its secret).
pub(crate) async fn post_json(
    client: &egress::Client,
    url: &str,
    body: String,
) -> Result<u16, String> {
    let request = egress::Request::new(egress::Method::POST, url.to_owned())
        .header(
            egress::HeaderName::from_static("content-type"),
            egress::HeaderValue::from_static("application/json"),
        )
        .body(body)
        .timeout(ATTEMPT_TIMEOUT);
    match client.send(request).await {
        Ok(response) => Ok(response.status.as_u16()),
        Err(error) => Err(egress::redact_path(&error.to_string(), url)),
    }
}

/// What a test message met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSend {
    /// Whether the channel answered 2xx.
    pub delivered: bool,
    /// The HTTP status it answered, when it answered.
    pub status: Option<u16>,
    /// Why it was not delivered.
    pub error: Option<String>,
}

/// Sends `channel` its test message through `sender`, once.
pub async fn send_test_message(sender: &dyn ChannelSender, channel: &ChannelSpec) -> TestSend {
    match sender.post(&channel.url, test_body(channel)).await {
        Ok(status) if (200..300).contains(&status) => TestSend {
            delivered: true,
            status: Some(status),
            error: None,
        },
        Ok(status) => TestSend {
            delivered: false,
            status: Some(status),
            error: Some(format!("the channel answered HTTP {status}")),
        },
        Err(error) => TestSend {
            delivered: false,
            status: None,
            error: Some(error),
        },
    }
}

/// The test message in the channel's own form.
fn test_body(channel: &ChannelSpec) -> Value {
    let text = format!(
        "Clockwork test message: the channel {:?} receives alerts.",
        channel.name
    );
    match channel.kind {
        ChannelKind::Slack => json!({"text": text}),
        ChannelKind::Webhook => {
            json!({"event": "test", "channel": channel.name, "message": text})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind, url: String) -> ChannelSpec {
        ChannelSpec {
            name: "ops".into(),
            kind,
            url,
            events: vec![store::AlertEvent::Failed],
            enabled: true,
        }
    }

    #[test]
    fn the_test_message_takes_the_channels_form() {
        let slack = test_body(&channel(ChannelKind::Slack, String::new()));
        assert!(slack["text"].as_str().unwrap().contains("\"ops\""));
        let webhook = test_body(&channel(ChannelKind::Webhook, String::new()));
        assert_eq!(webhook["event"], "test");
        assert_eq!(webhook["channel"], "ops");
    }

    #[tokio::test]
    async fn an_unreachable_channel_is_not_delivered_and_its_secret_path_is_not_shown() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{closed}/services/T1/B2/s3cr3t-path");
        let client = egress::Client::new(egress::Policy::default()).unwrap();
        let sent = send_test_message(&client, &channel(ChannelKind::Slack, url)).await;
        assert!(!sent.delivered);
        assert_eq!(sent.status, None);
        let error = sent.error.unwrap();
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(
            error.contains(&format!("http://127.0.0.1:{closed}/…")),
            "{error}"
        );
    }
}
