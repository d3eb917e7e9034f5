//! Repository labels: the ones bosun makes so people find them in GitHub's label menu.

use http::Method;
use serde_json::json;

use super::error::GitHubError;
use super::installation::Installation;
use bosun_core::ids::RepoRef;

/// A label to make.
#[derive(Debug, Clone)]
pub struct NewLabel<'a> {
    pub name: &'a str,
    /// Six hex digits, no `#`.
    pub color: &'a str,
    /// At most 100 characters (GitHub's limit).
    pub description: &'a str,
}

impl Installation {
    /// Makes the label unless the repository has one of that name (whatever its colour and
    /// description: a label people made is theirs). Whether it was made now.
    pub async fn ensure_label(
        &self,
        repo: &RepoRef,
        label: &NewLabel<'_>,
    ) -> Result<bool, GitHubError> {
        if self.has_label(repo, label.name).await? {
            return Ok(false);
        }
        let url = self.repo_url(repo, &["labels"])?;
        let call = self.call(Method::POST, url).json(json!({
            "name": label.name,
            "color": label.color,
            "description": label.description,
        }));
        match self.send(call).await {
            Ok(_) => Ok(true),
            // Made meanwhile (another delivery, a person), or made and the answer lost: it
            // exists, which is all that was wanted.
            Err(GitHubError::Validation { message }) if message.contains("already_exists") => {
                Ok(false)
            }
            Err(err @ (GitHubError::Server { .. } | GitHubError::Transport(_))) => {
                if self.has_label(repo, label.name).await? {
                    Ok(true)
                } else {
                    Err(err)
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn has_label(&self, repo: &RepoRef, name: &str) -> Result<bool, GitHubError> {
        let url = self.repo_url(repo, &["labels", name])?;
        match self.send(self.call(Method::GET, url)).await {
            Ok(_) => Ok(true),
            Err(GitHubError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
