//! The repository's set-up: its `setup:` commands, one after the other in fresh containers on
//! the checkout before the agent's first round, with the `egress:` hosts reachable. A failing
//! command ends the attempt before the agent starts; its log is in the tracking comment. The
//! checkout may not grow past `limits.max_checkout_mb` meanwhile.
//!
//! With `cache:` paths the set-up's result is an environment snapshot (`run::environment`): a
//! task whose key is ready skips the set-up and starts from it; otherwise the set-up builds
//! one, which the agent and the gates then see read-only.

use super::rounds::{commands_could_not_run, gate_summary, Work};
use super::*;
use crate::run::environment::{self, Build, Ready};
use crate::run::gates::run_setup;
use crate::run::sandbox::ExtraMount;
use bosun_core::model::ProgressEvent;
use bosun_core::repo_config::RepoConfig;

impl Pipeline<'_> {
    pub(super) async fn set_up(&self, work: &Work<'_>, config: &RepoConfig) -> Result<(), Step> {
        if config.setup.is_empty() {
            return Ok(());
        }
        let key = self.environment_key(work, config).await?;
        if let Some(key) = &key {
            if self.start_from_snapshot(work, config, key).await? {
                return Ok(());
            }
        }
        let build = match (&key, &self.runner.environments) {
            (Some(key), Some(envs)) => {
                let (envs, key) = (envs.clone(), key.clone());
                let (paths, user) = (config.cache.len(), self.runner.user);
                Some(
                    blocking(move || envs.build(&key, paths, user))
                        .await?
                        .map_err(|e| fail(format!("preparing the environment snapshot: {e}")))?,
                )
            }
            _ => None,
        };
        let mounts = match &build {
            Some(build) => {
                self.mount_points(work, config).await?;
                environment::mounts(build.dir(), &config.cache, true)
            }
            None => Vec::new(),
        };
        let started = Instant::now();
        self.run_set_up(work, config, mounts).await?;
        if let Some(build) = build {
            self.keep_snapshot(config, build, started.elapsed().as_secs())
                .await?;
        }
        Ok(())
    }

    /// Runs the commands; `mounts` are the snapshot's paths being built (writable).
    async fn run_set_up(
        &self,
        work: &Work<'_>,
        config: &RepoConfig,
        mounts: Vec<ExtraMount>,
    ) -> Result<(), Step> {
        let run = GateRun {
            task_id: self.task.id.0 as u64,
            round: 0,
            image: &work.resolved.agent.image,
            workspace: &work.ws.dir,
            limits: self.runner.limits.clone(),
            deadline: work.resolved.setup_timeout,
            user: self.runner.user,
            doors: self.egress_doors(),
            env: self.egress_env(),
            mounts,
        };
        let (stop, cap, max_mb) = self.watch_checkout(&work.ws.dir);
        let results = run_setup(self.runner.sandbox.as_ref(), &config.setup, &run, &stop)
            .await
            .map_err(commands_could_not_run)?;
        if self.cancel.is_cancelled() {
            return Err(Step::Stopped);
        }
        let summaries: Vec<GateSummary> = results
            .iter()
            .map(|g| gate_summary(g, work.redactor))
            .collect();
        self.record(
            TaskEvent::Progress(ProgressEvent::SetupRan {
                attempt: self.attempt,
                results: summaries.clone(),
            }),
            true,
        )
        .await?;
        self.note_refusals().await?;
        if cap.tripped() {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::setup_filled_disk(max_mb),
            ));
        }
        match summaries.iter().find(|g| !g.ok) {
            Some(failed) => Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::setup_failed(failed, work.resolved.setup_timeout),
            )),
            None => Ok(()),
        }
    }

    /// The snapshot key of this run's environment: `None` without `cache:` paths, or when the
    /// sandbox cannot mount this host's directories (then the set-up runs every time).
    async fn environment_key(
        &self,
        work: &Work<'_>,
        config: &RepoConfig,
    ) -> Result<Option<String>, Step> {
        if config.cache.is_empty() || self.runner.environments.is_none() {
            return Ok(None);
        }
        let (dir, names) = (work.ws.dir.clone(), config.snapshot_key.clone());
        // Read from the checkout the set-up will run on; a link is not followed out of it.
        let key_files = blocking(move || {
            names
                .into_iter()
                .map(|name| {
                    let path = dir.join(&name);
                    let content = std::fs::symlink_metadata(&path)
                        .ok()
                        .filter(|m| m.is_file())
                        .and_then(|_| std::fs::read(&path).ok());
                    (name, content)
                })
                .collect::<Vec<_>>()
        })
        .await?;
        Ok(Some(environment::key(
            self.task.repo_id.0,
            &work.resolved.agent.image,
            &config.setup,
            &config.cache,
            &key_files,
        )))
    }

    /// Starts from the ready snapshot of `key`, if there is one: true when the set-up is
    /// skipped.
    async fn start_from_snapshot(
        &self,
        work: &Work<'_>,
        config: &RepoConfig,
        key: &str,
    ) -> Result<bool, Step> {
        let Some(envs) = self.runner.environments.clone() else {
            return Ok(false);
        };
        let wanted = key.to_string();
        let found = blocking(move || envs.take(&wanted)).await?;
        let Some((dir, ready)) = found else {
            return Ok(false);
        };
        self.mount_points(work, config).await?;
        self.use_snapshot(&dir, config);
        tracing::info!(key, "set-up skipped: the environment snapshot is ready");
        self.record(
            TaskEvent::Progress(ProgressEvent::SetupReused {
                attempt: self.attempt,
                key: key.to_string(),
                setup_secs: ready.setup_secs,
            }),
            true,
        )
        .await?;
        Ok(true)
    }

    /// Puts the set-up's snapshot in place; the agent and the gates see it read-only.
    async fn keep_snapshot(
        &self,
        config: &RepoConfig,
        build: Build,
        setup_secs: u64,
    ) -> Result<(), Step> {
        let ready = Ready {
            repo: self.task.repo.to_string(),
            setup_secs,
        };
        let dir = blocking(move || build.finish(&ready))
            .await?
            .map_err(|e| fail(format!("keeping the environment snapshot: {e}")))?;
        self.use_snapshot(&dir, config);
        Ok(())
    }

    /// The agent and the gates see the snapshot in `dir`, read-only.
    fn use_snapshot(&self, dir: &std::path::Path, config: &RepoConfig) {
        let _ = self
            .environment
            .set(environment::mounts(dir, &config.cache, false));
    }

    /// The checkout's mount points for the cache paths, owned by the sandbox user.
    async fn mount_points(&self, work: &Work<'_>, config: &RepoConfig) -> Result<(), Step> {
        let (dir, cache, user) = (work.ws.dir.clone(), config.cache.clone(), self.runner.user);
        blocking(move || environment::make_mount_points(&dir, &cache, user))
            .await?
            .map_err(|e| fail(format!("making the cache paths' mount points: {e}")))
    }

    /// The environment snapshot's paths, read-only, once the set-up made or found one.
    pub(super) fn env_mounts(&self) -> Vec<ExtraMount> {
        self.environment.get().cloned().unwrap_or_default()
    }
}

fn fail(why: String) -> Step {
    Step::Job(JobError::Fail(anyhow::anyhow!(why)))
}
