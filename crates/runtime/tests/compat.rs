//! Scripts from the wild run unchanged (issue 11): entry points, the whole
//! `@forge/*` import surface, Script Master's console bridge, the Node
//! surface, `@forge/resolver` consumers and fractional queue delays — each
//! as the public examples write it, against a fake Atlassian site.

// Test code: helpers may unwrap like the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::site::FakeSite;
use common::{failure, result, run_spec};
use runtime::{MemoryQueue, QueueBackend, RunSpec, RunStatus};
use serde_json::{Value, json};

async fn succeed(spec: RunSpec) -> Value {
    let outcome = run_spec(spec).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "{:?}\nlogs: {:?}",
        outcome.error,
        outcome.logs
    );
    outcome.result
}

async fn fail(spec: RunSpec) -> String {
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Failed, "{}", outcome.result);
    outcome.error.unwrap().message
}

fn with_handler(script: &str, handler: &str) -> RunSpec {
    let mut spec = RunSpec::new(script);
    spec.handler = Some(handler.into());
    spec
}

// ---------------------------------------------------------------- 1. handlers

#[tokio::test]
async fn atlassians_scheduled_trigger_example_runs_by_its_only_export() {
    assert_eq!(
        result("export const trigger = async () => 'ran';").await,
        json!("ran")
    );
}

#[tokio::test]
async fn the_jobs_handler_names_the_export_to_call() {
    let script = "export const run = () => 'run';\nexport const trigger = (event, context) => event.context.moduleKey;";
    let mut spec = with_handler(script, "trigger");
    spec.job.name = "nightly".into();
    assert_eq!(succeed(spec).await, json!("nightly"));
}

#[tokio::test]
async fn a_missing_handler_lists_the_exports() {
    let message = fail(with_handler(
        "export const run = () => 1;\nexport const other = 2;",
        "trigger",
    ))
    .await;
    assert_eq!(
        message,
        "TypeError: the module exports no function named 'trigger'; its exports: other, run"
    );
    let message = failure("export const a = () => 1;\nexport const b = () => 2;").await;
    assert!(message.contains("(its exports: a, b)"), "{message}");
    assert!(message.contains("handler"), "{message}");
}

#[tokio::test]
async fn the_save_time_check_lists_the_exports() {
    let script = "export const trigger = async () => 'ran';\nexport function helper() {}";
    assert!(runtime::check_handler(script, runtime::Language::JavaScript, "trigger").is_ok());
    let error = runtime::check_handler(script, runtime::Language::JavaScript, "run").unwrap_err();
    assert_eq!(
        error.message,
        "the module exports no function named 'run'; its exports: trigger, helper"
    );
    assert!(
        runtime::check_handler("return 1", runtime::Language::JavaScript, "anything").is_ok(),
        "scripts show their exports only when they run"
    );
}

#[tokio::test]
async fn commonjs_modules_export_their_handler() {
    let script = "const api = require('@forge/api');\n\
                  exports.handler = async (event, context) => typeof api.asApp().requestJira + ':' + context.job.name;";
    let mut spec = RunSpec::new(script);
    spec.job.name = "cjs".into();
    assert_eq!(succeed(spec).await, json!("function:cjs"));
    assert_eq!(
        result("module.exports = { run: async () => 'run' };").await,
        json!("run")
    );
    assert_eq!(
        result("module.exports = async function (event) { return event.contextToken; };").await,
        json!("")
    );
    let spec = with_handler("module.exports.trigger = () => 't';", "trigger");
    assert_eq!(succeed(spec).await, json!("t"));
    assert_eq!(
        result("const m = { exports: 1 }; return 'script style is untouched';").await,
        json!("script style is untouched")
    );
}

#[tokio::test]
async fn export_default_objects_hold_the_handler() {
    assert_eq!(
        result("export default { run: () => 'inner' };").await,
        json!("inner")
    );
}

