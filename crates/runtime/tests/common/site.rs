//! A fake Atlassian site for the compatibility tests: it records every
//! request, keeps Jira and Confluence entity properties, and otherwise
//! echoes what it got (method, path and query, Authorization, body).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use runtime::{Credential, RunSpec, Sites};
use serde_json::{Value, json};

/// One request as the site saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Clone, Default)]
pub struct FakeSite {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    properties: Arc<Mutex<HashMap<String, (Value, u64)>>>,
}

impl FakeSite {
    pub async fn start() -> Self {
        let mut site = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        site.base = format!("http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        site
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// A spec for `script` whose Jira and Confluence are this site, with
    /// the app's Basic credential and an HTTP client.
    pub fn spec(&self, script: &str) -> RunSpec {
        let mut spec = RunSpec::new(script);
        spec.sites = Sites {
            jira_url: Some(self.base.clone()),
            confluence_url: None,
            cloud_id: Some("cloud-1".into()),
            app: Some(Credential::Basic {
                email: "bot@acme.test".into(),
                api_token: "app-token".into(),
            }),
            user: None,
        };
        spec.services.http = Some(egress::Client::new(egress::Policy::default()).expect("client"));
        spec
    }
}

async fn answer(State(site): State<FakeSite>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let uri = parts.uri.to_string();
    let method = parts.method.to_string();
    site.seen.lock().expect("lock").push(Seen {
        method: method.clone(),
        uri: uri.clone(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    let path = parts.uri.path().to_owned();
    if path.starts_with("/slow") {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    if path.contains("/properties/") || path.contains("/property") {
        return property(&site, &method, &uri, &path, &body);
    }
    json_response(
        StatusCode::OK,
        &json!({ "method": method, "uri": uri, "body": body }),
    )
}

/// Jira `…/properties/{key}` (GET → `{key, value}`, PUT, DELETE) and
/// Confluence `…/property[/{key}]` (versioned: POST creates, PUT needs the next version).
fn property(site: &FakeSite, method: &str, uri: &str, path: &str, body: &str) -> Response {
    let mut properties = site.properties.lock().expect("lock");
    let key = uri.to_owned();
    match method {
        "GET" => match properties.get(&key) {
            Some((value, version)) => json_response(
                StatusCode::OK,
                &json!({ "key": path.rsplit('/').next(), "value": value, "version": { "number": version } }),
            ),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({ "errorMessages": ["not found"] }),
            ),
        },
        "PUT" | "POST" => {
            let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let next_version = parsed["version"]["number"].clone();
            let confluence = path.starts_with("/wiki/");
            let (key, value) = if confluence {
                let name = parsed["key"].as_str().unwrap_or_default().to_owned();
                let key = if method == "POST" {
                    format!("{uri}/{name}")
                } else {
                    key
                };
                (key, parsed["value"].clone())
            } else {
                (key, parsed)
            };
            let version = properties.get(&key).map_or(0, |(_, version)| *version);
            if confluence && method == "PUT" && next_version != json!(version + 1) {
                return json_response(StatusCode::CONFLICT, &json!({ "message": "version" }));
            }
            properties.insert(key, (value, version + 1));
            json_response(StatusCode::OK, &json!({}))
        }
        "DELETE" => {
            properties.remove(&key);
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Body::empty())
                .unwrap_or_default()
        }
        _ => json_response(StatusCode::METHOD_NOT_ALLOWED, &json!({})),
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(value.to_string()))
        .unwrap_or_default()
}
