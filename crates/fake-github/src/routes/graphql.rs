//! `POST /graphql`: the operations bosun sends, told apart by the field names in the query text
//! (checked in this order): `unresolveReviewThread`, `resolveReviewThread` (mutations on a
//! thread), `reviewThreads` (a pull request's threads, paginated). Anything else answers HTTP 200
//! with an `errors` entry saying the fake does not support it. As on GitHub, errors about the
//! data (unknown repository, pull request or node) come with HTTP 200 and `data` nulls; only bad
//! credentials (401) and unparsable JSON (400) are HTTP errors.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};

use super::{json, S};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::graphql::{self as gql, argument, location, mentions};
use crate::reviews::{PullReviews, Thread};
use crate::shared::Shared;
use crate::state::{repo_key, Actor, Repo};
use crate::util::rfc3339;

const DOCS: &str = "https://docs.github.com/graphql";

/// GitHub's GraphQL error answers carry no `status` field.
fn http_error(status: StatusCode, message: &str) -> ApiError {
    ApiError {
        status,
        body: json!({ "message": message, "documentation_url": DOCS }),
        headers: Vec::new(),
    }
}

pub(super) async fn post(
    State(s): S,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if caller.require_installation().is_err() {
        return Err(http_error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    let request: Value = serde_json::from_slice(&body)
        .map_err(|_| http_error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))?;
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        let message = "A query attribute must be specified and must be a string.";
        return Ok(json(200, json!({ "errors": [{ "message": message }] })));
    };
    let variables = match request.get("variables") {
        Some(Value::Object(v)) => v.clone(),
        _ => Map::new(),
    };
    let mut answer = if mentions(query, "unresolveReviewThread") {
        set_resolution(&s, &caller, query, &variables, "unresolveReviewThread")
    } else if mentions(query, "resolveReviewThread") {
        set_resolution(&s, &caller, query, &variables, "resolveReviewThread")
    } else if mentions(query, "reviewThreads") {
        review_threads(&s, query, &variables)
    } else {
        json!({ "errors": [{
            "type": "FAKE_GITHUB_UNSUPPORTED",
            "message": "fake-github does not support this GraphQL operation (only `reviewThreads` \
                        queries and the `resolveReviewThread` / `unresolveReviewThread` mutations)",
        }] })
    };
    // Only what the document asked for, as on GitHub.
    if let Some(data) = answer.get_mut("data") {
        *data = crate::graphql_projection::project(query, data.take());
    }
    Ok(json(200, answer))
}

/// An answer with `errors` only: the request could not be run at all.
fn request_error(message: &str, locations: Value) -> Value {
    json!({ "errors": [{ "message": message, "locations": locations }] })
}

/// An answer whose `data` holds a null where the failing field was, with its error.
fn field_error(data: Value, error: Value) -> Value {
    json!({ "data": data, "errors": [error] })
}

/// A login as GraphQL shows it: a GitHub App's bot is `Bot` there, whose `login` has no `[bot]`.
fn login(s: &Shared, actor: &Actor) -> String {
    match actor {
        Actor::User(l) => l.clone(),
        Actor::Bot => s.app.slug.clone(),
    }
}

/// The first of several names a value may come under: an argument in the text, else variables.
fn lookup(
    query: &str,
    variables: &Map<String, Value>,
    (field, arg): (&str, &str),
    names: &[&str],
) -> Option<Value> {
    argument(query, field, arg, variables)
        .or_else(|| names.iter().find_map(|n| variables.get(*n).cloned()))
        .filter(|v| !v.is_null())
}

