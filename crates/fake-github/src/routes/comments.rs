//! Issue comments (create, list, get, update) and reactions on issues and comments.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::Extension;
use serde_json::{json, Value};

use super::{authorize, body_json, json, number, paginated, repo_or_404, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render::{self, REACTION_CONTENTS};
use crate::state::{Actor, Target};

const DOCS_CREATE: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
const DOCS_LIST: &str = "https://docs.github.com/rest/issues/comments#list-issue-comments";
const DOCS_GET: &str = "https://docs.github.com/rest/issues/comments#get-an-issue-comment";
const DOCS_UPDATE: &str = "https://docs.github.com/rest/issues/comments#update-an-issue-comment";
const DOCS_REACT_ISSUE: &str =
    "https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue";
const DOCS_REACT_COMMENT: &str =
    "https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment";

/// GitHub's limit on comment bodies, in characters.
const MAX_BODY_CHARS: usize = 65_536;

/// The `body` field of a create/update request, validated as GitHub does.
fn comment_body(raw: &[u8], docs: &str) -> Result<String, ApiError> {
    let v = body_json(raw, docs)?;
    let body = v
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_field("body", docs))?;
    if body.is_empty() {
        return Err(ApiError::validation(
            json!([{ "resource": "IssueComment", "code": "missing_field", "field": "body" }]),
            docs,
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::validation(
            json!([{
                "resource": "IssueComment",
                "code": "custom",
                "field": "body",
                "message": format!("body is too long (maximum is {MAX_BODY_CHARS} characters)"),
            }]),
            docs,
        ));
    }
    Ok(body.to_owned())
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_CREATE)?;
    let num = number(&num, DOCS_CREATE)?;
    let text = comment_body(&body, DOCS_CREATE)?;
    let id = m
        .add_comment(&key, num, &text, Actor::Bot, SystemTime::now())
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
    let comment = m
        .comment_in(&key, id)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let answer = render::comment(&s, repo, comment);
    let mut resp = json(201, answer);
    let location = format!("{}/repos/{}/issues/comments/{id}", s.base, repo.full_name());
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub(super) async fn list(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_LIST)?;
    let num = number(&num, DOCS_LIST)?;
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;
    let issue = repo
        .issues
        .get(&num)
        .ok_or_else(|| ApiError::not_found(DOCS_LIST))?;
    let items = issue
        .comment_ids
        .iter()
        .filter_map(|id| m.comments.get(id))
        .map(|c| render::comment(&s, repo, c))
        .collect();
    let path = format!("/repos/{owner}/{name}/issues/{num}/comments");
    Ok(paginated(&s, &path, &query.unwrap_or_default(), items))
}

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_GET)?;
    let id = number(&id, DOCS_GET)?;
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let comment = m
        .comment_in(&key, id)
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(200, render::comment(&s, repo, comment)))
}

pub(super) async fn update(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_UPDATE)?;
    let id = number(&id, DOCS_UPDATE)?;
    if m.comment_in(&key, id).is_none() {
        return Err(ApiError::not_found(DOCS_UPDATE));
    }
    let text = comment_body(&body, DOCS_UPDATE)?;
    m.update_comment(id, &text, SystemTime::now());
    let repo = repo_or_404(&m, &key, DOCS_UPDATE)?;
    let comment = m
        .comment_in(&key, id)
        .ok_or_else(|| ApiError::not_found(DOCS_UPDATE))?;
    Ok(json(200, render::comment(&s, repo, comment)))
}

/// The `content` of a reaction request.
fn reaction_content(raw: &[u8], docs: &str) -> Result<String, ApiError> {
    let v = body_json(raw, docs)?;
    let content = v
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing_field("content", docs))?;
    if !REACTION_CONTENTS.contains(&content) {
        return Err(ApiError::validation(
            json!([{ "resource": "Reaction", "code": "invalid", "field": "content" }]),
            docs,
        ));
    }
    Ok(content.to_owned())
}

/// 201 with the new reaction, or 200 with the existing one if the bot already reacted so.
fn react(
    s: &crate::shared::Shared,
    caller: &Caller,
    owner: &str,
    name: &str,
    target: RawTarget,
    raw: &[u8],
) -> ApiResult {
    let docs = match target {
        RawTarget::Issue(_) => DOCS_REACT_ISSUE,
        RawTarget::Comment(_) => DOCS_REACT_COMMENT,
    };
    let mut m = s.model();
    let key = authorize(&m, caller, owner, name, "issues", "write", docs)?;
    let content = reaction_content(raw, docs)?;
    let target = match target {
        RawTarget::Issue(n) => Target::Issue(&key, number(n, docs)?),
        RawTarget::Comment(id) => {
            let id = number(id, docs)?;
            if m.comment_in(&key, id).is_none() {
                return Err(ApiError::not_found(docs));
            }
            Target::Comment(id)
        }
    };
    let (reaction, created) = m
        .react(&target, &content, Actor::Bot, SystemTime::now())
        .ok_or_else(|| ApiError::not_found(docs))?;
    Ok(json(
        if created { 201 } else { 200 },
        render::reaction(s, &reaction),
    ))
}

enum RawTarget<'a> {
    Issue(&'a str),
    Comment(&'a str),
}

pub(super) async fn react_to_issue(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    react(&s, &caller, &owner, &name, RawTarget::Issue(&num), &body)
}

pub(super) async fn react_to_comment(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    react(&s, &caller, &owner, &name, RawTarget::Comment(&id), &body)
}
