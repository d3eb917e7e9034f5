//! `.github/bosun.yml`: per-repository settings, written by the repository's
//! maintainers and read on every event.
//!
//! Every key is optional, and an empty or missing file means "all defaults".
//! Unknown keys are errors rather than being ignored, so a typo such as
//! `trigger:` is reported instead of silently keeping the default.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod jobs;
pub mod model_map;
pub mod protected;
mod yaml_budget;

use model_map::ModelMap;

/// Where the repository config lives, on the default branch.
pub const REPO_CONFIG_PATH: &str = ".github/bosun.yml";

/// GitHub rejects labels longer than this many characters.
pub const MAX_LABEL_CHARS: usize = 50;

/// The longest suffix bosun puts after `label_prefix`: a plan part's complexity label (longer
/// than any status label, `:needs-review`). The prefix must leave room for it. Agent labels
/// (`<prefix>:agent:<name>`) depend on the server's agent names; one that would be too long
/// is not given (see `reply::part_labels`).
const LONGEST_SUFFIX: &str = ":complexity:complex";

/// Settings for one repository.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepoConfig {
    /// Adding this label to an issue starts work on it.
    pub trigger_label: String,
    /// Status labels are named `<prefix>:new`, `<prefix>:needs-review`, ...
    pub label_prefix: String,
    /// Logins allowed to trigger the App besides people with write access,
    /// compared case-insensitively.
    pub allowed_users: Vec<String>,
    /// Account ids of bots allowed to trigger the App; other bots are
    /// ignored so that two automations cannot start each other in a loop.
    pub allowed_bots: Vec<u64>,
    /// Defaults for the coding agent.
    pub agent: AgentDefaults,
    /// Commands run after the agent, each in a fresh container with the network off; all must
    /// pass before a pull request is opened.
    pub gates: Vec<Gate>,
    /// Whether the agent's container may reach the network (gates never do). Clamped by the
    /// server's `limits.allow_network`.
    pub network: bool,
    /// The image the set-up, the agent and the gates run in, instead of the agent's (it must
    /// hold the agent's CLI: build it `FROM` the server's agent image). Only images the server
    /// lists under `limits.repo_images` may be named.
    pub image: Option<String>,
    /// Commands run one after the other in the checkout before the agent's first round, each
    /// in a fresh container with the `egress` hosts reachable: what the repository needs
    /// installed (its dependencies) before the agent and the gates can work. A failing one ends
    /// the task before the agent starts.
    pub setup: Vec<String>,
    /// Paths the set-up fills (`node_modules`, `.venv`, or under the home: `~/.cargo/registry`)
    /// that are kept as an environment snapshot: a later task whose `snapshot_key` files are
    /// the same starts from them and skips the set-up. The agent and the gates see them
    /// read-only.
    pub cache: Vec<String>,
    /// Files whose content decides when a snapshot is made anew (lockfiles); the set-up
    /// commands, the image and `cache` decide too.
    pub snapshot_key: Vec<String>,
    /// Hosts the set-up, the agent and the gates may fetch from, through bosun's egress proxy
    /// (package registries and the like): `host.example.org`, `*.example.org`, or a preset
    /// (`crates.io`, `pypi`, `npm`, `go`, `debian`, `github-releases`: `egress::presets`).
    /// Clamped by the server's `egress`. Empty: no way out.
    pub egress: Vec<String>,
    /// How many agent rounds a task may take: a failing gate sends its log back to the agent
    /// for another round until this many ran. Clamped by the server's `limits.max_rounds`.
    pub rounds: u32,
    /// Wall-clock limits, in minutes; clamped by the server's maxima.
    pub timeouts: Timeouts,
    /// Instructions for the agent about this repository. When empty, bosun uses `AGENTS.md` or
    /// `CLAUDE.md` from the repository's root.
    pub instructions: Option<String>,
    /// A second agent's review of the change once the gates pass.
    pub peer_review: PeerReview,
    /// The model each agent runs with here, per complexity and for reviews; wins over the
    /// server's `model_map` (an `agent.model` wins over both for the implementer).
    pub model_map: ModelMap,
    /// What runs here may spend; each is clamped by the server's limit of the same kind.
    pub budget: Budget,
    /// Work started on a schedule: an issue opened and a task run on it at each tick.
    pub jobs: Vec<jobs::JobSpec>,
    /// Tools the model provider runs itself that this repository's agents may ask for
    /// (`web_search`, `web_fetch`, `code_execution`, `mcp`, `file_search`,
    /// `image_generation`). They reach the network from the provider's side, past the egress
    /// proxy, and cost what the meter cannot see, so the metering proxy takes any tool not
    /// listed here out of the model calls. Empty: none.
    pub model_tools: Vec<ModelTool>,
    /// Paths a change may touch only once a writer comments `@bosun approve`: a change to
    /// one is held back from the push and named in the tracking comment (`protected`). The
    /// default holds `.github/`, `CODEOWNERS` and common CI systems' configuration; a list
    /// here replaces it (`[]` protects nothing but `.github/workflows/`, which bosun never
    /// pushes).
    pub protected_paths: Vec<String>,
}