// ------------------------------------------------------- 2. console bridge

#[tokio::test]
async fn request_jira_and_confluence_globals_take_plain_paths() {
    let site = FakeSite::start().await;
    let script = "const me = await requestJira('/rest/api/3/myself');\n\
                  const page = await requestConfluence('/wiki/api/v2/pages/1', { method: 'PUT', body: JSON.stringify({ a: 1 }) });\n\
                  return [me.status, (await me.json()).uri, (await page.json()).method];";
    assert_eq!(
        succeed(site.spec(script)).await,
        json!([200, "/rest/api/3/myself", "PUT"])
    );
    let seen = site.seen();
    assert_eq!(seen.len(), 2);
    let basic = "Basic Ym90QGFjbWUudGVzdDphcHAtdG9rZW4=";
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(basic))
    );
    let outcome = run_spec(site.spec("await requestJira('/rest/api/3/myself'); return 1")).await;
    assert_eq!(outcome.http_calls.len(), 1, "recorded like asApp() calls");
}

#[tokio::test]
async fn the_bridge_refuses_hosts_and_schemes() {
    let site = FakeSite::start().await;
    for path in [
        "https://evil.test/rest/api/3/myself",
        "//evil.test/x",
        "rest/api/3/myself",
    ] {
        let script = format!("return await requestJira({path:?});");
        let message = fail(site.spec(&script)).await;
        assert!(
            message.starts_with("TypeError: requestJira takes a path relative to the Jira site"),
            "{path}: {message}"
        );
    }
    let message = fail(site.spec("return await requestConfluence(42);")).await;
    assert_eq!(
        message,
        "TypeError: requestConfluence takes a path string such as '/rest/api/3/myself', not number"
    );
    assert!(site.seen().is_empty(), "nothing was sent");
}

// ------------------------------------------------------------ 3. imports

#[tokio::test]
async fn every_forge_name_imports_and_unservable_ones_fail_only_when_called() {
    let script = "import api, { asApp, asUser, route, webTrigger, properties, invokeRemote, privacy, i18n, \
                  permissions, FilterConditions, SortOrder, HttpError } from '@forge/api';\n\
                  import kvs, { Sort, WhereConditions } from '@forge/kvs';\n\
                  import Resolver from '@forge/resolver';\n\
                  export async function run() {\n\
                    const failures = [];\n\
                    for (const call of [() => webTrigger.getUrl('x'), () => invokeRemote('r', {}), () => i18n.getTranslations('de'),\n\
                                        () => privacy.reportPersonalData([]), () => permissions.hasPermission({}), () => kvs.entity('reminder').get('r-1')]) {\n\
                      try { await call(); } catch (error) { failures.push(error.message); }\n\
                    }\n\
                    return { types: [typeof asApp().requestJira, typeof asUser, typeof route, typeof properties.onJiraIssue,\n\
                            typeof FilterConditions.contains, SortOrder.DESC, Sort.ASC, typeof WhereConditions.between,\n\
                            typeof kvs.get, typeof Resolver, new HttpError('x') instanceof Error], failures };\n\
                  }";
    let result = result(script).await;
    assert_eq!(
        result["types"],
        json!([
            "function", "function", "function", "function", "function", "DESC", "ASC", "function",
            "function", "function", true
        ])
    );
    let failures: Vec<String> = serde_json::from_value(result["failures"].clone()).unwrap();
    assert_eq!(failures.len(), 6);
    assert!(
        failures[0].starts_with(
            "webTrigger.getUrl is not available in Clockwork: jobs have no web trigger URLs"
        ),
        "{failures:?}"
    );
    assert!(
        failures[1].contains("use fetch") || failures[1].contains("fetch(url, init)"),
        "{failures:?}"
    );
    // Entities are served; an undeclared one fails saying where to declare it.
    assert_eq!(
        failures[5],
        "Entity 'reminder' is not declared (no entity is declared); declare it under [[entities]] in clockwork.toml",
        "{failures:?}"
    );
}

