//! `clockwork run` against a fake Jira and Confluence (real HTTP servers on
//! 127.0.0.1): product requests and their credentials, `route`, `fetch`,
//! non-2xx answers, rate limits, a 12 MB body, and scheduled-job scripts as
//! people copy them from Forge apps and Script Master.

#![allow(clippy::unwrap_used)]

mod run_support;

use run_support::{
    API_TOKEN, BASIC, BEARER_TOKEN, EMAIL, Fake, Finished, HUGE_BYTES, Scratch, Site, bare_command,
    finish, log_messages,
};
use serde_json::{Value, json};

const PATH_MANIPULATION: &str = "Disallowing path manipulation attempt. For more information see: https://go.atlassian.com/product-fetch-api-route";
const ROUTE_REQUIRED: &str =
    "You must create your route using the 'route' export from '@forge/api'.";

/// Runs `script` with the fake's sites and credentials plus `extra` args.
fn run_on(fake: &Fake, scratch: &Scratch, script: &str, extra: &[&str]) -> (Value, Finished) {
    let mut args: Vec<String> = fake.site_args();
    args.extend(extra.iter().map(|arg| String::from(*arg)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    scratch.run_json("job.js", script, &args)
}

/// As `run_on`, asserting success; returns the result.
fn result_on(fake: &Fake, scratch: &Scratch, script: &str, extra: &[&str]) -> Value {
    let (report, finished) = run_on(fake, scratch, script, extra);
    assert_eq!(
        report["status"], "succeeded",
        "{report:#}\nstderr: {}",
        finished.stderr
    );
    assert_eq!(finished.code, 0);
    report["result"].clone()
}

/// `--params` carrying the fake's base URLs, for `fetch`.
fn urls(fake: &Fake) -> String {
    json!({"jira": fake.jira, "confluence": fake.confluence}).to_string()
}

// ---------------------------------------------------------------------------
// Product requests

#[test]
fn product_requests_go_to_their_site_with_the_app_credential() {
    let fake = Fake::start(3);
    let scratch = Scratch::new();
    let script = "import api, { route } from '@forge/api';\n\
        export async function run() {\n\
          const me = await api.asApp().requestJira(route`/rest/api/3/myself`);\n\
          const page = await api.asApp().requestConfluence(route`/wiki/api/v2/pages/${'1001'}?body-format=storage`);\n\
          const legacy = await api.requestConfluence(route`/wiki/rest/api/content/${1001}?expand=version`);\n\
          const posted = await api.asApp().requestJira(route`/rest/api/3/echo`, { method: 'POST', body: JSON.stringify({ a: 1 }) });\n\
          const typed = await api.requestJira(route`/rest/api/3/echo`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'plain' });\n\
          const echoed = await posted.json();\n\
          return { me: (await me.json()).accountId, page: (await page.json()).version.number, legacy: (await legacy.json()).version.number,\n\
                   posted: [echoed.headers['content-type'], echoed.body], typed: (await typed.json()).headers['content-type'] };\n\
        }";
    let (report, finished) = run_on(&fake, &scratch, script, &[]);
    assert_eq!(finished.code, 0, "{report:#}");
    assert_eq!(
        report["result"],
        json!({
            "me": "557058:bot",
            "page": 5,
            "legacy": 5,
            "posted": ["application/json", "{\"a\":1}"],
            "typed": "text/plain",
        })
    );
    let seen = fake.seen();
    let sites: Vec<(Site, &str)> = seen.iter().map(|s| (s.site, s.path.as_str())).collect();
    assert_eq!(
        sites,
        [
            (Site::Jira, "/rest/api/3/myself"),
            (Site::Confluence, "/wiki/api/v2/pages/1001"),
            (Site::Confluence, "/wiki/rest/api/content/1001"),
            (Site::Jira, "/rest/api/3/echo"),
            (Site::Jira, "/rest/api/3/echo"),
        ]
    );
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(BASIC))
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/json"),
        "product requests default to JSON"
    );

    let calls = report["http_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[0]["method"], "GET");
    assert_eq!(calls[0]["url"], format!("{}/rest/api/3/myself", fake.jira));
    assert_eq!(calls[0]["status"], 200);
    assert_eq!(
        calls[1]["url"],
        format!(
            "{}/wiki/api/v2/pages/1001?body-format=storage",
            fake.confluence
        )
    );
    assert!(!finished.all_output().contains(API_TOKEN));
}

#[test]
fn sites_and_credentials_come_from_the_environment_too() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    scratch.script(
        "env.js",
        "const page = await api.requestConfluence(route`/wiki/api/v2/pages/1001`);\n\
         const me = await api.requestJira(route`/rest/api/3/myself`);\n\
         return [page.status, me.status]",
    );
    let run = |credentials: &[(&str, &str)]| {
        let mut command = bare_command();
        command
            .current_dir(scratch.path())
            .env("CLOCKWORK_JIRA_URL", &fake.jira)
            .env("CLOCKWORK_DATA_DIR", scratch.data_dir())
            .envs(credentials.iter().copied())
            .args(["run", "--json", "env.js"]);
        let finished = finish(&mut command);
        assert!(!finished.all_output().contains(BEARER_TOKEN));
        finished.report()
    };
    let report = run(&[("CLOCKWORK_BEARER_TOKEN", BEARER_TOKEN)]);
    assert_eq!(report["result"], json!([200, 200]), "{report:#}");
    let report = run(&[
        ("CLOCKWORK_EMAIL", EMAIL),
        ("CLOCKWORK_API_TOKEN", API_TOKEN),
    ]);
    assert_eq!(report["result"], json!([200, 200]), "{report:#}");
    let seen = fake.seen();
    assert!(
        seen.iter().all(|s| s.site == Site::Jira),
        "without a Confluence URL, Confluence requests go to the Jira site"
    );
    let auth: Vec<&str> = seen
        .iter()
        .map(|s| s.header("authorization").unwrap())
        .collect();
    let bearer = format!("Bearer {BEARER_TOKEN}");
    assert_eq!(auth, [bearer.as_str(), &bearer, BASIC, BASIC]);
}

