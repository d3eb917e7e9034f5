//! OpenAI Codex: `codex exec --json`.
//!
//! Traps handled here, each pinned by a test on recorded output:
//! - Success needs a `turn.completed`; `turn.failed` is failure. A stream that just stops
//!   (the no-network case retries forever) is a failure too.
//! - Top-level `error` lines saying "Reconnecting..." are retries, i.e. notices. Other
//!   top-level errors are what the SDK calls unrecoverable, and fail the run.
//! - `error` *items* are non-fatal warnings (for example "Model metadata … not found", which
//!   arrives before `turn.started`): notices.
//! - A `command_execution` with `status:"failed"` or a non-zero `exit_code` is a failed tool.
//! - Items from builds before Oct 2025 use `item_type` instead of `type`, and
//!   `assistant_message` instead of `agent_message` (openai/codex#4525); both are accepted.
//! - No cost is reported, only tokens.
//!
//! Usage: `turn.completed.usage` is per turn, so turns are summed. Codex's `input_tokens`
//! includes cached input (`cached_input_tokens`, `cache_write_input_tokens`), which are
//! subtracted to match [`Usage`]'s convention. `reasoning_output_tokens` is *not* added to
//! `output_tokens`: in OpenAI's accounting reasoning tokens are already part of the output
//! count, so adding them would count them twice.

use serde_json::Value;

use super::json::{self, count, str_of, Line};
use super::script::{refusal, Script};
use super::usage::Meter;
use super::verdict::{conclude, ended_early, Draft};
use super::{AgentCommand, AgentEvent, CommandSpec, ExitInfo, Outcome, StreamParser, Usage};

/// `codex exec --json … - < "$BOSUN_PROMPT_FILE"`.
///
/// `-` makes codex read the prompt from stdin, which is the prompt file, so it can never
/// block on a pipe it inherited. Approvals and the sandbox are bypassed because bosun's
/// container is the sandbox; `--full-auto` is gone from current releases (exit 2) and `-a`
/// is not an `exec` flag, so neither is used. `--skip-git-repo-check` keeps codex working in
/// a workspace that is not (yet) a git repository.
///
/// `--disable plugins -c analytics.enabled=false`: otherwise 0.147.0 (the PyPI capture
/// `codex-noisy`, and `tests/real_cli.rs` through bosun) asks a public git repository for
/// plugins and its vendor's hosts for analytics, which a sandbox refuses: a wait at exit, and
/// refused hosts in the tracking comment.
pub(super) fn command(spec: &CommandSpec) -> AgentCommand {
    let script = match Script::exec("codex", spec) {
        Ok(script) => script,
        Err(e) => return refusal(&e),
    };
    script
        .raw("exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox")
        .raw("--disable plugins -c analytics.enabled=false")
        .opt("-m", spec.model.as_deref())
        .extra(spec)
        .raw("- < \"$BOSUN_PROMPT_FILE\"")
        .build(&[])
}

/// Why a turn that "completed" without its tools failed.
const CODE_MODE_MISSING: &str = "codex's model runs its tools in code mode, which this codex \
     install cannot (no `codex-code-mode-host`), so no tool ran and nothing was changed: give the \
     agent a model with ordinary tools (`gpt-5.5` in `model_map`, or `agent.model` in \
     `.github/bosun.yml`), or install the code-mode host in the agent's image";

/// How the last turn ended.
enum Turn {
    Running,
    Completed,
    Failed(String),
}

#[derive(Default)]
pub(super) struct CodexParser {
    meter: Meter,
    turn: Option<Turn>,
    /// An unrecoverable top-level error.
    fatal: Option<String>,
    /// The last retry notice, quoted if the stream then stops.
    last_retry: Option<String>,
    /// Command items already announced by `item.started`.
    announced: Vec<String>,
    final_message: String,
    /// The model runs its tools in code mode, and this codex cannot: every tool fails closed
    /// while the turn still completes (the PyPI capture `codex-codemode`).
    code_mode_missing: bool,
}

