//! Sub-issue routes: add (`POST /issues/{n}/sub_issues` with the child's issue *id*), list and
//! remove (`DELETE /issues/{n}/sub_issue`, singular as on GitHub). Add and remove answer the
//! parent issue.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::Value;

use super::{
    authorize, body_json, json, not_supplied, number, opt_bool, opt_u64, paginated, repo_or_404,
    with_location, S,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::shared::Shared;
use crate::state::Model;
use crate::sub_issues::AddError;

const DOCS_ADD: &str = "https://docs.github.com/rest/issues/sub-issues#add-sub-issue";
const DOCS_LIST: &str = "https://docs.github.com/rest/issues/sub-issues#list-sub-issues";
const DOCS_REMOVE: &str = "https://docs.github.com/rest/issues/sub-issues#remove-sub-issue";

/// `sub_issue_id` (required) and `replace_parent` of a request body.
fn parse(raw: &[u8], docs: &str) -> Result<(u64, bool), ApiError> {
    let v = body_json(raw, docs)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(docs));
    };
    let id =
        opt_u64(o, "sub_issue_id", docs)?.ok_or_else(|| not_supplied(&["sub_issue_id"], docs))?;
    Ok((id, opt_bool(o, "replace_parent", docs)?.unwrap_or(false)))
}

/// The parent issue's shape.
fn parent_json(
    s: &Shared,
    m: &Model,
    key: &str,
    parent: u64,
    docs: &str,
) -> Result<Value, ApiError> {
    let repo = repo_or_404(m, key, docs)?;
    let issue = repo
        .issues
        .get(&parent)
        .ok_or_else(|| ApiError::not_found(docs))?;
    Ok(render::issue(s, repo, issue))
}

pub(super) async fn add(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_ADD)?;
    let parent = number(&num, DOCS_ADD)?;
    if m.issue(&key, parent).is_none() {
        return Err(ApiError::not_found(DOCS_ADD));
    }
    let (id, replace_parent) = parse(&body, DOCS_ADD)?;
    let child = m
        .issue_number_by_id(&key, id)
        .ok_or_else(|| ApiError::not_found(DOCS_ADD))?;
    match m.add_sub_issue(&key, parent, child, replace_parent, SystemTime::now()) {
        Ok(()) => {}
        Err(AddError::NotFound) => return Err(ApiError::not_found(DOCS_ADD)),
        Err(e) => return Err(ApiError::new(422, &e.message(), DOCS_ADD)),
    }
    let location = format!("{}/repos/{owner}/{name}/issues/{parent}", s.base);
    Ok(with_location(
        json(201, parent_json(&s, &m, &key, parent, DOCS_ADD)?),
        &location,
    ))
}

pub(super) async fn list(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_LIST)?;
    let parent = number(&num, DOCS_LIST)?;
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;
    let issue = repo
        .issues
        .get(&parent)
        .ok_or_else(|| ApiError::not_found(DOCS_LIST))?;
    let items = issue
        .sub_issues
        .iter()
        .filter_map(|n| repo.issues.get(n))
        .map(|i| render::issue(&s, repo, i))
        .collect();
    let path = format!("/repos/{owner}/{name}/issues/{parent}/sub_issues");
    Ok(paginated(&s, &path, &query.unwrap_or_default(), items))
}

pub(super) async fn remove(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_REMOVE)?;
    let parent = number(&num, DOCS_REMOVE)?;
    let (id, _) = parse(&body, DOCS_REMOVE)?;
    let child = m
        .issue_number_by_id(&key, id)
        .ok_or_else(|| ApiError::not_found(DOCS_REMOVE))?;
    m.remove_sub_issue(&key, parent, child, SystemTime::now())
        .ok_or_else(|| ApiError::not_found(DOCS_REMOVE))?;
    Ok(json(200, parent_json(&s, &m, &key, parent, DOCS_REMOVE)?))
}