/// A tool the model provider runs on the model's behalf (see `model_tools`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelTool {
    /// Anthropic `web_search_*`, OpenAI `web_search*`, Gemini `googleSearch`.
    WebSearch,
    /// Anthropic `web_fetch_*`, Gemini `urlContext`.
    WebFetch,
    /// Anthropic `code_execution_*`, OpenAI `code_interpreter`, Gemini `codeExecution`.
    CodeExecution,
    /// A remote MCP server the provider calls: OpenAI `mcp` tools, Anthropic `mcp_servers`.
    Mcp,
    /// OpenAI `file_search` (vector stores on the provider's side).
    FileSearch,
    /// OpenAI `image_generation`.
    ImageGeneration,
}

impl ModelTool {
    /// Its name in `.github/bosun.yml` and in refusals.
    pub fn name(self) -> &'static str {
        match self {
            ModelTool::WebSearch => "web_search",
            ModelTool::WebFetch => "web_fetch",
            ModelTool::CodeExecution => "code_execution",
            ModelTool::Mcp => "mcp",
            ModelTool::FileSearch => "file_search",
            ModelTool::ImageGeneration => "image_generation",
        }
    }
}

/// What this repository's runs may spend: dollars are priced by the server's price table and
/// counted by its metering proxy. Missing: the server's limit (if it has one) applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// One attempt of a task (implementer, reviewers and router together).
    pub task_usd: Option<f64>,
    pub task_tokens: Option<u64>,
    /// All runs of this repository in one UTC day.
    pub daily_usd: Option<f64>,
}

/// Whether and by whom a change is reviewed before its pull request is opened (in a
/// repository's file and in the server's configuration alike).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerReview {
    /// Off skips the review here (the server can also turn it off everywhere).
    pub enabled: bool,
    /// The reviewing agents by their names on the server; empty leaves the choice to the
    /// server (by default one agent of another vendor than the implementer).
    pub reviewers: Vec<String>,
}

impl Default for PeerReview {
    fn default() -> Self {
        PeerReview {
            enabled: true,
            reviewers: Vec::new(),
        }
    }
}

/// One gate: a named shell command run in the repository's root.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    pub run: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// One agent round.
    pub agent_minutes: u32,
    /// One gate.
    pub gate_minutes: u32,
    /// One set-up command.
    pub setup_minutes: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            agent_minutes: 30,
            gate_minutes: 10,
            setup_minutes: 10,
        }
    }
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            trigger_label: "bosun".to_string(),
            label_prefix: "bosun".to_string(),
            allowed_users: Vec::new(),
            allowed_bots: Vec::new(),
            agent: AgentDefaults::default(),
            gates: Vec::new(),
            network: false,
            egress: Vec::new(),
            image: None,
            setup: Vec::new(),
            cache: Vec::new(),
            snapshot_key: Vec::new(),
            rounds: 3,
            timeouts: Timeouts::default(),
            instructions: None,
            peer_review: PeerReview::default(),
            model_map: ModelMap::default(),
            budget: Budget::default(),
            jobs: Vec::new(),
            model_tools: Vec::new(),
            protected_paths: protected::default_protected(),
        }
    }
}

impl RepoConfig {
    /// What adding the label `name` to an issue asks of bosun here, if anything: the trigger
    /// label starts work, `<label_prefix>:plan` asks for a plan. Compared case-insensitively,
    /// as GitHub compares label names. Intake drops every other label without a job.
    pub fn label_asks(&self, name: &str) -> Option<crate::command::Command> {
        use crate::command::Command;
        if name.eq_ignore_ascii_case(&self.trigger_label) {
            Some(Command::Do(String::new()))
        } else if name.eq_ignore_ascii_case(&format!("{}:plan", self.label_prefix)) {
            Some(Command::Plan(None))
        } else {
            None
        }
    }

    /// Whether `login` is listed in `allowed_users`. GitHub logins are
    /// case-insensitive, and a leading `@` in the file is tolerated.
    pub fn allows_user(&self, login: &str) -> bool {
        self.allowed_users.iter().any(|allowed| {
            let allowed = allowed.trim();
            let allowed = allowed.strip_prefix('@').unwrap_or(allowed);
            allowed.eq_ignore_ascii_case(login)
        })
    }

    /// Whether a change to `path` needs a writer's approval before it is pushed.
    pub fn protects(&self, path: &str) -> bool {
        protected::is_protected(&self.protected_paths, path)
    }

    /// Whether the bot account with this id is listed in `allowed_bots`.
    pub fn allows_bot(&self, id: u64) -> bool {
        self.allowed_bots.contains(&id)
    }
}

