//! An attempt through the metering proxy: one metered run (one budget) for the implementer,
//! its reviewers and the router; each agent gets the proxy's address and the run's token in
//! place of its model key; usage and cost come from what the proxy counted; a run that spends
//! its budget ends for a person, with its partial work pushed.

use super::*;
use crate::meter::{Provider, RunId, Spent, BUDGET_SPENT};
use bosun_core::agent::AdapterKind;

/// The attempt's metered run.
pub(super) struct Metered {
    pub run: RunId,
    pub token: Secret,
    /// What the proxy had counted when usage was last read, so each read gives what is new.
    pub seen: Spent,
}

impl Pipeline<'_> {
    /// Registers the attempt with the proxy (once), with the server's per-task budget and the
    /// provider-side tools the repository allows.
    pub(super) fn start_metering(&self) -> Option<Secret> {
        let meter = self.runner.meter.as_ref()?;
        let mut metered = crate::locks::lock(&self.metered);
        if let Some(m) = metered.as_ref() {
            return Some(m.token.clone());
        }
        let budget = crate::run::meter_host::budget(&self.limits());
        let tools = self.model_tools.get().cloned().unwrap_or_default();
        let (run, token) = meter.proxy.register_run_allowing(budget, tools);
        *metered = Some(Metered {
            run,
            token: token.clone(),
            seen: Spent::default(),
        });
        Some(token)
    }

    /// Ends the metered run: its token stops working.
    pub(super) fn end_metering(&self) {
        if let (Some(meter), Some(m)) = (
            self.runner.meter.as_ref(),
            crate::locks::lock(&self.metered).take(),
        ) {
            if let Some(spent) = meter.proxy.forget_run(m.run) {
                tracing::info!(
                    calls = spent.calls,
                    micro_usd = spent.micro_usd,
                    refused = spent.refused,
                    "metered run ended"
                );
            }
        }
    }

    /// `env` for an agent of `adapter`, metered: the keys the proxy holds are taken out, and
    /// the proxy's address and the run's token put in (see [`metered_agent_env`]). Unchanged
    /// without a meter.
    pub(super) fn metered_env(
        &self,
        adapter: AdapterKind,
        env: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let Some(meter) = self.runner.meter.as_ref() else {
            return env;
        };
        let Some(token) = self.start_metering() else {
            return env;
        };
        let base = |p: Provider| meter.fronts(p).then(|| meter.base_url(p));
        metered_agent_env(adapter, env, &meter.key_envs, base, token.expose())
    }

    /// Codex's command-line flags that point it at the proxy (its provider table has no
    /// environment variable for the base URL).
    pub(super) fn metered_args(&self, adapter: AdapterKind) -> Vec<String> {
        match (self.runner.meter.as_ref(), adapter) {
            (Some(meter), AdapterKind::Codex) if meter.fronts(Provider::OpenAi) => {
                codex_args(&meter.base_url(Provider::OpenAi))
            }
            _ => Vec::new(),
        }
    }

    /// What the proxy counted since the last read, as the run's usage; `None` without a meter.
    pub(super) fn metered_usage(&self) -> Option<RunUsage> {
        let meter = self.runner.meter.as_ref()?;
        let mut metered = crate::locks::lock(&self.metered);
        let m = metered.as_mut()?;
        let now = meter.proxy.spent(m.run)?;
        let usage = usage_since(&m.seen, &now);
        m.seen = now;
        Some(usage)
    }

    /// A reader of what the proxy counted since the last [`Pipeline::metered_usage`], for the
    /// ticker that shows a round's cost while it runs; `None` when the attempt is not metered.
    pub(super) fn live_meter(&self) -> Option<LiveMeter> {
        let host = self.runner.meter.clone()?;
        let metered = crate::locks::lock(&self.metered);
        let m = metered.as_ref()?;
        Some(LiveMeter {
            host,
            run: m.run,
            seen: m.seen,
        })
    }

    /// The doors an agent gets: the metering proxy's, and the egress proxy's when the run has
    /// a way out and the agent no network of its own (see [`Pipeline::egress_env`]).
    pub(super) fn agent_doors(&self, network: bool) -> Option<Doors> {
        let keeper = self.runner.doors.as_ref()?;
        let meter = self.runner.meter.as_ref().and_then(|m| m.door.clone());
        let egress = self
            .egress
            .get()
            .filter(|_| !network)
            .and_then(|run| run.door.clone());
        Some(keeper.doors(meter.into_iter().chain(egress).collect()))
    }

    /// The run spent its budget mid-round: the work so far is committed and pushed to the
    /// task branch (no pull request), and a person decides.
    pub(super) async fn keep_partial(&self, outbox: super::finish::Outbox<'_>, why: &str) -> Step {
        let (ws, title, redactor) = (outbox.ws, outbox.title, outbox.redactor);
        let snap = match self.snapshot(ws, redactor).await {
            Ok(snap) => snap,
            Err(step) => return step,
        };
        if snap.is_empty() {
            return Step::Finish(TaskStatus::NeedsReview, reply::budget_spent(None, why));
        }
        let message = reply::commit_message(
            self.task.issue.0,
            title,
            "Partial work: the run's budget was spent.",
        );
        match self
            .commit_and_push(ws, snap.tree, &message, outbox.token, PushMode::Replace)
            .await
        {
            Ok(_) => Step::Finish(
                TaskStatus::NeedsReview,
                reply::budget_spent(Some(&ws.branch), why),
            ),
            Err(step) => step,
        }
    }
}

