//! Repository calls made as one installation of the App (installation token auth).

use super::client::Inner;
use super::error::GitHubError;
use super::link;
use super::secret::Secret;
use super::transport::{Auth, Call, Reply};
use super::types::{
    file_from, IssueComment, IssueInfo, Permission, Reaction, RepoFile, Repository, WireComment,
    WireIssue, WireLabel, WirePermission, WireRepository,
};
use bosun_core::ids::{CommentId, InstallationId, IssueNumber, RepoRef};
use http::header::LINK;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// A runaway `Link` chain (a server bug) stops here rather than looping: 100 pages of 100.
const MAX_PAGES: usize = 100;
const PER_PAGE: &str = "100";

/// A cheap handle for one installation; clones share the client.
#[derive(Clone)]
pub struct Installation {
    inner: Arc<Inner>,
    id: InstallationId,
}

impl fmt::Debug for Installation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installation")
            .field("id", &self.id)
            .finish()
    }
}

impl Installation {
    pub(crate) fn new(inner: Arc<Inner>, id: InstallationId) -> Self {
        Installation { inner, id }
    }

    pub fn id(&self) -> InstallationId {
        self.id
    }

    /// The installation token itself, for `git` over HTTPS (`x-access-token:<token>`): the
    /// same cached token the API calls use, valid for at least five more minutes.
    pub async fn access_token(&self) -> Result<Secret, GitHubError> {
        self.inner
            .transport
            .installation_access_token(self.id)
            .await
    }

    /// Drops the cached token, e.g. after `git` was refused with it; the next call mints anew.
    pub async fn invalidate_token(&self) {
        self.inner.transport.invalidate_installation(self.id).await
    }

    pub(super) fn repo_url(&self, repo: &RepoRef, rest: &[&str]) -> Result<Url, GitHubError> {
        let mut segments = vec!["repos", repo.owner.as_str(), repo.name.as_str()];
        segments.extend_from_slice(rest);
        self.inner.transport.url(&segments)
    }

    /// The GraphQL endpoint: `/graphql` next to the REST root on github.com, `/api/graphql`
    /// on GitHub Enterprise Server (whose REST root is `/api/v3`).
    pub(super) fn graphql_url(&self) -> Result<Url, GitHubError> {
        let mut url = self.inner.transport.base().clone();
        let path = url.path().trim_end_matches('/').to_string();
        let graphql = match path.strip_suffix("/v3") {
            Some(api) => format!("{api}/graphql"),
            None => format!("{path}/graphql"),
        };
        url.set_path(&graphql);
        Ok(url)
    }

    /// The login of this App's bot user, which authors what bosun posts.
    pub(super) async fn bot_login(&self) -> Result<String, GitHubError> {
        Ok(self.inner.app_info().await?.bot_login())
    }

    pub(super) fn call(&self, method: Method, url: Url) -> Call {
        Call::new(method, url, Auth::Installation(self.id))
    }

    pub(super) async fn send(&self, call: Call) -> Result<Reply, GitHubError> {
        self.inner.transport.send(&call).await
    }