#[test]
fn non_2xx_answers_never_throw() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const missing = await api.asApp().requestJira(route`/rest/api/3/issue/${'OPS-999'}`);\n\
                  const found = await api.asApp().requestJira(route`/rest/api/3/issue/${'OPS-1'}`);\n\
                  return { missing: [missing.ok, missing.status, missing.statusText, await missing.json()], found: [found.ok, (await found.json()).key] }";
    assert_eq!(
        result_on(&fake, &scratch, script, &[]),
        json!({
            "missing": [false, 404, "Not Found", {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}],
            "found": [true, "OPS-1"],
        })
    );
    let wrong = "const me = await api.asApp().requestJira(route`/rest/api/3/myself`);\n\
                 return [me.ok, me.status, (await me.json())['status-code']]";
    let (report, finished) = scratch.run_json(
        "wrong.js",
        wrong,
        &[
            "--jira-url",
            &fake.jira,
            "--email",
            EMAIL,
            "--api-token",
            "wrong-token-777",
        ],
    );
    assert_eq!(report["result"], json!([false, 401, 401]));
    assert_eq!(finished.code, 0);
    assert!(!finished.all_output().contains("wrong-token-777"));
}

#[test]
fn rate_limited_requests_are_retried_honouring_retry_after() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const a = await api.asApp().requestJira(route`/rest/api/3/busy/a?times=${2}&retryAfter=${1}`);\n\
        const b = await api.asApp().requestJira(route`/rest/api/3/busy/b?times=${1}&status=${503}&retryAfter=${0}`);\n\
        const c = await api.asApp().requestJira(route`/rest/api/3/busy/c?times=${1}&reset=${'2000-01-01T00:00:00Z'}`);\n\
        const f = await fetch(`${context.params.jira}/open/busy/f?times=1&retryAfter=0`);\n\
        return [a.status, (await a.json()).answered, b.status, c.status, f.status]";
    let (report, finished) = run_on(&fake, &scratch, script, &["--params", &urls(&fake)]);
    assert_eq!(finished.code, 0, "{report:#}");
    assert_eq!(
        report["result"],
        json!([200, 3, 200, 200, 429]),
        "fetch is not retried"
    );
    let warnings: Vec<String> = report["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| line["level"] == "warn")
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    let busy_a = format!(
        "GET {}/rest/api/3/busy/a?times=2&retryAfter=1 answered 429 Too Many Requests;",
        fake.jira
    );
    assert!(warnings[0].starts_with(&busy_a), "{}", warnings[0]);
    assert!(
        warnings[0].contains("retry 1 of 4") && warnings[0].ends_with("(Retry-After)"),
        "{}",
        warnings[0]
    );
    assert!(warnings[1].contains("retry 2 of 4"), "{}", warnings[1]);
    assert!(
        warnings[2].contains("answered 503 Service Unavailable; retry 1 of 4"),
        "{}",
        warnings[2]
    );
    assert!(
        warnings[3].ends_with("(X-RateLimit-Reset)"),
        "{}",
        warnings[3]
    );
    assert_eq!(fake.seen_under("/rest/api/3/busy/a").len(), 3);
    assert_eq!(fake.seen_under("/open/busy/f").len(), 1);
    let calls = report["http_calls"].as_array().unwrap();
    assert_eq!(calls[0]["retries"], 2);
}

