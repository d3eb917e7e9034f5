//! Checks around a run: the circuit breaker, the sandbox backend and its images (pulled as the
//! server's `docker.pull` says), a refused token.

use super::*;
use crate::config::docker::PullPolicy;
use crate::config::run::SandboxKind;
use bosun_core::model::ProgressEvent;

impl Pipeline<'_> {
    /// git was refused the cached installation token: drop it, and let the job retry with a
    /// fresh one (the queue's backoff bounds how often).
    pub(super) async fn token_refused(&self, e: crate::run::workspace::GitError) -> Step {
        tracing::warn!(error = %e, "git refused the installation token; minting a new one");
        self.client.invalidate_token().await;
        Step::Job(JobError::Retry(anyhow::anyhow!("{e}")))
    }

    /// Ends the attempt at once when the agent's circuit breaker is open in this repository.
    pub(super) async fn check_breaker(&self, resolved: &Resolved) -> Result<(), Step> {
        let now = chrono::Utc::now().timestamp_millis();
        let until = self
            .ctx
            .db
            .breaker_open_until(self.task.repo_id, &resolved.agent_name, now)
            .await
            .map_err(JobError::from)?;
        match until {
            Some(until) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::breaker_open(
                    &resolved.agent_name,
                    self.runner.config.limits.breaker_failures,
                    Duration::from_millis((until - now).max(0) as u64),
                ),
            )),
            None => Ok(()),
        }
    }

    /// Counts an agent run for the breaker.
    pub(super) async fn note_agent_run(
        &self,
        resolved: &Resolved,
        failed: bool,
    ) -> Result<(), Step> {
        let limits = &self.runner.config.limits;
        let opened = self
            .ctx
            .db
            .note_agent_run(
                self.task.repo_id,
                &resolved.agent_name,
                failed,
                limits.breaker_failures,
                i64::from(limits.breaker_cooldown_minutes) * 60_000,
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .map_err(JobError::from)?;
        if opened.is_some() {
            tracing::warn!(agent = %resolved.agent_name, "agent circuit breaker opened for this repository");
        }
        Ok(())
    }

    /// The sandbox is there and has `image`, pulled first when the server's `docker.pull`
    /// says so (`missing`: when the engine lacks it; `always`: every time).
    pub(super) async fn check_sandbox(&self, image: &str) -> Result<(), Step> {
        let docker = &self.runner.config.docker;
        let policy = match self.runner.config.sandbox {
            SandboxKind::Docker => docker.pull,
            SandboxKind::Process => PullPolicy::Never,
        };
        let found = match policy {
            PullPolicy::Always => Err(SandboxError::ImageMissing {
                image: image.to_string(),
            }),
            PullPolicy::Missing | PullPolicy::Never => self.runner.sandbox.check(image).await,
        };
        let ready = match found {
            Err(SandboxError::ImageMissing { image }) if policy != PullPolicy::Never => {
                self.pull_image(&image, docker.pull_timeout()).await?
            }
            found => found,
        };
        match ready {
            Ok(()) => Ok(()),
            Err(SandboxError::ImageMissing { image }) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::image_missing(&image),
            )),
            Err(SandboxError::PullFailed { image, why }) => Err(Step::Finish(
                TaskStatus::Failed,
                reply::image_pull_failed(&image, &why),
            )),
            Err(SandboxError::Unavailable(why)) => Err(Step::Job(JobError::Defer(
                anyhow::anyhow!("the sandbox backend is unavailable: {why}"),
            ))),
            Err(e) => Err(Step::Job(JobError::Fail(e.into()))),
        }
    }

    /// Pulls `image`, shown in the tracking comment while it goes on and once it is done.
    async fn pull_image(
        &self,
        image: &str,
        limit: Duration,
    ) -> Result<Result<(), SandboxError>, Step> {
        let attempt = self.attempt;
        let image = image.to_string();
        self.record(
            TaskEvent::Progress(ProgressEvent::ImagePulling {
                attempt,
                image: image.clone(),
            }),
            true,
        )
        .await?;
        let started = Instant::now();
        tracing::info!(%image, "pulling the run's image");
        let pulled = self.runner.sandbox.pull(&image, limit).await;
        if pulled.is_ok() {
            let secs = started.elapsed().as_secs();
            tracing::info!(%image, secs, "image pulled");
            self.record(
                TaskEvent::Progress(ProgressEvent::ImagePulled {
                    attempt,
                    image,
                    secs,
                }),
                true,
            )
            .await?;
        }
        Ok(pulled)
    }
}
