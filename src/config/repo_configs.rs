//! Each repository's `.github/bosun.yml`, read from its default branch through the door and
//! remembered for a while (a push that changes it makes bosun forget it at once). Reading a
//! file also brings the schedules table in line with the jobs it declares. Intake asks the
//! remembered copies whether a label means anything, so a label that does not costs no job.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::github::client::{GitHubError, Installation};
use crate::locks::lock;
use bosun_core::ids::{RepoId, RepoRef};
use bosun_core::repo_config::{parse_repo_config, RepoConfig, REPO_CONFIG_PATH};

/// A repo config, or why the file could not be used (with the blob sha, so the complaint is
/// posted once per broken version of the file).
pub type ConfigResult = Result<RepoConfig, ConfigProblem>;

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub message: String,
    pub sha: String,
}

pub struct RepoConfigs {
    db: Db,
    ttl: Duration,
    read: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    configs: HashMap<RepoId, (ConfigResult, Instant)>,
    /// Bumped by each `forget`: a read that began before it is not remembered, because it
    /// may hold the file as it was before the push that made bosun forget it.
    forgotten: HashMap<RepoId, u64>,
}

impl RepoConfigs {
    /// A file read is trusted for `ttl`; its jobs are written to `db`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        RepoConfigs {
            db,
            ttl,
            read: Mutex::new(Remembered::default()),
        }
    }

    /// The repository's configuration, defaults when the file is absent.
    pub async fn get(
        &self,
        client: &Installation,
        repo: &RepoRef,
        repo_id: RepoId,
    ) -> Result<ConfigResult, GitHubError> {
        let began = {
            let read = lock(&self.read);
            if let Some(config) = self.fresh(&read, repo_id) {
                return Ok(config.clone());
            }
            read.forgotten.get(&repo_id).copied()
        };
        let config = match client.get_file(repo, REPO_CONFIG_PATH).await? {
            None => Ok(RepoConfig::default()),
            Some(file) => parse_repo_config(&file.text).map_err(|e| ConfigProblem {
                message: e.to_string(),
                sha: file.sha,
            }),
        };
        {
            let mut read = lock(&self.read);
            if read.forgotten.get(&repo_id).copied() == began {
                read.configs
                    .insert(repo_id, (config.clone(), Instant::now()));
            }
        }
        if let Ok(config) = &config {
            self.sync_repo_jobs(repo, config).await;
        }
        Ok(config)
    }

    /// Drops the remembered copy: the next [`RepoConfigs::get`] reads the file again.
    pub fn forget(&self, repo_id: RepoId) {
        let mut read = lock(&self.read);
        read.configs.remove(&repo_id);
        *read.forgotten.entry(repo_id).or_default() += 1;
    }

    /// Remembers `config` as if just read, for tests of what intake decides from it.
    #[cfg(test)]
    pub fn remember(&self, repo_id: RepoId, config: RepoConfig) {
        lock(&self.read)
            .configs
            .insert(repo_id, (Ok(config), Instant::now()));
    }

    /// Whether adding `label` to an issue of the repository asks bosun for anything, from a
    /// valid copy read within the TTL; `None` without one (never read, expired, forgotten
    /// after a push, or broken: the trigger job then reads the file and answers a broken one).
    pub fn label_asks(&self, repo_id: RepoId, label: &str) -> Option<bool> {
        match self.fresh(&lock(&self.read), repo_id) {
            Some(Ok(config)) => Some(config.label_asks(label).is_some()),
            _ => None,
        }
    }

    /// The copy read within the TTL, if there is one.
    fn fresh<'a>(&self, read: &'a Remembered, repo_id: RepoId) -> Option<&'a ConfigResult> {
        read.configs
            .get(&repo_id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(config, _)| config)
    }

    /// Makes the schedules table hold the jobs of the repository's file as just read (a
    /// broken file leaves them as they were). Best effort: the next read tries again.
    async fn sync_repo_jobs(&self, repo: &RepoRef, config: &RepoConfig) {
        let source = bosun_core::schedule::ScheduleSource::Repo(repo.to_string());
        let rows = bosun_core::repo_config::jobs::rows(&config.jobs, &source);
        match self
            .db
            .sync_schedules(&source, &rows, crate::db::now_ms())
            .await
        {
            Ok(clashes) if clashes.is_empty() => {}
            Ok(clashes) => {
                tracing::warn!(
                    ?clashes,
                    "jobs named like ones from elsewhere were left out"
                )
            }
            Err(e) => tracing::warn!(error = %e, "could not update the repository's jobs"),
        }
    }
}