    /// Every page of a list, following `Link: rel="next"`.
    pub(super) async fn get_all<W: DeserializeOwned>(
        &self,
        first: Url,
    ) -> Result<Vec<W>, GitHubError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GitHubError::Decode(format!(
                    "{}: more than {MAX_PAGES} pages",
                    url.path()
                )));
            }
            let reply = self.send(self.call(Method::GET, url)).await?;
            items.extend(reply.json::<Vec<W>>()?);
            if let Some(link) = reply
                .headers
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(link::next_url)
            {
                next = Some(self.inner.transport.follow(&link)?);
            }
        }
        Ok(items)
    }

    pub async fn repository(&self, repo: &RepoRef) -> Result<Repository, GitHubError> {
        let reply = self
            .send(self.call(Method::GET, self.repo_url(repo, &[])?))
            .await?;
        Ok(reply.json::<WireRepository>()?.into())
    }

    /// The user's access to `repo`. A 404 (not a collaborator, no such user) is
    /// `Permission::None`: the caller asked whether they may act, and they may not.
    pub async fn collaborator_permission(
        &self,
        repo: &RepoRef,
        login: &str,
    ) -> Result<Permission, GitHubError> {
        let url = self.repo_url(repo, &["collaborators", login, "permission"])?;
        match self.send(self.call(Method::GET, url)).await {
            Ok(reply) => Ok(reply.json::<WirePermission>()?.into()),
            Err(GitHubError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    pub async fn get_issue(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
    ) -> Result<IssueInfo, GitHubError> {
        let url = self.repo_url(repo, &["issues", &n.to_string()])?;
        let reply = self.send(self.call(Method::GET, url)).await?;
        Ok(reply.json::<WireIssue>()?.into())
    }

    /// Every issue and pull request, open or closed, that carries `label`.
    pub async fn list_issues_with_label(
        &self,
        repo: &RepoRef,
        label: &str,
    ) -> Result<Vec<IssueInfo>, GitHubError> {
        if label.contains(',') {
            // The `labels` parameter is comma-separated: such a label cannot be asked for.
            return Err(GitHubError::Config(format!(
                "cannot filter on a label containing a comma: {label:?}"
            )));
        }
        let mut url = self.repo_url(repo, &["issues"])?;
        url.query_pairs_mut()
            .append_pair("labels", label)
            .append_pair("state", "all")
            .append_pair("per_page", PER_PAGE);
        let issues: Vec<WireIssue> = self.get_all(url).await?;
        Ok(issues.into_iter().map(Into::into).collect())
    }

    /// Adds labels (GitHub creates unknown ones) and returns every label now on the issue.
    pub async fn add_labels(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
        labels: &[String],
    ) -> Result<Vec<String>, GitHubError> {
        let url = self.repo_url(repo, &["issues", &n.to_string(), "labels"])?;
        // An empty POST is a 422 on GitHub; the caller still gets the labels it asked about.
        let call = if labels.is_empty() {
            self.call(Method::GET, url)
        } else {
            self.call(Method::POST, url)
                .json(json!({ "labels": labels }))
                .idempotent()
        };
        let reply = self.send(call).await?;
        let now: Vec<WireLabel> = reply.json()?;
        Ok(now.into_iter().map(WireLabel::into_name).collect())
    }

    /// Removes a label; a label already gone (404) is success.
    pub async fn remove_label(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
        name: &str,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", &n.to_string(), "labels", name])?;
        match self.send(self.call(Method::DELETE, url)).await {
            Ok(_) | Err(GitHubError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reacting twice is harmless (GitHub answers 200 with the existing reaction).
    pub async fn react_to_issue(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
        r: Reaction,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", &n.to_string(), "reactions"])?;
        self.react(url, r).await
    }

    pub async fn react_to_comment(
        &self,
        repo: &RepoRef,
        c: CommentId,
        r: Reaction,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &c.to_string(), "reactions"])?;
        self.react(url, r).await
    }

    async fn react(&self, url: Url, r: Reaction) -> Result<(), GitHubError> {
        let call = self
            .call(Method::POST, url)
            .json(json!({ "content": r }))
            .idempotent();
        self.send(call).await.map(|_| ())
    }

    /// Every comment on the issue, oldest first.
    pub async fn list_comments(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let mut url = self.repo_url(repo, &["issues", &n.to_string(), "comments"])?;
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        let comments: Vec<WireComment> = self.get_all(url).await?;
        Ok(comments.into_iter().map(Into::into).collect())
    }

    /// The newest comment by this App on the issue whose body contains `marker`.
    pub async fn find_own_comment(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
        marker: &str,
    ) -> Result<Option<IssueComment>, GitHubError> {
        let bot = self.bot_login().await?;
        let comments = self.list_comments(repo, n).await?;
        Ok(comments
            .into_iter()
            .rev()
            .find(|c| c.author_type == "Bot" && c.author_login == bot && c.body.contains(marker)))
    }

    /// Posts a comment whose body contains `marker` (a hidden tag unique to this comment's
    /// purpose). A POST whose answer is lost (5xx, timeout, dropped connection) may still have
    /// created the comment, so instead of posting blindly again this looks for our comment
    /// with `marker` first and returns it if found: a lost reply never yields two comments.
    /// If this still fails transiently, call [`Installation::find_own_comment`] before retrying.
    pub async fn create_comment(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
        body: &str,
        marker: &str,
    ) -> Result<IssueComment, GitHubError> {
        if marker.trim().is_empty() || !body.contains(marker) {
            return Err(GitHubError::Config(
                "a comment body must contain its non-empty marker".into(),
            ));
        }
        let url = self.repo_url(repo, &["issues", &n.to_string(), "comments"])?;
        let policy = self.inner.transport.retry_policy().clone();
        let mut tries = 0;
        loop {
            tries += 1;
            let call = self
                .call(Method::POST, url.clone())
                .json(json!({ "body": body }));
            let err = match self.send(call).await {
                Ok(reply) => return Ok(reply.json::<WireComment>()?.into()),
                Err(e @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => e,
                Err(e) => return Err(e),
            };
            tracing::warn!(repo = %repo, issue = %n, error = %err, "comment POST failed without a clear answer; checking whether it landed");
            if tries >= policy.max_attempts.max(1) {
                // Out of tries, but a last look spares the caller a duplicate.
                return match self.find_own_comment(repo, n, marker).await {
                    Ok(Some(found)) => Ok(found),
                    _ => Err(err),
                };
            }
            // Give GitHub a moment: a comment created just before the failure may take an
            // instant to appear in the list.
            tokio::time::sleep(policy.backoff(tries)).await;
            if let Some(found) = self.find_own_comment(repo, n, marker).await? {
                return Ok(found);
            }
        }
    }

    /// One issue comment; `None` when it is gone (deleted).
    pub async fn get_comment(
        &self,
        repo: &RepoRef,
        c: CommentId,
    ) -> Result<Option<IssueComment>, GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &c.to_string()])?;
        match self.send(self.call(Method::GET, url)).await {
            Ok(reply) => Ok(Some(reply.json::<WireComment>()?.into())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn update_comment(
        &self,
        repo: &RepoRef,
        c: CommentId,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &c.to_string()])?;
        let reply = self
            .send(self.call(Method::PATCH, url).json(json!({ "body": body })))
            .await?;
        Ok(reply.json::<WireComment>()?.into())
    }

    /// A UTF-8 file from the default branch (`path` like `.github/bosun.yml`); `None` if absent.
    pub async fn get_file(
        &self,
        repo: &RepoRef,
        path: &str,
    ) -> Result<Option<RepoFile>, GitHubError> {
        let mut rest = vec!["contents"];
        rest.extend(path.split('/'));
        let url = self.repo_url(repo, &rest)?;
        let reply = match self.send(self.call(Method::GET, url)).await {
            Ok(reply) => reply,
            Err(GitHubError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A directory answers a list of its entries.
        if reply.body.trim_ascii_start().starts_with(b"[") {
            return Err(GitHubError::Decode(format!(
                "{path}: expected a file, got a directory"
            )));
        }
        file_from(reply.json()?)
            .map(Some)
            .map_err(|e| GitHubError::Decode(format!("{path}: {e}")))
    }
}
