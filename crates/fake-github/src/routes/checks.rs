//! Check-run routes: create, update, get, and list for a commit. Request bodies are checked like
//! GitHub's schema does (`Invalid request.` 422s); `head_sha` / `ref` are verified against the
//! repository's local git directory when there is one (and the runs' `pull_requests` are matched
//! against the pull requests' current head commits).

use std::path::PathBuf;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::Value;

use super::{
    authorize, blocking, body_json, invalid, json, number, opt_string, paginated_in, repo_or_404,
    shown, S,
};
use crate::auth::Caller;
use crate::checks::{self, CheckRun};
use crate::error::{ApiError, ApiResult};
use crate::{git, pull_heads, util};

const DOCS_CREATE: &str = "https://docs.github.com/rest/checks/runs#create-a-check-run";
const DOCS_UPDATE: &str = "https://docs.github.com/rest/checks/runs#update-a-check-run";
const DOCS_GET: &str = "https://docs.github.com/rest/checks/runs#get-a-check-run";
const DOCS_LIST: &str =
    "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference";

const STATUSES: &[&str] = &["queued", "in_progress", "completed"];
/// `stale` is left out: only GitHub sets it.
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
];
/// GitHub's limit on `output.summary` and `output.text`, in characters.
const MAX_OUTPUT_CHARS: usize = 65_535;

/// A create/update body, validated.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    head_sha: Option<String>,
    details_url: Option<String>,
    external_id: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    started_at: Option<String>,
    completed_at: Option<String>,
    output: Option<Output>,
}

struct Output {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    annotations: usize,
}

fn member(
    value: Option<String>,
    field: &str,
    allowed: &[&str],
    docs: &str,
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
            Err(invalid(
                &format!(
                    "For 'properties/{field}', {} is not a member of [{}].",
                    Value::String(v),
                    list.join(", ")
                ),
                docs,
            ))
        }
        other => Ok(other),
    }
}

fn check_length(text: &Option<String>, docs: &str) -> Result<(), ApiError> {
    if let Some(t) = text {
        let n = t.chars().count();
        if n > MAX_OUTPUT_CHARS {
            return Err(invalid(
                &format!("Only {MAX_OUTPUT_CHARS} characters are allowed; {n} were supplied."),
                docs,
            ));
        }
    }
    Ok(())
}

fn parse_output(v: &Value, creating: bool, docs: &str) -> Result<Output, ApiError> {
    let Value::Object(o) = v else {
        return Err(invalid(
            &format!("For 'properties/output', {} is not an object.", shown(v)),
            docs,
        ));
    };
    let title = opt_string(o, "title", docs)?;
    let summary = opt_string(o, "summary", docs)?;
    let text = opt_string(o, "text", docs)?;
    // create: title and summary required; update: summary required.
    if creating && title.is_none() {
        return Err(ApiError::missing_field("title", docs));
    }
    if summary.is_none() {
        return Err(ApiError::missing_field("summary", docs));
    }
    check_length(&summary, docs)?;
    check_length(&text, docs)?;
    let annotations = o
        .get("annotations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Ok(Output {
        title,
        summary,
        text,
        annotations,
    })
}

fn parse(raw: &[u8], creating: bool, docs: &str) -> Result<Fields, ApiError> {
    let v = body_json(raw, docs)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(docs));
    };
    let mut f = Fields {
        name: opt_string(o, "name", docs)?,
        details_url: opt_string(o, "details_url", docs)?,
        external_id: opt_string(o, "external_id", docs)?,
        started_at: opt_string(o, "started_at", docs)?,
        completed_at: opt_string(o, "completed_at", docs)?,
        ..Fields::default()
    };
    if creating {
        f.head_sha = opt_string(o, "head_sha", docs)?;
        if f.name.is_none() {
            return Err(ApiError::missing_field("name", docs));
        }
        if f.head_sha.is_none() {
            return Err(ApiError::missing_field("head_sha", docs));
        }
    }
    f.status = member(opt_string(o, "status", docs)?, "status", STATUSES, docs)?;
    f.conclusion = member(
        opt_string(o, "conclusion", docs)?,
        "conclusion",
        CONCLUSIONS,
        docs,
    )?;
    // `conclusion` is required with `status: completed` or a `completed_at`.
    if f.conclusion.is_none()
        && (f.status.as_deref() == Some("completed") || f.completed_at.is_some())
    {
        return Err(invalid(
            "No subschema in \"anyOf\" matched.\n\"conclusion\" wasn't supplied.",
            docs,
        ));
    }
    if let Some(out) = o.get("output") {
        f.output = Some(parse_output(out, creating, docs)?);
    }
    Ok(f)
}

/// 422 for a sha or ref that names no commit of the repository.
fn no_commit(sha: &str, docs: &str) -> ApiError {
    ApiError::new(422, &format!("No commit found for SHA: {sha}"), docs)
}

/// Resolves `rev` to a full commit sha in the local repository, if the repository has one;
/// `Ok(None)` when it names no commit. Without a local repository `rev` is taken as it is.
async fn commit_sha(git_dir: Option<PathBuf>, rev: &str) -> Result<Option<String>, ApiError> {
    match git_dir {
        None => Ok(Some(rev.to_owned())),
        Some(dir) => {
            let rev = rev.to_owned();
            blocking(move || git::resolve_commit(&dir, &rev)).await
        }
    }
}

