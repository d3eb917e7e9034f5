//! The worker pool: each worker claims a job, keeps its lease alive with heartbeats while the
//! handler runs, and records the outcome (done, retry with backoff, or dead).

use super::backoff::backoff;
use crate::db::{now_ms, ClaimedJob, Fence};
use crate::engine::context::Ctx;
use crate::engine::handlers::face::handle_face;
use crate::engine::handlers::run::handle_run;
use crate::engine::handlers::trigger::handle_trigger;
use crate::github::client::GitHubError;
use crate::job_error::JobError;
use bosun_core::job::Job;
use bosun_core::model::{TaskEvent, TaskStatus};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

const RETRY_BASE: Duration = Duration::from_secs(2);
const RETRY_CAP: Duration = Duration::from_secs(300);
/// The longest an idle worker sleeps before looking again (jobs due later wake it too).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Why a run that was going went back to the queue (its job's last error).
pub const HANDED_BACK: &str = "bosun shut down while the run was going; it starts again";

/// Returns once `shutdown` is true (never, if its sender is gone without saying so).
async fn shutting_down(mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `ctx.settings.workers` workers until `shutdown` turns true.
pub async fn run_pool(ctx: Arc<Ctx>, shutdown: watch::Receiver<bool>) {
    let owner_prefix = format!("{}-{}", hostname(), std::process::id());
    let mut handles = Vec::new();
    for n in 0..ctx.settings.workers.max(1) {
        let ctx = ctx.clone();
        let owner = format!("{owner_prefix}-w{n}");
        let shutdown = shutdown.clone();
        handles.push(tokio::spawn(
            async move { worker(ctx, owner, shutdown).await },
        ));
    }
    for h in handles {
        let _ = h.await;
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "bosun".into())
}

async fn worker(ctx: Arc<Ctx>, owner: String, mut shutdown: watch::Receiver<bool>) {
    let lease_ms = ctx.settings.lease.as_millis() as i64;
    while !*shutdown.borrow() {
        let claimed = match ctx
            .db
            .claim_job(&owner, lease_ms, ctx.settings.run_limits)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        match claimed {
            Some(job) => {
                // Pass the wake-up on: there may be more work than this one job, and a
                // notification only stores one permit.
                ctx.jobs_added.notify_one();
                run_one(&ctx, job, shutdown.clone()).await
            }
            None => {
                // A paused queue (the dashboard) leaves runs due but unclaimable: waiting for
                // their due time would spin. Looking once a poll also sees the resume.
                let paused = ctx.db.queue_state().await.is_ok_and(|q| q.paused);
                let wait = match ctx.db.next_job_due().await {
                    Ok(Some(due)) if !paused => {
                        Duration::from_millis((due - now_ms()).clamp(1, 1000) as u64)
                    }
                    _ => IDLE_POLL,
                };
                tokio::select! {
                    _ = ctx.jobs_added.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

async fn run_one(ctx: &Arc<Ctx>, claimed: ClaimedJob, shutdown: watch::Receiver<bool>) {
    let fence = claimed.fence;
    let span = tracing::info_span!("job", job = %fence.job, kind = %claimed.kind, attempt = claimed.attempt);
    async {
        let job = match Job::from_stored(&claimed.payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(error = %e, "unreadable job payload; burying it");
                let _ = ctx.db.bury_job(fence, &format!("unreadable payload: {e}")).await;
                return;
            }
        };
        if claimed.attempt > claimed.max_attempts {
            // Only reclaims after crashes get here: every run died before it could finish.
            give_up(ctx, &job, fence, "its worker died too many times").await;
            return;
        }
        let work = with_heartbeat(ctx, fence, dispatch(ctx, &job, fence));
        let outcome = match job {
            // A task run can take an hour: at shutdown it goes back to the queue at once (its
            // container and checkout are removed as the run is dropped), so the next process
            // takes it up without waiting for the lease to expire. Quick jobs just finish.
            Job::Run { .. } => tokio::select! {
                outcome = work => outcome,
                _ = shutting_down(shutdown) => {
                    tracing::info!("shutting down: the run goes back to the queue");
                    if let Err(e) = ctx.db.defer_job(fence, HANDED_BACK, now_ms()).await {
                        tracing::warn!(error = %e, "could not hand the run back; its lease will expire");
                    }
                    return;
                }
            },
            _ => work.await,
        };
        match outcome {
            Ok(()) => {
                if let Err(e) = ctx.db.complete_job(fence).await {
                    tracing::error!(error = %e, "recording a finished job failed; it may run again");
                }
            }
            Err(JobError::Fenced) => tracing::warn!("lease lost to another worker; walking away"),
            Err(JobError::Defer(e)) => {
                let delay = ctx.settings.defer_delay;
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "job deferred; it keeps its attempts");
                let _ = ctx.db.defer_job(fence, &format!("{e:#}"), now_ms() + delay.as_millis() as i64).await;
            }
            // GitHub said when its rate limit resets: wait until then, without using up a
            // try (nothing failed), so a trigger is not lost to a long limit.
            Err(JobError::Retry(e)) if rate_limit_wait(&e).is_some() => {
                let wait = rate_limit_wait(&e).unwrap_or_default();
                let delay = wait + wait.mul_f64(rand::random::<f64>() * 0.1) + Duration::from_secs(1);
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "GitHub's rate limit; the job waits for its reset");
                let _ = ctx.db.defer_job(fence, &format!("{e:#}"), now_ms() + delay.as_millis() as i64).await;
                ctx.jobs_added.notify_one();
            }
            Err(JobError::Retry(e)) if claimed.attempt < claimed.max_attempts => {
                let delay = backoff(claimed.attempt, RETRY_BASE, RETRY_CAP, rand::random::<f64>() * 2.0 - 1.0);
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
                let _ = ctx.db.retry_job(fence, &format!("{e:#}"), now_ms() + delay.as_millis() as i64).await;
                ctx.jobs_added.notify_one();
            }
            Err(JobError::Retry(e) | JobError::Fail(e)) => {
                tracing::error!(error = %format!("{e:#}"), "job failed for good");
                give_up(ctx, &job, fence, &format!("{e:#}")).await;
            }
        }
    }
    .instrument(span)
    .await
}

async fn dispatch(ctx: &Ctx, job: &Job, fence: Fence) -> Result<(), JobError> {
    match job {
        Job::Trigger(req) => {
            let span = tracing::info_span!("trigger", repo = %req.repo, issue = %req.issue, delivery = %req.delivery, sender = %req.sender.login);
            handle_trigger(ctx, (**req).clone(), fence)
                .instrument(span)
                .await
        }
        Job::Lifecycle(req) => {
            let span = tracing::info_span!("lifecycle", repo = %req.repo, issue = %req.issue, delivery = %req.delivery);
            crate::engine::handlers::lifecycle::handle_lifecycle(ctx, req, fence)
                .instrument(span)
                .await
        }
        Job::Feedback(req) => {
            let span = tracing::info_span!("feedback", repo = %req.repo, pr = req.pr, delivery = %req.delivery, sender = %req.sender.login);
            crate::engine::handlers::feedback::handle_feedback(ctx, req, fence)
                .instrument(span)
                .await
        }
        Job::Run { task, attempt } => {
            let span = tracing::info_span!("run", task = %task, attempt = attempt, repo = tracing::field::Empty, issue = tracing::field::Empty);
            handle_run(ctx, *task, *attempt, fence)
                .instrument(span)
                .await
        }
        Job::PlanCheck { task } => {
            let span = tracing::info_span!("plan_check", task = %task, repo = tracing::field::Empty, issue = tracing::field::Empty);
            crate::engine::handlers::plan::handle_plan_check(ctx, *task, fence)
                .instrument(span)
                .await
        }
        Job::Scheduled { name, tick } => {
            let span = tracing::info_span!("scheduled", job = %name, tick = tick);
            crate::engine::handlers::schedule::handle_schedule(ctx, name, *tick)
                .instrument(span)
                .await
        }
        Job::SyncFace { task } => {
            let span = tracing::info_span!("face", task = %task, repo = tracing::field::Empty, issue = tracing::field::Empty);
            handle_face(ctx, *task).instrument(span).await
        }
        Job::Installation(req) => {
            let span = tracing::info_span!("installation", installation = %req.installation, delivery = %req.delivery, sender = %req.by);
            crate::engine::handlers::installation::handle_installation(ctx, req, fence)
                .instrument(span)
                .await
        }
        Job::BodyEdited(edit) => {
            let span = tracing::info_span!("body_edited", issue = %edit.issue, delivery = %edit.delivery, editor = %edit.editor.login);
            async {
                ctx.db.record_body_edit(edit).await?;
                Ok(())
            }
            .instrument(span)
            .await
        }
        Job::GaveUp(notice) => {
            let span = tracing::info_span!("gave_up", repo = %notice.repo, issue = %notice.issue, dead_job = notice.job);
            crate::engine::handlers::gave_up::handle_gave_up(ctx, notice)
                .instrument(span)
                .await
        }
        Job::RefreshConfig(req) => {
            let span =
                tracing::info_span!("refresh_config", repo = %req.repo, delivery = %req.delivery);
            crate::engine::handlers::refresh_config::handle_refresh_config(ctx, req)
                .instrument(span)
                .await
        }
    }
}

/// How long GitHub asked to wait, when `e` (or what it wraps) is its rate limit.
fn rate_limit_wait(e: &anyhow::Error) -> Option<Duration> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<GitHubError>() {
            Some(GitHubError::RateLimited { wait }) => Some(*wait),
            _ => None,
        })
}

/// Runs `work` while renewing the lease every third of its length. If a renewal finds the
/// lease gone, the work is dropped at its next await point and the job reports `Fenced`.
async fn with_heartbeat(
    ctx: &Ctx,
    fence: Fence,
    work: impl std::future::Future<Output = Result<(), JobError>>,
) -> Result<(), JobError> {
    let lease = ctx.settings.lease;
    let lease_ms = lease.as_millis() as i64;
    let beat = async {
        let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(50)));
        tick.tick().await;
        loop {
            tick.tick().await;
            match ctx.db.heartbeat(fence, lease_ms).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; trying again"),
            }
        }
    };
    tokio::select! {
        result = work => result,
        _ = beat => Err(JobError::Fenced),
    }
}

