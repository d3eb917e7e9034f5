//! The metering proxy as the runs use it: started with the server when `meter.enabled`, bound
//! where only agent containers (and the host) reach it, and what an agent is given instead of
//! its model key. The proxy listens on loopback; with the Docker sandbox, containers reach it
//! through a door (`run::doors`) at the same address, with no network of their own, so a
//! metered agent has no route to the internet, nor to this host's other services.

use std::net::{Ipv4Addr, SocketAddr};

use super::doors::DoorKeeper;
use super::sandbox::Door;
use crate::config::run::{Limits, MeterConfig, RunConfig, UpstreamConfig};
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

/// The upstream a provider gets when `meter:` does not name one: its official API, with the
/// key from its usual variable, when that is set.
pub const DEFAULT_UPSTREAMS: [(Provider, &str, &str); 3] = [
    (
        Provider::Anthropic,
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    (Provider::OpenAi, "https://api.openai.com", "OPENAI_API_KEY"),
    (
        Provider::Gemini,
        "https://generativelanguage.googleapis.com",
        "GEMINI_API_KEY",
    ),
];

/// Whether the host variable `name` holds a key (an empty one counts as unset).
pub fn key_is_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// `meter:`'s upstreams, each provider it leaves out filled with its default when the
/// default's variable is set (`is_set`, the host environment outside tests).
pub fn upstream_configs(
    meter: &MeterConfig,
    is_set: impl Fn(&str) -> bool,
) -> [(Provider, Option<UpstreamConfig>); 3] {
    DEFAULT_UPSTREAMS.map(|(provider, base_url, key_env)| {
        let configured = match provider {
            Provider::Anthropic => &meter.anthropic,
            Provider::OpenAi => &meter.openai,
            Provider::Gemini => &meter.gemini,
        };
        let chosen = configured.clone().or_else(|| {
            is_set(key_env).then(|| UpstreamConfig {
                base_url: base_url.into(),
                key_env: key_env.into(),
            })
        });
        (provider, chosen)
    })
}

impl MeterHost {
    /// The proxy, fronting every provider `meter:` names and each other one whose usual key
    /// variable is set; `None` when that leaves none (there is then no key to keep from the
    /// agents either).
    pub async fn start(
        config: &RunConfig,
        doors: Option<&DoorKeeper>,
    ) -> anyhow::Result<Option<MeterHost>> {
        let meter = &config.meter;
        // In `DEFAULT_UPSTREAMS`' order.
        let [(_, anthropic), (_, openai), (_, gemini)] = upstream_configs(meter, key_is_set);
        let upstream = Upstream {
            anthropic: anthropic.as_ref().map(upstream).transpose()?,
            openai: openai.as_ref().map(upstream).transpose()?,
            gemini: gemini.as_ref().map(upstream).transpose()?,
        };
        if [Provider::Anthropic, Provider::OpenAi, Provider::Gemini]
            .into_iter()
            .all(|p| upstream.get(p).is_none())
        {
            return Ok(None);
        }
        let has_anthropic = upstream.anthropic.is_some();
        let has_openai = upstream.openai.is_some();
        let has_gemini = upstream.gemini.is_some();
        let loopback = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
        let proxy = MeterProxy::bind(loopback, upstream, meter.prices.clone()).await?;
        let origin = format!("http://{}", proxy.local_addr());
        let door = doors
            .map(|keeper| keeper.open("meter", proxy.local_addr()))
            .transpose()?;
        tracing::info!(%origin, has_anthropic, has_openai, has_gemini, "metering proxy ready for agents");
        Ok(Some(MeterHost {
            proxy,
            door,
            origin,
            key_envs: [&anthropic, &openai, &gemini]
                .into_iter()
                .flatten()
                .map(|u| u.key_env.clone())
                .collect(),
            has_anthropic,
            has_openai,
            has_gemini,
        }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_providers_are_fronted_when_their_usual_key_is_set() {
        let meter = MeterConfig::default();
        let only_anthropic = upstream_configs(&meter, |name| name == "ANTHROPIC_API_KEY");
        assert_eq!(
            only_anthropic[0].1,
            Some(UpstreamConfig {
                base_url: "https://api.anthropic.com".into(),
                key_env: "ANTHROPIC_API_KEY".into(),
            })
        );
        assert!(only_anthropic[1].1.is_none() && only_anthropic[2].1.is_none());
        assert!(upstream_configs(&meter, |_| false)
            .iter()
            .all(|(_, u)| u.is_none()));
        // A named upstream wins, whatever the environment holds.
        let named = MeterConfig {
            openai: Some(UpstreamConfig {
                base_url: "http://127.0.0.1:9".into(),
                key_env: "MY_OPENAI".into(),
            }),
            ..MeterConfig::default()
        };
        let chosen = upstream_configs(&named, |_| true);
        assert_eq!(chosen[1].1.as_ref().unwrap().key_env, "MY_OPENAI");
        assert_eq!(chosen[2].1.as_ref().unwrap().key_env, "GEMINI_API_KEY");
    }
}
