//! The `route` tagged template, rule by rule (FORGE-API §2), and the Route check
//! of product requests.

mod common;

use common::result;
use serde_json::{Value, json};

const PATH_MANIPULATION: &str = "Disallowing path manipulation attempt. For more information see: https://go.atlassian.com/product-fetch-api-route";
const ROUTE_REQUIRED: &str =
    "You must create your route using the 'route' export from '@forge/api'.";

/// Evaluates each expression in one run; each becomes `{ "ok": value }` or
/// `{ "error": "Name: message" }`.
async fn evaluate(expressions: &[&str]) -> Vec<Value> {
    let cases: Vec<String> = expressions
        .iter()
        .map(|expression| {
            format!(
                "await (async () => {{ try {{ const v = await ({expression}); return {{ ok: v && v.value !== undefined ? v.value : v }} }} \
                 catch (e) {{ return {{ error: e.name + ': ' + e.message }} }} }})()"
            )
        })
        .collect();
    let script = format!(
        "import {{ route, assumeTrustedRoute, routeFromAbsolute }} from '@forge/api';\nreturn [\n{}\n];",
        cases.join(",\n")
    );
    let value = result(&script).await;
    value.as_array().expect("an array").clone()
}

fn ok(value: &str) -> Value {
    json!({ "ok": value })
}

fn error(message: &str) -> Value {
    json!({ "error": message })
}

#[tokio::test]
async fn path_values_are_inserted_raw() {
    let results = evaluate(&[
        "route`/rest/api/3/issue/${'ABC-1'}`",
        "route`/a/${'a b'}/${':'}/${'&'}/${'ünï'}`",
        "route`/n/${42}/${true}/${null}/${undefined}`",
        "route`/o/${{}}`",
        "route`/dots/${'a.b'}/${'.'}/${'%2e'}/${'v1.2'}`",
        "route`/plain`",
        "route``",
    ])
    .await;
    assert_eq!(
        results,
        [
            ok("/rest/api/3/issue/ABC-1"),
            ok("/a/a b/:/&/ünï"),
            ok("/n/42/true/null/undefined"),
            ok("/o/[object Object]"),
            ok("/dots/a.b/./%2e/v1.2"),
            ok("/plain"),
            ok(""),
        ]
    );
}

#[tokio::test]
async fn path_manipulation_is_refused() {
    let attempts = [
        "'a/b'", "'a\\\\b'", "'a?b'", "'a#b'", "'..'", "'v1..2'", "'...'", "'.%2e'", "'%2e.'",
        "'%2e%2e'", "'%2E%2E'", "'.%2E'", "'%2E.'", "'x/../y'",
    ];
    let expressions: Vec<String> = attempts
        .iter()
        .map(|value| format!("route`/rest/${{{value}}}`"))
        .collect();
    let refs: Vec<&str> = expressions.iter().map(String::as_str).collect();
    let results = evaluate(&refs).await;
    for (attempt, outcome) in attempts.iter().zip(results) {
        assert_eq!(
            outcome,
            error(&format!("Error: {PATH_MANIPULATION}")),
            "{attempt}"
        );
    }
}

#[tokio::test]
async fn routes_splice_into_paths_as_they_are() {
    let results = evaluate(&[
        "route`/rest/${route`api/3/${'x'}`}/issue`",
        "route`/wiki/${assumeTrustedRoute('a/../b')}`",
    ])
    .await;
    assert_eq!(results, [ok("/rest/api/3/x/issue"), ok("/wiki/a/../b")]);
}

#[tokio::test]
async fn a_question_mark_or_hash_in_a_literal_switches_to_query_position() {
    let results = evaluate(&[
        "route`/search?jql=${'project = A & b'}&max=${50}`",
        "route`/x/${'id'}?a=${'1/2'}&b=${'..'}&c=${'#?'}`",
        "route`/page#${'sec tion'}`",
        "route`/a?${'k'}=${'v w'}`",
        "route`/a/${'p'}/b?`",
        "route`?${'ä'}`",
    ])
    .await;
    assert_eq!(
        results,
        [
            ok("/search?jql=project%20%3D%20A%20%26%20b&max=50"),
            ok("/x/id?a=1%2F2&b=..&c=%23%3F"),
            ok("/page#sec%20tion"),
            ok("/a?k=v%20w"),
            ok("/a/p/b?"),
            ok("?%C3%A4"),
        ]
    );
}

#[tokio::test]
async fn query_values_that_are_routes_or_search_params() {
    let results = evaluate(&[
        "route`/x?next=${route`/a b/c`}`",
        "(() => { globalThis.URLSearchParams = class { constructor(v) { this.v = v } toString() { return 'a=1&b=x+y' } };\n\
         return route`/x?${new URLSearchParams({ a: 1 })}`; })()",
        "route`/x?ok=${{ toString() { return 'a&b' } }}`",
    ])
    .await;
    assert_eq!(
        results,
        [
            ok("/x?next=%2Fa%20b%2Fc"),
            ok("/x?a=1&b=x+y"),
            ok("/x?ok=a%26b")
        ]
    );
}

