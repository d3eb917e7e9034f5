//! The server's run configuration: which agents exist, which sandbox runs them, and the maxima
//! that clamp what repositories ask for. Read once at start-up from the YAML file named by
//! `BOSUN_CONFIG` (all keys optional); `BOSUN_SANDBOX` and `BOSUN_DEFAULT_AGENT` override it.
//! `examples/bosun-server.yml` is the commented reference.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use bosun_core::agent::AdapterKind;
use bosun_core::repo_config::model_map::{self, ModelMap, ModelUse};
use bosun_core::repo_config::{Complexity, PeerReview, RepoConfig};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// `docker` (default) or `process` (unsandboxed, for trusted single-user setups).
    pub sandbox: SandboxKind,
    /// The Docker sandbox's engine: this host's (default) or another's.
    pub docker: super::docker::DockerConfig,
    /// The agent a repository gets when its config names none.
    pub default_agent: String,
    pub agents: BTreeMap<String, AgentConfig>,
    /// The model each agent runs with per complexity and for reviews; a repository's own
    /// `model_map` wins over it. No entry: the CLI's default model.
    pub model_map: ModelMap,
    pub limits: Limits,
    /// A second agent's review of each change once its gates pass: off here turns it off
    /// everywhere; `reviewers` here apply where a repository names none.
    pub peer_review: PeerReview,
    /// A small model that sorts each new task (complexity, agent) before it runs.
    pub router: RouterConfig,
    /// The metering proxy between agents and their model APIs.
    #[serde(skip_serializing)]
    pub meter: MeterConfig,
    /// Scheduled work in named repositories (besides `bosun job add`'s).
    pub jobs: Vec<bosun_core::repo_config::jobs::JobSpec>,
    /// The egress proxy through which runs reach the hosts their repository lists.
    pub egress: EgressConfig,
}

/// What the server allows the hosts a repository lists under `egress:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Off: no run reaches anything, whatever its repository lists.
    pub enabled: bool,
    /// When not empty, the only hosts any repository may list (`name` or `*.domain`).
    pub allow: Vec<String>,
    /// The ports runs may reach.
    pub ports: Vec<u16>,
    /// Address ranges a listed name may resolve to though they are not public (an intranet
    /// registry): `10.1.2.0/24`, `fd00::/8`, or an address. Loopback, private and link-local
    /// addresses are refused otherwise.
    pub trusted_ranges: Vec<String>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        EgressConfig {
            enabled: true,
            allow: Vec::new(),
            ports: vec![80, 443],
            trusted_ranges: Vec::new(),
        }
    }
}

impl EgressConfig {
    /// The server's clamp on what repositories list.
    pub fn allowlist(&self) -> bosun_core::egress::Allowlist {
        bosun_core::egress::Allowlist::parse(&self.allow).unwrap_or_default()
    }
}

/// The metering proxy: agents get a per-run token and the proxy's address instead of a model
/// API key; the proxy adds the real key, counts and prices every call, and refuses calls past
/// the run's budget (`limits.task_budget_*`).
///
/// On by default: a provider not configured here is fronted with its official API and its
/// usual variable (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `GEMINI_API_KEY`) when that variable
/// is set, so the key stays on the host (see `run::meter_host::DEFAULT_UPSTREAMS`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeterConfig {
    pub enabled: bool,
    pub anthropic: Option<UpstreamConfig>,
    pub openai: Option<UpstreamConfig>,
    /// Google's Gemini API (`https://generativelanguage.googleapis.com`): for the Gemini CLI,
    /// and OpenCode's `google` provider.
    pub gemini: Option<UpstreamConfig>,
    /// USD per million tokens per model (or model-name prefix): `input`, `output`, and
    /// optionally `cache_read`, `cache_write` (default: the input price).
    pub prices: crate::meter::PriceTable,
}

impl Default for MeterConfig {
    fn default() -> Self {
        MeterConfig {
            enabled: true,
            anthropic: None,
            openai: None,
            gemini: None,
            prices: crate::meter::PriceTable::default(),
        }
    }
}

impl MeterConfig {
    /// Whether the operator named an upstream (rather than leaving the defaults).
    pub fn is_configured(&self) -> bool {
        self.anthropic.is_some() || self.openai.is_some() || self.gemini.is_some()
    }
}

