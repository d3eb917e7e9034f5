//! The repository's fetch, made visible: a first clone of a large repository takes minutes, and
//! the tracking comment should not sit at "picked up" meanwhile. libgit2 reports its counts to
//! a watch channel from the blocking thread; a ticker records them as `Fetching` events every
//! few seconds while the fetch goes on, and a first clone leaves one event with its totals.

use tokio::sync::watch;

use super::{blocking, Pipeline, Step};
use crate::run::workspace::GitError;
use crate::run::workspace::{FetchProgress, PrepareRequest, Workspace};
use bosun_core::model::{ProgressEvent, TaskEvent};

impl Pipeline<'_> {
    /// Fetches the mirror and writes the checkout on the blocking pool, showing the fetch.
    pub(super) async fn prepare_showing_fetch(
        &self,
        request: PrepareRequest,
    ) -> Result<Result<Workspace, GitError>, Step> {
        let (tx, rx) = watch::channel(None::<FetchProgress>);
        let ticker = super::AbortOnDrop(self.fetch_ticker(rx.clone()));
        let workspaces = self.runner.workspaces.clone();
        let prepared = blocking(move || {
            workspaces.prepare_reporting(&request, &|p| {
                tx.send_replace(Some(p));
            })
        })
        .await?;
        drop(ticker);
        let last = *rx.borrow();
        if let (Ok(_), Some(p)) = (&prepared, last.filter(|p| p.first_clone)) {
            tracing::info!(
                objects = p.received_objects,
                bytes = p.received_bytes,
                "cloned the repository's mirror"
            );
            self.record(fetching(self.attempt, p, true), false).await?;
        }
        Ok(prepared)
    }

    fn fetch_ticker(
        &self,
        rx: watch::Receiver<Option<FetchProgress>>,
    ) -> tokio::task::JoinHandle<()> {
        let attempt = self.attempt;
        self.event_ticker(move || (*rx.borrow()).map(|p| fetching(attempt, p, false)))
    }
}

fn fetching(attempt: u32, p: FetchProgress, done: bool) -> TaskEvent {
    TaskEvent::Progress(ProgressEvent::Fetching {
        attempt,
        received_objects: p.received_objects,
        total_objects: p.total_objects,
        received_bytes: p.received_bytes,
        done,
    })
}
