//! `clockwork run` with scripts as people copy them from Forge apps and
//! Script Master (issue 11): the handler a manifest names, the console
//! bridge, CommonJS with `require`, the Node surface with `process.env`
//! from `--env` (secrets from the data directory), `@forge/resolver`
//! consumers, and the failure messages — against the fake Jira.

#![allow(clippy::unwrap_used)]

mod run_support;

use run_support::{BASIC, Fake, Scratch, finish};
use serde_json::{Value, json};

fn run_on(fake: &Fake, scratch: &Scratch, name: &str, script: &str, extra: &[&str]) -> Value {
    let mut args: Vec<String> = fake.site_args();
    args.extend(extra.iter().map(|arg| String::from(*arg)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (report, finished) = scratch.run_json(name, script, &args);
    let expected_code = if report["status"] == "succeeded" {
        0
    } else {
        1
    };
    assert_eq!(
        finished.code, expected_code,
        "{report:#}\n{}",
        finished.stderr
    );
    report
}

#[test]
fn the_handler_a_manifest_names_runs_with_the_scheduled_event() {
    let fake = Fake::start(0);
    let scratch = Scratch::new();
    let script = "import api, { route } from '@forge/api';\n\
                  export const run = async () => 'not me';\n\
                  export const trigger = async (event) => {\n\
                    const me = await api.asApp().requestJira(route`/rest/api/3/myself`);\n\
                    return [event.context.moduleKey, me.status];\n\
                  };";
    let report = run_on(
        &fake,
        &scratch,
        "nightly-sync.js",
        script,
        &["--handler", "trigger"],
    );
    assert_eq!(report["result"], json!(["nightly-sync", 200]));
    let report = run_on(
        &fake,
        &scratch,
        "nightly-sync.js",
        script,
        &["--handler", "missing"],
    );
    assert_eq!(report["status"], "failed");
    assert_eq!(
        report["error"]["message"],
        "TypeError: the module exports no function named 'missing'; its exports: run, trigger"
    );
    let only = run_on(
        &fake,
        &scratch,
        "t.js",
        "export const trigger = async () => 'ran';",
        &[],
    );
    assert_eq!(only["result"], "ran");
}

#[test]
fn script_masters_console_bridge_takes_plain_paths() {
    let fake = Fake::start(0);
    let scratch = Scratch::new();
    let report = run_on(
        &fake,
        &scratch,
        "console.js",
        "return (await requestJira('/rest/api/3/myself')).status;",
        &[],
    );
    assert_eq!(report["result"], 200);
    assert_eq!(report["http_calls"].as_array().unwrap().len(), 1);
    let seen = fake.seen_under("/rest/api/3/myself");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some(BASIC));
    let report = run_on(
        &fake,
        &scratch,
        "console.js",
        "return (await requestJira('https://evil.test/rest/api/3/myself')).status;",
        &[],
    );
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("TypeError: requestJira takes a path relative to the Jira site"),
        "{report:#}"
    );
}

#[test]
fn commonjs_with_require_and_process_env_from_env_flags_and_secrets() {
    let fake = Fake::start(0);
    let scratch = Scratch::new();
    let stored = run_on(
        &fake,
        &scratch,
        "setup.js",
        "await storage.setSecret('webhook-key', 'Jefe'); return 'stored';",
        &[],
    );
    assert_eq!(stored["result"], "stored");
    let script = "const api = require('@forge/api');\n\
                  const crypto = require('node:crypto');\n\
                  module.exports.handler = async () => {\n\
                    const me = await api.asApp().requestJira(api.route`/rest/api/3/myself`);\n\
                    const signature = crypto.createHmac('sha256', process.env.WEBHOOK_KEY).update('what do ya want for nothing?').digest('hex');\n\
                    return [process.env.REGION, signature, me.ok, process.env.HOME];\n\
                  };";
    let report = run_on(
        &fake,
        &scratch,
        "cjs.js",
        script,
        &[
            "--env",
            "REGION=eu",
            "--env",
            "WEBHOOK_KEY=secret:webhook-key",
        ],
    );
    assert_eq!(
        report["result"],
        json!([
            "eu",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            true,
            null
        ]),
        "{report:#}"
    );
    let report = run_on(
        &fake,
        &scratch,
        "cjs.js",
        "return process.env.X",
        &["--env", "X=secret:nope"],
    );
    assert_eq!(
        report["error"]["message"],
        "process.env.X names the secret 'nope', which is not set \
         (set it with storage.setSecret('nope', value) or the secrets API)"
    );
    scratch.script("x.js", "return 1");
    let finished = finish(scratch.command().args(["--env", "NOEQUALS", "x.js"]));
    assert_eq!(finished.code, 2, "{}", finished.stderr);
    assert!(
        finished.stderr.contains("expected NAME=VALUE"),
        "{}",
        finished.stderr
    );
}

#[test]
fn resolver_consumers_and_refused_modules() {
    let fake = Fake::start(0);
    let scratch = Scratch::new();
    let script = "import Resolver from '@forge/resolver';\n\
                  const resolver = new Resolver();\n\
                  resolver.define('event-listener', async ({ payload, context }) => payload.context.moduleKey + ':' + context.job.name);\n\
                  export const handler = resolver.getDefinitions();";
    let report = run_on(&fake, &scratch, "listener.js", script, &[]);
    assert_eq!(report["result"], "listener:listener");
    let report = run_on(
        &fake,
        &scratch,
        "fs.js",
        "import fs from 'node:fs';\nexport const run = () => fs.readFileSync('/etc/passwd');",
        &[],
    );
    assert_eq!(report["status"], "failed");
    assert_eq!(
        report["error"]["message"],
        "Cannot import 'node:fs': it is not available in Clockwork's sandbox \
         (scripts have no files, sockets, processes or host information)"
    );
    assert_eq!(report["error"]["line"], 1);
}

#[test]
fn errors_read_as_node_prints_them() {
    let fake = Fake::start(1);
    let scratch = Scratch::new();
    let script = "import api, { route } from '@forge/api';\n\
                  const summary = (issue) => issue.fields.summary;\n\
                  export async function run() {\n\
                    const response = await api.asApp().requestJira(route`/rest/api/3/issue/OPS-1`);\n\
                    const issue = await response.json();\n\
                    return summary(issue.fields.parent);\n\
                  }";
    let report = run_on(&fake, &scratch, "nightly-sync.js", script, &[]);
    assert_eq!(report["status"], "failed");
    assert_eq!(
        report["error"]["message"],
        "TypeError: Cannot read properties of undefined (reading 'fields')"
    );
    assert_eq!(
        report["error"]["stack"],
        "TypeError: Cannot read properties of undefined (reading 'fields')\n    \
         at summary (nightly-sync.js:2:28)\n    at run (nightly-sync.js:6:16)"
    );
    assert_eq!(fake.seen_under("/rest/api/3/issue/OPS-1").len(), 1);

    let report = run_on(
        &fake,
        &scratch,
        "weekly.ts",
        "const limit: number = 3;\nlimit = 4;\nreturn limit;",
        &[],
    );
    assert_eq!(
        report["error"]["message"],
        "TypeError: Assignment to constant variable."
    );
    assert_eq!(
        report["error"]["stack"],
        "TypeError: Assignment to constant variable.\n    at weekly.ts:3:8"
    );
}
