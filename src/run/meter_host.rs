//! The metering proxy as the runs use it: started with the server when `meter.enabled`, bound
//! where only agent containers (and the host) reach it, and what an agent is given instead of
//! its model key. With the Docker sandbox the proxy listens on the gateway of an internal
//! Docker network (`bosun-meter-<instance>`): containers on it reach the host's side of their
//! bridge and nothing beyond, so a metered agent has no route to the internet at all.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bollard::errors::Error as DockerError;
use bollard::models::NetworkCreateRequest;
use bollard::Docker;

use crate::config::run::{Limits, RunConfig, SandboxKind, UpstreamConfig};
use crate::github::secret::Secret;
use crate::meter::{MeterProxy, Provider, RunBudget, Upstream, UpstreamApi};

pub struct MeterHost {
    pub proxy: MeterProxy,
    /// The Docker network metered agents join; `None` with the process sandbox.
    pub network: Option<String>,
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
    pub async fn start(config: &RunConfig, instance: &str) -> anyhow::Result<MeterHost> {
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
        let (ip, network) = match config.sandbox {
            SandboxKind::Docker => {
                let name = format!("bosun-meter-{instance}");
                let docker = config.docker.engine().connect()?;
                (private_network(&docker, &name, instance).await?, Some(name))
            }
            SandboxKind::Process => (IpAddr::V4(Ipv4Addr::LOCALHOST), None),
        };
        let has_anthropic = upstream.anthropic.is_some();
        let has_openai = upstream.openai.is_some();
        let has_gemini = upstream.gemini.is_some();
        let proxy =
            MeterProxy::bind(SocketAddr::new(ip, 0), upstream, meter.prices.clone()).await?;
        let origin = format!("http://{}", proxy.local_addr());
        tracing::info!(%origin, network = ?network, "metering proxy ready for agents");
        Ok(MeterHost {
            proxy,
            network,
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

    /// The address the proxy listens on: its network's gateway, or loopback.
    pub fn gateway(&self) -> IpAddr {
        self.proxy.local_addr().ip()
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

/// The internal network's gateway address, creating the network on first use.
pub(super) async fn private_network(
    docker: &Docker,
    name: &str,
    instance: &str,
) -> anyhow::Result<IpAddr> {
    let found = match docker.inspect_network(name, None).await {
        Ok(n) => n,
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            docker
                .create_network(NetworkCreateRequest {
                    name: name.to_string(),
                    driver: Some("bridge".into()),
                    internal: Some(true),
                    labels: Some(HashMap::from([(
                        "bosun.instance".to_string(),
                        instance.to_string(),
                    )])),
                    ..Default::default()
                })
                .await?;
            docker.inspect_network(name, None).await?
        }
        Err(e) => return Err(e.into()),
    };
    anyhow::ensure!(
        found.internal == Some(true),
        "the Docker network `{name}` exists but is not internal; remove it and restart bosun"
    );
    found
        .ipam
        .and_then(|i| i.config)
        .into_iter()
        .flatten()
        .find_map(|c| c.gateway.and_then(|g| g.parse().ok()))
        .ok_or_else(|| anyhow::anyhow!("the Docker network `{name}` has no gateway address"))
}
