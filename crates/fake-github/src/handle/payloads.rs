//! JSON for tests to build webhook payloads from: exactly what the REST API answers for the same
//! object (the API's own renderers), so a payload and a later `GET` agree. Each panics for an
//! unknown object, a test set-up mistake.

use serde_json::Value;

use super::{key_of, FakeGitHub};
use crate::{pulls, render, review_shapes};

impl FakeGitHub {
    /// `GET /repos/{o}/{r}`.
    pub fn repo_json(&self, full_name: &str) -> Value {
        let m = self.s().model();
        let repo = m
            .repo(&key_of(full_name))
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        render::repo(self.s(), repo)
    }

    /// `GET /repos/{o}/{r}/issues/{n}` (a pull request's number gives its issue view).
    pub fn issue_json(&self, full_name: &str, number: u64) -> Value {
        let m = self.s().model();
        let key = key_of(full_name);
        let (repo, issue) = m
            .repo(&key)
            .and_then(|r| Some((r, r.issues.get(&number)?)))
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{number}"));
        render::issue(self.s(), repo, issue)
    }

    /// `GET /repos/{o}/{r}/pulls/{n}`, with the branches' current commits.
    pub fn pull_json(&self, full_name: &str, number: u64) -> Value {
        let key = key_of(full_name);
        crate::pull_heads::refresh_now(self.s(), &key);
        let m = self.s().model();
        let (repo, issue, pull) = m
            .repo(&key)
            .and_then(|r| {
                let i = r.issues.get(&number)?;
                Some((r, i, i.pull.as_ref()?))
            })
            .unwrap_or_else(|| panic!("fake-github: unknown pull request {full_name}#{number}"));
        pulls::render(self.s(), repo, issue, pull)
    }

    /// A review as `GET /repos/{o}/{r}/pulls/{pr}/reviews` lists it.
    pub fn review_json(&self, full_name: &str, pr: u64, review_id: u64) -> Value {
        let m = self.s().model();
        let (repo, review) = m
            .repo(&key_of(full_name))
            .and_then(|r| {
                let review = r.issues.get(&pr)?.pull.as_ref()?.review.review(review_id)?;
                Some((r, review))
            })
            .unwrap_or_else(|| panic!("fake-github: no review {review_id} on {full_name}#{pr}"));
        review_shapes::review(self.s(), repo, pr, review)
    }

    /// `GET /repos/{o}/{r}/pulls/comments/{id}`.
    pub fn review_comment_json(&self, full_name: &str, comment_id: u64) -> Value {
        let m = self.s().model();
        let key = key_of(full_name);
        let (repo, (issue, comment)) = m
            .repo(&key)
            .and_then(|r| Some((r, m.review_comment_in(&key, comment_id)?)))
            .unwrap_or_else(|| {
                panic!("fake-github: no review comment {comment_id} in {full_name}")
            });
        review_shapes::comment(self.s(), repo, issue.number, comment)
    }
}
