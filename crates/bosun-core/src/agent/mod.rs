//! Running coding-agent CLIs headless and reading what they print.
//!
//! bosun runs Claude Code, Codex, Gemini CLI, OpenCode or a user-supplied program inside a
//! container. Each of them has its own headless flags and its own JSON-lines dialect, and
//! several of them report failure in ways that are easy to miss (an API error under
//! `subtype:"success"`, a failed shell command under `status:"completed"`, a missing final
//! line). This module hides all of that behind two calls per adapter:
//!
//! - [`AdapterKind::command`] builds the `/bin/sh -c` script that starts the CLI, and
//! - [`AdapterKind::parser`] turns its stdout, line by line, into normalized [`AgentEvent`]s
//!   and, once the process has exited, into one [`Outcome`].
//!
//! Every verdict rule is pinned by a test against output recorded from the real CLIs
//! (`tests/fixtures/agent-streams/`), because the formats are undocumented and drift between
//! releases.
//!
//! The module depends only on std and serde_json so it can be built and tested on its own.

use std::fmt;
use std::str::FromStr;

mod cap;
mod claude;
mod codex;
mod command;
mod gemini;
mod json;
mod opencode;
pub mod readable;
mod script;
pub mod shell;
mod stderr;
mod usage;
mod verdict;
pub mod versions;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod testutil;

/// Name of the environment variable that holds the path of the prompt file.
///
/// The prompt never appears in the script: it can be long, contain anything, and would show
/// up in `ps` output and logs. The caller writes it to a file and sets this variable.
pub const PROMPT_FILE_ENV: &str = "BOSUN_PROMPT_FILE";

/// One normalized thing the agent did, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// Assistant text: a complete message or, for CLIs that stream deltas, one chunk.
    Text { text: String },
    /// The agent asked to run a tool. `input` is compact JSON, or the shell command itself
    /// for CLIs that report commands as plain strings (Codex).
    ToolCall {
        id: String,
        name: String,
        input: String,
    },
    /// A tool finished. `ok` is false for failed commands even when the CLI calls them a
    /// success (OpenCode and Gemini both do).
    ToolResult {
        id: String,
        ok: bool,
        output: String,
    },
    /// Running totals so far (cumulative), emitted whenever they change.
    Usage(Usage),
    /// Something worth showing that does not end the run: retries, warnings, log lines.
    Notice { message: String },
    /// An error the CLI reported. Whether it ends the run is decided by [`Outcome`].
    Error { message: String },
}

/// Token and cost totals.
///
/// `input_tokens` counts input that was neither read from nor written to the prompt cache,
/// so `input + cache_read + cache_write` is the whole prompt. CLIs that report input
/// including cached tokens (Codex, Gemini) are converted to this convention.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// `None` when the CLI does not report cost (Codex, Gemini).
    pub cost_usd: Option<f64>,
}

/// The verdict on one run, produced by [`StreamParser::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    /// The agent's last message (capped at 64 KiB).
    pub final_message: String,
    pub usage: Usage,
    /// Why the run failed, for humans (capped at 4 KiB). `Some` exactly when `ok` is false.
    pub error: Option<String>,
    /// Model round trips, where the CLI reports them.
    pub turns: Option<u32>,
}

/// How the agent process ended, as seen by the container runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code; `None` when the runner could not learn it.
    pub code: Option<i64>,
    /// The last part of stderr. Some CLIs put their only error report there.
    pub stderr_tail: String,
    /// bosun killed the agent at its deadline.
    pub timed_out: bool,
    /// The container was killed for running out of memory.
    pub oom_killed: bool,
}

/// Which CLI a run uses. Parsed from and displayed as the names used in repo config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdapterKind {
    Claude,
    Codex,
    Gemini,
    OpenCode,
    Command,
}

impl AdapterKind {
    /// Every adapter, in the order config documentation lists them.
    pub const ALL: [AdapterKind; 5] = [
        AdapterKind::Claude,
        AdapterKind::Codex,
        AdapterKind::Gemini,
        AdapterKind::OpenCode,
        AdapterKind::Command,
    ];

