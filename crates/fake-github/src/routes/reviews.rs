//! Pull request reviews: list and create (with inline comments, each opening a thread), with
//! GitHub's 422s: a body for `REQUEST_CHANGES`/`COMMENT`, no approving or requesting changes on
//! one's own pull request, one pending review per user, paths and lines in the diff. Also the
//! pull-request look-up the review-comment routes share.

use std::path::PathBuf;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::Value;

use super::{
    authorize, blocking, body_json, json, not_supplied, number, opt_member, opt_string, opt_u64,
    paginated, repo_or_404, S,
};
use crate::anchors::{self, Miss, Want};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render::actor_for;
use crate::reviews::{Anchor, NewComment, Writer};
use crate::shared::Shared;
use crate::state::Actor;
use crate::{pull_heads, review_shapes};

const DOCS_LIST: &str =
    "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request";
const DOCS_CREATE: &str =
    "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";

/// GitHub's refusal while the caller has a pending review on the pull request.
pub(super) const ONE_PENDING: &str = "User can only have one pending review per pull request";

/// A pull request about to get reviews or comments, with its branch data made current.
pub(super) struct PullCtx {
    pub key: String,
    pub number: u64,
    pub author: Actor,
    pub head_sha: String,
    pub base_sha: String,
    pub git_dir: Option<PathBuf>,
    /// The caller's pending review on it, if any.
    pub pending: Option<u64>,
}

/// Authorizes `pull_requests: <level>`, refreshes the branch data and finds pull request `num`
/// (404 for a plain issue's number too).
pub(super) async fn pull_context(
    s: &Shared,
    caller: &Caller,
    (owner, name, num): (&str, &str, &str),
    level: &str,
    docs: &str,
) -> Result<PullCtx, ApiError> {
    let key = authorize(
        &s.model(),
        caller,
        owner,
        name,
        "pull_requests",
        level,
        docs,
    )?;
    let number = number(num, docs)?;
    pull_heads::refresh(s, &key).await?;
    let m = s.model();
    let repo = repo_or_404(&m, &key, docs)?;
    let (issue, pull) = repo
        .issues
        .get(&number)
        .and_then(|i| Some((i, i.pull.as_ref()?)))
        .ok_or_else(|| ApiError::not_found(docs))?;
    Ok(PullCtx {
        key: key.clone(),
        number,
        author: actor_for(s, &issue.author),
        head_sha: pull.head_sha.clone(),
        base_sha: pull.base_sha.clone(),
        git_dir: repo.local_git_dir(),
        pending: pull.review.pending_of(&Actor::Bot),
    })
}

/// Anchors comments on the pull request's diff (GitHub's 422s with a local repository).
pub(super) async fn anchor(
    ctx: &PullCtx,
    wants: Vec<Want>,
) -> Result<Result<Vec<Anchor>, Miss>, ApiError> {
    match ctx.git_dir.clone() {
        None => Ok(Ok(anchors::without_repo(&wants))),
        Some(dir) => {
            let (base, head) = (ctx.base_sha.clone(), ctx.head_sha.clone());
            blocking(move || anchors::in_repo(&dir, &base, &head, &wants, true)).await
        }
    }
}

pub(super) async fn list(
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
        "pull_requests",
        "read",
        DOCS_LIST,
    )?;
    let num = number(&num, DOCS_LIST)?;
    let repo = repo_or_404(&m, &key, DOCS_LIST)?;
    let pull = repo
        .issues
        .get(&num)
        .and_then(|i| i.pull.as_ref())
        .ok_or_else(|| ApiError::not_found(DOCS_LIST))?;
    let items = pull
        .review
        .reviews
        .iter()
        .filter(|r| pull.review.visible_to(r.id, &Actor::Bot))
        .map(|r| review_shapes::review(&s, repo, num, r))
        .collect();
    let path = format!("/repos/{owner}/{name}/pulls/{num}/reviews");
    Ok(paginated(&s, &path, &query.unwrap_or_default(), items))
}

/// A create body, validated for presence and types.
struct Request {
    body: String,
    /// The review state the event gives (`PENDING` without one).
    state: &'static str,
    commit_id: Option<String>,
    comments: Vec<(Want, String)>,
}

