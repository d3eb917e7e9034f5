//! The trigger job: decides whether a possible trigger comes from someone bosun trusts, in a
//! repository whose config allows it, then starts, steers, stops or answers.

use crate::db::{Fence, NewAttempt, StartOutcome, TaskRow};
use crate::engine::context::Ctx;
use crate::github::client::{GitHubError, Installation};
use crate::github::types::Reaction;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::command::Command;
use bosun_core::events::Actor;
use bosun_core::ids::{RepoId, RepoRef};
use bosun_core::job::Job;
use bosun_core::job::{TriggerRequest, TriggerWhat};
use bosun_core::model::{IssueSnapshot, TaskEvent, TaskKind, TriggerSource};
use bosun_core::repo_config::RepoConfig;

/// The label that triggers work when a repository's config is unreadable: only it, or a label
/// with bosun's default prefix, earns the broken-config comment.
const DEFAULT_TRIGGER_LABEL: &str = "bosun";

pub async fn handle_trigger(ctx: &Ctx, req: TriggerRequest, fence: Fence) -> Result<(), JobError> {
    match trigger(ctx, req, fence).await {
        // The App was uninstalled, or the repository or issue is gone: nobody is left to
        // answer, and trying again will not bring it back.
        Err(JobError::Fail(e))
            if e.downcast_ref::<GitHubError>()
                .is_some_and(GitHubError::is_not_found) =>
        {
            tracing::warn!(error = %e, "trigger dropped: not found on GitHub");
            Ok(())
        }
        other => other,
    }
}

async fn trigger(ctx: &Ctx, req: TriggerRequest, fence: Fence) -> Result<(), JobError> {
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
            let meant_for_us = match &req.what {
                TriggerWhat::Label { name } => {
                    name == DEFAULT_TRIGGER_LABEL
                        || name.starts_with(&format!("{DEFAULT_TRIGGER_LABEL}:"))
                }
                TriggerWhat::Commands { .. } => true,
            };
            if meant_for_us && trusted(ctx, &client, &req, &RepoConfig::default()).await? {
                tracing::warn!(repo = %req.repo, error = %problem.message, "repository config is broken");
                let key = format!("config:{}", problem.sha);
                let body = reply::config_error(&problem.message, &key);
                post_once(&client, &req, &body, &key).await?;
            }
            return Ok(());
        }
    };

    let commands = match &req.what {
        TriggerWhat::Label { name } => match config.label_asks(name) {
            Some(command) => vec![command],
            None => {
                tracing::debug!(label = %name, "not the trigger label");
                return Ok(());
            }
        },
        TriggerWhat::Commands { commands, .. } => commands.clone(),
    };

    if !trusted(ctx, &client, &req, &config).await? {
        tracing::info!(sender = %req.sender.login, "ignored: sender may not steer bosun here");
        return Ok(());
    }
    // The trigger may have waited in the queue (behind GitHub's rate limit, a busy server):
    // what was taken back meanwhile starts nothing.
    if let Some(gone) = taken_back(ctx, &client, &req).await? {
        tracing::info!(
            why = gone,
            "ignored: the trigger was taken back before it was handled"
        );
        return Ok(());
    }

    // The visible acknowledgement comes first: it is what the person is waiting for.
    match &req.what {
        TriggerWhat::Commands {
            comment: Some(comment),
            ..
        } => {
            client
                .react_to_comment(&req.repo, *comment, Reaction::Eyes)
                .await?
        }
        _ => {
            client
                .react_to_issue(&req.repo, req.issue, Reaction::Eyes)
                .await?
        }
    }

    for (index, command) in commands.into_iter().enumerate() {
        let key = format!("{}:{index}", req.delivery);
        apply(ctx, &client, &req, &config, command, &key, fence).await?;
    }
    Ok(())
}

async fn trusted(
    ctx: &Ctx,
    client: &Installation,
    req: &TriggerRequest,
    config: &RepoConfig,
) -> Result<bool, JobError> {
    trusted_sender(ctx, client, &req.sender, &req.repo, req.repo_id, config).await
}

/// bosun itself; bots only when allowlisted; people when they can write or the repo config
/// names them. (bosun's own events never reach a trigger: intake ignores them. Its edits and
/// its closing of an issue are trusted here.)
pub(crate) async fn trusted_sender(
    ctx: &Ctx,
    client: &Installation,
    sender: &Actor,
    repo: &RepoRef,
    repo_id: RepoId,
    config: &RepoConfig,
) -> Result<bool, JobError> {
    if sender.login.eq_ignore_ascii_case(&ctx.identity.bot_login) {
        return Ok(true);
    }
    if sender.is_bot {
        let id = sender.id.0;
        return Ok(ctx.settings.allowed_bot_ids.contains(&id) || config.allows_bot(id));
    }
    if config.allows_user(&sender.login) {
        return Ok(true);
    }
    Ok(ctx
        .permissions
        .can_write(client, repo, repo_id, &sender.login)
        .await?)
}

