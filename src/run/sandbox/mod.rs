//! Where agent and gate commands run: a trait with two backends.
//!
//! The run pipeline hands a [`SandboxSpec`] (a checkout directory, an image, a script) to a
//! [`Sandbox`] and gets the output lines as they arrive plus one [`SandboxExit`]. The backend is
//! chosen by configuration at run time, so the trait is object safe (`Box<dyn Sandbox>`) and
//! returns boxed futures.
//!
//! - [`DockerSandbox`] is the default: a hardened container per run (trust rule 4 in
//!   DESIGN.md: non-root, no capabilities, no-new-privileges, read-only root with tmpfs,
//!   pids/memory/CPU limits, deadline, network off unless asked, labels for orphan reaping).
//! - [`ProcessSandbox`] runs the script as a plain host process for trusted single-user setups
//!   without Docker, and says loudly that it isolates nothing.
//!
//! Nothing here assumes more of the host than a workspace directory going in and the same
//! directory (changed) coming out: the Docker backend also drives an engine on another host
//! (see [`Engine`]), copying the checkout in and back, and a Kubernetes backend fits the same
//! trait.

mod docker;
mod docker_config;
mod docker_copy;
mod docker_errors;
mod docker_guard;
mod docker_output;
mod engine;
mod lines;
mod naming;
mod process;
mod process_group;
mod spec_check;
mod waiting;
mod workspace_tar;

use futures_util::future::BoxFuture;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use self::docker::DockerSandbox;
pub use self::lines::MAX_LINE_BYTES;
pub use self::process::ProcessSandbox;

/// Where the workspace is mounted inside a container (read-write, and the working directory).
pub const WORKSPACE_MOUNT: &str = "/workspace";
/// Where the read-only inputs directory is mounted inside a container.
pub const INPUTS_MOUNT: &str = "/bosun/input";
/// The home directory inside a container: a tmpfs owned by the run's user.
pub const HOME_DIR: &str = "/home/bosun";
/// The variable naming the inputs directory, set by both backends so scripts need not know
/// which one runs them.
pub const INPUT_DIR_ENV: &str = "BOSUN_INPUT_DIR";

/// Container labels. `bosun.instance` scopes orphan reaping to one bosun server, so two servers
/// sharing an engine never remove each other's containers.
pub const LABEL_TASK: &str = "bosun.task";
pub const LABEL_ROLE: &str = "bosun.role";
pub const LABEL_INSTANCE: &str = "bosun.instance";

/// How long a stopped run gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a run is for; goes into the `bosun.role` label and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A coding agent working on the task.
    Agent,
    /// One of the repository's own test or lint commands.
    Gate,
}

impl Role {
    /// The label value: `agent` or `gate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Gate => "gate",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resource limits of one run. Every field must be positive: an unlimited run is refused, since
/// one runaway agent must not starve the host or the other tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Memory in bytes; swap is disabled (memory_swap = memory).
    pub memory_bytes: i64,
    /// CPU quota in billionths of a CPU (2_000_000_000 = two CPUs).
    pub nano_cpus: i64,
    /// Maximum number of processes and threads.
    pub pids: i64,
    /// Size of each tmpfs (`/tmp` and the home directory). tmpfs pages count against
    /// `memory_bytes` too.
    pub tmpfs_bytes: i64,
}

impl Default for Limits {
    /// 4 GiB, 2 CPUs, 512 pids, 1 GiB per tmpfs: room for a compiler and a test suite.
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
            nano_cpus: 2_000_000_000,
            pids: 512,
            tmpfs_bytes: 1 << 30,
        }
    }
}

/// Everything a backend needs to run one script. Its `Debug` output names the environment
/// variables but not their values, which may hold a run-scoped key.
#[derive(Clone)]
pub struct SandboxSpec {
    pub task_id: u64,
    pub role: Role,
    /// Part of the container name (e.g. `task-7-agent-r2`); a random suffix is added.
    pub name_hint: String,
    pub image: String,
    /// Host directory mounted read-write at [`WORKSPACE_MOUNT`]: the only writable mount
    /// besides tmpfs. Must exist, be absolute, and be writable by `user`.
    pub workspace: PathBuf,
    /// Host directory mounted read-only at [`INPUTS_MOUNT`] (prompt, agent settings).
    pub inputs: Option<PathBuf>,
    /// Run as `["/bin/sh", "-c", script]` in the workspace.
    pub script: String,
    pub env: Vec<(String, String)>,
    /// false → no network at all (`network_mode: none`): the container reaches bosun's
    /// proxies through `doors` only.
    pub network: bool,
    /// The host's proxies this container may reach (metering, egress), each at a loopback
    /// port inside it; `None` or none open: nothing.
    pub doors: Option<Doors>,
    pub limits: Limits,
    /// Wall-clock limit from the start of the script.
    pub deadline: Duration,
    /// (uid, gid) the script runs as; neither may be 0.
    pub user: (u32, u32),
    /// Host directories mounted besides the checkout: an environment snapshot's paths (see
    /// `run::environment`). Only the Docker backend on this host's engine mounts them.
    pub mounts: Vec<ExtraMount>,
}

/// Where the host's door folder (its proxies' Unix sockets and the relay) is mounted, read-only.
pub const DOORS_MOUNT: &str = "/run/bosun";

