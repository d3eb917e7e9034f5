//! One agent round: the prompt goes into a read-only input folder, the agent's CLI runs in the
//! sandbox on the checkout, and its streamed output is parsed line by line into progress (for
//! the tracking comment) and an outcome. The raw output is kept in the run's log file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::capped_log::CappedLog;
use super::sandbox::{
    ExtraMount, Limits, OutputLine, Role, Sandbox, SandboxError, SandboxExit, SandboxSpec, Stream,
    INPUTS_MOUNT,
};
use bosun_core::agent::{
    AgentCommand, AgentEvent, ExitInfo, Outcome, StreamParser, Usage, PROMPT_FILE_ENV,
};

/// The stderr kept for the parser (gemini reports its error JSON at the end of stderr).
const STDERR_TAIL_BYTES: usize = 16 * 1024;

pub struct AgentRound<'a> {
    pub task_id: u64,
    pub round: u32,
    pub image: &'a str,
    pub workspace: &'a Path,
    /// This round's folder under the data directory: `input/prompt.md` and `agent.log`.
    pub run_dir: PathBuf,
    pub prompt: &'a str,
    pub command: AgentCommand,
    /// Extra environment for the agent (model keys the server passes, the canary).
    pub env: Vec<(String, String)>,
    pub network: bool,
    /// The doors to the metering and egress proxies the agent may use.
    pub doors: Option<super::sandbox::Doors>,
    pub limits: Limits,
    pub deadline: Duration,
    /// An agent silent for this long is stuck: its container is stopped (see `stalled`).
    pub idle: Duration,
    pub user: (u32, u32),
    /// An environment snapshot's paths, read-only.
    pub mounts: Vec<ExtraMount>,
}

pub struct RoundResult {
    pub outcome: Outcome,
    pub exit: SandboxExit,
    pub log: PathBuf,
    /// The agent printed nothing for `idle` and was stopped.
    pub stalled: bool,
}

/// Runs the round; `progress` is called with the running usage totals whenever they change.
pub async fn run_agent_round(
    sandbox: &dyn Sandbox,
    round: AgentRound<'_>,
    parser: Box<dyn StreamParser>,
    mut progress: impl FnMut(Usage, Duration),
    cancel: CancellationToken,
) -> Result<RoundResult, SandboxError> {
    let log_path = round.run_dir.join(super::logs::LOG_FILE);
    let idle = round.idle;
    let spec = sandbox_spec(sandbox, round).await?;
    let (tx, mut rx) = mpsc::channel(1024);
    let log = CappedLog::create(&log_path)
        .await
        .map_err(|e| SandboxError::Other(anyhow::anyhow!("creating the run log: {e}")))?;
    let started = Instant::now();
    // Stopping for silence is this round's own decision; a stop from outside cancels it too.
    let silenced = cancel.child_token();
    let run = sandbox.run(spec, tx, silenced.clone());
    tokio::pin!(run);
    let mut output = Output {
        log,
        parser,
        stderr_tail: String::new(),
        last_usage: Usage::default(),
    };
    let mut last_output = tokio::time::Instant::now();
    let mut stalled = false;
    let mut open = true;
    let exit = loop {
        tokio::select! {
            line = rx.recv(), if open => {
                let Some(line) = line else {
                    open = false;
                    continue;
                };
                last_output = tokio::time::Instant::now();
                output.take(line, |usage| progress(usage, started.elapsed())).await;
            }
            _ = tokio::time::sleep_until(last_output + idle), if !stalled => {
                tracing::warn!(idle_secs = idle.as_secs(), "the agent printed nothing for too long; stopping it");
                stalled = true;
                silenced.cancel();
            }
            exit = &mut run => break exit?,
        }
    };
    // Lines still queued after the exit.
    while let Ok(line) = rx.try_recv() {
        output
            .take(line, |usage| progress(usage, started.elapsed()))
            .await;
    }
    Ok(RoundResult {
        outcome: output.finish(&exit).await,
        exit,
        log: log_path,
        stalled,
    })
}

/// The container of the round: the prompt written into its read-only input folder, and the
/// CLI's script with its environment (the prompt's path among it).
async fn sandbox_spec(
    sandbox: &dyn Sandbox,
    round: AgentRound<'_>,
) -> Result<SandboxSpec, SandboxError> {
    let input_dir = round.run_dir.join("input");
    prepare_inputs(&input_dir, round.prompt)
        .await
        .map_err(|e| SandboxError::Other(anyhow::anyhow!("writing the prompt: {e}")))?;
    let mut env = round.command.env.clone();
    env.extend(round.env);
    let prompt_path = if sandbox.isolated() {
        format!("{INPUTS_MOUNT}/prompt.md")
    } else {
        input_dir.join("prompt.md").display().to_string()
    };
    env.push((PROMPT_FILE_ENV.to_string(), prompt_path));
    Ok(SandboxSpec {
        task_id: round.task_id,
        role: Role::Agent,
        name_hint: format!("task-{}-agent-r{}", round.task_id, round.round),
        image: round.image.to_string(),
        workspace: round.workspace.to_path_buf(),
        inputs: Some(input_dir),
        script: round.command.script.clone(),
        env,
        network: round.network,
        doors: round.doors,
        limits: round.limits,
        deadline: round.deadline,
        user: round.user,
        mounts: round.mounts,
    })
}

/// Where the agent's output lines go: the run log (stderr marked), the stream parser (stdout),
/// and the stderr tail the parser gets at the end.
struct Output {
    log: CappedLog,
    parser: Box<dyn StreamParser>,
    stderr_tail: String,
    last_usage: Usage,
}

impl Output {
    /// Flushes the log and lets the parser conclude from everything it read and the exit.
    async fn finish(self, exit: &SandboxExit) -> Outcome {
        let Output {
            log,
            parser,
            stderr_tail,
            ..
        } = self;
        log.finish().await;
        parser.finish(&ExitInfo {
            code: exit.code,
            stderr_tail,
            timed_out: exit.timed_out,
            oom_killed: exit.oom_killed,
        })
    }

    /// Takes one line; `progress` hears the running usage totals when they change.
    async fn take(&mut self, line: OutputLine, mut progress: impl FnMut(Usage)) {
        let prefix = match line.stream {
            Stream::Stdout => "",
            Stream::Stderr => "[stderr] ",
        };
        self.log.line(format!("{prefix}{}", line.text)).await;
        match line.stream {
            Stream::Stdout => {
                for event in self.parser.line(&line.text) {
                    if let AgentEvent::Usage(usage) = event {
                        if usage != self.last_usage {
                            self.last_usage = usage;
                            progress(usage);
                        }
                    }
                }
            }
            Stream::Stderr => keep_tail(&mut self.stderr_tail, &line.text),
        }
    }
}

/// The input folder is mounted read-only in the container; it must be readable by the
/// sandbox user, who is not the host user.
async fn prepare_inputs(dir: &Path, prompt: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(dir).await?;
    let file = dir.join("prompt.md");
    tokio::fs::write(&file, prompt).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).await?;
    tokio::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).await
}

pub(crate) fn keep_tail(tail: &mut String, line: &str) {
    tail.push_str(line);
    tail.push('\n');
    if tail.len() > STDERR_TAIL_BYTES {
        let mut cut = tail.len() - STDERR_TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}
