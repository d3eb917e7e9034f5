//! The `docker:` section of the run configuration: which engine the Docker sandbox uses and how
//! a checkout reaches it. `BOSUN_DOCKER_HOST`, `BOSUN_DOCKER_TLS_DIR` and
//! `BOSUN_DOCKER_WORKSPACE` override the keys; `BOSUN_DOCKER_TLS_CA`, `BOSUN_DOCKER_TLS_CERT`
//! and `BOSUN_DOCKER_TLS_KEY` give the TLS files' contents instead of a directory (on Fly.io,
//! where they are secrets).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::engine::{Engine, TlsPem, Transfer};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// `unix:///var/run/docker.sock` or `tcp://host:2376`; empty: the local engine
    /// (`DOCKER_HOST` when it names a unix socket, else `/var/run/docker.sock`).
    pub host: Option<String>,
    /// For a `tcp://` engine: a directory with the client's `cert.pem` and `key.pem` and the
    /// engine's `ca.pem`. Required unless the engine is on loopback.
    pub tls_dir: Option<PathBuf>,
    /// `auto` (default: `bind` for an engine on this host, `copy` for another host's), `bind`
    /// or `copy`.
    pub workspace: WorkspaceTransfer,
    /// When a run's image is pulled: `missing` (default: when the engine does not have it),
    /// `always` (before every run that uses it), `never` (the operator builds or loads every
    /// image; a missing one fails the task saying so).
    pub pull: PullPolicy,
    /// How long one pull may take before the task fails saying so (default 20).
    pub pull_timeout_minutes: Option<u32>,
    /// From the `BOSUN_DOCKER_TLS_*` variables only: never read from or written to a file.
    #[serde(skip)]
    pub tls_pem: Option<TlsPem>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceTransfer {
    #[default]
    Auto,
    Bind,
    Copy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    #[default]
    Missing,
    Always,
    Never,
}

impl DockerConfig {
    pub fn pull_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.pull_timeout_minutes.unwrap_or(20)) * 60)
    }

    /// The engine this section describes.
    pub fn engine(&self) -> Engine {
        let mut engine = Engine {
            host: self.host.clone().filter(|h| !h.trim().is_empty()),
            tls_dir: self.tls_dir.clone(),
            tls_pem: self.tls_pem.clone(),
            transfer: Transfer::Bind,
        };
        engine.transfer = match self.workspace {
            WorkspaceTransfer::Bind => Transfer::Bind,
            WorkspaceTransfer::Copy => Transfer::Copy,
            WorkspaceTransfer::Auto if engine.is_local() => Transfer::Bind,
            WorkspaceTransfer::Auto => Transfer::Copy,
        };
        engine
    }

    /// Applies the `BOSUN_DOCKER_*` variables.
    pub fn apply_env(&mut self) -> anyhow::Result<()> {
        if let Ok(host) = std::env::var("BOSUN_DOCKER_HOST") {
            self.host = Some(host);
        }
        if let Ok(dir) = std::env::var("BOSUN_DOCKER_TLS_DIR") {
            self.tls_dir = Some(dir.into());
        }
        let pem = ["CA", "CERT", "KEY"]
            .map(|part| std::env::var(format!("BOSUN_DOCKER_TLS_{part}")).ok());
        match pem {
            [Some(ca), Some(cert), Some(key)] => self.tls_pem = Some(TlsPem { ca, cert, key }),
            [None, None, None] => {}
            _ => anyhow::bail!(
                "set all three of BOSUN_DOCKER_TLS_CA, BOSUN_DOCKER_TLS_CERT and \
                 BOSUN_DOCKER_TLS_KEY, or none"
            ),
        }
        if let Ok(mode) = std::env::var("BOSUN_DOCKER_WORKSPACE") {
            self.workspace = match mode.as_str() {
                "auto" => WorkspaceTransfer::Auto,
                "bind" => WorkspaceTransfer::Bind,
                "copy" => WorkspaceTransfer::Copy,
                other => {
                    anyhow::bail!(
                        "BOSUN_DOCKER_WORKSPACE must be auto, bind or copy, not {other:?}"
                    )
                }
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> DockerConfig {
        serde_yaml_ng::from_str(yaml).expect("docker section")
    }

    #[test]
    fn the_default_is_the_local_engine_with_mounted_checkouts() {
        assert_eq!(DockerConfig::default().engine(), Engine::local());
    }

    #[test]
    fn another_hosts_engine_gets_copied_checkouts_unless_told() {
        let remote = parse("host: tcp://agents.example.net:2376\ntls_dir: /certs\n");
        let engine = remote.engine();
        assert_eq!(engine.transfer, Transfer::Copy);
        assert_eq!(
            engine.tls_dir.as_deref(),
            Some(std::path::Path::new("/certs"))
        );
        let loopback = parse("host: tcp://127.0.0.1:2375\n");
        assert_eq!(loopback.engine().transfer, Transfer::Bind);
        let forced = parse("host: tcp://127.0.0.1:2375\nworkspace: copy\n");
        assert_eq!(forced.engine().transfer, Transfer::Copy);
    }

    #[test]
    fn unknown_keys_and_modes_are_errors() {
        assert!(serde_yaml_ng::from_str::<DockerConfig>("hots: x\n").is_err());
        assert!(serde_yaml_ng::from_str::<DockerConfig>("workspace: rsync\n").is_err());
        assert!(serde_yaml_ng::from_str::<DockerConfig>("pull: sometimes\n").is_err());
    }

    #[test]
    fn images_are_pulled_when_missing_unless_told() {
        assert_eq!(DockerConfig::default().pull, PullPolicy::Missing);
        assert_eq!(parse("pull: never\n").pull, PullPolicy::Never);
        assert_eq!(parse("pull: always\n").pull, PullPolicy::Always);
        assert_eq!(DockerConfig::default().pull_timeout().as_secs(), 20 * 60);
        assert_eq!(
            parse("pull_timeout_minutes: 5\n").pull_timeout().as_secs(),
            300
        );
    }
}
