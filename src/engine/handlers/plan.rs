//! The plan check: a planned issue follows its sub-issues. A part is done when its pull
//! request was merged or its issue was closed as completed; a part whose dependencies are all
//! done starts. A part closed any other way (not planned, duplicate) is dropped: the parts
//! that wait for it do not start, and say so, until a person retries them or closes them. When
//! every part is done or dropped the planned issue is marked done and closed (or, when nothing
//! was done, the plan ends and the issue stays open). A dropped part opened again is waited
//! for again.
//! Enqueued whenever something happens to a sub-issue (see `handlers::lifecycle`).

use crate::db::{Fence, RecordError, TaskRow};
use crate::engine::context::Ctx;
use crate::github::client::Installation;
use crate::job_error::JobError;
use crate::reply;
use bosun_core::ids::IssueNumber;
use bosun_core::job::Job;
use bosun_core::model::{project, PlanState, TaskEvent, TaskId, TaskStatus};

pub async fn handle_plan_check(ctx: &Ctx, id: TaskId, fence: Fence) -> Result<(), JobError> {
    let Some(task) = ctx.db.task(id).await? else {
        return Ok(());
    };
    crate::engine::handlers::record_span_ids(&task);
    let state = project(&ctx.db.task_events(task.id).await?)?;
    let Some(plan) = state.plan.clone().filter(|p| p.published) else {
        tracing::debug!("no published plan on this task");
        return Ok(());
    };
    let client = ctx.github.installation(task.installation);
    if state.status == TaskStatus::Done && plan.all_settled() {
        // An earlier try recorded the end but may not have closed the issue.
        return Ok(client.close_issue_completed(&task.repo, task.issue).await?);
    }
    if state.status != TaskStatus::Blocked {
        tracing::info!(status = %state.status, "the plan is not waiting any more");
        return Ok(());
    }

    let Some(Settled { done, dropped }) = follow_parts(ctx, &client, &task, &plan, fence).await?
    else {
        return Ok(());
    };

    for part in &plan.parts {
        unblock_if_ready(ctx, &task, part.issue, &done, &dropped, fence).await?;
    }

    let settled = |issue: &u64| done.contains(issue) || dropped.iter().any(|(n, _)| n == issue);
    if plan.parts.iter().all(|p| settled(&p.issue)) {
        let (status, summary) = if done.is_empty() {
            (TaskStatus::Failed, reply::plan_dropped(&dropped))
        } else {
            (TaskStatus::Done, reply::plan_done(done.len(), &dropped))
        };
        let finished = TaskEvent::Finished {
            attempt: state.attempt,
            status,
            summary,
        };
        if recorded(ctx, &task, &finished, fence, Vec::new()).await? && status == TaskStatus::Done {
            client.close_issue_completed(&task.repo, task.issue).await?;
            tracing::info!("every part is settled; the planned issue is closed");
        }
    }
    Ok(())
}

/// Which parts of a plan are done and which were closed without being done (with GitHub's
/// reason).
struct Settled {
    done: Vec<u64>,
    dropped: Vec<(u64, String)>,
}

/// Asks GitHub where each part not done yet stands and records what changed: done, dropped,
/// or opened again after it was dropped. `None` when the task moved on meanwhile.
async fn follow_parts(
    ctx: &Ctx,
    client: &Installation,
    task: &TaskRow,
    plan: &PlanState,
    fence: Fence,
) -> Result<Option<Settled>, JobError> {
    let mut done: Vec<u64> = plan
        .parts
        .iter()
        .filter(|p| p.done)
        .map(|p| p.issue)
        .collect();
    let mut dropped: Vec<(u64, String)> = plan
        .parts
        .iter()
        .filter_map(|p| p.dropped.clone().map(|reason| (p.issue, reason)))
        .collect();
    for part in plan.parts.iter().filter(|p| !p.done) {
        let event = match part_now(ctx, client, task, part.issue).await? {
            PartNow::Done => TaskEvent::PlanPartDone { issue: part.issue },
            PartNow::Dropped(reason) if part.dropped.is_none() => TaskEvent::PlanPartDropped {
                issue: part.issue,
                reason,
            },
            PartNow::Open if part.dropped.is_some() => {
                TaskEvent::PlanPartReopened { issue: part.issue }
            }
            PartNow::Dropped(_) | PartNow::Open => continue,
        };
        if !recorded(ctx, task, &event, fence, Vec::new()).await? {
            return Ok(None);
        }
        match event {
            TaskEvent::PlanPartDropped { issue, reason } => {
                tracing::info!(part = issue, %reason, "plan part closed without being done");
                dropped.push((issue, reason));
            }
            TaskEvent::PlanPartReopened { issue } => {
                tracing::info!(
                    part = issue,
                    "plan part opened again; the plan waits for it"
                );
                dropped.retain(|(n, _)| *n != issue);
            }
            _ => {
                tracing::info!(part = part.issue, "plan part done");
                dropped.retain(|(n, _)| *n != part.issue);
                done.push(part.issue);
            }
        }
    }
    Ok(Some(Settled { done, dropped }))
}

/// Where a part stands now.
enum PartNow {
    Done,
    /// Closed without being done, with GitHub's `state_reason`.
    Dropped(String),
    Open,
}

/// Done: merged (the sub-issue's task saw its pull request merged), or closed as completed
/// on GitHub (by a person, or by GitHub when a pull request that closes it was merged).
/// Dropped: closed with any other reason.
async fn part_now(
    ctx: &Ctx,
    client: &Installation,
    parent: &TaskRow,
    issue: u64,
) -> Result<PartNow, JobError> {
    if let Some(child) = ctx
        .db
        .task_for_issue(parent.repo_id, IssueNumber(issue))
        .await?
    {
        let state = project(&ctx.db.task_events(child.id).await?)?;
        let merged = state.status == TaskStatus::Done && state.pull.is_some_and(|p| p.closed);
        if merged {
            return Ok(PartNow::Done);
        }
    }
    let info = client.get_issue(&parent.repo, IssueNumber(issue)).await?;
    Ok(match (info.state.as_str(), info.state_reason) {
        ("closed", None) => PartNow::Done,
        ("closed", Some(reason)) if reason == "completed" => PartNow::Done,
        ("closed", Some(reason)) => PartNow::Dropped(reason),
        _ => PartNow::Open,
    })
}

/// Starts the sub-issue's run when everything it waits for is done; ends its wait, saying
/// why, when something it waits for was dropped.
async fn unblock_if_ready(
    ctx: &Ctx,
    parent: &TaskRow,
    issue: u64,
    done: &[u64],
    dropped: &[(u64, String)],
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
    if state.part_of != Some(parent.issue.0) || state.waits_for.is_empty() {
        return Ok(());
    }
    let lost: Vec<(u64, String)> = dropped
        .iter()
        .filter(|(n, _)| state.waits_for.contains(n))
        .cloned()
        .collect();
    if !lost.is_empty() {
        let ended = TaskEvent::Finished {
            attempt: child.attempt,
            status: TaskStatus::Failed,
            summary: reply::part_dependency_dropped(&lost),
        };
        if recorded(ctx, &child, &ended, fence, Vec::new()).await? {
            tracing::info!(
                part = issue,
                "a part it waits for was dropped; it does not start"
            );
        }
        return Ok(());
    }
    if !state.waits_for.iter().all(|w| done.contains(w)) {
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
    mut jobs: Vec<bosun_core::job::NewJob>,
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
