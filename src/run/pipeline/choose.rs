//! The steps before anything is fetched: the repository's configuration, who works on the
//! attempt and with which model, a slot among the vendor's runs, and the checks that the
//! images are there and the agent's circuit breaker is closed.

use super::*;
use crate::run::vendor_slots::VendorSlot;
use bosun_core::model::{ProgressEvent, TaskState};
use bosun_core::repo_config::{Complexity, RepoConfig};

/// Who works on the attempt and with what, chosen before anything is fetched.
pub(super) struct Chosen {
    pub config: RepoConfig,
    pub state: TaskState,
    /// The issue as it was when the attempt was triggered.
    pub issue: IssueSnapshot,
    /// A scheduled job's command, run in the sandbox in place of an agent.
    pub command: Option<String>,
    pub complexity: Complexity,
    /// The implementer: its agent, model, image and limits.
    pub resolved: Resolved,
}

/// What else the attempt needs once it may start: the gates' image and the reviewers.
pub(super) struct Crew {
    pub gate_image: String,
    pub reviewers: Vec<Resolved>,
}

impl Pipeline<'_> {
    /// The repository's `.github/bosun.yml`; its budgets now bound the attempt. A broken file
    /// ends the attempt with what is wrong in it.
    pub(super) async fn read_config(&self) -> Result<RepoConfig, Step> {
        let config = self
            .ctx
            .repo_configs
            .get(&self.client, &self.task.repo, self.task.repo_id)
            .await
            .map_err(JobError::from)?
            .map_err(|problem| {
                Step::Finish(
                    TaskStatus::Failed,
                    reply::run_config_broken(&problem.message),
                )
            })?;
        let repo = self.task.repo.to_string();
        if config.network && !self.runner.config.limits.open_network(&repo) {
            return Err(Step::Finish(
                TaskStatus::Failed,
                reply::network_refused(&repo),
            ));
        }
        let _ = self
            .limits
            .set(self.runner.config.limits.for_repo(&config.budget));
        let _ = self.model_tools.set(config.model_tools.clone());
        let _ = self.protected.set(config.protected_paths.clone());
        Ok(config)
    }

    /// The agent (routed when the issue leaves it open) and its model, or the scheduled
    /// command that runs in its place.
    pub(super) async fn choose(&self, config: RepoConfig) -> Result<Chosen, Step> {
        let state = self.state().await?;
        let issue = self.issue_as_triggered().await?;
        let command = match state.kind {
            TaskKind::Implement => self.scheduled_command(&state).await?,
            TaskKind::Plan | TaskKind::Revise => None,
        };
        // An answer to a review stays with the agent that wrote the pull request; a scheduled
        // command needs no agent chosen.
        let route = match state.kind {
            TaskKind::Implement | TaskKind::Plan if command.is_none() => {
                self.route(&config, &state, &issue).await?
            }
            _ => state.route.clone(),
        };
        let complexity = route.complexity.unwrap_or(config.agent.complexity);
        let server = &self.runner.config;
        let resolved = match &command {
            Some(command) => command_job::command_agent(server, &config, command),
            None => server.resolve(&routed(&config, &route, server), complexity),
        }
        .map_err(|why| Step::Finish(TaskStatus::Failed, why))?;
        Ok(Chosen {
            config,
            state,
            issue,
            command,
            complexity,
            resolved,
        })
    }

    /// One of the server's runs of the agent's vendor at once: without a free slot the run
    /// goes back to the queue, and the tracking comment says why (once).
    pub(super) async fn vendor_slot(&self, chosen: &Chosen) -> Result<VendorSlot, Step> {
        let vendor = chosen.resolved.adapter.name();
        let limits = &self.runner.config.limits;
        let limit = limits.max_runs_per_vendor.get(vendor).copied();
        if let Some(slot) = self.runner.vendor_slots.take(vendor, limit) {
            return Ok(slot);
        }
        let why = format!(
            "{} `{vendor}` runs are going, the most this server allows at once; this one \
             starts when one of them ends",
            limit.unwrap_or_default()
        );
        // Said once, not at every look at the queue.
        if chosen.state.run.waiting.as_deref() != Some(why.as_str()) {
            self.record(
                TaskEvent::Progress(ProgressEvent::Waiting {
                    attempt: self.attempt,
                    reason: why.clone(),
                }),
                true,
            )
            .await?;
        }
        Err(Step::Job(JobError::Defer(anyhow::anyhow!(why))))
    }

    /// Notes what the attempt runs with, estimates it, names the reviewers, and checks that
    /// the agent may run (its circuit breaker) and that every image it needs is there.
    pub(super) async fn ready_to_start(&self, chosen: &Chosen) -> Result<Crew, Step> {
        let (config, state, resolved) = (&chosen.config, &chosen.state, &chosen.resolved);
        let (command, complexity) = (&chosen.command, &chosen.complexity);
        self.note_facts(resolved, *complexity);
        if state.kind == TaskKind::Implement && command.is_none() {
            self.estimate(&chosen.issue, *complexity).await?;
        }
        let gate_image = resolved
            .agent
            .gate_image
            .clone()
            .unwrap_or_else(|| resolved.agent.image.clone());
        // Reviews are for changes; a plan or an answer to a person's review gets none.
        let reviewers = match state.kind {
            TaskKind::Implement if command.is_some() => Vec::new(),
            TaskKind::Implement => self
                .runner
                .config
                .reviewers(config, resolved, *complexity)
                .map_err(|why| Step::Finish(TaskStatus::Failed, why))?,
            TaskKind::Plan | TaskKind::Revise => Vec::new(),
        };
        self.check_breaker(resolved).await?;
        self.check_sandbox(&resolved.agent.image).await?;
        for reviewer in &reviewers {
            if reviewer.agent.image != resolved.agent.image {
                self.check_sandbox(&reviewer.agent.image).await?;
            }
        }
        if gate_image != resolved.agent.image && !config.gates.is_empty() {
            self.check_sandbox(&gate_image).await?;
        }
        Ok(Crew {
            gate_image,
            reviewers,
        })
    }
}

/// The repository's config with a more specific choice of agent applied (a plan's suggestion
/// for this part), when this server has that agent.
fn routed(
    config: &RepoConfig,
    route: &bosun_core::model::Route,
    server: &crate::config::run::RunConfig,
) -> RepoConfig {
    let mut config = config.clone();
    if let Some(agent) = route
        .agent
        .as_ref()
        .filter(|a| server.agents.contains_key(*a))
    {
        config.agent.name = Some(agent.clone());
    }
    config
}
