//! The task's workspace: one bare mirror per repository in the data directory, fetched with the
//! installation token, and one checkout per task built from it.
//!
//! The checkout holds the files only, no `.git`: nothing the agent writes there can become git
//! metadata, config or a hook that the host would later honour. The host keeps every git fact
//! (base commit, branch) itself and builds the commit from the files (see [`snapshot`]).
//! All functions here block (libgit2, file system); callers run them on the blocking pool.

pub mod diff;
mod materialize;
mod mirror;
pub mod publish;
pub mod snapshot;
mod spare;

use std::path::{Path, PathBuf};

use crate::github::secret::Secret;

pub use mirror::GitError;

/// Where mirrors and checkouts live: `<data>/mirrors/<owner>/<repo>.git` and
/// `<data>/worktrees/task-<id>`.
#[derive(Debug, Clone)]
pub struct Workspaces {
    data_dir: PathBuf,
    spares: spare::Spares,
}

/// What a task needs checked out.
#[derive(Debug, Clone)]
pub struct PrepareRequest {
    /// `owner/name`; also names the mirror.
    pub repo: String,
    /// The repository's `clone_url` from the API.
    pub clone_url: String,
    /// The installation token; `None` for a remote that needs none (a local path in tests).
    pub token: Option<Secret>,
    /// The branch to start from: the default branch, or a pull request's head for follow-ups.
    pub base_branch: String,
    /// The branch bosun will push, `bosun/<issue>-<slug>`.
    pub branch: String,
    /// The checkout's directory name, unique to this run of the task (task, job and fencing
    /// token), so a run that lost its lease never touches its successor's checkout.
    pub checkout: String,
}

/// How far a fetch of the mirror got, as libgit2 counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchProgress {
    pub received_objects: u64,
    pub total_objects: u64,
    pub received_bytes: u64,
    /// The mirror did not exist before this fetch: the repository's first clone.
    pub first_clone: bool,
}

/// A prepared checkout.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub dir: PathBuf,
    pub mirror: PathBuf,
    pub clone_url: String,
    pub branch: String,
    /// The branch the checkout started from (the pull request's base).
    pub base_branch: String,
    /// The commit the checkout was made from, and the parent of bosun's commit.
    pub base_sha: String,
    /// Whether a spare checkout was brought forward instead of writing every file.
    pub from_spare: bool,
}

