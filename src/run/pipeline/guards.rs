//! Guards that clean up after a run however it ends: helper tasks aborted, the checkout removed.

/// Aborts a helper task when the pipeline ends, however it ends.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes the run's checkout when the pipeline ends: awaited on the normal path
/// ([`RemoveOnDrop::now`]), in the background when the pipeline is dropped midway.
pub(super) struct RemoveOnDrop(
    pub(super) crate::run::workspace::Workspaces,
    pub(super) Option<String>,
);

impl RemoveOnDrop {
    fn remover(&mut self) -> Option<impl FnOnce() + Send + 'static> {
        let (workspaces, name) = (self.0.clone(), self.1.take()?);
        Some(move || {
            if let Err(e) = workspaces.remove(&name) {
                tracing::warn!(error = %e, "could not remove the checkout");
            }
        })
    }

    pub(super) async fn now(mut self) {
        if let Some(remove) = self.remover() {
            let _ = tokio::task::spawn_blocking(remove).await;
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(remove) = self.remover() {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(remove)),
                Err(_) => remove(),
            }
        }
    }
}
