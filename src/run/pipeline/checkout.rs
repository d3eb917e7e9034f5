//! The checkout the agent works on, and what the agents may see: the steps between choosing
//! who works and the first round.

use super::choose::Chosen;
use super::*;
use bosun_core::model::ProgressEvent;

/// The checkout on its branch, what the attempt produces, and the token that fetched it.
pub(super) struct Checkout {
    pub ws: Workspace,
    pub mode: Mode,
    pub token: Secret,
}

/// What the agents run with: the implementer's and each reviewer's environment (their model
/// keys and the run's canary), and the redactor that keeps every one of those values, and the
/// token, out of what bosun writes.
pub(super) struct Sealed {
    pub agent_env: Vec<(String, String)>,
    pub reviewers: Vec<peer::Reviewer>,
    pub redactor: Redactor,
}

impl Pipeline<'_> {
    /// Fetches the repository and writes the attempt's checkout: the default branch for new
    /// work, the pull request's head for an answer to its review. The checkout is handed to
    /// the sandbox user.
    pub(super) async fn check_out(&self, chosen: &Chosen) -> Result<Checkout, Step> {
        let repo_ref = &self.task.repo;
        let repository = self
            .client
            .repository(repo_ref)
            .await
            .map_err(JobError::from)?;
        // A review is answered on the pull request's own branch, from its current head.
        let mode = match chosen.state.kind {
            TaskKind::Implement => Mode::Implement,
            TaskKind::Revise => Mode::Review(self.review_session().await?),
            TaskKind::Plan => Mode::Plan(plan::PlanSession::new(
                self.runner.config.agents.keys().cloned().collect(),
            )),
        };
        let (base_branch, branch) = match &mode {
            Mode::Review(session) => {
                let head = self
                    .client
                    .pull_head(repo_ref, session.pull.number)
                    .await
                    .map_err(JobError::from)?;
                (head.branch.clone(), head.branch)
            }
            Mode::Implement | Mode::Plan(_) => (
                repository.default_branch.clone(),
                branch_name(self.task.issue.0, &chosen.issue.title),
            ),
        };
        let token = self.client.access_token().await.map_err(JobError::from)?;
        let request = PrepareRequest {
            repo: repo_ref.to_string(),
            clone_url: repository.clone_url.clone(),
            token: Some(token.clone()),
            base_branch,
            branch,
            checkout: self.checkout_name(),
        };
        let ws = match self.prepare_showing_fetch(request).await? {
            Ok(ws) => ws,
            Err(e) if e.auth_refused() => return Err(self.token_refused(e).await),
            Err(e) => {
                return Err(Step::Finish(
                    TaskStatus::Failed,
                    reply::workspace_failed(&e.to_string()),
                ))
            }
        };
        self.hand_over(&ws).await?;
        Ok(Checkout { ws, mode, token })
    }

    /// Gives the checkout to the sandbox user and records that it is ready.
    async fn hand_over(&self, ws: &Workspace) -> Result<(), Step> {
        let user = self.runner.user;
        let dir = ws.dir.clone();
        blocking(move || give_to(&dir, user)).await?.map_err(|e| {
            Step::Job(JobError::Fail(anyhow::anyhow!(
                "handing the checkout to the sandbox user: {e}"
            )))
        })?;
        self.record(
            TaskEvent::Progress(ProgressEvent::WorkspaceReady {
                attempt: self.attempt,
                branch: ws.branch.clone(),
                base_sha: ws.base_sha.clone(),
            }),
            true,
        )
        .await?;
        Ok(())
    }

    /// What the agent may see, and what must never come back out: each agent's environment
    /// (through the metering proxy when there is one) with a canary, and a redactor that
    /// knows every value of it and the token.
    pub(super) fn seal(
        &self,
        implementer: &Resolved,
        reviewers: Vec<Resolved>,
        token: &Secret,
    ) -> Sealed {
        let canary = format!("bosun-canary-{}", hex::encode(rand::random::<[u8; 16]>()));
        let egress = self.egress_env();
        // An agent given the network by the server talks to it directly, not through the
        // repository's allowlist.
        let env_of = |resolved: &Resolved| -> Vec<(String, String)> {
            let mut env = agent_env(&resolved.agent, self.runner.meter.as_deref());
            env.push(("BOSUN_CANARY".into(), canary.clone()));
            if !resolved.network {
                env.extend(egress.iter().cloned());
            }
            env
        };
        let agent_env = self.metered_env(implementer.adapter, env_of(implementer));
        let reviewers: Vec<peer::Reviewer> = reviewers
            .into_iter()
            .map(|resolved| peer::Reviewer {
                env: self.metered_env(resolved.adapter, env_of(&resolved)),
                resolved,
            })
            .collect();
        let mut exact: Vec<String> = agent_env
            .iter()
            .chain(reviewers.iter().flat_map(|r| &r.env))
            .map(|(_, v)| v.clone())
            .collect();
        exact.push(token.expose().to_string());
        // The egress token is in the proxy URLs above; on its own it is a secret too.
        exact.extend(self.egress.get().map(|e| e.token().expose().to_string()));
        Sealed {
            agent_env,
            reviewers,
            redactor: Redactor::new(exact),
        }
    }
}
