//! A checkout copied to an engine that cannot mount bosun's disk, and read back after the run.
//!
//! Two named volumes per run hold the checkout and the inputs. A *carrier* container (created,
//! never started) mounts both and is what the archives go to and come from: the run's own
//! container mounts the checkout read-write and the inputs read-only, exactly as with bind
//! mounts, and keeps its read-only root file system.
//!
//! The checkout's top directory must belong to the run's user, and an archive cannot set the
//! owner of the directory it is extracted into. So the carrier's image, `bosun-carrier:<uid>-
//! <gid>`, is nothing but two directories, `/w` owned by that user and `/i`: a new volume
//! mounted over an image directory starts as a copy of it, owner included. The image is made
//! by importing a tiny archive (no registry, no build), once per engine and user.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::ContainerCreateBody;
use bollard::models::{HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::docker_errors::{is_not_found, map_error};
use super::docker_guard::remove_container;
use super::workspace_tar::{pack, sibling, unpack_replacing};
use super::{SandboxError, SandboxSpec, LABEL_INSTANCE, LABEL_ROLE, LABEL_TASK};

const CARRIER_REPOSITORY: &str = "bosun-carrier";
/// Where the carrier mounts the checkout's and the inputs' volumes.
const CARRIER_WORKSPACE: &str = "/w";
const CARRIER_INPUTS: &str = "/i";
/// A checkout coming back larger than this is refused: the volume on the engine's host has no
/// size limit of its own, and bosun's disk must not fill up with what a run wrote.
pub(crate) const MAX_RETURNED_BYTES: u64 = 4 << 30;

/// The volumes and carrier of one run. Removed by [`CopiedWorkspace::remove`]; when dropped
/// without it, the removal is spawned (and what is missed is reaped at the next start through
/// the `bosun.instance` label).
pub(crate) struct CopiedWorkspace {
    docker: Docker,
    carrier: String,
    workspace_volume: String,
    inputs_volume: Option<String>,
    removed: bool,
}

impl CopiedWorkspace {
    /// Creates the volumes and the carrier, and uploads the checkout and the inputs.
    pub(crate) async fn prepare(
        docker: &Docker,
        spec: &SandboxSpec,
        instance: &str,
        name: &str,
    ) -> Result<CopiedWorkspace, SandboxError> {
        let image = carrier_image(docker, spec.user).await?;
        let labels = labels(spec, instance);
        let workspace_volume = format!("{name}-workspace");
        let inputs_volume = spec.inputs.as_ref().map(|_| format!("{name}-inputs"));
        let mut copied = CopiedWorkspace {
            docker: docker.clone(),
            carrier: String::new(),
            workspace_volume,
            inputs_volume,
            removed: false,
        };
        for volume in copied.volumes() {
            let request = VolumeCreateRequest {
                name: Some(volume.to_string()),
                driver: Some("local".into()),
                labels: Some(labels.clone()),
                ..Default::default()
            };
            docker
                .create_volume(request)
                .await
                .map_err(|e| map_error("create volume", e))?;
        }
        let mut binds = vec![format!("{}:{CARRIER_WORKSPACE}", copied.workspace_volume)];
        if let Some(inputs) = &copied.inputs_volume {
            binds.push(format!("{inputs}:{CARRIER_INPUTS}"));
        }
        let body = ContainerCreateBody {
            image: Some(image),
            // Never started: the engine wants a command all the same.
            cmd: Some(vec!["/carrier".into()]),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                binds: Some(binds),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&format!("{name}-carrier"))
            .build();
        copied.carrier = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| map_error("create carrier container", e))?
            .id;
        copied
            .upload(&spec.workspace, CARRIER_WORKSPACE, spec.user)
            .await?;
        if let Some(inputs) = &spec.inputs {
            copied.upload(inputs, CARRIER_INPUTS, spec.user).await?;
        }
        Ok(copied)
    }

    /// The run container's mounts: the same places as the bind mounts of a local engine.
    pub(crate) fn binds(&self) -> Vec<String> {
        let mut binds = vec![format!(
            "{}:{}:rw",
            self.workspace_volume,
            super::WORKSPACE_MOUNT
        )];
        if let Some(inputs) = &self.inputs_volume {
            binds.push(format!("{inputs}:{}:ro", super::INPUTS_MOUNT));
        }
        binds
    }

    fn volumes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.workspace_volume.as_str()).chain(self.inputs_volume.as_deref())
    }

    async fn upload(&self, dir: &Path, to: &str, user: (u32, u32)) -> Result<(), SandboxError> {
        let archive = TempArchive(sibling(dir, "upload.tar"));
        let (source, path) = (dir.to_path_buf(), archive.0.clone());
        blocking(move || pack(&source, user, &path))
            .await?
            .map_err(|e| other(format!("pack {} for the engine: {e}", dir.display())))?;
        let file = tokio::fs::File::open(&archive.0)
            .await
            .map_err(|e| other(format!("open the packed checkout: {e}")))?;
        let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
        let options = UploadToContainerOptionsBuilder::default().path(to).build();
        self.docker
            .upload_to_container(&self.carrier, Some(options), body)
            .await
            .map_err(|e| map_error("upload the checkout", e))
    }

    /// Replaces `dir`'s contents with the checkout as the run left it.
    pub(crate) async fn bring_back(&self, dir: &Path) -> Result<(), SandboxError> {
        let archive = TempArchive(sibling(dir, "download.tar"));
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(CARRIER_WORKSPACE)
            .build();
        let mut stream = self
            .docker
            .download_from_container(&self.carrier, Some(options));
        let mut file = tokio::fs::File::create(&archive.0)
            .await
            .map_err(|e| other(format!("create {}: {e}", archive.0.display())))?;
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| map_error("read the checkout back", e))?;
            received += chunk.len() as u64;
            if received > MAX_RETURNED_BYTES {
                return Err(other(format!(
                    "the run left a checkout larger than {} GiB; nothing of it was kept",
                    MAX_RETURNED_BYTES >> 30
                )));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| other(format!("write {}: {e}", archive.0.display())))?;
        }
        file.flush()
            .await
            .map_err(|e| other(format!("write {}: {e}", archive.0.display())))?;
        drop(file);
        let (path, target) = (archive.0.clone(), dir.to_path_buf());
        let top = CARRIER_WORKSPACE.trim_start_matches('/').to_string();
        blocking(move || unpack_replacing(&path, &top, &target))
            .await?
            .map_err(|e| other(format!("take the checkout back: {e}")))
    }

    /// Removes the carrier, then the volumes (a volume in use cannot be removed: call this
    /// after the run's container is gone).
    pub(crate) async fn remove(mut self) -> Result<(), SandboxError> {
        self.removed = true;
        remove_all(
            &self.docker,
            &self.carrier,
            self.volumes().map(String::from).collect(),
        )
        .await
    }
}