#[tokio::test]
async fn entity_properties_go_through_the_product_api() {
    let site = FakeSite::start().await;
    let script = "import { properties } from '@forge/api';\n\
                  export async function run() {\n\
                    const issue = properties.onJiraIssue('OPS-1');\n\
                    const before = await issue.get('sync');\n\
                    await issue.set('sync', { at: 1 });\n\
                    const after = await issue.get('sync');\n\
                    await issue.delete('sync');\n\
                    const page = properties.onConfluencePage('42');\n\
                    await page.set('flag', true);\n\
                    await page.set('flag', false);\n\
                    return [before, after, await issue.get('sync'), await page.get('flag')];\n\
                  }";
    assert_eq!(
        succeed(site.spec(script)).await,
        json!([null, { "at": 1 }, null, false])
    );
    let uris: Vec<String> = site
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    assert!(
        uris.contains(&"PUT /rest/api/3/issue/OPS-1/properties/sync".to_owned()),
        "{uris:?}"
    );
    assert!(
        uris.contains(&"POST /wiki/rest/api/content/42/property".to_owned()),
        "{uris:?}"
    );
}

// ------------------------------------------------------------ 4. Node surface

#[tokio::test]
async fn process_env_holds_the_jobs_environment_and_resolved_secrets() {
    let mut spec = RunSpec::new(
        "return [process.env.REGION, process.env.TOKEN, process.env.HOME, Object.keys(process.env)];",
    );
    spec.env.insert("REGION".into(), "eu".into());
    spec.env.insert("TOKEN".into(), "secret:api-token".into());
    spec.services
        .kv
        .secret_set("api-token", json!("s3cr3t"))
        .await
        .unwrap();
    assert_eq!(
        succeed(spec).await,
        json!(["eu", "s3cr3t", null, ["REGION", "TOKEN"]])
    );
    let mut spec = RunSpec::new("return process.env.TOKEN");
    spec.env.insert("TOKEN".into(), "secret:missing".into());
    assert_eq!(
        fail(spec).await,
        "process.env.TOKEN names the secret 'missing', which is not set \
         (set it with storage.setSecret('missing', value) or the secrets API)"
    );
}

#[tokio::test]
async fn buffer_encodes_and_decodes_as_node_does() {
    let script = "const b = Buffer.from('héllo wörld');\n\
                  return [b.toString('base64'), b.toString('hex'), Buffer.from('aGk/Pz4+', 'base64').toString(),\n\
                          Buffer.from('aGk_Pz4-', 'base64url').toString(), Buffer.from([0xfb, 0xff]).toString('base64url'),\n\
                          Buffer.from('ff00', 'hex').readUInt16BE(0), Buffer.byteLength('é'), Buffer.isBuffer(b),\n\
                          Buffer.concat([Buffer.from('a'), Buffer.from('b')]).toString(), Buffer.compare(Buffer.from('a'), Buffer.from('b')),\n\
                          b.subarray(0, 2).toString('latin1'), Buffer.from('abc').equals(Buffer.from('abc')),\n\
                          (() => { const w = Buffer.alloc(4); w.writeUInt32LE(0x01020304, 0); return [...w]; })(),\n\
                          Buffer.from('hi').toJSON(), Buffer.alloc(3, 'ab').toString()];";
    assert_eq!(
        result(script).await,
        json!([
            "aMOpbGxvIHfDtnJsZA==",
            "68c3a96c6c6f2077c3b6726c64",
            "hi??>>",
            "hi??>>",
            "-_8",
            65280,
            2,
            true,
            "ab",
            -1,
            "hÃ",
            true,
            [4, 3, 2, 1],
            { "type": "Buffer", "data": [104, 105] },
            "aba"
        ])
    );
    let message = failure("return Buffer.from('x').toString('utf9')").await;
    assert_eq!(message, "TypeError: Unknown encoding: utf9");
}

