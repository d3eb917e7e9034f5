//! `bosun task kill` and `bosun task retry`: the operator's `@bosun stop` and `@bosun retry`.
//!
//! They write what the trigger job writes for those commands (`task::handle_trigger::apply`),
//! through the same checked event log: a `stopped` event, or a `triggered` event that opens
//! the next attempt, each in one transaction with the same durable jobs (a face refresh, and
//! for a retry the run). The server's workers then do the rest as for a comment: the run's
//! watcher sees the stop and stops the container within a second, the face job puts the
//! status label and the tracking comment right, the run job starts the attempt.
//!
//! The trigger job itself is not enqueued: it asks GitHub whether its sender may write to the
//! repository, and an operator at this machine is no GitHub account. Whoever can run this
//! command owns the data directory, which is more than write access.

use std::path::Path;

use crate::config::run::{micro_usd, RunConfig};
use crate::db::{Db, NewAttempt, RecordError, StartOutcome, TaskRow};
use crate::task::model::{project, TaskEvent, TaskId, TriggerSource};
use crate::worker::job::Job;

pub async fn kill(db: &Db, id: TaskId) -> anyhow::Result<()> {
    let task = find(db, id).await?;
    anyhow::ensure!(
        task.status.is_active(),
        "task {id} is {}: there is nothing to stop",
        task.status
    );
    let by = local_actor();
    let face = [Job::SyncFace { task: id }.to_new(0)];
    match db
        .record(id, &TaskEvent::Stopped { by: by.clone() }, None, &face)
        .await
    {
        Ok(_) => {}
        Err(RecordError::Invalid(_)) => {
            anyhow::bail!("task {id} ended meanwhile: there is nothing to stop")
        }
        Err(e) => return Err(e.into()),
    }
    println!(
        "task {id}: stop recorded, by {by}. A running bosun server stops the run within a \
         second and marks the issue failed; without one, that happens when it starts."
    );
    Ok(())
}

pub async fn retry(
    db: &Db,
    id: TaskId,
    note: Option<String>,
    run_config: Option<&Path>,
) -> anyhow::Result<()> {
    let task = find(db, id).await?;
    anyhow::ensure!(
        !task.status.is_active(),
        "task {id} is {} and still going: `bosun task kill {id}` stops it first",
        task.status
    );
    if let Some(why) = spent_budget(db, &task, run_config).await? {
        anyhow::bail!(
            "not starting: {why}. Ask again after that, or raise the limit in the run \
             configuration (`limits.repo_daily_budget_usd`, `limits.installation_monthly_budget_usd`)"
        );
    }
    let state = project(&db.task_events(id).await?)?;
    let by = local_actor();
    let new = NewAttempt {
        repo_id: task.repo_id,
        repo: task.repo.clone(),
        installation: task.installation,
        issue: task.issue,
        label_prefix: task.label_prefix.clone(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind: task.kind,
            by: by.clone(),
            // The model has no source for the command line; the issue's own thread is the
            // closest, and nothing reads the source but a plan's parts.
            source: TriggerSource::IssueBody,
            instructions: note.unwrap_or_default(),
            // The issue as the last trusted trigger saw it: the operator retries that work,
            // and an edit made since by someone untrusted must not become the prompt.
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
        StartOutcome::Started(row) => {
            println!(
                "task {id}: attempt {} queued, by {by}. A running bosun server starts it within \
                 a second; `bosun task logs {id} --follow` shows the agent's output.",
                row.attempt
            );
            Ok(())
        }
        StartOutcome::AlreadyActive(row) => anyhow::bail!(
            "task {id} became {} meanwhile: nothing was queued",
            row.status
        ),
    }
}

async fn find(db: &Db, id: TaskId) -> anyhow::Result<TaskRow> {
    db.task(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no task {id}: `bosun task list` shows the tasks"))
}

/// Who asked, as the task's events record it: `cli:<local user>`. In backticks, because the
/// tracking comment writes the requester as `@<by>`, and a bare `@cli:alice` would mention
/// (and notify) the GitHub account `cli`.
pub fn local_actor() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        // SAFETY: getuid cannot fail and touches no memory.
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(39)
        .collect();
    format!("`cli:{clean}`")
}

/// The repository's daily or the installation's monthly budget, when spent: a retry would
/// start a new run, which `@bosun retry` refuses then too (from the same run configuration and
/// the same statistics; a repository's own lower daily budget is in its `.github/bosun.yml`,
/// which the command line cannot read, so only the server's limits apply here).
async fn spent_budget(
    db: &Db,
    task: &TaskRow,
    run_config: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    let limits = RunConfig::load(run_config)?.limits;
    let limits = crate::worker::context::SpendLimits {
        repo_daily: limits.repo_daily_budget_usd.map(micro_usd),
        installation_monthly: limits.installation_monthly_budget_usd.map(micro_usd),
    };
    Ok(crate::task::spending::spent_budget(db, limits, task.repo_id, task.installation).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_cannot_mention_anyone() {
        let actor = local_actor();
        assert!(
            actor.starts_with("`cli:") && actor.ends_with('`'),
            "{actor}"
        );
        assert!(!actor[1..actor.len() - 1].contains('`'));
    }
}
