//! Gemini CLI: `gemini -o stream-json`.
//!
//! Traps handled here, each pinned by a test on recorded output:
//! - The run's verdict is the `result` line's `status` (`success` / `error`).
//! - Assistant text arrives as `message` lines with `delta:true`: chunks to be concatenated.
//! - A failed shell command still says `tool_result.status:"success"`. In 0.61.0 stream-json
//!   the exit code is not shown at all when the command printed something (the output is
//!   just the command's stderr, e.g. `ls: cannot access '…': No such file or directory`); see
//!   [`shell_output_failed`] for how failure is recognised anyway.
//! - Some failures leave stdout empty and print the error JSON last on stderr, after a stack
//!   trace (`-o json` with a bad key: exit 144). The error is then read from stderr.
//! - API errors wrap the service's JSON body in text (`[API Error: {"error":{…}}]`); the
//!   inner message is pulled out so the error reads as a sentence.
//!
//! Also accepted, for robustness: the single object `-o json` prints
//! (`{session_id, response, stats}` or `{session_id, error}`), and `error` events
//! (`severity` warning → notice, error → error).
//!
//! Usage comes only from the final stats. Gemini's `input_tokens` includes cached tokens;
//! `input` (when present) is the uncached part.

use serde_json::Value;

use super::json::{self, count, str_of, Line};
use super::script::{refusal, Script};
use super::usage::Meter;
use super::verdict::{conclude, ended_early, with_exit_code, Draft};
use super::{
    stderr, AgentCommand, AgentEvent, CommandSpec, ExitInfo, Outcome, StreamParser, Usage,
};

/// `gemini -o stream-json --yolo -p "$(cat "$BOSUN_PROMPT_FILE")" < /dev/null`.
///
/// `--yolo` is needed for the shell tool to be offered at all in headless runs. The prompt
/// goes through `-p` because gemini appends stdin to it; stdin is `/dev/null` so nothing
/// inherited can be appended or block the run.
pub(super) fn command(spec: &CommandSpec) -> AgentCommand {
    let script = match Script::exec("gemini", spec) {
        Ok(script) => script,
        Err(e) => return refusal(&e),
    };
    script
        .raw("-o stream-json --yolo")
        .opt("-m", spec.model.as_deref())
        .extra(spec)
        .raw("-p \"$(cat \"$BOSUN_PROMPT_FILE\")\" < /dev/null")
        .build(&[])
}

#[derive(Default)]
pub(super) struct GeminiParser {
    meter: Meter,
    /// Text of the reply being streamed (chunks since the last tool call).
    reply: String,
    /// The last non-empty reply before a tool call, in case the final reply has no text.
    earlier_reply: String,
    /// Tool names by tool id, to know which results come from the shell.
    tools: Vec<(String, String)>,
    verdict: Option<Result<(), String>>,
    last_error: Option<String>,
}

impl StreamParser for GeminiParser {
    fn line(&mut self, line: &str) -> Vec<AgentEvent> {
        let v = match json::parse_line(line) {
            Line::Blank => return Vec::new(),
            Line::Other(text) => return json::stray(text),
            Line::Object(v) => v,
        };
        match str_of(&v, "type") {
            Some("message") => self.message(&v),
            Some("tool_use") => self.tool_use(&v),
            Some("tool_result") => self.tool_result(&v),
            Some("error") => self.error_event(&v),
            Some("result") => self.result(&v),
            Some(_) => Vec::new(),
            None => self.json_output(&v),
        }
    }

    fn finish(self: Box<Self>, exit: &ExitInfo) -> Outcome {
        let verdict = match self.verdict {
            Some(verdict) => verdict,
            None => Err(match stderr_error(&exit.stderr_tail) {
                Some(message) => with_exit_code(message, exit),
                None => {
                    let mut msg = ended_early("gemini", "a result line", exit);
                    if let Some(error) = self.last_error {
                        msg.push_str(&format!("; last error: {error}"));
                    }
                    msg
                }
            }),
        };
        let final_message = if self.reply.is_empty() {
            self.earlier_reply
        } else {
            self.reply
        };
        let draft = Draft {
            verdict,
            final_message,
            usage: self.meter.current(),
            turns: None,
        };
        conclude("gemini", draft, exit)
    }
}

