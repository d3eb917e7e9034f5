//! Learnings end to end: a task whose gate fails once and then passes leaves a note about the
//! repository; the next similar issue's agent finds it in its prompt; `bosun learnings delete`
//! (the real binary, on the running server's data directory) removes it, and the task after
//! that no longer gets it. Real sandbox (Docker), real git, the fake GitHub.

#[path = "support/images.rs"]
mod images;
mod support;

use std::process::Command;

use std::time::Duration;

use support::agent_app::{finished, review_submitted, AgentApp, WRITER};
use support::*;

/// The hard limit of each test here, far above `TEST_TIMEOUT`: a test runs up to three agent
/// tasks in real containers one after the other, each waited for up to two minutes. Generous for
/// a slow CI machine, yet a hang fails the test instead of blocking CI.
const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The fake `claude`: as a reviewer it finds nothing, except a concern and a nit in scenario
/// `concern`; as the implementer, in scenario `gate-once` it writes the wrong greeting first
/// and the right one once the gates failed, else the right one at once. Answering a review
/// (scenario `review`), it changes the code for thread T1 and answers T2's question.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
prompt=$(cat)
say() {
  printf '%s\n' "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":5,\"num_turns\":1,\"result\":\"$1\",\"session_id\":\"s1\",\"total_cost_usd\":0.01,\"usage\":{\"input_tokens\":100,\"output_tokens\":20}}"
}
echo '{"type":"system","subtype":"init","session_id":"s1","model":"fake-model","tools":[]}'
scenario=$(printf '%s\n' "$prompt" | sed -n 's/.*SCENARIO: \([a-z-]*\).*/\1/p' | head -n 1)
if printf '%s' "$prompt" | grep -q "Your job is to review a change"; then
  if [ "$scenario" = "concern" ]; then
    say 'One doubt.\n\n```json\n{\"findings\": [{\"severity\": \"concern\", \"file\": \"hello.txt\", \"line\": 1, \"text\": \"Greetings end with a full stop here.\"}, {\"severity\": \"nit\", \"text\": \"Trailing space.\"}]}\n```'
  else
    say 'Nothing to report.\n\n```json\n{\"findings\": []}\n```'
  fi
  exit 0
fi
case "$scenario" in
  gate-once)
    if printf '%s' "$prompt" | grep -q "the gates failed"; then
      echo "hello, fixed" > hello.txt
      say "Fixed the greeting after the gate failed."
    else
      echo "hello, there" > hello.txt
      say "Changed the greeting."
    fi
    ;;
  edit|concern)
    echo "hello, fixed" > hello.txt
    say "Changed the greeting."
    ;;
  review)
    if printf '%s' "$prompt" | grep -q "Review feedback on pull request"; then
      echo "hello, fixed warmly" > hello.txt
      say 'Warmer now.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"changed\", \"reply\": \"Warmer.\"}, {\"id\": \"T2\", \"outcome\": \"answered\", \"reply\": \"Because the issue says so.\"}]}\n```'
    else
      echo "hello, fixed" > hello.txt
      say "Changed the greeting."
    fi
    ;;
  *)
    echo "unknown scenario: $scenario" >&2
    exit 3
    ;;
esac
"#;

/// Fails, saying why on its first line, until hello.txt says "fixed".
const GATES: &str = "gates:\n  - name: greeting\n    run: \"grep -q fixed hello.txt || \
                     { echo 'error: hello.txt must say fixed'; exit 1; }\"\nrounds: 3\n";

const SECTION: &str = "## What earlier runs in this repository learned";
/// The note's end: what the gate said (its command, quoted in every prompt's gates, says it too).
const LESSON: &str = "failed before it passed: error: hello.txt must say fixed";