fn thread_node(s: &Shared, r: &Repo, number: u64, rv: &PullReviews, t: &Thread) -> Value {
    let comments: Vec<Value> = t
        .comment_ids
        .iter()
        .filter_map(|id| rv.comment(*id))
        .map(|c| {
            json!({
                "id": crate::util::node_id("PullRequestReviewComment", c.id),
                // `databaseId` is deprecated (an `Int`, too small for these ids): the schema
                // check refuses it, so only `fullDatabaseId`, a `BigInt` sent as a string.
                "fullDatabaseId": c.id.to_string(),
                "body": c.body,
                "url": format!("{}/{}/pull/{number}#discussion_r{}", s.base, r.full_name(), c.id),
                "createdAt": rfc3339(c.created),
                "updatedAt": rfc3339(c.updated),
                "diffHunk": c.anchor.diff_hunk,
                "path": c.anchor.path,
                "line": c.anchor.line,
                "originalLine": c.anchor.line,
                "outdated": false,
                "author": { "login": login(s, &c.author) },
                "replyTo": c.in_reply_to.map(|id| json!({ "fullDatabaseId": id.to_string() })),
                "pullRequestReview": rv.review(c.review_id).map(|r| json!({
                    "fullDatabaseId": r.id.to_string(),
                    "state": r.state,
                })),
            })
        })
        .collect();
    let root = t.comment_ids.first().and_then(|id| rv.comment(*id));
    let anchor = root.map(|c| &c.anchor);
    json!({
        "id": t.node_id(),
        "isResolved": t.resolved_by.is_some(),
        "isOutdated": false,
        "isCollapsed": t.resolved_by.is_some(),
        "path": anchor.map(|a| a.path.clone()),
        "line": anchor.and_then(|a| a.line),
        "originalLine": anchor.and_then(|a| a.line),
        "startLine": null,
        "originalStartLine": null,
        "diffSide": anchor.map(|a| a.side.clone()),
        "startDiffSide": null,
        "subjectType": if anchor.is_some_and(|a| a.line.is_none()) { "FILE" } else { "LINE" },
        // `resolvedBy` is a `User`: a bot that resolved the thread is not one, so it shows null.
        "resolvedBy": match &t.resolved_by {
            Some(Actor::User(l)) => json!({ "login": l }),
            _ => Value::Null,
        },
        "viewerCanResolve": t.resolved_by.is_none(),
        "viewerCanUnresolve": t.resolved_by.is_some(),
        "comments": { "totalCount": comments.len(), "nodes": comments },
    })
}

