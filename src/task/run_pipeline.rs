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
use crate::reply;
use crate::run::agent::{CommandSpec, Usage};
use crate::run::agent_round::{run_agent_round, AgentRound};
use crate::run::gates::{run_gates, GateResult, GateRun};
use crate::run::prompt::{
    render_prompt, GateFeedback, PromptComment, PromptInput, RepoInstructions,
};
use crate::run::recovery::transient;
use crate::run::redact::Redactor;
use crate::run::runner::{give_to, Runner};
use crate::run::sandbox::SandboxError;
use crate::run::workspace::publish::{commit, push, Author};
use crate::run::workspace::{branch_name, snapshot, PrepareRequest, Workspace};
use crate::task::model::{GateSummary, IssueSnapshot, RunUsage, TaskEvent, TaskStatus};
use crate::worker::context::{Ctx, JobError};
use crate::worker::job::Job;

/// How often a stuck agent is restarted before the task fails.
const MAX_STALL_RESTARTS: u32 = 1;

/// The end of a failing gate's log kept in the tracking comment.
const COMMENT_TAIL_CHARS: usize = 3000;

/// Runs the pipeline for the current attempt. Returns when the attempt finished (any status)
/// or was stopped; `Err` only for failures worth a retry of the whole job.
pub async fn run_attempt(
    ctx: &Ctx,
    runner: &Runner,
    task: &TaskRow,
    attempt: u32,
    fence: Fence,
) -> Result<(), JobError> {
    let p = Pipeline {
        ctx,
        runner,
        task,
        attempt,
        fence,
        client: ctx.github.installation(task.installation),
        cancel: CancellationToken::new(),
    };
    // Both also act when this future is dropped midway (the pool drops it when the lease is
    // lost): the watcher stops, and the checkout is removed.
    let _watcher = AbortOnDrop(p.watch_for_stop());
    let checkout = RemoveOnDrop(runner.workspaces.clone(), Some(p.checkout_name()));
    let result = p.run().await;
    drop(_watcher);
    checkout.now().await;
    match result {
        Ok(()) | Err(Step::Stopped) => Ok(()),
        Err(Step::Finish(status, summary)) => p
            .record(
                TaskEvent::Finished {
                    attempt,
                    status,
                    summary,
                },
                true,
            )
            .await
            .map(|_| ())
            .or_else(|e| match e {
                Step::Job(j) => Err(j),
                _ => Ok(()),
            }),
        Err(Step::Job(e)) => Err(e),
    }
}

/// Aborts a helper task when the pipeline ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes the run's checkout when the pipeline ends: awaited on the normal path
/// ([`RemoveOnDrop::now`]), in the background when the pipeline is dropped midway.
struct RemoveOnDrop(crate::run::workspace::Workspaces, Option<String>);

impl RemoveOnDrop {
    fn remover(&mut self) -> Option<impl FnOnce() + Send + 'static> {
        let (workspaces, name) = (self.0.clone(), self.1.take()?);
        Some(move || {
            if let Err(e) = workspaces.remove(&name) {
                tracing::warn!(error = %e, "could not remove the checkout");
            }
        })
    }

    async fn now(mut self) {
        if let Some(remove) = self.remover() {
            let _ = tokio::task::spawn_blocking(remove).await;
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(remove) = self.remover() {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(remove)),
                Err(_) => remove(),
            }
        }
    }
}

/// How a step ends the pipeline early.
enum Step {
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
    ctx: &'a Ctx,
    runner: &'a Runner,
    task: &'a TaskRow,
    attempt: u32,
    fence: Fence,
    client: Installation,
    cancel: CancellationToken,
}

