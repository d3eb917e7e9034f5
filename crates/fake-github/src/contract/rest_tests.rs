//! REST checks against GitHub's description.

use serde_json::{json, Value};

use super::{check_request, check_response, operation_id, Violation, MAX_VIOLATIONS};

/// GitHub's own example of an `issue` (see `tests/fixtures/github-contract/SOURCES.md`).
const ISSUE_EXAMPLE: &str =
    include_str!("../../../../tests/fixtures/github-contract/issue.example.json");

fn issue_example() -> Value {
    serde_json::from_str(ISSUE_EXAMPLE).unwrap()
}

fn refused(method: &str, path: &str, query: &str, body: Option<&Value>) -> Vec<Violation> {
    match check_request(method, path, query, body) {
        Ok(op) => panic!("{method} {path}?{query} passed as {}", op.operation_id),
        Err(violations) => violations,
    }
}

fn names(violations: &[Violation], at: &str, message: &str) -> bool {
    violations
        .iter()
        .any(|v| v.at == at && v.message.contains(message))
}

fn pull_body() -> Value {
    json!({"title": "Fix", "head": "bosun/issue-7", "base": "main", "body": "Closes #7", "draft": false})
}

#[test]
fn a_valid_pull_request_body_passes() {
    let op = check_request("POST", "/repos/o/r/pulls", "", Some(&pull_body())).unwrap();
    assert_eq!(op.operation_id, "pulls/create");
    assert_eq!(op.path, "/repos/{owner}/{repo}/pulls");
}

#[test]
fn a_string_draft_is_named() {
    let mut body = pull_body();
    body["draft"] = json!("yes");
    let violations = refused("POST", "/repos/o/r/pulls", "", Some(&body));
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        violations[0].at,
        "POST /repos/{owner}/{repo}/pulls request body /draft"
    );
    assert_eq!(violations[0].message, "`\"yes\"` is not a boolean");
    assert_eq!(
        violations[0].to_string(),
        "POST /repos/{owner}/{repo}/pulls request body /draft: `\"yes\"` is not a boolean"
    );
}

#[test]
fn a_missing_head_is_named() {
    let mut body = pull_body();
    body.as_object_mut().unwrap().remove("head");
    let violations = refused("POST", "/repos/o/r/pulls", "", Some(&body));
    assert!(
        names(
            &violations,
            "POST /repos/{owner}/{repo}/pulls request body /head",
            "required property `head` is missing"
        ),
        "{violations:?}"
    );
}

#[test]
fn per_page_above_100_is_refused() {
    let violations = refused("GET", "/repos/o/r/issues", "per_page=101", None);
    assert!(
        names(
            &violations,
            "GET /repos/{owner}/{repo}/issues query parameter `per_page`",
            "above the maximum 100"
        ),
        "{violations:?}"
    );
    assert!(check_request("GET", "/repos/o/r/issues", "per_page=100", None).is_ok());
}

#[test]
fn an_unknown_query_parameter_is_named() {
    let violations = refused("GET", "/repos/o/r/issues", "state=open&bogus=1", None);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].message.contains("`bogus`"), "{violations:?}");
}

#[test]
fn declared_query_parameters_pass() {
    let query = "creator=x&state=all&sort=created&direction=desc&per_page=100";
    let op = check_request("GET", "/repos/o/r/issues", query, None).unwrap();
    assert_eq!(op.operation_id, "issues/list-for-repo");
    // The leading `?` and percent-encoding are accepted.
    assert!(check_request(
        "GET",
        "/repos/o/r/issues",
        "?creator=bosun%5Bbot%5D&page=2",
        None
    )
    .is_ok());
}

#[test]
fn query_values_must_fit_their_schema() {
    let violations = refused(
        "GET",
        "/repos/o/r/issues",
        "state=closed-ish&per_page=ten",
        None,
    );
    assert!(names(
        &violations,
        "GET /repos/{owner}/{repo}/issues query parameter `state`",
        "`\"closed-ish\"` is not one of open, closed, all"
    ));
    assert!(names(
        &violations,
        "GET /repos/{owner}/{repo}/issues query parameter `per_page`",
        "`ten` is not an integer"
    ));
}

