//! Pull-request routes: create, list, get. Branches are looked up in the repository's local git
//! directory when its `clone_url` names one; otherwise any head is accepted (sha = 40 zeros).
//! List and get show the branches' current commits (`crate::pull_heads`).

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::{json, Value};

use super::{
    authorize, blocking, body_json, json, number, opt_bool, opt_string, paginated, repo_or_404,
    with_location, S,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::git::{self, Compare, ZERO_SHA};
use crate::pull_heads;
use crate::pulls::{self, NewPull};
use crate::util;

const DOCS_CREATE: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
const DOCS_LIST: &str = "https://docs.github.com/rest/pulls/pulls#list-pull-requests";
const DOCS_GET: &str = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request";

/// 422 `Validation Failed` with one `errors` entry.
fn failed(error: Value) -> ApiError {
    ApiError::validation(json!([error]), DOCS_CREATE)
}

fn missing(resource: &str, field: &str) -> ApiError {
    failed(json!({ "resource": resource, "code": "missing_field", "field": field }))
}

fn invalid_field(field: &str) -> ApiError {
    failed(json!({ "resource": "PullRequest", "field": field, "code": "invalid" }))
}

fn custom(message: String) -> ApiError {
    failed(json!({ "resource": "PullRequest", "code": "custom", "message": message }))
}

/// A create body, validated for presence and types.
struct Request {
    title: String,
    body: String,
    head: String,
    base: String,
    draft: bool,
    maintainer_can_modify: bool,
}

fn parse(raw: &[u8]) -> Result<Request, ApiError> {
    let v = body_json(raw, DOCS_CREATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_CREATE));
    };
    let head = opt_string(o, "head", DOCS_CREATE)?.filter(|h| !h.trim().is_empty());
    let base = opt_string(o, "base", DOCS_CREATE)?.filter(|b| !b.trim().is_empty());
    let title = opt_string(o, "title", DOCS_CREATE)?.filter(|t| !t.trim().is_empty());
    let body = opt_string(o, "body", DOCS_CREATE)?;
    let draft = opt_bool(o, "draft", DOCS_CREATE)?;
    let maintainer_can_modify = opt_bool(o, "maintainer_can_modify", DOCS_CREATE)?;
    Ok(Request {
        head: head.ok_or_else(|| missing("PullRequest", "head"))?,
        base: base.ok_or_else(|| missing("PullRequest", "base"))?,
        // GitHub reports a missing title on the underlying issue.
        title: title.ok_or_else(|| missing("Issue", "title"))?,
        body: body.unwrap_or_default(),
        draft: draft.unwrap_or(false),
        maintainer_can_modify: maintainer_can_modify.unwrap_or(false),
    })
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let (key, repo_owner, default_branch, git_dir, drafts) = {
        let m = s.model();
        let key = authorize(
            &m,
            &caller,
            &owner,
            &name,
            "pull_requests",
            "write",
            DOCS_CREATE,
        )?;
        let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
        (
            key.clone(),
            repo.owner.clone(),
            repo.default_branch.clone(),
            repo.local_git_dir(),
            repo.drafts,
        )
    };
    let req = parse(&body)?;
    if req.draft && !drafts {
        // GitHub's own wording, as a top-level message without `errors`.
        return Err(ApiError::new(
            422,
            "Draft pull requests are not supported in this repository.",
            DOCS_CREATE,
        ));
    }
    if req.maintainer_can_modify {
        // The fake knows no forks, so every head is in the repository itself. GitHub has been
        // reported to refuse the flag there (not verified): the fake is strict on that side.
        return Err(custom(
            "Fork collab can only be enabled on cross-repo pull requests.".to_owned(),
        ));
    }

    // `head` is `branch` or `owner:branch`; the fake knows no forks, so the owner must be this
    // repository's.
    let branch = match req.head.split_once(':') {
        Some((o, b)) if o.eq_ignore_ascii_case(&repo_owner) => b.to_owned(),
        Some(_) => return Err(invalid_field("head")),
        None => req.head.clone(),
    };
    if branch.is_empty() {
        return Err(invalid_field("head"));
    }
    if req.base != default_branch {
        return Err(invalid_field("base"));
    }

    let (head_sha, base_sha, compare) = match git_dir {
        None => (ZERO_SHA.to_owned(), ZERO_SHA.to_owned(), None),
        Some(dir) => {
            let (head, base) = (branch.clone(), req.base.clone());
            let found = blocking(move || {
                let Some(head_sha) = git::branch_sha(&dir, &head)? else {
                    return Ok(Err("head"));
                };
                let Some(base_sha) = git::branch_sha(&dir, &base)? else {
                    return Ok(Err("base"));
                };
                let compare = git::compare(&dir, &base_sha, &head_sha)?;
                Ok(Ok((head_sha, base_sha, compare)))
            })
            .await?;
            let (head_sha, base_sha, compare) = found.map_err(invalid_field)?;
            (head_sha, base_sha, Some(compare))
        }
    };

    let mut m = s.model();
    if m.open_pull(&key, &branch, &req.base).is_some() {
        return Err(custom(format!(
            "A pull request already exists for {repo_owner}:{branch}."
        )));
    }
    if compare.is_some_and(|c| c.commits == 0) {
        return Err(custom(format!(
            "No commits between {} and {branch}",
            req.base
        )));
    }
    let new = NewPull {
        title: req.title,
        body: req.body,
        author: s.app.bot_login(),
        head: branch,
        head_sha,
        base: req.base,
        base_sha,
        draft: req.draft,
        maintainer_can_modify: req.maintainer_can_modify,
        compare: compare.unwrap_or(Compare::default()),
    };
    let number = m
        .add_pull(&key, new, SystemTime::now())
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
    let issue = repo
        .issues
        .get(&number)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let pull = issue
        .pull
        .as_ref()
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let location = format!("{}/repos/{}/pulls/{number}", s.base, repo.full_name());
    Ok(with_location(
        json(201, pulls::render(&s, repo, issue, pull)),
        &location,
    ))
}

