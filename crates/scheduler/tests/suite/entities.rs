//! Custom entities from scripts (`kvs.entity`, `storage.entity`) through
//! [`ScriptStorage`] on a real database: values, every where condition,
//! partitions, both sort orders, cursor paging, filters, and the errors a
//! script gets for what is not declared or does not fit.

use std::sync::Arc;

use runtime::{
    EntityCatalog, EntityDeclaration, KvStore, MemoryQueue, RunSpec, RunStatus, Services,
};
use scheduler::ScriptStorage;
use serde_json::{Value, json};

use crate::harness::TestEnv;

scheduler_tests! {
    values_are_set_read_and_deleted_and_must_fit_their_attributes,
    every_where_condition_walks_the_index,
    partitions_sorts_and_cursors_page_through_every_value,
    filters_keep_the_rows_that_meet_them,
    queries_that_do_not_fit_the_declaration_fail_clearly,
    a_newly_declared_index_holds_the_values_stored_before,
    a_script_catches_the_quota_error_of_an_entity_write_that_wrote_nothing,
}

fn catalog(indexes: Value) -> EntityCatalog {
    let declarations: Vec<EntityDeclaration> = serde_json::from_value(json!([{
        "name": "reminder",
        "attributes": {
            "day": {"type": "string"},
            "ts": {"type": "integer"},
            "score": {"type": "float"},
            "done": {"type": "boolean"},
            "text": {"type": "string"},
            "tags": {"type": "any"},
        },
        "indexes": indexes,
    }]))
    .unwrap();
    EntityCatalog::new(declarations).unwrap()
}

fn reminder_indexes() -> Value {
    json!([
        "ts",
        "text",
        {"name": "by-day", "partition": ["day"], "range": ["ts"]},
    ])
}

/// Declares `catalog` in the test's database and runs `script` with it.
async fn run(env: &TestEnv, catalog: &EntityCatalog, script: &str) -> runtime::Outcome {
    run_on(env, env.store.clone(), catalog, script).await
}

/// As [`run`], through `store` (the test's database with other settings).
async fn run_on(
    env: &TestEnv,
    store: store::Store,
    catalog: &EntityCatalog,
    script: &str,
) -> runtime::Outcome {
    let storage = Arc::new(ScriptStorage::new(store));
    storage.entity_declare(catalog).await.unwrap();
    let mut spec = RunSpec::new(script);
    spec.services = Services {
        kv: storage,
        entities: Arc::new(catalog.clone()),
        queue: Arc::new(MemoryQueue::new()),
        http: None,
    };
    env.executor.start(spec).outcome().await
}

async fn result(env: &TestEnv, script: &str) -> Value {
    let outcome = run(env, &catalog(reminder_indexes()), script).await;
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "{:?} {:?}",
        outcome.error,
        outcome.logs
    );
    outcome.result
}

async fn failure(env: &TestEnv, script: &str) -> String {
    let outcome = run(env, &catalog(reminder_indexes()), script).await;
    assert_eq!(outcome.status, RunStatus::Failed, "{}", outcome.result);
    outcome.error.unwrap().message
}

/// Stores reminders r0..r9: ts = 10 * i, day mon (even i) or tue (odd i),
/// text "note i", score i / 2, done for i < 5.
const SEED: &str = "import { kvs, WhereConditions, FilterConditions, Sort } from '@forge/kvs';\n\
    const reminders = kvs.entity('reminder');\n\
    for (let i = 0; i < 10; i++) {\n\
      await reminders.set('r' + i, { day: i % 2 ? 'tue' : 'mon', ts: 10 * i, text: 'note ' + i, score: i / 2, done: i < 5 });\n\
    }\n\
    const keys = (page) => page.results.map((r) => r.key);\n";

