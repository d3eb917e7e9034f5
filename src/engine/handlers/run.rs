//! The run job: records that the attempt started, then hands it to the agent pipeline
//! ([`crate::run::pipeline`]). In placeholder run mode (no runner configured) the work is
//! a placeholder step that only records that it ran.

use crate::db::{Fence, RecordError};
use crate::engine::context::Ctx;
use crate::job_error::JobError;
use bosun_core::job::Job;
use bosun_core::model::{project, ProgressEvent, TaskEvent, TaskId, TaskStatus};

pub const PLACEHOLDER_SUMMARY: &str = "The placeholder work step ran. This bosun server runs \
in placeholder mode (`BOSUN_RUN_MODE=placeholder`), so no agent ran, no code was changed and \
no pull request was opened.";

pub async fn handle_run(
    ctx: &Ctx,
    task_id: TaskId,
    attempt: u32,
    fence: Fence,
) -> Result<(), JobError> {
    let face = [Job::SyncFace { task: task_id }.to_new(0)];
    let task = ctx
        .db
        .task(task_id)
        .await?
        .ok_or_else(|| JobError::Fail(anyhow::anyhow!("task {task_id} does not exist")))?;
    crate::engine::handlers::record_span_ids(&task);
    if !task.status.is_active() || task.attempt != attempt {
        tracing::info!(status = %task.status, current = task.attempt, "attempt is over; nothing to run");
        return Ok(());
    }
    // A part of a plan waiting for others, or a planned issue waiting for its parts.
    if task.status == TaskStatus::Blocked {
        tracing::info!("the task waits for other issues; nothing to run yet");
        return Ok(());
    }
    // Asked before the run starts, and not only when it was asked for: a retry from the
    // dashboard or the CLI was checked without the repository's own budget, and a run waiting
    // for a slot may find the budget spent by the runs before it.
    if let Some(why) = spent_before_start(ctx, &task).await? {
        tracing::info!(%why, "a budget is spent: the run does not start");
        let refused = TaskEvent::Finished {
            attempt,
            status: TaskStatus::Failed,
            summary: crate::reply::budget_refused_at_start(&why),
        };
        moved_on(ctx.db.record(task_id, &refused, Some(fence), &face).await)?;
        ctx.jobs_added.notify_one();
        return Ok(());
    }
    // Recorded again after a crash: the log then shows the restart.
    moved_on(
        ctx.db
            .record(task_id, &TaskEvent::Started { attempt }, Some(fence), &face)
            .await,
    )?;
    refresh_waiting_faces(ctx, task_id).await;
    ctx.jobs_added.notify_one();

    if let Some(runner) = &ctx.settings.runner {
        return crate::run::pipeline::run_attempt(ctx.services(), runner, &task, attempt, fence)
            .await;
    }
    if !keeps_running(ctx, task_id, attempt, ctx.settings.placeholder).await? {
        tracing::info!("the task was stopped while it ran");
        return Ok(());
    }

    let state = project(&ctx.db.task_events(task_id).await?)?;
    if !state.placeholder_ran {
        let ran = TaskEvent::Progress(ProgressEvent::PlaceholderRan { attempt });
        if moved_on(ctx.db.record(task_id, &ran, Some(fence), &[]).await)?.is_none() {
            return Ok(());
        }
    }
    let finished = TaskEvent::Finished {
        attempt,
        status: TaskStatus::Done,
        summary: PLACEHOLDER_SUMMARY.to_string(),
    };
    moved_on(ctx.db.record(task_id, &finished, Some(fence), &face).await)?;
    ctx.jobs_added.notify_one();
    Ok(())
}

/// Which budget is spent for this task's repository or installation, the repository's own
/// daily budget included (a broken `.github/bosun.yml` leaves the server's limits, and the run
/// reports the file itself).
async fn spent_before_start(
    ctx: &Ctx,
    task: &crate::db::TaskRow,
) -> Result<Option<String>, JobError> {
    let client = ctx.github.installation(task.installation);
    let config = ctx
        .repo_configs
        .get(&client, &task.repo, task.repo_id)
        .await?;
    Ok(crate::engine::spending::spent_with_repo_budget(
        &ctx.db,
        ctx.settings.spend_limits,
        config.as_ref().ok().map(|c| &c.budget),
        task.repo_id,
        task.installation,
    )
    .await?)
}

/// How many waiting tasks' comments are refreshed when a run starts: the first in line, whose
/// place moved; further back the numbers are refreshed as they come forward.
const WAITING_FACES: u32 = 20;

/// A run started, so every run behind it moved up: their tracking comments say so. Best
/// effort (each face job is coalesced, and a missed refresh is caught by the next).
async fn refresh_waiting_faces(ctx: &Ctx, started: TaskId) {
    let waiting = match ctx.db.waiting_runs(WAITING_FACES).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the runs waiting in the queue");
            return;
        }
    };
    let faces: Vec<_> = waiting
        .into_iter()
        .filter(|t| *t != started)
        .map(|task| Job::SyncFace { task }.to_new(0))
        .collect();
    if let Err(e) = ctx.db.enqueue(&faces).await {
        tracing::warn!(error = %e, "could not queue the waiting runs' comments");
    }
}

/// Waits `duration`, looking every quarter second whether the attempt is still wanted, so a
/// `stop` takes effect at once instead of after the work. False when it was stopped.
async fn keeps_running(
    ctx: &Ctx,
    task_id: TaskId,
    attempt: u32,
    duration: std::time::Duration,
) -> Result<bool, JobError> {
    let step = std::time::Duration::from_millis(250);
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(true);
        }
        tokio::time::sleep(step.min(deadline - now)).await;
        match ctx.db.task(task_id).await? {
            Some(t) if t.status.is_active() && t.attempt == attempt => {}
            _ => return Ok(false),
        }
    }
}

/// A task stopped while its run was going turns the run's next event into an invalid
/// transition: that is the run's cue to end quietly, not an error.
fn moved_on<T>(result: Result<T, RecordError>) -> Result<Option<T>, JobError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(RecordError::Invalid(why)) => {
            tracing::info!(%why, "the task moved on while it ran");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