#[tokio::test]
async fn node_crypto_hashes_hmacs_and_compares() {
    let script = "import crypto from 'node:crypto';\n\
                  import { createHmac, timingSafeEqual } from 'crypto';\n\
                  const { createHash } = require('crypto');\n\
                  return [createHash('sha256').update('abc').digest('hex'), createHash('sha1').update('abc').digest('base64'),\n\
                          createHash('md5').update(Buffer.from('abc')).digest('hex'),\n\
                          createHmac('sha256', 'Jefe').update('what do ya want ').update('for nothing?').digest('hex'),\n\
                          crypto.randomBytes(8).length, typeof crypto.randomUUID(), timingSafeEqual(Buffer.from('a'), Buffer.from('a')),\n\
                          createHash('sha512').digest('hex').length];";
    assert_eq!(
        result(script).await,
        json!([
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
            "900150983cd24fb0d6963f7d28e17f72",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            8,
            "string",
            true,
            128
        ])
    );
    let message =
        failure("return require('crypto').timingSafeEqual(Buffer.from('a'), Buffer.from('ab'))")
            .await;
    assert_eq!(
        message,
        "RangeError: Input buffers must have the same byte length"
    );
    let message = failure("return require('crypto').createHash('sha3-256')").await;
    assert_eq!(message, "Error: Digest method not supported");
}

#[tokio::test]
async fn subtle_verifies_webhook_signatures() {
    let script = "const enc = new TextEncoder();\n\
                  const key = await crypto.subtle.importKey('raw', enc.encode('Jefe'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);\n\
                  const sig = await crypto.subtle.sign('HMAC', key, enc.encode('what do ya want for nothing?'));\n\
                  const hex = Buffer.from(sig).toString('hex');\n\
                  const ok = await crypto.subtle.verify('HMAC', key, sig, enc.encode('what do ya want for nothing?'));\n\
                  const bad = await crypto.subtle.verify('HMAC', key, sig, enc.encode('tampered'));\n\
                  const digest = Buffer.from(await crypto.subtle.digest('SHA-1', enc.encode('abc'))).toString('hex');\n\
                  return [hex, ok, bad, digest];";
    assert_eq!(
        result(script).await,
        json!([
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            true,
            false,
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        ])
    );
    let message = failure(
        "await crypto.subtle.importKey('jwk', {}, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])",
    )
    .await;
    assert!(message.contains("'raw' HMAC keys only"), "{message}");
}

#[tokio::test]
async fn the_pure_builtins_import_and_require() {
    let script = "import { EventEmitter } from 'node:events';\n\
                  import { setTimeout as sleep } from 'timers/promises';\n\
                  import assert from 'assert';\n\
                  import path from 'path/posix';\n\
                  import { format, promisify, types } from 'util';\n\
                  import qs from 'querystring';\n\
                  import { URL } from 'url';\n\
                  const events = new EventEmitter();\n\
                  let seen = 0; events.on('tick', (n) => { seen += n; }); events.emit('tick', 2);\n\
                  await sleep(1);\n\
                  assert.strictEqual(seen, 2);\n\
                  assert.deepStrictEqual({ a: [1] }, { a: [1] });\n\
                  const wait = promisify((x, cb) => cb(null, x * 2));\n\
                  return [seen, path.join('/a/b', '../c', 'd.txt'), path.extname('x.tar.gz'), format('%s=%d', 'n', 5),\n\
                          await wait(4), types.isDate(new Date()), qs.stringify({ a: 'x y', b: [1, 2] }), qs.parse('a=1&a=2&b=%20').a,\n\
                          new URL('https://x.test/a?b=1').searchParams.get('b'), require('events') === EventEmitter,\n\
                          typeof require('node:buffer').Buffer.from, typeof require('assert/strict').ok];";
    assert_eq!(
        result(script).await,
        json!([
            2,
            "/a/c/d.txt",
            ".gz",
            "n=5",
            8,
            true,
            "a=x%20y&b=1&b=2",
            ["1", "2"],
            "1",
            true,
            "function",
            "function"
        ])
    );
    let message = failure("const assert = require('assert'); assert.strictEqual(1, 2);").await;
    assert_eq!(
        message,
        "AssertionError: Expected values to be strictly equal:\n\n1 !== 2\n"
    );
}

