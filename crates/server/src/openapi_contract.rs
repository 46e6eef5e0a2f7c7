//! Completes the generated OpenAPI document into the contract the server
//! keeps, so that a client (or a contract tester such as schemathesis)
//! can rely on it: every response described, every operation id unique,
//! the answers every body or query can get (400, 413, 415, 422, 503)
//! listed, and the bounds the server checks (lengths, ranges, patterns,
//! either-or fields) declared on the schemas they concern.
//!
//! The bounds are data (`openapi_contract.json`): one list to review
//! against the checks they mirror (`store::JobSpec::check`, the users',
//! sites', channels' and queries' checks), which live in the store and the
//! handlers rather than on the documented types. `tests/http_basics.rs`
//! and `scripts/api-contract-tests` hold them to what the server answers.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// The declared bounds: `properties` (merged into a schema's property),
/// `schemas` (merged into a schema), `parameters` (merged into a named
/// parameter's schema of an operation, keyed `"method path"`) and
/// `operations` (merged into an operation).
const CONSTRAINTS: &str = include_str!("openapi_contract.json");

/// What the server can know only when it starts: the `run_as` names the
/// configuration defines (`None`: any name is accepted).
#[derive(Debug, Default, Clone)]
pub(crate) struct Facts<'a> {
    pub run_as_names: Option<&'a [String]>,
}

/// Turns the generated document into the served contract.
pub(crate) fn complete(document: &mut Value, facts: &Facts<'_>) {
    // The file is part of the source; a broken one fails the tests that
    // read the document, not a running server.
    let constraints: Value = serde_json::from_str(CONSTRAINTS).unwrap_or(Value::Null);
    declare_constraints(document, &constraints);
    declare_job_patch(document);
    declare_run_as(document, facts);
    name_operations_uniquely(document);
    list_common_answers(document);
    describe_every_response(document);
}

/// Merges `patch` into `target` as a JSON merge patch (RFC 7396) does:
/// objects member by member, `null` removing a member, anything else
/// (arrays too) replacing it.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn entries(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flatten()
}

fn declare_constraints(document: &mut Value, constraints: &Value) {
    for (schema, properties) in entries(&constraints["properties"]) {
        for (property, patch) in entries(properties) {
            if let Some(target) = document.pointer_mut(&format!(
                "/components/schemas/{schema}/properties/{property}"
            )) {
                merge(target, patch);
            }
        }
    }
    for (schema, patch) in entries(&constraints["schemas"]) {
        if let Some(target) = document.pointer_mut(&format!("/components/schemas/{schema}")) {
            merge(target, patch);
        }
    }
    for (key, parameters) in entries(&constraints["parameters"]) {
        let Some(operation) = operation_mut(document, key) else {
            continue;
        };
        for parameter in operation["parameters"].as_array_mut().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap_or_default().to_owned();
            if let Some(patch) = parameters.get(&name) {
                merge(&mut parameter["schema"], patch);
            }
        }
    }
    for (key, patch) in entries(&constraints["operations"]) {
        if let Some(operation) = operation_mut(document, key) {
            merge(operation, patch);
        }
    }
}

/// The operation keyed `"method path"`.
fn operation_mut<'a>(document: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let (method, path) = key.split_once(' ')?;
    document.get_mut("paths")?.get_mut(path)?.get_mut(method)
}

/// `PATCH /jobs/{job}` takes a merge patch of the fields a job is written
/// with: the same properties as `JobInput`, none required, no others.
fn declare_job_patch(document: &mut Value) {
    let properties = document
        .pointer("/components/schemas/JobInput/properties")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(operation) = operation_mut(document, "patch /api/v1/jobs/{job}") {
        merge(
            &mut operation["requestBody"]["content"]["application/merge-patch+json"]["schema"],
            &json!({"type": "object", "additionalProperties": false, "properties": properties}),
        );
    }
}

/// A job's `run_as` must name a credential the configuration defines.
fn declare_run_as(document: &mut Value, facts: &Facts<'_>) {
    let Some(names) = facts.run_as_names else {
        return;
    };
    let mut allowed: Vec<Value> = names.iter().map(|name| json!(name)).collect();
    allowed.push(Value::Null);
    for schema in ["JobInput"] {
        if let Some(run_as) =
            document.pointer_mut(&format!("/components/schemas/{schema}/properties/run_as"))
        {
            merge(run_as, &json!({"enum": allowed}));
        }
    }
}

