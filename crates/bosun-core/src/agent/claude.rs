//! Claude Code: `claude -p --output-format stream-json --verbose`.
//!
//! Traps handled here, each pinned by a test on recorded output:
//! - An API failure (bad key, no network) ends with `subtype:"success"` **and**
//!   `is_error:true`; the `result` text is the error.
//! - `error_max_turns` (and the other `error_*` subtypes) fail; their `errors[]` may be empty.
//! - The `result` line can be missing altogether (claude-agent-sdk-typescript#427): no result
//!   line means failure.
//! - `system/api_retry` lines come before a slow failure (about three minutes of them); they
//!   become notices so the wait is visible.
//! - Cost is `total_cost_usd` in current releases and `cost_usd` in older ones.
//! - A blocked or failed tool has `is_error:true` on its `tool_result`, while the run itself
//!   still succeeds.
//! - Most result fields are optional (claude-code-action's own sample has four).
//!
//! `stream_event` lines (only with `--include-partial-messages`, which bosun does not pass)
//! are ignored: the complete `assistant` message always follows them, so reading both would
//! show every text twice.

use serde_json::Value;

use super::json::{self, count, float, str_of, Line};
use super::script::{refusal, Script};
use super::usage::Meter;
use super::verdict::{conclude, ended_early, Draft};
use super::{AgentCommand, AgentEvent, CommandSpec, ExitInfo, Outcome, StreamParser, Usage};

/// `claude -p … < "$BOSUN_PROMPT_FILE"`, with `IS_SANDBOX=1` and the vendor's own traffic off.
///
/// `--verbose` is required: without it stream-json exits 1 at once. The container runs as
/// root, where `--dangerously-skip-permissions` is refused unless `IS_SANDBOX=1` says the
/// environment is already a sandbox (which bosun's container is).
///
/// `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` and `DISABLE_AUTOUPDATER=1`: otherwise 2.1.332
/// (the PyPI capture `claude-noisy`, and `tests/real_cli.rs` through bosun) looks up and calls
/// its vendor's host besides the model API, which a sandbox refuses: seconds lost on every
/// run, and a refused host in the tracking comment.
pub(super) fn command(spec: &CommandSpec) -> AgentCommand {
    let script = match Script::exec("claude", spec) {
        Ok(script) => script,
        Err(e) => return refusal(&e),
    };
    let max_turns = spec.max_turns.map(|n| n.to_string());
    script
        .raw("-p --output-format stream-json --verbose --dangerously-skip-permissions")
        .opt("--model", spec.model.as_deref())
        .opt("--max-turns", max_turns.as_deref())
        .extra(spec)
        .raw("< \"$BOSUN_PROMPT_FILE\"")
        .build(&ENV)
}

/// What every Claude Code run is given.
const ENV: [(&str, &str); 3] = [
    ("IS_SANDBOX", "1"),
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
];

/// What the `result` line said.
struct Finale {
    verdict: Result<(), String>,
    text: String,
    turns: Option<u32>,
}

#[derive(Default)]
pub(super) struct ClaudeParser {
    meter: Meter,
    /// Usage per API message id. Claude repeats a message's usage on every line that carries
    /// one of its content blocks, so summing lines would count a message several times.
    per_message: Vec<(String, Usage)>,
    /// Usage from assistant lines without a message id (hand-written samples).
    anonymous: Usage,
    last_text: String,
    finale: Option<Finale>,
}

impl StreamParser for ClaudeParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json::parse_line(line) {
            Line::Blank => return Vec::new(),
            Line::Other(text) => return json::stray(text),
            Line::Object(v) => v,
        };
        match str_of(&v, "type") {
            Some("assistant") => self.assistant(&v),
            Some("user") => tool_results(&v),
            Some("system") => system(&v),
            Some("result") => self.result(&v),
            _ => Vec::new(),
        }
    }

    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome {
        let usage = self.meter.current();
        let draft = match self.finale {
            Some(f) => Draft {
                final_message: if f.verdict.is_ok() && !f.text.is_empty() {
                    f.text
                } else {
                    self.last_text
                },
                verdict: f.verdict,
                usage,
                turns: f.turns,
            },
            None => Draft {
                verdict: Err(ended_early("claude", "a result line", exit)),
                final_message: self.last_text,
                usage,
                turns: None,
            },
        };
        conclude("claude", draft, exit)
    }
}

