//! What every job handler gets: the database, the door to GitHub, who bosun is, settings,
//! and the short-lived caches that keep repeated triggers from repeating API calls.

use crate::config::repo_configs::RepoConfigs;
use crate::db::Db;
use crate::github::client::GitHub;
use crate::github::permissions::Permissions;
use crate::run::pipeline::Services;
use bosun_core::trigger::Identity;
use std::sync::Arc;
use std::time::Duration;
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
    /// How long a repo config is trusted (a push that changes it is followed at once).
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
    /// Who may write to a repository, asked of the API and remembered for `permission_ttl`.
    pub permissions: Permissions,
    /// Each repository's `.github/bosun.yml`, remembered for `config_ttl`; shared with
    /// intake, which drops labels that ask nothing of bosun without a job.
    pub repo_configs: Arc<RepoConfigs>,
}

impl Ctx {
    /// What the run pipeline may use of this context.
    pub fn services(&self) -> Services<'_> {
        Services {
            db: &self.db,
            github: &self.github,
            identity: &self.identity,
            permissions: &self.permissions,
            repo_configs: &self.repo_configs,
            jobs_added: &self.jobs_added,
            lease: self.settings.lease,
        }
    }

    pub fn new(db: Db, github: GitHub, identity: Identity, settings: WorkerSettings) -> Self {
        Ctx {
            permissions: Permissions::new(settings.permission_ttl),
            repo_configs: Arc::new(RepoConfigs::new(db.clone(), settings.config_ttl)),
            db,
            github,
            identity,
            settings,
            jobs_added: Arc::new(Notify::new()),
        }
    }
}