async fn values_are_set_read_and_deleted_and_must_fit_their_attributes(env: TestEnv) {
    let script = "import { kvs } from '@forge/kvs';\n\
        import { storage } from '@forge/api';\n\
        const r = kvs.entity('reminder');\n\
        await r.set('a', { day: 'mon', ts: 5, tags: [1, { any: 'thing' }] });\n\
        const back = await r.get('a');\n\
        const viaStorage = await storage.entity('reminder').get('a');\n\
        const plainKv = await kvs.get('a');\n\
        await r.delete('a');\n\
        await r.delete('a');\n\
        return { back, viaStorage, plainKv: plainKv === undefined, gone: (await r.get('a')) === undefined };";
    assert_eq!(
        result(&env, script).await,
        json!({
            "back": {"day": "mon", "ts": 5, "tags": [1, {"any": "thing"}]},
            "viaStorage": {"day": "mon", "ts": 5, "tags": [1, {"any": "thing"}]},
            "plainKv": true,
            "gone": true,
        })
    );
    let cases = [
        (
            "await kvs.entity('remind').set('a', { ts: 1 })",
            "Entity 'remind' is not declared (declared entities: 'reminder'); declare it under [[entities]] in clockwork.toml",
        ),
        (
            "await kvs.entity('reminder').set('a', { ts: 1, colour: 'red' })",
            "Entity 'reminder' has no attribute 'colour' (declared: 'day', 'done', 'score', 'tags', 'text', 'ts')",
        ),
        (
            "await kvs.entity('reminder').set('a', { ts: 1.5 })",
            "Attribute 'ts' of entity 'reminder' is of type integer, not 1.5",
        ),
        (
            "await kvs.entity('reminder').set('a', { done: 'yes' })",
            "Attribute 'done' of entity 'reminder' is of type boolean, not \"yes\"",
        ),
        (
            "await kvs.entity('reminder').set('a', 5)",
            "Value for key \"a\" of entity 'reminder' must be an object of its attributes",
        ),
        (
            "await kvs.entity('reminder').set('a/b', {})",
            "Invalid key \"a/b\"",
        ),
    ];
    for (call, expected) in cases {
        let script = format!("import {{ kvs }} from '@forge/kvs';\n{call}");
        let message = failure(&env, &script).await;
        assert!(message.contains(expected), "{call}: {message}");
    }
}

async fn every_where_condition_walks_the_index(env: TestEnv) {
    let script = format!(
        "{SEED}\
        const byTs = (c) => reminders.query().index('ts').where(c).limit(100).getMany().then(keys);\n\
        return {{\n\
          equalsTo: await byTs(WhereConditions.equalsTo(30)),\n\
          between: await byTs(WhereConditions.between(20, 40)),\n\
          greaterThan: await byTs(WhereConditions.greaterThan(70)),\n\
          greaterThanEqualTo: await byTs(WhereConditions.greaterThanEqualTo(70)),\n\
          lessThan: await byTs(WhereConditions.lessThan(20)),\n\
          lessThanEqualTo: await byTs(WhereConditions.lessThanEqualTo(20)),\n\
          beginsWith: await reminders.query().index('text').where(WhereConditions.beginsWith('note 1')).getMany().then(keys),\n\
          none: await byTs(WhereConditions.greaterThan(1000)),\n\
          all: await reminders.query().index('ts').getMany().then(keys),\n\
        }};"
    );
    assert_eq!(
        result(&env, &script).await,
        json!({
            "equalsTo": ["r3"],
            "between": ["r2", "r3", "r4"],
            "greaterThan": ["r8", "r9"],
            "greaterThanEqualTo": ["r7", "r8", "r9"],
            "lessThan": ["r0", "r1"],
            "lessThanEqualTo": ["r0", "r1", "r2"],
            "beginsWith": ["r1"],
            "none": [],
            "all": ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"],
        })
    );
}