/// Authorizes and returns the repository key and its local git directory (if any).
fn repo_and_git_dir(
    s: &crate::shared::Shared,
    caller: &Caller,
    owner: &str,
    name: &str,
    level: &str,
    docs: &str,
) -> Result<(String, Option<PathBuf>), ApiError> {
    let m = s.model();
    let key = authorize(&m, caller, owner, name, "checks", level, docs)?;
    let repo = repo_or_404(&m, &key, docs)?;
    Ok((key.clone(), repo.local_git_dir()))
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let (key, git_dir) = repo_and_git_dir(&s, &caller, &owner, &name, "write", DOCS_CREATE)?;
    pull_heads::refresh(&s, &key).await?;
    let f = parse(&body, true, DOCS_CREATE)?;
    let asked_sha = f.head_sha.clone().unwrap_or_default();
    if asked_sha.is_empty() {
        return Err(no_commit(&asked_sha, DOCS_CREATE));
    }
    let head_sha = commit_sha(git_dir, &asked_sha)
        .await?
        .ok_or_else(|| no_commit(&asked_sha, DOCS_CREATE))?;

    let now = util::rfc3339(SystemTime::now());
    let completed = f.conclusion.is_some();
    let status = if completed {
        "completed".to_owned()
    } else {
        f.status.unwrap_or_else(|| "queued".to_owned())
    };
    let (title, summary, text, annotations) = match f.output {
        Some(o) => (o.title, o.summary, o.text, o.annotations),
        None => (None, None, None, 0),
    };
    let run = CheckRun {
        id: 0,
        name: f.name.unwrap_or_default(),
        head_sha,
        status,
        conclusion: f.conclusion,
        started_at: Some(f.started_at.unwrap_or_else(|| now.clone())),
        completed_at: completed.then(|| f.completed_at.unwrap_or(now)),
        title,
        summary,
        text,
        details_url: f.details_url,
        external_id: f.external_id.unwrap_or_default(),
        annotations,
        check_suite: 0,
    };
    let mut m = s.model();
    let id = m
        .add_check_run(&key, run)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
    let run = repo
        .check_runs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let location = format!("{}/repos/{}/check-runs/{id}", s.base, repo.full_name());
    Ok(super::with_location(
        json(201, checks::render(&s, repo, run)),
        &location,
    ))
}

pub(super) async fn update(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let (key, _) = repo_and_git_dir(&s, &caller, &owner, &name, "write", DOCS_UPDATE)?;
    pull_heads::refresh(&s, &key).await?;
    let id = number(&id, DOCS_UPDATE)?;
    let f = parse(&body, false, DOCS_UPDATE)?;
    let now = util::rfc3339(SystemTime::now());
    let mut m = s.model();
    let run = m
        .repo_mut(&key)
        .and_then(|r| r.check_runs.get_mut(&id))
        .ok_or_else(|| ApiError::not_found(DOCS_UPDATE))?;
    if let Some(v) = f.name {
        run.name = v;
    }
    if let Some(v) = f.details_url {
        run.details_url = Some(v);
    }
    if let Some(v) = f.external_id {
        run.external_id = v;
    }
    if let Some(v) = f.started_at {
        run.started_at = Some(v);
    }
    if let Some(c) = f.conclusion {
        // A conclusion completes the run.
        run.status = "completed".to_owned();
        run.conclusion = Some(c);
        run.completed_at = Some(f.completed_at.or(run.completed_at.take()).unwrap_or(now));
    } else if let Some(st) = f.status {
        // queued / in_progress (completed without a conclusion was refused by `parse`).
        run.status = st;
        run.conclusion = None;
        run.completed_at = None;
    }
    if let Some(o) = f.output {
        if o.title.is_some() {
            run.title = o.title;
        }
        run.summary = o.summary;
        if o.text.is_some() {
            run.text = o.text;
        }
        run.annotations += o.annotations;
    }
    let repo = repo_or_404(&m, &key, DOCS_UPDATE)?;
    let run = repo
        .check_runs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(DOCS_UPDATE))?;
    Ok(json(200, checks::render(&s, repo, run)))
}

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let key = authorize(
        &s.model(),
        &caller,
        &owner,
        &name,
        "checks",
        "read",
        DOCS_GET,
    )?;
    let id = number(&id, DOCS_GET)?;
    pull_heads::refresh(&s, &key).await?;
    let m = s.model();
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let run = repo
        .check_runs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(200, checks::render(&s, repo, run)))
}

/// `GET /commits/{ref}/check-runs`: newest first; `check_name`, `status` and `filter`
/// (`latest`, the default: the newest run of each name; `all`) as on GitHub.
pub(super) async fn list_for_ref(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, git_ref)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query.unwrap_or_default();
    let (key, git_dir) = repo_and_git_dir(&s, &caller, &owner, &name, "read", DOCS_LIST)?;
    pull_heads::refresh(&s, &key).await?;
    let sha = commit_sha(git_dir, &git_ref)
        .await?
        .ok_or_else(|| no_commit(&git_ref, DOCS_LIST))?;

    let mut check_name = None;
    let mut status = None;
    let mut latest = true;
    for (k, v) in util::query_pairs(&query) {
        match k.as_str() {
            "check_name" => check_name = Some(v),
            "status" => status = Some(v),
            "filter" => latest = v != "all",
            _ => {}
        }
    }
    let m = s.model();
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;
    let mut runs: Vec<&CheckRun> = repo
        .check_runs
        .values()
        .rev()
        .filter(|c| c.head_sha.eq_ignore_ascii_case(&sha))
        .filter(|c| !matches!(&check_name, Some(n) if c.name != *n))
        .filter(|c| !matches!(&status, Some(st) if c.status != *st))
        .collect();
    if latest {
        let mut seen = std::collections::HashSet::new();
        runs.retain(|c| seen.insert(c.name.clone()));
    }
    let items = runs
        .into_iter()
        .map(|c| checks::render(&s, repo, c))
        .collect();
    let path = format!("/repos/{owner}/{name}/commits/{git_ref}/check-runs");
    Ok(paginated_in(&s, &path, &query, "check_runs", items))
}