impl GeminiParser {
    fn message(&mut self, v: &Value) -> Vec<AgentEvent> {
        if str_of(v, "role") != Some("assistant") {
            return Vec::new();
        }
        let text = str_of(v, "content").unwrap_or_default().to_string();
        if json::flag(v, "delta", false) {
            self.reply.push_str(&text);
        } else {
            self.reply = text.clone();
        }
        if text.is_empty() {
            Vec::new()
        } else {
            vec![AgentEvent::Text { text }]
        }
    }

    /// A tool call ends the reply being streamed: text after it belongs to a new reply.
    fn close_reply(&mut self) {
        if !self.reply.is_empty() {
            self.earlier_reply = std::mem::take(&mut self.reply);
        }
    }

    fn tool_use(&mut self, v: &Value) -> Vec<AgentEvent> {
        self.close_reply();
        let id = str_of(v, "tool_id").unwrap_or_default().to_string();
        let name = str_of(v, "tool_name").unwrap_or_default().to_string();
        self.tools.push((id.clone(), name.clone()));
        vec![AgentEvent::ToolCall {
            id,
            name,
            input: json::compact(v.get("parameters").unwrap_or(&Value::Null)),
        }]
    }

    fn tool_result(&mut self, v: &Value) -> Vec<AgentEvent> {
        self.close_reply();
        let id = str_of(v, "tool_id").unwrap_or_default().to_string();
        let tool = self
            .tools
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, name)| name.as_str());
        let is_shell = tool == Some("run_shell_command") || id.starts_with("run_shell_command");
        let status_ok = str_of(v, "status") == Some("success");
        let error = v.pointer("/error/message").and_then(Value::as_str);
        let output = match (str_of(v, "output"), error) {
            (Some(out), _) if !out.is_empty() => out.to_string(),
            (_, Some(err)) => err.to_string(),
            _ => String::new(),
        };
        let ok = status_ok && !shell_output_failed(&output, is_shell);
        vec![AgentEvent::ToolResult { id, ok, output }]
    }

    fn error_event(&mut self, v: &Value) -> Vec<AgentEvent> {
        let message = str_of(v, "message").unwrap_or_default().to_string();
        if str_of(v, "severity") == Some("warning") {
            vec![AgentEvent::Notice { message }]
        } else {
            self.last_error = Some(message.clone());
            vec![AgentEvent::Error { message }]
        }
    }

    fn result(&mut self, v: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let verdict = match str_of(v, "status") {
            Some("success") => Ok(()),
            status => {
                let reason = match v.pointer("/error/message").and_then(Value::as_str) {
                    Some(message) if !message.trim().is_empty() => readable_api_error(message),
                    _ => format!("gemini ended with status {}", status.unwrap_or("(none)")),
                };
                events.push(AgentEvent::Error {
                    message: reason.clone(),
                });
                Err(reason)
            }
        };
        if let Some(stats) = v.get("stats") {
            events.extend(self.meter.set(stream_usage(stats)));
        }
        self.verdict = Some(verdict);
        events
    }

    /// The one object `-o json` prints, in case a run is configured that way.
    fn json_output(&mut self, v: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        if let Some(message) = v.pointer("/error/message").and_then(Value::as_str) {
            let reason = readable_api_error(message);
            events.push(AgentEvent::Error {
                message: reason.clone(),
            });
            self.verdict = Some(Err(reason));
        } else if let Some(response) = str_of(v, "response") {
            self.reply = response.to_string();
            if !response.is_empty() {
                events.push(AgentEvent::Text {
                    text: response.to_string(),
                });
            }
            self.verdict = Some(Ok(()));
        }
        if let Some(models) = v.pointer("/stats/models").and_then(Value::as_object) {
            let totals = models.values().fold(Usage::default(), |sum, m| {
                let t = m.get("tokens").unwrap_or(&Value::Null);
                let cached = count(t, "cached");
                sum.plus(Usage {
                    input_tokens: count(t, "prompt").saturating_sub(cached),
                    output_tokens: count(t, "candidates").saturating_add(count(t, "thoughts")),
                    cache_read_tokens: cached,
                    cache_write_tokens: 0,
                    cost_usd: None,
                })
            });
            events.extend(self.meter.set(totals));
        }
        events
    }
}

