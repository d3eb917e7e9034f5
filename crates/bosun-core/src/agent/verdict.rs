//! The verdict rules shared by every adapter.
//!
//! Each parser decides what its stream says (success, or failure and why). This module then
//! applies what the process itself says, in one order for all CLIs:
//! 1. a deadline or out-of-memory kill fails the run whatever the stream claimed, because a
//!    killed agent may have been cut off mid-change;
//! 2. otherwise a failure reported by the stream stands;
//! 3. otherwise a non-zero (or unknown) exit code fails the run: a CLI that printed a
//!    success line and then exited badly did not finish cleanly, and bosun would rather ask
//!    a human than push half a change.

use super::cap::{cap, ERROR_MAX, FINAL_MESSAGE_MAX};
use super::{stderr, ExitInfo, Outcome, Usage};

pub(super) const DEADLINE: &str = "the agent ran past its deadline";
pub(super) const OUT_OF_MEMORY: &str = "the agent was killed for running out of memory";

/// What a parser knows when the stream has ended.
pub(super) struct Draft {
    /// `Err` carries the reason, already worded for humans.
    pub verdict: Result<(), String>,
    pub final_message: String,
    pub usage: Usage,
    pub turns: Option<u32>,
}

/// Combines a parser's draft with how the process ended. `agent` names the CLI in errors.
pub(super) fn conclude(agent: &str, draft: Draft, exit: &ExitInfo) -> Outcome {
    let error = if exit.timed_out {
        Some(DEADLINE.to_string())
    } else if exit.oom_killed {
        Some(OUT_OF_MEMORY.to_string())
    } else {
        match draft.verdict {
            Err(reason) if reason.trim().is_empty() => Some(format!("{agent} failed")),
            Err(reason) => Some(reason),
            Ok(()) => bad_exit(agent, exit),
        }
    };
    Outcome {
        ok: error.is_none(),
        final_message: cap(draft.final_message, FINAL_MESSAGE_MAX),
        usage: draft.usage,
        error: error.map(|e| cap(e, ERROR_MAX)),
        turns: draft.turns,
    }
}

fn bad_exit(agent: &str, exit: &ExitInfo) -> Option<String> {
    match exit.code {
        Some(0) => None,
        Some(code) => Some(format!(
            "{agent} reported success but exited with code {code}{}",
            stderr_suffix(exit)
        )),
        None => Some(format!(
            "{agent} reported success but its exit code is unknown{}",
            stderr_suffix(exit)
        )),
    }
}

/// The error for a stream that stopped before saying how the run ended, e.g.
/// "claude's stream ended without a result line (exit code 1); stderr: …".
pub(super) fn ended_early(agent: &str, missing: &str, exit: &ExitInfo) -> String {
    let mut msg = format!("{agent}'s stream ended without {missing}");
    if let Some(code) = exit.code.filter(|c| *c != 0) {
        msg.push_str(&format!(" (exit code {code})"));
    }
    msg.push_str(&stderr_suffix(exit));
    msg
}

/// Appends " (exit code N)" to a message when the exit code is known and non-zero.
pub(super) fn with_exit_code(msg: String, exit: &ExitInfo) -> String {
    match exit.code {
        Some(code) if code != 0 => format!("{msg} (exit code {code})"),
        _ => msg,
    }
}

fn stderr_suffix(exit: &ExitInfo) -> String {
    match stderr::hint(&exit.stderr_tail) {
        Some(line) => format!("; stderr: {line}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(verdict: Result<(), String>) -> Draft {
        Draft {
            verdict,
            final_message: "done".into(),
            usage: Usage::default(),
            turns: Some(2),
        }
    }

    fn exit(code: Option<i64>) -> ExitInfo {
        ExitInfo {
            code,
            ..ExitInfo::default()
        }
    }

    #[test]
    fn clean_success() {
        let out = conclude("x", draft(Ok(())), &exit(Some(0)));
        assert!(out.ok);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message, "done");
        assert_eq!(out.turns, Some(2));
    }

    #[test]
    fn kills_override_a_successful_stream() {
        let timed_out = ExitInfo {
            timed_out: true,
            ..exit(Some(0))
        };
        let out = conclude("x", draft(Ok(())), &timed_out);
        assert!(!out.ok);
        assert_eq!(out.error.as_deref(), Some(DEADLINE));

        let oom = ExitInfo {
            oom_killed: true,
            ..exit(Some(137))
        };
        let out = conclude("x", draft(Err("stream said no".into())), &oom);
        assert_eq!(out.error.as_deref(), Some(OUT_OF_MEMORY));
    }

    #[test]
    fn success_with_bad_exit_fails() {
        let mut e = exit(Some(3));
        e.stderr_tail = "Error: disk full\n".into();
        let out = conclude("claude", draft(Ok(())), &e);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("claude reported success but exited with code 3; stderr: Error: disk full")
        );
        let out = conclude("claude", draft(Ok(())), &exit(None));
        assert!(out.error.unwrap().contains("exit code is unknown"));
    }

    #[test]
    fn stream_failure_stands_and_empty_reasons_get_words() {
        let out = conclude("x", draft(Err("boom".into())), &exit(Some(0)));
        assert_eq!(out.error.as_deref(), Some("boom"));
        let out = conclude("x", draft(Err(" ".into())), &exit(Some(1)));
        assert_eq!(out.error.as_deref(), Some("x failed"));
    }

    #[test]
    fn long_text_is_capped() {
        let mut d = draft(Err("e".repeat(10_000)));
        d.final_message = "m".repeat(100_000);
        let out = conclude("x", d, &exit(Some(1)));
        assert!(out.error.unwrap().len() <= ERROR_MAX);
        assert!(out.final_message.len() <= FINAL_MESSAGE_MAX);
    }

    #[test]
    fn ended_early_mentions_code_and_stderr() {
        let mut e = exit(Some(2));
        e.stderr_tail =
            "error: unexpected argument '--full-auto' found\n\nUsage: codex exec\n".into();
        assert_eq!(
            ended_early("codex", "turn.completed", &e),
            "codex's stream ended without turn.completed (exit code 2); stderr: error: unexpected argument '--full-auto' found"
        );
        assert_eq!(
            ended_early("codex", "turn.completed", &exit(Some(0))),
            "codex's stream ended without turn.completed"
        );
    }
}