/// What the proxy counted for a run from a given point on, readable from a spawned task.
pub(super) struct LiveMeter {
    host: std::sync::Arc<crate::run::meter_host::MeterHost>,
    run: RunId,
    seen: Spent,
}

impl LiveMeter {
    pub fn usage(&self) -> Option<RunUsage> {
        let now = self.host.proxy.spent(self.run)?;
        Some(usage_since(&self.seen, &now))
    }
}

/// The usage between two readings of a run's count (cache tokens count as input, as the
/// agents' own reports do).
fn usage_since(seen: &Spent, now: &Spent) -> RunUsage {
    let input = |s: &Spent| s.input_tokens + s.cache_read_tokens + s.cache_write_tokens;
    RunUsage {
        input_tokens: input(now).saturating_sub(input(seen)),
        output_tokens: now.output_tokens.saturating_sub(seen.output_tokens),
        cost_micro_usd: Some(now.micro_usd.saturating_sub(seen.micro_usd)),
    }
}

/// Whether an agent's error is the proxy refusing a call for the budget.
pub(super) fn budget_spent(error: &str) -> bool {
    error.contains(BUDGET_SPENT)
}

/// The variable that holds the run's token where the CLI's own variables cannot: codex's
/// provider table names it (`env_key`), and for OpenCode, whose token is inside its JSON
/// config, it is there so that the token is an environment value of its own, which the run's
/// redactor hides wherever it shows up.
const TOKEN_ENV: &str = "BOSUN_MODEL_TOKEN";

/// `env` for an agent of `adapter` behind the proxy: every variable in `key_envs` (the real
/// keys the proxy holds) taken out, then the proxy's base URL and the run's `token` for each
/// provider the CLI speaks to and the proxy fronts. `base` gives the base URL of a provider
/// the proxy fronts, `None` for one it does not: an agent is never pointed at a provider that
/// would answer every call with 502. A variable set here replaces any the agent had.
///
/// - Claude Code: `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`.
/// - Codex: the token in `BOSUN_MODEL_TOKEN`; the base URL goes in its flags ([`codex_args`]).
/// - Gemini CLI: `GOOGLE_GEMINI_BASE_URL` (the CLI appends `/v1beta/models/...`; the captured
///   0.61.0 runs used exactly this with an origin) and `GEMINI_API_KEY`, which the CLI sends
///   as `x-goog-api-key`.
/// - OpenCode: `OPENCODE_CONFIG_CONTENT` ([`opencode_config`]), since bosun writes no file into
///   the checkout.
pub(super) fn metered_agent_env(
    adapter: AdapterKind,
    mut env: Vec<(String, String)>,
    key_envs: &[String],
    base: impl Fn(Provider) -> Option<String>,
    token: &str,
) -> Vec<(String, String)> {
    fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
        env.retain(|(n, _)| n != name);
        env.push((name.to_string(), value.to_string()));
    }
    env.retain(|(name, _)| !key_envs.contains(name));
    match adapter {
        AdapterKind::Claude => {
            if let Some(url) = base(Provider::Anthropic) {
                set(&mut env, "ANTHROPIC_BASE_URL", &url);
                set(&mut env, "ANTHROPIC_API_KEY", token);
            }
        }
        AdapterKind::Codex => {
            if base(Provider::OpenAi).is_some() {
                set(&mut env, TOKEN_ENV, token);
            }
        }
        AdapterKind::Gemini => {
            if let Some(url) = base(Provider::Gemini) {
                set(&mut env, "GOOGLE_GEMINI_BASE_URL", &url);
                set(&mut env, "GEMINI_API_KEY", token);
            }
        }
        AdapterKind::OpenCode => {
            let existing = env
                .iter()
                .rev()
                .find(|(n, _)| n == OPENCODE_CONFIG)
                .map(|(_, v)| v.as_str());
            if let Some(config) = opencode_config(existing, &base, token) {
                set(&mut env, OPENCODE_CONFIG, &config);
                set(&mut env, TOKEN_ENV, token);
            }
        }
        AdapterKind::Command => {}
    }
    env
}