fn stream_usage(stats: &Value) -> Usage {
    let cached = count(stats, "cached");
    let input = match stats.get("input") {
        Some(_) => count(stats, "input"),
        None => count(stats, "input_tokens").saturating_sub(cached),
    };
    Usage {
        input_tokens: input,
        output_tokens: count(stats, "output_tokens"),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        cost_usd: None,
    }
}

/// Whether a tool's output shows it failed although gemini reported `status:"success"`.
///
/// Gemini's own markers, from its shell tool, count for every tool:
/// `Exit Code: N` (the model-facing format, also shown in debug mode),
/// `Command exited with code: N`, `Command failed: …`, `Command terminated by signal: …`
/// and the cancellation messages. They are only shown when the command printed nothing.
///
/// When the command did print something, 0.61.0 shows only that text, with no exit code
/// (gemini-tool-fail-yolo.jsonl). For shell tools, a line in the shape of a shell or
/// coreutils diagnostic (`prog: …: No such file or directory`, `… command not found`,
/// `Permission denied`, `cannot access`) is then taken as failure. This is a heuristic: a
/// command that succeeds while printing such a line (say, `cat` of a log) is reported as
/// failed, and a failure that prints anything else is reported as ok. Tool results only
/// inform the log; the run's verdict never depends on them.
pub(super) fn shell_output_failed(output: &str, is_shell: bool) -> bool {
    let mut lines = output.lines().map(str::trim);
    let marker = lines.clone().any(|line| {
        nonzero_after(line, "Exit Code:")
            || nonzero_after(line, "Command exited with code:")
            || line.starts_with("Command failed:")
            || line.starts_with("Command terminated by signal:")
            || line.starts_with("Command was automatically cancelled")
            || line.starts_with("Command was cancelled")
            || line.starts_with("Command cancelled by user")
    });
    marker || (is_shell && lines.any(looks_like_shell_diagnostic))
}

fn nonzero_after(line: &str, prefix: &str) -> bool {
    line.strip_prefix(prefix)
        .and_then(|rest| rest.trim().parse::<i64>().ok())
        .is_some_and(|code| code != 0)
}

/// `prog: …: <diagnostic>`, the shape sh, bash and coreutils use for errors.
fn looks_like_shell_diagnostic(line: &str) -> bool {
    const DIAGNOSTICS: [&str; 4] = [
        "No such file or directory",
        "command not found",
        "Permission denied",
        "cannot access",
    ];
    let Some((prog, rest)) = line.split_once(": ") else {
        return false;
    };
    !prog.is_empty()
        && !prog.contains(char::is_whitespace)
        && DIAGNOSTICS.iter().any(|d| rest.contains(d))
}

/// The error in a JSON object printed last on stderr, if there is one.
fn stderr_error(tail: &str) -> Option<String> {
    let v = stderr::last_json_object(tail)?;
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .or_else(|| {
            (str_of(&v, "type") == Some("error"))
                .then(|| str_of(&v, "message"))
                .flatten()
        })?;
    Some(readable_api_error(message))
}

