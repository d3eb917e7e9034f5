//! The bare mirror: created once per repository, fetched before each task. The remote URL is
//! given on each fetch (an anonymous remote), so no URL and no token is ever written into the
//! mirror's config; the token reaches libgit2 only through the credentials callback.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use git2::{AutotagOption, Cred, FetchOptions, Oid, RemoteCallbacks, Repository};

use crate::github::secret::Secret;

/// What went wrong with git, phrased for the tracking comment.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("could not {what}: {message}")]
    Git { what: &'static str, message: String },
    #[error("could not {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the remote has no branch `{0}`")]
    NoSuchBranch(String),
    #[error("{0}")]
    Refused(String),
}

/// What the credentials callback says when the remote refuses the token it was given.
const TOKEN_REFUSED: &str = "the remote refused the installation token";

impl GitError {
    /// The remote refused the token (revoked, expired early): a fresh token may work.
    pub fn auth_refused(&self) -> bool {
        match self {
            GitError::Git { message, .. } => {
                message.contains(TOKEN_REFUSED) || message.contains("status code: 401")
            }
            _ => false,
        }
    }

    pub(crate) fn git(what: &'static str) -> impl Fn(git2::Error) -> GitError {
        move |e| GitError::Git {
            what,
            message: e.message().to_string(),
        }
    }

    pub(crate) fn io(what: &'static str) -> impl Fn(std::io::Error) -> GitError {
        move |source| GitError::Io { what, source }
    }
}

/// Runs `f` holding the mirror's lock: two tasks on one repository must not fetch or update
/// refs at the same time, while tasks on different repositories go in parallel.
pub(super) fn locked<T>(path: &Path, f: impl FnOnce() -> T) -> T {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let one = {
        let mut all = crate::locks::lock(LOCKS.get_or_init(Default::default));
        all.entry(path.to_path_buf()).or_default().clone()
    };
    let _held = crate::locks::lock(&one);
    f()
}

pub(super) fn open_or_init(path: &Path) -> Result<Repository, GitError> {
    if path.join("HEAD").exists() {
        return Repository::open_bare(path).map_err(GitError::git("open the mirror"));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(GitError::io("create the mirror directory"))?;
    }
    Repository::init_bare(path).map_err(GitError::git("create the mirror"))
}

/// Fetches every branch into `refs/remotes/origin/*`, pruning deleted ones. `progress` hears
/// (received objects, total objects, received bytes) as the pack arrives.
pub(super) fn fetch(
    repo: &Repository,
    url: &str,
    token: Option<&Secret>,
    progress: &dyn Fn(u64, u64, u64),
) -> Result<(), GitError> {
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(GitError::git("set up the remote"))?;
    let mut callbacks: RemoteCallbacks<'_> = callbacks(token);
    callbacks.transfer_progress(|stats| {
        progress(
            stats.received_objects() as u64,
            stats.total_objects() as u64,
            stats.received_bytes() as u64,
        );
        true
    });
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks)
        .download_tags(AutotagOption::None)
        .prune(git2::FetchPrune::On);
    remote
        .fetch(
            &["+refs/heads/*:refs/remotes/origin/*"],
            Some(&mut options),
            None,
        )
        .map_err(GitError::git("fetch the repository"))
}

/// Callbacks that answer the server's credential request with the token, once: libgit2 asks
/// again after a refusal, and answering the same token forever would loop.
pub(super) fn callbacks(token: Option<&Secret>) -> RemoteCallbacks<'static> {
    let mut callbacks = RemoteCallbacks::new();
    let token = token.cloned();
    let mut asked = false;
    callbacks.credentials(move |_url, _user, _allowed| match &token {
        Some(token) if !asked => {
            asked = true;
            Cred::userpass_plaintext("x-access-token", token.expose())
        }
        Some(_) => Err(git2::Error::from_str(TOKEN_REFUSED)),
        None => Err(git2::Error::from_str(
            "the remote asked for credentials and bosun has none for it",
        )),
    });
    callbacks
}

pub(super) fn remote_head(repo: &Repository, branch: &str) -> Result<Oid, GitError> {
    let name = format!("refs/remotes/origin/{branch}");
    let reference = repo
        .find_reference(&name)
        .map_err(|_| GitError::NoSuchBranch(branch.to_string()))?;
    reference
        .peel_to_commit()
        .map(|c| c.id())
        .map_err(GitError::git("read the branch head"))
}
