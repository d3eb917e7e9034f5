//! An attempt's real work: workspace → agent rounds and gates → commit, push, check runs and a
//! draft pull request. Each step is recorded as a task event (the tracking comment follows
//! them); a task stopped meanwhile turns the next record into an invalid transition, which
//! ends the pipeline quietly and cancels what is running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::run::Resolved;
use crate::db::{Fence, RecordError, TaskRow};
use crate::github::client::Installation;
use crate::github::pulls::{NewCheckRun, NewPull};
use crate::github::secret::Secret;
use crate::job_error::JobError;
use crate::reply;
use crate::run::agent_round::{run_agent_round, AgentRound};
use crate::run::gates::{run_gates, GateRun};
use crate::run::recovery::transient;
use crate::run::runner::{give_to, Runner};
use crate::run::sandbox::SandboxError;
use crate::run::workspace::publish::{commit, push, Author, PushMode};
use crate::run::workspace::{branch_name, snapshot, PrepareRequest, Workspace};
use bosun_core::agent::{CommandSpec, Usage};
use bosun_core::gate::GateResult;
use bosun_core::job::Job;
use bosun_core::model::{
    GateSummary, IssueSnapshot, ProgressEvent, RunUsage, TaskEvent, TaskKind, TaskStatus,
};
use bosun_core::prompt::{
    render_prompt, GateFeedback, PromptComment, PromptInput, RepoInstructions,
};
use bosun_core::redact::Redactor;

mod checks;
mod command_job;
mod fetching;
mod guards;
mod learn;
mod metering;
mod peer;
mod plan;
mod prompt;
mod publish;
mod review;
mod rounds;
mod route;
mod services;
mod stats;

use guards::{AbortOnDrop, RemoveOnDrop};
pub use services::Services;

/// How often a stuck agent is restarted before the task fails.
const MAX_STALL_RESTARTS: u32 = 1;

/// The end of a failing gate's log kept in the tracking comment.
const COMMENT_TAIL_CHARS: usize = 3000;

/// Runs the pipeline for the current attempt. Returns when the attempt finished (any status)
/// or was stopped; `Err` only for failures worth a retry of the whole job.
pub async fn run_attempt(
    ctx: Services<'_>,
    runner: &Runner,
    task: &TaskRow,
    attempt: u32,
    fence: Fence,
) -> Result<(), JobError> {
    let started = Instant::now();
    let p = Pipeline {
        ctx,
        runner,
        task,
        attempt,
        fence,
        client: ctx.github.installation(task.installation),
        cancel: CancellationToken::new(),
        facts: std::sync::Mutex::new(None),
        metered: std::sync::Mutex::new(None),
        limits: std::sync::OnceLock::new(),
        learned: Default::default(),
    };
    // Both also act when this future is dropped midway (the pool drops it when the lease is
    // lost): the watcher stops, and the checkout is removed.
    let _watcher = AbortOnDrop(p.watch_for_stop());
    let checkout = RemoveOnDrop(runner.workspaces.clone(), Some(p.checkout_name()));
    let result = p.run().await;
    p.end_metering();
    drop(_watcher);
    checkout.now().await;
    match result {
        Ok(()) | Err(Step::Stopped) => Ok(()),
        // Spent outside the main rounds (a reviewer, the fix round): nothing more is pushed.
        Err(Step::BudgetSpent(why)) => p
            .record(
                TaskEvent::Finished {
                    attempt,
                    status: TaskStatus::NeedsReview,
                    summary: reply::budget_spent(None, &why),
                },
                true,
            )
            .await
            .map(|_| ())
            .or_else(|e| match e {
                Step::Job(j) => Err(j),
                _ => Ok(()),
            }),
        Err(Step::Finish(status, summary)) => {
            let recorded = p
                .record(
                    TaskEvent::Finished {
                        attempt,
                        status,
                        summary,
                    },
                    true,
                )
                .await;
            match recorded {
                Ok(_) => {
                    p.record_stats(status, started.elapsed()).await;
                    p.write_learnings().await;
                    Ok(())
                }
                Err(Step::Job(j)) => Err(j),
                Err(_) => Ok(()),
            }
        }
        Err(Step::Job(e)) => Err(e),
    }
}

/// What an attempt produces besides (or instead of) a pull request for the issue.
enum Mode {
    /// Change the code and open a draft pull request.
    Implement,
    /// Answer review feedback with a commit on the pull request's branch.
    Review(review::ReviewSession),
    /// Break the issue down into sub-issues; no code changes.
    Plan(plan::PlanSession),
}

