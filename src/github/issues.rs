//! Issues bosun writes itself: the sub-issues of a plan (created, linked to their parent) and
//! the parent closed when its plan is done.

use http::Method;
use serde_json::json;

use super::error::GitHubError;
use super::installation::Installation;
use super::types::{IssueInfo, WireIssue};
use bosun_core::ids::{IssueNumber, RepoRef};

/// What a new issue says.
#[derive(Debug, Clone)]
pub struct NewIssue<'a> {
    pub title: &'a str,
    /// Must contain `marker`, so a lost answer can be found again.
    pub body: &'a str,
    pub labels: &'a [String],
}

impl Installation {
    /// The newest issue this App opened in `repo` whose body contains `marker`, among the
    /// most recent hundred issues (a plan's sub-issues are created together). Who opened each
    /// is checked here rather than with GitHub's `creator` filter: whether that filter
    /// resolves an App's `<slug>[bot]` login is not documented, and an empty answer would
    /// mean a duplicate issue.
    pub async fn find_own_issue(
        &self,
        repo: &RepoRef,
        marker: &str,
    ) -> Result<Option<IssueInfo>, GitHubError> {
        let bot = self.bot_login().await?;
        let mut url = self.repo_url(repo, &["issues"])?;
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("per_page", "100");
        let issues: Vec<WireIssue> = self.send(self.call(Method::GET, url)).await?.json()?;
        Ok(issues
            .into_iter()
            .map(IssueInfo::from)
            .find(|i| !i.is_pull_request && i.author_login == bot && i.body.contains(marker)))
    }

    /// Opens an issue, unless this App already opened one with the same marker (a retry, or
    /// an earlier POST whose answer was lost): then that one is returned.
    pub async fn create_issue(
        &self,
        repo: &RepoRef,
        new: &NewIssue<'_>,
        marker: &str,
    ) -> Result<IssueInfo, GitHubError> {
        if marker.trim().is_empty() || !new.body.contains(marker) {
            return Err(GitHubError::Config(
                "an issue body must contain its non-empty marker".into(),
            ));
        }
        if let Some(found) = self.find_own_issue(repo, marker).await? {
            return Ok(found);
        }
        let url = self.repo_url(repo, &["issues"])?;
        let call = self.call(Method::POST, url).json(json!({
            "title": new.title,
            "body": new.body,
            "labels": new.labels,
        }));
        match self.send(call).await {
            Ok(reply) => Ok(reply.json::<WireIssue>()?.into()),
            Err(err @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => {
                match self.find_own_issue(repo, marker).await? {
                    Some(found) => Ok(found),
                    None => Err(err),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The sub-issues of `parent`, in GitHub's order.
    pub async fn list_sub_issues(
        &self,
        repo: &RepoRef,
        parent: IssueNumber,
    ) -> Result<Vec<IssueInfo>, GitHubError> {
        let mut url = self.repo_url(repo, &["issues", &parent.to_string(), "sub_issues"])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let issues: Vec<WireIssue> = self.get_all(url).await?;
        Ok(issues.into_iter().map(Into::into).collect())
    }

    /// Links `child` (by its issue id) under `parent`. Already linked is fine: a retry.
    pub async fn add_sub_issue(
        &self,
        repo: &RepoRef,
        parent: IssueNumber,
        child: &IssueInfo,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", &parent.to_string(), "sub_issues"])?;
        let call = self
            .call(Method::POST, url)
            .json(json!({ "sub_issue_id": child.id }));
        match self.send(call).await {
            Ok(_) => Ok(()),
            Err(
                err @ (GitHubError::Validation { .. }
                | GitHubError::Server { .. }
                | GitHubError::Transport(_)),
            ) => {
                let linked = self.list_sub_issues(repo, parent).await?;
                if linked.iter().any(|i| i.id == child.id) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Closes an issue as completed (a PATCH to the same state twice is harmless).
    pub async fn close_issue_completed(
        &self,
        repo: &RepoRef,
        n: IssueNumber,
    ) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["issues", &n.to_string()])?;
        let call = self
            .call(Method::PATCH, url)
            .json(json!({ "state": "closed", "state_reason": "completed" }))
            .idempotent();
        self.send(call).await.map(|_| ())
    }
}