impl ClaudeParser {
    fn assistant(&mut self, v: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let message = v.get("message").unwrap_or(&Value::Null);
        // Claude marks the stand-in message it writes for a failed API call with a
        // top-level `error` (and model "<synthetic>"): its text is an error, not an answer.
        let synthetic_error = str_of(v, "error").is_some();
        let mut texts = Vec::new();
        for block in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match str_of(block, "type") {
                Some("text") => {
                    let text = str_of(block, "text").unwrap_or_default();
                    if text.is_empty() {
                        continue;
                    }
                    texts.push(text);
                    events.push(if synthetic_error {
                        AgentEvent::Error {
                            message: text.to_string(),
                        }
                    } else {
                        AgentEvent::Text {
                            text: text.to_string(),
                        }
                    });
                }
                Some("tool_use") => events.push(AgentEvent::ToolCall {
                    id: str_of(block, "id").unwrap_or_default().to_string(),
                    name: str_of(block, "name").unwrap_or_default().to_string(),
                    input: json::compact(block.get("input").unwrap_or(&Value::Null)),
                }),
                _ => {}
            }
        }
        // Sub-agent messages (`parent_tool_use_id` set) are the main agent's tool output,
        // not its answer, so they never become the final message.
        let top_level = v.get("parent_tool_use_id").is_none_or(Value::is_null);
        if !texts.is_empty() && !synthetic_error && top_level {
            self.last_text = texts.join("\n");
        }
        if let Some(u) = message.get("usage").filter(|u| u.is_object()) {
            let usage = api_usage(u);
            match str_of(message, "id") {
                Some(id) => match self.per_message.iter_mut().find(|(known, _)| known == id) {
                    Some((_, known)) => *known = usage,
                    None => self.per_message.push((id.to_string(), usage)),
                },
                None => self.anonymous = self.anonymous.plus(usage),
            }
            let total = self
                .per_message
                .iter()
                .fold(self.anonymous, |sum, (_, u)| sum.plus(*u));
            events.extend(self.meter.set(total));
        }
        events
    }

    fn result(&mut self, v: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let subtype = str_of(v, "subtype").unwrap_or("success");
        let text = str_of(v, "result").unwrap_or_default().to_string();
        let failed = json::flag(v, "is_error", false) || subtype.starts_with("error");
        let verdict = if failed {
            let reason = failure_reason(v, subtype, &text);
            events.push(AgentEvent::Error {
                message: reason.clone(),
            });
            Err(reason)
        } else {
            if let Some(reason) = str_of(v, "terminal_reason").filter(|r| *r != "completed") {
                events.push(AgentEvent::Notice {
                    message: format!("claude stopped early ({reason}) but reported success"),
                });
            }
            Ok(())
        };
        // The result's totals cover every API call, including ones no assistant line showed
        // (other models, retries), so they replace the running sum.
        let mut totals = result_usage(v).unwrap_or_else(|| self.meter.current());
        if let Some(cost) = float(v, "total_cost_usd").or_else(|| float(v, "cost_usd")) {
            totals.cost_usd = Some(cost);
        }
        events.extend(self.meter.set(totals));
        self.finale = Some(Finale {
            verdict,
            text,
            turns: v
                .get("num_turns")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
        });
        events
    }
}