/// The proxies a container reaches without a network: a folder on the host holding one Unix
/// socket per proxy and the static relay (`crates/sandbox-relay`), which the container's
/// command is wrapped in. The relay listens on `127.0.0.1:<port>` inside the container for each
/// door and forwards to its socket; so a container with `network_mode: none` finds a proxy at
/// the same `http://127.0.0.1:<port>` address the host uses, and nothing else of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doors {
    /// The host folder, mounted at [`DOORS_MOUNT`].
    pub dir: PathBuf,
    pub open: Vec<Door>,
}

/// One proxy: the loopback port it is found at, and its socket's file name in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    pub port: u16,
    pub socket: String,
}

impl Doors {
    /// The relay's file name in the folder.
    pub const RELAY: &'static str = "relay";

    /// `command` wrapped in the relay, with one `PORT=SOCKET` pair per door (the command as it
    /// is when no door is open).
    pub fn wrap(&self, command: Vec<String>) -> Vec<String> {
        if self.open.is_empty() {
            return command;
        }
        let mut wrapped = vec![format!("{DOORS_MOUNT}/{}", Self::RELAY)];
        wrapped.extend(
            self.open
                .iter()
                .map(|d| format!("{}={DOORS_MOUNT}/{}", d.port, d.socket)),
        );
        wrapped.push("--".into());
        wrapped.extend(command);
        wrapped
    }
}

/// A host directory mounted into the container at a path under the workspace or the home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraMount {
    pub source: PathBuf,
    pub target: String,
    pub writable: bool,
}

impl std::fmt::Debug for SandboxSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SandboxSpec")
            .field("task_id", &self.task_id)
            .field("role", &self.role)
            .field("name_hint", &self.name_hint)
            .field("image", &self.image)
            .field("workspace", &self.workspace)
            .field("inputs", &self.inputs)
            .field("script", &self.script)
            .field("env", &env_names)
            .field("network", &self.network)
            .field("doors", &self.doors)
            .field("limits", &self.limits)
            .field("deadline", &self.deadline)
            .field("user", &self.user)
            .finish()
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of output, without its `\n` (and without a trailing `\r`). Invalid UTF-8 is
/// replaced; a line longer than [`MAX_LINE_BYTES`] arrives in several pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxExit {
    /// Exit code of the script; a process killed by signal N reports 128 + N (shell and Docker
    /// convention). None when the run never started (cancelled before start) or the engine did
    /// not report one.
    pub code: Option<i64>,
    /// The kernel's OOM killer fired inside the run (memory limit reached).
    pub oom_killed: bool,
    /// The deadline passed and the run was stopped.
    pub timed_out: bool,
    /// The cancellation token fired and the run was stopped.
    pub cancelled: bool,
    /// Wall-clock time from start to exit.
    pub duration: Duration,
}

impl SandboxExit {
    /// True when the script ran to completion with exit code 0 and nothing stopped it.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.oom_killed && !self.timed_out && !self.cancelled
    }
}

/// Why a run could not happen (a script that fails is not an error: see [`SandboxExit`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The image is not present on the engine (the pipeline pulls it first when the server's
    /// `docker.pull` allows).
    #[error(
        "sandbox image {image} is not present on the container engine (build or load it first)"
    )]
    ImageMissing { image: String },
    /// The image could not be pulled (no such image, registry unreachable or refusing, the
    /// pull's time limit): retrying as it is will not help.
    #[error("pulling the image {image} failed: {why}")]
    PullFailed { image: String, why: String },
    /// The engine is not reachable (daemon down, socket missing): the caller keeps the task
    /// queued and tries again later.
    #[error("sandbox backend unavailable: {0}")]
    Unavailable(String),
    /// The spec breaks a rule (uid 0, missing workspace, no limits…); retrying will not help.
    #[error("sandbox spec refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Other(anyhow::Error),
}

/// A place to run scripts. See the module documentation for the backends.
pub trait Sandbox: Send + Sync {
    /// `"docker"` or `"process"`.
    fn name(&self) -> &'static str;

    /// Whether runs are isolated from the host (false for the process backend).
    fn isolated(&self) -> bool;

    /// Runs the script to completion, the deadline or cancellation; sends each output line
    /// (stdout and stderr, split on `\n`, lossy UTF-8, lines capped at 64 KiB) to `lines` as it
    /// arrives. A closed `lines` receiver does not stop the run. Whatever the backend created is
    /// removed before this returns, also on errors and when the future is dropped.
    fn run(
        &self,
        spec: SandboxSpec,
        lines: mpsc::Sender<OutputLine>,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<SandboxExit, SandboxError>>;

    /// Called at start-up: finds runs left by an earlier bosun process and removes them;
    /// returns how many.
    fn reap_orphans(&self) -> BoxFuture<'_, Result<usize, SandboxError>>;

    /// Cheap check before a task starts: backend reachable and image present.
    fn check(&self, image: &str) -> BoxFuture<'_, Result<(), SandboxError>>;

    /// Pulls `image` from its registry, for at most `limit`. A backend without images has
    /// nothing to pull.
    fn pull(&self, image: &str, limit: Duration) -> BoxFuture<'_, Result<(), SandboxError>> {
        let _ = (image, limit);
        Box::pin(async { Ok(()) })
    }
}
