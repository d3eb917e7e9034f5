//! The run's way out through the egress proxy, when its repository lists `egress:` hosts: the
//! proxy's address and the run's token in its containers' `HTTP(S)_PROXY`, the network that
//! reaches the proxy, the hosts refused shown in the tracking comment, and the token dead when
//! the attempt ends. A repository that lists none keeps its containers off the network.

use super::*;
use bosun_core::model::ProgressEvent;
use bosun_core::repo_config::RepoConfig;

impl Pipeline<'_> {
    /// Opens the run's way out to the hosts its repository lists (none listed: nothing to do).
    pub(super) async fn open_egress(&self, config: &RepoConfig) -> Result<(), Step> {
        if config.egress.is_empty() {
            return Ok(());
        }
        let Some(host) = &self.runner.egress else {
            return Err(Step::Finish(
                TaskStatus::Failed,
                reply::egress_unavailable(),
            ));
        };
        let name = format!("task {} attempt {}", self.task.id, self.attempt);
        let run = host
            .open_run(&name, &config.egress)
            .await
            .map_err(|e| Step::Job(JobError::Fail(e.context("starting the egress proxy"))))?;
        let _ = self.egress.set(run);
        Ok(())
    }

    /// The proxy variables for a container of this run (none without a way out). The meter's
    /// address is left out of them, so model calls go straight to it.
    pub(super) fn egress_env(&self) -> Vec<(String, String)> {
        let Some(run) = self.egress.get() else {
            return Vec::new();
        };
        let url = run.proxy_url.expose().to_string();
        let mut env: Vec<(String, String)> =
            ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]
                .into_iter()
                .map(|name| (name.to_string(), url.clone()))
                .collect();
        if let Some(meter) = &self.runner.meter {
            let direct = meter.gateway().to_string();
            env.push(("NO_PROXY".into(), direct.clone()));
            env.push(("no_proxy".into(), direct));
        }
        env
    }

    /// The network a gate joins: the proxy's when the run has a way out, else none.
    pub(super) fn egress_network(&self) -> Option<String> {
        self.egress.get().and_then(|run| run.network.clone())
    }

    /// Records the hosts refused so far when there are new ones, for the tracking comment.
    pub(super) async fn note_refusals(&self) -> Result<(), Step> {
        let Some(run) = self.egress.get() else {
            return Ok(());
        };
        let hosts = run.log.refused_hosts();
        {
            let mut shown = crate::locks::lock(&self.refusals_shown);
            if hosts.len() <= *shown {
                return Ok(());
            }
            *shown = hosts.len();
        }
        for host in &hosts {
            tracing::info!(%host, "the egress proxy refused a host to the run");
        }
        self.record(
            TaskEvent::Progress(ProgressEvent::EgressRefused {
                attempt: self.attempt,
                hosts,
            }),
            true,
        )
        .await?;
        Ok(())
    }

    /// The run's token is dead once the attempt ends.
    pub(super) fn end_egress(&self) {
        if let Some(run) = self.egress.get() {
            run.end();
        }
    }
}