/// How a step ends the pipeline early.
enum Step {
    /// The metering proxy refused a call: the run's budget is spent (the proxy's message).
    BudgetSpent(String),
    /// The task moved on (stopped, or another attempt): walk away.
    Stopped,
    /// End the attempt with this status and summary.
    Finish(TaskStatus, String),
    Job(JobError),
}

impl From<JobError> for Step {
    fn from(e: JobError) -> Self {
        Step::Job(e)
    }
}

struct Pipeline<'a> {
    ctx: Services<'a>,
    runner: &'a Runner,
    task: &'a TaskRow,
    attempt: u32,
    fence: Fence,
    client: Installation,
    cancel: CancellationToken,
    /// What the attempt ran with and changed, for its line in the run statistics; `None`
    /// until the agent is chosen (an attempt that ends before is not a run).
    facts: std::sync::Mutex<Option<stats::RunFacts>>,
    /// The attempt's run on the metering proxy, once an agent was given its token.
    metered: std::sync::Mutex<Option<metering::Metered>>,
    /// The server's limits with the repository's budgets applied, once its config is read.
    limits: std::sync::OnceLock<crate::config::run::Limits>,
    /// What the attempt learned about the repository so far, stored when it ends.
    learned: std::sync::Mutex<bosun_core::learnings::Collector>,
}

