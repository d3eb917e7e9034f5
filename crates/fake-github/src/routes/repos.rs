//! Repository routes: the repository itself, collaborator permission, contents.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::{json, Value};

use super::{authorize, json, repo_or_404, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render;
use crate::state::Repo;
use crate::util;

const DOCS_GET_REPO: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
const DOCS_PERMISSION: &str = "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user";
const DOCS_CONTENTS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";

pub(super) async fn get_repo(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "metadata",
        "read",
        DOCS_GET_REPO,
    )?;
    let repo = repo_or_404(&m, &key, DOCS_GET_REPO)?;
    Ok(json(200, render::full_repo(&s, repo)))
}

/// `permission` is the legacy level (`admin`/`write`/`read`/`none`); `role_name` the fine-grained
/// role: maintain reads as write, triage as read.
pub(super) async fn permission(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, username)): Path<(String, String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "metadata",
        "read",
        DOCS_PERMISSION,
    )?;
    let repo = repo_or_404(&m, &key, DOCS_PERMISSION)?;
    let role = repo.permission(&username).to_owned();
    let legacy = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "triage" | "read" => "read",
        _ => "none",
    };
    // The user is shown as a collaborator: with the same role.
    let mut user = render::user_login(&s, &username);
    user["role_name"] = json!(role);
    Ok(json(
        200,
        json!({
            "permission": legacy,
            "role_name": role,
            "user": user,
        }),
    ))
}

pub(super) async fn contents_root(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    answer_contents(&s, &caller, &owner, &name, "", query.as_deref())
}

pub(super) async fn contents(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, path)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    answer_contents(&s, &caller, &owner, &name, &path, query.as_deref())
}

fn answer_contents(
    s: &crate::shared::Shared,
    caller: &Caller,
    owner: &str,
    name: &str,
    path: &str,
    query: Option<&str>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, caller, owner, name, "contents", "read", DOCS_CONTENTS)?;
    let repo = repo_or_404(&m, &key, DOCS_CONTENTS)?;
    let wanted_ref = util::query_pairs(query.unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == "ref")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty());
    if let Some(r) = wanted_ref {
        let branch = r.strip_prefix("refs/heads/").unwrap_or(&r);
        if branch != repo.default_branch {
            return Err(ApiError::new(
                404,
                &format!("No commit found for the ref {r}"),
                DOCS_CONTENTS,
            ));
        }
    }
    let path = path.trim_matches('/');
    if let Some(f) = repo.files.get(path) {
        return Ok(json(200, render::file(s, repo, path, f, true)));
    }
    let listing = list_dir(s, repo, path);
    if listing.is_empty() {
        return Err(ApiError::not_found(DOCS_CONTENTS));
    }
    Ok(json(200, Value::Array(listing)))
}

/// The immediate children of directory `dir` ("" for the root): files and sub-directories.
fn list_dir(s: &crate::shared::Shared, repo: &Repo, dir: &str) -> Vec<Value> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut dirs = BTreeSet::new();
    let mut entries = Vec::new();
    for (path, f) in repo.files.range(prefix.clone()..) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        match rest.split_once('/') {
            Some((sub, _)) => {
                dirs.insert(format!("{prefix}{sub}"));
            }
            None => entries.push((path.clone(), render::file(s, repo, path, f, false))),
        }
    }
    entries.extend(dirs.into_iter().map(|d| {
        let v = render::dir_entry(s, repo, &d);
        (d, v)
    }));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().map(|(_, v)| v).collect()
}
