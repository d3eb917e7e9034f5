//! The plan check: a planned issue follows its sub-issues. A part is done when its pull
//! request was merged or its issue was closed as completed; a part whose dependencies are all
//! done starts; when every part is done the planned issue is marked done and closed.
//! Enqueued whenever something happens to a sub-issue (see `handle_lifecycle`).

use crate::db::{Fence, RecordError, TaskRow};
use crate::github::client::Installation;
use crate::github::ids::IssueNumber;
use crate::reply;
use crate::task::model::{project, TaskEvent, TaskId, TaskStatus};
use crate::worker::context::{Ctx, JobError};
use crate::worker::job::Job;

pub async fn handle_plan_check(ctx: &Ctx, id: TaskId, fence: Fence) -> Result<(), JobError> {
    let Some(task) = ctx.db.task(id).await? else {
        return Ok(());
    };
    crate::task::record_span_ids(&task);
    let state = project(&ctx.db.task_events(task.id).await?)?;
    let Some(plan) = state.plan.clone().filter(|p| p.published) else {
        tracing::debug!("no published plan on this task");
        return Ok(());
    };
    let client = ctx.github.installation(task.installation);
    if state.status == TaskStatus::Done && plan.all_done() {
        // An earlier try recorded the end but may not have closed the issue.
        return Ok(client.close_issue_completed(&task.repo, task.issue).await?);
    }
    if state.status != TaskStatus::Blocked {
        tracing::info!(status = %state.status, "the plan is not waiting any more");
        return Ok(());
    }

    let mut done: Vec<u64> = plan
        .parts
        .iter()
        .filter(|p| p.done)
        .map(|p| p.issue)
        .collect();
    for part in plan.parts.iter().filter(|p| !p.done) {
        if !part_is_done(ctx, &client, &task, part.issue).await? {
            continue;
        }
        let event = TaskEvent::PlanPartDone { issue: part.issue };
        if !recorded(ctx, &task, &event, fence, Vec::new()).await? {
            return Ok(());
        }
        tracing::info!(part = part.issue, "plan part done");
        done.push(part.issue);
    }

    for part in &plan.parts {
        unblock_if_ready(ctx, &task, part.issue, &done, fence).await?;
    }

    if plan.parts.iter().all(|p| done.contains(&p.issue)) {
        let finished = TaskEvent::Finished {
            attempt: state.attempt,
            status: TaskStatus::Done,
            summary: reply::plan_done(plan.parts.len()),
        };
        if recorded(ctx, &task, &finished, fence, Vec::new()).await? {
            client.close_issue_completed(&task.repo, task.issue).await?;
            tracing::info!("every part is done; the planned issue is closed");
        }
    }
    Ok(())
}

/// Merged (the sub-issue's task saw its pull request merged), or closed as completed on
/// GitHub (by a person, or by GitHub when a pull request that closes it was merged).
async fn part_is_done(
    ctx: &Ctx,
    client: &Installation,
    parent: &TaskRow,
    issue: u64,
) -> Result<bool, JobError> {
    if let Some(child) = ctx
        .db
        .task_for_issue(parent.repo_id, IssueNumber(issue))
        .await?
    {
        let state = project(&ctx.db.task_events(child.id).await?)?;
        let merged = state.status == TaskStatus::Done && state.pull.is_some_and(|p| p.closed);
        if merged {
            return Ok(true);
        }
    }
    let info = client.get_issue(&parent.repo, IssueNumber(issue)).await?;
    Ok(info.state == "closed" && matches!(info.state_reason.as_deref(), None | Some("completed")))
}

/// Starts the sub-issue's run when everything it waits for is done.
async fn unblock_if_ready(
    ctx: &Ctx,
    parent: &TaskRow,
    issue: u64,
    done: &[u64],
    fence: Fence,
) -> Result<(), JobError> {
    let Some(child) = ctx
        .db
        .task_for_issue(parent.repo_id, IssueNumber(issue))
        .await?
    else {
        return Ok(());
    };
    if child.status != TaskStatus::Blocked {
        return Ok(());
    }
    let state = project(&ctx.db.task_events(child.id).await?)?;
    let ready = state.part_of == Some(parent.issue.0)
        && !state.waits_for.is_empty()
        && state.waits_for.iter().all(|w| done.contains(w));
    if !ready {
        return Ok(());
    }
    let run = Job::Run {
        task: child.id,
        attempt: child.attempt,
    };
    if recorded(
        ctx,
        &child,
        &TaskEvent::Unblocked,
        fence,
        vec![run.to_new(0)],
    )
    .await?
    {
        tracing::info!(part = issue, "dependencies done; the part starts");
    }
    Ok(())
}

/// Records `event` on `task` with a face refresh and `jobs`; false when the task moved on.
async fn recorded(
    ctx: &Ctx,
    task: &TaskRow,
    event: &TaskEvent,
    fence: Fence,
    mut jobs: Vec<crate::db::NewJob>,
) -> Result<bool, JobError> {
    jobs.push(Job::SyncFace { task: task.id }.to_new(0));
    match ctx.db.record(task.id, event, Some(fence), &jobs).await {
        Ok(_) => {
            ctx.jobs_added.notify_one();
            Ok(true)
        }
        Err(RecordError::Invalid(why)) => {
            tracing::info!(%why, task = %task.id, "the task moved on");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
