//! Stop and retry from outside GitHub (`bosun task kill|retry`, the dashboard's buttons): the
//! same event and the same durable jobs the trigger job writes for `@bosun stop` and
//! `@bosun retry` (`engine::handlers::trigger`), through the same checked event log.
//!
//! A `stopped` event, or a `triggered` event that opens the next attempt, is recorded in one
//! transaction with a face refresh (and for a retry the run). The server's workers do the rest
//! as for a comment: the run's watcher sees the stop and stops the container within a second,
//! the face job puts the status label and tracking comment right, the run job starts the
//! attempt. Whoever calls this has checked that `by` may act on the task.

use std::path::Path;

use crate::config::run::{micro_usd, RunConfig};
use crate::db::{Db, NewAttempt, RecordError, StartOutcome, TaskRow};
use crate::engine::context::SpendLimits;
use bosun_core::job::Job;
use bosun_core::model::{project, TaskEvent, TaskId, TaskStatus, TriggerSource};

/// Why a stop or retry did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no task {0}")]
    NoTask(TaskId),
    #[error("task {id} is {status}: there is nothing to stop")]
    NothingToStop { id: TaskId, status: TaskStatus },
    #[error("task {0} ended meanwhile: there is nothing to stop")]
    EndedMeanwhile(TaskId),
    #[error("task {id} is {status} and still going: stop it first")]
    StillGoing { id: TaskId, status: TaskStatus },
    #[error("task {id} became {status} meanwhile: nothing was queued")]
    BecameActive { id: TaskId, status: TaskStatus },
    /// A spending limit is reached; the text names the budget and the numbers.
    #[error("not starting: {0}")]
    BudgetSpent(String),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Records that `by` stopped the task's running attempt, with its face refresh.
pub async fn stop(db: &Db, id: TaskId, by: &str) -> Result<TaskRow, ControlError> {
    let task = db.task(id).await?.ok_or(ControlError::NoTask(id))?;
    if !task.status.is_active() {
        return Err(ControlError::NothingToStop {
            id,
            status: task.status,
        });
    }
    let face = [Job::SyncFace { task: id }.to_new(0)];
    match db
        .record(id, &TaskEvent::Stopped { by: by.to_string() }, None, &face)
        .await
    {
        Ok(row) => Ok(row),
        Err(RecordError::Invalid(_)) => Err(ControlError::EndedMeanwhile(id)),
        Err(e) => Err(e.into()),
    }
}

/// Opens the next attempt of a task that is not going, on behalf of `by`, with `note` as its
/// instructions, unless a spending limit in `limits` is reached.
pub async fn retry(
    db: &Db,
    id: TaskId,
    by: &str,
    note: Option<String>,
    limits: SpendLimits,
) -> Result<TaskRow, ControlError> {
    let task = db.task(id).await?.ok_or(ControlError::NoTask(id))?;
    if task.status.is_active() {
        return Err(ControlError::StillGoing {
            id,
            status: task.status,
        });
    }
    if let Some(why) =
        crate::engine::spending::spent_budget(db, limits, task.repo_id, task.installation).await?
    {
        return Err(ControlError::BudgetSpent(why));
    }
    let events = db.task_events(id).await?;
    let state = project(&events).map_err(RecordError::from)?;
    let new = NewAttempt {
        repo_id: task.repo_id,
        repo: task.repo.clone(),
        installation: task.installation,
        issue: task.issue,
        label_prefix: task.label_prefix.clone(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind: task.kind,
            by: by.to_string(),
            // Neither a terminal nor a web page is a source the model has; the issue's own
            // thread is the closest, and nothing reads the source but a plan's parts.
            source: TriggerSource::IssueBody,
            instructions: note.unwrap_or_default(),
            // The issue as the last trusted trigger saw it: the retry is of that work, and an
            // edit made since by someone untrusted must not become the prompt.
            issue: state.issue.clone(),
        },
    };
    let outcome = db
        .start_attempt(new, |t| {
            vec![
                Job::SyncFace { task: t.id }.to_new(0),
                Job::Run {
                    task: t.id,
                    attempt: t.attempt,
                }
                .to_new(0),
            ]
        })
        .await?;
    match outcome {
        StartOutcome::Started(row) => Ok(row),
        StartOutcome::AlreadyActive(row) => Err(ControlError::BecameActive {
            id,
            status: row.status,
        }),
    }
}

/// The server's spending limits from its run configuration (`--config`): the ones a retry is
/// checked against. A repository's own lower daily budget lives in its `.github/bosun.yml`,
/// which is not read here, so only the server's limits apply to retries from outside GitHub.
pub fn spend_limits(run_config: Option<&Path>) -> anyhow::Result<SpendLimits> {
    let limits = RunConfig::load(run_config)?.limits;
    Ok(SpendLimits {
        repo_daily: limits.repo_daily_budget_usd.map(micro_usd),
        installation_monthly: limits.installation_monthly_budget_usd.map(micro_usd),
    })
}
