//! What every job handler gets: the database, the door to GitHub, who bosun is, settings,
//! and the short-lived caches that keep repeated triggers from repeating API calls.

use crate::db::{Db, RecordError};
use crate::github::client::{GitHub, GitHubError, Installation};
use crate::locks::lock;
use bosun_core::ids::{RepoId, RepoRef};
use bosun_core::model::InvalidTransition;
use bosun_core::repo_config::REPO_CONFIG_PATH;
use bosun_core::repo_config::{parse_repo_config, RepoConfig};
use bosun_core::trigger::Identity;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Clone)]
pub struct WorkerSettings {
    pub workers: usize,
    pub lease: Duration,
    pub placeholder: Duration,
    /// How long a deferred job waits before it looks again.
    pub defer_delay: Duration,
    /// The agent runner; `None` in placeholder run mode.
    pub runner: Option<Arc<crate::run::runner::Runner>>,
    pub allowed_bot_ids: Vec<u64>,
    /// How long a permission answer is trusted.
    pub permission_ttl: Duration,
    /// How long a repo config is trusted (there is no push webhook to invalidate it).
    pub config_ttl: Duration,
    /// How many task runs may hold workers at once.
    pub run_limits: crate::db::RunLimits,
    /// Spending limits past which no new run starts.
    pub spend_limits: SpendLimits,
}

/// Micro-dollars a repository may spend per UTC day, an installation per UTC month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendLimits {
    pub repo_daily: Option<u64>,
    pub installation_monthly: Option<u64>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            workers: 4,
            lease: Duration::from_secs(60),
            placeholder: Duration::ZERO,
            runner: None,
            defer_delay: Duration::from_secs(30),
            allowed_bot_ids: Vec::new(),
            permission_ttl: Duration::from_secs(300),
            config_ttl: Duration::from_secs(60),
            run_limits: crate::config::run::Limits::default().run_limits(4),
            spend_limits: SpendLimits::default(),
        }
    }
}

pub struct Ctx {
    pub db: Db,
    pub github: GitHub,
    pub identity: Identity,
    pub settings: WorkerSettings,
    /// Signalled (`notify_one`, which keeps a permit, so no wake-up is lost between a worker's
    /// empty claim and its wait) whenever jobs are enqueued; a worker that finds a job passes
    /// the signal on.
    pub jobs_added: Arc<Notify>,
    permissions: Mutex<HashMap<(RepoId, String), (bool, Instant)>>,
    configs: Mutex<HashMap<RepoId, (ConfigResult, Instant)>>,
}

/// A repo config, or why the file could not be used (with the blob sha, so the complaint is
/// posted once per broken version of the file).
pub type ConfigResult = Result<RepoConfig, ConfigProblem>;

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub message: String,
    pub sha: String,
}

/// A failure of a job: `Retry` runs it again later with backoff, `Fail` gives up at once,
/// `Fenced` means another worker owns the job now and this one must walk away quietly.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0:#}")]
    Retry(anyhow::Error),
    #[error("{0:#}")]
    Fail(anyhow::Error),
    #[error("lease lost")]
    Fenced,
    /// Something the job needs is away (the sandbox backend): try again after
    /// `WorkerSettings::defer_delay`, without using up an attempt.
    #[error("{0:#}")]
    Defer(anyhow::Error),
}

impl From<GitHubError> for JobError {
    fn from(e: GitHubError) -> Self {
        if e.is_transient() {
            JobError::Retry(e.into())
        } else {
            JobError::Fail(e.into())
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Retry(e.into())
    }
}

impl From<InvalidTransition> for JobError {
    fn from(e: InvalidTransition) -> Self {
        JobError::Fail(e.into())
    }
}

impl From<RecordError> for JobError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Fenced => JobError::Fenced,
            RecordError::Db(db) => JobError::Retry(db.into()),
            other => JobError::Fail(other.into()),
        }
    }
}

impl Ctx {
    pub fn new(db: Db, github: GitHub, identity: Identity, settings: WorkerSettings) -> Self {
        Ctx {
            db,
            github,
            identity,
            settings,
            jobs_added: Arc::new(Notify::new()),
            permissions: Mutex::new(HashMap::new()),
            configs: Mutex::new(HashMap::new()),
        }
    }

    /// Write, maintain or admin on the repository, asked of the API (never inferred from the
    /// payload's `author_association`) and cached for `permission_ttl`.
    pub async fn can_write(
        &self,
        client: &Installation,
        repo: &RepoRef,
        repo_id: RepoId,
        login: &str,
    ) -> Result<bool, GitHubError> {
        let key = (repo_id, login.to_ascii_lowercase());
        let ttl = self.settings.permission_ttl;
        if let Some((allowed, at)) = lock(&self.permissions).get(&key) {
            if at.elapsed() < ttl {
                return Ok(*allowed);
            }
        }
        let allowed = client
            .collaborator_permission(repo, login)
            .await?
            .can_write();
        lock(&self.permissions).insert(key, (allowed, Instant::now()));
        Ok(allowed)
    }

    /// The repository's `.github/bosun.yml` from the default branch, defaults when absent.
    pub async fn repo_config(
        &self,
        client: &Installation,
        repo: &RepoRef,
        repo_id: RepoId,
    ) -> Result<ConfigResult, GitHubError> {
        if let Some((config, at)) = lock(&self.configs).get(&repo_id) {
            if at.elapsed() < self.settings.config_ttl {
                return Ok(config.clone());
            }
        }
        let config = match client.get_file(repo, REPO_CONFIG_PATH).await? {
            None => Ok(RepoConfig::default()),
            Some(file) => parse_repo_config(&file.text).map_err(|e| ConfigProblem {
                message: e.to_string(),
                sha: file.sha,
            }),
        };
        lock(&self.configs).insert(repo_id, (config.clone(), Instant::now()));
        if let Ok(config) = &config {
            self.sync_repo_jobs(repo, config).await;
        }
        Ok(config)
    }

    /// Reads the repository's file again after a push that may have changed it: the cached
    /// copy is dropped, so its settings apply to the next trigger and its jobs are updated now.
    /// A broken file is only logged here (no issue to comment on); the next trigger's comment
    /// says what is wrong.
    pub async fn refresh_repo_config(
        &self,
        req: &bosun_core::trigger::ConfigRefresh,
    ) -> Result<(), JobError> {
        lock(&self.configs).remove(&req.repo_id);
        let client = self.github.installation(req.installation);
        match self.repo_config(&client, &req.repo, req.repo_id).await? {
            Ok(_) => tracing::info!("configuration read again"),
            Err(problem) => {
                tracing::warn!(problem = %problem.message, "the pushed configuration is broken")
            }
        }
        Ok(())
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
