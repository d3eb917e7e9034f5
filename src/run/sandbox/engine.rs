//! A client for the Docker engine the configuration names (`config::engine`): the local socket,
//! or another host's engine over TCP with mutual TLS (its checkouts copied, see `docker_copy`).

use bollard::{Docker, API_DEFAULT_VERSION};

use super::docker_errors::map_error;
use super::SandboxError;
use crate::config::engine::Engine;

/// How long one request to a local engine may take (bollard's default).
const LOCAL_TIMEOUT_SECS: u64 = 120;
/// A remote engine gets longer: uploading and reading back a large checkout over a slow link
/// is one request each.
const REMOTE_TIMEOUT_SECS: u64 = 600;

impl Engine {
    /// A client for this engine (nothing is contacted yet).
    pub fn connect(&self) -> Result<Docker, SandboxError> {
        let connected = match &self.host {
            None => Docker::connect_with_local_defaults(),
            Some(host) if host.starts_with("unix://") => {
                Docker::connect_with_unix(host, LOCAL_TIMEOUT_SECS, API_DEFAULT_VERSION)
            }
            Some(host) => match (&self.tls_dir, &self.tls_pem) {
                (Some(dir), _) => connect_tls(host, dir),
                (None, Some(_)) => {
                    return Err(SandboxError::Refused(
                        "the engine's TLS files were given as text but not written out \
                         (Engine::write_tls_files)"
                            .to_string(),
                    ))
                }
                (None, None) => {
                    Docker::connect_with_http(host, REMOTE_TIMEOUT_SECS, API_DEFAULT_VERSION)
                }
            },
        };
        connected.map_err(|e| map_error("connect", e))
    }

    /// A client whose API version was agreed with the engine (which may be older than
    /// bollard): this one contacts the engine.
    pub async fn connect_negotiated(&self) -> Result<Docker, SandboxError> {
        self.connect()?
            .negotiate_version()
            .await
            .map_err(|e| map_error("negotiate API version", e))
    }
}

fn connect_tls(host: &str, dir: &std::path::Path) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_ssl(
        host,
        &dir.join("key.pem"),
        &dir.join("cert.pem"),
        &dir.join("ca.pem"),
        REMOTE_TIMEOUT_SECS,
        API_DEFAULT_VERSION,
    )
}
