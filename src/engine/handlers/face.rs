//! The face job: makes the task's tracking comment and status label on GitHub match the
//! database. Idempotent, so it can run any number of times; queued twins coalesce.

use crate::engine::context::Ctx;
use crate::github::client::GitHubError;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::marker::TrackingMarker;
use bosun_core::model::{project, TaskId, TaskStatus};

pub async fn handle_face(ctx: &Ctx, task_id: TaskId) -> Result<(), JobError> {
    let Some(task) = ctx.db.task(task_id).await? else {
        return Err(JobError::Fail(anyhow::anyhow!(
            "task {task_id} does not exist"
        )));
    };
    crate::engine::handlers::record_span_ids(&task);
    let state = project(&ctx.db.task_events(task_id).await?)?;
    let client = ctx.github.installation(task.installation);
    let queue = match state.status {
        TaskStatus::New => {
            let slots = ctx.settings.run_limits.global;
            ctx.db.queue_spot(task_id, slots).await?
        }
        _ => None,
    };
    let body = reply::tracking_comment_in_line(&task, &state, &ctx.identity.handle, queue);

    let updated = match task.tracking_comment {
        Some(id) => match client.update_comment(&task.repo, id, &body).await {
            Ok(_) => true,
            // Someone deleted it: post a new one rather than leave the task faceless.
            Err(GitHubError::NotFound { .. }) => false,
            Err(e) => return Err(e.into()),
        },
        None => false,
    };
    if !updated {
        let marker = TrackingMarker::search_key(task.id);
        let comment = client
            .create_comment(&task.repo, task.issue, &body, &marker)
            .await?;
        ctx.db.set_tracking_comment(task.id, comment.id).await?;
    }

    let wanted = state.status.label(&task.label_prefix);
    let present = match &wanted {
        Some(label) => {
            client
                .add_labels(&task.repo, task.issue, std::slice::from_ref(label))
                .await?
        }
        None => client.get_issue(&task.repo, task.issue).await?.labels,
    };
    let ours = TaskStatus::all_labels(&task.label_prefix);
    for stale in present
        .iter()
        .filter(|l| ours.contains(l) && Some(*l) != wanted.as_ref())
    {
        client.remove_label(&task.repo, task.issue, stale).await?;
    }
    Ok(())
}