#[tokio::test]
async fn host_modules_are_refused_clearly() {
    for name in ["fs", "node:child_process", "os", "net"] {
        let message = failure(&format!("return require('{name}')")).await;
        assert!(
            message.contains("is not available in Clockwork's sandbox"),
            "{name}: {message}"
        );
        let error = runtime::check_syntax(&format!(
            "import x from '{name}';\nexport const run = () => x;"
        ))
        .unwrap_err();
        assert!(
            error
                .message
                .contains("not available in Clockwork's sandbox"),
            "{}",
            error.message
        );
        assert_eq!((error.line, error.column), (Some(1), Some(1)));
    }
    let message = failure("return require('lodash')").await;
    assert!(message.contains("bundle npm packages"), "{message}");
}

// ---------------------------------------------------------------- 5. resolver

#[tokio::test]
async fn resolver_consumers_receive_the_event_body_as_payload() {
    let script = "import Resolver from '@forge/resolver';\n\
                  const resolver = new Resolver();\n\
                  resolver.define('event-listener', async ({ payload, context }) => ({ payload, jobId: context.jobId, job: context.job.name }));\n\
                  export const handler = resolver.getDefinitions();";
    let mut spec = RunSpec::new(script);
    spec.job.name = "consumer".into();
    spec.event = Some(
        json!({ "body": { "issue": "OPS-1" }, "jobId": "j-1", "eventId": "e-1", "queueName": "q" }),
    );
    assert_eq!(
        succeed(spec).await,
        json!({ "payload": { "issue": "OPS-1" }, "jobId": "j-1", "job": "consumer" })
    );
    // As an ordinary (scheduled) handler: the payload is the scheduled event.
    let script = "const Resolver = require('@forge/resolver').default;\n\
                  const resolver = new Resolver();\n\
                  resolver.define('tick', ({ payload }) => payload.context.moduleKey);\n\
                  exports.handler = resolver.getDefinitions();";
    let mut spec = RunSpec::new(script);
    spec.job.name = "ticker".into();
    assert_eq!(succeed(spec).await, json!("ticker"));
    let message = failure(
        "import Resolver from '@forge/resolver';\nconst r = new Resolver();\nr.define('a', () => 1).define('b', () => 2);\nexport const handler = r.getDefinitions();",
    )
    .await;
    assert_eq!(
        message,
        "Error: the resolver defines a, b; a job runs a resolver with exactly one definition"
    );
}

// ------------------------------------------------------------ 6. queue delays

#[tokio::test]
async fn fractional_delays_are_honoured_to_the_millisecond() {
    let queue = std::sync::Arc::new(MemoryQueue::new());
    let mut spec = RunSpec::new(
        "import { Queue } from '@forge/events';\n\
         const queue = new Queue({ key: 'q' });\n\
         const { jobId } = await queue.push({ body: { n: 1 }, delayInSeconds: 0.5 });\n\
         await queue.push([{ n: 2 }], { delayInSeconds: 1.25 });\n\
         return jobId;",
    );
    spec.services.queue = queue.clone() as std::sync::Arc<dyn QueueBackend>;
    let job_id = succeed(spec).await;
    let (_, events) = queue.job(job_id.as_str().unwrap()).unwrap();
    assert_eq!(events[0].0.delay, Duration::from_millis(500));
    let message = failure(
        "import { Queue } from '@forge/events';\nawait new Queue({ key: 'q' }).push({ body: {}, delayInSeconds: 900.5 });",
    )
    .await;
    assert_eq!(
        message,
        "Error: Invalid delayInSeconds 900.5: it must be a number from 0 to 900"
    );
}

