//! Known ways an agent CLI refuses its own command line, and the corrected command to relaunch
//! it with. A CLI version that dropped or renamed a flag, a flag the operator added in `args`
//! that this version does not know, or a safety check the sandbox already satisfies, all fail
//! the same way every time: relaunching with the fix is cheaper than failing the task. Pure.

use bosun_core::agent::shell::quote;
use bosun_core::agent::{AdapterKind, AgentCommand};

/// One change to the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Remove a flag the CLI does not know.
    DropArg(String),
    /// Use the name an older CLI version knows.
    ReplaceArg { from: String, to: String },
    /// Add a flag the CLI asks for.
    AddArg(String),
    /// Set an environment variable the CLI asks for.
    SetEnv(String, String),
}

impl Fix {
    /// What was changed, for the tracking comment.
    pub fn describe(&self) -> String {
        match self {
            Fix::DropArg(a) => format!("dropped `{}`, which the CLI does not know", code(a)),
            Fix::ReplaceArg { from, to } => format!(
                "used `{}` instead of `{}` (an older CLI version)",
                code(to),
                code(from)
            ),
            Fix::AddArg(a) => format!("added `{}`, which the CLI asked for", code(a)),
            Fix::SetEnv(k, v) => format!("set `{}={}`, which the CLI asked for", code(k), code(v)),
        }
    }
}

fn code(s: &str) -> String {
    s.replace('`', "'")
}

/// The fix for a failure the CLI reported in `error` (its error text, stderr included), if it
/// is a known one that applies to `command` as it is.
pub fn correction(adapter: AdapterKind, error: &str, command: &AgentCommand) -> Option<Fix> {
    if let Some(arg) = quoted_after(error, &["unexpected argument '", "unknown option '"]) {
        // codex builds before 0.44 named `--json` `--experimental-json`.
        if adapter == AdapterKind::Codex && arg == "--json" {
            return has_word(&command.script, "--json").then(|| Fix::ReplaceArg {
                from: "--json".into(),
                to: "--experimental-json".into(),
            });
        }
        return (arg.starts_with('-') && has_word(&command.script, &arg))
            .then_some(Fix::DropArg(arg));
    }
    if error.contains("cannot be used with root/sudo privileges")
        && !command.env.iter().any(|(k, _)| k == "IS_SANDBOX")
    {
        // Claude Code's own check; bosun's container is the sandbox it asks about.
        return Some(Fix::SetEnv("IS_SANDBOX".into(), "1".into()));
    }
    if error.contains("--skip-git-repo-check was not specified")
        && !has_word(&command.script, "--skip-git-repo-check")
    {
        return Some(Fix::AddArg("--skip-git-repo-check".into()));
    }
    None
}

/// `command` with `fix` applied.
pub fn apply(command: &AgentCommand, fix: &Fix) -> AgentCommand {
    let mut out = command.clone();
    match fix {
        Fix::DropArg(arg) => {
            out.script = words(&command.script)
                .into_iter()
                .filter(|w| !is_word(w, arg))
                .collect::<Vec<_>>()
                .join(" ");
        }
        Fix::ReplaceArg { from, to } => {
            out.script = words(&command.script)
                .into_iter()
                .map(|w| if is_word(w, from) { to.as_str() } else { w })
                .collect::<Vec<_>>()
                .join(" ");
        }
        Fix::AddArg(arg) => {
            // Before the first flag: after the program and its subcommand.
            let mut parts = words(&command.script);
            let at = parts
                .iter()
                .position(|w| w.starts_with('-') || w.starts_with("'-"))
                .unwrap_or(parts.len());
            let quoted = quote(arg);
            parts.insert(at, &quoted);
            out.script = parts.join(" ");
        }
        Fix::SetEnv(key, value) => {
            out.env.retain(|(k, _)| k != key);
            out.env.push((key.clone(), value.clone()));
        }
    }
    out
}

/// The script's space-separated words. The adapters build flags as plain words and quote every
/// value as one word, so a flag never hides inside another word.
fn words(script: &str) -> Vec<&str> {
    script.split(' ').collect()
}