/// A real model API behind the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The API's origin, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    /// The host environment variable holding the key. Agents never see it.
    pub key_env: String,
}

/// The router: which agent's CLI runs the routing prompt, with which (small) model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// The agent whose CLI routes; none: no router (labels, plans and the repository's
    /// config still choose).
    pub agent: Option<String>,
    /// The router's model; none: the agent's model for simple tasks, else the CLI's default.
    pub model: Option<String>,
    /// The agents the router picks from, and that take turns when it cannot answer; empty:
    /// every configured agent but `command` ones.
    pub agents: Vec<String>,
    /// A router that has not answered after this long is stopped, and the agents take turns.
    pub timeout_secs: u64,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            agent: None,
            model: None,
            agents: Vec::new(),
            timeout_secs: 60,
        }
    }
}

/// At most this many agents review one change: each costs a full agent run.
pub const MAX_REVIEWERS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxKind {
    #[default]
    Docker,
    Process,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `claude`, `codex`, `gemini`, `opencode` or `command`.
    pub adapter: String,
    /// The container image the agent runs in (and, unless `gate_image` says otherwise, the gates).
    pub image: String,
    #[serde(default)]
    pub gate_image: Option<String>,
    /// Names of host environment variables passed into the agent's container. Model keys
    /// among them (`MODEL_KEY_ENVS`, and the meter's `key_env`s) are held back unless
    /// `expose_key` is set: behind the metering proxy the agent gets a run token instead.
    #[serde(default)]
    pub env: Vec<String>,
    /// Gives the agent the raw model keys its `env` names. A prompt injection in an issue can
    /// then send the key out; `bosun doctor` warns about every agent that has it.
    #[serde(default)]
    pub expose_key: bool,
    /// For `command`: the executable and its arguments; for the others, an override of the
    /// CLI's name.
    #[serde(default)]
    pub program: Option<String>,
    #[serde(default)]
    pub max_turns: Option<u32>,
    /// Further flags for the CLI, after bosun's own. One the CLI turns out not to know is
    /// dropped and the agent relaunched (see `run::relaunch`).
    #[serde(default)]
    pub args: Vec<String>,
}

/// Host variables that hold a model provider's credentials, by the names the CLIs read. An
/// agent's `env` naming one passes it only with `expose_key: true`.
pub const MODEL_KEY_ENVS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENERATIVE_AI_API_KEY",
];

