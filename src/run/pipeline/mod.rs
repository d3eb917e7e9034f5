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
use crate::run::sandbox::{Doors, SandboxError};
use crate::run::workspace::publish::{commit, push, Author, PushMode};
use crate::run::workspace::{branch_name, snapshot, PrepareRequest, Workspace};
use bosun_core::agent::{CommandSpec, Usage};
use bosun_core::gate::GateResult;
use bosun_core::job::Job;
use bosun_core::model::{GateSummary, IssueSnapshot, RunUsage, TaskEvent, TaskKind, TaskStatus};
use bosun_core::prompt::{
    render_prompt, GateFeedback, PromptComment, PromptInput, RepoInstructions,
};
use bosun_core::redact::Redactor;

mod checkout;
mod checks;
mod choose;
mod command_job;
mod egress;
mod fetching;
mod finish;
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
mod setup;
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
        egress: std::sync::OnceLock::new(),
        environment: std::sync::OnceLock::new(),
        refusals_shown: std::sync::Mutex::new(0),
        tools_shown: std::sync::Mutex::new(0),
        limits: std::sync::OnceLock::new(),
        model_tools: std::sync::OnceLock::new(),
        protected: std::sync::OnceLock::new(),
        learned: Default::default(),
    };
    // Both also act when this future is dropped midway (the pool drops it when the lease is
    // lost): the watcher stops, and the checkout is removed.
    let _watcher = AbortOnDrop(p.watch_for_stop());
    let checkout = RemoveOnDrop(runner.workspaces.clone(), Some(p.checkout_name()));
    let result = p.run().await;
    p.end_metering();
    p.end_egress();
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

impl Mode {
    /// Reads what the agent's final message reports for this mode: a review's answers to
    /// its threads, or the plan.
    fn take(&mut self, final_message: &str) {
        match self {
            Mode::Review(session) => {
                session.take_report(final_message);
            }
            Mode::Plan(session) => session.take(final_message),
            Mode::Implement => {}
        }
    }
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
    /// The attempt's way out through the egress proxy, when its repository lists hosts.
    egress: std::sync::OnceLock<crate::run::egress_host::EgressRun>,
    /// The environment snapshot the agent and the gates see (read-only), once set up.
    environment: std::sync::OnceLock<Vec<crate::run::sandbox::ExtraMount>>,
    /// How many refused hosts the tracking comment shows already.
    refusals_shown: std::sync::Mutex<usize>,
    /// How many provider-side tools taken out of model calls it shows already.
    tools_shown: std::sync::Mutex<usize>,
    /// The server's limits with the repository's budgets applied, once its config is read.
    limits: std::sync::OnceLock<crate::config::run::Limits>,
    /// The provider-side tools the repository lets its agents' model calls use.
    model_tools: std::sync::OnceLock<Vec<bosun_core::repo_config::ModelTool>>,
    /// The repository's `protected_paths`: changes to them are held back for `@bosun approve`.
    protected: std::sync::OnceLock<Vec<String>>,
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

    /// A stop for work on the checkout `dir` (the set-up, an agent round): the task's stop, or
    /// the checkout growing past `limits.max_checkout_mb`, since Docker cannot limit a bind
    /// mount. The watcher runs until dropped; the cap (MiB) comes back for the message.
    fn watch_checkout(
        &self,
        dir: &std::path::Path,
    ) -> (CancellationToken, crate::run::disk_cap::DiskCap, u64) {
        let stop = self.cancel.child_token();
        let max_mb = self.limits().max_checkout_mb;
        let cap = crate::run::disk_cap::DiskCap::watch(
            dir.to_path_buf(),
            max_mb.saturating_mul(1 << 20),
            stop.clone(),
        );
        (stop, cap, max_mb)
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

    /// The attempt, step by step; each step hands the next what it produced.
    async fn run(&self) -> Result<(), Step> {
        let config = self.read_config().await?;
        let chosen = self.choose(config).await?;
        // Held until the pipeline ends: one of the vendor's runs at once.
        let _vendor_slot = self.vendor_slot(&chosen).await?;
        let crew = self.ready_to_start(&chosen).await?;
        self.open_egress(&chosen.config).await?;
        let checkout = self.check_out(&chosen).await?;
        let sealed = self.seal(&chosen.resolved, crew.reviewers, &checkout.token);
        self.work(&chosen, &crew.gate_image, checkout, sealed).await
    }
}

/// The host environment variables `names` that are set, as an agent's environment.
/// The host variables `agent` is given: its `env`, less model keys unless it has
/// `expose_key` (behind the meter it gets a run token in their place, see `metered_env`).
fn agent_env(
    agent: &crate::config::run::AgentConfig,
    meter: Option<&crate::run::meter_host::MeterHost>,
) -> Vec<(String, String)> {
    let meter_keys = meter.map(|m| m.key_envs.as_slice()).unwrap_or_default();
    agent
        .passed_env(meter_keys)
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
