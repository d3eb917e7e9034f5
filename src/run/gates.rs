//! The repository's gates: each command runs in a fresh container on the checkout, with the
//! network off, after the agent exited. Their verdicts decide between another round, a pull
//! request, or a task that needs review.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::agent_round::keep_tail;
use super::sandbox::{Limits, Role, Sandbox, SandboxError, SandboxSpec};
use bosun_core::repo_config::Gate;

use bosun_core::gate::GateResult;

pub struct GateRun<'a> {
    pub task_id: u64,
    pub round: u32,
    pub image: &'a str,
    pub workspace: &'a Path,
    pub limits: Limits,
    pub deadline: Duration,
    pub user: (u32, u32),
    /// The door to the egress proxy (its variables in `env`), when the run has one.
    pub doors: Option<super::sandbox::Doors>,
    pub env: Vec<(String, String)>,
    /// An environment snapshot's paths: writable for the set-up building it, else read-only.
    pub mounts: Vec<super::sandbox::ExtraMount>,
}

/// Runs every gate (all of them, even after one failed, so one round reports everything that
/// is wrong).
pub async fn run_gates(
    sandbox: &dyn Sandbox,
    gates: &[Gate],
    run: &GateRun<'_>,
    cancel: &CancellationToken,
) -> Result<Vec<GateResult>, SandboxError> {
    let mut results = Vec::with_capacity(gates.len());
    for (index, gate) in gates.iter().enumerate() {
        let hint = format!("task-{}-gate{}-r{}", run.task_id, index + 1, run.round);
        results.push(run_one(sandbox, gate, hint, run, cancel).await?);
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(results)
}

/// Runs the repository's set-up commands in order, each in a fresh container on the
/// checkout, until one fails: what follows a failed step would only fail too.
pub async fn run_setup(
    sandbox: &dyn Sandbox,
    commands: &[String],
    run: &GateRun<'_>,
    cancel: &CancellationToken,
) -> Result<Vec<GateResult>, SandboxError> {
    let mut results = Vec::with_capacity(commands.len());
    for (index, command) in commands.iter().enumerate() {
        // Named by the command itself: that is what a maintainer finds in their file.
        let first_line = command.lines().next().unwrap_or_default().trim();
        let name = match first_line.char_indices().nth(60) {
            Some((cut, _)) => format!("{}…", &first_line[..cut]),
            None => first_line.to_string(),
        };
        let step = Gate {
            name,
            run: command.clone(),
        };
        let hint = format!("task-{}-setup{}", run.task_id, index + 1);
        let result = run_one(sandbox, &step, hint, run, cancel).await?;
        let ok = result.ok;
        results.push(result);
        if !ok || cancel.is_cancelled() {
            break;
        }
    }
    Ok(results)
}

/// One command in a fresh container on the checkout: its verdict and the end of its output.
async fn run_one(
    sandbox: &dyn Sandbox,
    gate: &Gate,
    name_hint: String,
    run: &GateRun<'_>,
    cancel: &CancellationToken,
) -> Result<GateResult, SandboxError> {
    let spec = SandboxSpec {
        task_id: run.task_id,
        role: Role::Gate,
        name_hint,
        image: run.image.to_string(),
        workspace: run.workspace.to_path_buf(),
        inputs: None,
        script: gate.run.clone(),
        env: [("CI".to_string(), "true".to_string())]
            .into_iter()
            .chain(run.env.iter().cloned())
            .collect(),
        network: false,
        doors: run.doors.clone(),
        limits: run.limits.clone(),
        deadline: run.deadline,
        user: run.user,
        mounts: run.mounts.clone(),
    };
    let (tx, mut rx) = mpsc::channel::<super::sandbox::OutputLine>(1024);
    let collect = tokio::spawn(async move {
        let mut tail = String::new();
        while let Some(line) = rx.recv().await {
            keep_tail(&mut tail, &line.text);
        }
        tail
    });
    let exit = sandbox.run(spec, tx, cancel.clone()).await?;
    let output_tail = collect.await.unwrap_or_default();
    Ok(GateResult {
        name: gate.name.clone(),
        command: gate.run.clone(),
        ok: exit.success(),
        exit_code: exit.code,
        timed_out: exit.timed_out,
        duration: exit.duration,
        output_tail,
    })
}