/// Defaults for the coding agent that works on this repository's issues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentDefaults {
    /// Which configured agent to use; `None` means the server's default.
    pub name: Option<String>,
    /// How much effort a task is expected to need.
    pub complexity: Complexity,
    /// Which model the agent should use; `None` means the agent's default.
    pub model: Option<String>,
}

/// How much effort a task is expected to need.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    Simple,
    #[default]
    #[serde(alias = "standard")]
    Medium,
    Complex,
}

impl Complexity {
    /// As written in configs and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Medium => "medium",
            Complexity::Complex => "complex",
        }
    }
}

/// Why a `bosun.yml` was rejected, with the position when it is known.
/// Lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfigError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for RepoConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RepoConfigError {}

/// Parses and validates the contents of `.github/bosun.yml`.
pub fn parse_repo_config(yaml: &str) -> Result<RepoConfig, RepoConfigError> {
    if let Some(why) = yaml_budget::over_budget(yaml) {
        return Err(RepoConfigError {
            message: why,
            line: None,
            column: None,
        });
    }
    // Parse loosely first: an empty file, one with only comments, or `null`
    // is a valid "use the defaults", but would not deserialize as a struct.
    let document: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).map_err(yaml_error)?;
    if document.is_null() {
        return Ok(RepoConfig::default());
    }
    if !document.is_mapping() {
        return Err(not_a_mapping(yaml, &document));
    }
    // Parse again from the text rather than from `document`, so that type
    // errors keep their line and column.
    let config: RepoConfig = serde_yaml_ng::from_str(yaml).map_err(yaml_error)?;
    validate(&config).map_err(|invalid| invalid.locate(yaml))?;
    Ok(config)
}

/// Converts a YAML error, moving its position out of the message and into
/// the fields so that it is not printed twice.
fn yaml_error(error: serde_yaml_ng::Error) -> RepoConfigError {
    let text = error.to_string();
    match error.location() {
        Some(location) => {
            let position = format!(" at line {} column {}", location.line(), location.column());
            RepoConfigError {
                message: text.replacen(&position, "", 1),
                line: Some(location.line()),
                column: Some(location.column()),
            }
        }
        None => RepoConfigError {
            message: text,
            line: None,
            column: None,
        },
    }
}

/// serde's "expected struct RepoConfig" would name a Rust type; say what
/// the file should look like instead.
fn not_a_mapping(yaml: &str, document: &serde_yaml_ng::Value) -> RepoConfigError {
    use serde_yaml_ng::Value;
    let found = match document {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Tagged(_) => "a tagged value",
        Value::Null | Value::Mapping(_) => "something else",
    };
    let first_line = yaml.lines().position(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#') && line != "---"
    });
    RepoConfigError {
        message: format!(
            "the file must be a mapping of settings such as `trigger_label: bosun`, but is {found}"
        ),
        line: first_line.map(|index| index + 1),
        column: None,
    }
}

/// A value that parsed but is not acceptable, and the key it came from.
#[derive(Debug)]
struct Invalid {
    key: Key,
    message: String,
}

