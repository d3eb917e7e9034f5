//! Everything a run needs that lives as long as the server: the run configuration, the
//! workspaces, the sandbox backend and who the sandbox runs as.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::sandbox::{DockerSandbox, Limits, ProcessSandbox, Sandbox};
use super::workspace::Workspaces;
use crate::config::run::{RunConfig, SandboxKind};

/// The uid and gid the sandbox runs as when bosun itself runs as root (never root inside).
pub const DEFAULT_SANDBOX_USER: (u32, u32) = (1000, 1000);

pub struct Runner {
    pub config: RunConfig,
    pub workspaces: Workspaces,
    pub sandbox: Arc<dyn Sandbox>,
    /// `<data>/runs/task-<id>/attempt-<n>/round-<r>/`: prompts and agent logs.
    pub runs_dir: PathBuf,
    pub user: (u32, u32),
    pub limits: Limits,
    /// How often the tracking comment shows the agent's progress.
    pub progress_every: Duration,
    /// Whose turn it is among the routable agents when the router cannot answer.
    pub turns: std::sync::atomic::AtomicUsize,
    /// The metering proxy, when `meter.enabled`.
    /// Shared with the tickers that show a round's cost while it runs.
    pub meter: Option<std::sync::Arc<super::meter_host::MeterHost>>,
    /// Runs going per agent vendor (`limits.max_runs_per_vendor`).
    pub vendor_slots: super::vendor_slots::VendorSlots,
    /// Environment snapshots, when the sandbox can mount this host's directories.
    pub environments: Option<super::environment::Environments>,
    /// The egress proxy, when `egress.enabled` and the sandboxes can reach it.
    pub egress: Option<std::sync::Arc<super::egress_host::EgressHost>>,
    /// The folder of sockets containers reach the proxies through: Docker on this host only.
    pub doors: Option<Arc<super::doors::DoorKeeper>>,
}

impl Runner {
    /// Builds the runner the server configuration asks for. The Docker backend connects
    /// lazily: a daemon that is down now fails (and requeues) tasks, not the server's start.
    pub fn new(data_dir: &Path, config: RunConfig) -> anyhow::Result<Runner> {
        let sandbox: Arc<dyn Sandbox> = match config.sandbox {
            SandboxKind::Docker => {
                let engine = config
                    .docker
                    .engine()
                    .write_tls_files(&data_dir.join("docker-tls"))?;
                if engine.transfer == crate::config::engine::Transfer::Copy {
                    tracing::info!(engine = %engine.describe(), "agent runs go to a Docker engine");
                }
                Arc::new(DockerSandbox::on_engine(engine, instance_label(data_dir))?)
            }
            SandboxKind::Process => {
                tracing::warn!(
                    "sandbox backend `process`: agents run UNSANDBOXED on this host, with its \
                     network and files; use it only for trusted single-user setups"
                );
                Arc::new(ProcessSandbox::new())
            }
        };
        Ok(Self::with_sandbox(data_dir, config, sandbox))
    }

    pub fn with_sandbox(data_dir: &Path, config: RunConfig, sandbox: Arc<dyn Sandbox>) -> Runner {
        let limits = Limits {
            memory_bytes: config.limits.memory_mb.max(64) << 20,
            nano_cpus: (config.limits.cpus.max(0.1) * 1e9) as i64,
            pids: config.limits.pids.max(16),
            ..Limits::default()
        };
        // Snapshots are host directories mounted into containers: Docker on this host only.
        let environments = config
            .containers_mount_this_host()
            .then(|| super::environment::Environments::new(data_dir));
        Runner {
            config,
            workspaces: Workspaces::new(data_dir),
            environments,
            sandbox,
            runs_dir: runs_dir(data_dir),
            user: sandbox_user(),
            limits,
            progress_every: Duration::from_secs(10),
            turns: std::sync::atomic::AtomicUsize::new(0),
            meter: None,
            vendor_slots: super::vendor_slots::VendorSlots::default(),
            egress: None,
            doors: None,
        }
    }
}

/// Containers are labelled with this, so that one server reaps only its own orphans: the data
/// directory identifies a bosun installation (by its canonical path, so `./data` on the first
/// start and later ones give the same label: the directory is created first if need be).
pub fn instance_label(data_dir: &Path) -> String {
    use sha2::Digest;
    let _ = std::fs::create_dir_all(data_dir);
    let path = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..8])
}

/// bosun's own uid when it is not root; otherwise an unprivileged default.
fn sandbox_user() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        DEFAULT_SANDBOX_USER
    } else {
        (uid, gid)
    }
}

/// Hands the checkout to the sandbox user (when bosun runs as root and the user differs),
/// without following links.
pub fn give_to(dir: &Path, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    // SAFETY: as above.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            give_to(&entry.path(), (uid, gid))?;
        } else {
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// Where agent runs keep their prompts and logs: `<data>/runs`.
pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// The runs of one attempt of a task: `<runs>/task-<id>/attempt-<n>`, one directory per run
/// inside (`route`, `round-<r>`, reviews).
pub fn attempt_dir(runs_dir: &Path, task: bosun_core::model::TaskId, attempt: u32) -> PathBuf {
    runs_dir
        .join(format!("task-{}", task.0))
        .join(format!("attempt-{attempt}"))
}
