//! `storage` and `kvs` from scripts, over the in-memory store (FORGE-API §3).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{failure, result, run_spec};
use runtime::{
    KvError, KvOp, KvPage, KvSetItem, KvStore, MemoryKvStore, RunSpec, RunStatus, Services,
};
use serde_json::{Value, json};

#[tokio::test]
async fn get_set_delete_round_trip_every_json_type() {
    let script = "const values = [1, 2.5, 'text', true, false, null, [1, 'a'], { nested: { deep: [1] } }];\n\
                  const back = [];\n\
                  for (const [i, v] of values.entries()) { await storage.set('k' + i, v); back.push(await storage.get('k' + i)); }\n\
                  await storage.delete('k0');\n\
                  await storage.delete('never-set');\n\
                  return { back, gone: await storage.get('k0'), missing: await storage.get('nothing') === undefined }";
    assert_eq!(
        result(script).await,
        json!({
            "back": [1, 2.5, "text", true, false, null, [1, "a"], {"nested": {"deep": [1]}}],
            "missing": true,
        })
    );
}

#[tokio::test]
async fn storage_and_kvs_share_one_store_that_outlives_runs() {
    let services = Services::in_memory();
    let mut first = RunSpec::new("await storage.set('shared', { from: 'storage' }); return 1");
    first.services = services.clone();
    assert_eq!(run_spec(first).await.status, RunStatus::Succeeded);
    let mut second =
        RunSpec::new("import { kvs } from '@forge/kvs';\nreturn await kvs.get('shared')");
    second.services = services;
    assert_eq!(run_spec(second).await.result, json!({"from": "storage"}));
}

#[tokio::test]
async fn values_must_be_json() {
    assert_eq!(
        failure("await storage.set('k', undefined)").await,
        "TypeError: Value for key \"k\" must be JSON, not undefined"
    );
    assert_eq!(
        failure("await kvs.set('k', () => 1)").await,
        "TypeError: Value for key \"k\" must be JSON, not function"
    );
    let message = failure("await storage.set('k', { n: 1n })").await;
    assert!(
        message.starts_with("TypeError: Value for key \"k\" must be JSON: BigInt"),
        "{message}"
    );
}

#[tokio::test]
async fn keys_are_validated() {
    let invalid = "Error: Invalid key \"a/b\": a key is 1 to 500 characters of a-z, A-Z, 0-9, ':', '.', '_', '-', '#' \
                   and whitespace, and not only whitespace";
    assert_eq!(failure("await storage.set('a/b', 1)").await, invalid);
    assert_eq!(failure("await kvs.get('a/b')").await, invalid);
    assert_eq!(failure("await storage.delete('a/b')").await, invalid);
    assert!(
        failure("await storage.get('')")
            .await
            .starts_with("Error: Invalid key \"\"")
    );
    assert!(
        failure("await storage.get('   ')")
            .await
            .starts_with("Error: Invalid key")
    );
    assert!(
        failure("await storage.get('k'.repeat(501))")
            .await
            .starts_with("Error: Invalid key")
    );
    assert_eq!(
        result("await storage.set('Aa0:._ #-' + 'k'.repeat(491), 1); return await storage.get('Aa0:._ #-' + 'k'.repeat(491))").await,
        json!(1)
    );
}

#[tokio::test]
async fn values_are_limited_in_size_and_depth() {
    assert_eq!(
        failure("await kvs.set('big', 'x'.repeat(240 * 1024))").await,
        "Error: Value for key \"big\" is 245762 bytes as JSON; the limit is 245760 bytes (240 KiB)"
    );
    assert_eq!(
        result("await kvs.set('fits', 'x'.repeat(240 * 1024 - 2)); return 'ok'").await,
        json!("ok")
    );
    assert_eq!(
        failure("let v = 1; for (let i = 0; i < 32; i++) v = [v];\nawait storage.set('deep', v)")
            .await,
        "Error: Value for key \"deep\" is nested 32 levels deep; the limit is 31"
    );
    assert_eq!(
        result("let v = 1; for (let i = 0; i < 31; i++) v = { v };\nawait storage.set('deep', v); return 'ok'").await,
        json!("ok")
    );
}