impl AgentConfig {
    /// The host variables this agent is given (its `env`), less model keys (the well-known
    /// names and the meter's `key_envs`) unless the server exposes them to it.
    pub fn passed_env<'a>(&'a self, meter_keys: &'a [String]) -> impl Iterator<Item = &'a String> {
        self.env.iter().filter(move |name| {
            self.expose_key
                || !(MODEL_KEY_ENVS.contains(&name.as_str()) || meter_keys.contains(name))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_rounds: u32,
    pub max_agent_minutes: u32,
    pub max_gate_minutes: u32,
    pub max_setup_minutes: u32,
    /// An agent that prints nothing for this many seconds is stuck: it is stopped and started
    /// again once, then the task fails.
    pub agent_idle_secs: u64,
    /// After this many failed agent runs in a row in one repository, that agent is not
    /// started there again for `breaker_cooldown_minutes` (runs end at once, saying so).
    pub breaker_failures: u32,
    pub breaker_cooldown_minutes: u32,
    /// Repositories (`owner/name`) whose `network: true` gives their agent the host's network
    /// directly: the internet, past the egress proxy. Any other repository asking for it gets
    /// its task refused with a comment pointing at `egress:`. Empty (the default): none.
    pub network_repos: Vec<String>,
    /// Replaced by `network_repos`; only here to say so when an old configuration names it.
    #[serde(skip_serializing)]
    pub allow_network: Option<serde_yaml_ng::Value>,
    /// Images a repository may name under `image:` in `.github/bosun.yml` (for its set-up,
    /// agent and gates): exact references, or a prefix ending in `*` (`ghcr.io/acme/*`).
    /// Empty (the default): none, every run uses the agent's image.
    pub repo_images: Vec<String>,
    pub memory_mb: i64,
    pub cpus: f64,
    pub pids: i64,
    /// How large a checkout may grow while the set-up or the agent runs (MiB): past it the
    /// run is stopped, so a step that fills the disk cannot fill the server's.
    pub max_checkout_mb: u64,
    /// How long a finished task's prompts and agent logs (`<data>/runs/task-<id>`) are kept,
    /// and how large all of them may grow together before the least recently used go.
    pub runs_keep_days: u32,
    pub runs_max_gib: u64,
    /// Task runs at once on this server. Kept below the number of workers, so one stays free
    /// for quick jobs (webhook triggers, comment updates) while agents work.
    pub max_runs: u32,
    /// Task runs at once per App installation and per repository; 0: only `max_runs` applies.
    pub max_runs_per_installation: u32,
    pub max_runs_per_repo: u32,
    /// Agent runs at once per adapter (`claude`, `codex`, …: the vendor whose API limits and
    /// bills them). A run over its vendor's limit waits in the queue. Missing: no limit.
    pub max_runs_per_vendor: BTreeMap<String, u32>,
    /// What one attempt may spend through the metering proxy: dollars (by `meter.prices`) and
    /// tokens (all kinds). None: no limit of that kind.
    pub task_budget_usd: Option<f64>,
    pub task_budget_tokens: Option<u64>,
    /// What runs may spend per repository per UTC day and per App installation per UTC month
    /// (finished attempts' metered cost): past it, new runs are not started, and the trigger
    /// gets a reply saying so. Empty: no limit.
    pub repo_daily_budget_usd: Option<f64>,
    pub installation_monthly_budget_usd: Option<f64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rounds: 5,
            max_agent_minutes: 60,
            max_gate_minutes: 30,
            max_setup_minutes: 30,
            agent_idle_secs: 600,
            breaker_failures: 3,
            breaker_cooldown_minutes: 30,
            network_repos: Vec::new(),
            allow_network: None,
            repo_images: Vec::new(),
            memory_mb: 4096,
            cpus: 2.0,
            pids: 512,
            max_checkout_mb: 10 * 1024,
            runs_keep_days: 30,
            runs_max_gib: 20,
            max_runs: 3,
            max_runs_per_installation: 0,
            max_runs_per_repo: 0,
            max_runs_per_vendor: BTreeMap::new(),
            task_budget_usd: None,
            task_budget_tokens: None,
            repo_daily_budget_usd: None,
            installation_monthly_budget_usd: None,
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        let mut agents = BTreeMap::new();
        agents.insert(
            "claude".to_string(),
            AgentConfig {
                adapter: "claude".into(),
                image: "bosun-agent:latest".into(),
                gate_image: None,
                env: vec!["ANTHROPIC_API_KEY".into()],
                expose_key: false,
                program: None,
                max_turns: None,
                args: Vec::new(),
            },
        );
        RunConfig {
            sandbox: SandboxKind::Docker,
            docker: super::docker::DockerConfig::default(),
            default_agent: "claude".into(),
            agents,
            model_map: ModelMap::default(),
            limits: Limits::default(),
            peer_review: PeerReview::default(),
            router: RouterConfig::default(),
            meter: MeterConfig::default(),
            jobs: Vec::new(),
            egress: EgressConfig::default(),
        }
    }
}

/// What a task runs with, after the repository's wishes met the server's maxima.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub agent_name: String,
    pub adapter: AdapterKind,
    pub agent: AgentConfig,
    pub model: Option<String>,
    pub rounds: u32,
    pub agent_timeout: std::time::Duration,
    pub gate_timeout: std::time::Duration,
    /// One set-up command's deadline.
    pub setup_timeout: std::time::Duration,
    /// Silence after which the agent counts as stuck.
    pub idle: std::time::Duration,
    pub network: bool,
}

/// Dollars as micro-dollars, the unit bosun counts cost in.
pub fn micro_usd(usd: f64) -> u64 {
    (usd.max(0.0) * 1e6).round() as u64
}

/// The lower of a repository's wish and the server's maximum; either alone when the other
/// has none.
pub fn clamp_max<T: PartialOrd>(repo: Option<T>, server: Option<T>) -> Option<T> {
    match (repo, server) {
        (Some(r), Some(s)) => Some(if r < s { r } else { s }),
        (r, s) => r.or(s),
    }
}

impl Limits {
    /// Whether `repo` (`owner/name`) may give its agent the host's network (compared without
    /// regard to case, as GitHub names are).
    pub fn open_network(&self, repo: &str) -> bool {
        self.network_repos
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(repo))
    }

