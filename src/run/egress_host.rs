//! The egress proxy as runs use it. It starts on the first run that needs it, on loopback;
//! with the Docker sandbox, containers reach it through a door (`run::doors`) at the same
//! address, with no network of their own. A run gets a token of its own, as the proxy's
//! password in the `HTTP(S)_PROXY` variables its containers are given.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::doors::DoorKeeper;
use super::sandbox::Door;
use crate::config::run::RunConfig;
use crate::egress::addresses::Range;
use crate::egress::{EgressProxy, EgressSettings, RunEgress, SystemResolver};
use crate::github::secret::Secret;
use bosun_core::egress::Allowlist;

pub struct EgressHost {
    settings: EgressSettings,
    /// The server's clamp on what repositories list.
    server_allow: Allowlist,
    /// Where containers get their door from; `None` with the process sandbox.
    doors: Option<Arc<DoorKeeper>>,
    started: OnceCell<Started>,
}

struct Started {
    proxy: EgressProxy,
    door: Option<Door>,
}

/// One run's way out: its token, its log, and what its containers are given.
pub struct EgressRun {
    host: Arc<EgressHost>,
    token: Secret,
    pub log: Arc<RunEgress>,
    /// `http://bosun:<token>@127.0.0.1:<port>`: a secret, like the token in it.
    pub proxy_url: Secret,
    /// The door the run's containers reach the proxy through (none with the process sandbox).
    pub door: Option<Door>,
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
    pub fn new(config: &RunConfig, doors: Option<Arc<DoorKeeper>>) -> anyhow::Result<EgressHost> {
        let egress = &config.egress;
        let trusted_ranges = egress
            .trusted_ranges
            .iter()
            .map(|r| r.parse::<Range>().map_err(|why| anyhow::anyhow!(why)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(EgressHost {
            settings: EgressSettings {
                ports: egress.ports.clone(),
                trusted_ranges,
                ..EgressSettings::default()
            },
            server_allow: egress.allowlist(),
            doors,
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
            door: started.door.clone(),
        })
    }

    async fn start(&self) -> anyhow::Result<Started> {
        let proxy = EgressProxy::start(
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            self.settings.clone(),
            Box::new(SystemResolver),
        )
        .await?;
        let door = self
            .doors
            .as_ref()
            .map(|keeper| keeper.open("egress", proxy.addr()))
            .transpose()?;
        tracing::info!(addr = %proxy.addr(), "egress proxy ready for runs");
        Ok(Started { proxy, door })
    }
}
