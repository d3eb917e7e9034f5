//! Routing before the run: the issue's labels, then the router (a small model through an agent
//! CLI, in the sandbox, with no checkout and a short deadline), then the agents in turn. The
//! decision is recorded once (later attempts keep it), shown in the tracking comment and put
//! on the issue as labels.

use std::sync::atomic::Ordering;

use super::rounds::Launch;
use super::*;
use crate::run::agent_round::RoundResult;
use crate::run::router::{self, Choice};
use bosun_core::model::{ProgressEvent, Route, TaskState};
use bosun_core::prompt::{render_route_prompt, RouteInput};
use bosun_core::repo_config::RepoConfig;

impl Pipeline<'_> {
    /// The task's route for this run. A repository that names its agent keeps it: only the
    /// complexity is then left to labels and the router.
    pub(super) async fn route(
        &self,
        config: &RepoConfig,
        state: &TaskState,
        issue: &IssueSnapshot,
    ) -> Result<Route, Step> {
        let server = &self.runner.config;
        let agents = server.routable_agents();
        let labels = self
            .client
            .get_issue(&self.task.repo, self.task.issue)
            .await
            .map_err(JobError::from)?
            .labels;
        let from_labels = router::from_labels(&labels, &config.label_prefix, &agents);
        let known = Choice {
            agent: state.route.agent.clone(),
            complexity: state.route.complexity,
        };
        let choice = from_labels.clone().or(known.clone());
        if choice != known {
            self.record_route(&from_labels, "labels", "", RunUsage::default())
                .await?;
        }
        let agent_open = choice.agent.is_none() && config.agent.name.is_none();
        let Some(router_agent) = server.router.agent.clone() else {
            return Ok(self.state().await?.route);
        };
        if !agent_open && choice.complexity.is_some() {
            return Ok(self.state().await?.route);
        }
        let (answer, usage) = self
            .ask_router(config, &router_agent, issue, &agents)
            .await?;
        let (decided, by, rationale) = match answer {
            Ok(routed) => (routed.choice, "router", routed.rationale),
            Err(why) => {
                tracing::warn!(%why, "the router gave no answer; the agents take turns");
                let turn = self.runner.turns.fetch_add(1, Ordering::Relaxed);
                let turn_choice = Choice {
                    agent: router::in_turn(&agents, turn),
                    complexity: None,
                };
                (turn_choice, "turns", why)
            }
        };
        // Labels and earlier decisions win; the repository's own agent is kept.
        let new = Choice {
            agent: decided.agent.filter(|_| agent_open),
            complexity: decided.complexity.filter(|_| choice.complexity.is_none()),
        };
        if new.agent.is_none() && new.complexity.is_none() {
            return Ok(self.state().await?.route);
        }
        self.record_route(&new, by, &rationale, usage).await?;
        self.label_route(config, &new.or(choice)).await;
        Ok(self.state().await?.route)
    }

    async fn record_route(
        &self,
        choice: &Choice,
        by: &str,
        rationale: &str,
        usage: RunUsage,
    ) -> Result<(), Step> {
        self.record(
            TaskEvent::Progress(ProgressEvent::Routed {
                attempt: self.attempt,
                agent: choice.agent.clone(),
                complexity: choice.complexity,
                by: by.to_string(),
                rationale: rationale.to_string(),
                usage,
            }),
            true,
        )
        .await
        .map(|_| ())
    }

    /// Puts the route on the issue as labels, so people see it and can change it. Best effort:
    /// the tracking comment says the same.
    async fn label_route(&self, config: &RepoConfig, choice: &Choice) {
        let labels = reply::part_labels(
            &config.label_prefix,
            choice.agent.as_deref(),
            choice.complexity.map(|c| c.as_str()),
        );
        if let Err(e) = self
            .client
            .add_labels(&self.task.repo, self.task.issue, &labels)
            .await
        {
            tracing::warn!(error = %e, "could not label the issue with its route");
        }
    }

    /// Runs the router once: its answer, or why there is none, and what it cost.
    async fn ask_router(
        &self,
        config: &RepoConfig,
        router_agent: &str,
        issue: &IssueSnapshot,
        agents: &[String],
    ) -> Result<(Result<router::Routed, String>, RunUsage), Step> {
        let server = &self.runner.config;
        let resolved = self.router_resolved(config, router_agent)?;
        let prompt = render_route_prompt(&RouteInput {
            repo: self.task.repo.to_string(),
            issue_number: self.task.issue.0,
            issue_title: issue.title.clone(),
            issue_body: issue.body.clone(),
            agents: agents
                .iter()
                .filter_map(|name| {
                    server
                        .agents
                        .get(name)
                        .map(|a| (name.clone(), a.adapter.clone()))
                })
                .collect(),
        })
        .map_err(|e| JobError::Fail(anyhow::anyhow!("{e}")))?;
        let env = self.metered_env(
            resolved.adapter,
            super::agent_env(&resolved.agent, self.runner.meter.as_deref()),
        );
        let result = match self.route_in_empty_dir(&resolved, &prompt, &env).await {
            Ok(r) => r,
            // A missing router image must not stop the task: the agents take turns.
            Err(Step::Finish(_, why)) => return Ok((Err(why), RunUsage::default())),
            Err(other) => return Err(other),
        };
        // A run stopped for its silence was cancelled by its own round, not stopped by
        // anyone: only the task's token says the task was stopped.
        if self.cancel.is_cancelled() || (result.exit.cancelled && !result.stalled) {
            return Err(Step::Stopped);
        }
        let usage = self
            .metered_usage()
            .unwrap_or_else(|| super::rounds::run_usage(result.outcome.usage));
        // The router's own error may quote its key; what is shown goes through the redactor.
        let redactor = Redactor::new(env.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>());
        let answer = if result.stalled || result.exit.timed_out {
            Err(format!(
                "the router did not answer within {}",
                reply::human_duration(resolved.agent_timeout.as_secs())
            ))
        } else if !result.outcome.ok {
            Err(format!(
                "the router failed: {}",
                redactor.redact(&result.outcome.error.unwrap_or_default())
            ))
        } else {
            router::parse(&result.outcome.final_message, agents)
        };
        Ok((answer, usage))
    }

    /// The router's agent: the server's router model, one turn, and a short deadline.
    fn router_resolved(&self, config: &RepoConfig, router_agent: &str) -> Result<Resolved, Step> {
        let server = &self.runner.config;
        let mut as_router = config.clone();
        as_router.agent.name = Some(router_agent.to_string());
        as_router.agent.model = server.router.model.clone();
        let mut resolved = server
            .resolve(&as_router, bosun_core::repo_config::Complexity::Simple)
            .map_err(|why| Step::Finish(TaskStatus::Failed, why))?;
        let timeout = Duration::from_secs(server.router.timeout_secs.max(1));
        resolved.agent_timeout = timeout;
        resolved.idle = timeout;
        // One turn: the router answers from the text, it does not work.
        resolved.agent.max_turns = Some(1);
        Ok(resolved)
    }

    /// Runs the router in an empty directory: it has nothing to read but its prompt.
    async fn route_in_empty_dir(
        &self,
        resolved: &Resolved,
        prompt: &str,
        env: &[(String, String)],
    ) -> Result<RoundResult, Step> {
        let name = format!("{}-route", self.checkout_name());
        let dir = self.runner.workspaces.checkout_path(&name);
        let empty = RemoveOnDrop(self.runner.workspaces.clone(), Some(name));
        let (dir2, user) = (dir.clone(), self.runner.user);
        blocking(move || {
            std::fs::create_dir_all(&dir2)?;
            give_to(&dir2, user)
        })
        .await?
        .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("preparing the router: {e}"))))?;
        let launch = Launch {
            resolved,
            workspace: &dir,
            round: 0,
            run_dir: self.run_dir("route"),
            prompt,
            command: self.agent_command(resolved, &[]),
            env,
            mounts: Vec::new(),
        };
        let result = self.sandboxed_round(launch, |_, _| {}).await;
        empty.now().await;
        result
    }
}
