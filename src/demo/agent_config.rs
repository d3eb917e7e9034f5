//! `bosun demo --agent NAME [--config FILE]`: the demo with a configured coding agent instead of
//! the script agent.
//!
//! - With `--config`, the run configuration is that file (as `bosun serve` would read it), with
//!   `default_agent` set to `NAME` when given. Its `meter` upstreams decide which model API
//!   the agent calls: a scripted one on this machine is how the tests run it offline.
//! - Without it, `NAME` is `claude` or `codex` in the production agent image
//!   (`docker/agent.Dockerfile`, built as `bosun-agent:latest`), metered against the vendor's
//!   real API with the key in `ANTHROPIC_API_KEY` or `OPENAI_API_KEY`: the key stays in the
//!   proxy, never in the agent's container.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::config::run::RunConfig;

/// The production agent image, as `docker/agent.Dockerfile` is built.
const AGENT_IMAGE: &str = "bosun-agent:latest";

/// The run configuration's text for `--agent`/`--config`; `None` without either (the demo's
/// own script agent).
pub fn run_config(agent: Option<&str>, config: Option<&Path>) -> anyhow::Result<Option<String>> {
    let text = match (agent, config) {
        (None, None) => return Ok(None),
        (_, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            match agent {
                Some(name) => with_default_agent(&text, name)?,
                None => text,
            }
        }
        (Some(name), None) => vendor_config(name)?,
    };
    // Checked as `bosun serve` checks it (an unknown default agent among the rest).
    RunConfig::parse(&text)?;
    Ok(Some(text))
}

/// `text` with its `default_agent` set to `name`.
fn with_default_agent(text: &str, name: &str) -> anyhow::Result<String> {
    let mut map: Mapping = match serde_yaml_ng::from_str::<Value>(text)? {
        Value::Mapping(map) => map,
        Value::Null => Mapping::new(),
        _ => anyhow::bail!("the run configuration is not a mapping of keys"),
    };
    map.insert("default_agent".into(), name.into());
    Ok(serde_yaml_ng::to_string(&map)?)
}

/// One of the vendors' CLIs in the production image, metered against its real API.
fn vendor_config(name: &str) -> anyhow::Result<String> {
    let (provider, base_url, key_env) = match name {
        "claude" => (
            "anthropic",
            "https://api.anthropic.com",
            "ANTHROPIC_API_KEY",
        ),
        "codex" => ("openai", "https://api.openai.com", "OPENAI_API_KEY"),
        other => anyhow::bail!(
            "`--agent {other}` needs `--config FILE` naming it; without one the demo knows \
             `claude` and `codex`"
        ),
    };
    anyhow::ensure!(
        std::env::var_os(key_env).is_some(),
        "`--agent {name}` calls the real model API with the key in ${key_env}, which is not set \
         (or give `--config FILE` with a `meter` upstream of your own)"
    );
    Ok(format!(
        "# Written by `bosun demo --agent {name}`.\n\
         default_agent: {name}\n\
         agents:\n  {name}:\n    adapter: {name}\n    image: {AGENT_IMAGE}\n\
         limits:\n  max_agent_minutes: 10\n  task_budget_usd: 1\n\
         meter:\n  enabled: true\n  {provider}:\n    base_url: {base_url}\n    key_env: {key_env}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_either_flag_the_demo_keeps_its_own_agent() {
        assert_eq!(run_config(None, None).unwrap(), None);
    }

    #[test]
    fn a_config_file_is_used_with_the_named_agent_as_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.yml");
        std::fs::write(
            &path,
            "default_agent: a\nagents:\n  a: {adapter: claude, image: x}\n  b: {adapter: codex, image: y}\n",
        )
        .unwrap();
        let text = run_config(Some("b"), Some(&path)).unwrap().unwrap();
        assert_eq!(RunConfig::parse(&text).unwrap().default_agent, "b");
        let unchanged = run_config(None, Some(&path)).unwrap().unwrap();
        assert_eq!(RunConfig::parse(&unchanged).unwrap().default_agent, "a");
        let err = run_config(Some("c"), Some(&path)).unwrap_err().to_string();
        assert!(err.contains("the default agent `c` is not among"), "{err}");
    }

    #[test]
    fn an_unknown_vendor_needs_a_config() {
        let err = run_config(Some("gemini"), None).unwrap_err().to_string();
        assert!(err.contains("needs `--config FILE`"), "{err}");
    }
}
