//! The `command` adapter: any program that speaks bosun's own line protocol.
//!
//! # Contract for programs run by the command adapter
//!
//! **Start.** bosun runs the configured program (a shell-style word list, e.g.
//! `my-agent --fast "two words"`; quotes are honoured, nothing is expanded) as
//! `exec <program> < "$BOSUN_PROMPT_FILE"` in the container, with the workspace as the
//! current directory. The prompt arrives on **stdin** (UTF-8, read it to EOF); its path is
//! also in the `BOSUN_PROMPT_FILE` environment variable.
//!
//! **Report.** Write one JSON object per line to **stdout** (UTF-8, `\n`-terminated; flush
//! after each line so progress shows live). Recognised lines:
//!
//! | line | meaning |
//! |---|---|
//! | `{"type":"text","text":"…"}` | assistant text (a whole message or a chunk) |
//! | `{"type":"tool_call","id":"…","name":"…","input":…}` | a tool starts; `input` is a string or any JSON value |
//! | `{"type":"tool_result","id":"…","ok":true,"output":"…"}` | that tool finished; `ok` defaults to `true` |
//! | `{"type":"usage","input_tokens":N,"output_tokens":N,"cache_read_tokens":N,"cache_write_tokens":N,"cost_usd":X}` | **running totals** for the whole run so far (not increments); missing token fields count as 0, a missing `cost_usd` means unknown |
//! | `{"type":"error","message":"…"}` | an error worth showing; does not by itself end the run |
//! | `{"type":"result","ok":true,"message":"…","turns":N}` | how the run ended; `message` is the final message on success and the reason on failure; `turns` is optional |
//!
//! Unknown `type`s and unknown fields are ignored, so a program may send more. Any line that
//! is not a JSON object is shown as a log line. stderr is kept for error reports only.
//!
//! **Verdict.** The run succeeded only if the last `result` line has `"ok":true` **and** the
//! program exits 0. No `result` line is a failure (the reason is the last `error` line, or
//! stderr). A deadline or out-of-memory kill is always a failure.

use serde_json::Value;

use super::json::{self, count, float, str_of, Line};
use super::script::{refusal, Script};
use super::shell;
use super::usage::Meter;
use super::verdict::{conclude, ended_early, Draft};
use super::{AgentCommand, AgentEvent, CommandSpec, ExitInfo, Outcome, StreamParser, Usage};

/// `exec <program words> <extra args> < "$BOSUN_PROMPT_FILE"`, every word quoted.
pub(super) fn command(spec: &CommandSpec) -> AgentCommand {
    let words = match spec.program.as_deref().map(shell::split) {
        None => return refusal("the command agent needs a program to run"),
        Some(Err(e)) => return refusal(&format!("the configured program is not valid: {e}")),
        Some(Ok(words)) if words.is_empty() => {
            return refusal("the command agent needs a program to run")
        }
        Some(Ok(words)) => words,
    };
    Script::exec_words(&words)
        .extra(spec)
        .raw("< \"$BOSUN_PROMPT_FILE\"")
        .build(&[])
}

/// What the `result` line said.
struct Finale {
    ok: bool,
    message: String,
    turns: Option<u32>,
}

#[derive(Default)]
pub(super) struct CommandParser {
    meter: Meter,
    finale: Option<Finale>,
    last_text: String,
    last_error: Option<String>,
}

