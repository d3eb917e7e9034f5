//! Who may write to a repository: asked of the API (never inferred from a payload's
//! `author_association`) and remembered for a while, so repeated triggers by the same person
//! do not repeat the call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::{GitHubError, Installation};
use crate::locks::lock;
use bosun_core::ids::{RepoId, RepoRef};

pub struct Permissions {
    ttl: Duration,
    answers: Mutex<HashMap<(RepoId, String), (bool, Instant)>>,
}

impl Permissions {
    /// Answers are trusted for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Permissions {
            ttl,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets every answer about the repository (the App no longer covers it).
    pub fn forget_repo(&self, repo_id: RepoId) {
        lock(&self.answers).retain(|(repo, _), _| *repo != repo_id);
    }

    /// Write, maintain or admin on the repository.
    pub async fn can_write(
        &self,
        client: &Installation,
        repo: &RepoRef,
        repo_id: RepoId,
        login: &str,
    ) -> Result<bool, GitHubError> {
        let key = (repo_id, login.to_ascii_lowercase());
        if let Some((allowed, at)) = lock(&self.answers).get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(*allowed);
            }
        }
        let allowed = client
            .collaborator_permission(repo, login)
            .await?
            .can_write();
        lock(&self.answers).insert(key, (allowed, Instant::now()));
        Ok(allowed)
    }
}