impl Pipeline<'_> {
    /// The task's current state, projected from its events.
    async fn state(&self) -> Result<crate::task::model::TaskState, Step> {
        let events = self
            .ctx
            .db
            .task_events(self.task.id)
            .await
            .map_err(JobError::from)?;
        crate::task::model::project(&events).map_err(|e| Step::Job(JobError::Fail(e.into())))
    }

    /// This run's checkout directory: unique per claim of the job, so a run that lost its
    /// lease cannot remove or write into the checkout of the run that took over.
    fn checkout_name(&self) -> String {
        format!(
            "task-{}-job-{}-{}",
            self.task.id.0, self.fence.job.0, self.fence.token
        )
    }

    /// Renews the lease before a step that publishes (push, check runs, pull request): a run
    /// that lost its job to another worker must not publish anything.
    async fn still_mine(&self) -> Result<(), Step> {
        let lease = self.ctx.settings.lease.as_millis() as i64;
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
            .repo_config(&self.client, repo_ref, self.task.repo_id)
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
        let resolved = self
            .runner
            .config
            .resolve(&config, config.agent.complexity)
            .map_err(|why| Step::Finish(TaskStatus::Failed, why))?;
        let gate_image = resolved
            .agent
            .gate_image
            .clone()
            .unwrap_or_else(|| resolved.agent.image.clone());
        self.check_breaker(&resolved).await?;
        self.check_sandbox(&resolved.agent.image).await?;
        if gate_image != resolved.agent.image && !config.gates.is_empty() {
            self.check_sandbox(&gate_image).await?;
        }

        // The workspace.
        let repository = self
            .client
            .repository(repo_ref)
            .await
            .map_err(JobError::from)?;
        let issue = self.issue_as_triggered().await?;
        let token = self.client.access_token().await.map_err(JobError::from)?;
        let request = PrepareRequest {
            repo: repo_ref.to_string(),
            clone_url: repository.clone_url.clone(),
            token: Some(token.clone()),
            base_branch: repository.default_branch.clone(),
            branch: branch_name(self.task.issue.0, &issue.title),
            checkout: self.checkout_name(),
        };
        let workspaces = self.runner.workspaces.clone();
        let ws = match blocking(move || workspaces.prepare(&request)).await? {
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
            TaskEvent::WorkspaceReady {
                attempt: self.attempt,
                branch: ws.branch.clone(),
                base_sha: ws.base_sha.clone(),
            },
            true,
        )
        .await?;

        // What the agent may see, and what must never come back out.
        let canary = format!("bosun-canary-{}", hex::encode(rand::random::<[u8; 16]>()));
        let mut agent_env: Vec<(String, String)> = resolved
            .agent
            .env
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
            .collect();
        let mut exact: Vec<String> = agent_env.iter().map(|(_, v)| v.clone()).collect();
        exact.push(canary.clone());
        exact.push(token.expose().to_string());
        let redactor = Redactor::new(exact);
        agent_env.push(("BOSUN_CANARY".into(), canary));

        let mut prompt_input = self.prompt_input(&issue, &ws, &config, &resolved).await?;
        let (final_message, gates) = self
            .rounds(
                &resolved,
                &config.gates,
                &gate_image,
                &ws,
                agent_env,
                &mut prompt_input,
                &redactor,
            )
            .await?;
        let summary = redactor.redact(&final_message);
        self.publish(
            &ws,
            &issue.title,
            &summary,
            &gates,
            &redactor,
            token,
            &resolved,
        )
        .await
    }

    /// The issue as it was when the trigger came; asked of GitHub only for tasks recorded
    /// before bosun kept that (or rebuilt by resync).
    async fn issue_as_triggered(&self) -> Result<IssueSnapshot, Step> {
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

    /// Pushes the task branch. A refused token is replaced and the push tried once more
    /// here, since retrying the whole job would run the agent again.
    async fn push(&self, ws: &Workspace, token: Secret) -> Result<(), Step> {
        let ws2 = ws.clone();
        match blocking(move || push(&ws2, Some(&token))).await? {
            Ok(()) => return Ok(()),
            Err(e) if e.auth_refused() => {
                tracing::warn!(error = %e, "push refused the installation token; minting a new one");
                self.client.invalidate_token().await;
            }
            Err(e) => return Err(Step::Job(JobError::Retry(anyhow::anyhow!("{e}")))),
        }
        let token = self.client.access_token().await.map_err(JobError::from)?;
        let ws2 = ws.clone();
        blocking(move || push(&ws2, Some(&token)))
            .await?
            .map_err(|e| Step::Job(JobError::Retry(anyhow::anyhow!("{e}"))))
    }

    /// git was refused the cached installation token: drop it, and let the job retry with a
    /// fresh one (the queue's backoff bounds how often).
    async fn token_refused(&self, e: crate::run::workspace::GitError) -> Step {
        tracing::warn!(error = %e, "git refused the installation token; minting a new one");
        self.client.invalidate_token().await;
        Step::Job(JobError::Retry(anyhow::anyhow!("{e}")))
    }

    /// Ends the attempt at once when the agent's circuit breaker is open in this repository.
    async fn check_breaker(&self, resolved: &Resolved) -> Result<(), Step> {
        let now = chrono::Utc::now().timestamp_millis();
        let until = self
            .ctx
            .db
            .breaker_open_until(self.task.repo_id, &resolved.agent_name, now)
            .await
            .map_err(JobError::from)?;
        match until {
            Some(until) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::breaker_open(
                    &resolved.agent_name,
                    self.runner.config.limits.breaker_failures,
                    Duration::from_millis((until - now).max(0) as u64),
                ),
            )),
            None => Ok(()),
        }
    }

    /// Counts an agent run for the breaker.
    async fn note_agent_run(&self, resolved: &Resolved, failed: bool) -> Result<(), Step> {
        let limits = &self.runner.config.limits;
        let opened = self
            .ctx
            .db
            .note_agent_run(
                self.task.repo_id,
                &resolved.agent_name,
                failed,
                limits.breaker_failures,
                i64::from(limits.breaker_cooldown_minutes) * 60_000,
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .map_err(JobError::from)?;
        if opened.is_some() {
            tracing::warn!(agent = %resolved.agent_name, "agent circuit breaker opened for this repository");
        }
        Ok(())
    }

    async fn check_sandbox(&self, image: &str) -> Result<(), Step> {
        match self.runner.sandbox.check(image).await {
            Ok(()) => Ok(()),
            Err(SandboxError::ImageMissing { image }) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::image_missing(&image),
            )),
            Err(SandboxError::Unavailable(why)) => Err(Step::Job(JobError::Defer(
                anyhow::anyhow!("the sandbox backend is unavailable: {why}"),
            ))),
            Err(e) => Err(Step::Job(JobError::Fail(e.into()))),
        }
    }

    async fn prompt_input(
        &self,
        issue: &IssueSnapshot,
        ws: &Workspace,
        config: &crate::config::repo::RepoConfig,
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
        let request: Vec<String> = state
            .instructions
            .iter()
            .map(|(_, text)| text.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
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
            request: (!request.is_empty()).then(|| request.join("\n\n")),
            round: 1,
            max_rounds: resolved.rounds,
            feedback: Vec::new(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    /// Agent rounds until the gates pass or the rounds run out. Returns the agent's last
    /// message and the last gates' results.
    async fn rounds(
        &self,
        resolved: &Resolved,
        gates: &[crate::config::repo::Gate],
        gate_image: &str,
        ws: &Workspace,
        agent_env: Vec<(String, String)>,
        input: &mut PromptInput,
        redactor: &Redactor,
    ) -> Result<(String, Vec<GateResult>), Step> {
        let mut round = 1;
        loop {
            input.round = round;
            let prompt =
                render_prompt(input).map_err(|e| JobError::Fail(anyhow::anyhow!("{e}")))?;
            // A silent (stuck) agent is stopped and started again, once.
            let mut restarts = 0;
            let (result, started) = loop {
                let (result, started) = self
                    .agent_once(resolved, ws, &agent_env, &prompt, round, restarts)
                    .await?;
                if !result.stalled || self.cancel.is_cancelled() {
                    break (result, started);
                }
                self.record(
                    TaskEvent::AgentStalled {
                        attempt: self.attempt,
                        round,
                        idle_secs: resolved.idle.as_secs(),
                    },
                    true,
                )
                .await?;
                if restarts >= MAX_STALL_RESTARTS {
                    self.note_agent_run(resolved, true).await?;
                    return Err(Step::Finish(
                        TaskStatus::Failed,
                        reply::agent_stalled(resolved.idle, restarts + 1),
                    ));
                }
                restarts += 1;
            };
            if result.exit.cancelled {
                return Err(Step::Stopped);
            }
            let usage = run_usage(result.outcome.usage);
            self.record(
                TaskEvent::AgentFinished {
                    attempt: self.attempt,
                    usage,
                    elapsed_secs: started.elapsed().as_secs(),
                },
                true,
            )
            .await?;
            self.note_agent_run(resolved, !result.outcome.ok).await?;
            if !result.outcome.ok {
                let why = result
                    .outcome
                    .error
                    .clone()
                    .unwrap_or_else(|| "the agent failed".into());
                if let Some(reason) = transient(&why).filter(|_| !result.exit.timed_out) {
                    // The queue retries the run with backoff; its last try that fails ends
                    // the task as failed with this error.
                    self.record(
                        TaskEvent::AgentRetrying {
                            attempt: self.attempt,
                            reason: reason.to_string(),
                        },
                        true,
                    )
                    .await?;
                    return Err(Step::Job(JobError::Retry(anyhow::anyhow!(
                        "{reason}: {}",
                        redactor.redact(&why)
                    ))));
                }
                return Err(Step::Finish(
                    TaskStatus::Failed,
                    reply::agent_failed(
                        &redactor.redact(&why),
                        result.exit.timed_out,
                        resolved.agent_timeout,
                    ),
                ));
            }

            let results = if gates.is_empty() {
                Vec::new()
            } else {
                let run = GateRun {
                    task_id: self.task.id.0 as u64,
                    round,
                    image: gate_image,
                    workspace: &ws.dir,
                    limits: self.runner.limits.clone(),
                    deadline: resolved.gate_timeout,
                    user: self.runner.user,
                };
                let results = run_gates(self.runner.sandbox.as_ref(), gates, &run, &self.cancel)
                    .await
                    .map_err(|e| match e {
                        SandboxError::Unavailable(why) => Step::Job(JobError::Defer(
                            anyhow::anyhow!("sandbox unavailable: {why}"),
                        )),
                        other => Step::Finish(
                            TaskStatus::Failed,
                            reply::gates_could_not_run(&other.to_string()),
                        ),
                    })?;
                if self.cancel.is_cancelled() {
                    return Err(Step::Stopped);
                }
                self.record(
                    TaskEvent::GatesRan {
                        attempt: self.attempt,
                        round,
                        results: results.iter().map(|g| gate_summary(g, redactor)).collect(),
                    },
                    true,
                )
                .await?;
                results
            };
            let failed: Vec<&GateResult> = results.iter().filter(|g| !g.ok).collect();
            if failed.is_empty() || round >= resolved.rounds {
                return Ok((result.outcome.final_message, results));
            }
            input.feedback = failed
                .iter()
                .map(|g| GateFeedback {
                    gate: g.name.clone(),
                    command: g.command.clone(),
                    exit_code: g.exit_code,
                    output_tail: g.output_tail.clone(),
                })
                .collect();
            round += 1;
        }
    }

    /// One run of the agent for `round` (a restart after a stall is another run).
    async fn agent_once(
        &self,
        resolved: &Resolved,
        ws: &Workspace,
        agent_env: &[(String, String)],
        prompt: &str,
        round: u32,
        restarts: u32,
    ) -> Result<(crate::run::agent_round::RoundResult, Instant), Step> {
        self.record(
            TaskEvent::AgentStarted {
                attempt: self.attempt,
                round,
                rounds: resolved.rounds,
                agent: resolved.agent_name.clone(),
                sandbox: self.runner.sandbox.name().to_string(),
            },
            true,
        )
        .await?;
        let command = resolved.adapter.command(&CommandSpec {
            model: resolved.model.clone(),
            max_turns: resolved.agent.max_turns,
            program: resolved.agent.program.clone(),
            extra_args: Vec::new(),
        });
        let run_dir = self
            .runner
            .runs_dir
            .join(format!("task-{}", self.task.id.0))
            .join(format!("attempt-{}", self.attempt))
            .join(match restarts {
                0 => format!("round-{round}"),
                n => format!("round-{round}-restart-{n}"),
            });
        let progress = Arc::new(std::sync::Mutex::new(None::<(Usage, Duration)>));
        let ticker = AbortOnDrop(self.progress_ticker(progress.clone()));
        let started = Instant::now();
        let result = run_agent_round(
            self.runner.sandbox.as_ref(),
            AgentRound {
                task_id: self.task.id.0 as u64,
                round,
                image: &resolved.agent.image,
                workspace: &ws.dir,
                run_dir,
                prompt,
                command,
                env: agent_env.to_vec(),
                network: resolved.network,
                limits: self.runner.limits.clone(),
                deadline: resolved.agent_timeout,
                idle: resolved.idle,
                user: self.runner.user,
            },
            resolved.adapter.parser(),
            |usage, elapsed| *crate::locks::lock(&progress) = Some((usage, elapsed)),
            self.cancel.clone(),
        )
        .await;
        drop(ticker);
        let result = match result {
            Ok(r) => r,
            Err(SandboxError::ImageMissing { image }) => {
                return Err(Step::Finish(
                    TaskStatus::Failed,
                    reply::image_missing(&image),
                ))
            }
            Err(SandboxError::Unavailable(why)) => {
                return Err(Step::Job(JobError::Defer(anyhow::anyhow!(
                    "sandbox unavailable: {why}"
                ))))
            }
            Err(e) => return Err(Step::Job(JobError::Fail(e.into()))),
        };
        Ok((result, started))
    }

    /// Records the agent's progress every few seconds while it runs.
    fn progress_ticker(
        &self,
        latest: Arc<std::sync::Mutex<Option<(Usage, Duration)>>>,
    ) -> tokio::task::JoinHandle<()> {
        let db = self.ctx.db.clone();
        let notify = self.ctx.jobs_added.clone();
        let (id, attempt, fence, every) = (
            self.task.id,
            self.attempt,
            self.fence,
            self.runner.progress_every,
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let mut last = None;
            loop {
                tokio::time::sleep(every).await;
                let usage = crate::locks::lock(&latest).map(|(u, _)| u);
                let event = TaskEvent::AgentProgress {
                    attempt,
                    usage: usage.map(run_usage).unwrap_or_default(),
                    elapsed_secs: started.elapsed().as_secs(),
                };
                if last.as_ref() == Some(&event) {
                    continue;
                }
                let face = [Job::SyncFace { task: id }.to_new(0)];
                if db.record(id, &event, Some(fence), &face).await.is_err() {
                    return;
                }
                notify.notify_one();
                last = Some(event);
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn publish(
        &self,
        ws: &Workspace,
        title: &str,
        summary: &str,
        gates: &[GateResult],
        redactor: &Redactor,
        token: Secret,
        resolved: &Resolved,
    ) -> Result<(), Step> {
        let ws2 = ws.clone();
        let red = redactor.clone();
        let snap = blocking(move || snapshot::take(&ws2, &red))
            .await?
            .map_err(|e| {
                Step::Finish(TaskStatus::Failed, reply::workspace_failed(&e.to_string()))
            })?;
        if !snap.secrets.is_empty() {
            return Err(Step::Finish(
                TaskStatus::Failed,
                reply::secrets_blocked(&snap.secrets),
            ));
        }
        if snap.is_empty() {
            return Err(Step::Finish(
                TaskStatus::Done,
                reply::no_change(summary, &snap.rejected),
            ));
        }
        let message = reply::commit_message(self.task.issue.0, title, summary);
        let author = Author::bot(&self.ctx.identity.bot_login);
        self.still_mine().await?;
        let (ws2, tree) = (ws.clone(), snap.tree);
        let sha = blocking(move || commit(&ws2, tree, &message, &author))
            .await?
            .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))?;
        self.push(ws, token).await?;
        self.record(
            TaskEvent::Pushed {
                attempt: self.attempt,
                branch: ws.branch.clone(),
                sha: sha.clone(),
            },
            true,
        )
        .await?;

        self.still_mine().await?;
        for gate in gates {
            let text = redactor.redact(&gate.output_tail);
            let external_id = format!(
                "bosun-task-{}-attempt-{}-{}",
                self.task.id.0, self.attempt, gate.name
            );
            let (title, summary_text) = reply::check_run_texts(gate);
            self.client
                .report_check_run(
                    &self.task.repo,
                    &NewCheckRun {
                        name: &format!("bosun / {}", gate.name),
                        head_sha: &sha,
                        success: gate.ok,
                        title: &title,
                        summary: &summary_text,
                        text: &reply::fenced(&text),
                        external_id: &external_id,
                    },
                )
                .await
                .map_err(JobError::from)?;
        }

        if gates.iter().any(|g| !g.ok) {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::gates_failed(&ws.branch, resolved.rounds),
            ));
        }
        let state = self.state().await?;
        let body = reply::pull_request_body(
            self.task.issue.0,
            summary,
            gates,
            &state.run,
            &snap.rejected,
        );
        self.still_mine().await?;
        let pr = self
            .client
            .open_draft_pull(
                &self.task.repo,
                &NewPull {
                    title,
                    head: &ws.branch,
                    base: &base_branch(&self.client, &self.task.repo).await?,
                    body: &body,
                },
            )
            .await
            .map_err(JobError::from)?;
        self.record(
            TaskEvent::PullOpened {
                attempt: self.attempt,
                number: pr.number,
                url: pr.html_url.clone(),
            },
            true,
        )
        .await?;
        Err(Step::Finish(
            TaskStatus::Done,
            reply::pull_opened(pr.number, &pr.html_url),
        ))
    }
}

async fn base_branch(
    client: &Installation,
    repo: &crate::github::ids::RepoRef,
) -> Result<String, Step> {
    Ok(client
        .repository(repo)
        .await
        .map_err(JobError::from)?
        .default_branch)
}

/// The repository's instructions: `instructions` in its bosun config, else `AGENTS.md` or
/// `CLAUDE.md` at the root of the checkout (regular files only: never through a link).
fn repo_instructions(
    config: &crate::config::repo::RepoConfig,
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

fn run_usage(u: Usage) -> RunUsage {
    RunUsage {
        input_tokens: u.input_tokens + u.cache_read_tokens + u.cache_write_tokens,
        output_tokens: u.output_tokens,
        cost_micro_usd: u.cost_usd.map(|c| (c.max(0.0) * 1e6).round() as u64),
    }
}

fn gate_summary(g: &GateResult, redactor: &Redactor) -> GateSummary {
    let tail = if g.ok {
        String::new()
    } else {
        let clean = redactor.redact(&g.output_tail);
        let chars: Vec<char> = clean.chars().collect();
        chars[chars.len().saturating_sub(COMMENT_TAIL_CHARS)..]
            .iter()
            .collect()
    };
    GateSummary {
        name: g.name.clone(),
        ok: g.ok,
        exit_code: g.exit_code,
        timed_out: g.timed_out,
        secs: g.duration.as_secs(),
        tail,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Step> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Step::Job(JobError::Fail(anyhow::anyhow!(
            "a blocking step panicked: {e}"
        )))
    })
}
