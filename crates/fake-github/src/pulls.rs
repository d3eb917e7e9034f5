//! Pull requests. A pull request is an issue (same number series, labels, comments, reactions)
//! whose `pull` part holds the branch data; this module holds that part, the model operations on
//! it and its JSON shapes (the pull request itself and the `pull_request` key of the issue shape).
//! Reviews live in `crate::reviews`; `crate::pull_heads` keeps the branch data live.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::render::{self, actor_for};
use crate::shared::Shared;
use crate::state::{Issue, Model, Repo};
use crate::util::{node_id, rfc3339};

/// The pull-request part of an issue.
#[derive(Debug, Clone)]
pub(crate) struct Pull {
    /// The pull request id (distinct from the issue id, as on GitHub).
    pub id: u64,
    /// Head branch name (always in the same repository: the fake knows no forks).
    pub head: String,
    pub head_sha: String,
    pub base: String,
    pub base_sha: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub commits: u64,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
    /// Reviews, review comments and their threads.
    pub review: crate::reviews::PullReviews,
}

/// What `POST /pulls` asks for, once validated.
pub(crate) struct NewPull {
    pub title: String,
    pub body: String,
    pub author: String,
    pub head: String,
    pub head_sha: String,
    pub base: String,
    pub base_sha: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub compare: crate::git::Compare,
}

impl Model {
    /// The open pull request from `head` into `base`, if any.
    pub fn open_pull(&self, key: &str, head: &str, base: &str) -> Option<&Issue> {
        self.repo(key)?.issues.values().find(|i| {
            i.state == "open"
                && i.pull
                    .as_ref()
                    .is_some_and(|p| p.head == head && p.base == base)
        })
    }

    /// Creates the issue and its pull-request part; returns the number.
    pub fn add_pull(&mut self, key: &str, new: NewPull, now: SystemTime) -> Option<u64> {
        let number = self.add_issue(key, &new.title, &new.body, &new.author, now)?;
        let id = self.next_pull;
        self.next_pull += 1;
        let issue = self.repo_mut(key)?.issues.get_mut(&number)?;
        issue.pull = Some(Pull {
            id,
            head: new.head,
            head_sha: new.head_sha,
            base: new.base,
            base_sha: new.base_sha,
            draft: new.draft,
            maintainer_can_modify: new.maintainer_can_modify,
            commits: new.compare.commits,
            additions: new.compare.additions,
            deletions: new.compare.deletions,
            changed_files: new.compare.changed_files,
            review: Default::default(),
        });
        Some(number)
    }
}

/// `{base}/{owner}/{repo}/pull/N`.
pub(crate) fn html_url(s: &Shared, r: &Repo, number: u64) -> String {
    format!("{}/{}/pull/{number}", s.base, r.full_name())
}

/// The `pull_request` object of a pull request's issue shape.
pub(crate) fn issue_link(s: &Shared, r: &Repo, number: u64) -> Value {
    let html = html_url(s, r, number);
    json!({
        "url": format!("{}/repos/{}/pulls/{number}", s.base, r.full_name()),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "merged_at": null,
    })
}

/// `head` / `base` of a pull request.
fn branch_end(s: &Shared, r: &Repo, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", r.owner),
        "ref": branch,
        "sha": sha,
        "user": render::user_login(s, &r.owner),
        "repo": render::repo(s, r),
    })
}

/// The pull request shape (`pulls/create`, `pulls/get`, list items).
pub(crate) fn render(s: &Shared, r: &Repo, i: &Issue, p: &Pull) -> Value {
    let full = r.full_name();
    let n = i.number;
    let api = format!("{}/repos/{full}/pulls/{n}", s.base);
    let issue_api = format!("{}/repos/{full}/issues/{n}", s.base);
    let html = html_url(s, r, n);
    let statuses = format!("{}/repos/{full}/statuses/{}", s.base, p.head_sha);
    let review_comment = format!("{}/repos/{full}/pulls/comments{{/number}}", s.base);
    let author = actor_for(s, &i.author);
    let issue_json = render::issue(s, r, i);
    json!({
        "url": api,
        "id": p.id,
        "node_id": node_id("PullRequest", p.id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_api,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": review_comment,
        "comments_url": format!("{issue_api}/comments"),
        "statuses_url": statuses,
        "number": n,
        "state": i.state,
        "locked": false,
        "title": i.title,
        "user": render::user(s, &author),
        "body": issue_json["body"],
        "labels": issue_json["labels"],
        "milestone": null,
        "active_lock_reason": null,
        "created_at": rfc3339(i.created),
        "updated_at": rfc3339(i.updated),
        "closed_at": i.closed_at.map(rfc3339),
        "merged_at": null,
        "merge_commit_sha": null,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": branch_end(s, r, &p.head, &p.head_sha),
        "base": branch_end(s, r, &p.base, &p.base_sha),
        "_links": {
            "self": { "href": api },
            "html": { "href": html },
            "issue": { "href": issue_api },
            "comments": { "href": format!("{issue_api}/comments") },
            "review_comments": { "href": format!("{api}/comments") },
            "review_comment": { "href": review_comment },
            "commits": { "href": format!("{api}/commits") },
            "statuses": { "href": statuses },
        },
        "author_association": issue_json["author_association"],
        "auto_merge": null,
        "draft": p.draft,
        "merged": false,
        "mergeable": null,
        "rebaseable": null,
        "mergeable_state": "unknown",
        "merged_by": null,
        "comments": i.comment_ids.len(),
        "review_comments": p.review.submitted_comments(),
        "maintainer_can_modify": p.maintainer_can_modify,
        "commits": p.commits,
        "additions": p.additions,
        "deletions": p.deletions,
        "changed_files": p.changed_files,
    })
}

/// The `pull_requests` entry of a check run (the short form).
pub(crate) fn check_run_ref(s: &Shared, r: &Repo, i: &Issue, p: &Pull) -> Value {
    let repo = json!({
        "id": r.id,
        "url": format!("{}/repos/{}", s.base, r.full_name()),
        "name": r.name,
    });
    json!({
        "url": format!("{}/repos/{}/pulls/{}", s.base, r.full_name(), i.number),
        "id": p.id,
        "number": i.number,
        "head": { "ref": p.head, "sha": p.head_sha, "repo": repo },
        "base": { "ref": p.base, "sha": p.base_sha, "repo": repo },
    })
}