    /// The server's limits with a repository's budgets applied: a repository may lower a
    /// budget, never raise it past the server's.
    pub fn for_repo(&self, budget: &bosun_core::repo_config::Budget) -> Limits {
        Limits {
            task_budget_usd: clamp_max(budget.task_usd, self.task_budget_usd),
            task_budget_tokens: clamp_max(budget.task_tokens, self.task_budget_tokens),
            repo_daily_budget_usd: clamp_max(budget.daily_usd, self.repo_daily_budget_usd),
            ..self.clone()
        }
    }

    /// The queue's limits for a pool of `workers`: at most `workers - 1` runs (at least one),
    /// so quick jobs always find a worker.
    pub fn run_limits(&self, workers: usize) -> crate::db::RunLimits {
        let room = u32::try_from(workers.saturating_sub(1).max(1)).unwrap_or(u32::MAX);
        crate::db::RunLimits {
            global: self.max_runs.clamp(1, room),
            per_installation: self.max_runs_per_installation,
            per_repo: self.max_runs_per_repo,
        }
    }
}

impl RunConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<RunConfig> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
            None => RunConfig::default(),
        };
        if let Ok(kind) = std::env::var("BOSUN_SANDBOX") {
            config.sandbox = match kind.as_str() {
                "docker" => SandboxKind::Docker,
                "process" => SandboxKind::Process,
                other => anyhow::bail!("BOSUN_SANDBOX must be docker or process, not {other:?}"),
            };
        }
        if let Ok(name) = std::env::var("BOSUN_DEFAULT_AGENT") {
            config.default_agent = name;
        }
        config.docker.apply_env()?;
        config.validate()?;
        Ok(config)
    }

    pub fn parse(yaml: &str) -> anyhow::Result<RunConfig> {
        let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)?;
        let config = if document.is_null() {
            RunConfig::default()
        } else {
            serde_yaml_ng::from_str(yaml)?
        };
        config.validate()?;
        Ok(config)
    }

    /// Whether `image` is among `limits.repo_images` (exact, or a prefix ending in `*`).
    pub fn allows_repo_image(&self, image: &str) -> bool {
        self.limits
            .repo_images
            .iter()
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => image.starts_with(prefix),
                None => image == allowed,
            })
    }

    /// Whether containers mount this host's folders: Docker on this host, checkouts bound
    /// (not copied). Snapshots and the proxies' sockets need it.
    pub fn containers_mount_this_host(&self) -> bool {
        self.sandbox == SandboxKind::Docker
            && self.docker.engine().transfer == crate::config::engine::Transfer::Bind
    }

    /// Whether the sandboxes reach proxies on this host's loopback: the process sandbox runs
    /// there, containers through their doors (`run::doors`).
    pub fn sandboxes_reach_proxies(&self) -> bool {
        self.sandbox == SandboxKind::Process || self.containers_mount_this_host()
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.sandbox == SandboxKind::Docker {
            let engine = self.docker.engine();
            engine.check().map_err(|e| anyhow::anyhow!(e))?;
            if self.meter.enabled
                && self.meter.is_configured()
                && !self.containers_mount_this_host()
            {
                anyhow::bail!(
                    "meter.enabled needs the Docker engine on bosun's own host, mounting its \
                     folders: metered agents reach nothing but the proxy, through a socket in \
                     bosun's data directory, and the engine at {} cannot mount it. Run bosun \
                     beside that engine, or turn the meter off",
                    engine
                        .host
                        .as_deref()
                        .unwrap_or("this host (workspace: copy)")
                );
            }
        }
        if self.limits.allow_network.is_some() {
            anyhow::bail!(
                "limits.allow_network is gone: list the repositories (owner/name) whose \
                 `network: true` may give their agent the open network under \
                 limits.network_repos, or let them name hosts under `egress:`"
            );
        }
        for (name, agent) in &self.agents {
            agent
                .adapter
                .parse::<AdapterKind>()
                .map_err(|e| anyhow::anyhow!("agent `{name}`: {e}"))?;
            if agent.adapter == "command" && agent.program.is_none() {
                anyhow::bail!("agent `{name}` uses the command adapter and needs a `program`");
            }
        }
        for name in self.router.agent.iter().chain(&self.router.agents) {
            if !self.agents.contains_key(name) {
                anyhow::bail!("the router's agent `{name}` is not among the configured agents");
            }
        }
        bosun_core::repo_config::jobs::check(&self.jobs, false)
            .map_err(|why| anyhow::anyhow!("jobs: {why}"))?;
        bosun_core::egress::Allowlist::parse(&self.egress.allow)
            .map_err(|why| anyhow::anyhow!("egress.allow: {why}"))?;
        for range in &self.egress.trusted_ranges {
            range
                .parse::<crate::egress::addresses::Range>()
                .map_err(|why| anyhow::anyhow!("egress.trusted_ranges: {why}"))?;
        }
        for name in self.model_map.agents() {
            if !self.agents.contains_key(name) {
                anyhow::bail!("`model_map` names the agent `{name}`, which is not among the configured agents");
            }
        }
        for name in &self.peer_review.reviewers {
            if !self.agents.contains_key(name) {
                anyhow::bail!("the reviewer `{name}` in `peer_review.reviewers` is not among the configured agents");
            }
        }
        if !self.agents.contains_key(&self.default_agent) {
            anyhow::bail!(
                "the default agent `{}` is not among the configured agents ({})",
                self.default_agent,
                self.agents.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(())
    }

    /// Chooses the agent and clamps the repository's settings. `Err` is a message for the
    /// tracking comment: the repository asked for an agent this server does not have.
    pub fn resolve(&self, repo: &RepoConfig, complexity: Complexity) -> Result<Resolved, String> {
        let name = repo
            .agent
            .name
            .clone()
            .unwrap_or_else(|| self.default_agent.clone());
        let agent = self.agents.get(&name).ok_or_else(|| {
            format!(
                "`.github/bosun.yml` asks for the agent `{name}`, which this bosun server does not have. \
                 Configured agents: {}.",
                self.agents.keys().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )
        })?;
        let adapter = agent
            .adapter
            .parse::<AdapterKind>()
            .map_err(|e| e.to_string())?;
        let mut agent = agent.clone();
        if let Some(image) = &repo.image {
            if !self.allows_repo_image(image) {
                return Err(format!(
                    "`.github/bosun.yml` asks for the image `{}`, which this bosun server does not \
                     allow. Its operator lists the images repositories may use under \
                     `limits.repo_images` in the server's configuration; without `image:` the run \
                     uses the agent's own image.",
                    image.replace('`', "'")
                ));
            }
            // The repository's environment: set-up, agent and gates all run in it.
            agent.image = image.clone();
            agent.gate_image = None;
        }
        let model = repo.agent.model.clone().or_else(|| {
            model_map::pick(
                &repo.model_map,
                &self.model_map,
                &name,
                complexity.into(),
                complexity,
            )
        });
        let minutes = |m: u32| std::time::Duration::from_secs(u64::from(m.max(1)) * 60);
        Ok(Resolved {
            agent_name: name,
            adapter,
            agent,
            model,
            rounds: repo.rounds.clamp(1, self.limits.max_rounds.max(1)),
            agent_timeout: minutes(
                repo.timeouts
                    .agent_minutes
                    .min(self.limits.max_agent_minutes),
            ),
            gate_timeout: minutes(repo.timeouts.gate_minutes.min(self.limits.max_gate_minutes)),
            setup_timeout: minutes(
                repo.timeouts
                    .setup_minutes
                    .min(self.limits.max_setup_minutes),
            ),
            idle: std::time::Duration::from_secs(self.limits.agent_idle_secs.max(1)),
            // Whether this repository may have it is decided before (`Limits::open_network`).
            network: repo.network,
        })
    }
}

impl RunConfig {
    /// The agents a router picks from (and that take turns without one).
    pub fn routable_agents(&self) -> Vec<String> {
        if !self.router.agents.is_empty() {
            return self.router.agents.clone();
        }
        self.agents
            .iter()
            .filter(|(_, a)| a.adapter != "command")
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Who reviews a change that `implementer` made: none when the server or the repository
    /// turned the review off. `Err` is a message for the tracking comment: the repository
    /// named a reviewer this server does not have.
    pub fn reviewers(
        &self,
        repo: &RepoConfig,
        implementer: &Resolved,
        complexity: Complexity,
    ) -> Result<Vec<Resolved>, String> {
        if !self.peer_review.enabled || !repo.peer_review.enabled {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = if !repo.peer_review.reviewers.is_empty() {
            repo.peer_review.reviewers.clone()
        } else if !self.peer_review.reviewers.is_empty() {
            self.peer_review.reviewers.clone()
        } else {
            // Another vendor's model misses other things than the one that wrote the change.
            // A `command` agent could be anything, so it is never picked on a guess.
            let other = self.agents.iter().find(|(_, a)| {
                a.adapter
                    .parse::<AdapterKind>()
                    .is_ok_and(|k| k != implementer.adapter && k != AdapterKind::Command)
            });
            vec![other.map_or_else(|| implementer.agent_name.clone(), |(n, _)| n.clone())]
        };
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names.truncate(MAX_REVIEWERS);
        names
            .into_iter()
            .map(|name| {
                let mut as_reviewer = repo.clone();
                // The repository's model is for its implementer; a reviewer has the map's
                // `review` entry for its agent.
                as_reviewer.agent.model = model_map::pick(
                    &repo.model_map,
                    &self.model_map,
                    &name,
                    ModelUse::Review,
                    complexity,
                );
                as_reviewer.agent.name = Some(name);
                self.resolve(&as_reviewer, complexity)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_and_the_default_is_valid() {
        assert_eq!(RunConfig::parse("").unwrap(), RunConfig::default());
        RunConfig::default().validate().unwrap();
    }

    #[test]
    fn the_old_allow_network_is_refused_saying_what_replaced_it() {
        let why = RunConfig::parse("limits: {allow_network: true}\n")
            .unwrap_err()
            .to_string();
        assert!(why.contains("limits.network_repos"), "{why}");
    }

    #[test]
    fn model_keys_pass_to_an_agent_only_when_exposed() {
        let mut agent = RunConfig::default().agents["claude"].clone();
        agent.env = vec![
            "ANTHROPIC_API_KEY".into(),
            "MY_KEY".into(),
            "HTTP_TIMEOUT".into(),
        ];
        let meter_keys = vec!["MY_KEY".to_string()];
        let passed: Vec<&String> = agent.passed_env(&meter_keys).collect();
        assert_eq!(passed, ["HTTP_TIMEOUT"]);
        agent.expose_key = true;
        assert_eq!(agent.passed_env(&meter_keys).count(), 3);
    }

    #[test]
    fn the_meter_is_on_by_default_and_agents_get_no_raw_key() {
        let config = RunConfig::default();
        assert!(config.meter.enabled && !config.meter.is_configured());
        assert!(config.agents.values().all(|agent| !agent.expose_key));
        let exposed = RunConfig::parse(
            "agents:\n  claude:\n    adapter: claude\n    image: img\n    env: [K]\n    expose_key: true\n",
        )
        .unwrap();
        assert!(exposed.agents["claude"].expose_key);
    }

    #[test]
    fn repositories_are_clamped_by_the_server() {
        let server = RunConfig::parse(
            "limits: {max_rounds: 2, max_agent_minutes: 10, network_repos: [Acme/Tools]}\n\
             agents:\n  claude:\n    adapter: claude\n    image: img\n\
             model_map:\n  claude: {complex: opus}\n",
        )
        .unwrap();
        let mut repo = RepoConfig {
            rounds: 9,
            network: true,
            ..RepoConfig::default()
        };
        repo.timeouts.agent_minutes = 600;
        let r = server.resolve(&repo, Complexity::Complex).unwrap();
        assert_eq!(r.rounds, 2);
        // Whether the repository may have the network is asked before resolving.
        assert!(r.network);
        assert!(server.limits.open_network("acme/tools"));
        assert!(!server.limits.open_network("acme/other"));
        assert!(!RunConfig::default().limits.open_network("acme/tools"));
        assert_eq!(r.agent_timeout.as_secs(), 600);
        assert_eq!(r.model.as_deref(), Some("opus"));
        assert_eq!(
            server.resolve(&repo, Complexity::Simple).unwrap().model,
            None
        );
        repo.agent.name = Some("codex".into());
        assert!(server
            .resolve(&repo, Complexity::Simple)
            .unwrap_err()
            .contains("`claude`"));
    }

    #[test]
    fn a_repository_image_is_used_only_when_the_server_lists_it() {
        let server = RunConfig::parse(
            "limits: {repo_images: ['ghcr.io/acme/*', 'env:1']}\n\
             agents:\n  claude:\n    adapter: claude\n    image: img\n    gate_image: gates\n",
        )
        .unwrap();
        let mut repo = RepoConfig::default();
        let plain = server.resolve(&repo, Complexity::Simple).unwrap();
        assert_eq!(plain.agent.image, "img");
        assert_eq!(plain.agent.gate_image.as_deref(), Some("gates"));
        for allowed in ["ghcr.io/acme/env:2", "env:1"] {
            repo.image = Some(allowed.into());
            let r = server.resolve(&repo, Complexity::Simple).unwrap();
            assert_eq!(r.agent.image, allowed);
            assert_eq!(r.agent.gate_image, None, "the gates run in it too");
        }
        for refused in ["env:2", "ghcr.io/other/env:1", "ghcr.io/acme"] {
            repo.image = Some(refused.into());
            let err = server.resolve(&repo, Complexity::Simple).unwrap_err();
            assert!(err.contains("`limits.repo_images`"), "{refused}: {err}");
        }
        repo.image = Some("env:1".into());
        assert!(RunConfig::default()
            .resolve(&repo, Complexity::Simple)
            .is_err());
    }

    #[test]
    fn repository_budgets_lower_the_servers_and_never_raise_them() {
        use bosun_core::repo_config::Budget;
        let server = Limits {
            task_budget_usd: Some(5.0),
            repo_daily_budget_usd: None,
            task_budget_tokens: Some(1_000_000),
            ..Limits::default()
        };
        let wish = Budget {
            task_usd: Some(9.0),
            task_tokens: Some(200_000),
            daily_usd: Some(30.0),
        };
        let got = server.for_repo(&wish);
        assert_eq!(got.task_budget_usd, Some(5.0), "not raised");
        assert_eq!(got.task_budget_tokens, Some(200_000), "lowered");
        assert_eq!(
            got.repo_daily_budget_usd,
            Some(30.0),
            "no server limit: the wish"
        );
        assert_eq!(got.max_rounds, server.max_rounds);
        assert_eq!(server.for_repo(&Budget::default()), server);
    }

    #[test]
    fn the_default_reviewer_is_another_vendor_and_repositories_can_choose_or_opt_out() {
        let agents = "agents:\n  claude:\n    adapter: claude\n    image: i\n  \
                      codex:\n    adapter: codex\n    image: i\n  \
                      script:\n    adapter: command\n    image: i\n    program: x\n\
                      model_map:\n  codex: {simple: mini}\n";
        let server = RunConfig::parse(agents).unwrap();
        let repo = RepoConfig::default();
        let claude = server.resolve(&repo, Complexity::Simple).unwrap();
        let names = |rs: Vec<Resolved>| rs.into_iter().map(|r| r.agent_name).collect::<Vec<_>>();
        let picked = server
            .reviewers(&repo, &claude, Complexity::Simple)
            .unwrap();
        assert_eq!(picked[0].model.as_deref(), Some("mini"));
        assert_eq!(names(picked), vec!["codex"]);

        let mut codex_repo = repo.clone();
        codex_repo.agent.name = Some("codex".into());
        codex_repo.agent.model = Some("the-implementers-model".into());
        let codex = server.resolve(&codex_repo, Complexity::Simple).unwrap();
        let picked = server
            .reviewers(&codex_repo, &codex, Complexity::Simple)
            .unwrap();
        assert_eq!(names(picked.clone()), vec!["claude"]);
        assert_eq!(picked[0].model, None, "not the implementer's model");
        let mut reviewed = codex_repo.clone();
        reviewed.model_map = serde_yaml_ng::from_str("claude: {review: rev, simple: s}\n").unwrap();
        let picked = server
            .reviewers(&reviewed, &codex, Complexity::Simple)
            .unwrap();
        assert_eq!(picked[0].model.as_deref(), Some("rev"), "the review entry");

        let mut chosen = repo.clone();
        chosen.peer_review.reviewers = vec!["codex".into(), "claude".into(), "codex".into()];
        assert_eq!(
            names(
                server
                    .reviewers(&chosen, &claude, Complexity::Simple)
                    .unwrap()
            ),
            vec!["codex", "claude"]
        );
        chosen.peer_review.reviewers = vec!["gemini".into()];
        assert!(server
            .reviewers(&chosen, &claude, Complexity::Simple)
            .unwrap_err()
            .contains("`gemini`"));

        let mut off = repo.clone();
        off.peer_review.enabled = false;
        assert!(server
            .reviewers(&off, &claude, Complexity::Simple)
            .unwrap()
            .is_empty());
        let server_off =
            RunConfig::parse(&format!("{agents}peer_review: {{enabled: false}}\n")).unwrap();
        assert!(server_off
            .reviewers(&repo, &claude, Complexity::Simple)
            .unwrap()
            .is_empty());

        // Alone on the server, an agent reviews its own change (a fresh look, still).
        let alone = RunConfig::default();
        let only = alone.resolve(&repo, Complexity::Simple).unwrap();
        assert_eq!(
            names(alone.reviewers(&repo, &only, Complexity::Simple).unwrap()),
            vec!["claude"]
        );
        assert!(RunConfig::parse("peer_review: {reviewers: [nobody]}\n").is_err());
    }

    #[test]
    fn the_example_file_is_the_default_with_its_commented_agent_left_out() {
        let example = RunConfig::parse(include_str!("../../examples/bosun-server.yml")).unwrap();
        assert_eq!(example.peer_review, PeerReview::default());
        assert_eq!(example.limits, Limits::default());
        assert_eq!(example.default_agent, "claude");
        assert_eq!(example.egress, EgressConfig::default());
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(
            RunConfig::parse("agents: {x: {adapter: nope, image: i}}\ndefault_agent: x\n").is_err()
        );
        assert!(
            RunConfig::parse("agents: {x: {adapter: command, image: i}}\ndefault_agent: x\n")
                .is_err()
        );
        assert!(RunConfig::parse("default_agent: missing\n").is_err());
        assert!(RunConfig::parse("sandbox: vm\n").is_err());
        assert!(RunConfig::parse("typo: 1\n").is_err());
        assert!(RunConfig::parse("model_map: {nobody: {simple: m}}\n").is_err());
        let ip_listed = RunConfig::parse("egress: {allow: [10.0.0.1]}\n").unwrap_err();
        assert!(
            ip_listed.to_string().contains("egress.allow"),
            "{ip_listed}"
        );
        let bad_range = RunConfig::parse("egress: {trusted_ranges: [intranet]}\n").unwrap_err();
        assert!(
            bad_range.to_string().contains("egress.trusted_ranges"),
            "{bad_range}"
        );
    }

    #[test]
    fn a_remote_engine_needs_tls_and_cannot_carry_the_meter() {
        let plain = RunConfig::parse("docker: {host: \"tcp://agents.example.net:2375\"}\n");
        assert!(plain.unwrap_err().to_string().contains("without TLS"));
        let remote = "docker: {host: \"tcp://agents.example.net:2376\", tls_dir: /certs}\n";
        assert!(RunConfig::parse(remote).is_ok());
        let metered = format!(
            "{remote}meter: {{enabled: true, anthropic: {{base_url: \"http://x\", key_env: K}}}}\n"
        );
        let err = RunConfig::parse(&metered).unwrap_err().to_string();
        assert!(err.contains("beside that engine"), "{err}");
        // The process sandbox does not use the engine at all.
        assert!(RunConfig::parse(&format!("sandbox: process\n{metered}")).is_ok());
    }
}