impl StreamParser for CommandParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json::parse_line(line) {
            Line::Blank => return Vec::new(),
            Line::Other(text) => return json::stray(text),
            Line::Object(v) => v,
        };
        let text_field = |key: &str| str_of(&v, key).unwrap_or_default().to_string();
        match str_of(&v, "type") {
            Some("text") => {
                let text = text_field("text");
                if text.is_empty() {
                    return Vec::new();
                }
                self.last_text = text.clone();
                vec![AgentEvent::Text { text }]
            }
            Some("tool_call") => vec![AgentEvent::ToolCall {
                id: text_field("id"),
                name: text_field("name"),
                input: match v.get("input") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => json::compact(other),
                    None => String::new(),
                },
            }],
            Some("tool_result") => vec![AgentEvent::ToolResult {
                id: text_field("id"),
                ok: json::flag(&v, "ok", true),
                output: json::text_of(v.get("output").unwrap_or(&Value::Null)),
            }],
            Some("usage") => self
                .meter
                .set(Usage {
                    input_tokens: count(&v, "input_tokens"),
                    output_tokens: count(&v, "output_tokens"),
                    cache_read_tokens: count(&v, "cache_read_tokens"),
                    cache_write_tokens: count(&v, "cache_write_tokens"),
                    cost_usd: float(&v, "cost_usd"),
                })
                .into_iter()
                .collect(),
            Some("error") => {
                let message = text_field("message");
                self.last_error = Some(message.clone());
                vec![AgentEvent::Error { message }]
            }
            Some("result") => {
                let ok = json::flag(&v, "ok", false);
                let message = text_field("message");
                self.finale = Some(Finale {
                    ok,
                    message: message.clone(),
                    turns: v
                        .get("turns")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok()),
                });
                if ok {
                    Vec::new()
                } else {
                    vec![AgentEvent::Error {
                        message: if message.is_empty() {
                            "the command reported failure".to_string()
                        } else {
                            message
                        },
                    }]
                }
            }
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome {
        let CommandParser {
            meter,
            finale,
            last_text,
            last_error,
        } = *self;
        let last_error = last_error.filter(|e| !e.trim().is_empty());
        let (verdict, final_message, turns) = match finale {
            Some(f) if f.ok => {
                let message = if f.message.is_empty() {
                    last_text
                } else {
                    f.message
                };
                (Ok(()), message, f.turns)
            }
            Some(f) => {
                let reason = if !f.message.trim().is_empty() {
                    f.message
                } else {
                    last_error.unwrap_or_else(|| "the command reported failure".to_string())
                };
                (Err(reason), last_text, f.turns)
            }
            None => {
                let mut reason = ended_early("the command", "a result line", exit);
                if let Some(error) = last_error {
                    reason.push_str(&format!("; last error: {error}"));
                }
                (Err(reason), last_text, None)
            }
        };
        let draft = Draft {
            verdict,
            final_message,
            usage: meter.current(),
            turns,
        };
        conclude("the command", draft, exit)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{exit, notices, run_lines, tool_results};
    use super::super::AdapterKind;
    use super::*;
    use std::process::Command;

    fn spec(program: Option<&str>, extra: &[&str]) -> CommandSpec {
        CommandSpec {
            model: Some("ignored".into()),
            max_turns: Some(1),
            program: program.map(String::from),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn command_line_quotes_every_word() {
        let cmd = command(&spec(
            Some(r#"my-agent --msg "two words" '$HOME'"#),
            &["--x=`id`"],
        ));
        assert_eq!(
            cmd.script,
            "exec 'my-agent' '--msg' 'two words' '$HOME' '--x=`id`' < \"$BOSUN_PROMPT_FILE\""
        );
        assert!(cmd.env.is_empty());
    }

    #[test]
    fn the_script_really_feeds_the_prompt_on_stdin() {
        let dir = std::env::temp_dir().join(format!("bosun-agent-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let prompt = dir.join("prompt.txt");
        std::fs::write(&prompt, "fix 'it' $now\n").expect("write prompt");
        let cmd = command(&spec(Some("sed s/^/got:/"), &[]));
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd.script)
            .env("BOSUN_PROMPT_FILE", &prompt)
            .output()
            .expect("run /bin/sh");
        std::fs::remove_dir_all(&dir).ok();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "got:fix 'it' $now\n");
    }

    #[test]
    fn missing_or_bad_program_yields_a_failing_script() {
        for program in [None, Some("  "), Some("agent 'unclosed")] {
            let cmd = command(&spec(program, &[]));
            assert!(
                cmd.script.contains("exit 64"),
                "{program:?}: {}",
                cmd.script
            );
        }
    }

    #[test]
    fn full_protocol() {
        let lines = [
            "starting up (plain log line)",
            r#"{"type":"text","text":"Looking at the code."}"#,
            r#"{"type":"tool_call","id":"1","name":"shell","input":"cargo test"}"#,
            r#"{"type":"tool_result","id":"1","ok":false,"output":"1 failed"}"#,
            r#"{"type":"tool_call","id":"2","name":"edit","input":{"path":"src/a.rs"}}"#,
            r#"{"type":"tool_result","id":"2","output":"edited"}"#,
            r#"{"type":"usage","input_tokens":100,"output_tokens":20}"#,
            r#"{"type":"usage","input_tokens":100,"output_tokens":20}"#,
            r#"{"type":"usage","input_tokens":250,"output_tokens":40,"cost_usd":0.01}"#,
            r#"{"type":"result","ok":true,"message":"Fixed the test.","turns":3}"#,
        ];
        let (events, out) = run_lines(AdapterKind::Command, &lines, &exit(0));
        assert!(out.ok, "{out:?}");
        assert_eq!(out.final_message, "Fixed the test.");
        assert_eq!(out.turns, Some(3));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 250,
                output_tokens: 40,
                cost_usd: Some(0.01),
                ..Usage::default()
            }
        );
        assert_eq!(notices(&events), ["starting up (plain log line)"]);
        assert_eq!(
            tool_results(&events),
            [("1".to_string(), false), ("2".to_string(), true)]
        );
        assert!(events.contains(&AgentEvent::ToolCall {
            id: "2".into(),
            name: "edit".into(),
            input: r#"{"path":"src/a.rs"}"#.into()
        }));
        let usage_events = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::Usage(_)))
            .count();
        assert_eq!(usage_events, 2, "unchanged totals are not repeated");
    }

    #[test]
    fn result_not_ok_fails_with_its_message_or_last_error() {
        let lines = [r#"{"type":"result","ok":false,"message":"tests still fail"}"#];
        let (_, out) = run_lines(AdapterKind::Command, &lines, &exit(0));
        assert_eq!(out.error.as_deref(), Some("tests still fail"));

        let lines = [
            r#"{"type":"error","message":"rate limited"}"#,
            r#"{"type":"result","ok":false}"#,
        ];
        let (_, out) = run_lines(AdapterKind::Command, &lines, &exit(0));
        assert_eq!(out.error.as_deref(), Some("rate limited"));
    }

    #[test]
    fn no_result_line_fails() {
        let lines = [
            r#"{"type":"text","text":"working"}"#,
            r#"{"type":"error","message":"crashed"}"#,
        ];
        let (_, out) = run_lines(AdapterKind::Command, &lines, &exit(0));
        assert_eq!(
            out.error.as_deref(),
            Some("the command's stream ended without a result line; last error: crashed")
        );
        assert_eq!(out.final_message, "working");
    }

    #[test]
    fn nonzero_exit_fails_despite_ok_result() {
        let lines = [r#"{"type":"result","ok":true,"message":"done"}"#];
        let (_, out) = run_lines(AdapterKind::Command, &lines, &exit(1));
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("the command reported success but exited with code 1")
        );
    }

    #[test]
    fn error_lines_alone_do_not_fail_a_successful_run() {
        let lines = [
            r#"{"type":"error","message":"retrying after 429"}"#,
            r#"{"type":"result","ok":true,"message":"done"}"#,
        ];
        let (events, out) = run_lines(AdapterKind::Command, &lines, &exit(0));
        assert!(out.ok);
        assert!(matches!(&events[0], AgentEvent::Error { .. }));
    }
}
