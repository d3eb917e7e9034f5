//! The peer of `labels`: `peer/receiver.py`, an aiohttp server that checks each delivery with
//! gidgethub and stores nothing, run from a venv this module makes once under
//! `~/.cache/bosun-bench/peer-venv` (from PyPI, the versions pinned below). Owned by a guard
//! that kills it when dropped.

use crate::payloads::workspace_root;
use anyhow::Context;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the venv holds; a change here makes a new venv.
const PACKAGES: &[&str] = &["aiohttp==3.14.5", "gidgethub==6.0.0"];
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Peer {
    child: Child,
    addr: SocketAddr,
    pub describe: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let dir = PathBuf::from(home).join(".cache/bosun-bench").join(format!(
        "peer-venv-{}",
        PACKAGES.join("-").replace(['=', '.'], "")
    ));
    let python = dir.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    println!("peer      making its venv (once): {}", dir.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .context("python3 -m venv (the peer needs Python 3 with venv)")?;
    anyhow::ensure!(status.success(), "python3 -m venv failed");
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(PACKAGES)
        .status()
        .context("pip install")?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        anyhow::bail!("pip install {} failed", PACKAGES.join(" "));
    }
    Ok(python)
}

impl Peer {
    pub async fn start(secret: &str) -> anyhow::Result<Peer> {
        let python = venv()?;
        let port = crate::server::free_port()?;
        let script = workspace_root().join("crates/bosun-bench/peer/receiver.py");
        let child = Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .env("PEER_WEBHOOK_SECRET", secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let peer = Peer {
            child,
            addr,
            describe: format!(
                "aiohttp + gidgethub ({}), one Python {} process, stores nothing",
                PACKAGES.join(", "),
                python_version(&python)
            ),
        };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            anyhow::ensure!(
                started.elapsed() < START_TIMEOUT,
                "the peer did not listen on {addr} within {} s",
                START_TIMEOUT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(peer)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn python_version(python: &PathBuf) -> String {
    Command::new(python)
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}
