//! Secrets a run has read — storage secrets and its site credentials — are
//! masked as `***` in its log, result, error and HTTP call records, also
//! when split over two log lines or base64-encoded in a header the script
//! built.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use common::{messages, run_spec};
use runtime::{Credential, RunSpec, RunStatus, Sites};

const STORED: &str = "sup3r-s3cret-value";
const SITE_TOKEN: &str = "site-api-token-123";

fn spec(script: &str) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.sites = Sites {
        jira_url: Some("http://127.0.0.1:9".into()),
        confluence_url: None,
        cloud_id: None,
        app: Some(Credential::Basic {
            email: "bot@acme.com".into(),
            api_token: SITE_TOKEN.into(),
        }),
        user: None,
    };
    spec.services.http = Some(egress::Client::new(egress::Policy::default()).unwrap());
    spec
}

fn assert_clean(text: &str) {
    for secret in [STORED, SITE_TOKEN, "sup3r-s3", "cret-value"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_secret_never_leaves_the_run() {
    let script = format!(
        "import {{ kvs }} from '@forge/kvs';\n\
         await kvs.setSecret('x', '{STORED}');\n\
         const s = await kvs.getSecret('x');\n\
         console.log('the secret is', s);\n\
         console.log('first half: ' + s.slice(0, 8));\n\
         console.log(s.slice(8) + ' was the rest');\n\
         console.log('Authorization: Basic ' + btoa('me@example.com:' + s));\n\
         console.log({{ nested: {{ s }} }});\n\
         try {{ await fetch('http://127.0.0.1:9/x?token=' + s); }} catch (e) {{ console.log(e.message); }}\n\
         return {{ s, [s]: 1 }};"
    );
    let outcome = run_spec(spec(&script)).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let logs = messages(&outcome);
    assert_eq!(logs[0], "the secret is ***");
    assert_eq!(logs[1], "first half: ***");
    assert_eq!(logs[2], "*** was the rest");
    assert!(logs[3].starts_with("Authorization: Basic "), "{}", logs[3]);
    for line in &logs {
        assert_clean(line);
    }
    let result = outcome.result.to_string();
    assert_clean(&result);
    assert_eq!(outcome.result, serde_json::json!({"s": "***", "***": 1}));
    let calls = serde_json::to_string(&outcome.http_calls).unwrap();
    assert!(
        calls.contains("token=***") || calls.contains("REDACTED"),
        "{calls}"
    );
    assert_clean(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_credentials_are_masked_in_errors_too() {
    let script = format!(
        "console.log('token {SITE_TOKEN}');\n\
         throw new Error('leaked {SITE_TOKEN}');"
    );
    let outcome = run_spec(spec(&script)).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.clone().unwrap();
    assert_eq!(error.message, "Error: leaked ***");
    assert_clean(&format!("{error:?}"));
    assert_eq!(messages(&outcome), ["token ***"]);
}
