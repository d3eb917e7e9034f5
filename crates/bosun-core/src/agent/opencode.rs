//! OpenCode: `opencode run --format json`.
//!
//! Traps handled here, each pinned by a test on recorded output:
//! - A failed shell command is `state.status:"completed"` with `state.metadata.exit` ≠ 0;
//!   only the exit code shows the failure.
//! - Tokens and cost are reported per step (`step_finish`), so they are summed.
//! - API failures are a lone `error` line (`error.data.message`) and exit 1; there is no
//!   closing line on success either, so success means: some step finished with reason
//!   `stop`, and no `error` line came.
//!
//! Usage: `tokens.input` already excludes cache reads and writes. `tokens.reasoning` is
//! reported apart from `tokens.output` (OpenCode prices the two separately), so both go into
//! [`Usage::output_tokens`].

use serde_json::Value;

use super::json::{self, count, float, str_of, Line};
use super::script::{refusal, Script};
use super::usage::Meter;
use super::verdict::{conclude, ended_early, Draft};
use super::{AgentCommand, AgentEvent, CommandSpec, ExitInfo, Outcome, StreamParser, Usage};

/// `opencode run --format json --auto "$(cat "$BOSUN_PROMPT_FILE")" < /dev/null`.
///
/// `--auto` approves every permission not explicitly denied: the container is the sandbox.
/// The prompt is the positional message; stdin is `/dev/null` so nothing can block.
pub(super) fn command(spec: &CommandSpec) -> AgentCommand {
    let script = match Script::exec("opencode", spec) {
        Ok(script) => script,
        Err(e) => return refusal(&e),
    };
    script
        .raw("run --format json --auto")
        .opt("-m", spec.model.as_deref())
        .extra(spec)
        .raw("\"$(cat \"$BOSUN_PROMPT_FILE\")\" < /dev/null")
        .build(&[])
}

#[derive(Default)]
pub(super) struct OpenCodeParser {
    meter: Meter,
    steps: u32,
    stopped: bool,
    last_reason: Option<String>,
    error: Option<String>,
    final_message: String,
}

impl StreamParser for OpenCodeParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json::parse_line(line) {
            Line::Blank => return Vec::new(),
            Line::Other(text) => return json::stray(text),
            Line::Object(v) => v,
        };
        let part = v.get("part").unwrap_or(&Value::Null);
        match str_of(&v, "type") {
            Some("text") => {
                let text = str_of(part, "text").unwrap_or_default().to_string();
                if text.is_empty() {
                    return Vec::new();
                }
                self.final_message = text.clone();
                vec![AgentEvent::Text { text }]
            }
            Some("tool_use") => tool_use(part),
            Some("step_finish") => self.step_finish(part),
            Some("error") => {
                let message = error_message(v.get("error").unwrap_or(&Value::Null));
                self.error = Some(message.clone());
                vec![AgentEvent::Error { message }]
            }
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome {
        let verdict = match (self.error, self.stopped) {
            (Some(error), _) => Err(error),
            (None, true) => Ok(()),
            (None, false) => {
                let missing = match &self.last_reason {
                    Some(reason) => {
                        format!("a step finishing with reason stop (last reason: {reason})")
                    }
                    None => "a finished step".to_string(),
                };
                Err(ended_early("opencode", &missing, exit))
            }
        };
        let draft = Draft {
            verdict,
            final_message: self.final_message,
            usage: self.meter.current(),
            turns: (self.steps > 0).then_some(self.steps),
        };
        conclude("opencode", draft, exit)
    }
}

impl OpenCodeParser {
    fn step_finish(&mut self, part: &Value) -> Vec<AgentEvent> {
        self.steps = self.steps.saturating_add(1);
        let reason = str_of(part, "reason").unwrap_or_default();
        if reason == "stop" {
            self.stopped = true;
        }
        self.last_reason = Some(reason.to_string());
        let tokens = part.get("tokens").unwrap_or(&Value::Null);
        let cache = tokens.get("cache").unwrap_or(&Value::Null);
        let step = Usage {
            input_tokens: count(tokens, "input"),
            output_tokens: count(tokens, "output").saturating_add(count(tokens, "reasoning")),
            cache_read_tokens: count(cache, "read"),
            cache_write_tokens: count(cache, "write"),
            cost_usd: float(part, "cost"),
        };
        self.meter.add(step).into_iter().collect()
    }
}

/// A finished (or failed) tool: OpenCode reports it once, with input and output together.
fn tool_use(part: &Value) -> Vec<AgentEvent> {
    let id = str_of(part, "callID")
        .or_else(|| str_of(part, "id"))
        .unwrap_or_default()
        .to_string();
    let state = part.get("state").unwrap_or(&Value::Null);
    let mut events = vec![AgentEvent::ToolCall {
        id: id.clone(),
        name: str_of(part, "tool").unwrap_or_default().to_string(),
        input: json::compact(state.get("input").unwrap_or(&Value::Null)),
    }];
    let status = str_of(state, "status").unwrap_or_default();
    if matches!(status, "completed" | "error") {
        let exit_ok = state
            .pointer("/metadata/exit")
            .and_then(Value::as_i64)
            .is_none_or(|code| code == 0);
        let output = str_of(state, "output")
            .or_else(|| str_of(state, "error"))
            .unwrap_or_default()
            .to_string();
        events.push(AgentEvent::ToolResult {
            id,
            ok: status == "completed" && exit_ok,
            output,
        });
    }
    events
}

