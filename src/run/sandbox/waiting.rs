//! What both backends do while a run is under way: wait for the end while the output is read,
//! then give the output a little time to catch up.

use std::future::Future;
use std::time::Duration;

/// How long the output may lag behind the exit before we stop reading it.
pub(crate) const OUTPUT_DRAIN: Duration = Duration::from_secs(10);

/// How the waiting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Exited,
    TimedOut,
    Cancelled,
}

/// Polls `waiter` and the output `pump` together in one task (so dropping the run drops both);
/// once the waiter is done the pump gets [`OUTPUT_DRAIN`] to deliver the last lines.
pub(crate) async fn alongside<T>(
    waiter: impl Future<Output = T>,
    pump: impl Future<Output = ()>,
) -> T {
    let mut waiter = std::pin::pin!(waiter);
    let mut pump = std::pin::pin!(pump);
    let mut pump_done = false;
    let out = loop {
        tokio::select! {
            out = &mut waiter => break out,
            () = &mut pump, if !pump_done => pump_done = true,
        }
    };
    if !pump_done && tokio::time::timeout(OUTPUT_DRAIN, pump).await.is_err() {
        tracing::warn!("sandbox output did not end after the exit; last lines may be lost");
    }
    out
}
