//! Agent rounds and the gates after each, until the gates pass or the rounds run out.

use super::*;
use crate::run::agent_round::RoundResult;
use crate::run::relaunch::{self, Fix};
use bosun_core::agent::AgentCommand;
use bosun_core::model::ProgressEvent;

/// How many corrections of the CLI's command line one attempt tries before giving up.
const MAX_RELAUNCHES: usize = 3;

/// What an attempt's rounds work with, fixed once its checkout is ready.
pub(super) struct Work<'a> {
    /// The implementer: its agent, model, image and limits.
    pub resolved: &'a Resolved,
    /// The repository's gates: none for a plan, which changes no code.
    pub gates: &'a [bosun_core::repo_config::Gate],
    pub gate_image: &'a str,
    pub ws: &'a Workspace,
    pub agent_env: &'a [(String, String)],
    pub reviewers: &'a [super::peer::Reviewer],
    pub redactor: &'a Redactor,
}

/// How the rounds ended: the agent's last message, the last gates' results and the last
/// round's number.
pub(super) struct Rounds {
    pub message: String,
    pub gates: Vec<GateResult>,
    pub last: u32,
}

/// One run of an agent's CLI in the sandbox.
pub(super) struct Launch<'a> {
    pub resolved: &'a Resolved,
    /// The implementer's checkout, a reviewer's copy of it, or the router's empty folder.
    pub workspace: &'a std::path::Path,
    pub round: u32,
    /// Where the run keeps its prompt and its log.
    pub run_dir: std::path::PathBuf,
    pub prompt: &'a str,
    pub command: AgentCommand,
    pub env: &'a [(String, String)],
    /// The environment snapshot's paths (the implementer's runs only).
    pub mounts: Vec<crate::run::sandbox::ExtraMount>,
}

