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
    /// The egress proxy's network and variables, when the run has a way out.
    pub network: Option<String>,
    pub env: Vec<(String, String)>,
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
        let spec = SandboxSpec {
            task_id: run.task_id,
            role: Role::Gate,
            name_hint: format!("task-{}-gate{}-r{}", run.task_id, index + 1, run.round),
            image: run.image.to_string(),
            workspace: run.workspace.to_path_buf(),
            inputs: None,
            script: gate.run.clone(),
            env: [("CI".to_string(), "true".to_string())]
                .into_iter()
                .chain(run.env.iter().cloned())
                .collect(),
            network: false,
            private_network: run.network.clone(),
            limits: run.limits.clone(),
            deadline: run.deadline,
            user: run.user,
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
        results.push(GateResult {
            name: gate.name.clone(),
            command: gate.run.clone(),
            ok: exit.success(),
            exit_code: exit.code,
            timed_out: exit.timed_out,
            duration: exit.duration,
            output_tail,
        });
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(results)
}
