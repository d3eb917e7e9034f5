//! Makes sure a created container is removed: a leaked container is a bug.
//!
//! The normal path removes it explicitly (awaited, so the caller knows it is gone). When the run
//! ends any other way — an early `?`, a panic, the caller dropping the run future — `Drop`
//! spawns the removal on the current Tokio runtime. What even that misses (the process died)
//! is found by `reap_orphans` at the next start through the `bosun.instance` label.

use super::docker_errors::{is_not_found, map_error};
use super::SandboxError;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use bollard::Docker;

/// How long the run waits on one engine call after the script ended (inspect, remove): a
/// loaded engine has been seen not to answer for minutes, and the run must go on.
pub(crate) const ENGINE_CALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Owns one container until [`ContainerGuard::remove`] runs.
pub(crate) struct ContainerGuard {
    docker: Docker,
    id: String,
    removed: bool,
}

impl ContainerGuard {
    pub(crate) fn new(docker: Docker, id: String) -> Self {
        ContainerGuard {
            docker,
            id,
            removed: false,
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Force-removes the container (killing it if it still runs). A container that is already
    /// gone counts as removed. An engine that has not answered within [`ENGINE_CALL_LIMIT`]
    /// finishes the removal in the background: the run does not wait on it.
    pub(crate) async fn remove(mut self) -> Result<(), SandboxError> {
        self.removed = true;
        let (docker, id) = (self.docker.clone(), self.id.clone());
        let removal = tokio::spawn(async move { remove_container(&docker, &id).await });
        match tokio::time::timeout(ENGINE_CALL_LIMIT, removal).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(SandboxError::Other(anyhow::anyhow!(
                "removing the container failed: {e}"
            ))),
            Err(_) => {
                tracing::warn!(
                    container = %self.id,
                    "the engine has not removed the container yet; it goes on in the background"
                );
                Ok(())
            }
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let docker = self.docker.clone();
        let id = std::mem::take(&mut self.id);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = remove_container(&docker, &id).await {
                        tracing::error!(container = %id, error = %e, "could not remove container");
                    }
                });
            }
            Err(_) => {
                // reap_orphans removes it at the next start.
                tracing::error!(container = %id, "no runtime to remove the sandbox container");
            }
        }
    }
}

/// Force-removes one container, with its anonymous volumes.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), SandboxError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // 409 "removal already in progress": another remover got there first.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(map_error("remove container", e)),
    }
}
