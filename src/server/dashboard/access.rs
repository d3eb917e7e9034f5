//! Who sees and controls what: an administrator (the server's `--admins`) every repository;
//! anyone else the repositories with tasks where GitHub says they have write, maintain or
//! admin permission (asked with the App's installation token, as for triggers, and cached
//! for five minutes). A repository whose permission cannot be asked is not shown: when in
//! doubt, show less.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::TaskRepo;
use crate::github::client::GitHub;
use crate::locks::lock;
use bosun_core::ids::RepoId;

use super::session::Session;

/// How long a permission answer is trusted (the same as for triggers).
const PERMISSION_TTL: Duration = Duration::from_secs(300);

/// The repositories a person may see and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Repos(HashSet<RepoId>),
}

impl Visible {
    pub fn allows(&self, repo: RepoId) -> bool {
        match self {
            Visible::All => true,
            Visible::Repos(set) => set.contains(&repo),
        }
    }

    /// The repository ids to filter on; `None` for all.
    pub fn ids(&self) -> Option<Vec<RepoId>> {
        match self {
            Visible::All => None,
            Visible::Repos(set) => {
                let mut ids: Vec<RepoId> = set.iter().copied().collect();
                ids.sort_by_key(|r| r.0);
                Some(ids)
            }
        }
    }
}

/// Permission answers per (repository, lower-case login).
#[derive(Default)]
pub struct AccessCache(Mutex<HashMap<(RepoId, String), (bool, Instant)>>);

impl AccessCache {
    /// Whether `login` may write to `repo`, from the cache or GitHub. An error is `false`.
    pub async fn can_write(&self, github: &GitHub, repo: &TaskRepo, login: &str) -> bool {
        let key = (repo.repo_id, login.to_ascii_lowercase());
        if let Some((allowed, at)) = lock(&self.0).get(&key) {
            if at.elapsed() < PERMISSION_TTL {
                return *allowed;
            }
        }
        let answer = github
            .installation(repo.installation)
            .collaborator_permission(&repo.repo, login)
            .await;
        match answer {
            Ok(permission) => {
                let allowed = permission.can_write();
                lock(&self.0).insert(key, (allowed, Instant::now()));
                allowed
            }
            Err(e) => {
                // Not cached: the next page view asks again.
                tracing::warn!(repo = %repo.repo, %login, error = %e, "could not ask a permission for the dashboard; not showing the repository");
                false
            }
        }
    }

    /// What `session` may see among `repos` (every repository with tasks).
    pub async fn visible(&self, github: &GitHub, session: &Session, repos: &[TaskRepo]) -> Visible {
        if session.admin {
            return Visible::All;
        }
        let checks = repos.iter().map(|r| async move {
            self.can_write(github, r, &session.login)
                .await
                .then_some(r.repo_id)
        });
        let allowed = futures_util::future::join_all(checks).await;
        Visible::Repos(allowed.into_iter().flatten().collect())
    }
}

/// Whether `login` is in the administrator list (GitHub logins compare without case).
pub fn is_admin(admins: &[String], login: &str) -> bool {
    admins
        .iter()
        .any(|a| !a.trim().is_empty() && a.trim().eq_ignore_ascii_case(login))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_compare_without_case_and_blanks_count_for_nobody() {
        let admins = vec![" Alice".to_string(), String::new()];
        assert!(is_admin(&admins, "alice"));
        assert!(!is_admin(&admins, "bob"));
        assert!(!is_admin(&admins, ""));
    }

    #[test]
    fn visibility() {
        let some = Visible::Repos([RepoId(2), RepoId(1)].into_iter().collect());
        assert!(some.allows(RepoId(1)) && !some.allows(RepoId(3)));
        assert_eq!(some.ids(), Some(vec![RepoId(1), RepoId(2)]));
        assert!(Visible::All.allows(RepoId(9)));
        assert_eq!(Visible::All.ids(), None);
    }
}
