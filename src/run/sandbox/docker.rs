//! The default backend: one hardened Docker container per run, through the engine's API
//! (bollard), never the docker CLI.
//!
//! Flow of a run: create → attach → start → read the output while waiting for the exit → on
//! deadline or cancel, stop (SIGTERM, SIGKILL after [`STOP_GRACE`]) → inspect (exit code,
//! OOMKilled) → remove. The container is removed on every path (see [`ContainerGuard`]).

use super::docker_config::{container_body, host_binds};
use super::docker_copy::{remove_volume, CopiedWorkspace};
use super::docker_errors::{map_error, map_image_error, map_pull_error};
use super::docker_guard::{remove_container, ContainerGuard, ENGINE_CALL_LIMIT};
use super::docker_output::{attach_output, pump_output};
use super::naming::container_name;
use super::spec_check::check_spec;
use super::waiting::{alongside, Ending};
use super::{
    OutputLine, Sandbox, SandboxError, SandboxExit, SandboxSpec, LABEL_INSTANCE, STOP_GRACE,
};
use crate::config::engine::{Engine, Transfer};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    ListVolumesOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OnceCell};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long the engine may take beyond the stop grace to report the exit of a stopped
/// container before we move on to removing it by force.
const STOP_SLACK: Duration = Duration::from_secs(30);

/// Runs specs as containers on a Docker engine: the local one, or another host's.
pub struct DockerSandbox {
    instance: String,
    engine: Engine,
    client: OnceCell<Docker>,
}

impl DockerSandbox {
    /// A sandbox on the local engine (`DOCKER_HOST` when it is a unix socket, or the default
    /// socket). `instance` is the `bosun.instance` label value: give each bosun server sharing
    /// an engine its own, so one never reaps the other's containers.
    ///
    /// Nothing is contacted yet: the connection (with API version negotiation, since the engine
    /// may be older than bollard) is made on first use and retried on later calls until it
    /// succeeds, so bosun can start while the engine is down.
    pub fn new(instance: impl Into<String>) -> Result<Self, SandboxError> {
        Self::on_engine(Engine::local(), instance)
    }

    /// A sandbox on `engine` (see [`Engine`]), connected lazily as [`DockerSandbox::new`].
    pub fn on_engine(engine: Engine, instance: impl Into<String>) -> Result<Self, SandboxError> {
        engine.check().map_err(SandboxError::Refused)?;
        Self::build(instance.into(), engine, OnceCell::new())
    }

    /// A sandbox on an already connected (and version-negotiated) client of the local engine.
    pub fn with_client(docker: Docker, instance: impl Into<String>) -> Result<Self, SandboxError> {
        Self::build(instance.into(), Engine::local(), OnceCell::from(docker))
    }

    fn build(
        instance: String,
        engine: Engine,
        client: OnceCell<Docker>,
    ) -> Result<Self, SandboxError> {
        if instance.trim().is_empty() || instance.contains(['=', ',']) {
            return Err(SandboxError::Refused(format!(
                "invalid sandbox instance label {instance:?}"
            )));
        }
        Ok(DockerSandbox {
            instance,
            engine,
            client,
        })
    }

