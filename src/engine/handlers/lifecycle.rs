//! The lifecycle job: a task follows what happens to its issue and pull request. A closed issue
//! stops its running task; a merged pull request marks the task done and deletes its branch; a
//! pull request closed without merging cancels the task (its branch stays, for reference).
//! Anything that happens to a sub-issue of a plan also makes its planned issue look again.

use crate::db::{Fence, TaskRow};
use crate::engine::context::Ctx;
use crate::github::secret::Secret;
use crate::job_error::JobError;
use bosun_core::job::Job;
use bosun_core::job::{LifecycleRequest, LifecycleWhat};
use bosun_core::model::{project, TaskEvent, TaskState};

pub async fn handle_lifecycle(
    ctx: &Ctx,
    req: &LifecycleRequest,
    fence: Fence,
) -> Result<(), JobError> {
    let Some(task) = ctx.db.task_for_issue(req.repo_id, req.issue).await? else {
        tracing::debug!("no task on this issue");
        return Ok(());
    };
    crate::engine::handlers::record_span_ids(&task);
    let state = project(&ctx.db.task_events(task.id).await?)?;
    follow(ctx, req, &task, &state, fence).await?;
    // A sub-issue of a plan: its planned issue looks at what changed.
    if let Some(parent) = state.part_of {
        if let Some(planned) = ctx
            .db
            .task_for_issue(req.repo_id, bosun_core::ids::IssueNumber(parent))
            .await?
        {
            ctx.db
                .enqueue(&[Job::PlanCheck { task: planned.id }.to_new(0)])
                .await?;
            ctx.jobs_added.notify_one();
        }
    }
    Ok(())
}

/// Records what happened on the task and, after a merge, deletes the branch.
async fn follow(
    ctx: &Ctx,
    req: &LifecycleRequest,
    task: &TaskRow,
    state: &TaskState,
    fence: Fence,
) -> Result<(), JobError> {
    let event = match &req.what {
        LifecycleWhat::IssueClosed if state.status.is_active() => {
            if !closer_trusted(ctx, req, task).await? {
                // An issue's author may close it without write access: that must not stop
                // the work a writer asked for (nor may anyone else who cannot start work).
                tracing::info!(by = %req.by, "issue closed by someone who cannot start work: the task goes on");
                return Ok(());
            }
            TaskEvent::IssueClosed { by: req.by.clone() }
        }
        LifecycleWhat::IssueClosed => return Ok(()),
        // A stopped task stays stopped; only a plan the issue belongs to looks again.
        LifecycleWhat::IssueReopened => return Ok(()),
        LifecycleWhat::PullClosed { number, merged, .. } => {
            if state.pull.as_ref().map(|p| p.number) != Some(*number) {
                tracing::info!(pr = number, "not the task's pull request");
                return Ok(());
            }
            TaskEvent::PullClosed {
                number: *number,
                merged: *merged,
                by: req.by.clone(),
            }
        }
    };
    let face = [Job::SyncFace { task: task.id }.to_new(0)];
    match ctx.db.record(task.id, &event, Some(fence), &face).await {
        Ok(_) => ctx.jobs_added.notify_one(),
        // Already recorded by an earlier try of this job whose branch deletion failed: go on
        // to the deletion; anything else moved on and needs nothing.
        Err(crate::db::RecordError::Invalid(_))
            if state.pull.as_ref().is_some_and(|p| p.closed) => {}
        Err(crate::db::RecordError::Invalid(why)) => {
            tracing::info!(%why, "the task moved on; nothing to do");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if let LifecycleWhat::PullClosed {
        merged: true,
        branch,
        ..
    } = &req.what
    {
        delete_branch(ctx, task, branch).await?;
    }
    Ok(())
}

/// Whether the person (or bot) who closed the issue may stop its task: whoever may start work
/// (write access, `allowed_users`, allowlisted bots) and bosun itself (`trigger::trusted_sender`).
async fn closer_trusted(
    ctx: &Ctx,
    req: &LifecycleRequest,
    task: &TaskRow,
) -> Result<bool, JobError> {
    let client = ctx.github.installation(task.installation);
    // A broken file names no one: the permission check alone decides.
    let config = ctx
        .repo_configs
        .get(&client, &task.repo, task.repo_id)
        .await?
        .unwrap_or_default();
    let closer = bosun_core::events::Actor {
        login: req.by.clone(),
        id: bosun_core::ids::UserId(req.by_id),
        is_bot: req.by_bot,
    };
    crate::engine::handlers::trigger::trusted_sender(
        ctx,
        &client,
        &closer,
        &task.repo,
        task.repo_id,
        &config,
    )
    .await
}

/// Deletes the merged branch with the installation token. Without a runner (placeholder mode)
/// there is no mirror to push from, and nothing was pushed in the first place.
async fn delete_branch(ctx: &Ctx, task: &crate::db::TaskRow, branch: &str) -> Result<(), JobError> {
    let Some(runner) = &ctx.settings.runner else {
        return Ok(());
    };
    let client = ctx.github.installation(task.installation);
    let repository = client.repository(&task.repo).await?;
    let token: Secret = client.access_token().await?;
    let (workspaces, repo, branch) = (
        runner.workspaces.clone(),
        task.repo.to_string(),
        branch.to_string(),
    );
    let url = repository.clone_url;
    tokio::task::spawn_blocking(move || {
        workspaces.delete_branch(&repo, &url, &branch, Some(&token))
    })
    .await
    .map_err(|e| JobError::Fail(anyhow::anyhow!("deleting the branch panicked: {e}")))?
    .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))
}
