//! Issue writes: create (`POST /issues`, by the App's bot) and update (`PATCH /issues/{n}`:
//! title, body, state with `state_reason`, labels). Labels are created on the fly, as when added.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Extension;
use serde_json::{json, Map, Value};

use super::issues::label_names;
use super::{
    authorize, body_json, invalid, json, not_supplied, number, opt_member, opt_string, repo_or_404,
    shown, with_location, S,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::state::Model;

const DOCS_CREATE: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const DOCS_UPDATE: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";

fn blank_title(docs: &str) -> ApiError {
    ApiError::validation(
        json!([{ "resource": "Issue", "code": "missing_field", "field": "title" }]),
        docs,
    )
}

/// `title` may be a string or a number (GitHub's schema allows both).
fn title(o: &Map<String, Value>, docs: &str) -> Result<Option<String>, ApiError> {
    match o.get("title") {
        None => Ok(None),
        Some(Value::String(t)) => Ok(Some(t.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(invalid(
            &format!(
                "For 'properties/title', {} is not a string or integer.",
                shown(v)
            ),
            docs,
        )),
    }
}

/// `labels`, if sent: names or `{name}` objects (blank names refused as when adding labels).
fn labels(o: &Map<String, Value>, docs: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = o.get("labels") else {
        return Ok(None);
    };
    let names = label_names(&json!({ "labels": v })).ok_or_else(|| {
        invalid(
            &format!("For 'properties/labels', {} is not an array.", shown(v)),
            docs,
        )
    })?;
    super::check_label_names(&names, docs)?;
    Ok(Some(names.iter().map(|n| n.trim().to_owned()).collect()))
}

/// Replaces an issue's labels (PATCH semantics).
fn set_labels(m: &mut Model, key: &str, number: u64, names: &[String], now: SystemTime) {
    if let Some(i) = m.repo_mut(key).and_then(|r| r.issues.get_mut(&number)) {
        i.labels.clear();
        i.updated = now;
    }
    m.add_labels(key, number, names, now);
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_CREATE)?;
    let v = body_json(&body, DOCS_CREATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_CREATE));
    };
    let title = title(o, DOCS_CREATE)?.ok_or_else(|| not_supplied(&["title"], DOCS_CREATE))?;
    if title.trim().is_empty() {
        return Err(blank_title(DOCS_CREATE));
    }
    let text = match o.get("body") {
        Some(Value::Null) => None,
        _ => opt_string(o, "body", DOCS_CREATE)?,
    };
    let names = labels(o, DOCS_CREATE)?.unwrap_or_default();
    let now = SystemTime::now();
    let number = m
        .add_issue(
            &key,
            &title,
            &text.unwrap_or_default(),
            &s.app.bot_login(),
            now,
        )
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    m.add_labels(&key, number, &names, now);
    let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
    let issue = repo
        .issues
        .get(&number)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let location = format!("{}/repos/{}/issues/{number}", s.base, repo.full_name());
    Ok(with_location(
        json(201, render::issue(&s, repo, issue)),
        &location,
    ))
}

/// `PATCH /issues/{n}`. Closing sets `closed_at` and `state_reason` (`completed` unless another
/// reason is sent); reopening clears `closed_at` and sets `reopened`. A `state_reason` alone
/// changes the reason of a closed issue.
pub(super) async fn update(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_UPDATE)?;
    let num = number(&num, DOCS_UPDATE)?;
    if m.issue(&key, num).is_none() {
        return Err(ApiError::not_found(DOCS_UPDATE));
    }
    let v = body_json(&body, DOCS_UPDATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_UPDATE));
    };
    let new_title = title(o, DOCS_UPDATE)?;
    if new_title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(blank_title(DOCS_UPDATE));
    }
    let new_body = match o.get("body") {
        Some(Value::Null) => Some(String::new()),
        _ => opt_string(o, "body", DOCS_UPDATE)?,
    };
    let state = opt_member(o, "state", &["open", "closed"], DOCS_UPDATE)?;
    let reason = match o.get("state_reason") {
        Some(Value::Null) => None,
        _ => opt_member(
            o,
            "state_reason",
            &["completed", "not_planned", "duplicate", "reopened"],
            DOCS_UPDATE,
        )?,
    };
    let names = labels(o, DOCS_UPDATE)?;

    let now = SystemTime::now();
    if let Some(names) = &names {
        set_labels(&mut m, &key, num, names, now);
    }
    let issue = m
        .repo_mut(&key)
        .and_then(|r| r.issues.get_mut(&num))
        .ok_or_else(|| ApiError::not_found(DOCS_UPDATE))?;
    if let Some(t) = new_title {
        issue.title = t;
    }
    if let Some(b) = new_body {
        issue.body = b;
    }
    match state.as_deref() {
        Some("closed") if issue.state != "closed" => {
            issue.state = "closed".to_owned();
            issue.closed_at = Some(now);
            issue.state_reason = Some(reason.unwrap_or_else(|| "completed".to_owned()));
        }
        Some("open") if issue.state != "open" => {
            issue.state = "open".to_owned();
            issue.closed_at = None;
            issue.state_reason = Some("reopened".to_owned());
        }
        _ => {
            if let Some(r) = reason.filter(|_| issue.state == "closed") {
                issue.state_reason = Some(r);
            }
        }
    }
    issue.updated = now;
    let repo = repo_or_404(&m, &key, DOCS_UPDATE)?;
    let issue = repo
        .issues
        .get(&num)
        .ok_or_else(|| ApiError::not_found(DOCS_UPDATE))?;
    Ok(json(200, render::issue(&s, repo, issue)))
}
