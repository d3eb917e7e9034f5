//! Is the sandbox backend there? For `docker`: the engine answers, reached the way the sandbox
//! reaches it (the run configuration's `docker:` engine, with API version negotiation). For
//! `process`: nothing to reach, but worth a warning, since agents then run unsandboxed.

use std::time::Duration;

use crate::config::engine::Engine;
use crate::config::run::{RunConfig, SandboxKind};

use super::Finding;

/// Longer than a healthy engine ever takes to answer; a hung socket must not hang the doctor.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);

const WHAT: &str = "Docker engine";

/// `Some(())` when the sandbox backend can run things.
pub async fn engine(run: &RunConfig, data_dir: &std::path::Path) -> (Finding, Option<()>) {
    if run.sandbox == SandboxKind::Process {
        return (
            Finding::warn(
                "sandbox",
                "`process`: agents run UNSANDBOXED on this host, with its network and files; \
                 only for a trusted single user (Docker is not used)",
            ),
            Some(()),
        );
    }
    let engine = match run
        .docker
        .engine()
        .write_tls_files(&data_dir.join("docker-tls"))
    {
        Ok(engine) => engine,
        Err(e) => {
            return (
                Finding::fail(WHAT, format!("cannot write the TLS files: {e}")),
                None,
            )
        }
    };
    let host = engine.describe();
    match tokio::time::timeout(ENGINE_TIMEOUT, version(&engine)).await {
        Ok(Ok(version)) => (
            Finding::ok(WHAT, format!("Docker {version} at {host}")),
            Some(()),
        ),
        Ok(Err(e)) => (unreachable(&host, &e), None),
        Err(_) => (
            unreachable(
                &host,
                &format!("no answer in {}s", ENGINE_TIMEOUT.as_secs()),
            ),
            None,
        ),
    }
}

fn unreachable(host: &str, why: &str) -> Finding {
    Finding::fail(
        WHAT,
        format!("not reachable at {host} ({why}): start Docker or set BOSUN_SANDBOX=process"),
    )
}

async fn version(engine: &Engine) -> Result<String, String> {
    let docker = engine
        .connect_negotiated()
        .await
        .map_err(|e| e.to_string())?;
    let v = docker.version().await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{} (API {})",
        v.version.unwrap_or_else(|| "?".into()),
        v.api_version.unwrap_or_else(|| "?".into())
    ))
}