impl StreamParser for CodexParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json::parse_line(line) {
            Line::Blank => return Vec::new(),
            Line::Other(text) => return json::stray(text),
            Line::Object(v) => v,
        };
        match str_of(&v, "type") {
            Some("turn.started") => {
                self.turn = Some(Turn::Running);
                Vec::new()
            }
            Some("turn.completed") => {
                self.turn = Some(Turn::Completed);
                let usage = v.get("usage").map(turn_usage).unwrap_or_default();
                self.meter.add(usage).into_iter().collect()
            }
            Some("turn.failed") => {
                let message = v
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or("codex reported that the turn failed")
                    .to_string();
                self.turn = Some(Turn::Failed(message.clone()));
                vec![AgentEvent::Error { message }]
            }
            Some("error") => self.top_level_error(&v),
            Some("item.started") => self.item_started(&v),
            Some("item.completed") => self.item_completed(&v),
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome {
        let verdict = match (self.turn, self.fatal) {
            (Some(Turn::Failed(message)), _) => Err(message),
            (_, Some(message)) => Err(message),
            (Some(Turn::Completed), None) if self.code_mode_missing => {
                Err(CODE_MODE_MISSING.into())
            }
            (Some(Turn::Completed), None) => Ok(()),
            (_, None) => {
                let mut msg = ended_early("codex", "turn.completed", exit);
                if let Some(retry) = self.last_retry {
                    msg.push_str(&format!("; last notice: {retry}"));
                }
                Err(msg)
            }
        };
        let draft = Draft {
            verdict,
            final_message: self.final_message,
            usage: self.meter.current(),
            turns: None,
        };
        conclude("codex", draft, exit)
    }
}

impl CodexParser {
    fn top_level_error(&mut self, v: &Value) -> Vec<AgentEvent> {
        let message = str_of(v, "message").unwrap_or_default().to_string();
        if message.starts_with("Reconnecting") {
            self.last_retry = Some(message.clone());
            vec![AgentEvent::Notice { message }]
        } else {
            let message = if message.trim().is_empty() {
                "codex reported an error without a message".to_string()
            } else {
                message
            };
            self.fatal = Some(message.clone());
            vec![AgentEvent::Error { message }]
        }
    }

    fn item_started(&mut self, v: &Value) -> Vec<AgentEvent> {
        let item = v.get("item").unwrap_or(&Value::Null);
        match item_type(item) {
            "command_execution" => {
                let id = str_of(item, "id").unwrap_or_default().to_string();
                self.announced.push(id.clone());
                vec![command_call(id, item)]
            }
            _ => Vec::new(),
        }
    }

    fn item_completed(&mut self, v: &Value) -> Vec<AgentEvent> {
        let item = v.get("item").unwrap_or(&Value::Null);
        let id = str_of(item, "id").unwrap_or_default().to_string();
        let status = str_of(item, "status").unwrap_or_default();
        let status_ok = !matches!(status, "failed" | "declined");
        match item_type(item) {
            "agent_message" | "assistant_message" => {
                let text = str_of(item, "text").unwrap_or_default().to_string();
                if text.is_empty() {
                    return Vec::new();
                }
                self.final_message = text.clone();
                vec![AgentEvent::Text { text }]
            }
            "error" => {
                let message = str_of(item, "message").unwrap_or_default().to_string();
                if message.contains("Code Mode is unavailable") {
                    self.code_mode_missing = true;
                }
                vec![AgentEvent::Notice { message }]
            }
            "command_execution" => {
                let mut events = Vec::new();
                if !self.announced.contains(&id) {
                    events.push(command_call(id.clone(), item));
                }
                let exit_ok = item
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .is_none_or(|code| code == 0);
                events.push(AgentEvent::ToolResult {
                    id,
                    ok: status_ok && exit_ok,
                    output: str_of(item, "aggregated_output")
                        .unwrap_or_default()
                        .to_string(),
                });
                events
            }
            "file_change" => tool_pair(
                id,
                "file_change",
                json::compact(item.get("changes").unwrap_or(&Value::Null)),
                status_ok,
                String::new(),
            ),
            "mcp_tool_call" => {
                let name = format!(
                    "{}.{}",
                    str_of(item, "server").unwrap_or("mcp"),
                    str_of(item, "tool").unwrap_or("tool")
                );
                let error = item.get("error").filter(|e| !e.is_null());
                let output = match error {
                    Some(e) => str_of(e, "message").map_or_else(|| json::text_of(e), String::from),
                    None => json::text_of(item.get("result").unwrap_or(&Value::Null)),
                };
                tool_pair(
                    id,
                    &name,
                    json::compact(item.get("arguments").unwrap_or(&Value::Null)),
                    status_ok && error.is_none(),
                    output,
                )
            }
            "web_search" => tool_pair(
                id,
                "web_search",
                str_of(item, "query").unwrap_or_default().to_string(),
                status_ok,
                String::new(),
            ),
            // reasoning, todo_list and future item types: nothing to report.
            _ => Vec::new(),
        }
    }
}