#[tokio::test]
async fn fractional_retry_after_is_kept_to_the_millisecond() {
    let mut spec = RunSpec::new(
        "import { InvocationError } from '@forge/events';\nexport const run = () => new InvocationError({ retryAfter: 1.5 });",
    );
    spec.event = Some(json!({ "body": {}, "jobId": "j", "eventId": "e", "queueName": "q" }));
    let outcome = run_spec(spec).await;
    let retry = outcome.retry.expect("a retry request");
    assert_eq!(retry.retry_after, Some(Duration::from_millis(1500)));
    assert_eq!(
        outcome.error.unwrap().message,
        "the consumer returned an InvocationError asking to be retried after 1.5 s"
    );
}

// ------------------------------------------------------ the surface's shape

/// Describes every value reachable from `roots` (by own property, to a
/// depth, plus what `asApp()`/`asUser()`, `entity()`, `query()` and
/// `transact()` return): its type, for functions their name, length,
/// `toString` tag and source text and whether they have a `prototype`,
/// every property's descriptor, and which values are the same object as
/// one met before. The Forge surface is built in parts on first touch;
/// this is what a script can observe of it, whatever was built first.
const DESCRIBE_JS: &str = r#"
function describeAll(roots) {
  const seen = new Map();
  function describe(value, path, depth) {
    const type = typeof value;
    if ((type !== 'object' && type !== 'function') || value === null) return { type, value: String(value) };
    if (seen.has(value)) return { same: seen.get(value) };
    seen.set(value, path);
    const d = { type, tag: Object.prototype.toString.call(value), frozen: Object.isFrozen(value), extensible: Object.isExtensible(value) };
    const proto = Object.getPrototypeOf(value);
    d.proto = proto === null ? null : proto === Object.prototype ? 'Object' : proto === Function.prototype ? 'Function'
      : seen.has(proto) ? seen.get(proto) : Object.prototype.toString.call(proto);
    if (type === 'function') {
      d.name = value.name;
      d.length = value.length;
      d.source = Function.prototype.toString.call(value);
    }
    if (depth > 0) {
      d.props = {};
      for (const key of Reflect.ownKeys(value)) {
        const desc = Object.getOwnPropertyDescriptor(value, key);
        const p = { enumerable: desc.enumerable, configurable: desc.configurable };
        if ('value' in desc) {
          p.writable = desc.writable;
          p.value = describe(desc.value, path + '.' + String(key), depth - 1);
        } else {
          p.get = describe(desc.get, path + '.get ' + String(key), 0);
          p.set = describe(desc.set, path + '.set ' + String(key), 0);
        }
        d.props[String(key)] = p;
      }
    }
    return d;
  }
  const out = {};
  for (const [name, value] of roots) out[name] = describe(value, name, 4);
  return out;
}
"#;

fn surface_shape_file() -> Value {
    serde_json::from_str(include_str!("fixtures/forge_surface_shape.json")).unwrap()
}

fn assert_shape(name: &str, actual: &Value, expected: &Value) {
    assert!(
        actual == expected,
        "{name} differs from tests/fixtures/forge_surface_shape.json; actual:\n{}",
        serde_json::to_string(actual).unwrap()
    );
}

