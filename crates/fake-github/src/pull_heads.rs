//! Keeps open pull requests' branch data live. With a local repository, a push to the head (or
//! base) branch after the pull request was opened shows in `head.sha`, `base.sha`, `commits`,
//! `additions`, `deletions` and `changed_files`, as on GitHub. Handlers that show or use a pull
//! request's commits call [`refresh`] first (the `git` CLI runs off the async workers, with the
//! model unlocked); the test handle calls [`refresh_now`].

use std::path::{Path, PathBuf};

use crate::error::ApiError;
use crate::git::{self, Compare};
use crate::shared::Shared;
use crate::state::Model;

/// What is stored for one open pull request.
struct Probe {
    number: u64,
    head: String,
    base: String,
    head_sha: String,
    base_sha: String,
}

/// What changed for one pull request.
struct Update {
    number: u64,
    head_sha: String,
    base_sha: String,
    compare: Compare,
}

/// The local repository and the open pull requests to look at; `None` without a local repository.
fn plan(m: &Model, key: &str) -> Option<(PathBuf, Vec<Probe>)> {
    let repo = m.repo(key)?;
    let dir = repo.local_git_dir()?;
    let probes = repo
        .issues
        .values()
        .filter(|i| i.state == "open")
        .filter_map(|i| {
            let p = i.pull.as_ref()?;
            Some(Probe {
                number: i.number,
                head: p.head.clone(),
                base: p.base.clone(),
                head_sha: p.head_sha.clone(),
                base_sha: p.base_sha.clone(),
            })
        })
        .collect();
    Some((dir, probes))
}

/// Reads the branches; only moved ones are compared again (two more `git` runs each). A branch
/// that is gone keeps its last known commit.
fn probe(dir: &Path, probes: &[Probe]) -> Result<Vec<Update>, String> {
    let mut updates = Vec::new();
    for p in probes {
        let head_sha = git::branch_sha(dir, &p.head)?.unwrap_or_else(|| p.head_sha.clone());
        let base_sha = git::branch_sha(dir, &p.base)?.unwrap_or_else(|| p.base_sha.clone());
        if head_sha == p.head_sha && base_sha == p.base_sha {
            continue;
        }
        let compare = git::compare(dir, &base_sha, &head_sha)?;
        updates.push(Update {
            number: p.number,
            head_sha,
            base_sha,
            compare,
        });
    }
    Ok(updates)
}

fn apply(m: &mut Model, key: &str, updates: Vec<Update>) {
    let Some(repo) = m.repo_mut(key) else {
        return;
    };
    for u in updates {
        if let Some(p) = repo.issues.get_mut(&u.number).and_then(|i| i.pull.as_mut()) {
            p.head_sha = u.head_sha;
            p.base_sha = u.base_sha;
            p.commits = u.compare.commits;
            p.additions = u.compare.additions;
            p.deletions = u.compare.deletions;
            p.changed_files = u.compare.changed_files;
        }
    }
}

/// Brings repository `key`'s open pull requests up to date with its local repository, if any.
/// A local `clone_url` that is not a git repository is a 500 saying so, as elsewhere.
pub(crate) async fn refresh(s: &Shared, key: &str) -> Result<(), ApiError> {
    let Some((dir, probes)) = plan(&s.model(), key) else {
        return Ok(());
    };
    if probes.is_empty() {
        return Ok(());
    }
    let updates = crate::routes::blocking(move || probe(&dir, &probes)).await?;
    apply(&mut s.model(), key, updates);
    Ok(())
}

/// [`refresh`] for the test handle, synchronous. Inspection must not fail because a test removed
/// its repository directory already, so a `git` failure keeps the last known commits.
pub(crate) fn refresh_now(s: &Shared, key: &str) {
    let Some((dir, probes)) = plan(&s.model(), key) else {
        return;
    };
    if let Ok(updates) = probe(&dir, &probes) {
        apply(&mut s.model(), key, updates);
    }
}