/// Codex's flags for a `bosun` model provider at `base_url` (the proxy's `/openai/v1`), its key
/// read from [`TOKEN_ENV`].
fn codex_args(base_url: &str) -> Vec<String> {
    vec![
        "-c".into(),
        "model_provider=bosun".into(),
        "-c".into(),
        format!(
            "model_providers.bosun={{name=\"bosun\",base_url=\"{base_url}\",env_key=\"{TOKEN_ENV}\",wire_api=\"responses\"}}"
        ),
    ]
}

/// OpenCode's inline configuration variable. OpenCode parses it as JSON and deep-merges it over
/// every configuration file, the project's `opencode.json` included, so what is set here wins
/// over a repository's own provider settings (opencode `packages/opencode/src/config/config.ts`:
/// "Inline config content has highest precedence"; the variable is listed in its docs' and
/// `--help`'s configuration variables).
const OPENCODE_CONFIG: &str = "OPENCODE_CONFIG_CONTENT";

/// OpenCode's provider ids for the providers the proxy fronts, and the path under the proxy
/// each one's `baseURL` takes: the AI SDK providers OpenCode uses want the API version in the
/// base URL (`@ai-sdk/anthropic` defaults to `https://api.anthropic.com/v1`, `@ai-sdk/openai` to
/// `https://api.openai.com/v1`, `@ai-sdk/google` to
/// `https://generativelanguage.googleapis.com/v1beta`), and send the key as `x-api-key`,
/// `Authorization: Bearer` and `x-goog-api-key`, all of which the proxy reads.
const OPENCODE_PROVIDERS: [(&str, Provider, &str); 3] = [
    ("anthropic", Provider::Anthropic, "/v1"),
    ("openai", Provider::OpenAi, ""),
    ("google", Provider::Gemini, "/v1beta"),
];

