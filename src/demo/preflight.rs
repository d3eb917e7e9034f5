//! What the demo needs before it starts anything, each missing piece with what to do: a
//! Docker engine (the agent and the gates run in containers), the git CLI (the simulator
//! serves the sample repository with `git http-backend`, as the tests do), and no environment
//! override that would run the agent elsewhere than in the demo's configuration.

use std::time::Duration;

use bollard::Docker;

/// Longer than a healthy engine takes to answer; a hung socket must not hang the demo.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine, connected and version-negotiated (as the sandbox connects).
pub async fn check() -> anyhow::Result<Docker> {
    for name in ["BOSUN_SANDBOX", "BOSUN_DEFAULT_AGENT"] {
        if std::env::var_os(name).is_some() {
            anyhow::bail!(
                "{name} is set, and it would override the demo's own run configuration: \
                 unset it for the demo"
            );
        }
    }
    let git = std::process::Command::new("git").arg("--version").output();
    if !git.is_ok_and(|out| out.status.success()) {
        anyhow::bail!(
            "the git CLI is missing: the GitHub simulator serves the sample repository with \
             `git http-backend`; install git"
        );
    }
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default socket".into());
    let unreachable = |why: String| {
        anyhow::anyhow!(
            "Docker is not reachable at {host} ({why}): start Docker (the demo's agent and \
             gates run in containers)"
        )
    };
    let connect = async {
        let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| e.to_string())?;
        docker.ping().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(docker)
    };
    match tokio::time::timeout(ENGINE_TIMEOUT, connect).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(why)) => Err(unreachable(why)),
        Err(_) => Err(unreachable(format!(
            "no answer in {} s",
            ENGINE_TIMEOUT.as_secs()
        ))),
    }
}
