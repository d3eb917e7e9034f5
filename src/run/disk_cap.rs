//! A cap on how large a directory may grow while something writes into it: a watcher measures
//! it every second and cancels the work once it is over. Docker cannot limit the size of a bind
//! mount, so this is what keeps a set-up that fills the disk from filling the server's.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the directory is measured, at most.
const EVERY: Duration = Duration::from_secs(1);

/// Watches `dir` until dropped; cancels `work` when the directory grows past `max_bytes`.
pub struct DiskCap {
    tripped: Arc<AtomicBool>,
    watcher: tokio::task::JoinHandle<()>,
}

impl DiskCap {
    pub fn watch(dir: PathBuf, max_bytes: u64, work: CancellationToken) -> DiskCap {
        let tripped = Arc::new(AtomicBool::new(false));
        let flag = tripped.clone();
        let watcher = tokio::spawn(async move {
            let mut pause = EVERY;
            loop {
                tokio::time::sleep(pause).await;
                let measured = dir.clone();
                let started = std::time::Instant::now();
                let Ok(size) = tokio::task::spawn_blocking(move || size_of(&measured)).await else {
                    return;
                };
                // A large checkout takes a while to walk: spend at most a tenth of the time
                // walking it.
                pause = EVERY.max(started.elapsed() * 10);
                if size > max_bytes {
                    tracing::warn!(size, max_bytes, dir = %dir.display(), "the checkout grew past its cap; stopping the work");
                    flag.store(true, Ordering::SeqCst);
                    work.cancel();
                    return;
                }
            }
        });
        DiskCap { tripped, watcher }
    }

    /// Whether the directory went over the cap (and the work was cancelled for it).
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }
}

impl Drop for DiskCap {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The bytes of the regular files under `dir`, links not followed (a link's own size counts).
pub fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    walk(dir, |meta| {
        if !meta.is_dir() {
            total += meta.len();
        }
    });
    total
}

/// Calls `seen` with the metadata of `dir` and of everything under it, links not followed;
/// what cannot be read is passed over.
pub fn walk(dir: &Path, mut seen: impl FnMut(&std::fs::Metadata)) {
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        seen(&meta);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            seen(&meta);
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_measured_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![0u8; 1000]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![0u8; 500]).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 100_000]).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let size = size_of(dir.path());
        assert!((1500..2000).contains(&size), "{size}");
    }

    #[tokio::test]
    async fn growing_past_the_cap_cancels_the_work() {
        let dir = tempfile::tempdir().unwrap();
        let work = CancellationToken::new();
        let cap = DiskCap::watch(dir.path().to_path_buf(), 10_000, work.clone());
        std::fs::write(dir.path().join("small"), vec![0u8; 100]).unwrap();
        std::fs::write(dir.path().join("big"), vec![0u8; 20_000]).unwrap();
        tokio::time::timeout(Duration::from_secs(10), work.cancelled())
            .await
            .expect("cancelled once over the cap");
        assert!(cap.tripped());
    }
}
