//! What the agent is told: the issue as triggered, trusted comments and the repository's
//! instructions.

use super::*;

impl Pipeline<'_> {
    /// The issue as it was when the trigger came; asked of GitHub only for tasks recorded
    /// before bosun kept that (or rebuilt by resync).
    pub(super) async fn issue_as_triggered(&self) -> Result<IssueSnapshot, Step> {
        if let Some(issue) = self.state().await?.issue {
            return Ok(issue);
        }
        let issue = self
            .client
            .get_issue(&self.task.repo, self.task.issue)
            .await
            .map_err(JobError::from)?;
        Ok(IssueSnapshot {
            title: issue.title,
            body: issue.body,
            author: issue.author_login,
        })
    }

    pub(super) async fn prompt_input(
        &self,
        issue: &IssueSnapshot,
        ws: &Workspace,
        config: &bosun_core::repo_config::RepoConfig,
        resolved: &Resolved,
    ) -> Result<PromptInput, Step> {
        let state = self.state().await?;
        // Comments reach the agent only from people who may steer bosun themselves.
        let mut comments = Vec::new();
        for c in self
            .client
            .list_comments(&self.task.repo, self.task.issue)
            .await
            .map_err(JobError::from)?
        {
            if c.author_type == "Bot" || c.author_login == self.ctx.identity.bot_login {
                continue;
            }
            let trusted = self
                .ctx
                .permissions
                .can_write(
                    &self.client,
                    &self.task.repo,
                    self.task.repo_id,
                    &c.author_login,
                )
                .await
                .map_err(JobError::from)?;
            if trusted {
                comments.push(PromptComment {
                    author: c.author_login,
                    body: c.body,
                });
            }
        }
        let request = request_of(&state.instructions);
        Ok(PromptInput {
            repo: self.task.repo.to_string(),
            issue_number: self.task.issue.0,
            issue_title: issue.title.clone(),
            issue_body: issue.body.clone(),
            issue_author: issue.author.clone(),
            comments,
            repo_instructions: repo_instructions(config, &ws.dir),
            branch: ws.branch.clone(),
            gates: config
                .gates
                .iter()
                .map(|g| format!("{}: {}", g.name, g.run))
                .collect(),
            request,
            round: 1,
            max_rounds: resolved.rounds,
            feedback: Vec::new(),
            previous_failure: state.previous_failure.clone(),
            new_instructions: false,
            review: None,
            plan: None,
            peer_review: None,
            peer_findings: Vec::new(),
            learnings: self.learnings_for(issue).await,
        })
    }
}

/// The repository's instructions: `instructions` in its bosun config, else `AGENTS.md` or
/// `CLAUDE.md` at the root of the checkout (regular files only: never through a link).
fn repo_instructions(
    config: &bosun_core::repo_config::RepoConfig,
    dir: &std::path::Path,
) -> Option<RepoInstructions> {
    if let Some(text) = config
        .instructions
        .as_ref()
        .filter(|t| !t.trim().is_empty())
    {
        return Some(RepoInstructions {
            source: ".github/bosun.yml instructions".into(),
            text: text.clone(),
        });
    }
    ["AGENTS.md", "CLAUDE.md"].iter().find_map(|name| {
        let path = dir.join(name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > 256 * 1024 {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        Some(RepoInstructions {
            source: (*name).to_string(),
            text,
        })
    })
}

/// The trusted instructions of the attempt (the trigger's and any steering since), as one
/// request; `None` when nobody wrote any.
pub(super) fn request_of(instructions: &[(String, String)]) -> Option<String> {
    let texts: Vec<&str> = instructions
        .iter()
        .map(|(_, text)| text.trim())
        .filter(|t| !t.is_empty())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}