/// Turns `[API Error: {"error":{"message":"API key not valid…",…}}]` into
/// `API Error: API key not valid…`; other text is returned trimmed.
pub(super) fn readable_api_error(message: &str) -> String {
    let trimmed = message.trim();
    let text = trimmed
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(trimmed);
    let (Some(open), Some(close)) = (text.find('{'), text.rfind('}')) else {
        return text.to_string();
    };
    if open > close {
        return text.to_string();
    }
    let inner = serde_json::from_str::<Value>(&text[open..=close])
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    match inner {
        Some(inner) => {
            let prefix = text[..open].trim();
            if prefix.is_empty() {
                inner
            } else {
                format!("{prefix} {inner}")
            }
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{exit, read, run_fixture, run_lines, tool_results};
    use super::super::AdapterKind;
    use super::*;

    const DIR: &str = "gemini/captured-0.61.0-loopback";

    fn run(file: &str, code: i64) -> (Vec<AgentEvent>, Outcome) {
        run_fixture(AdapterKind::Gemini, &format!("{DIR}/{file}"), code)
    }

    #[test]
    fn command_line() {
        let cmd = command(&CommandSpec {
            model: Some("gemini-2.5-pro".into()),
            max_turns: Some(9),
            program: Some("/opt/agentcli/node_modules/.bin/gemini".into()),
            extra_args: vec!["--skip-trust".into()],
        });
        assert_eq!(
            cmd.script,
            "exec '/opt/agentcli/node_modules/.bin/gemini' -o stream-json --yolo -m 'gemini-2.5-pro' \
             '--skip-trust' -p \"$(cat \"$BOSUN_PROMPT_FILE\")\" < /dev/null"
        );
    }

    #[test]
    fn simple_success() {
        let (events, out) = run("gemini-simple.jsonl", 0);
        assert!(out.ok, "{out:?}");
        assert_eq!(out.final_message, "Hello from the loopback mock.");
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 1200,
                output_tokens: 9,
                ..Usage::default()
            }
        );
        assert!(events.contains(&AgentEvent::Usage(out.usage)));
    }

    #[test]
    fn delta_chunks_concatenate() {
        let lines = [
            r#"{"type":"message","role":"assistant","content":"Hel","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":"lo.","delta":true}"#,
            r#"{"type":"result","status":"success","stats":{}}"#,
        ];
        let (events, out) = run_lines(AdapterKind::Gemini, &lines, &exit(0));
        assert_eq!(out.final_message, "Hello.");
        assert_eq!(events[0], AgentEvent::Text { text: "Hel".into() });
        assert_eq!(events[1], AgentEvent::Text { text: "lo.".into() });
    }

    #[test]
    fn final_message_is_the_reply_after_the_last_tool() {
        let lines = [
            r#"{"type":"message","role":"assistant","content":"Let me check.","delta":true}"#,
            r#"{"type":"tool_use","tool_name":"read_file","tool_id":"t1","parameters":{}}"#,
            r#"{"type":"tool_result","tool_id":"t1","status":"success","output":"x"}"#,
            r#"{"type":"message","role":"assistant","content":"All ","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":"done.","delta":true}"#,
            r#"{"type":"result","status":"success"}"#,
        ];
        let (_, out) = run_lines(AdapterKind::Gemini, &lines, &exit(0));
        assert_eq!(out.final_message, "All done.");
    }

    #[test]
    fn failed_shell_command_reported_as_success_is_not_ok() {
        let (events, out) = run("gemini-tool-fail-yolo.jsonl", 0);
        assert!(out.ok);
        let results = tool_results(&events);
        assert_eq!(results.len(), 1);
        assert!(!results[0].1, "ls of a missing dir must be ok=false");
        let (events, _) = run("gemini-tool-yolo.jsonl", 0);
        assert_eq!(
            tool_results(&events),
            [(
                "run_shell_command__run_shell_command_1795236512811_0".to_string(),
                true
            )]
        );
    }

    #[test]
    fn exit_code_markers() {
        assert!(shell_output_failed("Output: (empty)\nExit Code: 2", false));
        assert!(!shell_output_failed("Output: ok\nExit Code: 0", false));
        assert!(shell_output_failed("Command exited with code: 1", true));
        assert!(shell_output_failed("Command failed: spawn ENOENT", true));
        assert!(shell_output_failed(
            "bash: line 1: nope: command not found",
            true
        ));
        assert!(shell_output_failed(
            "ls: cannot access 'x': No such file or directory",
            true
        ));
        assert!(!shell_output_failed("hello-from-mock", true));
        assert!(!shell_output_failed(
            "grep found: No such file or directory",
            true
        ));
        assert!(!shell_output_failed(
            "ls: cannot access 'x': No such file",
            false
        ));
    }

    #[test]
    fn error_result_with_api_json_reads_as_a_sentence() {
        let (_, out) = run("gemini-invalid-key.jsonl", 144);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("API Error: API key not valid. Please pass a valid API key.")
        );
        let (_, out) = run("gemini-conn-refused.jsonl", 1);
        assert_eq!(
            out.error.as_deref(),
            Some("API Error: exception TypeError: fetch failed sending request")
        );
    }

    #[test]
    fn empty_stdout_takes_the_error_from_stderr_json() {
        let exit = ExitInfo {
            code: Some(144),
            stderr_tail: read(&format!("{DIR}/gemini-invalid-key-json.stderr-tail.json")),
            ..ExitInfo::default()
        };
        let (_, out) = run_lines::<&str>(AdapterKind::Gemini, &[], &exit);
        assert!(!out.ok);
        assert_eq!(
            out.error.as_deref(),
            Some("API key not valid. Please pass a valid API key. (exit code 144)")
        );
    }

    #[test]
    fn stderr_json_after_a_stack_trace_is_found() {
        let trace = read(&format!("{DIR}/gemini-invalid-key.stderr.txt"));
        let tail_json = read(&format!("{DIR}/gemini-invalid-key-json.stderr-tail.json"));
        let exit = ExitInfo {
            code: Some(144),
            stderr_tail: format!("{trace}{tail_json}"),
            ..ExitInfo::default()
        };
        let (_, out) = run_lines::<&str>(AdapterKind::Gemini, &[], &exit);
        assert_eq!(
            out.error.as_deref(),
            Some("API key not valid. Please pass a valid API key. (exit code 144)")
        );
    }

    #[test]
    fn stack_trace_alone_gives_its_error_line() {
        let exit = ExitInfo {
            code: Some(144),
            stderr_tail: read(&format!("{DIR}/gemini-invalid-key.stderr.txt")),
            ..ExitInfo::default()
        };
        let (_, out) = run_lines::<&str>(AdapterKind::Gemini, &[], &exit);
        let error = out.error.unwrap();
        assert!(
            error.starts_with("gemini's stream ended without a result line (exit code 144); stderr: Error when talking to Gemini API"),
            "{error}"
        );
    }

    #[test]
    fn json_output_object_is_understood() {
        let (events, out) = run_fixture(AdapterKind::Gemini, &format!("{DIR}/gemini-json.json"), 0);
        assert!(out.ok);
        assert_eq!(out.final_message, "Hello from the loopback mock.");
        assert_eq!(out.usage.input_tokens, 1200);
        assert_eq!(out.usage.output_tokens, 9);
        assert!(events.contains(&AgentEvent::Text {
            text: "Hello from the loopback mock.".into()
        }));
    }

    #[test]
    fn stderr_noise_in_stdout_is_a_notice() {
        let lines = ["YOLO mode is enabled. All tool calls will be automatically approved."];
        let (events, _) = run_lines(AdapterKind::Gemini, &lines, &exit(0));
        assert_eq!(
            events,
            [AgentEvent::Notice {
                message: lines[0].into()
            }]
        );
    }

    #[test]
    fn warning_events_are_notices_and_errors_are_remembered() {
        let lines = [
            r#"{"type":"error","severity":"warning","message":"Loop detected, stopping execution"}"#,
            r#"{"type":"error","severity":"error","message":"Maximum session turns exceeded"}"#,
        ];
        let (events, out) = run_lines(AdapterKind::Gemini, &lines, &exit(53));
        assert!(matches!(&events[0], AgentEvent::Notice { .. }));
        assert!(matches!(&events[1], AgentEvent::Error { .. }));
        assert_eq!(
            out.error.as_deref(),
            Some("gemini's stream ended without a result line (exit code 53); last error: Maximum session turns exceeded")
        );
    }
}