/// `bosun learnings <args>` on the app's data directory; its standard output.
fn learnings_cli(run: &AgentApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("learnings")
        .args(args)
        .env("BOSUN_DATA_DIR", run.app.data_dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("bosun runs");
    assert!(
        out.status.success(),
        "bosun learnings {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_failed_once_is_learned_shown_to_the_next_task_and_deleted() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = images::image_with_files(
            "bosun-fake-claude-learnings",
            &[("/usr/local/bin/claude", FAKE_CLAUDE, 0o755)],
        );
        let run = AgentApp::start(&image, GATES).await;

        // The first task needs a second round: its gate said what the repository wants.
        let first = run
            .label_until_finished("Fix the greeting in hello.txt", "SCENARIO: gate-once")
            .await;
        assert!(has_label(&run.app.github, first, "bosun:done"));
        assert!(
            !run.prompt(first, 1).await.contains(SECTION),
            "nothing learned yet"
        );
        let listed = learnings_cli(&run, &["list", REPO]);
        assert_eq!(listed.lines().count(), 1, "{listed}");
        let fields: Vec<&str> = listed.split_whitespace().collect();
        assert_eq!(
            (fields[1], fields[2]),
            ("gate", format!("#{first}").as_str()),
            "a gate note of the first issue: {listed}"
        );
        assert!(
            listed.contains("gate `greeting` (`grep -q fixed hello.txt") && listed.contains(LESSON),
            "{listed}"
        );

        // A similar issue: its agent is told in its first round.
        let second = run
            .label_until_finished("The greeting in hello.txt is wrong", "SCENARIO: edit")
            .await;
        let prompt = run.prompt(second, 1).await;
        let section = prompt.find(SECTION).unwrap_or_else(|| panic!("{prompt}"));
        assert!(prompt[section..].contains(LESSON), "{prompt}");
        // It passed at once, so it taught nothing new.
        let listed_again = learnings_cli(&run, &["list", REPO]);
        assert_eq!(listed_again.lines().count(), 1, "{listed_again}");

        // Deleted by its id, it is gone from the next task's prompt.
        let id = listed.split_whitespace().next().unwrap();
        assert_eq!(
            learnings_cli(&run, &["delete", REPO, id]),
            format!("deleted learning {id} of {REPO}")
        );
        assert_eq!(
            learnings_cli(&run, &["list", REPO]),
            format!("{REPO} has no learnings yet")
        );
        let third = run
            .label_until_finished("Greeting in hello.txt again", "SCENARIO: edit")
            .await;
        let prompt = run.prompt(third, 1).await;
        assert!(
            !prompt.contains(SECTION) && !prompt.contains(LESSON),
            "{prompt}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_reviewers_concern_is_learned_and_its_nit_is_not() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = images::image_with_files(
            "bosun-fake-claude-learnings",
            &[("/usr/local/bin/claude", FAKE_CLAUDE, 0o755)],
        );
        let run = AgentApp::start(&image, GATES).await;
        let issue = run
            .label_until_finished("Fix the greeting in hello.txt", "SCENARIO: concern")
            .await;
        let listed = learnings_cli(&run, &["list", REPO]);
        assert_eq!(listed.lines().count(), 1, "{listed}");
        assert!(
            listed.contains(&format!("peer_review #{issue} "))
                && listed.ends_with(
                    "peer review concern (on `hello.txt`): Greetings end with a full stop here."
                ),
            "{listed}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_request_the_agent_changed_code_for_is_learned_and_a_question_is_not() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = images::image_with_files(
            "bosun-fake-claude-learnings",
            &[("/usr/local/bin/claude", FAKE_CLAUDE, 0o755)],
        );
        let run = AgentApp::start(&image, GATES).await;
        let gh = &run.app.github;
        let issue = run
            .label_until_finished("Fix the greeting in hello.txt", "SCENARIO: review")
            .await;
        let pr = gh.pulls(REPO)[0].clone();
        let (review, _) = gh.add_review(
            REPO,
            pr.number,
            WRITER,
            "CHANGES_REQUESTED",
            "Two small things.",
            &[
                ("hello.txt", 1, "Say it more warmly."),
                ("hello.txt", 1, "Why a comma?"),
            ],
        );
        let payload = review_submitted(&run.app, pr.number, review, WRITER);
        let answer = run
            .app
            .send_json("pull_request_review", "d-review", &payload)
            .await;
        assert_eq!(answer.status(), 202);
        let answered = |gh: &fake_github::FakeGitHub| {
            finished(gh, issue) && tracking(gh, issue).contains("Review threads:")
        };
        assert!(
            gh.wait_until(answered, Duration::from_secs(120)).await,
            "{}",
            tracking(gh, issue)
        );
        let listed = learnings_cli(&run, &["list", REPO]);
        assert_eq!(
            listed.lines().count(),
            1,
            "only the changed thread: {listed}"
        );
        assert!(
            listed.contains(&format!("review      #{issue} "))
                && listed.ends_with("a reviewer asked (on `hello.txt`): Say it more warmly."),
            "{listed}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}
