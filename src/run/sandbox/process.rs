//! The unsandboxed backend: the script runs as a plain child process on the host, for trusted
//! single-user setups without Docker. It isolates nothing — no network, filesystem or resource
//! limits — and says so in the log on every run.
//!
//! What it does keep: a cleared environment (PATH, a fresh HOME and the spec's variables only,
//! so the server's secrets are not inherited), the deadline and cancellation (applied to the
//! script's whole process group, so background children die too), and — when bosun runs as
//! root — the spec's unprivileged user.

use super::lines::LineSink;
use super::process_group::{signal_group, GroupGuard};
use super::spec_check::check_spec;
use super::waiting::{alongside, Ending};
use super::{
    OutputLine, Sandbox, SandboxError, SandboxExit, SandboxSpec, Stream, INPUT_DIR_ENV, STOP_GRACE,
};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// PATH for scripts when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Runs specs as host processes. `image`, `network` and `limits` are ignored.
#[derive(Debug, Clone)]
pub struct ProcessSandbox {
    path: String,
}

impl ProcessSandbox {
    /// A sandbox whose scripts get the server's PATH.
    pub fn new() -> Self {
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
        ProcessSandbox { path }
    }

    async fn run_process(
        &self,
        spec: SandboxSpec,
        lines: mpsc::Sender<OutputLine>,
        cancel: CancellationToken,
    ) -> Result<SandboxExit, SandboxError> {
        check_spec(&spec)?;
        if !spec.mounts.is_empty() {
            return Err(SandboxError::Refused(
                "the process sandbox mounts nothing: environment snapshots need Docker".into(),
            ));
        }
        // `spec.doors` needs nothing here: the process runs on the host, where the proxies
        // listen at the same loopback addresses the doors give a container.
        tracing::warn!("process sandbox: agent runs unsandboxed on the host");
        if cancel.is_cancelled() {
            return Ok(not_started());
        }
        let as_user = running_as_root().then_some(spec.user);
        let home = TempHome::create(as_user)?;
        let mut command = self.command(&spec, home.path());
        if let Some((uid, gid)) = as_user {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().map_err(|e| {
            SandboxError::Other(anyhow::Error::new(e).context("process sandbox: spawn /bin/sh"))
        })?;
        let started = Instant::now();
        let Some(pgid) = child.id() else {
            return Err(SandboxError::Other(anyhow::anyhow!(
                "process sandbox: the child exited before its id was read"
            )));
        };
        let mut group = GroupGuard::new(pgid);
        let pump = pump_pipes(child.stdout.take(), child.stderr.take(), lines);
        let waiter = async {
            let result = wait_for_end(&mut child, pgid, spec.deadline, &cancel).await;
            // The script is done: what it left running in the background goes too, or it would
            // hold the output pipes open (and outlive the run).
            group.kill_rest();
            result
        };
        let (status, ending) = alongside(waiter, pump).await?;
        Ok(SandboxExit {
            code: exit_code(status),
            oom_killed: false,
            timed_out: ending == Ending::TimedOut,
            cancelled: ending == Ending::Cancelled,
            duration: started.elapsed(),
        })
    }

    fn command(&self, spec: &SandboxSpec, home: &Path) -> Command {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&spec.script)
            .current_dir(&spec.workspace)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", home);
        if let Some(inputs) = &spec.inputs {
            command.env(INPUT_DIR_ENV, inputs);
        }
        command
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

impl Default for ProcessSandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox for ProcessSandbox {
    fn name(&self) -> &'static str {
        "process"
    }

    fn isolated(&self) -> bool {
        false
    }

    fn run(
        &self,
        spec: SandboxSpec,
        lines: mpsc::Sender<OutputLine>,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<SandboxExit, SandboxError>> {
        let span = tracing::info_span!(
            "sandbox",
            backend = "process",
            task = spec.task_id,
            role = %spec.role,
        );
        self.run_process(spec, lines, cancel)
            .instrument(span)
            .boxed()
    }

    /// Children die with their process group (and with the server), so nothing is left over.
    fn reap_orphans(&self) -> BoxFuture<'_, Result<usize, SandboxError>> {
        async { Ok(0) }.boxed()
    }

    /// `/bin/sh` is all this backend needs; the image is ignored.
    fn check(&self, _image: &str) -> BoxFuture<'_, Result<(), SandboxError>> {
        async {
            if Path::new("/bin/sh").exists() {
                Ok(())
            } else {
                Err(SandboxError::Unavailable("/bin/sh not found".to_string()))
            }
        }
        .boxed()
    }
}

