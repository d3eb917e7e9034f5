//! Commits a snapshot on the task branch in the mirror and pushes it. libgit2 runs no hooks
//! and the mirror's config is bosun's own, so nothing the agent wrote takes part.

use git2::{Oid, PushOptions, Repository, Signature};

use super::mirror::{callbacks, locked};
use super::{GitError, Workspace};
use crate::github::secret::Secret;

/// Who bosun's commits are by: the App's bot account, as GitHub shows it.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// The App's bot login (`<slug>[bot]`) with GitHub's no-reply address for it,
    /// `<bot user id>+<slug>[bot]@users.noreply.github.com`, which links the commit to the
    /// App's account on GitHub. Without the id the address still names the bot, unlinked.
    pub fn bot(bot_login: &str, bot_user_id: Option<u64>) -> Self {
        let email = match bot_user_id {
            Some(id) => format!("{id}+{bot_login}@users.noreply.github.com"),
            None => format!("{bot_login}@users.noreply.github.com"),
        };
        Author {
            name: bot_login.to_string(),
            email,
        }
    }
}

/// Creates the commit of `tree` on top of the base and points the task branch at it.
pub fn commit(
    ws: &Workspace,
    tree: Oid,
    message: &str,
    author: &Author,
) -> Result<String, GitError> {
    locked(&ws.mirror, || {
        let repo = Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
        let base = Oid::from_str(&ws.base_sha)
            .and_then(|id| repo.find_commit(id))
            .map_err(GitError::git("read the base commit"))?;
        let tree = repo
            .find_tree(tree)
            .map_err(GitError::git("read the new tree"))?;
        let signature = Signature::now(&author.name, &author.email)
            .map_err(GitError::git("sign the commit"))?;
        let id = repo
            .commit(None, &signature, &signature, message, &tree, &[&base])
            .map_err(GitError::git("create the commit"))?;
        repo.reference(
            &format!("refs/heads/{}", ws.branch),
            id,
            true,
            "bosun: task commit",
        )
        .map_err(GitError::git("update the task branch"))?;
        Ok(id.to_string())
    })
}

/// Where a task's held-back change waits for approval, in the mirror (never pushed as is).
pub fn held_ref(task: bosun_core::model::TaskId) -> String {
    format!("refs/bosun/held/task-{}", task.0)
}

/// Commits `tree` (the change with its held-back paths) on top of the pushed commit `parent`
/// and keeps it under [`held_ref`], replacing what an earlier attempt held.
pub fn hold(
    ws: &Workspace,
    task: bosun_core::model::TaskId,
    tree: Oid,
    parent: &str,
    message: &str,
    author: &Author,
) -> Result<String, GitError> {
    locked(&ws.mirror, || {
        let repo = Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
        let parent = Oid::from_str(parent)
            .and_then(|id| repo.find_commit(id))
            .map_err(GitError::git("read the pushed commit"))?;
        let tree = repo
            .find_tree(tree)
            .map_err(GitError::git("read the held tree"))?;
        let signature = Signature::now(&author.name, &author.email)
            .map_err(GitError::git("sign the commit"))?;
        let id = repo
            .commit(None, &signature, &signature, message, &tree, &[&parent])
            .map_err(GitError::git("create the held commit"))?;
        repo.reference(&held_ref(task), id, true, "bosun: held back")
            .map_err(GitError::git("keep the held commit"))?;
        Ok(id.to_string())
    })
}

/// Pushes a task's held commit onto `branch` on the remote, only as a fast-forward (a branch
/// that moved since is refused, not overwritten), then forgets it. Its sha; `Ok(None)` when
/// nothing is held.
pub fn push_held(
    mirror: &std::path::Path,
    clone_url: &str,
    task: bosun_core::model::TaskId,
    branch: &str,
    token: Option<&Secret>,
) -> Result<Option<String>, GitError> {
    locked(mirror, || {
        let repo = Repository::open_bare(mirror).map_err(GitError::git("open the mirror"))?;
        let name = held_ref(task);
        let Ok(held) = repo.find_reference(&name) else {
            return Ok(None);
        };
        let sha = held
            .target()
            .map(|id| id.to_string())
            .ok_or_else(|| GitError::Refused("the held change is not a commit".into()))?;
        push_refspec(
            &repo,
            clone_url,
            token,
            &format!("{name}:refs/heads/{branch}"),
        )?;
        let mut held = repo
            .find_reference(&name)
            .map_err(GitError::git("read the held change"))?;
        held.delete()
            .map_err(GitError::git("forget the held change"))?;
        Ok(Some(sha))
    })
}

/// Deletes `branch` on the remote (`:refs/heads/<branch>`), with the mirror's lock held.
pub(super) fn delete_remote_branch(
    repo: &Repository,
    clone_url: &str,
    branch: &str,
    token: Option<&Secret>,
) -> Result<(), GitError> {
    let mut remote = repo
        .remote_anonymous(clone_url)
        .map_err(GitError::git("set up the remote"))?;
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks(token));
    let refspec = format!(":refs/heads/{branch}");
    remote
        .push(&[refspec.as_str()], Some(&mut options))
        .map_err(GitError::git("delete the branch"))
}

/// How a push treats what the remote branch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// Replace what an earlier attempt pushed (a fresh attempt starts from the base branch).
    Replace,
    /// Only add commits: a pull request under review never has its history rewritten, and a
    /// branch someone else pushed to meanwhile is refused rather than overwritten.
    FastForward,
}

/// Pushes the task branch to the remote.
pub fn push(ws: &Workspace, token: Option<&Secret>, mode: PushMode) -> Result<(), GitError> {
    locked(&ws.mirror, || {
        let repo = Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
        let force = if mode == PushMode::Replace { "+" } else { "" };
        let refspec = format!("{force}refs/heads/{0}:refs/heads/{0}", ws.branch);
        push_refspec(&repo, &ws.clone_url, token, &refspec)
    })
}

/// Pushes one refspec; a ref the remote refuses (not a fast-forward, protected) is an error
/// naming it.
fn push_refspec(
    repo: &Repository,
    clone_url: &str,
    token: Option<&Secret>,
    refspec: &str,
) -> Result<(), GitError> {
    let mut remote = repo
        .remote_anonymous(clone_url)
        .map_err(GitError::git("set up the remote"))?;
    let mut rejected: Option<String> = None;
    let mut cbs = callbacks(token);
    cbs.push_update_reference(|name, status| {
        if let Some(status) = status {
            rejected = Some(format!("{name}: {status}"));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(cbs);
    remote
        .push(&[refspec], Some(&mut options))
        .map_err(GitError::git("push the branch"))?;
    drop(options);
    match rejected {
        Some(why) => Err(GitError::Refused(format!(
            "the remote refused the push ({why})"
        ))),
        None => Ok(()),
    }
}