/// Words for a failed result: its `errors[]`, else its `result` text, else the subtype.
fn failure_reason(v: &Value, subtype: &str, text: &str) -> String {
    let errors: Vec<&str> = v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|e| !e.trim().is_empty())
        .collect();
    let detail = if !errors.is_empty() {
        errors.join("; ")
    } else {
        text.trim().to_string()
    };
    let what = match subtype {
        "success" => return non_empty(detail, "claude reported an error without a message"),
        "error_max_turns" => "claude reached its turn limit",
        "error_max_budget_usd" => "claude reached its budget limit",
        "error_during_execution" => "claude failed during execution",
        "error_max_structured_output_retries" => "claude could not produce the requested output",
        other => return non_empty(detail, &format!("claude ended with {other}")),
    };
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

/// Tokens of one Messages API `usage` object.
fn api_usage(u: &Value) -> Usage {
    Usage {
        input_tokens: count(u, "input_tokens"),
        output_tokens: count(u, "output_tokens"),
        cache_read_tokens: count(u, "cache_read_input_tokens"),
        cache_write_tokens: count(u, "cache_creation_input_tokens"),
        cost_usd: None,
    }
}

/// The result's token totals. `modelUsage` (per model, camelCase) is preferred because it
/// also counts models other than the main one; `usage` is the fallback.
fn result_usage(v: &Value) -> Option<Usage> {
    let per_model = v
        .get("modelUsage")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    if let Some(models) = per_model {
        return Some(models.values().fold(Usage::default(), |sum, m| {
            sum.plus(Usage {
                input_tokens: count(m, "inputTokens"),
                output_tokens: count(m, "outputTokens"),
                cache_read_tokens: count(m, "cacheReadInputTokens"),
                cache_write_tokens: count(m, "cacheCreationInputTokens"),
                cost_usd: None,
            })
        }));
    }
    v.get("usage").filter(|u| u.is_object()).map(api_usage)
}