/// The issue's body as far back as people who may start work here (or bosun) wrote it
/// ([`trusted_sender`]):
/// walking the recorded edits from the newest, each one by someone else is undone, so an edit
/// slipped in before a writer's trigger is not what the agent is told. Edits that arrive after
/// the trigger are queued after it (one issue's jobs run in order), so they are not seen here.
/// Also the logins whose edits were left out.
async fn vouched_body(
    ctx: &Ctx,
    client: &Installation,
    req: &TriggerRequest,
    config: &RepoConfig,
) -> Result<(String, Vec<String>), JobError> {
    let edits = ctx.db.body_edits(req.repo_id, req.issue).await?;
    let mut body = req.issue_body.clone();
    let mut left_out: Vec<String> = Vec::new();
    for edit in edits {
        if trusted_sender(ctx, client, &edit.editor, &req.repo, req.repo_id, config).await? {
            break;
        }
        body = edit.old_body;
        if !left_out.contains(&edit.editor.login) {
            left_out.push(edit.editor.login);
        }
    }
    Ok((body, left_out))
}

/// Whether what asked is still there, read again from GitHub: the label still on the issue,
/// the comment not deleted, the issue's body still mentioning bosun. `Some(why)` when not.
async fn taken_back(
    ctx: &Ctx,
    client: &Installation,
    req: &TriggerRequest,
) -> Result<Option<&'static str>, GitHubError> {
    match &req.what {
        TriggerWhat::Label { name } => {
            let issue = client.get_issue(&req.repo, req.issue).await?;
            let still = issue.labels.iter().any(|l| l.eq_ignore_ascii_case(name));
            Ok((!still).then_some("the label was removed"))
        }
        TriggerWhat::Commands {
            comment: Some(id), ..
        } => {
            let comment = client.get_comment(&req.repo, *id).await?;
            Ok(comment.is_none().then_some("the comment was deleted"))
        }
        TriggerWhat::Commands { comment: None, .. } => {
            let issue = client.get_issue(&req.repo, req.issue).await?;
            let mention = format!("@{}", ctx.identity.handle).to_ascii_lowercase();
            let still = issue.body.to_ascii_lowercase().contains(&mention);
            Ok((!still).then_some("the mention was edited out of the issue"))
        }
    }
}

/// Posts a reply unless one with the same key is already there: a trigger job that runs again
/// (after a crash or a retry) and a config that stays broken across triggers answer once.
async fn post_once(
    client: &Installation,
    req: &TriggerRequest,
    body: &str,
    key: &str,
) -> Result<(), GitHubError> {
    let marker = reply::reply_marker(key);
    if client
        .find_own_comment(&req.repo, req.issue, &marker)
        .await?
        .is_some()
    {
        return Ok(());
    }
    client
        .create_comment(&req.repo, req.issue, body, &marker)
        .await
        .map(|_| ())
}

fn source(req: &TriggerRequest) -> TriggerSource {
    match &req.what {
        TriggerWhat::Label { name } => TriggerSource::Label { name: name.clone() },
        TriggerWhat::Commands {
            comment: Some(id), ..
        } => TriggerSource::Comment { comment_id: *id },
        TriggerWhat::Commands { comment: None, .. } => TriggerSource::IssueBody,
    }
}

fn face(task: &TaskRow) -> bosun_core::job::NewJob {
    Job::SyncFace { task: task.id }.to_new(0)
}

