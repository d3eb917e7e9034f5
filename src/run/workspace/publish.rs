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
        let mut remote = repo
            .remote_anonymous(&ws.clone_url)
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
        let force = if mode == PushMode::Replace { "+" } else { "" };
        let refspec = format!("{force}refs/heads/{0}:refs/heads/{0}", ws.branch);
        remote
            .push(&[refspec.as_str()], Some(&mut options))
            .map_err(GitError::git("push the branch"))?;
        drop(options);
        match rejected {
            Some(why) => Err(GitError::Refused(format!(
                "the remote refused the push ({why})"
            ))),
            None => Ok(()),
        }
    })
}