/// The item's type, under either spelling of the key.
fn item_type(item: &Value) -> &str {
    str_of(item, "type")
        .or_else(|| str_of(item, "item_type"))
        .unwrap_or_default()
}

fn command_call(id: String, item: &Value) -> AgentEvent {
    AgentEvent::ToolCall {
        id,
        name: "shell".to_string(),
        input: str_of(item, "command").unwrap_or_default().to_string(),
    }
}

/// Items reported only once finished: the call and its result together.
fn tool_pair(id: String, name: &str, input: String, ok: bool, output: String) -> Vec<AgentEvent> {
    vec![
        AgentEvent::ToolCall {
            id: id.clone(),
            name: name.to_string(),
            input,
        },
        AgentEvent::ToolResult { id, ok, output },
    ]
}

fn turn_usage(u: &Value) -> Usage {
    let cache_read = count(u, "cached_input_tokens");
    let cache_write = count(u, "cache_write_input_tokens");
    Usage {
        input_tokens: count(u, "input_tokens")
            .saturating_sub(cache_read)
            .saturating_sub(cache_write),
        output_tokens: count(u, "output_tokens"),
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        cost_usd: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{exit, notices, read, run_fixture, run_lines, tool_results};
    use super::super::AdapterKind;
    use super::*;

    const DIR: &str = "codex/captured-0.169.0-loopback";
    const OLD: &str = "codex/jnarowski-agentcmd-exec-json";

    fn run(file: &str, code: i64) -> (Vec<AgentEvent>, Outcome) {
        run_fixture(AdapterKind::Codex, &format!("{DIR}/{file}"), code)
    }

    #[test]
    fn command_line() {
        let cmd = command(&CommandSpec {
            model: Some("gpt-5-codex".into()),
            max_turns: Some(3),
            program: None,
            extra_args: vec!["-c".into(), "model_reasoning_effort=\"high\"".into()],
        });
        assert_eq!(
            cmd.script,
            "exec codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
             --disable plugins -c analytics.enabled=false \
             -m 'gpt-5-codex' '-c' 'model_reasoning_effort=\"high\"' - < \"$BOSUN_PROMPT_FILE\""
        );
        assert!(!cmd.script.contains("--full-auto"));
        assert!(!cmd.script.contains(" -a "));
        assert!(cmd.env.is_empty());
    }

    #[test]
    fn simple_success_with_warning_item_before_turn() {
        let (events, out) = run("codex-simple.jsonl", 0);
        assert!(out.ok, "{out:?}");
        assert_eq!(out.final_message, "Hello from the loopback mock.");
        let notices = notices(&events);
        assert_eq!(notices.len(), 1);
        assert!(notices[0].starts_with("Model metadata for `gpt-5-codex` not found"));
        assert!(!events.iter().any(|e| matches!(e, AgentEvent::Error { .. })));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 176,
                output_tokens: 25,
                cache_read_tokens: 1024,
                cache_write_tokens: 0,
                cost_usd: None,
            }
        );
    }

    #[test]
    fn failed_command_is_not_ok() {
        let (events, out) = run("codex-tool-fail.jsonl", 0);
        assert!(out.ok);
        assert_eq!(tool_results(&events), [("item_1".to_string(), false)]);
        assert!(events.contains(&AgentEvent::ToolCall {
            id: "item_1".into(),
            name: "shell".into(),
            input: "/bin/bash -lc 'ls /nonexistent-dir-mock'".into(),
        }));
        let (events, _) = run("codex-tool-bypass.jsonl", 0);
        assert_eq!(tool_results(&events), [("item_1".to_string(), true)]);
    }

    #[test]
    fn nonzero_exit_code_alone_fails_a_command() {
        let line = r#"{"type":"item.completed","item":{"id":"i","type":"command_execution","command":"false","aggregated_output":"","exit_code":1,"status":"completed"}}"#;
        let (events, _) = run_lines(AdapterKind::Codex, &[line], &exit(0));
        assert_eq!(tool_results(&events), [("i".to_string(), false)]);
        // Announced once even without item.started.
        let calls = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::ToolCall { .. }))
            .count();
        assert_eq!(calls, 1);
    }

    #[test]
    fn invalid_key_retries_are_notices_and_turn_failed_fails() {
        let (events, out) = run("codex-invalid-key.jsonl", 1);
        assert!(!out.ok);
        assert_eq!(notices(&events).len(), 5);
        assert_eq!(
            out.error.as_deref(),
            Some("unexpected status 401 Unauthorized: Incorrect API key provided: mock-invalid., url: http://127.0.0.1:18080/v1/responses")
        );
    }

    #[test]
    fn endless_reconnects_without_turn_completed_fail() {
        let (events, out) = run("codex-conn-refused.jsonl", 124);
        assert!(!out.ok);
        assert_eq!(notices(&events).len(), 12);
        assert_eq!(
            out.error.as_deref(),
            Some("codex's stream ended without turn.completed (exit code 124); last notice: Reconnecting... waiting for network (Connection failed: error sending request)")
        );
    }

    #[test]
    fn last_message_matches_output_last_message_file() {
        let (_, out) = run("codex-output-last.jsonl", 0);
        let want = read(&format!("{DIR}/codex-output-last.last-message.txt"));
        assert_eq!(out.final_message, want.trim_end());
    }

    #[test]
    fn old_release_output_parses() {
        let (events, out) = run_fixture(
            AdapterKind::Codex,
            &format!("{OLD}/stream-output-2.jsonl"),
            0,
        );
        assert!(out.ok);
        assert_eq!(
            out.final_message,
            "Files here: `stream-output-1.jsonl`, `stream-output-2.jsonl`, `test.js`."
        );
        assert_eq!(tool_results(&events), [("item_1".to_string(), true)]);
        assert_eq!(out.usage.input_tokens, 6040 - 4992);
        assert_eq!(out.usage.cache_read_tokens, 4992);
        assert_eq!(out.usage.output_tokens, 129);
    }

    #[test]
    fn truncated_old_capture_fails() {
        let (_, out) = run_fixture(
            AdapterKind::Codex,
            &format!("{OLD}/stream-output-multi-1.jsonl"),
            0,
        );
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("codex's stream ended without turn.completed")
        );
    }

    #[test]
    fn item_type_and_assistant_message_spellings() {
        let lines = [
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","item_type":"reasoning","text":"**thinking**"}}"#,
            r#"{"type":"item.started","item":{"id":"item_1","item_type":"mcp_tool_call","server":"github","tool":"search_issues","status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","item_type":"mcp_tool_call","server":"github","tool":"search_issues","status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_3","item_type":"assistant_message","text":"Assigned issues: none"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":2}}"#,
        ];
        let (events, out) = run_lines(AdapterKind::Codex, &lines, &exit(0));
        assert!(out.ok);
        assert_eq!(out.final_message, "Assigned issues: none");
        assert!(events.contains(&AgentEvent::ToolCall {
            id: "item_1".into(),
            name: "github.search_issues".into(),
            input: "null".into(),
        }));
        assert_eq!(tool_results(&events), [("item_1".to_string(), true)]);
    }

    #[test]
    fn fatal_top_level_error_fails_even_without_turn_failed() {
        let lines = [
            r#"{"type":"turn.started"}"#,
            r#"{"type":"error","message":"stream disconnected before completion"}"#,
        ];
        let (_, out) = run_lines(AdapterKind::Codex, &lines, &exit(1));
        assert_eq!(
            out.error.as_deref(),
            Some("stream disconnected before completion")
        );
    }

    #[test]
    fn turns_are_summed() {
        let done = r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"cache_write_input_tokens":10,"output_tokens":5,"reasoning_output_tokens":3}}"#;
        let (_, out) = run_lines(AdapterKind::Codex, &[done, done], &exit(0));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 100,
                output_tokens: 10,
                cache_read_tokens: 80,
                cache_write_tokens: 20,
                cost_usd: None,
            }
        );
    }
}