/// `repository(owner, name) { pullRequest(number) { reviewThreads(first, after) { … } } }`.
fn review_threads(s: &Shared, query: &str, variables: &Map<String, Value>) -> Value {
    let owner = lookup(query, variables, ("repository", "owner"), &["owner"]);
    let name = lookup(query, variables, ("repository", "name"), &["name", "repo"]);
    let number = lookup(query, variables, ("pullRequest", "number"), &["number"]);
    let (Some(Value::String(owner)), Some(Value::String(name)), Some(number)) =
        (owner, name, number.and_then(|n| n.as_u64()))
    else {
        return request_error(
            "fake-github: a reviewThreads query needs `owner`, `name` and `number` \
             (as variables or literals)",
            location(query, "repository"),
        );
    };
    let first = match argument(query, "reviewThreads", "first", variables) {
        Some(v) => v.as_u64().unwrap_or(100) as usize,
        None => 100,
    };
    let threads_path = ["repository", "pullRequest", "reviewThreads"];
    if first > 100 {
        let message = format!(
            "Requesting {first} records on the `reviewThreads` connection exceeds the `first` \
             limit of 100 records."
        );
        let e = gql::error(
            "EXCESSIVE_PAGINATION",
            &threads_path,
            location(query, "reviewThreads"),
            &message,
        );
        return field_error(Value::Null, e);
    }
    let after = lookup(
        query,
        variables,
        ("reviewThreads", "after"),
        &["after", "cursor", "endCursor"],
    );

    let m = s.model();
    let Some(repo) = m.repo(&repo_key(&owner, &name)) else {
        let message = format!("Could not resolve to a Repository with the name '{owner}/{name}'.");
        let e = gql::error(
            "NOT_FOUND",
            &["repository"],
            location(query, "repository"),
            &message,
        );
        return field_error(json!({ "repository": null }), e);
    };
    let Some(pull) = repo.issues.get(&number).and_then(|i| i.pull.as_ref()) else {
        let message = format!("Could not resolve to a PullRequest with the number of {number}.");
        let e = gql::error(
            "NOT_FOUND",
            &["repository", "pullRequest"],
            location(query, "pullRequest"),
            &message,
        );
        return field_error(json!({ "repository": { "pullRequest": null } }), e);
    };
    let rv = &pull.review;
    let visible: Vec<&Thread> = rv
        .threads
        .iter()
        .filter(|t| {
            t.comment_ids
                .first()
                .and_then(|id| rv.comment(*id))
                .is_some_and(|c| rv.visible_to(c.review_id, &Actor::Bot))
        })
        .collect();
    let start = match after {
        None => 0,
        Some(Value::String(c)) => match gql::cursor_index(&c) {
            Some(n) => n,
            None => {
                let e = gql::error(
                    "INVALID_CURSOR_ARGUMENTS",
                    &threads_path,
                    location(query, "reviewThreads"),
                    &format!("`{c}` does not appear to be a valid cursor."),
                );
                let data = json!({ "repository": { "pullRequest": { "reviewThreads": null } } });
                return field_error(data, e);
            }
        },
        Some(other) => {
            return request_error(
                &format!(
                    "Argument 'after' on Field 'reviewThreads' has an invalid value ({other})."
                ),
                location(query, "reviewThreads"),
            )
        }
    };
    let page: Vec<Value> = visible
        .iter()
        .skip(start)
        .take(first)
        .map(|t| thread_node(s, repo, number, rv, t))
        .collect();
    let end = start + page.len();
    let cursor_of = |n: usize| {
        if page.is_empty() {
            Value::Null
        } else {
            json!(gql::cursor(n))
        }
    };
    json!({ "data": { "repository": { "pullRequest": { "reviewThreads": {
        "totalCount": visible.len(),
        "pageInfo": {
            "hasNextPage": end < visible.len(),
            "hasPreviousPage": start > 0,
            "startCursor": cursor_of(start + 1),
            "endCursor": cursor_of(end),
        },
        "nodes": page,
    } } } } })
}

/// `resolveReviewThread` / `unresolveReviewThread` with the thread id in `variables.threadId`,
/// `variables.input.threadId` or written in the text. The caller must be an installation with
/// `pull_requests: write` on the thread's repository.
fn set_resolution(
    s: &Shared,
    caller: &Caller,
    query: &str,
    variables: &Map<String, Value>,
    field: &str,
) -> Value {
    let from_input = variables
        .get("input")
        .and_then(|i| i.get("threadId"))
        .cloned();
    let thread_id = argument(query, field, "threadId", variables)
        .or(from_input)
        .or_else(|| variables.get("threadId").cloned());
    let Some(Value::String(thread_id)) = thread_id else {
        return request_error(
            &format!(
                "fake-github: {field} needs `threadId` (a variable, `input.threadId` or a literal)"
            ),
            location(query, field),
        );
    };
    let failed = |kind: &str, message: String| {
        let e = gql::error(kind, &[field], location(query, field), &message);
        field_error(json!({ field: null }), e)
    };
    let mut m = s.model();
    let Some((key, number, id)) = m.thread_by_node_id(&thread_id) else {
        return failed(
            "NOT_FOUND",
            format!("Could not resolve to a node with the global id of '{thread_id}'"),
        );
    };
    let allowed = match (caller, m.repo(&key)) {
        (Caller::Installation { id: inst, token }, Some(r)) => {
            r.installation_id == *inst
                && token
                    .repo_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&r.id))
                && token.allows("pull_requests", "write")
        }
        _ => false,
    };
    if !allowed {
        return failed(
            "FORBIDDEN",
            "Resource not accessible by integration".to_owned(),
        );
    }
    let resolve = field == "resolveReviewThread";
    m.set_thread_resolution(&key, number, id, resolve.then_some(Actor::Bot));
    json!({ "data": { field: { "thread": {
        "id": thread_id,
        "isResolved": resolve,
        "viewerCanResolve": !resolve,
        "viewerCanUnresolve": resolve,
    } } } })
}
