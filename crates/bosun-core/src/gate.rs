//! What one gate (a repository's own check, run in a fresh container) gave.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    pub name: String,
    pub command: String,
    pub ok: bool,
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The end of stdout and stderr, interleaved as they arrived.
    pub output_tail: String,
}
