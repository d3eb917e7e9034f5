//! A server job's tick: open an issue in its repository with the job's prompt (found again by
//! its marker if a retry or a lost answer already opened it) and start a task on it, on behalf
//! of the App. The task then runs like any other: route, agent, gates, review, pull request.

use crate::db::{NewAttempt, StartOutcome};
use crate::engine::context::Ctx;
use crate::github::client::Installation;
use crate::github::error::GitHubError;
use crate::github::issues::NewIssue;
use crate::github::types::IssueInfo;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::ids::{InstallationId, RepoId, RepoRef};
use bosun_core::job::Job;
use bosun_core::model::{IssueSnapshot, TaskEvent, TaskKind, TriggerSource};
use bosun_core::schedule::ScheduleRow;

pub async fn handle_schedule(ctx: &Ctx, name: &str, tick: i64) -> Result<(), JobError> {
    let Some(job) = ctx.db.schedule(name).await? else {
        tracing::info!("the job was removed before its tick ran");
        return Ok(());
    };
    let Some(target) = target_of(ctx, &job).await? else {
        return Ok(());
    };
    let marker = format!("<!-- bosun:schedule {}:{tick} -->", hex::encode(name));
    let body =
        reply::scheduled_issue_body(&job.prompt, job.command.as_deref(), name, tick, &marker);
    let new_issue = NewIssue {
        title: &job.title,
        body: &body,
        labels: &[],
    };
    let issue = target
        .client
        .create_issue(&target.repo, &new_issue, &marker)
        .await?;
    let new = scheduled_attempt(&target, &issue, (name, tick), &ctx.identity.bot_login);
    let outcome = ctx
        .db
        .start_attempt(new, |task| {
            vec![
                Job::SyncFace { task: task.id }.to_new(0),
                Job::Run {
                    task: task.id,
                    attempt: task.attempt,
                }
                .to_new(0),
            ]
        })
        .await?;
    if let StartOutcome::Started(task) = outcome {
        tracing::info!(task = %task.id, issue = %issue.number, "scheduled task started");
    }
    ctx.jobs_added.notify_one();
    Ok(())
}

/// Where a job's tick goes: its repository, reached through the App's installation there.
struct Target {
    repo: RepoRef,
    repo_id: RepoId,
    installation: InstallationId,
    client: Installation,
    label_prefix: String,
}

/// The job's repository, or `None` (logged) when the tick cannot go there: no repository
/// named, the App not installed, or a broken `.github/bosun.yml`.
async fn target_of(ctx: &Ctx, job: &ScheduleRow) -> Result<Option<Target>, JobError> {
    let repo: RepoRef = match job.repo.parse() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(repo = %job.repo, error = %e, "the job names no repository");
            return Ok(None);
        }
    };
    let installation = match ctx.github.repo_installation(&repo).await {
        Ok(id) => id,
        Err(GitHubError::NotFound { .. }) => {
            tracing::warn!(%repo, "the App is not installed on the job's repository; skipping");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let client = ctx.github.installation(installation);
    let repository = client.repository(&repo).await?;
    let config = match ctx.repo_configs.get(&client, &repo, repository.id).await? {
        Ok(config) => config,
        Err(problem) => {
            tracing::warn!(%repo, problem = %problem.message, "the repository's config is broken; the job's tick is skipped");
            return Ok(None);
        }
    };
    Ok(Some(Target {
        repo,
        repo_id: repository.id,
        installation,
        client,
        label_prefix: config.label_prefix,
    }))
}

/// The task of the tick's issue, started on the App's behalf.
fn scheduled_attempt(
    target: &Target,
    issue: &IssueInfo,
    (name, tick): (&str, i64),
    bot: &str,
) -> NewAttempt {
    NewAttempt {
        repo_id: target.repo_id,
        repo: target.repo.clone(),
        installation: target.installation,
        issue: issue.number,
        label_prefix: target.label_prefix.clone(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind: TaskKind::Implement,
            by: bot.to_string(),
            source: TriggerSource::Schedule {
                name: name.to_string(),
                tick,
            },
            instructions: String::new(),
            issue: Some(IssueSnapshot {
                title: issue.title.clone(),
                body: issue.body.clone(),
                author: bot.to_string(),
            }),
        },
    }
}