    /// The config name: `claude`, `codex`, `gemini`, `opencode` or `command`.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::Claude => "claude",
            AdapterKind::Codex => "codex",
            AdapterKind::Gemini => "gemini",
            AdapterKind::OpenCode => "opencode",
            AdapterKind::Command => "command",
        }
    }

    /// A fresh parser for one run's stdout.
    pub fn parser(&self) -> Box<dyn StreamParser> {
        match self {
            AdapterKind::Claude => Box::<claude::ClaudeParser>::default(),
            AdapterKind::Codex => Box::<codex::CodexParser>::default(),
            AdapterKind::Gemini => Box::<gemini::GeminiParser>::default(),
            AdapterKind::OpenCode => Box::<opencode::OpenCodeParser>::default(),
            AdapterKind::Command => Box::<command::CommandParser>::default(),
        }
    }

    /// The script (and extra environment) that starts this CLI headless.
    pub fn command(&self, spec: &CommandSpec) -> AgentCommand {
        match self {
            AdapterKind::Claude => claude::command(spec),
            AdapterKind::Codex => codex::command(spec),
            AdapterKind::Gemini => gemini::command(spec),
            AdapterKind::OpenCode => opencode::command(spec),
            AdapterKind::Command => command::command(spec),
        }
    }
}

impl fmt::Display for AdapterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an adapter name that is not one of [`AdapterKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAdapter(pub String);

impl fmt::Display for UnknownAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown agent {:?}: expected claude, codex, gemini, opencode or command",
            self.0
        )
    }
}

impl std::error::Error for UnknownAdapter {}

impl FromStr for AdapterKind {
    type Err = UnknownAdapter;

    /// Exact, lowercase names only: config is written by people, and a typo should be an
    /// error rather than a guess.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdapterKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownAdapter(s.to_string()))
    }
}

/// Turns one run's stdout into events, then into a verdict.
pub trait StreamParser: Send {
    /// One line of stdout, without or with its line ending. Never fails: lines the parser
    /// does not understand are ignored or reported as [`AgentEvent::Notice`].
    fn line(&mut self, line: &str) -> Vec<AgentEvent>;
    /// Called once, after the process has exited.
    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome;
}

/// What the caller wants from the CLI, as given by repo config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSpec {
    pub model: Option<String>,
    /// Only Claude Code has a turn cap flag; the other adapters ignore this.
    pub max_turns: Option<u32>,
    /// For the command adapter: the program and its arguments, as a shell-style word list.
    /// For the other adapters: a replacement for the executable (for example a full path).
    pub program: Option<String>,
    /// Appended, each as one quoted word, after the adapter's own flags.
    pub extra_args: Vec<String>,
}

/// A ready-to-run agent invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCommand {
    /// Run as `/bin/sh -c <script>` in the container, with the workspace as cwd and
    /// [`PROMPT_FILE_ENV`] set.
    pub script: String,
    /// Extra environment for the agent process.
    pub env: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_names_round_trip() {
        for kind in AdapterKind::ALL {
            assert_eq!(kind.to_string().parse::<AdapterKind>(), Ok(kind));
        }
        assert_eq!("opencode".parse(), Ok(AdapterKind::OpenCode));
    }

    #[test]
    fn adapter_names_are_exact() {
        for bad in ["Claude", " claude", "open-code", "", "shell"] {
            let err = bad.parse::<AdapterKind>().expect_err(bad);
            assert_eq!(err, UnknownAdapter(bad.to_string()));
            assert!(err.to_string().contains("expected claude"), "{err}");
        }
    }

    #[test]
    fn every_script_starts_with_exec_and_reads_the_prompt_file() {
        let spec = CommandSpec {
            program: Some("my-agent".into()),
            ..CommandSpec::default()
        };
        for kind in AdapterKind::ALL {
            let cmd = kind.command(&spec);
            assert!(cmd.script.starts_with("exec "), "{kind}: {}", cmd.script);
            assert!(
                cmd.script.contains("\"$BOSUN_PROMPT_FILE\""),
                "{kind}: {}",
                cmd.script
            );
        }
    }
}