#[test]
fn retries_stop_after_four_and_never_wait_past_the_deadline() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const r = await api.asApp().requestJira(route`/rest/api/3/busy/always?times=${100}&retryAfter=${0}`);\n\
                  return [r.status, await r.text()]";
    let (report, _) = run_on(&fake, &scratch, script, &[]);
    assert_eq!(report["result"], json!([429, "rate limited"]));
    assert_eq!(
        fake.seen_under("/rest/api/3/busy/always").len(),
        5,
        "one call and 4 retries"
    );
    assert_eq!(log_messages(&report).len(), 4);

    let script = "const r = await api.asApp().requestJira(route`/rest/api/3/busy/later?times=${1}&retryAfter=${3600}`);\n\
                  return r.status";
    let (report, finished) = run_on(&fake, &scratch, script, &["--timeout", "30s"]);
    assert_eq!(finished.code, 0);
    assert_eq!(
        report["result"], 429,
        "an hour's wait would pass the deadline: the script gets the 429"
    );
    assert_eq!(fake.seen_under("/rest/api/3/busy/later").len(), 1);
}

#[test]
fn a_12_mb_response_is_read_whole_and_counts_against_memory() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const r = await api.asApp().requestJira(route`/rest/api/3/huge`);\n\
                  const body = await r.json();\n\
                  return body.data.length";
    let (report, finished) = run_on(&fake, &scratch, script, &[]);
    assert_eq!(finished.code, 0, "{}", finished.stderr);
    assert_eq!(report["result"], HUGE_BYTES - 11);
    assert_eq!(report["http_calls"][0]["response_size"], HUGE_BYTES);

    let (report, finished) = run_on(&fake, &scratch, script, &["--memory-limit", "16"]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"]["message"], "memory limit exceeded (16 MiB)");
}

#[test]
fn as_user_and_authorize_fail_without_a_user_and_send_nothing() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const errors = [];\n\
        try { await api.asUser().requestJira(route`/rest/api/3/myself`) } catch (e) { errors.push(e.message) }\n\
        try { await api.asUser('557058:someone').requestConfluence(route`/wiki/api/v2/pages/1001`) } catch (e) { errors.push(e.message) }\n\
        try { authorize() } catch (e) { errors.push(e.message) }\n\
        return errors";
    let no_user = "asUser(): there is no user context. Scheduled and queued runs have no user; give the job a run-as credential, or use asApp()";
    assert_eq!(
        result_on(&fake, &scratch, script, &[]),
        json!([
            no_user,
            no_user,
            "authorize() needs a user context; scheduled and queued runs have none (as on Forge)"
        ])
    );
    assert!(fake.seen().is_empty(), "nothing was sent");

    let uncaught = "import api, { route } from '@forge/api';\n\nconst me = await api.asUser().requestJira(route`/rest/api/3/myself`);";
    let (report, finished) = run_on(&fake, &scratch, uncaught, &[]);
    assert_eq!(finished.code, 1);
    assert_eq!(report["error"]["message"], format!("Error: {no_user}"));
    assert_eq!(report["error"]["line"], 3);
    assert_eq!(report["http_calls"], json!([]));
}

#[test]
fn requests_without_a_site_credential_or_bitbucket_fail_clearly() {
    let scratch = Scratch::new();
    let script = "const errors = [];\n\
        for (const call of [() => api.requestJira(route`/rest/api/3/myself`), () => api.requestConfluence(route`/wiki/api/v2/pages`),\n\
                            () => api.requestBitbucket(route`/2.0/repositories`)]) {\n\
          try { await call() } catch (e) { errors.push(e.message) }\n\
        }\n\
        return errors";
    assert_eq!(
        scratch.result(script, &[]),
        json!([
            "requestJira: no Jira site is configured in Clockwork: add one in the web UI (Settings → Sites), in clockwork.toml ([site] jira_url), or with `clockwork run --jira-url`",
            "requestConfluence: no Confluence (or Jira) site is configured in Clockwork: add one in the web UI (Settings → Sites), in clockwork.toml ([site] confluence_url or jira_url), or with `clockwork run --confluence-url`",
            "requestBitbucket: Clockwork has no Bitbucket site; use fetch() with the Bitbucket API URL",
        ])
    );
    let fake = Fake::start(1);
    let no_credential =
        "try { await api.requestJira(route`/rest/api/3/myself`) } catch (e) { return e.message }";
    assert_eq!(
        scratch.result(no_credential, &["--jira-url", &fake.jira]),
        json!("asApp(): no app credential is configured for the site")
    );
    assert!(fake.seen().is_empty());
}

