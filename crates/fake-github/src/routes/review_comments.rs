//! Pull request review comments: list (oldest first), get, create (a new thread, or a reply with
//! `in_reply_to`) and reply in a thread. A comment on a path or line outside the diff gets
//! GitHub's `pull_request_review_thread.*` 422 when there is a local repository to check.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use serde_json::{json, Value};

use super::reviews::{anchor, pull_context, PullCtx, ONE_PENDING};
use super::{
    authorize, body_json, json, not_supplied, number, opt_member, opt_string, opt_u64, paginated,
    repo_or_404, with_location, S,
};
use crate::anchors::{Miss, Want};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::review_shapes;
use crate::reviews::{NewComment, Writer};
use crate::shared::Shared;
use crate::state::Actor;
use crate::util::{self, rfc3339};

const DOCS_LIST: &str =
    "https://docs.github.com/rest/pulls/comments#list-review-comments-on-a-pull-request";
const DOCS_GET: &str =
    "https://docs.github.com/rest/pulls/comments#get-a-review-comment-for-a-pull-request";
const DOCS_CREATE: &str =
    "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request";
const DOCS_REPLY: &str =
    "https://docs.github.com/rest/pulls/comments#create-a-reply-for-a-review-comment";

/// 422 `Validation Failed` on a review comment field.
fn comment_error(code: &str, field: &str, message: Option<&str>, docs: &str) -> ApiError {
    let mut e = json!({ "resource": "PullRequestReviewComment", "code": code, "field": field });
    if let Some(m) = message {
        e["message"] = json!(m);
    }
    ApiError::validation(json!([e]), docs)
}

/// `body` of a create or reply request: required, not blank.
fn text(o: &serde_json::Map<String, Value>, docs: &str) -> Result<String, ApiError> {
    let body = opt_string(o, "body", docs)?.ok_or_else(|| not_supplied(&["body"], docs))?;
    if body.trim().is_empty() {
        return Err(comment_error("missing_field", "body", None, docs));
    }
    Ok(body)
}

/// `GET /pulls/{n}/comments`: ascending by id; `sort` (created | updated) with `direction`,
/// and `since` (an ISO 8601 time: comments updated at or after it).
pub(super) async fn list(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query.unwrap_or_default();
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
    let rv = &repo
        .issues
        .get(&num)
        .and_then(|i| i.pull.as_ref())
        .ok_or_else(|| ApiError::not_found(DOCS_LIST))?
        .review;
    let (mut sort, mut descending, mut since) = (None, false, None);
    for (k, v) in util::query_pairs(&query) {
        match k.as_str() {
            "sort" => sort = Some(v),
            "direction" => descending = v == "desc",
            "since" => since = Some(v),
            _ => {}
        }
    }
    let mut found: Vec<_> = rv
        .comments
        .iter()
        .filter(|c| rv.visible_to(c.review_id, &Actor::Bot))
        // `YYYY-MM-DDTHH:MM:SSZ` strings order as the times they name.
        .filter(|c| !matches!(&since, Some(t) if rfc3339(c.updated) < *t))
        .collect();
    if sort.is_some() {
        if sort.as_deref() == Some("updated") {
            found.sort_by_key(|c| (c.updated, c.id));
        }
        if descending {
            found.reverse();
        }
    }
    let items = found
        .into_iter()
        .map(|c| review_shapes::comment(&s, repo, num, c))
        .collect();
    let path = format!("/repos/{owner}/{name}/pulls/{num}/comments");
    Ok(paginated(&s, &path, &query, items))
}

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(
        &m,
        &caller,
        &owner,
        &name,
        "pull_requests",
        "read",
        DOCS_GET,
    )?;
    let id = number(&id, DOCS_GET)?;
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let (issue, comment) = m
        .review_comment_in(&key, id)
        .filter(|(i, c)| {
            i.pull
                .as_ref()
                .is_some_and(|p| p.review.visible_to(c.review_id, &Actor::Bot))
        })
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(
        200,
        review_shapes::comment(&s, repo, issue.number, comment),
    ))
}

/// What a create request asks for.
enum Create {
    Reply {
        to: u64,
        body: String,
    },
    New {
        want: Want,
        body: String,
        commit_id: String,
    },
}

