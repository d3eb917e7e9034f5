//! Issue routes: get, list (with label/state filters), and issue labels.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::Value;

use super::{authorize, body_json, json, number, paginated, repo_or_404, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::shared::Shared;
use crate::state::{Model, RemoveLabel};
use crate::util;

const DOCS_GET: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
const DOCS_LIST: &str = "https://docs.github.com/rest/issues/issues#list-repository-issues";
const DOCS_LIST_LABELS: &str =
    "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue";
const DOCS_ADD_LABELS: &str = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
const DOCS_REMOVE_LABEL: &str =
    "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue";

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_GET)?;
    let num = number(&num, DOCS_GET)?;
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let issue = repo
        .issues
        .get(&num)
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(200, render::issue(&s, repo, issue)))
}

pub(super) async fn list(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query.unwrap_or_default();
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_LIST)?;
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;

    let mut state = "open".to_owned();
    let mut creator: Option<String> = None;
    let mut labels: Vec<String> = Vec::new();
    let mut ascending = false;
    let mut by_updated = false;
    for (k, v) in util::query_pairs(&query) {
        match k.as_str() {
            "state" => state = v,
            "creator" => creator = Some(v.to_lowercase()),
            "labels" => {
                labels = v
                    .split(',')
                    .map(|l| l.trim().to_lowercase())
                    .filter(|l| !l.is_empty())
                    .collect()
            }
            "direction" => ascending = v == "asc",
            "sort" => by_updated = v == "updated",
            _ => {}
        }
    }
    let mut issues: Vec<_> = repo
        .issues
        .values()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| match &creator {
            // GitHub may not resolve an App's `<slug>[bot]` login here (not verified): the
            // fake can be told to answer nothing for one.
            Some(c) if c.ends_with("[bot]") && m.creator_filter_ignores_apps => false,
            Some(c) => i.author.to_lowercase() == *c,
            None => true,
        })
        .filter(|i| {
            labels.iter().all(|wanted| {
                i.labels.iter().any(|&id| {
                    repo.label(id)
                        .is_some_and(|l| l.name.to_lowercase() == *wanted)
                })
            })
        })
        .collect();
    if by_updated {
        issues.sort_by_key(|i| (i.updated, i.number));
    } else {
        issues.sort_by_key(|i| i.number);
    }
    if !ascending {
        issues.reverse();
    }
    let items = issues
        .into_iter()
        .map(|i| render::issue(&s, repo, i))
        .collect();
    let path = format!("/repos/{owner}/{name}/issues");
    Ok(paginated(&s, &path, &query, items))
}

fn labels_json(s: &Shared, m: &Model, key: &str, num: u64, docs: &str) -> Result<Value, ApiError> {
    let repo = repo_or_404(m, key, docs)?;
    let labels = m
        .issue_labels(key, num)
        .ok_or_else(|| ApiError::not_found(docs))?;
    Ok(Value::Array(
        labels.iter().map(|l| render::label(s, repo, l)).collect(),
    ))
}

pub(super) async fn list_labels(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "issues",
        "read",
        DOCS_LIST_LABELS,
    )?;
    let num = number(&num, DOCS_LIST_LABELS)?;
    let Value::Array(items) = labels_json(&s, &m, &key, num, DOCS_LIST_LABELS)? else {
        return Err(ApiError::not_found(DOCS_LIST_LABELS));
    };
    let path = format!("/repos/{owner}/{name}/issues/{num}/labels");
    Ok(paginated(&s, &path, &query.unwrap_or_default(), items))
}

/// Label names from `{"labels": [...]}` or a bare array; entries are names or `{"name": ...}`.
pub(super) fn label_names(body: &Value) -> Option<Vec<String>> {
    let list = match body {
        Value::Array(list) => list,
        Value::Object(o) => match o.get("labels")? {
            Value::Array(list) => list,
            Value::String(one) => return Some(vec![one.clone()]),
            _ => return None,
        },
        _ => return None,
    };
    list.iter()
        .map(|v| match v {
            Value::String(n) => Some(n.clone()),
            Value::Object(o) => o.get("name")?.as_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

pub(super) async fn add_labels(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "issues",
        "write",
        DOCS_ADD_LABELS,
    )?;
    let num = number(&num, DOCS_ADD_LABELS)?;
    let body = body_json(&body, DOCS_ADD_LABELS)?;
    let names =
        label_names(&body).ok_or_else(|| ApiError::missing_field("labels", DOCS_ADD_LABELS))?;
    super::check_label_names(&names, DOCS_ADD_LABELS)?;
    let names: Vec<String> = names.iter().map(|n| n.trim().to_owned()).collect();
    m.add_labels(&key, num, &names, SystemTime::now())
        .ok_or_else(|| ApiError::not_found(DOCS_ADD_LABELS))?;
    Ok(json(200, labels_json(&s, &m, &key, num, DOCS_ADD_LABELS)?))
}

pub(super) async fn remove_label(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num, label)): Path<(String, String, String, String)>,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "issues",
        "write",
        DOCS_REMOVE_LABEL,
    )?;
    let num = number(&num, DOCS_REMOVE_LABEL)?;
    match m.remove_label(&key, num, &label, SystemTime::now()) {
        Ok(()) => Ok(json(
            200,
            labels_json(&s, &m, &key, num, DOCS_REMOVE_LABEL)?,
        )),
        Err(RemoveLabel::NoIssue) => Err(ApiError::not_found(DOCS_REMOVE_LABEL)),
        Err(RemoveLabel::NotOnIssue) => Err(ApiError::new(
            404,
            "Label does not exist",
            DOCS_REMOVE_LABEL,
        )),
    }
}