#[tokio::test]
async fn queries_page_through_keys_in_order() {
    let script = "import { storage, startsWith } from '@forge/api';\n\
                  for (const k of ['job:c', 'job:a', 'other', 'job:b', 'job:d']) await storage.set(k, k.toUpperCase());\n\
                  const first = await storage.query().where('key', startsWith('job:')).limit(3).getMany();\n\
                  const rest = await storage.query().where('key', startsWith('job:')).limit(3).cursor(first.nextCursor).getMany();\n\
                  const one = await storage.query().where('key', startsWith('job:')).getOne();\n\
                  const none = await storage.query().where('key', startsWith('zzz')).getOne();\n\
                  const all = await storage.query().getMany();\n\
                  return { first, rest, one, none: none === undefined, all: all.results.length, hasCursor: 'nextCursor' in rest }";
    assert_eq!(
        result(script).await,
        json!({
            "first": {
                "results": [{"key": "job:a", "value": "JOB:A"}, {"key": "job:b", "value": "JOB:B"}, {"key": "job:c", "value": "JOB:C"}],
                "nextCursor": "job:c",
            },
            "rest": {"results": [{"key": "job:d", "value": "JOB:D"}]},
            "one": {"key": "job:a", "value": "JOB:A"},
            "none": true,
            "all": 5,
            "hasCursor": false,
        })
    );
}

#[tokio::test]
async fn query_pages_default_to_10_and_stop_at_100() {
    let script = "for (let i = 0; i < 12; i++) await kvs.set('p' + String(i).padStart(2, '0'), i);\n\
                  const page = await kvs.query().where('key', WhereConditions.beginsWith('p')).getMany();\n\
                  return [page.results.length, page.nextCursor]";
    assert_eq!(
        result(&format!(
            "import {{ WhereConditions }} from '@forge/kvs';\n{script}"
        ))
        .await,
        json!([10, "p09"])
    );
    assert_eq!(
        failure("await kvs.query().limit(101).getMany()").await,
        "Error: Invalid limit 101: a query returns 1 to 100 results per page"
    );
    assert_eq!(
        failure("import { WhereConditions } from '@forge/kvs';\nawait storage.query().where('value', WhereConditions.beginsWith('x')).getMany()").await,
        "TypeError: queries filter on 'key' only, not 'value'"
    );
    assert_eq!(
        failure("import { WhereConditions } from '@forge/kvs';\nawait storage.query().where('key', 'x').getMany()").await,
        "TypeError: where() on keys takes startsWith(prefix) or WhereConditions.beginsWith(prefix); \
         the other conditions are for custom entities: kvs.entity(name).query().index(…).where(…)"
    );
}

#[tokio::test]
async fn kvs_set_options() {
    let script = "await kvs.set('once', 1, { keyPolicy: 'FAIL_IF_EXISTS' });\n\
                  let refused;\n\
                  try { await kvs.set('once', 2, { keyPolicy: 'FAIL_IF_EXISTS' }) } catch (e) { refused = e.message }\n\
                  await kvs.set('once', 3, { keyPolicy: 'OVERRIDE' });\n\
                  await kvs.set('ttl', 'v', { ttl: { value: 5, unit: 'MINUTES' } });\n\
                  return { refused, once: await kvs.get('once'), ttl: await kvs.get('ttl') }";
    assert_eq!(
        result(script).await,
        json!({"refused": "key \"once\" already exists", "once": 3, "ttl": "v"})
    );
    assert_eq!(
        failure("await kvs.set('k', 1, { keyPolicy: 'SOMETIMES' })").await,
        "TypeError: Invalid keyPolicy \"SOMETIMES\": use 'OVERRIDE' or 'FAIL_IF_EXISTS'"
    );
    assert_eq!(
        failure("await kvs.set('k', 1, { ttl: { value: 1, unit: 'WEEKS' } })").await,
        "Error: Invalid ttl unit \"WEEKS\": use 'SECONDS', 'MINUTES', 'HOURS' or 'DAYS'"
    );
    assert_eq!(
        failure("await kvs.set('k', 1, { ttl: { value: 0, unit: 'SECONDS' } })").await,
        "Error: Invalid ttl 0 SECONDS: it must be positive and at most 365 days"
    );
}

