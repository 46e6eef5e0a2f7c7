//! End to end on real `clockwork serve` processes, SQLite and PostgreSQL
//! (issue 11): jobs written as Forge apps write them — a manifest's
//! `handler`, `process.env` from the job's `env` with a stored secret, a
//! CommonJS module, a `@forge/resolver` queue consumer pushed with a
//! fractional delay — saved through the API (a missing handler is refused on
//! save, listing the exports) and run unchanged.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::time::Duration;

use serde_json::json;
use support::{
    e2e::{Api, Database, on_both_databases, start},
    wait_for,
};

fn forge_shaped_jobs_run_unchanged(database: &Database) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), database, None);
    let api = Api::new(&server);

    // A missing handler is a save-time error on `handler`, listing the exports.
    let (status, _, problem) = api.call(
        "POST",
        "/jobs",
        Some(json!({"name": "bad", "handler": "trigger", "script": "export const run = () => 1;\nexport const sync = () => 2;"})),
    );
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "handler", "{problem}");
    assert_eq!(
        problem["errors"][0]["message"],
        "the module exports no function named 'trigger'; its exports: run, sync",
        "{problem}"
    );

    let jobs = [
        json!({"name": "setup", "script": "await storage.setSecret('api-key', 'Jefe'); return 'ok';"}),
        json!({
            "name": "nightly-sync",
            "handler": "trigger",
            "env": {"REGION": "eu", "API_KEY": "secret:api-key"},
            "script": "import { createHmac } from 'node:crypto';\n\
                       export const run = () => 'not me';\n\
                       export const trigger = async (event) => [event.context.moduleKey, process.env.REGION,\n\
                         createHmac('sha256', process.env.API_KEY).update('what do ya want for nothing?').digest('hex').slice(0, 8)];",
        }),
        json!({"name": "cjs", "script": "const { Queue } = require('@forge/events');\n\
               exports.handler = async () => (await new Queue({ key: 'reminders' }).push({ body: { issue: 'OPS-1' }, delayInSeconds: 0.25 })).jobId;"}),
        json!({"name": "listener", "queue": "reminders", "script": "import Resolver from '@forge/resolver';\n\
               const resolver = new Resolver();\n\
               resolver.define('event-listener', async ({ payload, context }) => ({ issue: payload.issue, jobId: context.jobId }));\n\
               export const handler = resolver.getDefinitions();"}),
    ];
    for job in jobs {
        let (status, _, body) = api.call("POST", "/jobs", Some(job));
        assert_eq!(status, 201, "{body}");
    }
    let job = api.get("/jobs/nightly-sync");
    assert_eq!(job["handler"], "trigger");
    assert_eq!(job["env"]["API_KEY"], "secret:api-key", "shown as written");

    assert_eq!(api.run("setup")["status"], "succeeded");
    let run = api.run("nightly-sync");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], json!(["nightly-sync", "eu", "5bdcc146"]));

    let pushed = api.run("cjs");
    assert_eq!(pushed["status"], "succeeded", "{pushed}");
    let consumed = wait_for("the event consumed", Duration::from_secs(30), || {
        let runs = api.all_runs("listener");
        runs.into_iter().find(|run| run["status"] == "succeeded")
    });
    assert_eq!(consumed["result"]["issue"], "OPS-1", "{consumed}");
    assert_eq!(consumed["result"]["jobId"], pushed["result"], "{consumed}");
}

on_both_databases!(forge_shaped_jobs_run_unchanged);
