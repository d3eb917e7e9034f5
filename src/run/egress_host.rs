//! The egress proxy as runs use it. It starts on the first run whose repository lists hosts
//! (so a server whose repositories list none never creates a network for it), bound where only
//! sandboxes and the host reach it: with the Docker sandbox on the gateway of an internal
//! network (the metering proxy's when the meter is on, so a run reaches both), with the process
//! sandbox on loopback. A run gets a token of its own, as the proxy's password in the
//! `HTTP(S)_PROXY` variables its containers are given.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::meter_host::{private_network, MeterHost};
use crate::config::run::{RunConfig, SandboxKind};
use crate::egress::addresses::Range;
use crate::egress::{EgressProxy, EgressSettings, RunEgress, SystemResolver};
use crate::github::secret::Secret;
use bosun_core::egress::Allowlist;

pub struct EgressHost {
    settings: EgressSettings,
    /// The server's clamp on what repositories list.
    server_allow: Allowlist,
    place: Place,
    started: OnceCell<Started>,
}

/// Where the proxy listens.
enum Place {
    /// The metering proxy's network and gateway.
    Beside {
        network: String,
        gateway: IpAddr,
    },
    /// An internal Docker network of its own, made on first use.
    Network {
        config: crate::config::docker::DockerConfig,
        instance: String,
    },
    Loopback,
}

struct Started {
    proxy: EgressProxy,
    network: Option<String>,
}

/// One run's way out: its token, its log, and what its containers are given.
pub struct EgressRun {
    host: Arc<EgressHost>,
    token: Secret,
    pub log: Arc<RunEgress>,
    /// `http://bosun:<token>@<address>:<port>`: a secret, like the token in it.
    pub proxy_url: Secret,
    /// The network the run's containers join to reach the proxy (none with the process
    /// sandbox).
    pub network: Option<String>,
}

impl EgressRun {
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The token is dead from now on.
    pub fn end(&self) {
        if let Some(started) = self.host.started.get() {
            started.proxy.runs().end(&self.token);
        }
    }
}

impl EgressHost {
    pub fn new(
        config: &RunConfig,
        instance: &str,
        meter: Option<&MeterHost>,
    ) -> anyhow::Result<EgressHost> {
        let egress = &config.egress;
        let trusted_ranges = egress
            .trusted_ranges
            .iter()
            .map(|r| r.parse::<Range>().map_err(|why| anyhow::anyhow!(why)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let beside = meter.and_then(|m| Some((m.network.clone()?, m.gateway())));
        let place = match (config.sandbox, beside) {
            (SandboxKind::Process, _) => Place::Loopback,
            (SandboxKind::Docker, Some((network, gateway))) => Place::Beside { network, gateway },
            (SandboxKind::Docker, None) => Place::Network {
                config: config.docker.clone(),
                instance: instance.to_string(),
            },
        };
        Ok(EgressHost {
            settings: EgressSettings {
                ports: egress.ports.clone(),
                trusted_ranges,
                ..EgressSettings::default()
            },
            server_allow: egress.allowlist(),
            place,
            started: OnceCell::new(),
        })
    }

    /// Opens a run's way out to the hosts `listed` (a repository's `egress:`, already
    /// checked), narrowed by the server's clamp.
    pub async fn open_run(
        self: &Arc<Self>,
        name: &str,
        listed: &[String],
    ) -> anyhow::Result<EgressRun> {
        let started = self.started.get_or_try_init(|| self.start()).await?;
        let allowlist = Allowlist::parse(listed)
            .map_err(|why| anyhow::anyhow!(why))?
            .within(&self.server_allow);
        let (token, log) = started.proxy.runs().register(name, allowlist);
        let addr = started.proxy.addr();
        let proxy_url = Secret::new(format!("http://bosun:{}@{addr}", token.expose()));
        Ok(EgressRun {
            host: self.clone(),
            token,
            log,
            proxy_url,
            network: started.network.clone(),
        })
    }

    async fn start(&self) -> anyhow::Result<Started> {
        let (ip, network) = match &self.place {
            Place::Beside { network, gateway } => (*gateway, Some(network.clone())),
            Place::Network { config, instance } => {
                let name = format!("bosun-egress-{instance}");
                let docker = config.engine().connect()?;
                (private_network(&docker, &name, instance).await?, Some(name))
            }
            Place::Loopback => (IpAddr::V4(Ipv4Addr::LOCALHOST), None),
        };
        let proxy = EgressProxy::start(
            SocketAddr::new(ip, 0),
            self.settings.clone(),
            Box::new(SystemResolver),
        )
        .await?;
        tracing::info!(addr = %proxy.addr(), network = ?network, "egress proxy ready for runs");
        Ok(Started { proxy, network })
    }
}