impl Pipeline<'_> {
    /// The task's current state, projected from its events.
    async fn state(&self) -> Result<bosun_core::model::TaskState, Step> {
        let events = self
            .ctx
            .db
            .task_events(self.task.id)
            .await
            .map_err(JobError::from)?;
        bosun_core::model::project(&events).map_err(|e| Step::Job(JobError::Fail(e.into())))
    }

    /// This run's checkout directory: unique per claim of the job, so a run that lost its
    /// lease cannot remove or write into the checkout of the run that took over.
    fn checkout_name(&self) -> String {
        format!(
            "task-{}-job-{}-{}",
            self.task.id.0, self.fence.job.0, self.fence.token
        )
    }

    /// Where one agent run of this attempt keeps its prompt and log:
    /// `<data>/runs/task-<id>/attempt-<n>/<leaf>`.
    fn run_dir(&self, leaf: &str) -> std::path::PathBuf {
        crate::run::runner::attempt_dir(&self.runner.runs_dir, self.task.id, self.attempt)
            .join(leaf)
    }

    /// The limits this attempt runs under: the server's, with the repository's budgets.
    fn limits(&self) -> crate::config::run::Limits {
        self.limits
            .get()
            .cloned()
            .unwrap_or_else(|| self.runner.config.limits.clone())
    }

    /// Renews the lease before a step that publishes (push, check runs, pull request): a run
    /// that lost its job to another worker must not publish anything.
    async fn still_mine(&self) -> Result<(), Step> {
        let lease = self.ctx.lease.as_millis() as i64;
        match self.ctx.db.heartbeat(self.fence, lease).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::warn!("lease lost before publishing; walking away");
                self.cancel.cancel();
                Err(Step::Job(JobError::Fenced))
            }
            Err(e) => Err(Step::Job(e.into())),
        }
    }

    /// Cancels the running container as soon as the task is no longer this attempt's.
    fn watch_for_stop(&self) -> tokio::task::JoinHandle<()> {
        let db = self.ctx.db.clone();
        let (id, attempt, cancel) = (self.task.id, self.attempt, self.cancel.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                match db.task(id).await {
                    Ok(Some(t)) if t.status.is_active() && t.attempt == attempt => {}
                    Ok(_) => {
                        cancel.cancel();
                        return;
                    }
                    Err(_) => {}
                }
            }
        })
    }

    async fn record(&self, event: TaskEvent, face: bool) -> Result<TaskRow, Step> {
        let jobs = if face {
            vec![Job::SyncFace { task: self.task.id }.to_new(0)]
        } else {
            Vec::new()
        };
        match self
            .ctx
            .db
            .record(self.task.id, &event, Some(self.fence), &jobs)
            .await
        {
            Ok(row) => {
                if face {
                    self.ctx.jobs_added.notify_one();
                }
                Ok(row)
            }
            Err(RecordError::Invalid(why)) => {
                tracing::info!(%why, "the task moved on while it ran");
                self.cancel.cancel();
                Err(Step::Stopped)
            }
            Err(e) => Err(Step::Job(e.into())),
        }
    }

    async fn run(&self) -> Result<(), Step> {
        let repo_ref = &self.task.repo;
        let config = match self
            .ctx
            .repo_configs
            .get(&self.client, repo_ref, self.task.repo_id)
            .await
            .map_err(JobError::from)?
        {
            Ok(config) => config,
            Err(problem) => {
                return Err(Step::Finish(
                    TaskStatus::Failed,
                    reply::run_config_broken(&problem.message),
                ))
            }
        };
        let _ = self
            .limits
            .set(self.runner.config.limits.for_repo(&config.budget));
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
        let resolved = match &command {
            Some(command) => command_job::command_agent(&self.runner.config, &config, command),
            None => self
                .runner
                .config
                .resolve(&routed(&config, &route, &self.runner.config), complexity),
        }
        .map_err(|why| Step::Finish(TaskStatus::Failed, why))?;
        // Held until the pipeline ends: one of the vendor's runs at once.
        let vendor = resolved.adapter.name();
        let limit = self
            .runner
            .config
            .limits
            .max_runs_per_vendor
            .get(vendor)
            .copied();
        let Some(_vendor_slot) = self.runner.vendor_slots.take(vendor, limit) else {
            let why = format!(
                "{} `{vendor}` runs are going, the most this server allows at once; this one \
                 starts when one of them ends",
                limit.unwrap_or_default()
            );
            // Said once, not at every look at the queue.
            if state.run.waiting.as_deref() != Some(why.as_str()) {
                self.record(
                    TaskEvent::Progress(ProgressEvent::Waiting {
                        attempt: self.attempt,
                        reason: why.clone(),
                    }),
                    true,
                )
                .await?;
            }
            return Err(Step::Job(JobError::Defer(anyhow::anyhow!(why))));
        };
        self.note_facts(&resolved, complexity);
        if state.kind == TaskKind::Implement && command.is_none() {
            self.estimate(&issue, complexity).await?;
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
                .reviewers(&config, &resolved, complexity)
                .map_err(|why| Step::Finish(TaskStatus::Failed, why))?,
            TaskKind::Plan | TaskKind::Revise => Vec::new(),
        };
        self.check_breaker(&resolved).await?;
        self.check_sandbox(&resolved.agent.image).await?;
        for reviewer in &reviewers {
            if reviewer.agent.image != resolved.agent.image {
                self.check_sandbox(&reviewer.agent.image).await?;
            }
        }
        if gate_image != resolved.agent.image && !config.gates.is_empty() {
            self.check_sandbox(&gate_image).await?;
        }

        // The workspace.
        let repository = self
            .client
            .repository(repo_ref)
            .await
            .map_err(JobError::from)?;
        // A review is answered on the pull request's own branch, from its current head.
        let mut mode = match state.kind {
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
                branch_name(self.task.issue.0, &issue.title),
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

        // What the agent may see, and what must never come back out.
        let canary = format!("bosun-canary-{}", hex::encode(rand::random::<[u8; 16]>()));
        let env_of = |names: &[String]| -> Vec<(String, String)> {
            let mut env = host_env(names);
            env.push(("BOSUN_CANARY".into(), canary.clone()));
            env
        };
        let agent_env = self.metered_env(resolved.adapter, env_of(&resolved.agent.env));
        let reviewers: Vec<peer::Reviewer> = reviewers
            .into_iter()
            .map(|resolved| peer::Reviewer {
                env: self.metered_env(resolved.adapter, env_of(&resolved.agent.env)),
                resolved,
            })
            .collect();
        let mut exact: Vec<String> = agent_env
            .iter()
            .chain(reviewers.iter().flat_map(|r| &r.env))
            .map(|(_, v)| v.clone())
            .collect();
        exact.push(token.expose().to_string());
        let redactor = Redactor::new(exact);

        let mut prompt_input = self.prompt_input(&issue, &ws, &config, &resolved).await?;
        // A plan changes no code, so there is nothing for the gates to check.
        let gates = match mode {
            Mode::Plan(_) => &[][..],
            _ => &config.gates[..],
        };
        let gate_config = gates;
        let rounds = self
            .rounds(
                &resolved,
                gate_config,
                &gate_image,
                &ws,
                agent_env.clone(),
                &mut prompt_input,
                &redactor,
                &mut mode,
                (1, resolved.rounds),
            )
            .await;
        let (final_message, gates, last_round) = match rounds {
            Err(Step::BudgetSpent(why)) if matches!(mode, Mode::Implement) => {
                return Err(self
                    .keep_partial(&ws, &issue.title, &redactor, token, &why)
                    .await)
            }
            other => other?,
        };
        match &mode {
            Mode::Review(session) => {
                let (summary, _) = bosun_core::review_report::parse(&final_message);
                let summary = redactor.redact(&summary);
                self.publish_revision(
                    &ws,
                    session,
                    &issue.title,
                    &summary,
                    &gates,
                    &redactor,
                    token,
                )
                .await
            }
            Mode::Plan(session) => {
                self.publish_plan(session, resolved.rounds, &redactor, &config.label_prefix)
                    .await
            }
            Mode::Implement => {
                let mut change = Change {
                    snap: self.snapshot(&ws, &redactor).await?,
                    summary: redactor.redact(&final_message),
                    gates,
                    review: None,
                };
                if !reviewers.is_empty() && !change.snap.is_empty() && change.passed() {
                    let first = self
                        .peer_review(
                            &reviewers,
                            &ws,
                            &change.snap,
                            &prompt_input,
                            &change.summary,
                            1,
                            &redactor,
                        )
                        .await?;
                    let blockers = first.findings(bosun_core::peer_verdict::Severity::Blocker);
                    change.review = Some(first);
                    if !blockers.is_empty() {
                        change = self
                            .fix_round(
                                change,
                                &blockers,
                                FixRound {
                                    resolved: &resolved,
                                    gate_config,
                                    gate_image: &gate_image,
                                    ws: &ws,
                                    agent_env,
                                    input: &mut prompt_input,
                                    redactor: &redactor,
                                    mode: &mut mode,
                                    round: last_round + 1,
                                    reviewers: &reviewers,
                                },
                            )
                            .await?;
                    }
                }
                self.publish(&ws, &issue.title, change, &redactor, token, &resolved)
                    .await
            }
        }
    }
}