async fn partitions_sorts_and_cursors_page_through_every_value(env: TestEnv) {
    let script = format!(
        "{SEED}\
        async function pages(order) {{\n\
          const seen = [];\n\
          let cursor;\n\
          let calls = 0;\n\
          do {{\n\
            const page = await reminders.query().index('by-day', {{ partition: ['mon'] }}).sort(order).cursor(cursor).limit(2).getMany();\n\
            seen.push(keys(page));\n\
            cursor = page.nextCursor;\n\
            calls++;\n\
          }} while (cursor !== undefined && calls < 10);\n\
          return seen;\n\
        }}\n\
        const firstTue = await reminders.query().index('by-day', {{ partition: ['tue'] }}).where(WhereConditions.lessThan(50)).sort(Sort.DESC).getOne();\n\
        return {{ asc: await pages(Sort.ASC), desc: await pages(Sort.DESC), firstTue }};"
    );
    assert_eq!(
        result(&env, &script).await,
        json!({
            "asc": [["r0", "r2"], ["r4", "r6"], ["r8"]],
            "desc": [["r8", "r6"], ["r4", "r2"], ["r0"]],
            "firstTue": {"key": "r3", "value": {"day": "tue", "ts": 30, "text": "note 3", "score": 1.5, "done": true}},
        })
    );
}

async fn filters_keep_the_rows_that_meet_them(env: TestEnv) {
    let script = format!(
        "{SEED}\
        await reminders.set('tagged', {{ ts: 100, tags: ['a', 'b'], text: 'tagged' }});\n\
        const q = () => reminders.query().index('ts').limit(100);\n\
        return {{\n\
          and: await q().andFilter('done', FilterConditions.equalsTo(true)).andFilter('day', FilterConditions.notEqualTo('mon')).getMany().then(keys),\n\
          or: await q().orFilter('score', FilterConditions.greaterThan(4)).orFilter('text', FilterConditions.beginsWith('note 0')).getMany().then(keys),\n\
          between: await q().andFilter('score', FilterConditions.between(1, 2)).getMany().then(keys),\n\
          contains: await q().andFilter('text', FilterConditions.contains('te 7')).getMany().then(keys),\n\
          containsItem: await q().andFilter('tags', FilterConditions.contains('b')).getMany().then(keys),\n\
          notContains: await q().andFilter('tags', FilterConditions.notContains('z')).getMany().then(keys),\n\
          exists: await q().andFilter('tags', FilterConditions.exists()).getMany().then(keys),\n\
          notExists: await q().andFilter('day', FilterConditions.notExists()).getMany().then(keys),\n\
          lessThanEqualTo: await q().andFilter('score', FilterConditions.lessThanEqualTo(0.5)).getMany().then(keys),\n\
          pagedPastRejected: await q().andFilter('done', FilterConditions.equalsTo(false)).limit(2).getMany(),\n\
        }};"
    );
    let outcome = result(&env, &script).await;
    assert_eq!(outcome["and"], json!(["r1", "r3"]));
    assert_eq!(outcome["or"], json!(["r0", "r9"]));
    assert_eq!(outcome["between"], json!(["r2", "r3", "r4"]));
    assert_eq!(outcome["contains"], json!(["r7"]));
    assert_eq!(outcome["containsItem"], json!(["tagged"]));
    assert_eq!(outcome["notContains"], json!(["tagged"]));
    assert_eq!(outcome["exists"], json!(["tagged"]));
    assert_eq!(outcome["notExists"], json!(["tagged"]));
    assert_eq!(outcome["lessThanEqualTo"], json!(["r0", "r1"]));
    let paged = &outcome["pagedPastRejected"];
    let keys: Vec<&str> = paged["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["r5", "r6"]);
    assert!(paged["nextCursor"].is_string());
}

async fn queries_that_do_not_fit_the_declaration_fail_clearly(env: TestEnv) {
    let cases = [
        (
            "kvs.entity('reminder').query().getMany()",
            "A query on entity 'reminder' needs .index(name)",
        ),
        (
            "kvs.entity('reminder').query().index('by-week').getMany()",
            "Entity 'reminder' has no index 'by-week' (declared indexes: 'ts', 'text', 'by-day')",
        ),
        (
            "kvs.entity('reminder').query().index('by-day').getMany()",
            "Index 'by-day' of entity 'reminder' is partitioned by [day]",
        ),
        (
            "kvs.entity('reminder').query().index('by-day', { partition: [3] }).getMany()",
            "Invalid partition value 3 for attribute 'day' of entity 'reminder': it is of type string",
        ),
        (
            "kvs.entity('reminder').query().index('ts').where(WhereConditions.lessThan('soon')).getMany()",
            "Invalid condition value \"soon\" for attribute 'ts' of entity 'reminder': it is of type integer",
        ),
        (
            "kvs.entity('reminder').query().index('ts').where(WhereConditions.beginsWith('1')).getMany()",
            "beginsWith needs a string range attribute; 'ts' of entity 'reminder' is of type integer",
        ),
        (
            "kvs.entity('reminder').query().index('ts').where(FilterConditions.contains(1)).getMany()",
            "where() takes a WhereConditions condition",
        ),
        (
            "kvs.entity('reminder').query().index('ts').sort('UP').getMany()",
            "Invalid sort \"UP\": use Sort.ASC or Sort.DESC",
        ),
        (
            "kvs.entity('reminder').query().index('ts').andFilter('colour', FilterConditions.exists()).getMany()",
            "Entity 'reminder' has no attribute 'colour' to filter on",
        ),
        (
            "kvs.entity('reminder').query().index('ts').andFilter('ts', FilterConditions.exists()).orFilter('ts', FilterConditions.exists())",
            "a query uses andFilter or orFilter, not both",
        ),
        (
            "kvs.entity('reminder').query().index('ts').limit(101).getMany()",
            "Invalid limit 101",
        ),
        (
            "kvs.entity('reminder').query().index('ts').cursor('forged').getMany()",
            "invalid cursor: pass a nextCursor of this query",
        ),
    ];
    for (call, expected) in cases {
        let script = format!(
            "import {{ kvs, WhereConditions, FilterConditions }} from '@forge/kvs';\nawait {call};"
        );
        let message = failure(&env, &script).await;
        assert!(message.contains(expected), "{call}: {message}");
    }
}

async fn a_newly_declared_index_holds_the_values_stored_before(env: TestEnv) {
    let before = catalog(json!(["ts"]));
    let stored = run(&env, &before, SEED).await;
    assert_eq!(stored.status, RunStatus::Succeeded, "{:?}", stored.error);
    // The declaration gains an index on score: it is built from r0..r9.
    let after = catalog(json!(["ts", {"name": "by-score", "range": ["score"]}]));
    let script = "import { kvs, WhereConditions, Sort } from '@forge/kvs';\n\
        const page = await kvs.entity('reminder').query().index('by-score')\
          .where(WhereConditions.greaterThanEqualTo(3.5)).sort(Sort.DESC).getMany();\n\
        return page.results.map((r) => r.key);";
    let outcome = run(&env, &after, script).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.result, json!(["r9", "r8", "r7"]));
}

