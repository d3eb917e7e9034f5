//! REST JSON shapes of reviews and review comments (`pulls/create-review`, `pulls/list-reviews`,
//! `pulls/create-review-comment`, `pulls/create-reply-for-review-comment`), also used for the
//! webhook payload builders of the test handle.

use serde_json::{json, Value};

use crate::render::{self, association};
use crate::reviews::{Review, ReviewComment};
use crate::shared::Shared;
use crate::state::Repo;
use crate::util::{node_id, rfc3339};

/// A review comment on pull request `number`.
pub(crate) fn comment(s: &Shared, r: &Repo, number: u64, c: &ReviewComment) -> Value {
    let full = r.full_name();
    let api = format!("{}/repos/{full}/pulls/comments/{}", s.base, c.id);
    let html = format!("{}/{full}/pull/{number}#discussion_r{}", s.base, c.id);
    let pull_api = format!("{}/repos/{full}/pulls/{number}", s.base);
    let a = &c.anchor;
    let mut v = json!({
        "url": api,
        "pull_request_review_id": c.review_id,
        "id": c.id,
        "node_id": node_id("PullRequestReviewComment", c.id),
        "diff_hunk": a.diff_hunk,
        "path": a.path,
        "position": a.position,
        "original_position": a.position,
        "commit_id": c.commit_id,
        "original_commit_id": c.commit_id,
        "user": render::user(s, &c.author),
        "body": c.body,
        "created_at": rfc3339(c.created),
        "updated_at": rfc3339(c.updated),
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": association(r, &c.author),
        "_links": {
            "self": { "href": api },
            "html": { "href": html },
            "pull_request": { "href": pull_api },
        },
        "reactions": render::reactions_rollup(format!("{api}/reactions"), &[]),
        "start_line": null,
        "original_start_line": null,
        "start_side": null,
        "line": a.line,
        "original_line": a.line,
        "side": a.side,
        "subject_type": if a.line.is_some() { "line" } else { "file" },
    });
    // GitHub leaves the key out for a thread's root comment.
    if let Some(to) = c.in_reply_to {
        v["in_reply_to_id"] = json!(to);
    }
    v
}

/// A review of pull request `number`. A pending review has no `submitted_at`.
pub(crate) fn review(s: &Shared, r: &Repo, number: u64, rv: &Review) -> Value {
    let full = r.full_name();
    let html = format!(
        "{}/{full}/pull/{number}#pullrequestreview-{}",
        s.base, rv.id
    );
    let pull_api = format!("{}/repos/{full}/pulls/{number}", s.base);
    let mut v = json!({
        "id": rv.id,
        "node_id": node_id("PullRequestReview", rv.id),
        "user": render::user(s, &rv.author),
        "body": rv.body,
        "state": rv.state,
        "html_url": html,
        "pull_request_url": pull_api,
        "author_association": association(r, &rv.author),
        "_links": {
            "html": { "href": html },
            "pull_request": { "href": pull_api },
        },
        "commit_id": rv.commit_id,
    });
    if let Some(t) = rv.submitted {
        v["submitted_at"] = json!(rfc3339(t));
    }
    v
}