fn parse(raw: &[u8]) -> Result<Request, ApiError> {
    let v = body_json(raw, DOCS_CREATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_CREATE));
    };
    let body = opt_string(o, "body", DOCS_CREATE)?.unwrap_or_default();
    let event = opt_member(
        o,
        "event",
        &["APPROVE", "REQUEST_CHANGES", "COMMENT"],
        DOCS_CREATE,
    )?;
    let state = match event.as_deref() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some(_) => "COMMENTED",
        None => "PENDING",
    };
    let commit_id = opt_string(o, "commit_id", DOCS_CREATE)?;
    let mut comments = Vec::new();
    match o.get("comments") {
        None => {}
        Some(Value::Array(list)) => {
            for c in list {
                let Value::Object(c) = c else {
                    return Err(super::invalid(
                        &format!("For 'items', {} is not an object.", super::shown(c)),
                        DOCS_CREATE,
                    ));
                };
                let path = opt_string(c, "path", DOCS_CREATE)?;
                let text = opt_string(c, "body", DOCS_CREATE)?;
                let (Some(path), Some(text)) = (path, text) else {
                    let absent: Vec<&str> = ["path", "body"]
                        .into_iter()
                        .filter(|f| !c.contains_key(*f))
                        .collect();
                    return Err(not_supplied(&absent, DOCS_CREATE));
                };
                let line = opt_u64(c, "line", DOCS_CREATE)?;
                if line.is_none() {
                    // The deprecated `position` (diff offset) is not modelled.
                    return Err(ApiError::new(
                        422,
                        "fake-github: review comments need `line` (`position` is not supported)",
                        DOCS_CREATE,
                    ));
                }
                let side = opt_member(c, "side", &["LEFT", "RIGHT"], DOCS_CREATE)?
                    .unwrap_or_else(|| "RIGHT".to_owned());
                comments.push((Want { path, line, side }, text));
            }
        }
        Some(other) => {
            return Err(super::invalid(
                &format!(
                    "For 'properties/comments', {} is not an array.",
                    super::shown(other)
                ),
                DOCS_CREATE,
            ))
        }
    }
    Ok(Request {
        body,
        state,
        commit_id,
        comments,
    })
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ctx = pull_context(&s, &caller, (&owner, &name, &num), "write", DOCS_CREATE).await?;
    let req = parse(&body)?;
    let own = ctx.author == Actor::Bot;
    match req.state {
        "APPROVED" if own => {
            return Err(ApiError::unprocessable(
                &["Review Can not approve your own pull request"],
                DOCS_CREATE,
            ))
        }
        "CHANGES_REQUESTED" if own => {
            return Err(ApiError::unprocessable(
                &["Review Can not request changes on your own pull request"],
                DOCS_CREATE,
            ))
        }
        "CHANGES_REQUESTED" | "COMMENTED"
            if req.body.trim().is_empty() && req.comments.is_empty() =>
        {
            return Err(ApiError::unprocessable(
                &["Body can't be blank"],
                DOCS_CREATE,
            ))
        }
        _ => {}
    }
    if ctx.pending.is_some() {
        return Err(ApiError::unprocessable(&[ONE_PENDING], DOCS_CREATE));
    }
    let (wants, texts): (Vec<Want>, Vec<String>) = req.comments.into_iter().unzip();
    let anchors = anchor(&ctx, wants).await?.map_err(|miss| {
        let reason = match miss {
            Miss::Path(_) => "Path could not be resolved",
            Miss::Line(_) => "Line could not be resolved",
        };
        ApiError::unprocessable(&[reason], DOCS_CREATE)
    })?;
    let comments = anchors
        .into_iter()
        .zip(texts)
        .map(|(anchor, body)| NewComment { anchor, body })
        .collect();

    let commit_id = req.commit_id.unwrap_or_else(|| ctx.head_sha.clone());
    let writer = Writer {
        author: &Actor::Bot,
        commit_id: &commit_id,
        now: SystemTime::now(),
    };
    let mut m = s.model();
    let (id, _) = m
        .add_review(
            &ctx.key, ctx.number, &writer, req.state, &req.body, comments,
        )
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let repo = repo_or_404(&m, &ctx.key, DOCS_CREATE)?;
    let review = repo
        .issues
        .get(&ctx.number)
        .and_then(|i| i.pull.as_ref()?.review.review(id))
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    Ok(json(
        200,
        review_shapes::review(&s, repo, ctx.number, review),
    ))
}