async fn a_script_catches_the_quota_error_of_an_entity_write_that_wrote_nothing(env: TestEnv) {
    let store = env.store.clone().with_storage_quota(store::StorageQuota {
        max_keys: Some(2),
        max_bytes: None,
    });
    let script = "const r = kvs.entity('reminder');\n\
                  await kvs.set('a', 1);\n\
                  await r.set('first', { day: 'mon', ts: 1 });\n\
                  let message;\n\
                  try { await r.set('second', { day: 'mon', ts: 2 }); } \
                  catch (e) { message = e.message; }\n\
                  const found = await r.query().index('ts').getMany();\n\
                  await r.delete('first');\n\
                  await r.set('third', { day: 'tue', ts: 3 });\n\
                  return { message, second: await r.get('second') ?? null, \
                  keys: found.results.map(x => x.key) }";
    let outcome = run_on(&env, store, &catalog(reminder_indexes()), script).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let message = outcome.result["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("storage quota exceeded: ")
            && message.contains("from 2 to 3 keys, above the limit of 2 keys")
            && message.contains("custom entity values")
            && message.contains("[limits] storage_keys"),
        "{message}"
    );
    assert_eq!(outcome.result["second"], json!(null));
    assert_eq!(outcome.result["keys"], json!(["first"]));
    assert_eq!(
        env.store.entity_get("reminder", "third").await.unwrap(),
        Some(json!({"day": "tue", "ts": 3}))
    );
}