#[test]
fn path_parameters_must_fit_their_schema() {
    let violations = refused("GET", "/repos/o/r/issues/seven", "", None);
    assert!(names(
        &violations,
        "GET /repos/{owner}/{repo}/issues/{issue_number} path parameter `issue_number`",
        "`seven` is not an integer"
    ));
    // Segments are percent-decoded before they are checked.
    assert!(check_request("GET", "/repos/o/r/issues/%31%32", "", None).is_ok());
    let op = check_request("GET", "/repos/o/r/labels/needs%20review", "", None).unwrap();
    assert_eq!(op.operation_id, "issues/get-label");
}

#[test]
fn paths_and_methods_outside_the_description_are_refused() {
    let violations = refused("GET", "/repos/o/r/hooks", "", None);
    assert_eq!(
        violations[0].message,
        "not an operation in GitHub's description"
    );
    let violations = refused("PUT", "/repos/o/r/pulls", "", None);
    assert!(
        violations[0].message.contains("GET, POST"),
        "{violations:?}"
    );
    assert_eq!(operation_id("PUT", "/repos/o/r/pulls"), None);
    assert_eq!(
        operation_id("get", "/repos/o/r/pulls/3/comments"),
        Some("pulls/list-review-comments")
    );
    // The most literal template wins over a parameter.
    assert_eq!(
        operation_id("GET", "/repos/o/r/issues/comments/9"),
        Some("issues/get-comment")
    );
}

#[test]
fn multi_segment_parameters_span_slashes() {
    for path in [
        "/repos/o/r/contents/docs/guide/setup.md",
        "/repos/o/r/contents/README.md",
        "/repos/o/r/contents",
        "/repos/o/r/contents/",
    ] {
        assert_eq!(
            operation_id("GET", path),
            Some("repos/get-content"),
            "{path}"
        );
    }
    assert_eq!(
        operation_id("GET", "/repos/o/r/git/ref/heads/feature/x"),
        Some("git/get-ref")
    );
    assert_eq!(
        operation_id("DELETE", "/repos/o/r/git/refs/heads/bosun/7"),
        Some("git/delete-ref")
    );
    assert_eq!(
        operation_id("GET", "/repos/o/r/commits/heads/a/b/check-runs"),
        Some("checks/list-for-ref")
    );
    // A one-segment parameter does not.
    assert_eq!(operation_id("GET", "/repos/o/r/issues/1/2"), None);
}

#[test]
fn bodies_must_be_sent_where_declared_and_only_there() {
    let violations = refused("GET", "/repos/o/r/issues/1", "", Some(&json!({})));
    assert!(
        violations[0].message.contains("takes no request body"),
        "{violations:?}"
    );
    let violations = refused("POST", "/repos/o/r/issues", "", None);
    assert_eq!(
        violations[0].at,
        "POST /repos/{owner}/{repo}/issues request body"
    );
    assert_eq!(violations[0].message, "a request body is required");
    // `issues/update` declares an optional body.
    assert!(check_request("PATCH", "/repos/o/r/issues/1", "", None).is_ok());
}

#[test]
fn a_nullable_enum_takes_null_but_not_other_values() {
    let ok = json!({"state": "closed", "state_reason": null});
    assert!(check_request("PATCH", "/repos/o/r/issues/1", "", Some(&ok)).is_ok());
    let bad = json!({"state": "closed", "state_reason": "meh"});
    let violations = refused("PATCH", "/repos/o/r/issues/1", "", Some(&bad));
    assert_eq!(
        violations[0].at,
        "PATCH /repos/{owner}/{repo}/issues/{issue_number} request body /state_reason"
    );
    assert!(
        violations[0]
            .message
            .starts_with("`\"meh\"` is not one of completed"),
        "{violations:?}"
    );
}

#[test]
fn one_of_reports_the_closest_alternative_or_a_summary() {
    let body = json!({"title": "t", "labels": ["bug", {"name": 5}, true]});
    let violations = refused("POST", "/repos/o/r/issues", "", Some(&body));
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert_eq!(
        violations[0].at,
        "POST /repos/{owner}/{repo}/issues request body /labels/1/name"
    );
    assert_eq!(violations[0].message, "`5` is not a string");
    assert_eq!(
        violations[1].at,
        "POST /repos/{owner}/{repo}/issues request body /labels/2"
    );
    assert_eq!(
        violations[1].message,
        "`true` matches none of the alternatives: string, object"
    );
}

