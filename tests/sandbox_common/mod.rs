//! Shared helpers of the sandbox tests (tests/sandbox_docker.rs and tests/sandbox_process.rs).
#![allow(dead_code)]

use bosun::run::sandbox::{
    Limits, OutputLine, Role, Sandbox, SandboxError, SandboxExit, SandboxSpec, Stream,
};
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Hard limit of one test: a hang fails instead of blocking CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("test exceeded its hard timeout")
}

/// A workspace the test user (1000:1000) can write to.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    give_to_test_user(dir.path());
    dir
}

pub fn give_to_test_user(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::os::unix::fs::chown(path, Some(1000), Some(1000)).is_err() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
}

pub fn spec(image: &str, workspace: &Path, script: &str) -> SandboxSpec {
    SandboxSpec {
        task_id: 42,
        role: Role::Gate,
        name_hint: "task-42-test".into(),
        image: image.into(),
        workspace: workspace.to_path_buf(),
        inputs: None,
        script: script.into(),
        env: vec![],
        network: false,
        doors: None,
        limits: Limits {
            memory_bytes: 256 << 20,
            nano_cpus: 1_000_000_000,
            pids: 128,
            tmpfs_bytes: 64 << 20,
        },
        deadline: Duration::from_secs(60),
        user: (1000, 1000),
        mounts: Vec::new(),
    }
}

/// Runs `spec` and collects every line.
pub async fn run(
    sandbox: &dyn Sandbox,
    spec: SandboxSpec,
) -> (Result<SandboxExit, SandboxError>, Vec<OutputLine>) {
    run_with(sandbox, spec, CancellationToken::new()).await
}

pub async fn run_with(
    sandbox: &dyn Sandbox,
    spec: SandboxSpec,
    cancel: CancellationToken,
) -> (Result<SandboxExit, SandboxError>, Vec<OutputLine>) {
    let (tx, mut rx) = mpsc::channel(64);
    let collect = async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        lines
    };
    tokio::join!(sandbox.run(spec, tx, cancel), collect)
}

/// Runs `spec`, cancelling it once a line `trigger` appears; returns the lines seen.
pub async fn run_cancel_on(
    sandbox: &dyn Sandbox,
    spec: SandboxSpec,
    trigger: &str,
) -> (Result<SandboxExit, SandboxError>, Vec<OutputLine>) {
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<OutputLine>(64);
    let token = cancel.clone();
    let trigger = trigger.to_string();
    let collect = async move {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            if line.text == trigger {
                token.cancel();
            }
            lines.push(line);
        }
        lines
    };
    tokio::join!(sandbox.run(spec, tx, cancel), collect)
}

pub fn texts(lines: &[OutputLine], stream: Stream) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l.stream == stream)
        .map(|l| l.text.as_str())
        .collect()
}

pub fn stdout(lines: &[OutputLine]) -> Vec<&str> {
    texts(lines, Stream::Stdout)
}