// ---------------------------------------------------------------------------
// route, fetch, bodies and responses

#[test]
fn route_follows_every_rule_of_the_contract() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let cases = [
        (
            "route`/rest/api/3/issue/${'OPS-1'}`",
            json!({"ok": "/rest/api/3/issue/OPS-1"}),
        ),
        (
            "route`/x/${'a b'}/${':'}/${'&'}/${'é'}/${10001}`",
            json!({"ok": "/x/a b/:/&/é/10001"}),
        ),
        ("route`/x/${'v1.2'}`", json!({"ok": "/x/v1.2"})),
        ("route`/a/${route`b/c`}`", json!({"ok": "/a/b/c"})),
        (
            "route`/s?jql=${'project = \"OPS\" AND x ~ a&b'}`",
            json!({"ok": "/s?jql=project%20%3D%20%22OPS%22%20AND%20x%20~%20a%26b"}),
        ),
        (
            "route`/s?next=${route`/a/b?c=d`}`",
            json!({"ok": "/s?next=%2Fa%2Fb%3Fc%3Dd"}),
        ),
        ("route`/p#${'a b'}`", json!({"ok": "/p#a%20b"})),
        (
            "route`/p/${'x'}?q=${'a/b'}&r=${'..'}`",
            json!({"ok": "/p/x?q=a%2Fb&r=.."}),
        ),
        (
            "assumeTrustedRoute('/any/../thing?x=1 2')",
            json!({"ok": "/any/../thing?x=1 2"}),
        ),
        (
            "routeFromAbsolute('https://acme.atlassian.net/rest/api/3/search?jql=a%20b')",
            json!({"ok": "/rest/api/3/search?jql=a%20b"}),
        ),
        ("route`/x/${'a/b'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'a\\\\b'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'a?b'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'a#b'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'v1..2'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'.%2e'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'%2e.'}`", json!({"error": PATH_MANIPULATION})),
        ("route`/x/${'%2E%2e'}`", json!({"error": PATH_MANIPULATION})),
        (
            "api.requestJira('/rest/api/3/myself')",
            json!({"error": ROUTE_REQUIRED}),
        ),
        (
            "api.asApp().requestConfluence('/wiki/api/v2/pages')",
            json!({"error": ROUTE_REQUIRED}),
        ),
        (
            "api.requestJira({ value: '/rest/api/3/myself' })",
            json!({"error": ROUTE_REQUIRED}),
        ),
    ];
    let expressions: Vec<String> = cases
        .iter()
        .map(|(expression, _)| {
            format!(
                "await (async () => {{ try {{ const v = await ({expression}); return {{ ok: v.value }} }} catch (e) {{ return {{ error: e.message }} }} }})()"
            )
        })
        .collect();
    let script = format!(
        "import api, {{ route, assumeTrustedRoute, routeFromAbsolute }} from '@forge/api';\n\
         export async function run() {{\n  return [\n{}\n  ];\n}}",
        expressions.join(",\n")
    );
    let results = result_on(&fake, &scratch, &script, &[]);
    for ((expression, expected), actual) in cases.iter().zip(results.as_array().unwrap()) {
        assert_eq!(actual, expected, "{expression}");
    }
    assert!(fake.seen().is_empty(), "refused routes send nothing");

    // On the wire: raw path pieces (the URL parser escapes the space),
    // query values encoded by route.
    let sent = "await api.asApp().requestJira(route`/rest/api/3/echo/${'OPS 1:a&b'}/comment?expand=${'a b&c'}`)";
    result_on(&fake, &scratch, sent, &[]);
    assert_eq!(
        fake.seen()[0].uri,
        "/rest/api/3/echo/OPS%201:a&b/comment?expand=a%20b%26c"
    );
}