impl Drop for CopiedWorkspace {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let docker = self.docker.clone();
        let carrier = std::mem::take(&mut self.carrier);
        let volumes: Vec<String> = self.volumes().map(String::from).collect();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                // The run's container may still hold the volumes for a moment.
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if let Err(e) = remove_all(&docker, &carrier, volumes).await {
                    tracing::error!(error = %e, "could not remove a copied checkout's volumes");
                }
            });
        }
    }
}

async fn remove_all(
    docker: &Docker,
    carrier: &str,
    volumes: Vec<String>,
) -> Result<(), SandboxError> {
    let mut first_error = None;
    if !carrier.is_empty() {
        if let Err(e) = remove_container(docker, carrier).await {
            first_error = Some(e);
        }
    }
    for volume in volumes {
        if let Err(e) = remove_volume(docker, &volume).await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Removes one volume; one already gone counts as removed.
pub(crate) async fn remove_volume(docker: &Docker, name: &str) -> Result<(), SandboxError> {
    let options = RemoveVolumeOptionsBuilder::default().force(true).build();
    match docker.remove_volume(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(map_error("remove volume", e)),
    }
}

fn labels(spec: &SandboxSpec, instance: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_TASK.to_string(), spec.task_id.to_string()),
        (LABEL_ROLE.to_string(), "carrier".to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ])
}

/// The carrier image for `user`, imported on first use.
async fn carrier_image(docker: &Docker, (uid, gid): (u32, u32)) -> Result<String, SandboxError> {
    let tag = format!("{uid}-{gid}");
    let image = format!("{CARRIER_REPOSITORY}:{tag}");
    match docker.inspect_image(&image).await {
        Ok(_) => return Ok(image),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(map_error("inspect the carrier image", e)),
    }
    let root = carrier_root((uid, gid)).map_err(|e| other(format!("carrier image: {e}")))?;
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(CARRIER_REPOSITORY)
        .tag(&tag)
        .build();
    let mut progress =
        docker.create_image(Some(options), Some(bollard::body_full(root.into())), None);
    while let Some(item) = progress.next().await {
        let info = item.map_err(|e| map_error("import the carrier image", e))?;
        if let Some(detail) = info.error_detail {
            return Err(other(format!(
                "import the carrier image: {}",
                detail.message.unwrap_or_default()
            )));
        }
    }
    tracing::info!(%image, "imported the carrier image for copied checkouts");
    Ok(image)
}

/// The carrier image's whole file system: `w/` owned by the user, `i/` by root.
fn carrier_root((uid, gid): (u32, u32)) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, owner) in [("w/", (uid, gid)), ("i/", (0, 0))] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_uid(u64::from(owner.0));
        header.set_gid(u64::from(owner.1));
        header.set_size(0);
        builder.append_data(&mut header, name, std::io::empty())?;
    }
    builder.into_inner()
}

/// A temporary archive beside the checkout, removed when dropped.
struct TempArchive(PathBuf);

impl Drop for TempArchive {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SandboxError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| other(format!("blocking task failed: {e}")))
}

fn other(message: String) -> SandboxError {
    SandboxError::Other(anyhow::anyhow!(message))
}