/// The `OPENCODE_CONFIG_CONTENT` value for a metered OpenCode: `existing` (the operator's own
/// inline config, if the agent is given one) with `provider.<id>.options.baseURL` and `.apiKey`
/// set for every provider the proxy fronts. `None` when it fronts none of them. An existing
/// value that is not a JSON object is replaced: OpenCode could not have read it anyway. The
/// token is written in as it is, not as `{env:BOSUN_MODEL_TOKEN}`: OpenCode parses this
/// variable with a plain `JSON.parse`, without the `{env:...}` substitution its files get.
fn opencode_config(
    existing: Option<&str>,
    base: &impl Fn(Provider) -> Option<String>,
    token: &str,
) -> Option<String> {
    use serde_json::{Map, Value};
    let fronted: Vec<(&str, String)> = OPENCODE_PROVIDERS
        .iter()
        .filter_map(|&(id, provider, suffix)| base(provider).map(|url| (id, url + suffix)))
        .collect();
    if fronted.is_empty() {
        return None;
    }
    let mut config = match existing.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        Some(_) => {
            tracing::warn!(
                "the agent's {OPENCODE_CONFIG} is not a JSON object; the metered one replaces it"
            );
            Map::new()
        }
        None => Map::new(),
    };
    /// The object at `key` in `map`, made one if it is missing or not an object.
    fn object<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
        let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        slot.as_object_mut().expect("made an object above")
    }
    let providers = object(&mut config, "provider");
    for (id, url) in fronted {
        let options = object(object(providers, id), "options");
        options.insert("baseURL".into(), Value::String(url));
        options.insert("apiKey".into(), Value::String(token.to_string()));
    }
    Some(Value::Object(config).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ORIGIN: &str = "http://172.30.0.1:40123";
    const TOKEN: &str = "bosun-run-7-0123abcd";

    /// A proxy fronting the given providers, as `MeterHost` reports it.
    fn fronting(providers: &[Provider]) -> impl Fn(Provider) -> Option<String> + '_ {
        move |p| {
            providers
                .contains(&p)
                .then(|| format!("{ORIGIN}{}", p.base_path()))
        }
    }

    const ALL: [Provider; 3] = [Provider::Anthropic, Provider::OpenAi, Provider::Gemini];

    fn host_env() -> Vec<(String, String)> {
        [
            ("REAL_ANTHROPIC", "sk-ant-real"),
            ("REAL_GEMINI", "AIza-real"),
            ("GEMINI_API_KEY", "AIza-agents-own"),
            ("BOSUN_CANARY", "bosun-canary-1"),
            ("LANG", "C.UTF-8"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    fn keys() -> Vec<String> {
        vec!["REAL_ANTHROPIC".into(), "REAL_GEMINI".into()]
    }

    fn get<'e>(env: &'e [(String, String)], name: &str) -> Vec<&'e str> {
        env.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn names(env: &[(String, String)]) -> Vec<&str> {
        env.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_proxys_keys_leave_every_agents_environment() {
        for adapter in AdapterKind::ALL {
            let env = metered_agent_env(adapter, host_env(), &keys(), fronting(&ALL), TOKEN);
            assert!(
                !env.iter().any(|(_, v)| v.contains("-real")),
                "{adapter}: {env:?}"
            );
            assert_eq!(get(&env, "BOSUN_CANARY"), ["bosun-canary-1"], "{adapter}");
        }
    }

    #[test]
    fn gemini_gets_the_proxy_and_the_token_in_place_of_its_key() {
        let env = metered_agent_env(
            AdapterKind::Gemini,
            host_env(),
            &keys(),
            fronting(&ALL),
            TOKEN,
        );
        assert_eq!(
            get(&env, "GOOGLE_GEMINI_BASE_URL"),
            [format!("{ORIGIN}/gemini").as_str()]
        );
        // The agent's own GEMINI_API_KEY (not a key the proxy holds) is replaced, not doubled.
        assert_eq!(get(&env, "GEMINI_API_KEY"), [TOKEN]);
        assert!(get(&env, "ANTHROPIC_API_KEY").is_empty());
        assert!(get(&env, OPENCODE_CONFIG).is_empty());

        // No Gemini upstream: the CLI is left alone (its calls cannot leave the meter's network).
        let env = metered_agent_env(
            AdapterKind::Gemini,
            host_env(),
            &keys(),
            fronting(&[Provider::Anthropic]),
            TOKEN,
        );
        assert!(get(&env, "GOOGLE_GEMINI_BASE_URL").is_empty());
        assert_eq!(get(&env, "GEMINI_API_KEY"), ["AIza-agents-own"]);
    }

    #[test]
    fn claude_and_codex_as_before_and_only_with_their_upstream() {
        let env = metered_agent_env(
            AdapterKind::Claude,
            host_env(),
            &keys(),
            fronting(&ALL),
            TOKEN,
        );
        assert_eq!(
            get(&env, "ANTHROPIC_BASE_URL"),
            [format!("{ORIGIN}/anthropic").as_str()]
        );
        assert_eq!(get(&env, "ANTHROPIC_API_KEY"), [TOKEN]);
        let env = metered_agent_env(
            AdapterKind::Codex,
            host_env(),
            &keys(),
            fronting(&ALL),
            TOKEN,
        );
        assert_eq!(get(&env, TOKEN_ENV), [TOKEN]);
        let env = metered_agent_env(
            AdapterKind::Codex,
            host_env(),
            &keys(),
            fronting(&[Provider::Gemini]),
            TOKEN,
        );
        assert!(get(&env, TOKEN_ENV).is_empty());
        let env = metered_agent_env(
            AdapterKind::Command,
            host_env(),
            &keys(),
            fronting(&ALL),
            TOKEN,
        );
        assert_eq!(names(&env), ["GEMINI_API_KEY", "BOSUN_CANARY", "LANG"]);
        assert_eq!(
            codex_args(&format!("{ORIGIN}/openai/v1"))[3],
            format!("model_providers.bosun={{name=\"bosun\",base_url=\"{ORIGIN}/openai/v1\",env_key=\"BOSUN_MODEL_TOKEN\",wire_api=\"responses\"}}")
        );
    }

    fn opencode_json(env: &[(String, String)]) -> Value {
        let values = get(env, OPENCODE_CONFIG);
        assert_eq!(values.len(), 1, "{env:?}");
        serde_json::from_str(values[0]).unwrap()
    }

    #[test]
    fn opencode_gets_each_fronted_provider_in_its_inline_config() {
        let env = metered_agent_env(
            AdapterKind::OpenCode,
            host_env(),
            &keys(),
            fronting(&ALL),
            TOKEN,
        );
        assert_eq!(
            opencode_json(&env),
            json!({"provider": {
                "anthropic": {"options": {"baseURL": format!("{ORIGIN}/anthropic/v1"), "apiKey": TOKEN}},
                "openai": {"options": {"baseURL": format!("{ORIGIN}/openai/v1"), "apiKey": TOKEN}},
                "google": {"options": {"baseURL": format!("{ORIGIN}/gemini/v1beta"), "apiKey": TOKEN}},
            }})
        );
        // The token is also a value of its own, for the redactor.
        assert_eq!(get(&env, TOKEN_ENV), [TOKEN]);

        let env = metered_agent_env(
            AdapterKind::OpenCode,
            host_env(),
            &keys(),
            fronting(&[Provider::Gemini]),
            TOKEN,
        );
        assert_eq!(
            opencode_json(&env),
            json!({"provider": {"google": {"options": {"baseURL": format!("{ORIGIN}/gemini/v1beta"), "apiKey": TOKEN}}}})
        );

        let env = metered_agent_env(
            AdapterKind::OpenCode,
            host_env(),
            &keys(),
            fronting(&[]),
            TOKEN,
        );
        assert!(get(&env, OPENCODE_CONFIG).is_empty());
        assert!(get(&env, TOKEN_ENV).is_empty());
    }

    #[test]
    fn opencode_keeps_the_operators_inline_config_and_overrides_only_the_endpoints() {
        let mut env = host_env();
        env.push((
            OPENCODE_CONFIG.into(),
            json!({
                "model": "anthropic/claude-sonnet-4-5",
                "autoupdate": false,
                "provider": {
                    "anthropic": {"options": {"baseURL": "https://api.anthropic.com/v1", "apiKey": "sk-ant-leak", "timeout": 600000}},
                    "openrouter": {"options": {"apiKey": "{env:OPENROUTER_KEY}"}},
                },
            })
            .to_string(),
        ));
        let env = metered_agent_env(
            AdapterKind::OpenCode,
            env,
            &keys(),
            fronting(&[Provider::Anthropic]),
            TOKEN,
        );
        assert_eq!(
            opencode_json(&env),
            json!({
                "model": "anthropic/claude-sonnet-4-5",
                "autoupdate": false,
                "provider": {
                    "anthropic": {"options": {"baseURL": format!("{ORIGIN}/anthropic/v1"), "apiKey": TOKEN, "timeout": 600000}},
                    "openrouter": {"options": {"apiKey": "{env:OPENROUTER_KEY}"}},
                },
            })
        );

        for broken in ["not json", "[1]", r#"{"provider": 3}"#] {
            let mut env = host_env();
            env.push((OPENCODE_CONFIG.into(), broken.into()));
            let env = metered_agent_env(
                AdapterKind::OpenCode,
                env,
                &keys(),
                fronting(&[Provider::OpenAi]),
                TOKEN,
            );
            assert_eq!(
                opencode_json(&env)["provider"],
                json!({"openai": {"options": {"baseURL": format!("{ORIGIN}/openai/v1"), "apiKey": TOKEN}}}),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_meter_gemini_section_is_read_from_the_servers_config() {
        let config = crate::config::run::RunConfig::parse(
            "meter:\n  enabled: true\n  gemini:\n    base_url: https://generativelanguage.googleapis.com\n    key_env: GEMINI_API_KEY\n",
        )
        .unwrap();
        let gemini = config.meter.gemini.expect("meter.gemini");
        assert_eq!(gemini.base_url, "https://generativelanguage.googleapis.com");
        assert_eq!(gemini.key_env, "GEMINI_API_KEY");
        assert_eq!(config.meter.anthropic, None);
    }
}