fn error_message(error: &Value) -> String {
    [
        error.pointer("/data/message"),
        error.get("message"),
        error.get("name"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    .find(|m| !m.trim().is_empty())
    .unwrap_or("opencode reported an error without a message")
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{exit, last_usage, run_fixture, run_lines, tool_results};
    use super::super::AdapterKind;
    use super::*;

    const DIR: &str = "opencode/captured-1.18.33-loopback";

    fn run(file: &str, code: i64) -> (Vec<AgentEvent>, Outcome) {
        run_fixture(AdapterKind::OpenCode, &format!("{DIR}/{file}"), code)
    }

    #[test]
    fn command_line() {
        let cmd = command(&CommandSpec {
            model: Some("anthropic/claude-sonnet-4-5".into()),
            max_turns: Some(4),
            program: None,
            extra_args: vec!["--pure".into()],
        });
        assert_eq!(
            cmd.script,
            "exec opencode run --format json --auto -m 'anthropic/claude-sonnet-4-5' '--pure' \
             \"$(cat \"$BOSUN_PROMPT_FILE\")\" < /dev/null"
        );
    }

    #[test]
    fn simple_success() {
        let (events, out) = run("opencode-simple.jsonl", 0);
        assert!(out.ok, "{out:?}");
        assert_eq!(out.final_message, "Hello from the loopback mock.");
        assert_eq!(out.turns, Some(1));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 9,
                cost_usd: Some(0.000495),
                ..Usage::default()
            }
        );
        assert_eq!(last_usage(&events), Some(out.usage));
    }

    #[test]
    fn steps_accumulate_tokens_and_cost() {
        let (events, out) = run("opencode-tool.jsonl", 0);
        assert!(out.ok);
        assert_eq!(out.turns, Some(2));
        assert_eq!(out.usage.input_tokens, 240);
        assert_eq!(out.usage.output_tokens, 18);
        let cost = out.usage.cost_usd.unwrap();
        assert!((cost - 0.00099).abs() < 1e-12, "{cost}");
        let usage_events = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::Usage(_)))
            .count();
        assert_eq!(usage_events, 2);
        assert_eq!(
            out.final_message,
            "Done: the command printed hello-from-mock."
        );
    }

    #[test]
    fn completed_tool_with_nonzero_exit_is_not_ok() {
        let (events, out) = run("opencode-tool-fail.jsonl", 0);
        assert!(out.ok);
        assert_eq!(
            tool_results(&events),
            [("toolu_mock0008".to_string(), false)]
        );
        let (events, _) = run("opencode-tool-auto.jsonl", 0);
        assert_eq!(
            tool_results(&events),
            [("toolu_mock0005".to_string(), true)]
        );
        assert!(events.contains(&AgentEvent::ToolCall {
            id: "toolu_mock0005".into(),
            name: "bash".into(),
            input: r#"{"command":"echo hello-from-mock","description":"Print a greeting"}"#.into(),
        }));
    }

    #[test]
    fn error_line_fails_with_its_message() {
        let (events, out) = run("opencode-invalid-key.jsonl", 1);
        assert!(!out.ok);
        assert_eq!(out.error.as_deref(), Some("invalid x-api-key"));
        assert_eq!(
            events,
            [AgentEvent::Error {
                message: "invalid x-api-key".into()
            }]
        );
        let (_, out) = run("opencode-conn-refused.jsonl", 1);
        assert_eq!(
            out.error.as_deref(),
            Some(
                "Cannot connect to API: Unable to connect. Is the computer able to access the url?"
            )
        );
    }

    #[test]
    fn error_after_a_stop_still_fails() {
        let text = super::super::testutil::read(&format!("{DIR}/opencode-simple.jsonl"));
        let mut lines: Vec<&str> = text.lines().collect();
        lines.push(r#"{"type":"error","error":{"name":"UnknownError","data":{"message":"boom"}}}"#);
        let (_, out) = run_lines(AdapterKind::OpenCode, &lines, &exit(0));
        assert_eq!(out.error.as_deref(), Some("boom"));
    }

    #[test]
    fn stream_cut_before_stop_fails() {
        let text = super::super::testutil::read(&format!("{DIR}/opencode-tool.jsonl"));
        let lines: Vec<&str> = text.lines().take(3).collect();
        let (_, out) = run_lines(AdapterKind::OpenCode, &lines, &exit(137));
        assert_eq!(
            out.error.as_deref(),
            Some("opencode's stream ended without a step finishing with reason stop (last reason: tool-calls) (exit code 137)")
        );
    }

    #[test]
    fn tool_error_state_is_not_ok() {
        let line = r#"{"type":"tool_use","part":{"type":"tool","tool":"edit","callID":"c1","state":{"status":"error","input":{"filePath":"x"},"error":"File x not found"}}}"#;
        let (events, _) = run_lines(AdapterKind::OpenCode, &[line], &exit(0));
        assert_eq!(
            events[1],
            AgentEvent::ToolResult {
                id: "c1".into(),
                ok: false,
                output: "File x not found".into()
            }
        );
    }

    #[test]
    fn reasoning_counts_as_output() {
        let line = r#"{"type":"step_finish","part":{"reason":"stop","tokens":{"input":5,"output":2,"reasoning":3,"cache":{"read":7,"write":1}},"cost":0}}"#;
        let (_, out) = run_lines(AdapterKind::OpenCode, &[line], &exit(0));
        assert!(out.ok);
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 5,
                output_tokens: 5,
                cache_read_tokens: 7,
                cache_write_tokens: 1,
                cost_usd: Some(0.0),
            }
        );
    }
}
