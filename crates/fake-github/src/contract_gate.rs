//! Holds every exchange with the fake to GitHub's published contract (`contract`): what the
//! client sends (method, path, query, body; GraphQL documents) and what the fake answers.
//! Each mismatch is kept in the model, named by operation and field; the test that caused it
//! fails when its fake is dropped (or at `FakeGitHub::assert_contract_kept`).
//!
//! A GraphQL document the schema refuses (an unknown or deprecated field, a wrong variable)
//! is answered as GitHub answers invalid documents: HTTP 200 with `errors` and no `data`.
//! REST requests still reach their handler, which answers GitHub's own errors for them.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::contract::{self, Violation};
use crate::shared::Shared;

/// Bodies larger than this are not checked (no API request or answer of the fake comes near).
const MAX_CHECKED_BODY: usize = 16 * 1024 * 1024;

/// Operations GitHub has that the copied excerpt of its description does not hold; the fake
/// serves them, unchecked.
const UNDESCRIBED: &[(&str, &str)] = &[
    ("GET", "/rate_limit"),
    ("GET", "/installation/repositories"),
];

fn undescribed(method: &str, path: &str) -> bool {
    UNDESCRIBED.iter().any(|(m, p)| *m == method && *p == path)
}

/// Checks a request; for a GraphQL document the schema refuses, the answer to send instead.
pub(crate) fn check_request(
    s: &Shared,
    (method, path, query): (&str, &str, &str),
    authenticated: bool,
    body: &Bytes,
) -> Option<Response> {
    if path == "/graphql" {
        // GitHub refuses bad credentials (401) before it reads the document.
        return authenticated.then(|| check_graphql(s, body)).flatten();
    }
    if undescribed(method, path) {
        return None;
    }
    let json: Option<Value> = if body.is_empty() {
        None
    } else {
        // An unparsable body is the handler's to refuse ("Problems parsing JSON").
        match serde_json::from_slice(body) {
            Ok(v) => Some(v),
            Err(_) => return None,
        }
    };
    if let Err(found) = contract::check_request(method, path, query, json.as_ref()) {
        record(s, found);
    }
    None
}

/// Checks the fake's own answer to a request it did not fault.
pub(crate) fn check_response(s: &Shared, method: &str, path: &str, status: u16, body: &Bytes) {
    // GitHub's own failures are not part of any operation's description.
    if path == "/graphql" || undescribed(method, path) || status >= 500 {
        return;
    }
    let json = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => {
                record(
                    s,
                    vec![Violation {
                        at: format!("{method} {path} answer {status}"),
                        message: "the body is not JSON".to_owned(),
                    }],
                );
                return;
            }
        }
    };
    let mut found = contract::check_response(method, path, status, &json);
    if status >= 400 && found.iter().any(unlisted_status) {
        // GitHub's description lists only some of the errors each operation can answer;
        // every operation answers 401, 403, 404, 422 … as needed, with GitHub's basic error
        // body. An unlisted error is held to that shape instead.
        found.retain(|v| !unlisted_status(v));
        if !json["message"].is_string() {
            found.push(Violation {
                at: format!("{method} {path} answer {status}"),
                message: "an error answer without GitHub's `message`".to_owned(),
            });
        }
    }
    found.retain(|v| !known_description_error(v));
    if !found.is_empty() {
        record(s, found);
    }
}

/// Where GitHub's REST description is known to be wrong about what GitHub answers, the fake
/// answers what GitHub does. One case: a review comment on a whole file (`subject_type:
/// "file"`) has `line`, `original_line` and `position` null; the description types them as
/// integers, GitHub's webhook schema for the same object allows null, and null positions are
/// reported on GitHub's description tracker (rest-api-description #1901, #5568).
fn known_description_error(v: &Violation) -> bool {
    let review_comment = v.at.contains("/pulls/{pull_number}/comments")
        || v.at.contains("/pulls/comments/{comment_id}");
    let field = ["body /line", "body /original_line", "body /position"]
        .iter()
        .any(|f| v.at.ends_with(f));
    review_comment && field && v.message.starts_with("`null` is not allowed")
}

fn unlisted_status(v: &Violation) -> bool {
    v.message.contains("is not a response of")
}

fn check_graphql(s: &Shared, body: &Bytes) -> Option<Response> {
    // Bodies that are not a GraphQL request are the handler's to refuse.
    let request: Value = serde_json::from_slice(body).ok()?;
    let document = request.get("query")?.as_str()?;
    let variables = match request.get("variables") {
        Some(Value::Object(v)) => v.clone(),
        _ => Map::new(),
    };
    let found = contract::check_graphql(document, &variables);
    if found.is_empty() {
        return None;
    }
    let errors: Vec<Value> = found
        .iter()
        .map(|v| json!({ "message": v.to_string() }))
        .collect();
    record(s, found);
    Some((StatusCode::OK, axum::Json(json!({ "errors": errors }))).into_response())
}

fn record(s: &Shared, found: Vec<Violation>) {
    let mut m = s.model();
    m.contract_violations
        .extend(found.into_iter().map(|v| v.to_string()));
}

/// Reads a body whole, for checking, and gives back one to pass on.
pub(crate) async fn buffered(body: Body) -> (Bytes, Body) {
    match axum::body::to_bytes(body, MAX_CHECKED_BODY).await {
        Ok(bytes) => (bytes.clone(), Body::from(bytes)),
        Err(_) => (Bytes::new(), Body::empty()),
    }
}