#[tokio::test]
async fn batches() {
    let script = "const set = await kvs.batchSet([{ key: 'a', value: 1 }, { key: 'b', value: { two: 2 } }, { key: 'c', value: 3 }]);\n\
                  const got = await kvs.batchGet([{ key: 'a' }, 'b', { key: 'missing' }]);\n\
                  const deleted = await kvs.batchDelete(['a', { key: 'c' }]);\n\
                  return { set, got, deleted, left: [await kvs.get('a'), await kvs.get('b'), await kvs.get('c')] }";
    assert_eq!(
        result(script).await,
        json!({
            "set": {"successfulKeys": [{"key": "a"}, {"key": "b"}, {"key": "c"}], "failedKeys": []},
            "got": {"successfulKeys": [{"key": "a", "value": 1}, {"key": "b", "value": {"two": 2}}], "failedKeys": []},
            "deleted": {"successfulKeys": [{"key": "a"}, {"key": "c"}], "failedKeys": []},
            "left": [null, {"two": 2}, null],
        })
    );
    assert_eq!(
        failure("await kvs.batchGet(Array.from({ length: 26 }, (_, i) => 'k' + i))").await,
        "Error: A batch holds 1 to 25 keys, not 26"
    );
    assert_eq!(
        failure("await kvs.batchDelete([])").await,
        "Error: A batch holds 1 to 25 keys, not 0"
    );
    assert!(
        failure("await kvs.batchSet([{ key: 'ok', value: 1 }, { key: 'bad/key', value: 2 }])")
            .await
            .starts_with("Error: Invalid key \"bad/key\"")
    );
    assert_eq!(result("try { await kvs.batchSet([{ key: 'ok', value: 1 }, { key: 'x/', value: 2 }]) } catch {}\nreturn await kvs.get('ok') === undefined").await, json!(true));
}

#[tokio::test]
async fn transactions_are_all_or_nothing() {
    let script = "await kvs.set('balance', 10);\n\
                  let failed;\n\
                  try {\n\
                    await kvs.transact().set('log', 'spent').delete('balance').check('balance', { equals: 99 }).execute();\n\
                  } catch (e) { failed = e.message }\n\
                  const untouched = [await kvs.get('balance'), await kvs.get('log')];\n\
                  await kvs.transact().check('balance', { equals: 10 }).check('log', { exists: false })\n\
                    .set('balance', 5).set('log', 'spent', { keyPolicy: 'FAIL_IF_EXISTS' }).execute();\n\
                  return { failed, untouched, after: [await kvs.get('balance'), await kvs.get('log')] }";
    assert_eq!(
        result(script).await,
        json!({
            "failed": "transaction condition on key \"balance\" does not hold; nothing was changed",
            "untouched": [10, null],
            "after": [5, "spent"],
        })
    );
    assert_eq!(
        failure("const t = kvs.transact(); for (let i = 0; i < 26; i++) t.delete('k' + i);\nawait t.execute()").await,
        "Error: A transaction holds 1 to 25 operations, not 26"
    );
    assert_eq!(
        failure("kvs.transact().check('k', 'yes')").await,
        "TypeError: check(key, condition) takes { exists: true | false } or { equals: value }"
    );
}

#[tokio::test]
async fn secrets_are_kept_apart() {
    let script = "await kvs.setSecret('token', { t: 's3cret' });\n\
                  await storage.setSecret('plain', 'p');\n\
                  const listed = await kvs.query().getMany();\n\
                  const got = [await kvs.getSecret('token'), await storage.getSecret('plain'), await kvs.get('token')];\n\
                  await kvs.deleteSecret('token');\n\
                  return { listed: listed.results, got, deleted: await kvs.getSecret('token') === undefined }";
    // What a secret holds is masked in the result (`p` is too short to mask).
    assert_eq!(
        result(script).await,
        json!({"listed": [], "got": [{"t": "***"}, "p", null], "deleted": true})
    );
}

/// A backend whose every call fails, as a database that is down.
struct Unavailable;

#[async_trait::async_trait]
impl KvStore for Unavailable {
    async fn get(&self, _: &str) -> Result<Option<Value>, KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn set(&self, _: &str, _: Value, _: Option<Duration>, _: bool) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn delete(&self, _: &str) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn list(&self, _: &str, _: usize, _: Option<&str>) -> Result<KvPage, KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn batch_get(&self, _: &[String]) -> Result<Vec<(String, Value)>, KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn batch_set(&self, _: Vec<KvSetItem>) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn batch_delete(&self, _: &[String]) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn transact(&self, _: Vec<KvOp>) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn secret_get(&self, _: &str) -> Result<Option<Value>, KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn secret_set(&self, _: &str, _: Value) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
    async fn secret_delete(&self, _: &str) -> Result<(), KvError> {
        Err(KvError::Backend("database unreachable".into()))
    }
}