/// `user` lines carry tool results.
fn tool_results(v: &Value) -> Vec<AgentEvent> {
    v.pointer("/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|block| str_of(block, "type") == Some("tool_result"))
        .map(|block| AgentEvent::ToolResult {
            id: str_of(block, "tool_use_id").unwrap_or_default().to_string(),
            ok: !json::flag(block, "is_error", false),
            output: json::text_of(block.get("content").unwrap_or(&Value::Null)),
        })
        .collect()
}

/// `system` lines: only retries matter; `init`, `status` and the rest are bookkeeping.
fn system(v: &Value) -> Vec<AgentEvent> {
    if str_of(v, "subtype") != Some("api_retry") {
        return Vec::new();
    }
    let mut message = String::from("claude API request failed");
    let error = str_of(v, "error").unwrap_or("unknown");
    match v.get("error_status").and_then(Value::as_u64) {
        Some(status) => message.push_str(&format!(" ({error}, HTTP {status})")),
        None => message.push_str(&format!(" ({error})")),
    }
    let attempt = count(v, "attempt");
    let max = count(v, "max_retries");
    if attempt > 0 && max > 0 {
        message.push_str(&format!("; retry {attempt} of {max}"));
    } else {
        message.push_str("; retrying");
    }
    if let Some(ms) = float(v, "retry_delay_ms") {
        message.push_str(&format!(" in {:.1} s", ms / 1000.0));
    }
    vec![AgentEvent::Notice { message }]
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{last_usage, notices, run_fixture, run_lines, tool_results};
    use super::super::{AdapterKind, ExitInfo};
    use super::*;

    const DIR: &str = "claude/captured-2.1.197-loopback";

    fn run(file: &str, code: i64) -> (Vec<AgentEvent>, Outcome) {
        run_fixture(AdapterKind::Claude, &format!("{DIR}/{file}"), code)
    }

    #[test]
    fn command_line() {
        let cmd = command(&CommandSpec {
            model: Some("claude-sonnet-4-5".into()),
            max_turns: Some(7),
            program: None,
            extra_args: vec![
                "--append-system-prompt".into(),
                "be brief; don't $panic".into(),
            ],
        });
        assert_eq!(
            cmd.script,
            "exec claude -p --output-format stream-json --verbose --dangerously-skip-permissions \
             --model 'claude-sonnet-4-5' --max-turns '7' '--append-system-prompt' \
             'be brief; don'\\''t $panic' < \"$BOSUN_PROMPT_FILE\""
        );
        let env: Vec<(&str, &str)> = cmd
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("IS_SANDBOX", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("DISABLE_AUTOUPDATER", "1")
            ]
        );
        let plain = command(&CommandSpec::default());
        assert_eq!(
            plain.script,
            "exec claude -p --output-format stream-json --verbose --dangerously-skip-permissions < \"$BOSUN_PROMPT_FILE\""
        );
    }

    #[test]
    fn simple_success() {
        let (events, out) = run("claude-simple.jsonl", 0);
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
        assert!(events.contains(&AgentEvent::Text {
            text: "Hello from the loopback mock.".into()
        }));
    }

    #[test]
    fn invalid_key_is_success_subtype_with_is_error() {
        let (events, out) = run("claude-invalid-key.jsonl", 1);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("Invalid API key · Fix external API key")
        );
        // The synthetic assistant message is an error, not an answer.
        assert!(!events.iter().any(|e| matches!(e, AgentEvent::Text { .. })));
        assert_eq!(out.final_message, "");
        // Exit 0 does not rescue it either: the stream said it failed.
        let (_, out) = run("claude-invalid-key.jsonl", 0);
        assert!(!out.ok);
    }

    #[test]
    fn retries_become_notices() {
        let (events, out) = run("claude-conn-refused.jsonl", 1);
        let retries = notices(&events);
        assert_eq!(retries.len(), 10, "{retries:?}");
        assert_eq!(
            retries[0],
            "claude API request failed (unknown); retry 1 of 10 in 0.5 s"
        );
        assert_eq!(
            out.error.as_deref(),
            Some("API Error: Unable to connect to API (ConnectionRefused)")
        );
        let (events, _) = run("claude-invalid-key.jsonl", 1);
        assert!(notices(&events)[9].starts_with(
            "claude API request failed (authentication_failed, HTTP 401); retry 10 of 10"
        ));
    }

    #[test]
    fn max_turns_fails_with_its_errors() {
        let (_, out) = run("claude-max-turns.jsonl", 1);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("claude reached its turn limit: Reached maximum number of turns (1)")
        );
        assert_eq!(out.turns, Some(2));
        assert_eq!(out.usage.cost_usd, Some(0.000495));
    }

    #[test]
    fn max_turns_with_empty_errors_still_fails() {
        let line = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"errors":[],"num_turns":5}"#;
        let (_, out) = run_lines(AdapterKind::Claude, &[line], &exit(1));
        assert!(!out.ok);
        assert_eq!(out.error.as_deref(), Some("claude reached its turn limit"));
    }

    #[test]
    fn missing_result_line_is_a_failure() {
        // The real max-turns stream with its result line cut off (agent-sdk#427).
        let text = super::super::testutil::read(&format!("{DIR}/claude-max-turns.jsonl"));
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("\"type\":\"result\""))
            .collect();
        assert_eq!(lines.len(), 3);
        let (events, out) = run_lines(AdapterKind::Claude, &lines, &exit(0));
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("claude's stream ended without a result line")
        );
        assert_eq!(
            tool_results(&events),
            [("toolu_mock0007".to_string(), true)]
        );
    }

    #[test]
    fn stderr_only_failures_quote_stderr() {
        let exit = ExitInfo {
            code: Some(1),
            stderr_tail: super::super::testutil::read(&format!(
                "{DIR}/claude-no-verbose.stderr.txt"
            )),
            ..ExitInfo::default()
        };
        let (_, out) = run_lines::<&str>(AdapterKind::Claude, &[], &exit);
        assert_eq!(
            out.error.as_deref(),
            Some("claude's stream ended without a result line (exit code 1); stderr: Error: When using --print, --output-format=stream-json requires --verbose")
        );
    }

    #[test]
    fn failed_tool_is_not_ok_but_run_is() {
        for file in ["claude-tool-fail.jsonl", "claude-tool-denied.jsonl"] {
            let (events, out) = run(file, 0);
            assert!(out.ok, "{file}: {out:?}");
            let results = tool_results(&events);
            assert_eq!(results.len(), 1, "{file}");
            assert!(!results[0].1, "{file}: tool result should be ok=false");
        }
        let (events, _) = run("claude-tool-fail.jsonl", 0);
        assert!(events.contains(&AgentEvent::ToolCall {
            id: "toolu_mock0003".into(),
            name: "Bash".into(),
            input:
                r#"{"command":"ls /nonexistent-dir-mock","description":"List a missing directory"}"#
                    .into(),
        }));
    }

    #[test]
    fn tool_success_and_turn_usage() {
        let (events, out) = run("claude-tool-allowed.jsonl", 0);
        assert!(out.ok);
        assert_eq!(
            tool_results(&events),
            [("toolu_mock0003".to_string(), true)]
        );
        assert_eq!(
            out.final_message,
            "Done: the command printed hello-from-mock."
        );
        assert_eq!(out.usage.input_tokens, 240);
        assert_eq!(out.usage.output_tokens, 18);
    }

    #[test]
    fn success_result_with_bad_exit_code_fails() {
        let (_, out) = run("claude-simple.jsonl", 2);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("claude reported success but exited with code 2")
        );
    }

    #[test]
    fn old_cost_field_is_read() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"cost_usd":0.25,"result":"ok"}"#;
        let (events, out) = run_lines(AdapterKind::Claude, &[line], &exit(0));
        assert!(out.ok);
        assert_eq!(out.usage.cost_usd, Some(0.25));
        assert_eq!(last_usage(&events).and_then(|u| u.cost_usd), Some(0.25));
    }

    #[test]
    fn sample_turns_array_with_sparse_result() {
        let (events, out) = run_fixture(
            AdapterKind::Claude,
            "claude/anthropics-claude-code-action/sample-turns.json",
            0,
        );
        assert!(out.ok, "{out:?}");
        assert_eq!(
            out.final_message,
            "Successfully removed debug print statement from file and added review comment to document the change."
        );
        assert_eq!(out.turns, None);
        // No usage in the result: the per-message sums stand, plus the result's cost.
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 630,
                output_tokens: 265,
                cache_read_tokens: 315,
                cache_write_tokens: 0,
                cost_usd: Some(0.0347),
            }
        );
        assert_eq!(tool_results(&events).len(), 3);
    }

    #[test]
    fn partial_messages_do_not_double_text() {
        let (events, out) = run("claude-partial.jsonl", 0);
        assert!(out.ok);
        let texts = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::Text { .. }))
            .count();
        assert_eq!(texts, 1);
    }

    #[test]
    fn repeated_message_usage_is_counted_once() {
        let a = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"a"}],"usage":{"input_tokens":10,"output_tokens":1}}}"#;
        let b = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"tool_use","id":"t","name":"Read","input":{}}],"usage":{"input_tokens":10,"output_tokens":4}}}"#;
        let (events, _) = run_lines(AdapterKind::Claude, &[a, b], &exit(0));
        let u = last_usage(&events).unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (10, 4));
    }

    #[test]
    fn sub_agent_text_is_not_the_final_message() {
        let main = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"main answer"}]},"parent_tool_use_id":null}"#;
        let sub = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"sub-agent notes"}]},"parent_tool_use_id":"toolu_1"}"#;
        let (events, out) = run_lines(AdapterKind::Claude, &[main, sub], &exit(1));
        assert_eq!(out.final_message, "main answer");
        assert!(events.contains(&AgentEvent::Text {
            text: "sub-agent notes".into()
        }));
    }

    #[test]
    fn junk_lines_are_tolerated() {
        let (events, out) = run_lines(
            AdapterKind::Claude,
            &["", "not json", "{\"type\":\"mystery\"}", "[]"],
            &exit(0),
        );
        assert_eq!(notices(&events), ["not json", "[]"]);
        assert!(!out.ok);
    }

    fn exit(code: i64) -> ExitInfo {
        super::super::testutil::exit(code)
    }
}