    /// The `bosun.instance` label value of this sandbox's containers.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The engine the runs go to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn client(&self) -> Result<Docker, SandboxError> {
        let docker = self
            .client
            .get_or_try_init(|| self.engine.connect_negotiated())
            .await?;
        Ok(docker.clone())
    }

    async fn run_container(
        &self,
        spec: SandboxSpec,
        lines: mpsc::Sender<OutputLine>,
        cancel: CancellationToken,
    ) -> Result<SandboxExit, SandboxError> {
        check_spec(&spec)?;
        let docker = self.client().await?;
        let name = container_name(&spec.name_hint);
        // The image is checked first, so a missing one is reported as such and not as a
        // failed upload of the checkout.
        if self.engine.transfer == Transfer::Copy {
            self.check_image(&spec.image).await?;
        }
        if self.engine.transfer == Transfer::Copy && !spec.mounts.is_empty() {
            return Err(SandboxError::Refused(
                "another host's engine cannot mount this host's directories: environment \
                 snapshots need the local engine"
                    .into(),
            ));
        }
        let has_doors = spec.doors.as_ref().is_some_and(|d| !d.open.is_empty());
        if self.engine.transfer == Transfer::Copy && has_doors {
            return Err(SandboxError::Refused(
                "another host's engine cannot reach this host's proxies: metering and egress \
                 need the local engine"
                    .into(),
            ));
        }
        let copied = match self.engine.transfer {
            Transfer::Bind => None,
            Transfer::Copy => {
                Some(CopiedWorkspace::prepare(&docker, &spec, &self.instance, &name).await?)
            }
        };
        let binds = copied
            .as_ref()
            .map_or_else(|| host_binds(&spec), CopiedWorkspace::binds);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker
            .create_container(Some(options), container_body(&spec, &self.instance, binds))
            .await
            .map_err(|e| map_image_error("create container", &spec.image, e))?;
        let guard = ContainerGuard::new(docker.clone(), created.id);
        for warning in &created.warnings {
            tracing::warn!(container = %name, %warning, "docker warning on create");
        }
        tracing::debug!(container = %name, "sandbox container created");

        let mut result = drive(&docker, guard.id(), &spec, lines, &cancel).await;
        if let Err(e) = guard.remove().await {
            // The run's result stands; reap_orphans removes the container at the next start.
            tracing::error!(container = %name, error = %e, "could not remove sandbox container");
        }
        if let Some(copied) = copied {
            // Whatever the run left is read back however it ended, as a bind mount would
            // show it; a checkout that cannot come back fails the run.
            if result.is_ok() {
                if let Err(e) = copied.bring_back(&spec.workspace).await {
                    result = Err(e);
                }
            }
            if let Err(e) = copied.remove().await {
                tracing::error!(container = %name, error = %e, "could not remove a copied checkout");
            }
        }
        result
    }

    async fn reap(&self) -> Result<usize, SandboxError> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_INSTANCE}={}", self.instance)],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| map_error("list containers", e))?;
        let mut removed = 0;
        let mut first_error = None;
        for id in found.into_iter().filter_map(|c| c.id) {
            match remove_container(&docker, &id).await {
                Ok(()) => {
                    tracing::info!(container = %id, "removed orphaned sandbox container");
                    removed += 1;
                }
                Err(e) => {
                    tracing::error!(container = %id, error = %e, "could not remove orphan");
                    first_error.get_or_insert(e);
                }
            }
        }
        // Copied checkouts' volumes, once no container holds them.
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let volumes = docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| map_error("list volumes", e))?;
        for volume in volumes.volumes.into_iter().flatten() {
            if let Err(e) = remove_volume(&docker, &volume.name).await {
                tracing::error!(volume = %volume.name, error = %e, "could not remove orphan");
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Pulls `image` with the engine's own access to registries (bosun passes no registry
    /// credentials), reading the engine's progress stream to its end.
    async fn pull_image(&self, image: &str, limit: Duration) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let pulling = async {
            let mut stream = docker.create_image(Some(options), None, None);
            while let Some(step) = stream.next().await {
                if let Err(e) = step {
                    return Err(map_pull_error(image, e));
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limit, pulling).await {
            Ok(done) => done,
            Err(_) => Err(SandboxError::PullFailed {
                image: image.to_string(),
                why: format!(
                    "it took longer than {} minutes (docker.pull_timeout_minutes)",
                    limit.as_secs() / 60
                ),
            }),
        }
    }

    async fn check_image(&self, image: &str) -> Result<(), SandboxError> {
        let docker = self.client().await?;
        docker
            .inspect_image(image)
            .await
            .map(|_| ())
            .map_err(|e| map_image_error("inspect image", image, e))
    }
}

impl Sandbox for DockerSandbox {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn isolated(&self) -> bool {
        true
    }

    fn run(
        &self,
        spec: SandboxSpec,
        lines: mpsc::Sender<OutputLine>,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<SandboxExit, SandboxError>> {
        let span = tracing::info_span!(
            "sandbox",
            backend = "docker",
            task = spec.task_id,
            role = %spec.role,
        );
        self.run_container(spec, lines, cancel)
            .instrument(span)
            .boxed()
    }

    /// Removes every container carrying this sandbox's `bosun.instance` label, running or
    /// not. Call it at start-up only: it would also remove the runs of this very process.
    fn reap_orphans(&self) -> BoxFuture<'_, Result<usize, SandboxError>> {
        self.reap().boxed()
    }

    fn check(&self, image: &str) -> BoxFuture<'_, Result<(), SandboxError>> {
        let image = image.to_string();
        async move { self.check_image(&image).await }.boxed()
    }

    fn pull(&self, image: &str, limit: Duration) -> BoxFuture<'_, Result<(), SandboxError>> {
        let image = image.to_string();
        async move { self.pull_image(&image, limit).await }.boxed()
    }
}