impl Workspaces {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Workspaces {
            data_dir: data_dir.into(),
            spares: spare::Spares::default(),
        }
    }

    pub fn mirror_path(&self, repo: &str) -> PathBuf {
        // Owner and name are GitHub-validated ([A-Za-z0-9._-]); anything else is refused below.
        self.data_dir.join("mirrors").join(format!("{repo}.git"))
    }

    pub fn checkout_path(&self, checkout: &str) -> PathBuf {
        self.data_dir.join("worktrees").join(checkout)
    }

    /// Fetches the mirror (creating it on first use) and writes a fresh checkout of the base
    /// branch's head. A checkout left from an earlier attempt is replaced: an attempt always
    /// starts from the branch head, not from half-done work.
    pub fn prepare(&self, req: &PrepareRequest) -> Result<Workspace, GitError> {
        self.prepare_reporting(req, &|_| {})
    }

    /// [`Workspaces::prepare`], telling `report` how the fetch goes (often, from libgit2's
    /// thread: keep it cheap).
    pub fn prepare_reporting(
        &self,
        req: &PrepareRequest,
        report: &dyn Fn(FetchProgress),
    ) -> Result<Workspace, GitError> {
        if !valid_repo_name(&req.repo) {
            return Err(GitError::Refused(format!(
                "`{}` is not a repository name",
                req.repo
            )));
        }
        let started = std::time::Instant::now();
        let mirror_path = self.mirror_path(&req.repo);
        let (repo, base) = mirror::locked(&mirror_path, || {
            let first_clone = !mirror_path.join("HEAD").exists();
            let repo = mirror::open_or_init(&mirror_path)?;
            let progress = |received_objects, total_objects, received_bytes| {
                report(FetchProgress {
                    received_objects,
                    total_objects,
                    received_bytes,
                    first_clone,
                })
            };
            mirror::fetch(&repo, &req.clone_url, req.token.as_ref(), &progress)?;
            let base = mirror::remote_head(&repo, &req.base_branch)?;
            Ok::<_, GitError>((repo, base))
        })?;
        let commit = repo
            .find_commit(base)
            .map_err(GitError::git("read the base commit"))?;
        let tree = commit.tree().map_err(GitError::git("read the base tree"))?;

        let fetched = started.elapsed();
        let dir = self.checkout_path(&req.checkout);
        remove_dir_if_present(&dir)?;
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(GitError::io("create the checkout directory"))?;
        }
        let spares_dir = self.data_dir.join("spares");
        let from_spare = match self.spares.take(&spares_dir, &req.repo, &dir) {
            Some(spare_commit) => match spare::advance(&repo, &dir, spare_commit, base) {
                Ok(changed) => Some(changed),
                Err(e) => {
                    tracing::warn!(error = %e, "could not bring the spare checkout up to date");
                    remove_dir_if_present(&dir)?;
                    None
                }
            },
            None => None,
        };
        if from_spare.is_none() {
            std::fs::create_dir_all(&dir).map_err(GitError::io("create the checkout directory"))?;
            materialize::write_tree(&repo, &tree, &dir)?;
        }
        self.spares
            .replenish(spares_dir, mirror_path.clone(), req.repo.clone(), base);
        tracing::info!(
            fetch_ms = fetched.as_millis() as u64,
            checkout_ms = (started.elapsed() - fetched).as_millis() as u64,
            spare = from_spare.is_some(),
            files_updated = from_spare.unwrap_or(0),
            "workspace prepared"
        );
        Ok(Workspace {
            dir,
            mirror: mirror_path,
            clone_url: req.clone_url.clone(),
            branch: req.branch.clone(),
            base_branch: req.base_branch.clone(),
            base_sha: base.to_string(),
            from_spare: from_spare.is_some(),
        })
    }

    /// Deletes a task branch on the remote (after its pull request was merged) and in the
    /// mirror. A branch already gone is fine.
    pub fn delete_branch(
        &self,
        repo: &str,
        clone_url: &str,
        branch: &str,
        token: Option<&Secret>,
    ) -> Result<(), GitError> {
        if !valid_repo_name(repo) || !branch.starts_with("bosun/") {
            return Err(GitError::Refused(format!(
                "bosun deletes only its own branches, not `{branch}`"
            )));
        }
        let mirror_path = self.mirror_path(repo);
        mirror::locked(&mirror_path, || {
            let git = mirror::open_or_init(&mirror_path)?;
            publish::delete_remote_branch(&git, clone_url, branch, token)?;
            if let Ok(mut local) = git.find_reference(&format!("refs/heads/{branch}")) {
                local
                    .delete()
                    .map_err(GitError::git("delete the local branch"))?;
            }
            Ok(())
        })
    }

    /// The commit of the spare checkout ready for `repo`, if one is.
    pub fn spare_ready(&self, repo: &str) -> Option<String> {
        self.spares.ready(repo).map(|c| c.to_string())
    }

    /// Writes `tree` (a tree in the workspace's mirror, such as a snapshot's) as a new
    /// checkout named `checkout`, replacing one left over. A reviewer works there, so nothing
    /// it writes can reach the checkout bosun commits from.
    pub fn copy_of(
        &self,
        ws: &Workspace,
        tree: git2::Oid,
        checkout: &str,
    ) -> Result<PathBuf, GitError> {
        let repo =
            git2::Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
        let tree = repo
            .find_tree(tree)
            .map_err(GitError::git("read the change's tree"))?;
        let dir = self.checkout_path(checkout);
        remove_dir_if_present(&dir)?;
        std::fs::create_dir_all(&dir).map_err(GitError::io("create the checkout directory"))?;
        materialize::write_tree(&repo, &tree, &dir)?;
        Ok(dir)
    }

    /// Removes a task's checkout; the mirror and the pushed branch stay.
    pub fn remove(&self, checkout: &str) -> Result<(), GitError> {
        remove_dir_if_present(&self.checkout_path(checkout))
    }
}

pub(super) fn remove_dir_if_present(dir: &Path) -> Result<(), GitError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GitError::io("remove the old checkout")(e)),
    }
}

fn valid_repo_name(full_name: &str) -> bool {
    let mut parts = full_name.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `bosun/<issue>-<slug>`: the slug is the title's first words, lower-case ASCII, so the branch
/// name tells a reader what it is about and is always a valid ref name.
pub fn branch_name(issue: u64, title: &str) -> String {
    let mut slug = String::new();
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 40 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        format!("bosun/{issue}")
    } else {
        format!("bosun/{issue}-{slug}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_short_ascii_slugs() {
        assert_eq!(
            branch_name(7, "Fix the README's typo!"),
            "bosun/7-fix-the-readme-s-typo"
        );
        assert_eq!(branch_name(3, "Ünïcode only ✓"), "bosun/3-n-code-only");
        assert_eq!(branch_name(9, "✓✓✓"), "bosun/9");
        let long = branch_name(1, &"word ".repeat(40));
        assert!(long.len() <= "bosun/1-".len() + 40, "{long}");
        assert!(!long.ends_with('-'));
    }

    #[test]
    fn repository_names_that_could_escape_the_data_dir_are_refused() {
        assert!(valid_repo_name("octo/hello-world.rs"));
        for bad in [
            "octo", "../x", "octo/..", "octo/a/b", "octo/", "/etc", "o c/t",
        ] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests_git;
