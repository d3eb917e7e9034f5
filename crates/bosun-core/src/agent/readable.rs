//! An agent run's raw output as people read it: each stdout line through the adapter's parser,
//! each event one short line (what the agent said, each tool call with its command or file,
//! each result, the usage so far, notices and errors). `bosun task logs` prints this unless
//! asked for `--raw`. Pure: bytes in, lines out.

use super::{AdapterKind, AgentEvent, StreamParser, Usage};

/// A tool's input or result longer than this is cut; the raw log keeps it whole.
const MAX_SHOWN_CHARS: usize = 300;

/// What the run log marks a stderr line with (see `run::agent_round`).
const STDERR_PREFIX: &str = "[stderr] ";

/// Reads one run's log as it grows: whole lines go through the parser, a partial last line
/// waits for the rest.
pub struct Reader {
    parser: Box<dyn StreamParser>,
    /// Bytes, not text: a chunk may end inside a character.
    partial: Vec<u8>,
}

impl Reader {
    pub fn new(kind: AdapterKind) -> Reader {
        Reader {
            parser: kind.parser(),
            partial: Vec::new(),
        }
    }

    /// The readable lines for `chunk`, the next bytes of the log.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&whole)
            .lines()
            .flat_map(|line| match line.strip_prefix(STDERR_PREFIX) {
                Some(err) if err.trim().is_empty() => Vec::new(),
                Some(err) => vec![format!("   stderr: {}", cut(err))],
                None => self.parser.line(line).iter().filter_map(shown).collect(),
            })
            .collect()
    }
}

/// One event as a line; `None` for what is not worth a line.
pub fn shown(event: &AgentEvent) -> Option<String> {
    Some(match event {
        AgentEvent::Text { text } if text.trim().is_empty() => return None,
        AgentEvent::Text { text } => format!("💬 {}", cut(text.trim())),
        AgentEvent::ToolCall { name, input, .. } => format!("🔧 {name} {}", cut(input)),
        AgentEvent::ToolResult { ok, output, .. } => {
            let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let more = output.lines().filter(|l| !l.trim().is_empty()).count();
            let rest = if more > 1 {
                format!(" (+{} lines)", more - 1)
            } else {
                String::new()
            };
            format!("   {} {}{rest}", if *ok { "✓" } else { "✗" }, cut(first))
        }
        AgentEvent::Usage(usage) => format!("   📊 {}", usage_line(usage)),
        AgentEvent::Notice { message } if message.trim().is_empty() => return None,
        AgentEvent::Notice { message } => format!("ℹ️ {}", cut(message.trim())),
        AgentEvent::Error { message } => format!("❌ {}", cut(message.trim())),
    })
}

fn usage_line(u: &Usage) -> String {
    let mut text = format!("{} in / {} out", u.input_tokens, u.output_tokens);
    if u.cache_read_tokens > 0 || u.cache_write_tokens > 0 {
        text.push_str(&format!(
            " (cache: {} read, {} written)",
            u.cache_read_tokens, u.cache_write_tokens
        ));
    }
    if let Some(cost) = u.cost_usd {
        text.push_str(&format!(" · ${cost:.4}"));
    }
    text
}

/// `text` on one line, at most [`MAX_SHOWN_CHARS`] characters.
fn cut(text: &str) -> String {
    let one_line = text.replace('\n', " ⏎ ");
    match one_line.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::testutil::read;

    fn readable(kind: AdapterKind, file: &str) -> Vec<String> {
        let text = read(file);
        let mut reader = Reader::new(kind);
        // Fed in uneven pieces, as a log is read while it grows.
        let (head, tail) = text.as_bytes().split_at(text.len() / 3);
        let mut lines = reader.feed(head);
        lines.extend(reader.feed(tail));
        lines
    }

    #[test]
    fn a_claude_run_reads_as_its_text_its_tool_call_and_its_result() {
        let lines = readable(
            AdapterKind::Claude,
            "claude/captured-2.1.332-pypi-container/claude-write.jsonl",
        );
        let text = lines.join("\n");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("🔧 Write") && l.contains("hello.txt")),
            "{text}"
        );
        assert!(lines.iter().any(|l| l.starts_with("   ✓")), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("💬")), "{text}");
        assert!(!text.contains("\"type\""), "no raw JSON: {text}");
    }

    #[test]
    fn a_codex_run_reads_as_its_command_and_what_it_printed() {
        let lines = readable(
            AdapterKind::Codex,
            "codex/captured-0.147.0-pypi-container/codex-shell.jsonl",
        );
        let text = lines.join("\n");
        assert!(lines.iter().any(|l| l.starts_with("🔧 ")), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("   📊 ")), "{text}");
        assert!(!text.contains("\"type\""), "no raw JSON: {text}");
    }

    #[test]
    fn a_partial_line_waits_and_stderr_is_marked() {
        let mut reader = Reader::new(AdapterKind::Command);
        assert!(reader.feed(b"[stderr] warn").is_empty());
        // A character cut between two chunks arrives whole.
        let dash = "—".as_bytes();
        assert!(reader.feed(&dash[..1]).is_empty());
        let mut rest = dash[1..].to_vec();
        rest.extend_from_slice(b"ing: slow\n");
        assert_eq!(reader.feed(&rest), ["   stderr: warn—ing: slow"]);
        let long = "x".repeat(MAX_SHOWN_CHARS + 10);
        let shown = shown(&AgentEvent::Text { text: long }).unwrap();
        assert!(shown.ends_with('…'));
        assert_eq!(shown.chars().count(), MAX_SHOWN_CHARS + 3);
    }
}