#[test]
fn fetch_carries_no_product_credential_and_redirects_drop_authorization() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const { jira } = context.params;\n\
        const plain = await (await fetch(`${jira}/open/echo`, { method: 'POST', body: 'x=1' })).json();\n\
        const moved = await fetch(`${jira}/open/redirect-to-confluence`, { headers: { Authorization: 'Bearer hand-made' } });\n\
        const product = await api.asApp().requestJira(route`/rest/api/3/redirect-to-confluence`);\n\
        return { plain: [plain.headers.authorization ?? null, plain.headers['content-type'] === 'application/json'],\n\
                 moved: [moved.status, moved.url.endsWith('/open/landing')], product: product.status }";
    let result = result_on(&fake, &scratch, script, &["--params", &urls(&fake)]);
    assert_eq!(
        result,
        json!({"plain": [null, false], "moved": [200, true], "product": 200})
    );
    let seen = fake.seen();
    let redirect_hops: Vec<(Site, &str, Option<&str>)> = seen
        .iter()
        .filter(|s| s.path != "/open/echo")
        .map(|s| (s.site, s.path.as_str(), s.header("authorization")))
        .collect();
    assert_eq!(
        redirect_hops,
        [
            (
                Site::Jira,
                "/open/redirect-to-confluence",
                Some("Bearer hand-made")
            ),
            (Site::Confluence, "/open/landing", None),
            (
                Site::Jira,
                "/rest/api/3/redirect-to-confluence",
                Some(BASIC)
            ),
            (Site::Confluence, "/open/landing", None),
        ]
    );
}

#[test]
fn bodies_and_the_response_api() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const send = async (body) => (await (await api.asApp().requestJira(route`/rest/api/3/echo`, { method: 'PUT', body })).json()).body;\n\
        const text = await send('{\"a\":1}');\n\
        const buffer = await send(new Uint8Array([104, 105]).buffer);\n\
        const typed = await send(new Uint8Array([111, 107]));\n\
        let objectBody; try { await send({ a: 1 }) } catch (e) { objectBody = e.name + ': ' + e.message }\n\
        const r = await api.asApp().requestJira(route`/rest/api/3/issue/OPS-1`);\n\
        const names = []; r.headers.forEach((value, name) => names.push(name));\n\
        const bytes = (await r.arrayBuffer()).byteLength;\n\
        let again; try { await r.text() } catch (e) { again = e.name }\n\
        return { text, buffer, typed, objectBody, status: [r.ok, r.status, r.statusText], type: r.headers.get('Content-Type'),\n\
                 has: [r.headers.has('content-type'), r.headers.has('x-nope')], listed: names.includes('content-type'), bytes: bytes > 50, again }";
    assert_eq!(
        result_on(&fake, &scratch, script, &[]),
        json!({
            "text": "{\"a\":1}",
            "buffer": "hi",
            "typed": "ok",
            "objectBody": "TypeError: body must be a string, ArrayBuffer, typed array or URLSearchParams; to send an object, pass JSON.stringify(object)",
            "status": [true, 200, "OK"],
            "type": "application/json",
            "has": [true, false],
            "listed": true,
            "bytes": true,
            "again": "TypeError",
        })
    );
    assert_eq!(
        fake.seen_under("/rest/api/3/echo").len(),
        3,
        "the object body was never sent"
    );
}

#[test]
fn url_search_params_in_routes_and_bodies() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "const params = new URLSearchParams({ jql: 'project = OPS', maxResults: '50' });\n\
        const value = route`/rest/api/3/search/jql?${params}`.value;\n\
        const echoed = await (await api.asApp().requestJira(route`/rest/api/3/echo`, { method: 'POST', body: params })).json();\n\
        return [value, echoed.body]";
    assert_eq!(
        result_on(&fake, &scratch, script, &[]),
        json!([
            "/rest/api/3/search/jql?jql=project+%3D+OPS&maxResults=50",
            "jql=project+%3D+OPS&maxResults=50"
        ])
    );
}

// ---------------------------------------------------------------------------
// Scheduled jobs as they are written for Script Master and Forge

/// Script Master's scheduled-job editor: a plain body, with the import line
/// people paste. Searches with `nextPageToken` pages, then bulk-edits.
const LABEL_STALE_ISSUES: &str = r#"import api, { route } from '@forge/api';