/// Buries the job and, when it was a task's run, ends the attempt as needing review (a human
/// must act: its tries are used up) so the issue says so instead of showing "in progress"
/// forever. `why` is the last error, already free of secrets (errors never carry credentials,
/// and agent output in them went through the redactor).
async fn give_up(ctx: &Ctx, job: &Job, fence: Fence, why: &str) {
    if let Err(e) = ctx.db.bury_job(fence, why).await {
        tracing::error!(error = %e, "burying a job failed");
    }
    // Someone asked for something and gets no answer: tell them, once GitHub answers again.
    // The dead job stays, for `bosun task replay`.
    if let Some(notice) = job.gave_up_notice(fence.job.0, why) {
        let notice = Job::GaveUp(Box::new(notice)).to_new(0);
        match ctx.db.enqueue(&[notice]).await {
            Ok(()) => ctx.jobs_added.notify_one(),
            Err(e) => tracing::error!(error = %e, "could not queue the notice of a given-up job"),
        }
    }
    if let Job::Run { task, attempt } = job {
        let short: String = why.chars().take(300).collect();
        let failed = TaskEvent::Finished {
            attempt: *attempt,
            status: TaskStatus::NeedsReview,
            summary: format!(
                "👀 bosun gave up on this attempt after using up its tries. The last error: \
                 `{}`. The server log has the details (task {task}). Comment `@{} retry` to try \
                 again.",
                short.replace('`', "'"),
                ctx.identity.handle
            ),
        };
        let face = [Job::SyncFace { task: *task }.to_new(0)];
        match ctx.db.record(*task, &failed, None, &face).await {
            Ok(_) => ctx.jobs_added.notify_one(),
            Err(e) => tracing::warn!(error = %e, "could not mark the task failed"),
        }
    }
}
