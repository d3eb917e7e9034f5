//! The run's way out through the egress proxy: the proxy's address and the run's token in its
//! containers' `HTTP(S)_PROXY`, the door that reaches the proxy, the hosts refused shown in the
//! tracking comment, and the token dead when the attempt ends. A repository that lists no
//! `egress:` hosts reaches none: in Docker its containers still get the door, so what they try
//! is refused and named.

use super::*;
use bosun_core::model::ProgressEvent;
use bosun_core::repo_config::RepoConfig;

impl Pipeline<'_> {
    /// Opens the run's way out to the hosts its repository lists. A repository that lists
    /// none still goes through the proxy in Docker, with nothing allowed: its containers had
    /// no way out before either, and now a host they try is named in the tracking comment.
    pub(super) async fn open_egress(&self, config: &RepoConfig) -> Result<(), Step> {
        let refusing_only = config.egress.is_empty();
        if refusing_only && self.runner.doors.is_none() {
            return Ok(());
        }
        let host = match &self.runner.egress {
            Some(host) => host,
            None if refusing_only => return Ok(()),
            None => {
                return Err(Step::Finish(
                    TaskStatus::Failed,
                    reply::egress_unavailable(),
                ))
            }
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
        if self.runner.meter.is_some() {
            // The meter's address, as its base URLs spell it.
            let direct = std::net::Ipv4Addr::LOCALHOST.to_string();
            env.push(("NO_PROXY".into(), direct.clone()));
            env.push(("no_proxy".into(), direct));
        }
        env
    }

    /// The door a set-up or gate container gets: the egress proxy's when the run has a way
    /// out, else none.
    pub(super) fn egress_doors(&self) -> Option<Doors> {
        let keeper = self.runner.doors.as_ref()?;
        let door = self.egress.get().and_then(|run| run.door.clone())?;
        Some(keeper.doors(vec![door]))
    }

    /// Records, for the tracking comment, what the proxies kept from the run so far when there
    /// is something new: hosts the egress proxy refused, tools the metering proxy took out.
    pub(super) async fn note_refusals(&self) -> Result<(), Step> {
        self.note_stripped_tools().await?;
        let Some(run) = self.egress.get() else {
            return Ok(());
        };
        let hosts = run.log.refused_hosts();
        if !more_than_shown(&self.refusals_shown, hosts.len()) {
            return Ok(());
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

    /// Says which provider-side tools the metering proxy took out of the run's model calls,
    /// once each, so a maintainer sees why an agent could not search the web (and how to let
    /// it: `model_tools:`).
    async fn note_stripped_tools(&self) -> Result<(), Step> {
        let Some(meter) = self.runner.meter.as_ref() else {
            return Ok(());
        };
        let Some(run) = crate::locks::lock(&self.metered).as_ref().map(|m| m.run) else {
            return Ok(());
        };
        let tools = meter.proxy.stripped_tools(run);
        if !more_than_shown(&self.tools_shown, tools.len()) {
            return Ok(());
        }
        self.record(
            TaskEvent::Progress(ProgressEvent::ToolsStripped {
                attempt: self.attempt,
                tools,
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

/// Whether a list that only grows, now `now` long, holds more than was `shown`; if so, all of
/// it counts as shown from here on.
fn more_than_shown(shown: &std::sync::Mutex<usize>, now: usize) -> bool {
    let mut shown = crate::locks::lock(shown);
    if now <= *shown {
        return false;
    }
    *shown = now;
    true
}