impl Pipeline<'_> {
    /// Agent rounds `first..=last` until the gates pass or the rounds run out.
    pub(super) async fn rounds(
        &self,
        work: &Work<'_>,
        input: &mut PromptInput,
        mode: &mut Mode,
        (first, last): (u32, u32),
    ) -> Result<Rounds, Step> {
        let mut round = first;
        // Instructions written while the agent works (`@bosun <text>`) are not lost: a round
        // that ends with new ones is followed by another round that carries them.
        let mut heard = self.state().await?.instructions.len();
        // Corrections to the CLI's command line found so far; they hold for later rounds.
        let mut fixes: Vec<Fix> = Vec::new();
        loop {
            let prompt = round_prompt(input, mode, round)?;
            let (result, started) = self.launch(work, &prompt, round, &mut fixes).await?;
            self.agent_ended(work, &result, started).await?;
            let results = self.gates_after(work, round).await?;
            mode.take(&result.outcome.final_message);
            let failed: Vec<&GateResult> = results.iter().filter(|g| !g.ok).collect();
            let instructions = self.state().await?.instructions;
            let steered = instructions.len() > heard;
            // Review feedback written meanwhile is read before deciding, so it gets a round.
            let reviewed = match mode {
                Mode::Review(session) if round < last => self.review_grew(session).await?,
                _ => false,
            };
            // A refused plan goes back to the planner with the reason.
            let replan = matches!(mode, Mode::Plan(session) if session.problem().is_some());
            if (failed.is_empty() && !steered && !reviewed && !replan) || round >= last {
                return Ok(Rounds {
                    message: result.outcome.final_message,
                    gates: results,
                    last: round,
                });
            }
            input.new_instructions = steered;
            if steered {
                heard = instructions.len();
                input.request = super::prompt::request_of(&instructions);
            }
            input.feedback = failed.iter().map(|g| gate_feedback(g)).collect();
            round += 1;
        }
    }

    /// Runs the agent for `round` until it settles: a CLI that refused its command line in a
    /// known way is started again with the fix, and a silent (stuck) one is stopped and
    /// started again, once.
    async fn launch(
        &self,
        work: &Work<'_>,
        prompt: &str,
        round: u32,
        fixes: &mut Vec<Fix>,
    ) -> Result<(RoundResult, Instant), Step> {
        let resolved = work.resolved;
        // `launches` counts every start after the first (each gets its own log directory).
        let mut restarts = 0;
        let mut launches = 0;
        loop {
            let (result, started) = self
                .agent_once(work, prompt, (round, launches), fixes)
                .await?;
            if self.cancel.is_cancelled() {
                return Ok((result, started));
            }
            if let Some(fix) = self.relaunch_fix(resolved, &result, fixes) {
                // A CLI that refused its command line ran nothing: start it again, fixed.
                self.record(
                    TaskEvent::Progress(ProgressEvent::AgentRelaunched {
                        attempt: self.attempt,
                        round,
                        fix: fix.describe(),
                    }),
                    true,
                )
                .await?;
                fixes.push(fix);
                launches += 1;
                continue;
            }
            if !result.stalled {
                return Ok((result, started));
            }
            self.record(
                TaskEvent::Progress(ProgressEvent::AgentStalled {
                    attempt: self.attempt,
                    round,
                    idle_secs: resolved.idle.as_secs(),
                }),
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
            launches += 1;
        }
    }

    /// Records how the agent's run ended. A failed run ends the attempt, or goes back to the
    /// queue when its model API only looked away for a moment.
    async fn agent_ended(
        &self,
        work: &Work<'_>,
        result: &RoundResult,
        started: Instant,
    ) -> Result<(), Step> {
        if result.exit.cancelled {
            return Err(Step::Stopped);
        }
        self.note_refusals().await?;
        // What the proxy counted and priced, when there is one; else what the CLI says.
        let usage = self
            .metered_usage()
            .unwrap_or_else(|| run_usage(result.outcome.usage));
        self.record(
            TaskEvent::Progress(ProgressEvent::AgentFinished {
                attempt: self.attempt,
                usage,
                elapsed_secs: started.elapsed().as_secs(),
            }),
            true,
        )
        .await?;
        self.note_agent_run(work.resolved, !result.outcome.ok)
            .await?;
        if result.outcome.ok {
            return Ok(());
        }
        Err(self.agent_failed(work, result).await)
    }

    /// How a failed agent run ends the attempt: a spent budget, a transient failure retried by
    /// the queue with backoff, or a failure (past its deadline: a person decides).
    async fn agent_failed(&self, work: &Work<'_>, result: &RoundResult) -> Step {
        let redactor = work.redactor;
        let why = result
            .outcome
            .error
            .clone()
            .unwrap_or_else(|| "the agent failed".into());
        if super::metering::budget_spent(&why) {
            return Step::BudgetSpent(redactor.redact(&why));
        }
        if let Some(reason) = transient(&why).filter(|_| !result.exit.timed_out) {
            // The queue retries the run with backoff; its last try that fails ends the task
            // as failed with this error.
            let retrying = self
                .record(
                    TaskEvent::Progress(ProgressEvent::AgentRetrying {
                        attempt: self.attempt,
                        reason: reason.to_string(),
                    }),
                    true,
                )
                .await;
            if let Err(step) = retrying {
                return step;
            }
            return Step::Job(JobError::Retry(anyhow::anyhow!(
                "{reason}: {}",
                redactor.redact(&why)
            )));
        }
        // Past its deadline a human must decide (split the issue, raise the limit).
        let status = if result.exit.timed_out {
            TaskStatus::NeedsReview
        } else {
            TaskStatus::Failed
        };
        Step::Finish(
            status,
            reply::agent_failed(
                &redactor.redact(&why),
                result.exit.timed_out,
                work.resolved.agent_timeout,
            ),
        )
    }

    /// The repository's gates on the checkout after a round, each in a fresh container.
    async fn gates_after(&self, work: &Work<'_>, round: u32) -> Result<Vec<GateResult>, Step> {
        if work.gates.is_empty() {
            return Ok(Vec::new());
        }
        let run = GateRun {
            task_id: self.task.id.0 as u64,
            round,
            image: work.gate_image,
            workspace: &work.ws.dir,
            limits: self.runner.limits.clone(),
            deadline: work.resolved.gate_timeout,
            user: self.runner.user,
            doors: self.egress_doors(),
            env: self.egress_env(),
            mounts: self.env_mounts(),
        };
        let results = run_gates(self.runner.sandbox.as_ref(), work.gates, &run, &self.cancel)
            .await
            .map_err(commands_could_not_run)?;
        if self.cancel.is_cancelled() {
            return Err(Step::Stopped);
        }
        self.record(
            TaskEvent::Progress(ProgressEvent::GatesRan {
                attempt: self.attempt,
                round,
                results: results
                    .iter()
                    .map(|g| gate_summary(g, work.redactor))
                    .collect(),
            }),
            true,
        )
        .await?;
        self.learn_gates(&results, work.redactor);
        self.note_refusals().await?;
        Ok(results)
    }

    /// The fix for a run whose CLI refused its command line in a known way, unless too many
    /// were tried already.
    pub(super) fn relaunch_fix(
        &self,
        resolved: &Resolved,
        result: &crate::run::agent_round::RoundResult,
        fixes: &[Fix],
    ) -> Option<Fix> {
        if result.outcome.ok || result.stalled || fixes.len() >= MAX_RELAUNCHES {
            return None;
        }
        let error = result.outcome.error.as_deref()?;
        let command = self.agent_command(resolved, fixes);
        relaunch::correction(resolved.adapter, error, &command).filter(|f| !fixes.contains(f))
    }

    /// The agent's command line, with the corrections found so far.
    pub(super) fn agent_command(&self, resolved: &Resolved, fixes: &[Fix]) -> AgentCommand {
        let mut extra_args = resolved.agent.args.clone();
        extra_args.extend(self.metered_args(resolved.adapter));
        let command = resolved.adapter.command(&CommandSpec {
            model: resolved.model.clone(),
            max_turns: resolved.agent.max_turns,
            program: resolved.agent.program.clone(),
            extra_args,
        });
        fixes
            .iter()
            .fold(command, |command, fix| relaunch::apply(&command, fix))
    }

    /// One run of the agent for `round`; `launches` counts the runs before it in that round
    /// (a restart after a stall or a relaunch with a corrected command line).
    async fn agent_once(
        &self,
        work: &Work<'_>,
        prompt: &str,
        (round, launches): (u32, u32),
        fixes: &[Fix],
    ) -> Result<(RoundResult, Instant), Step> {
        let resolved = work.resolved;
        self.record(
            TaskEvent::Progress(ProgressEvent::AgentStarted {
                attempt: self.attempt,
                round,
                rounds: resolved.rounds.max(round),
                agent: resolved.agent_name.clone(),
                sandbox: self.runner.sandbox.name().to_string(),
                model: resolved.model.clone(),
            }),
            true,
        )
        .await?;
        let launch = Launch {
            resolved,
            workspace: &work.ws.dir,
            round,
            run_dir: self.run_dir(&match launches {
                0 => format!("round-{round}"),
                n => format!("round-{round}-restart-{n}"),
            }),
            prompt,
            command: self.agent_command(resolved, fixes),
            env: work.agent_env,
            mounts: self.env_mounts(),
        };
        let progress = Arc::new(std::sync::Mutex::new(None::<(Usage, Duration)>));
        // The metering proxy's count is the true one (and the only one for CLIs that report
        // no cost), so a metered round shows it as it grows.
        let live = self.live_meter();
        let ticker = AbortOnDrop(self.progress_ticker(progress.clone(), live));
        let started = Instant::now();
        let result = self
            .sandboxed_round(launch, |usage, elapsed| {
                *crate::locks::lock(&progress) = Some((usage, elapsed))
            })
            .await;
        drop(ticker);
        Ok((result?, started))
    }

    /// Runs an agent's CLI once in the sandbox. A missing image fails the attempt; a sandbox
    /// that is down defers it.
    pub(super) async fn sandboxed_round(
        &self,
        launch: Launch<'_>,
        progress: impl FnMut(Usage, Duration),
    ) -> Result<RoundResult, Step> {
        let Launch {
            resolved,
            workspace,
            round,
            run_dir,
            prompt,
            command,
            env,
            mounts,
        } = launch;
        // So that `bosun task logs` can read the run's output as its adapter does.
        crate::run::logs::note_adapter(&run_dir, resolved.adapter);
        // An agent could otherwise fill the server's disk.
        let (stop, cap, max_mb) = self.watch_checkout(workspace);
        let result = run_agent_round(
            self.runner.sandbox.as_ref(),
            AgentRound {
                task_id: self.task.id.0 as u64,
                round,
                image: &resolved.agent.image,
                workspace,
                run_dir,
                prompt,
                command,
                env: env.to_vec(),
                network: resolved.network,
                doors: self.agent_doors(resolved.network),
                limits: self.runner.limits.clone(),
                deadline: resolved.agent_timeout,
                idle: resolved.idle,
                user: self.runner.user,
                mounts,
            },
            resolved.adapter.parser(),
            progress,
            stop,
        )
        .await;
        if cap.tripped() && !self.cancel.is_cancelled() {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::agent_filled_disk(max_mb),
            ));
        }
        match result {
            Ok(r) => Ok(r),
            Err(SandboxError::ImageMissing { image }) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::image_missing(&image),
            )),
            Err(SandboxError::Unavailable(why)) => Err(Step::Job(JobError::Defer(
                anyhow::anyhow!("sandbox unavailable: {why}"),
            ))),
            Err(e) => Err(Step::Job(JobError::Fail(e.into()))),
        }
    }

    /// Records the agent's progress every few seconds while it runs.
    pub(super) fn progress_ticker(
        &self,
        latest: Arc<std::sync::Mutex<Option<(Usage, Duration)>>>,
        live: Option<super::metering::LiveMeter>,
    ) -> tokio::task::JoinHandle<()> {
        let attempt = self.attempt;
        let started = Instant::now();
        self.event_ticker(move || {
            let reported = crate::locks::lock(&latest).map(|(u, _)| run_usage(u));
            let usage = live.as_ref().and_then(|l| l.usage()).or(reported);
            Some(TaskEvent::Progress(ProgressEvent::AgentProgress {
                attempt,
                usage: usage.unwrap_or_default(),
                elapsed_secs: started.elapsed().as_secs(),
            }))
        })
    }

    /// Records what `next` says every `progress_every` until the returned task is aborted,
    /// skipping repeats; each recorded event refreshes the tracking comment.
    pub(super) fn event_ticker(
        &self,
        mut next: impl FnMut() -> Option<TaskEvent> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let db = self.ctx.db.clone();
        let notify = self.ctx.jobs_added.clone();
        let (id, fence, every) = (self.task.id, self.fence, self.runner.progress_every);
        tokio::spawn(async move {
            let mut last = None;
            loop {
                tokio::time::sleep(every).await;
                let Some(event) = next().filter(|e| last.as_ref() != Some(e)) else {
                    continue;
                };
                let face = [Job::SyncFace { task: id }.to_new(0)];
                if db.record(id, &event, Some(fence), &face).await.is_err() {
                    return;
                }
                notify.notify_one();
                last = Some(event);
            }
        })
    }
}

