//! Test-side set-up and inspection of pull request reviews: reviews, comments and replies added
//! as a user would (no webhook is sent: tests send their own), and the threads they form.

use std::path::PathBuf;
use std::time::SystemTime;

use super::{key_of, FakeGitHub};
use crate::anchors::{self, Want};
use crate::render::{actor_for, login_of};
use crate::reviews::{Anchor, NewComment, Writer};
use crate::state::Actor;
use crate::{ReviewCommentRecord, ReviewRecord, ReviewThreadRecord};

/// A pull request's author and current commits, read for a new review or comment.
struct Target {
    author: Actor,
    head_sha: String,
    base_sha: String,
    git_dir: Option<PathBuf>,
}

impl FakeGitHub {
    fn review_target(&self, key: &str, full_name: &str, pr: u64) -> Target {
        crate::pull_heads::refresh_now(self.s(), key);
        let m = self.s().model();
        let repo = m.repo(key);
        let issue = repo
            .and_then(|r| r.issues.get(&pr))
            .filter(|i| i.pull.is_some())
            .unwrap_or_else(|| panic!("fake-github: unknown pull request {full_name}#{pr}"));
        let pull = issue.pull.as_ref().expect("checked above");
        Target {
            author: actor_for(self.s(), &issue.author),
            head_sha: pull.head_sha.clone(),
            base_sha: pull.base_sha.clone(),
            git_dir: repo.and_then(|r| r.local_git_dir()),
        }
    }

    /// Anchors on the real diff when there is a local repository, without refusing anything (a
    /// repository `git` cannot read gives placeholders, as without one).
    fn anchors_for(t: &Target, wants: &[Want]) -> Vec<Anchor> {
        match &t.git_dir {
            Some(dir) => match anchors::in_repo(dir, &t.base_sha, &t.head_sha, wants, false) {
                Ok(Ok(anchors)) => anchors,
                _ => anchors::without_repo(wants),
            },
            None => anchors::without_repo(wants),
        }
    }

    /// A submitted review by `author` (state `CHANGES_REQUESTED`, `COMMENTED`, `APPROVED`, or
    /// `PENDING`) on the pull request's current head, with inline comments `(path, line, body)`
    /// on the right side, each opening a thread. Returns the review id and the comment ids.
    /// Panics for an approval or change request by the pull request's author (GitHub refuses).
    pub fn add_review(
        &self,
        full_name: &str,
        pr: u64,
        author: &str,
        state: &str,
        body: &str,
        comments: &[(&str, u64, &str)],
    ) -> (u64, Vec<u64>) {
        assert!(
            ["CHANGES_REQUESTED", "COMMENTED", "APPROVED", "PENDING"].contains(&state),
            "fake-github: unknown review state {state:?}"
        );
        let key = key_of(full_name);
        let t = self.review_target(&key, full_name, pr);
        let actor = actor_for(self.s(), author);
        assert!(
            !(actor == t.author && (state == "APPROVED" || state == "CHANGES_REQUESTED")),
            "fake-github: GitHub refuses {state} by the author of {full_name}#{pr}"
        );
        let wants: Vec<Want> = comments
            .iter()
            .map(|(path, line, _)| Want {
                path: (*path).to_owned(),
                line: Some(*line),
                side: "RIGHT".to_owned(),
            })
            .collect();
        let new = Self::anchors_for(&t, &wants)
            .into_iter()
            .zip(comments)
            .map(|(anchor, (_, _, text))| NewComment {
                anchor,
                body: (*text).to_owned(),
            })
            .collect();
        let writer = Writer {
            author: &actor,
            commit_id: &t.head_sha,
            now: SystemTime::now(),
        };
        self.s()
            .model()
            .add_review(&key, pr, &writer, state, body, new)
            .unwrap_or_else(|| panic!("fake-github: unknown pull request {full_name}#{pr}"))
    }

    /// A single review comment by `author` on `path` at `line` (right side), opening a thread;
    /// it gets a `COMMENTED` review of its own, as on GitHub. Returns the comment id.
    pub fn add_review_comment(
        &self,
        full_name: &str,
        pr: u64,
        author: &str,
        path: &str,
        line: u64,
        body: &str,
    ) -> u64 {
        let (_, ids) = self.add_review(
            full_name,
            pr,
            author,
            "COMMENTED",
            "",
            &[(path, line, body)],
        );
        ids[0]
    }

    /// A reply by `author` in the thread of comment `in_reply_to`. Returns the comment id.
    pub fn add_review_reply(
        &self,
        full_name: &str,
        pr: u64,
        in_reply_to: u64,
        author: &str,
        body: &str,
    ) -> u64 {
        let key = key_of(full_name);
        let t = self.review_target(&key, full_name, pr);
        let actor = actor_for(self.s(), author);
        let writer = Writer {
            author: &actor,
            commit_id: &t.head_sha,
            now: SystemTime::now(),
        };
        self.s()
            .model()
            .add_review_reply(&key, pr, &writer, in_reply_to, body)
            .unwrap_or_else(|| {
                panic!("fake-github: no review comment {in_reply_to} on {full_name}#{pr}")
            })
    }

    /// The review threads of a pull request, oldest first, pending ones included. Empty if
    /// unknown.
    pub fn review_threads(&self, full_name: &str, pr: u64) -> Vec<ReviewThreadRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        let Some(pull) = m.issue(&key, pr).and_then(|i| i.pull.as_ref()) else {
            return Vec::new();
        };
        let rv = &pull.review;
        rv.threads
            .iter()
            .map(|t| {
                let comments: Vec<ReviewCommentRecord> = t
                    .comment_ids
                    .iter()
                    .filter_map(|id| rv.comment(*id))
                    .map(|c| ReviewCommentRecord {
                        id: c.id,
                        body: c.body.clone(),
                        user_login: login_of(self.s(), &c.author),
                        in_reply_to: c.in_reply_to,
                        path: c.anchor.path.clone(),
                        line: c.anchor.line,
                    })
                    .collect();
                ReviewThreadRecord {
                    node_id: t.node_id(),
                    resolved: t.resolved_by.is_some(),
                    resolved_by: t.resolved_by.as_ref().map(|a| login_of(self.s(), a)),
                    path: comments.first().map(|c| c.path.clone()).unwrap_or_default(),
                    line: comments.first().and_then(|c| c.line),
                    comments,
                }
            })
            .collect()
    }

    /// The reviews of a pull request, oldest first (the implicit ones of single comments and
    /// replies included). Empty if unknown.
    pub fn reviews(&self, full_name: &str, pr: u64) -> Vec<ReviewRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        let Some(pull) = m.issue(&key, pr).and_then(|i| i.pull.as_ref()) else {
            return Vec::new();
        };
        pull.review
            .reviews
            .iter()
            .map(|r| ReviewRecord {
                id: r.id,
                state: r.state.clone(),
                body: r.body.clone(),
                user_login: login_of(self.s(), &r.author),
                commit_id: r.commit_id.clone(),
                comment_ids: r.comment_ids.clone(),
            })
            .collect()
    }
}