#[tokio::test]
async fn backend_failures_reach_the_script_as_errors() {
    let mut spec = RunSpec::new("try { await storage.get('k') } catch (e) { return e.message }");
    spec.services.kv = Arc::new(Unavailable);
    assert_eq!(
        run_spec(spec).await.result,
        json!("storage failed: database unreachable")
    );
    let mut spec = RunSpec::new("await kvs.set('k', 1)");
    spec.services.kv = Arc::new(Unavailable);
    let outcome = run_spec(spec).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.unwrap().message,
        "Error: storage failed: database unreachable"
    );
}

#[tokio::test]
async fn a_loop_that_never_awaits_cannot_pile_up_calls() {
    let message = failure("for (let i = 0; i < 20000; i++) kvs.get('k');").await;
    assert_eq!(
        message,
        "RangeError: too many storage, queue or HTTP calls in flight (the limit is 10000)"
    );
    let store = Arc::new(MemoryKvStore::new());
    let mut spec = RunSpec::new(
        "await Promise.all(Array.from({ length: 5000 }, (_, i) => kvs.set('k' + i, i)));\nreturn 'ok'",
    );
    spec.services.kv = store.clone();
    assert_eq!(run_spec(spec).await.result, json!("ok"));
    assert_eq!(store.get("k4999").await.unwrap(), Some(json!(4999)));
}

/// The checks made before any store is asked: declarations and calls.
#[tokio::test]
async fn entity_calls_are_checked_against_the_declarations() {
    let declarations: Vec<runtime::EntityDeclaration> = serde_json::from_value(json!([{
        "name": "reminder",
        "attributes": {"ts": {"type": "integer"}, "day": {"type": "string"}},
        "indexes": ["ts", {"name": "by-day", "partition": ["day"], "range": ["ts"]}],
    }]))
    .unwrap();
    let catalog = runtime::EntityCatalog::new(declarations).unwrap();
    let run = |script: &str| {
        let mut spec = RunSpec::new(format!(
            "import {{ kvs, WhereConditions }} from '@forge/kvs';\n{script}"
        ));
        spec.services.entities = Arc::new(catalog.clone());
        run_spec(spec)
    };
    let outcome = run("await kvs.entity('reminder').query().index('by-day', { partition: ['mon', 'tue'] }).getMany()").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        outcome.error.unwrap().message.contains(
            "Index 'by-day' of entity 'reminder' is partitioned by [day]: give .index('by-day', { partition: [...] }) 1 value(s), not 2"
        )
    );
}

/// Runs `script` on a [`MemoryKvStore`] with `reminder` declared (ts,
/// text, and by-day partitioned by day, ranged by ts), as the scheduler's
/// entity suite declares it for the database.
#[allow(clippy::unwrap_used)] // a test helper: a bad fixture fails the test
async fn on_memory_entities(script: &str) -> runtime::Outcome {
    let declarations: Vec<runtime::EntityDeclaration> = serde_json::from_value(json!([{
        "name": "reminder",
        "attributes": {"day": {"type": "string"}, "ts": {"type": "integer"},
            "text": {"type": "string"}, "done": {"type": "boolean"}},
        "indexes": ["ts", "text", {"name": "by-day", "partition": ["day"], "range": ["ts"]}],
    }]))
    .unwrap();
    let catalog = runtime::EntityCatalog::new(declarations).unwrap();
    let store = Arc::new(MemoryKvStore::new());
    store.entity_declare(&catalog).await.unwrap();
    let mut spec = RunSpec::new(format!(
        "import {{ kvs, WhereConditions, FilterConditions, Sort }} from '@forge/kvs';\n\
         const reminders = kvs.entity('reminder');\n\
         for (let i = 0; i < 10; i++) {{\n\
           await reminders.set('r' + i, {{ day: i % 2 ? 'tue' : 'mon', ts: 10 * i, text: 'note ' + i, done: i < 5 }});\n\
         }}\n\
         const keys = (page) => page.results.map((r) => r.key);\n{script}"
    ));
    spec.services.kv = store;
    spec.services.entities = Arc::new(catalog);
    run_spec(spec).await
}