// Label every stale OPS issue so the weekly triage finds them.
const jql = 'project = OPS AND statusCategory != Done AND updated < -30d';
const keys = [];
let nextPageToken;
do {
  const response = await api.asApp().requestJira(route`/rest/api/3/search/jql`, {
    method: 'POST',
    headers: { 'Accept': 'application/json' },
    body: JSON.stringify({ jql, fields: ['summary', 'labels'], maxResults: 3, nextPageToken }),
  });
  if (!response.ok) {
    throw new Error(`Search failed: ${response.status} ${await response.text()}`);
  }
  const page = await response.json();
  keys.push(...page.issues.map((issue) => issue.key));
  nextPageToken = page.nextPageToken;
} while (nextPageToken);
console.log(`Found ${keys.length} stale issues`);
if (keys.length === 0) {
  return { edited: 0 };
}

const edit = await api.asApp().requestJira(route`/rest/api/3/bulk/issues/fields`, {
  method: 'POST',
  headers: { 'Accept': 'application/json', 'Content-Type': 'application/json' },
  body: JSON.stringify({
    selectedIssueIdsOrKeys: keys,
    selectedActions: ['labels'],
    editedFieldsInput: {
      labelsFields: [{ fieldId: 'labels', bulkEditMultiSelectFieldOption: 'ADD', labels: [{ name: 'stale' }] }],
    },
    sendBulkNotification: false,
  }),
});
if (edit.status !== 201) {
  throw new Error(`Bulk edit failed: ${edit.status} ${await edit.text()}`);
}
const { taskId } = await edit.json();
const progress = await api.asApp().requestJira(route`/rest/api/3/bulk/queue/${taskId}`);
const task = await progress.json();
console.log(`Bulk edit task ${taskId}: ${task.status}`);
return { edited: keys.length, taskId, status: task.status };
"#;

#[test]
fn script_master_job_searches_every_page_then_bulk_edits() {
    let fake = Fake::start(7);
    let scratch = Scratch::new();
    let (report, finished) = run_on(&fake, &scratch, LABEL_STALE_ISSUES, &[]);
    assert_eq!(finished.code, 0, "{report:#}");
    assert_eq!(
        report["result"],
        json!({"edited": 7, "taskId": "10641", "status": "COMPLETE"})
    );
    assert_eq!(
        log_messages(&report),
        ["Found 7 stale issues", "Bulk edit task 10641: COMPLETE"]
    );
    let searches = fake.seen_under("/rest/api/3/search/jql");
    let tokens: Vec<Value> = searches
        .iter()
        .map(|s| s.json()["nextPageToken"].clone())
        .collect();
    assert_eq!(
        tokens,
        [Value::Null, json!("page-after-3"), json!("page-after-6")]
    );
    assert!(
        searches
            .iter()
            .all(|s| s.json()["jql"]
                == "project = OPS AND statusCategory != Done AND updated < -30d")
    );
    let edits = fake.seen_under("/rest/api/3/bulk/issues/fields");
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].json()["selectedIssueIdsOrKeys"],
        json!([
            "OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5", "OPS-6", "OPS-7"
        ])
    );
    assert_eq!(report["http_calls"].as_array().unwrap().len(), 5);

    // The same script, in human form: logs, then the result.
    scratch.script("label-stale.js", LABEL_STALE_ISSUES);
    let mut command = scratch.command();
    command.args(fake.site_args()).arg("label-stale.js");
    let human = finish(&mut command);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human.stderr.contains("INFO  Found 7 stale issues\n"),
        "{}",
        human.stderr
    );
    assert!(human.stderr.contains("succeeded in "), "{}", human.stderr);
    assert!(
        human.stderr.contains(", 5 HTTP calls\n"),
        "{}",
        human.stderr
    );
    let result: Value = serde_json::from_str(&human.stdout).unwrap();
    assert_eq!(result["edited"], 7);
}

/// A Forge app's scheduled trigger handler, unchanged: reads a page and
/// writes it back with the next version number.
const UPDATE_REPORT_PAGE: &str = r#"import api, { route } from '@forge/api';

