//! Issue 20, hole 6: an agent cannot fill the server's disk. In real Docker containers, with
//! the `command` adapter running a one-line busybox script (no model involved):
//! - an agent that writes into the checkout without end is stopped at `limits.max_checkout_mb`
//!   (Docker cannot limit a bind mount), with one comment saying so, and nothing is pushed;
//! - an agent that prints without end leaves a log of its first and last megabytes, with a line
//!   saying what was left out between them, and its final answer is still read.

#[path = "support/images.rs"]
mod images;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::agent_app::AgentApp;
use support::*;

/// Real containers, and an agent that runs until it is stopped: far above the seconds needed.
const LIMITS_TEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The server's configuration: one `command` agent running `program` in `image`.
fn server_config(image: &str, program: &str, limits: &str) -> String {
    format!(
        "default_agent: shell\n\
         agents:\n  shell:\n    adapter: command\n    image: {image}\n    program: >-\n      {program}\n\
         limits:\n  memory_mb: 256\n  cpus: 1\n{limits}"
    )
}

const REPO_CONFIG: &str = "rounds: 1\npeer_review:\n  enabled: false\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_fills_the_checkout_is_stopped_at_the_servers_cap() {
    images::with_busybox(LIMITS_TEST_TIMEOUT, |image| async move {
        // About 25 MiB a second, for as long as it is let.
        let program = r#"sh -c "while true; do dd if=/dev/zero bs=1M count=5 >> big.bin 2>/dev/null; sleep 0.2; done""#;
        let run = AgentApp::start_with_config(
            &server_config(&image, program, "  max_checkout_mb: 20\n"),
            REPO_CONFIG,
        )
        .await;
        let issue = run.label_until_finished("Fill the disk", "Go.").await;
        let comment = tracking(&run.app.github, issue);
        assert!(
            comment.contains("The agent was stopped: the checkout grew past 20 MiB"),
            "{comment}"
        );
        assert!(has_label(&run.app.github, issue, "bosun:needs-review"), "{comment}");
        assert!(run.app.github.pulls(REPO).is_empty(), "nothing was pushed");
        run.app.finish().await;
    })
    .await;
}

/// The agent logs of the data directory.
fn agent_logs(data_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![data_dir.join("runs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "agent.log") {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_prints_without_end_leaves_a_log_of_its_head_and_tail() {
    images::with_busybox(LIMITS_TEST_TIMEOUT, |image| async move {
        // 260,000 lines of 101 bytes (about 25 MiB), then the change and the answer.
        let program = r#"sh -c "yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -n 260000; echo changed > hello.txt; echo '{\"type\":\"result\",\"ok\":true,\"message\":\"done after a flood\"}'""#;
        let run =
            AgentApp::start_with_config(&server_config(&image, program, ""), REPO_CONFIG).await;
        let issue = run.label_until_finished("Print a lot", "Go.").await;
        let comment = tracking(&run.app.github, issue);
        assert!(has_label(&run.app.github, issue, "bosun:done"), "{comment}");
        let logs = agent_logs(run.app.data_dir.path());
        assert_eq!(logs.len(), 1, "{logs:?}");
        let size = std::fs::metadata(&logs[0]).unwrap().len();
        assert!(size <= 20 << 20 | 1024, "the log is capped: {size} bytes");
        let text = std::fs::read_to_string(&logs[0]).unwrap();
        assert!(text.starts_with("0123456789"), "the head is kept");
        let marker = text
            .lines()
            .find(|l| l.starts_with("[bosun] "))
            .expect("a line says what was left out");
        assert!(marker.contains("left out here"), "{marker}");
        assert!(
            text.trim_end().ends_with(r#""message":"done after a flood"}"#),
            "the tail is kept: {}",
            &text[text.len().saturating_sub(300)..]
        );
        run.app.finish().await;
    })
    .await;
}