/// The scheduler's entity cases, in memory: the same order, conditions,
/// partitions, cursors and filters as on the databases.
#[tokio::test]
async fn the_memory_store_walks_entity_indexes_like_the_database() {
    let outcome = on_memory_entities(
        "const byTs = (c) => reminders.query().index('ts').where(c).limit(100).getMany().then(keys);\n\
         async function pages(order) {\n\
           const seen = [];\n\
           let cursor;\n\
           do {\n\
             const page = await reminders.query().index('by-day', { partition: ['mon'] }).sort(order).cursor(cursor).limit(2).getMany();\n\
             seen.push(keys(page));\n\
             cursor = page.nextCursor;\n\
           } while (cursor !== undefined && seen.length < 10);\n\
           return seen;\n\
         }\n\
         await reminders.delete('r9');\n\
         return {\n\
           equalsTo: await byTs(WhereConditions.equalsTo(30)),\n\
           between: await byTs(WhereConditions.between(20, 40)),\n\
           greaterThan: await byTs(WhereConditions.greaterThan(60)),\n\
           lessThanEqualTo: await byTs(WhereConditions.lessThanEqualTo(20)),\n\
           otherType: await byTs(WhereConditions.greaterThan('a')).catch((e) => e.message),\n\
           beginsWith: await reminders.query().index('text').where(WhereConditions.beginsWith('note 1')).getMany().then(keys),\n\
           ascending: await pages(Sort.ASC),\n\
           descending: await pages(Sort.DESC),\n\
           open: await reminders.query().index('ts').andFilter('done', FilterConditions.equalsTo(false)).limit(2).getMany().then((p) => [keys(p), p.nextCursor !== undefined]),\n\
           one: await reminders.get('r1'),\n\
           gone: await reminders.get('r9'),\n\
         };",
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.result,
        json!({
            "equalsTo": ["r3"],
            "between": ["r2", "r3", "r4"],
            "greaterThan": ["r7", "r8"],
            "lessThanEqualTo": ["r0", "r1", "r2"],
            "otherType": "Invalid condition value \"a\" for attribute 'ts' of entity 'reminder': it is of type integer",
            "beginsWith": ["r1"],
            "ascending": [["r0", "r2"], ["r4", "r6"], ["r8"]],
            "descending": [["r8", "r6"], ["r4", "r2"], ["r0"]],
            "open": [["r5", "r6"], true],
            "one": {"day": "tue", "ts": 10, "text": "note 1", "done": true},
        })
    );
    let bad_cursor =
        on_memory_entities("await reminders.query().index('ts').cursor('not a cursor').getMany()")
            .await;
    assert_eq!(
        bad_cursor.error.unwrap().message,
        "Error: storage failed: invalid entity query cursor"
    );
}

#[test]
fn entity_declarations_that_cannot_work_are_refused() {
    let refused = |declaration: Value| {
        let declarations: Vec<runtime::EntityDeclaration> =
            serde_json::from_value(json!([declaration])).unwrap();
        runtime::EntityCatalog::new(declarations)
            .unwrap_err()
            .to_string()
    };
    let attributes = json!({"ts": {"type": "integer"}, "blob": {"type": "any"}});
    assert!(
        refused(json!({"name": "RE", "attributes": {}})).starts_with("invalid entity name 'RE'")
    );
    assert_eq!(
        refused(json!({"name": "reminder", "attributes": attributes, "indexes": ["day"]})),
        "entity 'reminder': index 'day' uses attribute 'day', which is not declared (declared: 'blob', 'ts')"
    );
    assert_eq!(
        refused(json!({"name": "reminder", "attributes": attributes, "indexes": ["blob"]})),
        "entity 'reminder': index 'blob' uses attribute 'blob' of type any; indexes use string, integer, float or boolean attributes"
    );
    assert_eq!(
        refused(json!({"name": "reminder", "attributes": attributes,
            "indexes": [{"name": "two", "range": ["ts", "ts"]}]})),
        "entity 'reminder': index 'two' has 2 range attributes; an index has exactly one"
    );
    assert_eq!(
        refused(json!({"name": "reminder", "attributes": attributes, "indexes": ["ts", "ts"]})),
        "entity 'reminder': index 'ts' is declared twice"
    );
}