export async function handler(event, context) {
  const pageId = '1001';
  const current = await api.asApp().requestConfluence(route`/wiki/api/v2/pages/${pageId}?body-format=storage`, {
    headers: { 'Accept': 'application/json' },
  });
  if (!current.ok) {
    throw new Error(`Cannot read page ${pageId}: ${current.status}`);
  }
  const page = await current.json();
  const stamp = `<p>Refreshed by ${event.context.moduleKey}</p>`;
  const response = await api.asApp().requestConfluence(route`/wiki/api/v2/pages/${pageId}`, {
    method: 'PUT',
    headers: { 'Accept': 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({
      id: pageId,
      status: 'current',
      title: page.title,
      body: { representation: 'storage', value: page.body.storage.value + stamp },
      version: { number: page.version.number + NEXT, message: 'Scheduled refresh' },
    }),
  });
  if (!response.ok) {
    throw new Error(`Update of page ${pageId} failed: ${response.status} ${await response.text()}`);
  }
  const updated = await response.json();
  console.log(`Page ${pageId} is now at version ${updated.version.number}`);
  return { version: updated.version.number };
}
"#;

#[test]
fn forge_trigger_updates_a_confluence_page_with_the_next_version() {
    let fake = Fake::start(0);
    let scratch = Scratch::new();
    let script = UPDATE_REPORT_PAGE.replace("NEXT", "1");
    let args: Vec<String> = fake.site_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (first, _) = scratch.run_json("weekly-report.js", &script, &args);
    assert_eq!(first["result"], json!({"version": 6}), "{first:#}");
    let (second, _) = scratch.run_json("weekly-report.js", &script, &args);
    assert_eq!(second["result"], json!({"version": 7}));
    assert_eq!(log_messages(&second), ["Page 1001 is now at version 7"]);
    let page = fake.page("1001");
    assert_eq!(page.version, 7);
    assert_eq!(
        page.body,
        "<p>old</p><p>Refreshed by weekly-report</p><p>Refreshed by weekly-report</p>"
    );
    let puts: Vec<Value> = fake
        .seen()
        .iter()
        .filter(|s| s.method == "PUT")
        .map(|s| s.json()["version"]["number"].clone())
        .collect();
    assert_eq!(puts, [json!(6), json!(7)]);

    // Forgetting the increment: Confluence answers 409, the script throws.
    let stale = UPDATE_REPORT_PAGE.replace("NEXT", "0");
    let (report, finished) = scratch.run_json("weekly-report.js", &stale, &args);
    assert_eq!(finished.code, 1);
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error: Update of page 1001 failed: 409 "),
        "{message}"
    );
    assert_eq!(report["error"]["line"], 25);
    assert_eq!(fake.page("1001").version, 7);
}

/// A Forge scheduled trigger that works through a search a few pages per
/// run and keeps its place in `@forge/kvs`.
const SYNC_WITH_CHECKPOINT: &str = r#"import api, { route } from '@forge/api';
import { kvs } from '@forge/kvs';

const CHECKPOINT = 'ops-sync:checkpoint';
const jql = 'project = OPS ORDER BY key';

export async function run(event, context) {
  const saved = await kvs.get(CHECKPOINT);
  if (saved?.done) {
    return { processed: 0, total: saved.total, done: true };
  }
  let token = saved?.nextPageToken;
  let processed = 0;
  for (let page = 0; page < context.params.pagesPerRun; page++) {
    const response = await api.asApp().requestJira(token
      ? route`/rest/api/3/search/jql?jql=${jql}&maxResults=${2}&fields=${'summary'}&nextPageToken=${token}`
      : route`/rest/api/3/search/jql?jql=${jql}&maxResults=${2}&fields=${'summary'}`);
    if (!response.ok) {
      throw new Error(`Search failed: ${response.status}`);
    }
    const result = await response.json();
    for (const issue of result.issues) {
      console.log(`processing ${issue.key}`);
      processed++;
    }
    token = result.nextPageToken;
    if (!token) break;
  }
  const total = (saved?.total ?? 0) + processed;
  await kvs.set(CHECKPOINT, token ? { nextPageToken: token, total } : { done: true, total });
  return { processed, total, done: !token };
}
"#;

