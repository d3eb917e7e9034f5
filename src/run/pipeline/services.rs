//! What a run uses of the App around it. The engine lends its own (`engine::context::Ctx`
//! makes one); naming them here keeps `run/` from importing the engine that calls it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::repo_configs::RepoConfigs;
use crate::db::Db;
use crate::github::client::GitHub;
use crate::github::permissions::Permissions;
use bosun_core::trigger::Identity;

#[derive(Clone, Copy)]
pub struct Services<'a> {
    pub db: &'a Db,
    pub github: &'a GitHub,
    /// Who bosun is on GitHub (its bot login and user id).
    pub identity: &'a Identity,
    pub permissions: &'a Permissions,
    pub repo_configs: &'a RepoConfigs,
    /// Signalled whenever the run enqueues jobs, so an idle worker looks at once.
    pub jobs_added: &'a Arc<Notify>,
    /// How long a claim holds without a heartbeat: the run renews it before publishing.
    pub lease: Duration,
}