/// A change ready to publish: its files, the agent's summary (redacted), the last gates and,
/// when reviewers looked at it, their reviews.
struct Change {
    snap: snapshot::Snapshot,
    summary: String,
    gates: Vec<GateResult>,
    review: Option<peer::PeerPass>,
}

impl Change {
    fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.ok)
    }
}

/// What the implementer's extra round for the reviewers' blockers runs with.
struct FixRound<'a> {
    resolved: &'a Resolved,
    gate_config: &'a [bosun_core::repo_config::Gate],
    gate_image: &'a str,
    ws: &'a Workspace,
    agent_env: Vec<(String, String)>,
    input: &'a mut PromptInput,
    redactor: &'a Redactor,
    mode: &'a mut Mode,
    round: u32,
    reviewers: &'a [peer::Reviewer],
}

impl Pipeline<'_> {
    /// One more implementer round with the reviewers' blockers, then the gates and the reviews
    /// again. A round that breaks down keeps the reviewed change as it was: its blockers then
    /// stop the task, but the work that passed the gates is not lost.
    async fn fix_round(
        &self,
        reviewed: Change,
        blockers: &[(String, bosun_core::peer_verdict::Finding)],
        f: FixRound<'_>,
    ) -> Result<Change, Step> {
        self.record(
            TaskEvent::Progress(ProgressEvent::PeerFixRound {
                attempt: self.attempt,
                blockers: blockers.len() as u32,
            }),
            true,
        )
        .await?;
        f.input.peer_findings = peer::for_the_fix(blockers);
        f.input.feedback.clear();
        f.input.new_instructions = false;
        let fixed = self
            .rounds(
                f.resolved,
                f.gate_config,
                f.gate_image,
                f.ws,
                f.agent_env,
                f.input,
                f.redactor,
                f.mode,
                (f.round, f.round),
            )
            .await;
        f.input.peer_findings.clear();
        let (message, gates, _) = match fixed {
            Ok(done) => done,
            Err(Step::Finish(_, why)) => {
                tracing::warn!(%why, "the fix round failed; publishing the reviewed change");
                return Ok(reviewed);
            }
            Err(other) => return Err(other),
        };
        let mut change = Change {
            snap: self.snapshot(f.ws, f.redactor).await?,
            summary: f.redactor.redact(&message),
            gates,
            review: None,
        };
        if change.snap.is_empty() || !change.passed() {
            return Ok(change);
        }
        let second = self
            .peer_review(
                f.reviewers,
                f.ws,
                &change.snap,
                f.input,
                &change.summary,
                2,
                f.redactor,
            )
            .await?;
        change.review = Some(second);
        Ok(change)
    }
}

/// The repository's config with a more specific choice of agent applied (a plan's suggestion
/// for this part), when this server has that agent.
fn routed(
    config: &bosun_core::repo_config::RepoConfig,
    route: &bosun_core::model::Route,
    server: &crate::config::run::RunConfig,
) -> bosun_core::repo_config::RepoConfig {
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

/// The host environment variables `names` that are set, as an agent's environment.
fn host_env(names: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
        .collect()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Step> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Step::Job(JobError::Fail(anyhow::anyhow!(
            "a blocking step panicked: {e}"
        )))
    })
}
