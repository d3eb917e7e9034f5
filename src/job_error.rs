//! How a job's work can fail, as the queue sees it: the engine's handlers and the run pipeline
//! return it, and the pool turns it into a retry with backoff, a dead job, a deferral, or a
//! quiet walk-away from a job another worker owns now.

use crate::db::RecordError;
use crate::github::client::GitHubError;
use bosun_core::model::InvalidTransition;

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
