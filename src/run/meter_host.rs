//! The metering proxy as the runs use it: started with the server when `meter.enabled`, bound
//! where only agent containers (and the host) reach it, and what an agent is given instead of
//! its model key. The proxy listens on loopback; with the Docker sandbox, containers reach it
//! through a door (`run::doors`) at the same address, with no network of their own, so a
//! metered agent has no route to the internet, nor to this host's other services.

use std::net::{Ipv4Addr, SocketAddr};

use super::doors::DoorKeeper;
use super::sandbox::Door;
use crate::config::run::{Limits, RunConfig, UpstreamConfig};
use crate::github::secret::Secret;
use crate::meter::{MeterProxy, Provider, RunBudget, Upstream, UpstreamApi};

pub struct MeterHost {
    pub proxy: MeterProxy,
    /// The door containers reach the proxy through; `None` with the process sandbox.
    pub door: Option<Door>,
    /// How an agent reaches the proxy: `http://<address>:<port>`.
    pub origin: String,
    /// Host environment variables the proxy takes keys from: never passed to an agent.
    pub key_envs: Vec<String>,
    /// Providers with an upstream behind the proxy; agents are pointed at the proxy only for
    /// these, since a provider without one answers every call with 502.
    pub has_anthropic: bool,
    pub has_openai: bool,
    pub has_gemini: bool,
}

impl MeterHost {
    pub async fn start(
        config: &RunConfig,
        doors: Option<&DoorKeeper>,
    ) -> anyhow::Result<MeterHost> {
        let meter = &config.meter;
        let upstream = Upstream {
            anthropic: meter.anthropic.as_ref().map(upstream).transpose()?,
            openai: meter.openai.as_ref().map(upstream).transpose()?,
            gemini: meter.gemini.as_ref().map(upstream).transpose()?,
        };
        anyhow::ensure!(
            [Provider::Anthropic, Provider::OpenAi, Provider::Gemini]
                .into_iter()
                .any(|p| upstream.get(p).is_some()),
            "meter.enabled needs at least one of meter.anthropic, meter.openai and meter.gemini"
        );
        let has_anthropic = upstream.anthropic.is_some();
        let has_openai = upstream.openai.is_some();
        let has_gemini = upstream.gemini.is_some();
        let loopback = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
        let proxy = MeterProxy::bind(loopback, upstream, meter.prices.clone()).await?;
        let origin = format!("http://{}", proxy.local_addr());
        let door = doors
            .map(|keeper| keeper.open("meter", proxy.local_addr()))
            .transpose()?;
        tracing::info!(%origin, "metering proxy ready for agents");
        Ok(MeterHost {
            proxy,
            door,
            origin,
            key_envs: [&meter.anthropic, &meter.openai, &meter.gemini]
                .into_iter()
                .flatten()
                .map(|u| u.key_env.clone())
                .collect(),
            has_anthropic,
            has_openai,
            has_gemini,
        })
    }

    /// Whether the proxy has an upstream for `provider`.
    pub fn fronts(&self, provider: Provider) -> bool {
        match provider {
            Provider::Anthropic => self.has_anthropic,
            Provider::OpenAi => self.has_openai,
            Provider::Gemini => self.has_gemini,
        }
    }

    /// The base URL an agent uses for `provider`.
    pub fn base_url(&self, provider: Provider) -> String {
        format!("{}{}", self.origin, provider.base_path())
    }
}

/// One attempt's budget from the server's limits.
pub fn budget(limits: &Limits) -> RunBudget {
    RunBudget {
        max_tokens: limits.task_budget_tokens,
        max_micro_usd: limits.task_budget_usd.map(crate::config::run::micro_usd),
    }
}

fn upstream(u: &UpstreamConfig) -> anyhow::Result<UpstreamApi> {
    let key = std::env::var(&u.key_env).map_err(|_| {
        anyhow::anyhow!(
            "the metering proxy needs the key in ${}, which is not set",
            u.key_env
        )
    })?;
    let url = u
        .base_url
        .parse()
        .map_err(|e| anyhow::anyhow!("meter upstream `{}`: {e}", u.base_url))?;
    Ok(UpstreamApi::new(url, Secret::new(key)))
}