/// Where a validated key lives, for pointing at its line.
#[derive(Debug, Clone, Copy)]
enum Key {
    TopLevel(&'static str),
    Agent(&'static str),
}

impl Invalid {
    fn new(key: Key, message: String) -> Self {
        Invalid { key, message }
    }

    /// Attaches the line of the offending key, when it can be found.
    fn locate(self, yaml: &str) -> RepoConfigError {
        RepoConfigError {
            message: self.message,
            line: key_line(yaml, self.key),
            column: None,
        }
    }
}

/// A path inside the checkout (or the home): relative, without `.` or `..` parts, and not in
/// `.git`.
fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.starts_with('/') || path.starts_with('~') {
        return Err("a path relative to the repository's root (or `~/` for the home)".into());
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err("no empty, `.` or `..` parts".into());
    }
    if parts[0] == ".git" {
        return Err("not inside `.git`".into());
    }
    Ok(())
}

fn validate(config: &RepoConfig) -> Result<(), Invalid> {
    let trigger = Key::TopLevel("trigger_label");
    check_label_text(trigger, &config.trigger_label, MAX_LABEL_CHARS)?;
    let prefix = Key::TopLevel("label_prefix");
    let prefix_room = MAX_LABEL_CHARS - LONGEST_SUFFIX.chars().count();
    check_label_text(prefix, &config.label_prefix, prefix_room)?;
    if let Some(name) = &config.agent.name {
        check_agent_name(name)?;
    }
    crate::egress::Allowlist::parse(&config.egress)
        .map_err(|why| Invalid::new(Key::TopLevel("egress"), why))?;
    if let Some(image) = &config.image {
        let bad = image.is_empty()
            || image.len() > 255
            || image.starts_with('-')
            || image.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad {
            return Err(Invalid::new(
                Key::TopLevel("image"),
                format!("image `{image}` is not an image reference (`registry/name:tag`)"),
            ));
        }
    }
    for path in &config.cache {
        let inside = path.strip_prefix("~/").unwrap_or(path);
        check_relative_path(inside).map_err(|why| {
            Invalid::new(Key::TopLevel("cache"), format!("cache `{path}`: {why}"))
        })?;
    }
    for path in &config.snapshot_key {
        check_relative_path(path).map_err(|why| {
            Invalid::new(
                Key::TopLevel("snapshot_key"),
                format!("snapshot_key `{path}`: {why}"),
            )
        })?;
    }
    if !config.cache.is_empty() && config.setup.is_empty() {
        let message =
            "`cache` keeps what `setup` installs; list the set-up commands too".to_string();
        return Err(Invalid::new(Key::TopLevel("cache"), message));
    }
    if config.setup.iter().any(|c| c.trim().is_empty()) {
        let message = "`setup` lists commands; one of them is empty".to_string();
        return Err(Invalid::new(Key::TopLevel("setup"), message));
    }
    for name in &config.peer_review.reviewers {
        check_agent_name(name).map_err(|_| {
            let message = format!(
                "`peer_review.reviewers` names agents with lowercase letters, digits, `_` and `-`, \
                 not {name:?}"
            );
            Invalid::new(Key::TopLevel("peer_review"), message)
        })?;
    }
    check_gates(&config.gates)?;
    let budget = config.budget;
    let bad_usd = |usd: Option<f64>| usd.is_some_and(|u| !u.is_finite() || u <= 0.0);
    if bad_usd(budget.task_usd) || bad_usd(budget.daily_usd) || budget.task_tokens == Some(0) {
        let message = "budgets must be more than 0 (leave one out for the server's limit)";
        return Err(Invalid::new(Key::TopLevel("budget"), message.to_string()));
    }
    jobs::check(&config.jobs, true).map_err(|m| Invalid::new(Key::TopLevel("jobs"), m))?;
    if config.rounds == 0 {
        let message = "`rounds` must be at least 1".to_string();
        return Err(Invalid::new(Key::TopLevel("rounds"), message));
    }
    let t = &config.timeouts;
    if t.agent_minutes == 0 || t.gate_minutes == 0 || t.setup_minutes == 0 {
        let message = "timeouts must be at least 1 minute".to_string();
        return Err(Invalid::new(Key::TopLevel("timeouts"), message));
    }
    Ok(())
}

/// Gate names become check-run names and must tell gates apart.
fn check_gates(gates: &[Gate]) -> Result<(), Invalid> {
    let key = Key::TopLevel("gates");
    let mut seen = std::collections::HashSet::new();
    for gate in gates {
        let name = gate.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            let message = format!(
                "each gate needs a `name` of 1 to 60 characters, not {:?}",
                gate.name
            );
            return Err(Invalid::new(key, message));
        }
        if gate.run.trim().is_empty() {
            return Err(Invalid::new(
                key,
                format!("gate `{name}` has an empty `run`"),
            ));
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(Invalid::new(key, format!("two gates are named `{name}`")));
        }
    }
    Ok(())
}

/// Rules shared by the trigger label and the status label prefix.
fn check_label_text(key: Key, value: &str, max_chars: usize) -> Result<(), Invalid> {
    let name = key.name();
    if value.is_empty() {
        return Err(Invalid::new(key, format!("`{name}` must not be empty")));
    }
    if value.trim() != value {
        let message = format!("`{name}` must not start or end with whitespace: {value:?}");
        return Err(Invalid::new(key, message));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        let message =
            format!("`{name}` is {chars} characters long, at most {max_chars} are allowed");
        return Err(Invalid::new(key, message));
    }
    // GitHub's issue search takes a comma-separated list of labels, so a
    // label with a comma in it could never be looked up.
    if value.contains(',') {
        let message = format!("`{name}` must not contain a comma: {value:?}");
        return Err(Invalid::new(key, message));
    }
    Ok(())
}

/// Agent names are identifiers in the server's own configuration.
fn check_agent_name(name: &str) -> Result<(), Invalid> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        return Ok(());
    }
    let message = format!(
        "`agent.name` must use only lowercase letters, digits, `_` and `-`, but is {name:?}"
    );
    Err(Invalid::new(Key::Agent("name"), message))
}

impl Key {
    fn name(self) -> String {
        match self {
            Key::TopLevel(key) => key.to_string(),
            Key::Agent(key) => format!("agent.{key}"),
        }
    }
}

/// Best-effort line (from 1) of a key in block-style YAML; `None` for flow
/// style (`{trigger_label: x}`) and anything else it does not recognise.
fn key_line(yaml: &str, key: Key) -> Option<usize> {
    let lines = || {
        yaml.lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line))
    };
    match key {
        Key::TopLevel(name) => lines()
            .find(|(_, line)| defines_key(line, name) && !is_indented(line))
            .map(|(number, _)| number),
        Key::Agent(name) => {
            let (agent_line, _) =
                lines().find(|(_, line)| defines_key(line, "agent") && !is_indented(line))?;
            lines()
                .skip(agent_line)
                .take_while(|(_, line)| {
                    is_indented(line) || line.trim().is_empty() || line.starts_with('#')
                })
                .find(|(_, line)| defines_key(line.trim_start(), name))
                .map(|(number, _)| number)
        }
    }
}