#[tokio::test]
async fn the_forge_modules_keep_their_shape() {
    let script = format!(
        "import * as api from '@forge/api';\n\
         import * as kvs from '@forge/kvs';\n\
         import * as events from '@forge/events';\n\
         import * as resolver from '@forge/resolver';\n\
         import * as bridge from '@forge/bridge';\n\
         {DESCRIBE_JS}\n\
         export function run(event, context) {{\n\
           const storage = api.storage;\n\
           return describeAll([['api', api], ['kvs', kvs], ['events', events], ['resolver', resolver],\n\
             ['bridge', bridge], ['asApp', api.asApp()], ['asUser', api.asUser()],\n\
             ['entity', storage.entity('e')], ['query', storage.query()], ['entityQuery', storage.entity('e').query()],\n\
             ['transaction', kvs.default.transact()], ['queue', new events.Queue({{ key: 'q' }})],\n\
             ['jiraIssue', api.properties.onJiraIssue('X-1')], ['confluencePage', api.properties.onConfluencePage('1')],\n\
             ['event', event], ['context', context]]);\n\
         }}"
    );
    let actual = result(&script).await;
    assert_shape("modules", &actual, &surface_shape_file()["modules"]);
}

#[tokio::test]
async fn the_forge_globals_keep_their_shape() {
    let script = format!(
        "{DESCRIBE_JS}\n\
         const names = ['api', 'route', 'fetch', 'authorize', 'storage', 'kvs', 'Queue', 'InvocationError',\n\
           'event', 'context', 'requestJira', 'requestConfluence'];\n\
         const before = names.map((name) => {{\n\
           const desc = Object.getOwnPropertyDescriptor(globalThis, name);\n\
           return [name, 'value' in desc, desc.enumerable, desc.configurable];\n\
         }});\n\
         const required = ['@forge/api', '@forge/kvs', '@forge/events', '@forge/resolver', '@forge/bridge']
           .map((name) => ['require ' + name, require(name)]);
         return {{ before, after: describeAll(names.map((name) => [name, globalThis[name]]).concat(required)) }};"
    );
    let actual = result(&script).await;
    assert_shape("globals", &actual, &surface_shape_file()["globals"]);
}

/// Parts of the surface are built when first touched, maybe after the
/// script replaced built-ins they are made with: they come out as they
/// would have at the script's first touch of the API.
#[tokio::test]
async fn parts_built_after_the_script_spoiled_built_ins_are_whole() {
    let script = "const RealError = Error;\n\
         const touched = typeof api.asApp;\n\
         const spoiled = () => { throw new RealError('spoiled'); };\n\
         for (const name of ['freeze', 'defineProperty', 'defineProperties', 'values', 'keys', 'assign', 'entries',\n\
                             'getOwnPropertyDescriptor', 'create', 'setPrototypeOf']) Object[name] = spoiled;\n\
         Array.prototype[Symbol.iterator] = spoiled;\n\
         Array.prototype.map = spoiled;\n\
         Array.prototype.push = spoiled;\n\
         Function.prototype.bind = spoiled;\n\
         globalThis.Error = function Fake() {};\n\
         globalThis.Symbol = spoiled;\n\
         globalThis.WeakSet = spoiled;\n\
         const queue = new Queue({ key: 'q' });\n\
         const { HttpError } = require('@forge/api');\n\
         const { InvocationErrorCode } = require('@forge/events');\n\
         return [touched, Object.isFrozen(kvs), typeof kvs.transact().set, queue.key, new HttpError('x') instanceof RealError,\n\
                 new HttpError('x').name, Object.isFrozen(storage), typeof storage.query().where, typeof requestJira,\n\
                 typeof require('@forge/resolver').default, InvocationErrorCode.FUNCTION_RETRY_REQUEST,\n\
                 new InvocationError({ retryAfter: 1 }).retryOptions.retryAfter, Object.isFrozen(api),\n\
                 typeof require('@forge/api').properties.onJiraIssue('X-1').get, typeof kvs.entity('e').query().index];";
    assert_eq!(
        result(script).await,
        json!([
            "function",
            true,
            "function",
            "q",
            true,
            "HttpError",
            true,
            "function",
            "function",
            "function",
            "FUNCTION_RETRY_REQUEST",
            1,
            true,
            "function",
            "function"
        ])
    );
}
