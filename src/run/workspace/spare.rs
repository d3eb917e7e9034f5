//! Spare checkouts: writing thousands of files is the slowest part of starting a task (each
//! file creation costs most of a millisecond on an ordinary disk), so bosun keeps one finished
//! checkout per repository ready, written in the background while the previous task's agent
//! works. A task takes it by renaming it into place (instant) and bringing it to its base commit
//! by writing only the files that differ; then the next spare is written behind it.
//!
//! A spare is written by the host alone and never seen by an agent before it is taken; each
//! one is used once. Spares live only in memory's bookkeeping: after a restart the directory is
//! unknown and is replaced.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use git2::{Delta, Oid, Repository};

use super::materialize::{safe_entry_name, write_blob, write_tree};
use super::{remove_dir_if_present, GitError};

/// The longest a task waits for a spare being written; past it, the task writes its own.
const WAIT_FOR_SPARE: Duration = Duration::from_secs(60);

/// The ready spare of each repository (`owner/name` → its commit), and which are being built;
/// the condition variable wakes tasks waiting for a spare being written.
#[derive(Debug, Default, Clone)]
pub(super) struct Spares {
    state: Arc<(Mutex<HashMap<String, SpareState>>, Condvar)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpareState {
    Building,
    Ready(Oid),
}

impl Spares {
    /// Takes the spare of `repo` and renames it to `dir`; returns its commit. A spare still
    /// being written is waited for: finishing it is never slower than starting another copy
    /// of the same files beside it, which would also slow it down.
    pub(super) fn take(&self, spares_dir: &Path, repo: &str, dir: &Path) -> Option<Oid> {
        let (lock, written) = &*self.state;
        let deadline = Instant::now() + WAIT_FOR_SPARE;
        let commit = {
            let mut state = crate::locks::lock(lock);
            loop {
                match state.get(repo) {
                    Some(SpareState::Ready(commit)) => {
                        let commit = *commit;
                        state.remove(repo);
                        break commit;
                    }
                    Some(SpareState::Building) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return None;
                        }
                        state = written
                            .wait_timeout(state, left)
                            .map(|(guard, _)| guard)
                            .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                    }
                    None => return None,
                }
            }
        };
        match std::fs::rename(spare_path(spares_dir, repo), dir) {
            Ok(()) => Some(commit),
            Err(e) => {
                tracing::warn!(error = %e, "could not take the spare checkout; writing one");
                None
            }
        }
    }

    /// Writes the next spare of `repo` at `commit` on a background thread, unless one is
    /// already being written.
    pub(super) fn replenish(
        &self,
        spares_dir: PathBuf,
        mirror: PathBuf,
        repo: String,
        commit: Oid,
    ) {
        {
            let mut state = crate::locks::lock(&self.state.0);
            if state.contains_key(&repo) {
                return;
            }
            state.insert(repo.clone(), SpareState::Building);
        }
        let spares = self.clone();
        std::thread::spawn(move || {
            let result = build(&spares_dir, &mirror, &repo, commit);
            let (lock, written) = &*spares.state;
            let mut state = crate::locks::lock(lock);
            match result {
                Ok(()) => {
                    state.insert(repo, SpareState::Ready(commit));
                }
                Err(e) => {
                    tracing::warn!(%repo, error = %e, "could not write a spare checkout");
                    state.remove(&repo);
                }
            }
            written.notify_all();
        });
    }

    /// The commit of `repo`'s ready spare (for tests and the log).
    pub(super) fn ready(&self, repo: &str) -> Option<Oid> {
        match crate::locks::lock(&self.state.0).get(repo) {
            Some(SpareState::Ready(commit)) => Some(*commit),
            _ => None,
        }
    }
}

fn spare_path(spares_dir: &Path, repo: &str) -> PathBuf {
    spares_dir.join(repo)
}

fn build(spares_dir: &Path, mirror: &Path, repo: &str, commit: Oid) -> Result<(), GitError> {
    let target = spare_path(spares_dir, repo);
    let building = target.with_extension("building");
    remove_dir_if_present(&building)?;
    remove_dir_if_present(&target)?;
    std::fs::create_dir_all(&building).map_err(GitError::io("create a spare checkout"))?;
    let git = Repository::open_bare(mirror).map_err(GitError::git("open the mirror"))?;
    let tree = git
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(GitError::git("read a tree"))?;
    write_tree(&git, &tree, &building)?;
    std::fs::rename(&building, &target).map_err(GitError::io("finish a spare checkout"))
}

/// Brings a checkout made at `from` to `to` by writing only what differs between the two trees.
pub(super) fn advance(
    repo: &Repository,
    dir: &Path,
    from: Oid,
    to: Oid,
) -> Result<usize, GitError> {
    if from == to {
        return Ok(0);
    }
    let tree = |id: Oid| {
        repo.find_commit(id)
            .and_then(|c| c.tree())
            .map_err(GitError::git("read a tree"))
    };
    let (old, new) = (tree(from)?, tree(to)?);
    let diff = repo
        .diff_tree_to_tree(Some(&old), Some(&new), None)
        .map_err(GitError::git("compare trees"))?;
    let mut changed = 0;
    for delta in diff.deltas() {
        let (Some(old_path), Some(new_path)) =
            (delta.old_file().path_bytes(), delta.new_file().path_bytes())
        else {
            continue;
        };
        if !old_path.split(|b| *b == b'/').all(safe_entry_name)
            || !new_path.split(|b| *b == b'/').all(safe_entry_name)
        {
            continue;
        }
        changed += 1;
        if matches!(
            delta.status(),
            Delta::Deleted | Delta::Modified | Delta::Typechange | Delta::Renamed
        ) {
            let path = dir.join(OsStr::from_bytes(old_path));
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {
                    remove_dir_if_present(&path)?;
                }
                Ok(_) => std::fs::remove_file(&path).map_err(GitError::io("remove a file"))?,
                Err(_) => {}
            }
        }
        if delta.status() != Delta::Deleted {
            let path = dir.join(OsStr::from_bytes(new_path));
            // A directory where the new tree has a file (its own files' deletions come later
            // in path order and then find nothing).
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                remove_dir_if_present(&path)?;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(GitError::io("create a directory"))?;
            }
            let file = delta.new_file();
            write_blob(repo, file.id(), i32::from(file.mode()), &path)?;
        }
    }
    Ok(changed)
}
