//! Pull requests and check runs, through the same door as every other call. Creations are
//! made safe to repeat: a pull request is found by its head branch, a check run by its
//! `external_id`, before a lost answer is retried.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::error::GitHubError;
use super::installation::Installation;
use bosun_core::ids::RepoRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
    pub head_sha: String,
    /// Whether it is a draft: bosun opens drafts, except where the repository takes none.
    pub draft: bool,
}

#[derive(Deserialize)]
pub(super) struct WirePull {
    number: u64,
    html_url: String,
    head: WireHead,
    #[serde(default)]
    draft: bool,
}

#[derive(Deserialize)]
struct WireHead {
    sha: String,
}

impl From<WirePull> for PullRequest {
    fn from(w: WirePull) -> Self {
        PullRequest {
            number: w.number,
            html_url: w.html_url,
            head_sha: w.head.sha,
            draft: w.draft,
        }
    }
}

/// Where a pull request comes from, to tell whether it is one of bosun's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullHead {
    pub branch: String,
    /// `owner/name` of the head's repository; `None` when a fork was deleted.
    pub repo: Option<String>,
    pub open: bool,
}

#[derive(Deserialize)]
pub(super) struct WirePullHeadOnly {
    state: String,
    head: WireHeadRef,
}

#[derive(Deserialize)]
struct WireHeadRef {
    #[serde(rename = "ref")]
    branch: String,
    repo: Option<WireFullName>,
}

#[derive(Deserialize)]
struct WireFullName {
    full_name: String,
}

/// What to open.
#[derive(Debug, Clone)]
pub struct NewPull<'a> {
    pub title: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
}

/// A finished check run to report.
#[derive(Debug, Clone)]
pub struct NewCheckRun<'a> {
    pub name: &'a str,
    pub head_sha: &'a str,
    pub success: bool,
    pub title: &'a str,
    pub summary: &'a str,
    pub text: &'a str,
    /// Unique per task, attempt and gate, so a repeated call finds the first one.
    pub external_id: &'a str,
}

#[derive(Deserialize)]
struct WireCheckRuns {
    check_runs: Vec<WireCheckRun>,
}

#[derive(Deserialize)]
pub(super) struct WireCheckRun {
    id: u64,
    #[serde(default)]
    external_id: Option<String>,
}

impl Installation {
    /// The head branch of pull request `number` (an issue comment's payload lacks it).
    pub async fn pull_head(&self, repo: &RepoRef, number: u64) -> Result<PullHead, GitHubError> {
        let url = self.repo_url(repo, &["pulls", &number.to_string()])?;
        let pull: WirePullHeadOnly = self.send(self.call(Method::GET, url)).await?.json()?;
        Ok(PullHead {
            branch: pull.head.branch,
            repo: pull.head.repo.map(|r| r.full_name),
            open: pull.state == "open",
        })
    }

    /// The open pull request whose head is `branch` in the repository itself.
    pub async fn find_open_pull(
        &self,
        repo: &RepoRef,
        branch: &str,
    ) -> Result<Option<PullRequest>, GitHubError> {
        let mut url = self.repo_url(repo, &["pulls"])?;
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("head", &format!("{}:{branch}", repo.owner))
            .append_pair("per_page", "100");
        let pulls: Vec<WirePull> = self.get_all(url).await?;
        Ok(pulls.into_iter().next().map(Into::into))
    }

    /// Opens a draft pull request, or returns the open one that already has this head (an
    /// earlier attempt's, or one whose creation answer was lost). Where the repository takes
    /// no drafts (private repositories on GitHub's free plans answer 422 "Draft pull requests
    /// are not supported in this repository."), the pull request is opened ready for review;
    /// its `draft` says which.
    pub async fn open_draft_pull(
        &self,
        repo: &RepoRef,
        new: &NewPull<'_>,
    ) -> Result<PullRequest, GitHubError> {
        if let Some(existing) = self.find_open_pull(repo, new.head).await? {
            return Ok(existing);
        }
        match self.create_pull(repo, new, true).await {
            Err(GitHubError::Validation { message }) if drafts_refused(&message) => {
                tracing::info!(repo = %repo, "the repository takes no draft pull requests: opening it ready for review");
                self.create_pull(repo, new, false).await
            }
            other => other,
        }
    }

    /// `POST /pulls`. No `maintainer_can_modify`: it concerns pull requests from forks, and
    /// bosun's branches are in the repository itself.
    async fn create_pull(
        &self,
        repo: &RepoRef,
        new: &NewPull<'_>,
        draft: bool,
    ) -> Result<PullRequest, GitHubError> {
        let url = self.repo_url(repo, &["pulls"])?;
        let call = self.call(Method::POST, url).json(json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
            "draft": draft,
        }));
        match self.send(call).await {
            Ok(reply) => Ok(reply.json::<WirePull>()?.into()),
            Err(
                err @ (GitHubError::Server { .. }
                | GitHubError::Transport(_)
                | GitHubError::Validation { .. }),
            ) => {
                // Lost answer or "A pull request already exists": look before failing.
                match self.find_open_pull(repo, new.head).await? {
                    Some(found) => Ok(found),
                    None => Err(err),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Reports a completed check run on a pushed commit.
    pub async fn report_check_run(
        &self,
        repo: &RepoRef,
        run: &NewCheckRun<'_>,
    ) -> Result<u64, GitHubError> {
        let url = self.repo_url(repo, &["check-runs"])?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let call = self.call(Method::POST, url).json(json!({
            "name": run.name,
            "head_sha": run.head_sha,
            "status": "completed",
            "conclusion": if run.success { "success" } else { "failure" },
            "completed_at": now,
            "external_id": run.external_id,
            "output": { "title": run.title, "summary": run.summary, "text": run.text },
        }));
        match self.send(call).await {
            Ok(reply) => Ok(reply.json::<WireCheckRun>()?.id),
            Err(err @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => {
                // By name, so the one looked for is on the first page however many other
                // runs the commit has (GitHub pages 30 by default).
                let mut url = self.repo_url(repo, &["commits", run.head_sha, "check-runs"])?;
                url.query_pairs_mut()
                    .append_pair("check_name", run.name)
                    .append_pair("filter", "all")
                    .append_pair("per_page", "100");
                let reply = self.send(self.call(Method::GET, url)).await?;
                let runs = reply.json::<WireCheckRuns>()?;
                runs.check_runs
                    .into_iter()
                    .find(|r| r.external_id.as_deref() == Some(run.external_id))
                    .map(|r| r.id)
                    .ok_or(err)
            }
            Err(e) => Err(e),
        }
    }
}

/// GitHub's answer to a draft in a repository whose plan has none.
fn drafts_refused(message: &str) -> bool {
    message.contains("Draft pull requests are not supported")
}
