//! Telling a transient agent failure (the model API unreachable, overloaded or failing) from
//! one that will fail again (a bad key, a broken prompt): the first is retried by the queue
//! with backoff, the second ends the task at once with its error.

/// Why the failure looks transient, for the tracking comment; `None` when it does not.
pub fn transient(error: &str) -> Option<&'static str> {
    let e = error.to_ascii_lowercase();
    let permanent = [
        "401",
        "403",
        "invalid api key",
        "api_key_invalid",
        "invalid x-api-key",
        "authentication",
        "unauthorized",
        "permission denied",
    ];
    if permanent.iter().any(|p| e.contains(p)) {
        return None;
    }
    let unreachable = [
        "unable to connect",
        "cannot connect",
        "connectionrefused",
        "connection refused",
        "connection failed",
        "connection reset",
        "econnreset",
        "fetch failed",
        "error sending request",
        "socket hang up",
        "timed out",
    ];
    if unreachable.iter().any(|p| e.contains(p)) {
        return Some("the model API could not be reached");
    }
    let failing = [
        "overloaded",
        "rate limit",
        "too many requests",
        " 429",
        " 500",
        " 502",
        " 503",
        " 504",
        " 529",
        "bad gateway",
        "service unavailable",
        "internal server error",
    ];
    if failing.iter().any(|p| e.contains(p)) {
        return Some("the model API was overloaded or failing");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::agent::{AdapterKind, ExitInfo};

    /// The error the real adapter reports for a recorded stream.
    fn error_of(adapter: AdapterKind, file: &str, code: i64) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/agent-streams")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut parser = adapter.parser();
        for line in text.lines() {
            parser.line(line);
        }
        let outcome = parser.finish(&ExitInfo {
            code: Some(code),
            stderr_tail: String::new(),
            timed_out: false,
            oom_killed: false,
        });
        assert!(!outcome.ok, "{file} is a failure");
        outcome.error.unwrap_or_default()
    }

    #[test]
    fn unreachable_apis_in_real_streams_are_transient() {
        for (adapter, file) in [
            (
                AdapterKind::Claude,
                "claude/captured-2.1.197-loopback/claude-conn-refused.jsonl",
            ),
            (
                AdapterKind::Codex,
                "codex/captured-0.169.0-loopback/codex-conn-refused.jsonl",
            ),
            (
                AdapterKind::Gemini,
                "gemini/captured-0.61.0-loopback/gemini-conn-refused.jsonl",
            ),
            (
                AdapterKind::OpenCode,
                "opencode/captured-1.18.33-loopback/opencode-conn-refused.jsonl",
            ),
        ] {
            let error = error_of(adapter, file, 1);
            assert!(transient(&error).is_some(), "{file}: {error}");
        }
    }

    #[test]
    fn bad_keys_in_real_streams_are_not_transient() {
        for (adapter, file, code) in [
            (
                AdapterKind::Claude,
                "claude/captured-2.1.197-loopback/claude-invalid-key.jsonl",
                1,
            ),
            (
                AdapterKind::Codex,
                "codex/captured-0.169.0-loopback/codex-invalid-key.jsonl",
                1,
            ),
            (
                AdapterKind::Gemini,
                "gemini/captured-0.61.0-loopback/gemini-invalid-key.jsonl",
                144,
            ),
            (
                AdapterKind::OpenCode,
                "opencode/captured-1.18.33-loopback/opencode-invalid-key.jsonl",
                1,
            ),
        ] {
            let error = error_of(adapter, file, code);
            assert_eq!(transient(&error), None, "{file}: {error}");
        }
    }

    #[test]
    fn overload_is_transient_and_other_failures_are_not() {
        assert!(transient("API Error: 529 {\"type\":\"overloaded_error\"}").is_some());
        assert!(transient("unexpected status 503 Service Unavailable").is_some());
        assert_eq!(transient("Reached maximum number of turns (5)"), None);
        assert_eq!(transient("the stream ended without a result"), None);
        assert_eq!(
            transient("unexpected status 401 Unauthorized: connection"),
            None
        );
    }
}
