//! Where the model keys go: behind the metering proxy (the default), or into agents the server
//! exposes them to; and which repositories get the open network past the egress proxy.

use super::Finding;
use crate::config::run::RunConfig;
use crate::run::meter_host::upstream_configs;

const WHAT: &str = "model keys";

/// `is_set` tells whether a host variable holds a value (the real environment outside tests).
pub fn check(run_config: &RunConfig, is_set: impl Fn(&str) -> bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let meter = &run_config.meter;
    if !meter.enabled {
        findings.push(Finding::warn(
            WHAT,
            "meter.enabled is false: agents get no model key (unless exposed to them) and no \
             budget in dollars or tokens is enforced",
        ));
    } else if !run_config.sandboxes_reach_proxies() {
        findings.push(Finding::warn(
            WHAT,
            "this Docker engine cannot mount bosun's folders, so no metering proxy runs: agents \
             get no model key unless exposed to them",
        ));
    } else {
        let fronted: Vec<String> = upstream_configs(meter, &is_set)
            .into_iter()
            .filter_map(|(provider, upstream)| {
                upstream.map(|u| format!("{} (${})", provider.name(), u.key_env))
            })
            .collect();
        findings.push(if fronted.is_empty() {
            Finding::warn(
                WHAT,
                "no model key in the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, \
                 GEMINI_API_KEY) and none under meter: agents will have none",
            )
        } else {
            Finding::ok(
                WHAT,
                format!(
                    "held by the metering proxy, agents get a run token: {}",
                    fronted.join(", ")
                ),
            )
        });
    }
    for (name, agent) in &run_config.agents {
        if agent.expose_key {
            findings.push(Finding::warn(
                WHAT,
                format!(
                    "agent `{name}` has expose_key: true and gets the raw keys its env names \
                     ({}): a prompt injection in an issue can send them out. Without it the \
                     agent gets a run token from the metering proxy",
                    agent.env.join(", ")
                ),
            ));
        }
    }
    if !run_config.limits.network_repos.is_empty() {
        findings.push(Finding::warn(
            "open network",
            format!(
                "limits.network_repos gives these repositories' agents the internet past the \
                 egress proxy when they ask for `network: true`: {}",
                run_config.limits.network_repos.join(", ")
            ),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn keys_behind_the_meter_are_ok_and_exposed_ones_are_warned_about() {
        let mut config = RunConfig::default();
        config.sandbox = crate::config::run::SandboxKind::Process;
        let held = lines(&check(&config, |name| name == "ANTHROPIC_API_KEY"));
        assert!(
            held.contains("run token: anthropic ($ANTHROPIC_API_KEY)"),
            "{held}"
        );
        assert!(!held.contains("expose_key"), "{held}");

        let none = lines(&check(&config, |_| false));
        assert!(none.contains("no model key in the environment"), "{none}");

        config.agents.get_mut("claude").unwrap().expose_key = true;
        config.limits.network_repos = vec!["acme/tools".into()];
        let exposed = lines(&check(&config, |_| true));
        assert!(
            exposed.contains("agent `claude` has expose_key: true"),
            "{exposed}"
        );
        assert!(exposed.contains("acme/tools"), "{exposed}");

        config.meter.enabled = false;
        let off = lines(&check(&config, |_| true));
        assert!(off.contains("meter.enabled is false"), "{off}");
    }
}