#[test]
fn deprecated_request_properties_are_refused() {
    let body = json!({"body": "b", "commit_id": "abc", "path": "a.rs", "position": 3});
    let violations = refused("POST", "/repos/o/r/pulls/1/comments", "", Some(&body));
    assert!(names(
        &violations,
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments request body /position",
        "deprecated"
    ));
    let body = json!({"body": "b", "commit_id": "abc", "path": "a.rs", "line": 3, "side": "RIGHT"});
    assert!(check_request("POST", "/repos/o/r/pulls/1/comments", "", Some(&body)).is_ok());
}

#[test]
fn violations_are_capped() {
    let labels: Vec<Value> = (0..50).map(|_| json!(true)).collect();
    let violations = refused(
        "POST",
        "/repos/o/r/issues",
        "",
        Some(&json!({"title": "t", "labels": labels})),
    );
    assert_eq!(violations.len(), MAX_VIOLATIONS + 1);
    assert_eq!(
        violations[MAX_VIOLATIONS].message,
        "more violations not shown (a check stops after 20)"
    );
}

#[test]
fn github_s_issue_example_passes() {
    let violations = check_response(
        "GET",
        "/repos/octocat/Hello-World/issues/1347",
        200,
        &issue_example(),
    );
    assert!(violations.is_empty(), "{violations:#?}");
    let list = Value::Array(vec![issue_example(), issue_example()]);
    assert!(check_response("GET", "/repos/o/r/issues", 200, &list).is_empty());
}

#[test]
fn an_issue_without_node_id_is_named() {
    let mut issue = issue_example();
    issue.as_object_mut().unwrap().remove("node_id");
    let violations = check_response("GET", "/repos/o/r/issues/1", 200, &issue);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        violations[0].at,
        "GET /repos/{owner}/{repo}/issues/{issue_number} response 200 body /node_id"
    );
    assert_eq!(
        violations[0].message,
        "required property `node_id` is missing"
    );
}

#[test]
fn ids_above_2_pow_31_are_integers_but_fractions_are_not() {
    let mut issue = issue_example();
    issue["id"] = json!(9_000_000_001_u64);
    issue["user"]["id"] = json!(9_000_000_001_i64);
    assert!(check_response("GET", "/repos/o/r/issues/1", 200, &issue).is_empty());
    issue["number"] = json!(1.5);
    let violations = check_response("GET", "/repos/o/r/issues/1", 200, &issue);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].message, "`1.5` is not an integer");
}

#[test]
fn response_statuses_must_be_listed() {
    let violations = check_response("GET", "/repos/o/r/issues/1", 418, &Value::Null);
    assert!(
        violations[0]
            .message
            .starts_with("status 418 is not a response of issues/get"),
        "{violations:?}"
    );
    // 204 without content: an empty body passes, a body does not.
    assert!(check_response("DELETE", "/repos/o/r/git/refs/heads/x", 204, &Value::Null).is_empty());
    assert_eq!(
        check_response("DELETE", "/repos/o/r/git/refs/heads/x", 204, &json!({})).len(),
        1
    );
    // Error bodies are checked too: `basic-error` has no required properties, but types count.
    assert!(check_response(
        "GET",
        "/repos/o/r/issues/1",
        404,
        &json!({"message": "Not Found"})
    )
    .is_empty());
    assert_eq!(
        check_response("GET", "/repos/o/r/issues/1", 404, &json!({"message": 404})).len(),
        1
    );
    // A 200 whose schema wants an object does not take an empty body.
    assert_eq!(
        check_response("GET", "/repos/o/r/issues/1", 200, &Value::Null).len(),
        1
    );
}

#[test]
fn every_reference_resolves() {
    fn walk(node: &'static Value, dangling: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    if super::openapi::resolve(node).is_null() {
                        dangling.push(reference.to_owned());
                    }
                }
                map.values().for_each(|v| walk(v, dangling));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, dangling)),
            _ => {}
        }
    }
    let mut dangling = Vec::new();
    walk(super::openapi::root(), &mut dangling);
    assert!(dangling.is_empty(), "{dangling:?}");
}

#[test]
fn one_time_parse_takes_little_time() {
    let started = std::time::Instant::now();
    let root: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/github-contract/api.github.com.excerpt.json"
    ))
    .unwrap();
    let rest = started.elapsed();
    let started = std::time::Instant::now();
    let schema = super::gql_schema::build();
    let graphql = started.elapsed();
    eprintln!("one-time parse: REST description {rest:?}, GraphQL schema {graphql:?}");
    let paths = root["paths"].as_object().unwrap();
    let operations: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!((paths.len(), operations), (43, 55));
    assert!(schema.types.len() > 1000);
}
