//! Which Docker engine runs the sandbox, and how a run's checkout reaches it: what the
//! configuration says and checks. Connecting to it is the sandbox's (`run::sandbox::engine`).
//!
//! The engine is the local one by default (the unix socket). It may also be another host's,
//! over TCP with mutual TLS: the deploy on Fly.io keeps bosun on a Fly machine and sends agent
//! runs to a Docker engine on a VPS. Such an engine cannot see bosun's disk, so the checkout is
//! copied in before each run and read back after it ([`Transfer::Copy`]); an engine on this
//! host mounts it directly ([`Transfer::Bind`]).

use std::net::IpAddr;
use std::path::PathBuf;

/// How a checkout gets into a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// A bind mount of the host directory: the engine runs on bosun's host.
    Bind,
    /// Uploaded into a volume before the run, read back after it: any engine.
    Copy,
}

/// The engine agent runs go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// `unix:///path/docker.sock` or `tcp://host:port`; `None`: the local default socket.
    pub host: Option<String>,
    /// A directory with `ca.pem`, `cert.pem` and `key.pem` (what `dockerd --tlsverify` asks of
    /// its clients): TLS to a `tcp://` engine.
    pub tls_dir: Option<PathBuf>,
    /// The same three as text (from the environment, e.g. Fly.io secrets), when there is no
    /// directory.
    pub tls_pem: Option<TlsPem>,
    pub transfer: Transfer,
}

/// The engine's CA and the client's certificate and key, PEM-encoded. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsPem {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPem { ca, cert, key: <hidden> }")
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::local()
    }
}

impl Engine {
    /// The local engine, checkouts bind-mounted.
    pub fn local() -> Engine {
        Engine {
            host: None,
            tls_dir: None,
            tls_pem: None,
            transfer: Transfer::Bind,
        }
    }

    fn has_tls(&self) -> bool {
        self.tls_dir.is_some() || self.tls_pem.is_some()
    }

    /// Whether the engine runs on this host: a unix socket, or TCP to a loopback address. Only
    /// such an engine sees bosun's files, the proxies' sockets among them (`run::doors`).
    pub fn is_local(&self) -> bool {
        match self.host.as_deref() {
            None => true,
            Some(host) if host.starts_with("unix://") => true,
            Some(host) => tcp_host(host).is_some_and(is_loopback),
        }
    }

    /// What the logs and `bosun doctor` call this engine.
    pub fn describe(&self) -> String {
        // The local default follows a unix:// DOCKER_HOST (bollard's local defaults do).
        let place = match &self.host {
            Some(host) => host.clone(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| h.starts_with("unix://"))
                .unwrap_or_else(|| "the local socket".to_string()),
        };
        let tls = if self.has_tls() { ", TLS" } else { "" };
        let transfer = match self.transfer {
            Transfer::Bind => "checkouts mounted",
            Transfer::Copy => "checkouts copied in and out",
        };
        format!("{place}{tls}, {transfer}")
    }

    /// Checks the combination before anything connects: `Err` says what to change.
    pub fn check(&self) -> Result<(), String> {
        if let Some(host) = &self.host {
            let tcp = host.starts_with("tcp://");
            if !tcp && !host.starts_with("unix://") {
                return Err(format!(
                    "docker.host {host:?}: use unix:///path/to/docker.sock or tcp://host:port"
                ));
            }
            if tcp && tcp_host(host).is_none() {
                return Err(format!("docker.host {host:?} names no host"));
            }
            if tcp && !self.has_tls() && !self.is_local() {
                return Err(format!(
                    "docker.host {host:?} is reached over the network without TLS: anyone on the \
                     path could run containers as root there. Give docker.tls_dir (ca.pem, \
                     cert.pem, key.pem) and start that engine with --tlsverify"
                ));
            }
            if !tcp && self.has_tls() {
                return Err("docker.tls_dir applies to a tcp:// engine only".to_string());
            }
        }
        if self.transfer == Transfer::Bind && !self.is_local() {
            return Err(format!(
                "docker.workspace is `bind`, but the engine at {} is on another host and cannot \
                 see bosun's files: use `copy` (the default for a remote engine)",
                self.host.as_deref().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Writes TLS files given as text into `dir` (created private to bosun's user; the key
    /// file is 0600, as the App's stored credentials) and points the engine at them: the
    /// Docker client reads them again at each TLS handshake, so they must stay.
    pub fn write_tls_files(mut self, dir: &std::path::Path) -> std::io::Result<Engine> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let Some(pem) = self.tls_pem.take() else {
            return Ok(self);
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for (name, text) in [
            ("ca.pem", &pem.ca),
            ("cert.pem", &pem.cert),
            ("key.pem", &pem.key),
        ] {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(dir.join(name))?;
            std::io::Write::write_all(&mut file, text.as_bytes())?;
        }
        self.tls_dir = Some(dir.to_path_buf());
        Ok(self)
    }
}

/// The host part of `tcp://host:port` (IPv6 in brackets).
fn tcp_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("tcp://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(host: &str, tls: bool, transfer: Transfer) -> Engine {
        Engine {
            host: Some(host.to_string()),
            tls_dir: tls.then(|| PathBuf::from("/certs")),
            tls_pem: None,
            transfer,
        }
    }

    #[test]
    fn local_engines_are_the_socket_and_loopback() {
        assert!(Engine::local().is_local());
        assert!(engine("unix:///run/docker.sock", false, Transfer::Bind).is_local());
        assert!(engine("tcp://127.0.0.1:2375", false, Transfer::Bind).is_local());
        assert!(engine("tcp://[::1]:2375", false, Transfer::Bind).is_local());
        assert!(engine("tcp://localhost:2375", false, Transfer::Bind).is_local());
        assert!(!engine("tcp://agents.example.net:2376", true, Transfer::Copy).is_local());
        assert!(!engine("tcp://10.0.0.5:2376", true, Transfer::Copy).is_local());
    }

    #[test]
    fn a_network_engine_needs_tls_and_copied_checkouts() {
        let plain = engine("tcp://agents.example.net:2375", false, Transfer::Copy);
        assert!(plain.check().unwrap_err().contains("without TLS"));
        let bind = engine("tcp://agents.example.net:2376", true, Transfer::Bind);
        assert!(bind.check().unwrap_err().contains("use `copy`"));
        assert!(
            engine("tcp://agents.example.net:2376", true, Transfer::Copy)
                .check()
                .is_ok()
        );
        let mut pem = plain.clone();
        pem.tls_pem = Some(TlsPem {
            ca: "ca".into(),
            cert: "cert".into(),
            key: "secret key".into(),
        });
        assert!(pem.check().is_ok(), "PEM text counts as TLS");
        assert!(!format!("{pem:?}").contains("secret key"));
        // Loopback TCP without TLS is how a local engine is often exposed (and the tests').
        assert!(engine("tcp://127.0.0.1:2375", false, Transfer::Copy)
            .check()
            .is_ok());
    }

    #[test]
    fn odd_hosts_are_refused_with_the_forms_that_work() {
        let err = engine("ssh://me@host", false, Transfer::Copy)
            .check()
            .unwrap_err();
        assert!(err.contains("tcp://host:port"), "{err}");
        assert!(engine("tcp://:2375", false, Transfer::Copy)
            .check()
            .is_err());
        assert!(engine("unix:///run/docker.sock", true, Transfer::Bind)
            .check()
            .unwrap_err()
            .contains("tcp:// engine only"));
    }
}