/// Handlers in different modules share names (`list`, `get`); their ids
/// get the path's fixed segments in front (`jobs_runs_list`).
fn name_operations_uniquely(document: &mut Value) {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for_each_operation(document, |_, _, operation| {
        if let Some(id) = operation["operationId"].as_str() {
            *uses.entry(id.to_owned()).or_default() += 1;
        }
    });
    for_each_operation(document, |path, _, operation| {
        let Some(id) = operation["operationId"].as_str() else {
            return;
        };
        if uses.get(id).copied().unwrap_or(0) > 1 {
            let mut parts: Vec<&str> = path
                .split('/')
                .skip(3) // "", "api", "v1"
                .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
                .collect();
            parts.push(id);
            operation["operationId"] = json!(parts.join("_"));
        }
    });
}

/// The answers any operation of a kind can give, from the extractors and
/// the store rather than the handler: a JSON body can be malformed (400),
/// too large (413), not JSON (415) or of the wrong shape (422); a query
/// can be invalid (422); the database can be unavailable (503).
fn list_common_answers(document: &mut Value) {
    for_each_operation(document, |_, _, operation| {
        let has_body = operation.get("requestBody").is_some();
        let has_query = operation["parameters"]
            .as_array()
            .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "query"));
        let mut codes = vec!["503"];
        if has_body {
            codes.extend(["400", "413", "415", "422"]);
        }
        if has_query {
            codes.push("422");
        }
        let responses = &mut operation["responses"];
        for code in codes {
            if responses.get(code).is_none() {
                responses[code] = problem_answer(code);
            }
        }
    });
}

fn problem_answer(code: &str) -> Value {
    json!({
        "description": description(code),
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    })
}

/// OpenAPI requires a description on every response.
fn describe_every_response(document: &mut Value) {
    for_each_operation(document, |_, _, operation| {
        for (code, response) in operation["responses"].as_object_mut().into_iter().flatten() {
            if response.get("description").is_none() {
                response["description"] = json!(description(code));
            }
        }
    });
}

fn description(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done; no content",
        "304" => "Not modified since the `ETag` sent",
        "400" => "The body is not valid JSON",
        "401" => "No valid credential: sign in or send `Authorization: Bearer <token>`",
        "403" => "The caller's role may not do this, or the session's CSRF token is missing",
        "404" => "Not found",
        "409" => "Conflicts with the current state",
        "412" => "The `If-Match` version is not the current one",
        "413" => "The body is larger than the limit",
        "415" => "The body is not declared as JSON (`Content-Type: application/json`)",
        "422" => "A field or parameter is invalid; `errors` names each",
        "429" => "Too many attempts; retry after `Retry-After` seconds",
        "503" => "A part this needs (the database, the scheduler) is unavailable",
        _ => "See the problem document",
    }
}

fn for_each_operation(document: &mut Value, mut visit: impl FnMut(&str, &str, &mut Value)) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
            ) {
                visit(path, method, operation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constraints_file_is_json_naming_only_known_sections() {
        let constraints: Value = serde_json::from_str(CONSTRAINTS).expect("valid JSON");
        let sections: Vec<&String> = constraints
            .as_object()
            .expect("an object")
            .keys()
            .filter(|key| !key.starts_with('_'))
            .collect();
        for section in sections {
            assert!(
                ["properties", "schemas", "parameters", "operations"].contains(&section.as_str()),
                "unknown section {section}"
            );
        }
    }

    #[test]
    fn shared_operation_ids_get_their_path_in_front() {
        let mut document = json!({"paths": {
            "/api/v1/jobs": {"get": {"operationId": "list", "responses": {}}},
            "/api/v1/jobs/{job}/runs": {"get": {"operationId": "list", "responses": {}}},
            "/api/v1/users": {"get": {"operationId": "list_users", "responses": {}}},
        }});
        name_operations_uniquely(&mut document);
        assert_eq!(
            document["paths"]["/api/v1/jobs"]["get"]["operationId"],
            "jobs_list"
        );
        assert_eq!(
            document["paths"]["/api/v1/jobs/{job}/runs"]["get"]["operationId"],
            "jobs_runs_list"
        );
        assert_eq!(
            document["paths"]["/api/v1/users"]["get"]["operationId"],
            "list_users"
        );
    }

    #[test]
    fn merge_replaces_leaves_and_merges_objects() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1});
        merge(
            &mut target,
            &json!({"a": {"b": 3}, "d": [2, null], "e": null}),
        );
        assert_eq!(target, json!({"a": {"b": 3, "c": 2}, "d": [2, null]}));
    }
}