fn parse_create(raw: &[u8]) -> Result<Create, ApiError> {
    let v = body_json(raw, DOCS_CREATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_CREATE));
    };
    // The schema requires these three even for a reply (whose other fields are then ignored).
    let absent: Vec<&str> = ["body", "commit_id", "path"]
        .into_iter()
        .filter(|f| !o.contains_key(*f))
        .collect();
    if !absent.is_empty() {
        return Err(not_supplied(&absent, DOCS_CREATE));
    }
    let body = text(o, DOCS_CREATE)?;
    if let Some(to) = opt_u64(o, "in_reply_to", DOCS_CREATE)? {
        return Ok(Create::Reply { to, body });
    }
    let commit_id = opt_string(o, "commit_id", DOCS_CREATE)?.unwrap_or_default();
    let path = opt_string(o, "path", DOCS_CREATE)?.unwrap_or_default();
    let side = opt_member(o, "side", &["LEFT", "RIGHT"], DOCS_CREATE)?
        .unwrap_or_else(|| "RIGHT".to_owned());
    let on_file =
        opt_member(o, "subject_type", &["line", "file"], DOCS_CREATE)?.as_deref() == Some("file");
    let line = opt_u64(o, "line", DOCS_CREATE)?;
    if line.is_none() && !on_file {
        return Err(comment_error("missing_field", "line", None, DOCS_CREATE));
    }
    Ok(Create::New {
        want: Want {
            path,
            line: if on_file { None } else { line },
            side,
        },
        body,
        commit_id,
    })
}

/// Adds a reply to the thread of comment `to` (404 when it is not on this pull request).
fn add_reply(s: &Shared, ctx: &PullCtx, to: u64, body: &str, docs: &str) -> ApiResult {
    let writer = Writer {
        author: &Actor::Bot,
        commit_id: &ctx.head_sha,
        now: SystemTime::now(),
    };
    let mut m = s.model();
    let visible = m
        .review_comment_in(&ctx.key, to)
        .filter(|(i, _)| i.number == ctx.number)
        .is_some_and(|(i, c)| {
            i.pull
                .as_ref()
                .is_some_and(|p| p.review.visible_to(c.review_id, &Actor::Bot))
        });
    if !visible {
        return Err(ApiError::not_found(docs));
    }
    let id = m
        .add_review_reply(&ctx.key, ctx.number, &writer, to, body)
        .ok_or_else(|| ApiError::not_found(docs))?;
    created(s, &m, ctx, id, docs)
}

/// 201 with the comment and its `Location`.
fn created(s: &Shared, m: &crate::state::Model, ctx: &PullCtx, id: u64, docs: &str) -> ApiResult {
    let repo = repo_or_404(m, &ctx.key, docs)?;
    let (_, comment) = m
        .review_comment_in(&ctx.key, id)
        .ok_or_else(|| ApiError::not_found(docs))?;
    let location = format!("{}/repos/{}/pulls/comments/{id}", s.base, repo.full_name());
    Ok(with_location(
        json(201, review_shapes::comment(s, repo, ctx.number, comment)),
        &location,
    ))
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ctx = pull_context(&s, &caller, (&owner, &name, &num), "write", DOCS_CREATE).await?;
    let req = parse_create(&body)?;
    if ctx.pending.is_some() {
        return Err(ApiError::unprocessable(&[ONE_PENDING], DOCS_CREATE));
    }
    let (want, body, commit_id) = match req {
        Create::Reply { to, body } => return add_reply(&s, &ctx, to, &body, DOCS_CREATE),
        Create::New {
            want,
            body,
            commit_id,
        } => (want, body, commit_id),
    };
    let anchor = match anchor(&ctx, vec![want]).await? {
        Ok(mut anchors) => anchors.remove(0),
        Err(Miss::Path(_)) => {
            return Err(comment_error(
                "invalid",
                "pull_request_review_thread.path",
                Some("could not be resolved"),
                DOCS_CREATE,
            ))
        }
        Err(Miss::Line(_)) => {
            return Err(comment_error(
                "custom",
                "pull_request_review_thread.line",
                Some("could not be resolved"),
                DOCS_CREATE,
            ))
        }
    };
    let writer = Writer {
        author: &Actor::Bot,
        commit_id: &commit_id,
        now: SystemTime::now(),
    };
    let mut m = s.model();
    let id = m
        .add_review_comment(&ctx.key, ctx.number, &writer, NewComment { anchor, body })
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    created(&s, &m, &ctx, id, DOCS_CREATE)
}

/// `POST /pulls/{n}/comments/{id}/replies` `{body}`.
pub(super) async fn reply(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, num, id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let ctx = pull_context(&s, &caller, (&owner, &name, &num), "write", DOCS_REPLY).await?;
    let to = number(&id, DOCS_REPLY)?;
    let v = body_json(&body, DOCS_REPLY)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_REPLY));
    };
    let text = text(o, DOCS_REPLY)?;
    if ctx.pending.is_some() {
        return Err(ApiError::unprocessable(&[ONE_PENDING], DOCS_REPLY));
    }
    add_reply(&s, &ctx, to, &text, DOCS_REPLY)
}