fn not_started() -> SandboxExit {
    SandboxExit {
        code: None,
        oom_killed: false,
        timed_out: false,
        cancelled: true,
        duration: Duration::ZERO,
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The exit code, or 128 + N for a death by signal N (as a shell and Docker report it).
fn exit_code(status: ExitStatus) -> Option<i64> {
    status
        .code()
        .map(i64::from)
        .or_else(|| status.signal().map(|s| 128 + i64::from(s)))
}

/// Waits for the script to exit, the deadline or cancellation. The latter two send SIGTERM to
/// the group, then SIGKILL after [`STOP_GRACE`].
async fn wait_for_end(
    child: &mut Child,
    pgid: u32,
    deadline: Duration,
    cancel: &CancellationToken,
) -> Result<(ExitStatus, Ending), SandboxError> {
    let wait_error =
        |e: std::io::Error| SandboxError::Other(anyhow::Error::new(e).context("process sandbox"));
    let ending = tokio::select! {
        biased;
        status = child.wait() => return status.map(|s| (s, Ending::Exited)).map_err(wait_error),
        () = cancel.cancelled() => Ending::Cancelled,
        () = tokio::time::sleep(deadline) => Ending::TimedOut,
    };
    tracing::info!(?ending, "stopping sandbox process group");
    signal_group(pgid, libc::SIGTERM);
    let status = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(pgid, libc::SIGKILL);
            child.wait().await
        }
    };
    status.map(|s| (s, ending)).map_err(wait_error)
}

/// Reads both pipes until both close, line by line into `lines`.
async fn pump_pipes(
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
    lines: mpsc::Sender<OutputLine>,
) {
    let mut sink = LineSink::new(lines);
    let (mut out, mut err) = (stdout, stderr);
    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    while out.is_some() || err.is_some() {
        tokio::select! {
            read = read_some(&mut out, &mut out_buf), if out.is_some() => match read {
                Some(n) => sink.push(Stream::Stdout, &out_buf[..n]).await,
                None => out = None,
            },
            read = read_some(&mut err, &mut err_buf), if err.is_some() => match read {
                Some(n) => sink.push(Stream::Stderr, &err_buf[..n]).await,
                None => err = None,
            },
        }
    }
    sink.finish().await;
}

/// One read; None at end of file, on an error, or without a pipe.
async fn read_some(pipe: &mut Option<impl AsyncRead + Unpin>, buf: &mut [u8]) -> Option<usize> {
    let pipe = pipe.as_mut()?;
    match pipe.read(buf).await {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "reading sandbox process output failed");
            None
        }
    }
}

/// A fresh, private HOME for one run, removed afterwards, so a script neither reads the server's
/// dotfiles (credentials) nor leaves its own behind.
struct TempHome {
    path: PathBuf,
}

impl TempHome {
    fn create(owner: Option<(u32, u32)>) -> Result<Self, SandboxError> {
        use std::os::unix::fs::DirBuilderExt;
        let path =
            std::env::temp_dir().join(format!("bosun-home-{}", super::naming::random_suffix()));
        let fail = |e: std::io::Error| {
            SandboxError::Other(anyhow::Error::new(e).context("process sandbox: create HOME"))
        };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(fail)?;
        let home = TempHome { path };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&home.path, Some(uid), Some(gid)).map_err(fail)?;
        }
        Ok(home)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            let path = self.path.display();
            tracing::warn!(%path, error = %e, "could not remove sandbox HOME");
        }
    }
}
