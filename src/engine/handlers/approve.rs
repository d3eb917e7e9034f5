//! `@bosun approve`: a writer lets in the changes to protected paths the task's last attempt
//! held back (`protected_paths`). The held commit, kept in the mirror on top of what was
//! pushed, is pushed onto the task branch as a fast-forward, and the task says who approved
//! it. The trigger job has checked the sender's write access already.

use crate::db::{Fence, TaskRow};
use crate::engine::context::Ctx;
use crate::github::client::Installation;
use crate::job_error::JobError;
use crate::reply::ApproveOutcome;
use crate::run::workspace::publish::push_held;
use bosun_core::job::Job;
use bosun_core::model::{project, ProgressEvent, TaskEvent};

pub(crate) async fn approve(
    ctx: &Ctx,
    client: &Installation,
    task: &TaskRow,
    by: &str,
    fence: Fence,
) -> Result<ApproveOutcome, JobError> {
    if task.status.is_active() {
        return Ok(ApproveOutcome::StillRunning);
    }
    let Some(runner) = ctx.settings.runner.clone() else {
        return Ok(ApproveOutcome::NothingHeld);
    };
    let events = ctx.db.task_events(task.id).await?;
    let state = project(&events).map_err(|e| JobError::Fail(e.into()))?;
    if state.run.held.is_empty() || state.run.held_pushed_by.is_some() {
        return Ok(ApproveOutcome::NothingHeld);
    }
    let repo = client.repository(&task.repo).await?;
    let token = client.access_token().await?;
    let mirror = runner.workspaces.mirror_path(&task.repo.to_string());
    let (branch, id) = (state.run.held_branch.clone(), task.id);
    let pushed = tokio::task::spawn_blocking(move || {
        push_held(&mirror, &repo.clone_url, id, &branch, Some(&token))
    })
    .await
    .map_err(|e| JobError::Fail(anyhow::anyhow!("pushing the held change panicked: {e}")))?;
    match pushed {
        Ok(Some(sha)) => {
            let event = TaskEvent::Progress(ProgressEvent::HeldPushed {
                attempt: task.attempt,
                by: by.to_string(),
                sha: sha.clone(),
            });
            let face = [Job::SyncFace { task: task.id }.to_new(0)];
            ctx.db.record(task.id, &event, Some(fence), &face).await?;
            ctx.jobs_added.notify_one();
            tracing::info!(%sha, %by, "held-back change approved and pushed");
            Ok(ApproveOutcome::Pushed {
                sha,
                by: by.to_string(),
            })
        }
        Ok(None) => Ok(ApproveOutcome::NothingHeld),
        Err(e) => {
            tracing::warn!(error = %e, "pushing the held change failed");
            Ok(ApproveOutcome::Refused(e.to_string()))
        }
    }
}