#[test]
fn a_storage_checkpoint_carries_a_job_from_one_run_to_the_next() {
    let fake = Fake::start(7);
    let scratch = Scratch::new();
    let params = ["--params", r#"{"pagesPerRun": 2}"#];
    let first = result_on(&fake, &scratch, SYNC_WITH_CHECKPOINT, &params);
    assert_eq!(first, json!({"processed": 4, "total": 4, "done": false}));
    let second = result_on(&fake, &scratch, SYNC_WITH_CHECKPOINT, &params);
    assert_eq!(second, json!({"processed": 3, "total": 7, "done": true}));
    let third = result_on(&fake, &scratch, SYNC_WITH_CHECKPOINT, &params);
    assert_eq!(third, json!({"processed": 0, "total": 7, "done": true}));
    let uris: Vec<String> = fake
        .seen_under("/rest/api/3/search/jql")
        .iter()
        .map(|s| s.uri.clone())
        .collect();
    let base = "/rest/api/3/search/jql?jql=project%20%3D%20OPS%20ORDER%20BY%20key&maxResults=2&fields=summary";
    assert_eq!(
        uris,
        [
            base.to_owned(),
            format!("{base}&nextPageToken=page-after-2"),
            format!("{base}&nextPageToken=page-after-4"),
            format!("{base}&nextPageToken=page-after-6"),
        ]
    );
    let checkpoint = scratch.result("return await kvs.get('ops-sync:checkpoint')", &[]);
    assert_eq!(checkpoint, json!({"done": true, "total": 7}));
}

#[test]
fn credentials_never_appear_in_any_output() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let with_userinfo = fake
        .jira
        .replace("http://", "http://someone:url-secret-42@");
    let script = "const me = await api.asApp().requestJira(route`/rest/api/3/myself`);\n\
                  console.log('status', me.status);\n\
                  throw new Error('failing after a call')";
    scratch.script("leaky.js", script);
    for json in [true, false] {
        let mut command = scratch.command();
        if json {
            command.arg("--json");
        }
        command
            .args([
                "--jira-url",
                &with_userinfo,
                "--email",
                EMAIL,
                "--api-token",
                "tok-SECRET-1234",
                "leaky.js",
            ])
            .env("CLOCKWORK_BEARER_TOKEN", "");
        let finished = finish(&mut command);
        assert_eq!(finished.code, 1, "{}", finished.stderr);
        let output = finished.all_output();
        for secret in ["tok-SECRET-1234", "url-secret-42", "Basic "] {
            assert!(!output.contains(secret), "{secret} in {output}");
        }
        assert!(output.contains("failing after a call"));
    }
}

// ---------------------------------------------------------------------------
// Credentials off the command line

#[test]
fn tokens_come_from_files_and_only_an_argument_draws_a_warning() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let api_token_file = scratch.script("api-token", &format!("{API_TOKEN}\n"));
    let bearer_file = scratch.script("bearer", BEARER_TOKEN);
    let api_token_file = api_token_file.to_str().unwrap();
    let bearer_file = bearer_file.to_str().unwrap();
    let script = "const me = await api.requestJira(route`/rest/api/3/myself`);\nreturn me.status";
    const WARNING: &str = "puts the secret where every user of this machine can read it";
    let jira = ["--jira-url", fake.jira.as_str()];

    let mut file = jira.to_vec();
    file.extend(["--email", EMAIL, "--api-token-file", api_token_file]);
    let (report, finished) = scratch.run_json("a.js", script, &file);
    assert_eq!(report["result"], 200, "{report:#}");
    assert!(!finished.stderr.contains(WARNING), "{}", finished.stderr);

    let mut bearer = jira.to_vec();
    bearer.extend(["--bearer-token-file", bearer_file]);
    let (report, _) = scratch.run_json("b.js", script, &bearer);
    assert_eq!(report["result"], 200, "{report:#}");

    let mut argument = jira.to_vec();
    argument.extend(["--email", EMAIL, "--api-token", API_TOKEN]);
    let (report, finished) = scratch.run_json("c.js", script, &argument);
    assert_eq!(report["result"], 200, "{report:#}");
    assert!(
        finished.stderr.contains(&format!(
            "warning: --api-token {WARNING} (the process list); use --api-token-file PATH or the CLOCKWORK_API_TOKEN variable instead"
        )),
        "{}",
        finished.stderr
    );
    assert!(!finished.all_output().contains(API_TOKEN));

    scratch.script("d.js", script);
    let from_env = finish(
        scratch
            .command()
            .env("CLOCKWORK_API_TOKEN", API_TOKEN)
            .args(["--json", "--email", EMAIL])
            .args(jira)
            .arg("d.js"),
    );
    assert_eq!(from_env.report()["result"], 200);
    assert!(!from_env.stderr.contains(WARNING), "{}", from_env.stderr);

    let both = finish(
        scratch
            .command()
            .args(jira)
            .args(["--email", EMAIL, "--api-token", API_TOKEN])
            .args(["--api-token-file", api_token_file, "d.js"]),
    );
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(
        both.stderr
            .contains("give --api-token or --api-token-file, not both"),
        "{}",
        both.stderr
    );

    let auth: Vec<String> = fake
        .seen()
        .iter()
        .map(|s| s.header("authorization").unwrap().to_owned())
        .collect();
    let bearer = format!("Bearer {BEARER_TOKEN}");
    assert_eq!(auth, [BASIC, &bearer, BASIC, BASIC]);
}