/// Attach, start, wait, inspect: everything between create and remove.
async fn drive(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    lines: mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> Result<SandboxExit, SandboxError> {
    if cancel.is_cancelled() {
        return Ok(SandboxExit {
            code: None,
            oom_killed: false,
            timed_out: false,
            cancelled: true,
            duration: Duration::ZERO,
        });
    }
    let attached = attach_output(docker, id).await?;
    docker
        .start_container(id, None)
        .await
        .map_err(|e| map_error("start container", e))?;
    let started = Instant::now();
    let pump = pump_output(attached, lines);
    let waiter = wait_for_end(docker, id, spec.deadline, cancel);
    let ending = alongside(waiter, pump).await?;
    let duration = started.elapsed();

    let inspected = tokio::time::timeout(ENGINE_CALL_LIMIT, docker.inspect_container(id, None));
    let state = match inspected.await {
        Ok(info) => info
            .map_err(|e| map_error("inspect container", e))?
            .state
            .unwrap_or_default(),
        Err(_) => {
            // The run ended; only its exit code is unknown (reported as none).
            tracing::warn!("the engine did not answer an inspect of the ended container in time");
            Default::default()
        }
    };
    let exit = SandboxExit {
        code: state.exit_code,
        oom_killed: state.oom_killed.unwrap_or(false),
        timed_out: ending == Ending::TimedOut,
        cancelled: ending == Ending::Cancelled,
        duration,
    };
    tracing::debug!(?exit, "sandbox container ended");
    Ok(exit)
}

/// Waits for the container to exit, the deadline or cancellation; the latter two stop it and
/// wait (bounded) for the exit.
async fn wait_for_end(
    docker: &Docker,
    id: &str,
    deadline: Duration,
    cancel: &CancellationToken,
) -> Result<Ending, SandboxError> {
    let mut exited = std::pin::pin!(wait_exit(docker, id));
    let ending = tokio::select! {
        biased;
        result = &mut exited => return result.map(|()| Ending::Exited),
        () = cancel.cancelled() => Ending::Cancelled,
        () = tokio::time::sleep(deadline) => Ending::TimedOut,
    };
    tracing::info!(?ending, "stopping sandbox container");
    let grace = i32::try_from(STOP_GRACE.as_secs()).unwrap_or(5);
    let options = StopContainerOptionsBuilder::default().t(grace).build();
    // The engine has been seen not to answer a stop for minutes on a loaded machine; the run
    // must not wait on it (the client's own limit is 120 s). The forced removal that follows
    // kills the container either way.
    let stop = docker.stop_container(id, Some(options));
    match tokio::time::timeout(STOP_GRACE + STOP_SLACK, stop).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not stop sandbox container"),
        Err(_) => {
            tracing::warn!(
                "the engine did not answer the stop in time; removing the container by force"
            );
            return Ok(ending);
        }
    }
    match tokio::time::timeout(STOP_GRACE + STOP_SLACK, exited).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "waiting for the stopped container failed"),
        Err(_) => tracing::warn!("stopped sandbox container did not report its exit"),
    }
    Ok(ending)
}

/// Resolves when the container is no longer running. bollard reports a non-zero exit code as
/// an error of the wait stream; that is an exit like any other here (inspect reads the code).
async fn wait_exit(docker: &Docker, id: &str) -> Result<(), SandboxError> {
    let mut stream = docker.wait_container(id, None);
    match stream.next().await {
        Some(Ok(_)) | Some(Err(DockerError::DockerContainerWaitError { .. })) => Ok(()),
        Some(Err(e)) => Err(map_error("wait for container", e)),
        None => Err(SandboxError::Other(anyhow::anyhow!(
            "docker: wait for container ended without a status"
        ))),
    }
}