/// `GET /pulls`: `state` (open by default), `head` (`owner:branch` only, as on GitHub: a bare
/// branch name filters nothing), `base`, `sort` (created | updated), `direction` (desc default).
pub(super) async fn list(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query.unwrap_or_default();
    let key = authorize(
        &s.model(),
        &caller,
        &owner,
        &name,
        "pull_requests",
        "read",
        DOCS_LIST,
    )?;
    pull_heads::refresh(&s, &key).await?;
    let m = s.model();
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;

    let mut state = "open".to_owned();
    let mut head: Option<(String, String)> = None;
    let mut base: Option<String> = None;
    let mut by_updated = false;
    let mut ascending = false;
    for (k, v) in util::query_pairs(&query) {
        match k.as_str() {
            "state" => state = v,
            "head" => head = v.split_once(':').map(|(o, b)| (o.to_owned(), b.to_owned())),
            "base" => base = Some(v),
            "sort" => by_updated = v == "updated",
            "direction" => ascending = v == "asc",
            _ => {}
        }
    }
    let mut found: Vec<_> = repo
        .issues
        .values()
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(i, _)| state == "all" || i.state == state)
        .filter(|(_, p)| match &head {
            Some((o, b)) => o.eq_ignore_ascii_case(&repo.owner) && p.head == *b,
            None => true,
        })
        .filter(|(_, p)| !matches!(&base, Some(b) if *b != p.base))
        .collect();
    if by_updated {
        found.sort_by_key(|(i, _)| (i.updated, i.number));
    } else {
        found.sort_by_key(|(i, _)| i.number);
    }
    if !ascending {
        found.reverse();
    }
    let items = found
        .into_iter()
        .map(|(i, p)| pulls::render(&s, repo, i, p))
        .collect();
    let path = format!("/repos/{owner}/{name}/pulls");
    Ok(paginated(&s, &path, &query, items))
}

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
) -> ApiResult {
    let key = authorize(
        &s.model(),
        &caller,
        &owner,
        &name,
        "pull_requests",
        "read",
        DOCS_GET,
    )?;
    let num = number(&num, DOCS_GET)?;
    pull_heads::refresh(&s, &key).await?;
    let m = s.model();
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let (issue, pull) = repo
        .issues
        .get(&num)
        .and_then(|i| Some((i, i.pull.as_ref()?)))
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(200, pulls::render(&s, repo, issue, pull)))
}