fn defines_key(line: &str, key: &str) -> bool {
    line.strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with(':'))
}

fn is_indented(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(yaml: &str) -> RepoConfigError {
        match parse_repo_config(yaml) {
            Ok(config) => panic!("expected an error for {yaml:?}, got {config:?}"),
            Err(error) => error,
        }
    }

    fn parse_ok(yaml: &str) -> RepoConfig {
        match parse_repo_config(yaml) {
            Ok(config) => config,
            Err(error) => panic!("expected {yaml:?} to parse, got: {error}"),
        }
    }

    // --- defaults -------------------------------------------------------

    #[test]
    fn defaults() {
        let config = RepoConfig::default();
        assert_eq!(config.trigger_label, "bosun");
        assert_eq!(config.label_prefix, "bosun");
        assert!(config.allowed_users.is_empty());
        assert!(config.allowed_bots.is_empty());
        assert_eq!(config.agent.name, None);
        assert_eq!(config.agent.complexity, Complexity::Medium);
        assert_eq!(config.agent.model, None);
        assert!(config.gates.is_empty());
        assert!(!config.network);
        assert_eq!(config.rounds, 3);
        assert_eq!(config.timeouts, Timeouts::default());
    }

    #[test]
    fn gates_rounds_and_timeouts_parse_and_are_checked() {
        let config = parse_ok(
            "gates:\n  - name: test\n    run: cargo test\nnetwork: true\nrounds: 2\ntimeouts:\n  agent_minutes: 5\n",
        );
        assert_eq!(
            config.gates,
            vec![Gate {
                name: "test".into(),
                run: "cargo test".into()
            }]
        );
        assert!(config.network);
        assert_eq!(config.rounds, 2);
        assert_eq!(config.timeouts.agent_minutes, 5);
        assert_eq!(config.timeouts.gate_minutes, 10);
        let dup = parse_err("gates:\n  - {name: t, run: a}\n  - {name: T, run: b}\n");
        assert!(dup.message.contains("two gates"), "{dup}");
        assert_eq!(dup.line, Some(1));
        assert!(parse_err("gates:\n  - {name: t, run: ' '}\n")
            .message
            .contains("empty"));
        assert!(parse_err("gates:\n  - {name: t, run: a, shell: b}\n")
            .message
            .contains("shell"));
        assert!(parse_err("rounds: 0\n").message.contains("rounds"));
        assert!(parse_err("timeouts: {gate_minutes: 0}\n")
            .message
            .contains("minute"));
    }

    #[test]
    fn empty_comment_only_and_null_files_are_defaults() {
        for yaml in [
            "",
            "\n\n",
            "# nothing here\n# at all\n",
            "null",
            "~",
            "---\n",
        ] {
            assert_eq!(parse_ok(yaml), RepoConfig::default(), "for {yaml:?}");
        }
    }

    #[test]
    fn model_tools_are_named_and_a_misspelt_one_is_refused() {
        assert!(parse_ok("").model_tools.is_empty());
        let config = parse_ok("model_tools: [web_search, mcp]");
        assert_eq!(config.model_tools, [ModelTool::WebSearch, ModelTool::Mcp]);
        let names: Vec<&str> = config.model_tools.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["web_search", "mcp"]);
        let err = parse_err("model_tools: [websearch]\n");
        assert!(err.message.contains("web_search"), "{err}");
    }

    #[test]
    fn egress_lists_host_names_and_a_bad_one_is_named() {
        let config = parse_ok("egress: [registry.example.org, '*.cdn.example.net']");
        assert_eq!(config.egress, ["registry.example.org", "*.cdn.example.net"]);
        let err = parse_repo_config("network: false\negress:\n  - 169.254.169.254\n").unwrap_err();
        assert!(err.message.contains("169.254.169.254"), "{err:?}");
        assert!(err.message.contains("IP address"), "{err:?}");
        assert_eq!(err.line, Some(2));
        let err = parse_repo_config("egress: [pypi, npmjs]\n").unwrap_err();
        assert!(
            err.message.contains("`npmjs` is neither a preset"),
            "{err:?}"
        );
    }

    #[test]
    fn an_image_is_a_reference_without_spaces() {
        let config = parse_ok("image: ghcr.io/acme/env:1");
        assert_eq!(config.image.as_deref(), Some("ghcr.io/acme/env:1"));
        for bad in ["image: ''", "image: 'a b'", "image: '--privileged'"] {
            let err = parse_repo_config(bad).unwrap_err();
            assert!(
                err.message.contains("not an image reference"),
                "{bad}: {err:?}"
            );
        }
        let err = parse_repo_config("egress: [pypi, npmjs]\n").unwrap_err();
        assert!(
            err.message.contains("`npmjs` is neither a preset"),
            "{err:?}"
        );
    }

    #[test]
    fn cache_and_snapshot_key_are_paths_inside_the_checkout_or_home() {
        let config = parse_ok(
            "setup: [npm ci]\ncache: [node_modules, '~/.npm']\nsnapshot_key: [package-lock.json]\n",
        );
        assert_eq!(config.cache, ["node_modules", "~/.npm"]);
        assert_eq!(config.snapshot_key, ["package-lock.json"]);
        for (yaml, why) in [
            ("setup: [x]\ncache: [/usr/lib]\n", "relative"),
            ("setup: [x]\ncache: [../up]\n", "`..`"),
            ("setup: [x]\ncache: ['~/../etc']\n", "`..`"),
            ("setup: [x]\ncache: [.git/hooks]\n", ".git"),
            ("setup: [x]\nsnapshot_key: ['~/x']\n", "relative"),
            ("cache: [node_modules]\n", "list the set-up commands"),
        ] {
            let err = parse_repo_config(yaml).unwrap_err();
            assert!(err.message.contains(why), "{yaml}: {err:?}");
        }
    }

    #[test]
    fn setup_lists_commands_with_a_limit_of_their_own() {
        let config = parse_ok(
            "setup: [npm ci, 'pip install -r requirements.txt']\ntimeouts: {setup_minutes: 20}\n",
        );
        assert_eq!(config.setup, ["npm ci", "pip install -r requirements.txt"]);
        assert_eq!(config.timeouts.setup_minutes, 20);
        assert_eq!(RepoConfig::default().timeouts.setup_minutes, 10);
        let err = parse_repo_config("setup:\n  - npm ci\n  - ''\n").unwrap_err();
        assert!(err.message.contains("empty"), "{err:?}");
        assert_eq!(err.line, Some(1));
        assert!(parse_repo_config("timeouts: {setup_minutes: 0}\n").is_err());
    }

    #[test]
    fn empty_mapping_and_empty_agent_are_defaults() {
        assert_eq!(parse_ok("{}"), RepoConfig::default());
        assert_eq!(parse_ok("agent: {}"), RepoConfig::default());
    }

    #[test]
    fn example_file_parses() {
        let example = include_str!("../../../../examples/bosun.yml");
        assert_eq!(parse_ok(example), RepoConfig::default());
    }

    #[test]
    fn example_file_mentions_every_key() {
        let example = include_str!("../../../../examples/bosun.yml");
        let keys = [
            "trigger_label:",
            "label_prefix:",
            "allowed_users:",
            "allowed_bots:",
            "agent:",
            "name:",
            "complexity:",
            "model:",
            "peer_review:",
            "enabled:",
            "reviewers:",
            "egress:",
            "image:",
            "setup:",
            "setup_minutes:",
            "cache:",
            "snapshot_key:",
            "model_tools:",
            "protected_paths:",
        ];
        for key in keys {
            assert!(example.contains(key), "examples/bosun.yml lacks {key}");
        }
    }

    // --- each key -------------------------------------------------------

    #[test]
    fn peer_review() {
        assert!(parse_ok("").peer_review.enabled);
        let off = parse_ok("peer_review:\n  enabled: false\n");
        assert!(!off.peer_review.enabled);
        let chosen = parse_ok("peer_review: {reviewers: [codex, gemini-2]}\n");
        assert_eq!(chosen.peer_review.reviewers, vec!["codex", "gemini-2"]);
        assert!(chosen.peer_review.enabled);
        let err = parse_err("rounds: 2\npeer_review:\n  reviewers: [Codex]\n");
        assert!(err.message.contains("peer_review.reviewers"), "{err}");
        assert_eq!(err.line, Some(2));
        assert!(parse_err("peer_review: {reviewer: codex}\n")
            .message
            .contains("reviewer"));
    }

    #[test]
    fn trigger_label() {
        assert_eq!(
            parse_ok("trigger_label: ai please").trigger_label,
            "ai please"
        );
    }

    #[test]
    fn label_prefix() {
        assert_eq!(parse_ok("label_prefix: bot").label_prefix, "bot");
    }

    #[test]
    fn only_the_trigger_and_plan_labels_ask_for_anything() {
        use crate::command::Command;
        let config = parse_ok("trigger_label: AI please\nlabel_prefix: bot");
        assert_eq!(
            config.label_asks("ai Please"),
            Some(Command::Do(String::new()))
        );
        assert_eq!(config.label_asks("BOT:plan"), Some(Command::Plan(None)));
        assert_eq!(config.label_asks("bug"), None);
        assert_eq!(config.label_asks("bosun"), None, "the default is replaced");
        assert_eq!(config.label_asks("bot:needs-review"), None);
    }

    #[test]
    fn allowed_users() {
        let config = parse_ok("allowed_users: [alice, Bob]");
        assert_eq!(config.allowed_users, ["alice", "Bob"]);
    }

    #[test]
    fn allowed_bots() {
        let config = parse_ok("allowed_bots:\n  - 41898282\n  - 49699333\n");
        assert_eq!(config.allowed_bots, [41_898_282, 49_699_333]);
    }

    #[test]
    fn agent_keys() {
        let config =
            parse_ok("agent:\n  name: claude-code\n  complexity: complex\n  model: big-1\n");
        assert_eq!(config.agent.name.as_deref(), Some("claude-code"));
        assert_eq!(config.agent.complexity, Complexity::Complex);
        assert_eq!(config.agent.model.as_deref(), Some("big-1"));
    }

    #[test]
    fn every_complexity() {
        for (text, expected) in [
            ("simple", Complexity::Simple),
            ("medium", Complexity::Medium),
            ("standard", Complexity::Medium),
            ("complex", Complexity::Complex),
        ] {
            let yaml = format!("agent:\n  complexity: {text}\n");
            assert_eq!(parse_ok(&yaml).agent.complexity, expected);
        }
    }

    #[test]
    fn null_optional_values_are_none() {
        let config = parse_ok("agent:\n  name: null\n  model: ~\n");
        assert_eq!(config.agent, AgentDefaults::default());
    }

    #[test]
    fn serializes_back_to_the_same_config() {
        let config =
            parse_ok("trigger_label: ai\nallowed_bots: [7]\nagent:\n  complexity: simple\n");
        let yaml = serde_yaml_ng::to_string(&config).expect("serializing a config cannot fail");
        assert_eq!(parse_ok(&yaml), config);
    }

    // --- structural errors ------------------------------------------------

    #[test]
    fn unknown_top_level_key_has_its_line() {
        let error = parse_err("label_prefix: x\n\ntrigger: bosun\n");
        assert_eq!(error.line, Some(3));
        assert_eq!(error.column, Some(1));
        assert!(error.message.contains("unknown field `trigger`"), "{error}");
        assert!(error.message.contains("`trigger_label`"), "{error}");
        assert!(
            !error.message.contains("at line"),
            "position printed twice: {error}"
        );
        assert!(error
            .to_string()
            .starts_with("line 3, column 1: unknown field `trigger`"));
    }

    #[test]
    fn unknown_agent_key_has_its_line() {
        let error = parse_err("agent:\n  name: x\n  temperature: 2\n");
        assert_eq!(error.line, Some(3));
        assert!(
            error.message.contains("unknown field `temperature`"),
            "{error}"
        );
        assert!(error.message.contains("agent"), "{error}");
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        for (yaml, found) in [
            ("just a string", "a string"),
            ("# settings\n\n- a\n- b\n", "a list"),
            ("42", "a number"),
            ("true", "a boolean"),
        ] {
            let error = parse_err(yaml);
            assert!(
                error.message.contains("must be a mapping"),
                "{yaml:?}: {error}"
            );
            assert!(error.message.ends_with(found), "{yaml:?}: {error}");
        }
        assert_eq!(parse_err("# settings\n\n- a\n").line, Some(3));
    }

    #[test]
    fn keys_left_empty_are_defaults() {
        assert_eq!(
            parse_ok("agent:\nallowed_users:\nallowed_bots:\n"),
            RepoConfig::default()
        );
    }

    #[test]
    fn complexity_is_lowercase() {
        let error = parse_err("agent:\n  complexity: Simple\n");
        assert!(
            error.message.contains("unknown variant `Simple`"),
            "{error}"
        );
    }

    #[test]
    fn several_documents_are_rejected() {
        let error = parse_err("trigger_label: a\n---\nlabel_prefix: b\n");
        assert!(error.message.contains("more than one document"), "{error}");
    }

    #[test]
    fn wrong_types() {
        let cases = [
            ("trigger_label: [a, b]", 1),
            ("allowed_users: alice", 1),
            ("allowed_bots: [dependabot]", 1),
            ("allowed_bots: [-1]", 1),
            ("agent: fast", 1),
            ("\nagent:\n  complexity: huge\n", 3),
        ];
        for (yaml, line) in cases {
            let error = parse_err(yaml);
            assert_eq!(error.line, Some(line), "{yaml:?}: {error}");
        }
    }

    #[test]
    fn unknown_complexity_lists_the_choices() {
        let error = parse_err("agent:\n  complexity: huge\n");
        assert!(error.message.contains("`simple`"), "{error}");
    }

    #[test]
    fn syntax_error_has_a_position() {
        let error = parse_err("trigger_label: [unclosed\n");
        assert!(error.line.is_some(), "{error}");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn duplicate_key_is_an_error() {
        let error = parse_err("trigger_label: a\ntrigger_label: b\n");
        assert!(error.message.contains("duplicate"), "{error}");
    }

    // --- validation -----------------------------------------------------

    #[test]
    fn empty_trigger_label() {
        let error = parse_err("label_prefix: x\ntrigger_label: ''\n");
        assert_eq!(error.line, Some(2));
        assert_eq!(error.column, None);
        assert_eq!(
            error.to_string(),
            "line 2: `trigger_label` must not be empty"
        );
    }

    #[test]
    fn whitespace_around_labels() {
        assert!(parse_err("trigger_label: ' bosun'")
            .message
            .contains("whitespace"));
        assert!(parse_err("label_prefix: \"bosun \"")
            .message
            .contains("whitespace"));
    }

    #[test]
    fn trigger_label_length() {
        let fifty = "a".repeat(50);
        parse_ok(&format!("trigger_label: {fifty}"));
        let error = parse_err(&format!("trigger_label: {fifty}b"));
        assert!(error.message.contains("at most 50"), "{error}");
    }

    #[test]
    fn trigger_label_length_counts_characters() {
        parse_ok(&format!("trigger_label: {}", "é".repeat(50)));
    }

    #[test]
    fn label_prefix_leaves_room_for_the_longest_label_bosun_makes() {
        // A plan part's `<prefix>:complexity:complex`, GitHub's limit being 50 characters.
        let room = 50 - ":complexity:complex".len();
        parse_ok(&format!("label_prefix: {}", "p".repeat(room)));
        let error = parse_err(&format!("label_prefix: {}", "p".repeat(room + 1)));
        assert!(error.message.contains("label_prefix"), "{error}");
    }

    #[test]
    fn commas_in_labels() {
        let error = parse_err("trigger_label: 'a,b'");
        assert!(error.message.contains("comma"), "{error}");
        assert!(parse_err("label_prefix: 'a,b'").message.contains("comma"));
    }

    #[test]
    fn agent_name_charset() {
        parse_ok("agent:\n  name: my_agent-2\n");
        for bad in ["Claude", "my agent", "''", "agent.v2", "ünï"] {
            let yaml = format!("agent:\n  model: m\n  name: {bad}\n");
            let error = parse_err(&yaml);
            assert_eq!(error.line, Some(3), "{yaml:?}: {error}");
            assert!(error.message.contains("agent.name"), "{error}");
        }
    }

    #[test]
    fn agent_name_line_is_found_past_comments() {
        let yaml = "trigger_label: x\nagent:\n# which agent\n\n  name: Bad\n";
        assert_eq!(parse_err(yaml).line, Some(5));
    }

    #[test]
    fn validation_in_flow_style_has_no_line() {
        let error = parse_err("{trigger_label: ''}");
        assert_eq!(error.line, None);
        assert_eq!(error.to_string(), "`trigger_label` must not be empty");
    }

    #[test]
    fn error_is_a_std_error() {
        let error: Box<dyn std::error::Error> = Box::new(parse_err("x: 1"));
        assert!(error.to_string().contains("unknown field `x`"));
    }

    // --- who may trigger --------------------------------------------------

    #[test]
    fn allows_user_is_case_insensitive() {
        let config = parse_ok("allowed_users: [Alice, '@bob']");
        assert!(config.allows_user("alice"));
        assert!(config.allows_user("ALICE"));
        assert!(config.allows_user("Bob"));
        assert!(!config.allows_user("carol"));
        assert!(!config.allows_user("alic"));
        assert!(!RepoConfig::default().allows_user("alice"));
    }

    #[test]
    fn budgets_and_the_model_map_are_read_and_nonsense_is_refused() {
        let config = parse_ok(
            "budget: {task_usd: 1.5, daily_usd: 20}\nmodel_map:\n  claude: {simple: haiku, review: sonnet}\n",
        );
        assert_eq!(config.budget.task_usd, Some(1.5));
        assert_eq!(config.budget.daily_usd, Some(20.0));
        assert_eq!(config.budget.task_tokens, None);
        assert!(!config.model_map.is_empty());
        for bad in [
            "budget: {task_usd: 0}",
            "budget: {daily_usd: -3}",
            "budget: {task_tokens: 0}",
        ] {
            let e = parse_err(bad);
            assert!(e.message.contains("more than 0"), "{bad}: {e}");
            assert_eq!(e.line, Some(1));
        }
        assert!(parse_err("budget: {weekly_usd: 3}")
            .message
            .contains("weekly_usd"));
        assert!(parse_err("model_map: {claude: {huge: x}}")
            .message
            .contains("huge"));
    }

    #[test]
    fn allows_bot_by_id() {
        let config = parse_ok("allowed_bots: [41898282]");
        assert!(config.allows_bot(41_898_282));
        assert!(!config.allows_bot(1));
        assert!(!RepoConfig::default().allows_bot(41_898_282));
    }
}
