//! The feedback job: a review, an inline comment or an @mention on a pull request. When the pull
//! request is the open one of a bosun task and the sender may steer bosun, the task gets a
//! follow-up attempt that answers the feedback on the same branch, or, when an attempt is already
//! active, the feedback is queued for its next round (never a second, parallel run).

use crate::db::{Fence, NewAttempt, TaskRow};
use crate::engine::context::Ctx;
use crate::engine::handlers::trigger::{apply, start_or_add, trusted_sender};
use crate::github::client::{GitHubError, Installation};
use crate::github::types::Reaction;
use crate::job_error::JobError;
use bosun_core::command::Command;
use bosun_core::ids::InstallationId;
use bosun_core::job::{FeedbackRequest, FeedbackWhat, TriggerRequest, TriggerWhat};
use bosun_core::model::{project, TaskEvent, TaskKind, TaskState, TriggerSource};
use bosun_core::trigger::issue_of_branch;

pub async fn handle_feedback(
    ctx: &Ctx,
    req: &FeedbackRequest,
    fence: Fence,
) -> Result<(), JobError> {
    match feedback(ctx, req, fence).await {
        // The App was uninstalled, or the pull request is gone: nobody is left to answer.
        Err(JobError::Fail(e))
            if e.downcast_ref::<GitHubError>()
                .is_some_and(GitHubError::is_not_found) =>
        {
            tracing::warn!(error = %e, "feedback dropped: not found on GitHub");
            Ok(())
        }
        other => other,
    }
}

async fn feedback(ctx: &Ctx, req: &FeedbackRequest, fence: Fence) -> Result<(), JobError> {
    let installation = match req.installation {
        Some(id) => id,
        None => ctx.github.repo_installation(&req.repo).await?,
    };
    let client = ctx.github.installation(installation);
    let config = match ctx
        .repo_configs
        .get(&client, &req.repo, req.repo_id)
        .await?
    {
        Ok(config) => config,
        Err(problem) => {
            // The issue's triggers report a broken config; a review is no place for it.
            tracing::warn!(error = %problem.message, "feedback ignored: the repository config is broken");
            return Ok(());
        }
    };
    if !trusted_sender(ctx, &client, &req.sender, &req.repo, req.repo_id, &config).await? {
        tracing::info!(sender = %req.sender.login, "ignored: sender may not steer bosun here");
        return Ok(());
    }
    let Some((task, state)) = task_of_pull(ctx, &client, req).await? else {
        return Ok(());
    };
    crate::engine::handlers::record_span_ids(&task);

    let text = match &req.what {
        FeedbackWhat::Review { body, .. } => body.clone(),
        FeedbackWhat::ReviewComment { .. } => String::new(),
        FeedbackWhat::Commands { comment, commands } => {
            client
                .react_to_comment(&req.repo, *comment, Reaction::Eyes)
                .await?;
            let mut texts = Vec::new();
            for (index, command) in commands.iter().enumerate() {
                match command {
                    Command::Do(text) | Command::Plan(Some(text)) => texts.push(text.clone()),
                    Command::Plan(None) => {}
                    // Stop, retry, status and help act on the task as they do on its issue,
                    // and answer there, next to the tracking comment.
                    other => {
                        let key = format!("{}:{index}", req.delivery);
                        let as_trigger = on_issue(req, &task, &state, commands.clone());
                        apply(
                            ctx,
                            &client,
                            &as_trigger,
                            &config,
                            other.clone(),
                            &key,
                            fence,
                        )
                        .await?;
                    }
                }
            }
            if !commands.iter().any(is_request) {
                return Ok(());
            }
            texts.join("\n\n")
        }
    };
    // Starts an attempt that answers the feedback, or queues it for the active one.
    let (new, queued) = revision(
        req,
        &task,
        &state,
        (client.id(), &config.label_prefix),
        text,
    );
    start_or_add(ctx, new, Some(queued), fence).await
}

fn is_request(command: &Command) -> bool {
    matches!(command, Command::Do(_) | Command::Plan(_))
}

/// The task whose open pull request this is, with its state; `None` (logged) otherwise.
async fn task_of_pull(
    ctx: &Ctx,
    client: &Installation,
    req: &FeedbackRequest,
) -> Result<Option<(TaskRow, TaskState)>, JobError> {
    let issue = match req.issue {
        Some(issue) => issue,
        None => {
            let head = client.pull_head(&req.repo, req.pr).await?;
            let same_repo = head
                .repo
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&req.repo.to_string()));
            match issue_of_branch(&head.branch) {
                Some(issue) if same_repo => issue,
                _ => {
                    tracing::debug!("a pull request bosun did not open");
                    return Ok(None);
                }
            }
        }
    };
    let Some(task) = ctx.db.task_for_issue(req.repo_id, issue).await? else {
        tracing::info!(issue = %issue, "no task for the pull request's branch");
        return Ok(None);
    };
    let state = project(&ctx.db.task_events(task.id).await?)?;
    match &state.pull {
        Some(pull) if pull.number == req.pr && !pull.closed => Ok(Some((task, state))),
        _ => {
            tracing::info!(task = %task.id, "not the task's open pull request");
            Ok(None)
        }
    }
}

/// A trigger request on the task's issue, for the commands that act the same way there.
fn on_issue(
    req: &FeedbackRequest,
    task: &TaskRow,
    state: &TaskState,
    commands: Vec<Command>,
) -> TriggerRequest {
    let issue = state.issue.clone().unwrap_or_default();
    TriggerRequest {
        delivery: req.delivery.clone(),
        installation: Some(task.installation),
        repo: req.repo.clone(),
        repo_id: req.repo_id,
        issue: task.issue,
        issue_title: issue.title,
        issue_body: issue.body,
        issue_author: issue.author,
        sender: req.sender.clone(),
        what: TriggerWhat::Commands {
            comment: None,
            commands,
        },
    }
}

/// The attempt that answers the feedback (in the task's installation, under its label
/// prefix), and the event that queues the feedback for an attempt already active.
fn revision(
    req: &FeedbackRequest,
    task: &TaskRow,
    state: &TaskState,
    (installation, label_prefix): (InstallationId, &str),
    text: String,
) -> (NewAttempt, TaskEvent) {
    let by = req.sender.login.clone();
    let new = NewAttempt {
        repo_id: req.repo_id,
        repo: req.repo.clone(),
        installation,
        issue: task.issue,
        label_prefix: label_prefix.to_string(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind: TaskKind::Revise,
            by: by.clone(),
            source: TriggerSource::PullFeedback { pr: req.pr },
            instructions: text.clone(),
            // The issue as it was when the task was first triggered: the review is about the
            // pull request, not about later edits of the issue.
            issue: state.issue.clone(),
        },
    };
    let queued = TaskEvent::FeedbackQueued {
        by,
        pr: req.pr,
        text,
    };
    (new, queued)
}