#[tokio::test]
async fn a_value_containing_a_question_mark_does_not_switch_position() {
    let results = evaluate(&["route`/a?b=${'1'}/${'c?d'}`", "route`/a/${'c?d'}?b=${'1'}`"]).await;
    assert_eq!(
        results,
        [
            ok("/a?b=1/c%3Fd"),
            error(&format!("Error: {PATH_MANIPULATION}"))
        ]
    );
}

#[tokio::test]
async fn trusted_and_absolute_routes() {
    let results = evaluate(&[
        "assumeTrustedRoute('/rest/../anything?x=/y')",
        "assumeTrustedRoute(5)",
        "routeFromAbsolute('https://acme.atlassian.net/rest/api/3/issue/A-1?expand=names#frag')",
        "routeFromAbsolute('https://acme.atlassian.net')",
        "routeFromAbsolute('https://acme.atlassian.net?x=1')",
        "routeFromAbsolute('/relative')",
    ])
    .await;
    assert_eq!(
        results,
        [
            ok("/rest/../anything?x=/y"),
            ok("5"),
            ok("/rest/api/3/issue/A-1?expand=names"),
            ok("/"),
            ok("/?x=1"),
            error("TypeError: routeFromAbsolute needs an absolute URL, not \"/relative\""),
        ]
    );
}

#[tokio::test]
async fn route_must_be_used_as_a_tag() {
    let results = evaluate(&["route('/rest/api/3/myself')"]).await;
    assert_eq!(
        results,
        [error(
            "TypeError: route is a tagged template: write route`/rest/api/3/issue/${key}`"
        )]
    );
}

#[tokio::test]
async fn product_requests_take_only_routes() {
    let results = evaluate(&[
        "api.asApp().requestJira('/rest/api/3/myself')",
        "api.requestConfluence({ value: '/wiki/api/v2/pages' })",
        "api.asUser().requestJira(new String('/x'))",
        "api.requestBitbucket(undefined)",
    ])
    .await;
    for outcome in results {
        assert_eq!(outcome, error(&format!("Error: {ROUTE_REQUIRED}")));
    }
}

#[tokio::test]
async fn route_objects_cannot_be_forged_or_changed() {
    let script = "const r = route`/a/${'b'}`;\n\
                  try { r.value = '/evil' } catch (e) {}\n\
                  return [r.value, Object.isFrozen(r)]";
    assert_eq!(result(script).await, json!(["/a/b", true]));
}

#[tokio::test]
async fn control_characters_in_path_values_are_refused() {
    // The URL parser drops tab, LF and CR: `.\t.` would be sent as `..`.
    let mut attempts: Vec<String> = (0u32..0x20)
        .chain([0x7f])
        .flat_map(|c| [format!("'.\\u{{{c:04x}}}.'"), format!("'ok\\u{{{c:04x}}}'")])
        .collect();
    attempts.push("'%09'".into());
    attempts.push("'.%0a.'".into());
    let expressions: Vec<String> = attempts
        .iter()
        .map(|value| format!("route`/rest/api/3/issue/${{{value}}}/comment`"))
        .collect();
    let refs: Vec<&str> = expressions.iter().map(String::as_str).collect();
    let results = evaluate(&refs).await;
    for (attempt, outcome) in attempts.iter().zip(results) {
        assert_eq!(
            outcome,
            error(&format!("Error: {PATH_MANIPULATION}")),
            "{attempt}"
        );
    }
}

#[tokio::test]
async fn look_alike_dots_are_refused_as_dots() {
    let attempts = [
        "'\\uff0e\\uff0e'",              // fullwidth full stop
        "'.\\uff0e'",                    // mixed
        "'\\u2024\\u2024'",              // one dot leader
        "'\\u2025'",                     // two dot leader
        "'\\u2026'",                     // horizontal ellipsis
        "'\\ufe52\\ufe52'",              // small full stop
        "'\\u3002\\u3002'",              // ideographic full stop
        "'\\uff61\\uff61'",              // halfwidth ideographic full stop
        "'%EF%BC%8E%EF%BC%8E'",          // fullwidth, percent-encoded
        "'%2e%u002e'.slice(0, 3) + '.'", // `%2e.` spelled another way
    ];
    let expressions: Vec<String> = attempts
        .iter()
        .map(|value| format!("route`/rest/api/3/issue/${{{value}}}/comment`"))
        .collect();
    let refs: Vec<&str> = expressions.iter().map(String::as_str).collect();
    let results = evaluate(&refs).await;
    for (attempt, outcome) in attempts.iter().zip(results) {
        assert_eq!(
            outcome,
            error(&format!("Error: {PATH_MANIPULATION}")),
            "{attempt}"
        );
    }
    // One look-alike dot inside a name is a name, as `v1.2` is.
    let results = evaluate(&["route`/x/${'v1\\uff0e2'}`"]).await;
    assert_eq!(results, [ok("/x/v1\u{ff0e}2")]);
}