/// The prompt of `round`, with what the attempt's mode shows the agent (a review's threads, the
/// plan asked for).
fn round_prompt(input: &mut PromptInput, mode: &mut Mode, round: u32) -> Result<String, Step> {
    input.round = round;
    input.review = match mode {
        Mode::Review(session) => Some(session.input()),
        _ => None,
    };
    input.plan = match mode {
        Mode::Plan(session) => Some(session.input()),
        _ => None,
    };
    render_prompt(input).map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))
}

/// How a set-up or gate command that could not run ends the attempt: a sandbox that is away
/// defers it, anything else fails it.
pub(super) fn commands_could_not_run(e: SandboxError) -> Step {
    match e {
        SandboxError::Unavailable(why) => Step::Job(JobError::Defer(anyhow::anyhow!(
            "sandbox unavailable: {why}"
        ))),
        other => Step::Finish(
            TaskStatus::Failed,
            reply::gates_could_not_run(&other.to_string()),
        ),
    }
}

/// A failing gate as the next round's prompt shows it.
fn gate_feedback(g: &GateResult) -> GateFeedback {
    GateFeedback {
        gate: g.name.clone(),
        command: g.command.clone(),
        exit_code: g.exit_code,
        output_tail: g.output_tail.clone(),
    }
}

pub(super) fn run_usage(u: Usage) -> RunUsage {
    RunUsage {
        input_tokens: u.input_tokens + u.cache_read_tokens + u.cache_write_tokens,
        output_tokens: u.output_tokens,
        cost_micro_usd: u.cost_usd.map(|c| (c.max(0.0) * 1e6).round() as u64),
    }
}

pub(super) fn gate_summary(g: &GateResult, redactor: &Redactor) -> GateSummary {
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