pub(crate) async fn apply(
    ctx: &Ctx,
    client: &Installation,
    req: &TriggerRequest,
    config: &RepoConfig,
    command: Command,
    key: &str,
    fence: Fence,
) -> Result<(), JobError> {
    let handle = &ctx.identity.handle;
    let by = req.sender.login.clone();
    let existing = ctx.db.task_for_issue(req.repo_id, req.issue).await?;
    let reply_with = |body: String| async move { post_once(client, req, &body, key).await };
    // A command that would start a new attempt is refused while a budget is spent.
    let starts_new = matches!(
        command,
        Command::Do(_) | Command::Plan(_) | Command::Retry(_)
    ) && !existing.as_ref().is_some_and(|t| t.status.is_active());
    if starts_new {
        let spent = crate::engine::spending::spent_with_repo_budget(
            &ctx.db,
            ctx.settings.spend_limits,
            Some(&config.budget),
            req.repo_id,
            client.id(),
        )
        .await?;
        if let Some(why) = spent {
            tracing::info!(%why, "a budget is spent: no new run");
            return Ok(reply_with(reply::budget_refused(&why, key)).await?);
        }
    }
    // A new attempt's prompt takes the issue's body as far back as people who may start work
    // wrote it (a running attempt is steered: its body is taken already).
    let vouched;
    let retry_of_nothing = matches!(command, Command::Retry(_)) && existing.is_none();
    let req = if starts_new && !retry_of_nothing {
        let (body, left_out) = vouched_body(ctx, client, req, config).await?;
        if !left_out.is_empty() {
            tracing::info!(editors = %left_out.join(","), "the issue body's latest edits are left out of the prompt");
            let key = format!("{}:body", req.delivery);
            post_once(
                client,
                req,
                &reply::body_before_edits(&left_out, &key),
                &key,
            )
            .await?;
        }
        vouched = TriggerRequest {
            issue_body: body,
            ..req.clone()
        };
        &vouched
    } else {
        req
    };
    match command {
        Command::Do(text) => {
            start_or_steer(ctx, client, req, config, fence, TaskKind::Implement, text).await
        }
        Command::Plan(text) => {
            let text = text.unwrap_or_default();
            start_or_steer(ctx, client, req, config, fence, TaskKind::Plan, text).await
        }
        Command::Retry(note) => match existing {
            Some(task) if task.status.is_active() => {
                Ok(reply_with(reply::already_running(&task, handle, key)).await?)
            }
            Some(task) => {
                let note = note.unwrap_or_default();
                start_or_steer(ctx, client, req, config, fence, task.kind, note).await
            }
            None => Ok(reply_with(reply::no_task_reply(handle, key)).await?),
        },
        Command::Stop => match existing {
            Some(task) if task.status.is_active() => {
                ctx.db
                    .record(
                        task.id,
                        &TaskEvent::Stopped { by },
                        Some(fence),
                        &[face(&task)],
                    )
                    .await?;
                ctx.jobs_added.notify_one();
                Ok(())
            }
            other => Ok(reply_with(reply::nothing_to_stop(other.as_ref(), key)).await?),
        },
        Command::Status => match existing {
            Some(task) => {
                ctx.db.enqueue(&[face(&task)]).await?;
                ctx.jobs_added.notify_one();
                Ok(reply_with(reply::status_reply(&task, key)).await?)
            }
            None => Ok(reply_with(reply::no_task_reply(handle, key)).await?),
        },
        Command::Approve => {
            let outcome = match existing {
                Some(task) => super::approve::approve(ctx, client, &task, &by, fence).await?,
                None => reply::ApproveOutcome::NothingHeld,
            };
            Ok(reply_with(reply::approve_reply(&outcome, key)).await?)
        }
        Command::Help => Ok(reply_with(reply::help(handle, key)).await?),
        Command::Unknown(word) => Ok(reply_with(reply::unknown_command(&word, handle, key)).await?),
    }
}

/// Starts a new attempt, or adds the text to the active one as further instructions.
async fn start_or_steer(
    ctx: &Ctx,
    client: &Installation,
    req: &TriggerRequest,
    config: &RepoConfig,
    fence: Fence,
    kind: TaskKind,
    text: String,
) -> Result<(), JobError> {
    let new = NewAttempt {
        repo_id: req.repo_id,
        repo: req.repo.clone(),
        installation: client.id(),
        issue: req.issue,
        label_prefix: config.label_prefix.clone(),
        event: TaskEvent::Triggered {
            attempt: 0,
            kind,
            by: req.sender.login.clone(),
            source: source(req),
            instructions: text.clone(),
            issue: Some(IssueSnapshot {
                title: req.issue_title.clone(),
                body: req.issue_body.clone(),
                author: req.issue_author.clone(),
            }),
        },
    };
    let steer = (!text.trim().is_empty()).then(|| TaskEvent::Steered {
        by: req.sender.login.clone(),
        text,
    });
    start_or_add(ctx, new, steer, fence).await
}

/// Starts the attempt `new` describes; when the task already has an active one, records
/// `when_active` on it instead (further instructions, queued feedback), if there is one.
pub(crate) async fn start_or_add(
    ctx: &Ctx,
    new: NewAttempt,
    when_active: Option<TaskEvent>,
    fence: Fence,
) -> Result<(), JobError> {
    let outcome = ctx
        .db
        .start_attempt(new, |task| {
            vec![
                face(task),
                Job::Run {
                    task: task.id,
                    attempt: task.attempt,
                }
                .to_new(0),
            ]
        })
        .await?;
    match (outcome, when_active) {
        (StartOutcome::Started(task), _) => {
            tracing::info!(task = %task.id, attempt = task.attempt, kind = ?task.kind, "attempt started");
        }
        (StartOutcome::AlreadyActive(task), Some(event)) => {
            ctx.db
                .record(task.id, &event, Some(fence), &[face(&task)])
                .await?;
            tracing::info!(task = %task.id, "added to the active attempt");
        }
        (StartOutcome::AlreadyActive(task), None) => {
            tracing::debug!(task = %task.id, "trigger on an issue whose task is active: nothing new");
        }
    }
    ctx.jobs_added.notify_one();
    Ok(())
}