fn is_word(word: &str, arg: &str) -> bool {
    word == arg || word == quote(arg)
}

fn has_word(script: &str, arg: &str) -> bool {
    words(script).into_iter().any(|w| is_word(w, arg))
}

/// The text between one of `openers` and the next `'`.
fn quoted_after(text: &str, openers: &[&str]) -> Option<String> {
    openers.iter().find_map(|opener| {
        let start = text.find(opener)? + opener.len();
        let len = text[start..].find('\'')?;
        Some(text[start..start + len].to_string()).filter(|a| !a.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::agent::CommandSpec;

    const FULL_AUTO: &str =
        include_str!("../../tests/fixtures/agent-streams/codex/captured-0.169.0-loopback/codex-full-auto-rejected.stderr.txt");
    const ROOT: &str =
        include_str!("../../tests/fixtures/agent-streams/claude/captured-2.1.197-loopback/claude-skip-perms-root.stderr.txt");

    fn command(adapter: AdapterKind, extra: &[&str]) -> AgentCommand {
        adapter.command(&CommandSpec {
            model: None,
            max_turns: None,
            program: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn an_unknown_flag_from_the_operator_is_dropped() {
        let cmd = command(AdapterKind::Codex, &["--full-auto"]);
        let fix = correction(AdapterKind::Codex, FULL_AUTO, &cmd).unwrap();
        assert_eq!(fix, Fix::DropArg("--full-auto".into()));
        let fixed = apply(&cmd, &fix);
        assert!(!fixed.script.contains("full-auto"), "{}", fixed.script);
        assert!(fixed.script.contains("--skip-git-repo-check"));
        // Fixed once, the same error cannot ask for the same fix again.
        assert_eq!(correction(AdapterKind::Codex, FULL_AUTO, &fixed), None);
    }

    #[test]
    fn an_older_codex_gets_its_old_json_flag() {
        let cmd = command(AdapterKind::Codex, &[]);
        let error =
            "codex's stream ended (exit code 2); stderr: error: unexpected argument '--json' found";
        let fix = correction(AdapterKind::Codex, error, &cmd).unwrap();
        let fixed = apply(&cmd, &fix);
        assert!(
            fixed.script.contains(" --experimental-json "),
            "{}",
            fixed.script
        );
        assert!(!fixed.script.contains(" --json "));
    }

    #[test]
    fn claude_refusing_root_gets_is_sandbox_and_codex_its_repo_check() {
        let mut cmd = command(AdapterKind::Claude, &[]);
        // The adapter sets IS_SANDBOX already: nothing to fix then.
        assert_eq!(correction(AdapterKind::Claude, ROOT, &cmd), None);
        cmd.env.clear();
        let fix = correction(AdapterKind::Claude, ROOT, &cmd).unwrap();
        assert_eq!(apply(&cmd, &fix).env, [("IS_SANDBOX".into(), "1".into())]);

        let cmd = apply(
            &command(AdapterKind::Codex, &[]),
            &Fix::DropArg("--skip-git-repo-check".into()),
        );
        let error = "Not inside a trusted directory and --skip-git-repo-check was not specified.";
        let fix = correction(AdapterKind::Codex, error, &cmd).unwrap();
        let fixed = apply(&cmd, &fix);
        assert!(
            fixed
                .script
                .starts_with("exec codex exec '--skip-git-repo-check' --json"),
            "{}",
            fixed.script
        );
    }

    #[test]
    fn unknown_failures_and_flags_not_in_the_command_are_left_alone() {
        let cmd = command(AdapterKind::Claude, &[]);
        assert_eq!(
            correction(AdapterKind::Claude, "API Error: 500", &cmd),
            None
        );
        let error = "error: unknown option '--sandbox'";
        assert_eq!(correction(AdapterKind::Claude, error, &cmd), None);
        assert!(Fix::DropArg("--x`y".into()).describe().contains("--x'y"));
    }
}
