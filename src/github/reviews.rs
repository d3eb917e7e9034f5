//! Review feedback on a pull request: its review threads and whether they are resolved (only
//! GraphQL says that; REST lists inline comments but not their threads' state), replies in a
//! thread, resolving a thread, and the reviews' own bodies.

use http::Method;
use octocrab::models;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::GitHubError;
use super::installation::Installation;
use bosun_core::ids::{RepoRef, ReviewCommentId, ReviewId};

/// One review thread: an inline comment and the replies under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewThread {
    /// The GraphQL node id (what `resolveReviewThread` takes).
    pub id: String,
    pub resolved: bool,
    /// The lines it was written on changed since.
    pub outdated: bool,
    pub path: String,
    pub line: Option<u64>,
    /// Oldest first; the first one opened the thread.
    pub comments: Vec<ThreadComment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadComment {
    pub id: ReviewCommentId,
    /// Empty for a deleted account.
    pub author: String,
    pub body: String,
    pub url: String,
    pub diff_hunk: String,
}

/// A submitted review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: ReviewId,
    pub author: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`.
    pub state: String,
    pub body: String,
}

/// An inline comment of a review bosun posts: on `line` of the new version of `path` (the
/// right side of the diff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineComment {
    pub path: String,
    pub line: u64,
    pub body: String,
}

/// Threads per page and comments per thread. A thread with more comments than this is rare;
/// the first ones (the request itself) are what matters, and the last is checked separately
/// by whoever needs it.
const THREADS_QUERY: &str =
    "query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 50, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          comments(first: 100) { nodes { fullDatabaseId body url diffHunk author { login } } }
        }
      }
    }
  }
}";

const RESOLVE_MUTATION: &str = "mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}";

/// A pull request with more threads than this is not one bosun can answer thread by thread.
const MAX_THREAD_PAGES: usize = 20;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<WireGraphQlError>,
}

#[derive(Deserialize)]
struct WireGraphQlError {
    message: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ThreadsData {
    repository: Option<ThreadsRepo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadsRepo {
    pull_request: Option<ThreadsPull>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadsPull {
    review_threads: ThreadPage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadPage {
    page_info: PageInfo,
    nodes: Vec<WireThread>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireThread {
    id: String,
    is_resolved: bool,
    #[serde(default)]
    is_outdated: bool,
    path: String,
    line: Option<u64>,
    comments: WireThreadComments,
}

#[derive(Deserialize)]
struct WireThreadComments {
    nodes: Vec<WireThreadComment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireThreadComment {
    /// GitHub's `BigInt`, sent as a string (review-comment ids are above 2³¹; the deprecated
    /// `databaseId` is an `Int` and cannot hold them). Nullable in the schema.
    full_database_id: Option<BigInt>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    diff_hunk: String,
    author: Option<WireLogin>,
}

/// A GraphQL `BigInt`: GitHub sends it as a string; a number is taken too.
struct BigInt(u64);

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(u64),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(BigInt(n)),
            Either::Text(t) => t
                .parse()
                .map(BigInt)
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a BigInt id"))),
        }
    }
}

#[derive(Deserialize)]
struct WireLogin {
    login: String,
}

/// A submitted review. Bosun's own: octocrab's `state` is a closed enum, while GitHub's REST
/// description leaves it an open string (see `octocrab_fit`).
#[derive(Deserialize)]
pub(super) struct WireReview {
    id: u64,
    user: Option<WireLogin>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    body: Option<String>,
}

impl From<WireThread> for ReviewThread {
    fn from(t: WireThread) -> Self {
        ReviewThread {
            id: t.id,
            resolved: t.is_resolved,
            outdated: t.is_outdated,
            path: t.path,
            line: t.line,
            comments: t
                .comments
                .nodes
                .into_iter()
                .filter_map(|c| {
                    let id = c.full_database_id.as_ref()?.0;
                    Some((id, c))
                })
                .map(|(id, c)| ThreadComment {
                    id: ReviewCommentId(id),
                    author: c.author.map(|a| a.login).unwrap_or_default(),
                    body: c.body,
                    url: c.url,
                    diff_hunk: c.diff_hunk,
                })
                .collect(),
        }
    }
}

impl Installation {
    /// A GraphQL call. GitHub answers errors with 200 and an `errors` list; a `NOT_FOUND`
    /// there is the same fact as a REST 404, anything else a rejected request.
    async fn graphql<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<T, GitHubError> {
        // Queries read, and resolving a resolved thread changes nothing: both may be resent.
        let call = self
            .call(Method::POST, self.graphql_url()?)
            .json(json!({ "query": query, "variables": variables }))
            .idempotent();
        let reply = self.send(call).await?;
        let envelope: Envelope = reply.json()?;
        if let Some(first) = envelope.errors.into_iter().next() {
            return Err(if first.kind.as_deref() == Some("NOT_FOUND") {
                GitHubError::NotFound {
                    path: format!("graphql: {}", first.message),
                }
            } else {
                GitHubError::Validation {
                    message: format!("graphql: {}", first.message),
                }
            });
        }
        let data = envelope
            .data
            .ok_or_else(|| GitHubError::Decode("graphql: an answer without data".into()))?;
        serde_json::from_value(data).map_err(|e| GitHubError::Decode(format!("graphql: {e}")))
    }

    /// Every review thread of a pull request, resolved or not, oldest first.
    pub async fn review_threads(
        &self,
        repo: &RepoRef,
        pr: u64,
    ) -> Result<Vec<ReviewThread>, GitHubError> {
        let mut threads = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_THREAD_PAGES {
            let data: ThreadsData = self
                .graphql(
                    THREADS_QUERY,
                    json!({ "owner": repo.owner, "name": repo.name, "number": pr, "after": after }),
                )
                .await?;
            let page = data
                .repository
                .and_then(|r| r.pull_request)
                .ok_or_else(|| GitHubError::NotFound {
                    path: format!("graphql: pull request {repo}#{pr}"),
                })?
                .review_threads;
            threads.extend(page.nodes.into_iter().map(ReviewThread::from));
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => return Ok(threads),
            }
        }
        Err(GitHubError::Decode(format!(
            "{repo}#{pr}: more than {MAX_THREAD_PAGES} pages of review threads"
        )))
    }

    /// Marks a review thread resolved (resolving a resolved one is fine).
    pub async fn resolve_review_thread(&self, thread: &str) -> Result<(), GitHubError> {
        let _: Value = self
            .graphql(RESOLVE_MUTATION, json!({ "threadId": thread }))
            .await?;
        Ok(())
    }

    /// The submitted reviews of a pull request, oldest first.
    pub async fn list_reviews(&self, repo: &RepoRef, pr: u64) -> Result<Vec<Review>, GitHubError> {
        let mut url = self.repo_url(repo, &["pulls", &pr.to_string(), "reviews"])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let reviews: Vec<WireReview> = self.get_all(url).await?;
        Ok(reviews
            .into_iter()
            .map(|r| Review {
                id: ReviewId(r.id),
                author: r.user.map(|u| u.login).unwrap_or_default(),
                state: r.state,
                body: r.body.unwrap_or_default(),
            })
            .collect())
    }

    /// Posts a submitted review of type `COMMENT` on commit `commit_id`, each inline comment
    /// opening a thread. Every inline comment must sit on a line of the pull request's diff,
    /// or GitHub refuses the whole review (422). `body` must contain `marker`: when the answer
    /// is lost, the pull request's reviews are searched for it before failing, so a retried
    /// post never shows the review twice.
    pub async fn create_review(
        &self,
        repo: &RepoRef,
        pr: u64,
        commit_id: &str,
        body: &str,
        comments: &[InlineComment],
        marker: &str,
    ) -> Result<ReviewId, GitHubError> {
        if marker.trim().is_empty() || !body.contains(marker) {
            return Err(GitHubError::Config(
                "a review body must contain its non-empty marker".into(),
            ));
        }
        let url = self.repo_url(repo, &["pulls", &pr.to_string(), "reviews"])?;
        let comments: Vec<Value> = comments
            .iter()
            .map(|c| json!({ "path": c.path, "line": c.line, "side": "RIGHT", "body": c.body }))
            .collect();
        let call = self.call(Method::POST, url).json(json!({
            "commit_id": commit_id,
            "body": body,
            "event": "COMMENT",
            "comments": comments,
        }));
        match self.send(call).await {
            Ok(reply) => Ok(ReviewId(reply.json::<WireReview>()?.id)),
            Err(err @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => self
                .list_reviews(repo, pr)
                .await?
                .into_iter()
                .find(|r| r.body.contains(marker))
                .map(|r| r.id)
                .ok_or(err),
            Err(e) => Err(e),
        }
    }

    /// Replies in the thread of `comment`. `body` must contain `marker`: when the answer is
    /// lost, the pull request's review comments are searched for it before failing, so a
    /// retried reply never appears twice.
    pub async fn reply_in_thread(
        &self,
        repo: &RepoRef,
        pr: u64,
        comment: ReviewCommentId,
        body: &str,
        marker: &str,
    ) -> Result<ReviewCommentId, GitHubError> {
        if marker.trim().is_empty() || !body.contains(marker) {
            return Err(GitHubError::Config(
                "a reply body must contain its non-empty marker".into(),
            ));
        }
        let pr_s = pr.to_string();
        let url = self.repo_url(
            repo,
            &[
                "pulls",
                &pr_s,
                "comments",
                &comment.0.to_string(),
                "replies",
            ],
        )?;
        let call = self.call(Method::POST, url).json(json!({ "body": body }));
        match self.send(call).await {
            Ok(reply) => Ok(ReviewCommentId(
                reply.json::<models::pulls::Comment>()?.id.0,
            )),
            Err(err @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => {
                let mut url = self.repo_url(repo, &["pulls", &pr_s, "comments"])?;
                url.query_pairs_mut().append_pair("per_page", "100");
                let all: Vec<models::pulls::Comment> = self.get_all(url).await?;
                all.into_iter()
                    .find(|c| c.body.contains(marker))
                    .map(|c| ReviewCommentId(c.id.0))
                    .ok_or(err)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_ids_above_two_to_the_31_come_as_bigint_strings() {
        let thread: WireThread = serde_json::from_value(json!({
            "id": "PRRT_1", "isResolved": false, "isOutdated": false, "path": "a.rs", "line": 3,
            "comments": { "nodes": [
                { "fullDatabaseId": "9000000001", "body": "please", "author": { "login": "rev" } },
                { "fullDatabaseId": null, "body": "no id" },
            ] },
        }))
        .unwrap();
        let thread = ReviewThread::from(thread);
        let ids: Vec<u64> = thread.comments.iter().map(|c| c.id.0).collect();
        assert_eq!(ids, [9_000_000_001]);
        assert!(serde_json::from_value::<BigInt>(json!("12x")).is_err());
    }
}
