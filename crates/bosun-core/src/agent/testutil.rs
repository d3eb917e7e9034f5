//! Test helpers: finding the recorded fixtures and running a parser over them.

use std::path::{Path, PathBuf};

use super::{AdapterKind, AgentEvent, ExitInfo, Outcome};

/// Where the recorded streams live: `tests/fixtures/agent-streams` under the crate root.
pub(super) fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/agent-streams")
}

/// A fixture's text, by path relative to the fixtures root.
pub(super) fn read(rel: &str) -> String {
    let path = fixtures_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The stdout lines a fixture stands for. JSON-lines files are split into lines. A `.json`
/// file holds one object (pretty-printed) or, for claude-code-action's sample, an array of
/// objects; each object is fed as one compact line, as the CLI would have printed it.
pub(super) fn stdout_lines(rel: &str) -> Vec<String> {
    let text = read(rel);
    if !rel.ends_with(".json") {
        return text.lines().map(str::to_string).collect();
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"));
    match value {
        serde_json::Value::Array(items) => items.iter().map(|v| v.to_string()).collect(),
        other => vec![other.to_string()],
    }
}

pub(super) fn exit(code: i64) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        ..ExitInfo::default()
    }
}

/// Feeds lines through a fresh parser; returns every event and the outcome.
pub(super) fn run_lines<S: AsRef<str>>(
    kind: AdapterKind,
    lines: &[S],
    exit: &ExitInfo,
) -> (Vec<AgentEvent>, Outcome) {
    let mut parser = kind.parser();
    let mut events = Vec::new();
    for line in lines {
        events.extend(parser.line(line.as_ref()));
    }
    (events, parser.finish(exit))
}

/// Runs a recorded stdout fixture with the given exit code.
pub(super) fn run_fixture(kind: AdapterKind, rel: &str, code: i64) -> (Vec<AgentEvent>, Outcome) {
    run_lines(kind, &stdout_lines(rel), &exit(code))
}

pub(super) fn tool_results(events: &[AgentEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolResult { id, ok, .. } => Some((id.clone(), *ok)),
            _ => None,
        })
        .collect()
}

pub(super) fn notices(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Notice { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn last_usage(events: &[AgentEvent]) -> Option<super::Usage> {
    events.iter().rev().find_map(|e| match e {
        AgentEvent::Usage(u) => Some(*u),
        _ => None,
    })
}
