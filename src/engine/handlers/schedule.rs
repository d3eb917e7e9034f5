//! A server job's tick: open an issue in its repository with the job's prompt (found again by
//! its marker if a retry or a lost answer already opened it) and start a task on it, on behalf
//! of the App. The task then runs like any other: route, agent, gates, review, pull request.

use crate::db::{NewAttempt, StartOutcome};
use crate::engine::context::Ctx;
use crate::github::error::GitHubError;
use crate::github::issues::NewIssue;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::ids::RepoRef;
use bosun_core::job::Job;
use bosun_core::model::{IssueSnapshot, TaskEvent, TaskKind, TriggerSource};

pub async fn handle_schedule(ctx: &Ctx, name: &str, tick: i64) -> Result<(), JobError> {
    let Some(job) = ctx.db.schedule(name).await? else {
        tracing::info!("the job was removed before its tick ran");
        return Ok(());
    };
    let repo: RepoRef = match job.repo.parse() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(repo = %job.repo, error = %e, "the job names no repository");
            return Ok(());
        }
    };
    let installation = match ctx.github.repo_installation(&repo).await {
        Ok(id) => id,
        Err(GitHubError::NotFound { .. }) => {
            tracing::warn!(%repo, "the App is not installed on the job's repository; skipping");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let client = ctx.github.installation(installation);
    let repository = client.repository(&repo).await?;
    let config = match ctx.repo_configs.get(&client, &repo, repository.id).await? {
        Ok(config) => config,
        Err(problem) => {
            tracing::warn!(%repo, problem = %problem.message, "the repository's config is broken; the job's tick is skipped");
            return Ok(());
        }
    };
    let marker = format!("<!-- bosun:schedule {}:{tick} -->", hex::encode(name));
    let body =
        reply::scheduled_issue_body(&job.prompt, job.command.as_deref(), name, tick, &marker);
    let issue = client
        .create_issue(
            &repo,
            &NewIssue {
                title: &job.title,
                body: &body,
                labels: &[],
            },
            &marker,
        )
        .await?;
    let bot = ctx.identity.bot_login.clone();
    let new = NewAttempt {
        repo_id: repository.id,
        repo: repo.clone(),
        installation,
        issue: issue.number,
        label_prefix: config.label_prefix.clone(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind: TaskKind::Implement,
            by: bot.clone(),
            source: TriggerSource::Schedule {
                name: name.to_string(),
                tick,
            },
            instructions: String::new(),
            issue: Some(IssueSnapshot {
                title: issue.title.clone(),
                body: issue.body.clone(),
                author: bot,
            }),
        },
    };
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
