//! Issue 20, hole 9: CI on the pushed branch runs what the agent changed, with the
//! repository's secrets. In a real Docker container with a one-line `command` agent: a change
//! to protected paths (`.github/`, `Jenkinsfile`, by default) is held back from the push and
//! named in the tracking comment; someone without write access cannot let it in; a writer's
//! `@bosun-test approve` pushes it onto the branch as a fast-forward.

#[path = "support/images.rs"]
mod images;
mod support;

use std::time::Duration;

use support::agent_app::{AgentApp, WRITER};
use support::*;

const TEST_LIMIT: Duration = Duration::from_secs(5 * 60);
const READER: &str = "rick-reader";

fn server_config(image: &str) -> String {
    // The agent changes a file, and two that CI would run.
    let program = r#"sh -c "echo changed > hello.txt; mkdir -p .github/actions/build; echo 'runs: {using: composite, steps: []}' > .github/actions/build/action.yml; echo 'pipeline {}' > Jenkinsfile; echo '{\"type\":\"result\",\"ok\":true,\"message\":\"done\"}'""#;
    format!(
        "default_agent: shell\n\
         agents:\n  shell:\n    adapter: command\n    image: {image}\n    program: >-\n      {program}\n\
         limits:\n  memory_mb: 256\n  cpus: 1\n"
    )
}

fn branch_files(run: &AgentApp) -> Vec<String> {
    let branches = git(&run.bare, &["branch", "--format=%(refname:short)"]);
    let branch = branches
        .lines()
        .find(|b| b.starts_with("bosun/"))
        .expect("the task branch was pushed")
        .to_string();
    git(&run.bare, &["ls-tree", "-r", "--name-only", &branch])
        .lines()
        .map(str::to_string)
        .collect()
}

async fn comment(run: &AgentApp, issue: u64, body: &str, sender: &str, delivery: &str) {
    let id = run.app.github.add_comment(REPO, issue, body, sender);
    let payload = comment_created(&run.app, issue, id, body, sender);
    let answer = run.app.send_json("issue_comment", delivery, &payload).await;
    assert_eq!(answer.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_protected_paths_wait_for_a_writers_approval() {
    images::with_busybox(TEST_LIMIT, |image| async move {
        let run = AgentApp::start_with_config(
            &server_config(&image),
            "rounds: 1\npeer_review:\n  enabled: false\n",
        )
        .await;
        run.app.github.set_permission(REPO, READER, "read");
        let issue = run.label_until_finished("Touch CI", "Go.").await;
        let gh = &run.app.github;
        let text = tracking(gh, issue);
        assert!(has_label(gh, issue, "bosun:done"), "{text}");
        assert!(text.contains("Held back"), "{text}");
        assert!(
            text.contains("`.github/actions/build/action.yml`"),
            "{text}"
        );
        assert!(text.contains("`Jenkinsfile`"), "{text}");
        assert!(text.contains("@bosun-test approve"), "{text}");
        let files = branch_files(&run);
        assert!(files.contains(&"hello.txt".to_string()), "{files:?}");
        assert!(!files.contains(&"Jenkinsfile".to_string()), "{files:?}");
        assert!(
            !files.contains(&".github/actions/build/action.yml".to_string()),
            "{files:?}"
        );
        assert_eq!(gh.pulls(REPO).len(), 1);

        // Someone who may not write: ignored, nothing pushed.
        comment(&run, issue, "@bosun-test approve", READER, "approve-reader").await;
        run.app.settle().await;
        assert!(!branch_files(&run).contains(&"Jenkinsfile".to_string()));

        comment(&run, issue, "@bosun-test approve", WRITER, "approve-writer").await;
        run.app
            .wait_for("the approval's answer", |g| {
                g.comments(REPO, issue)
                    .iter()
                    .any(|c| c.body.contains("Approved by @octocat"))
            })
            .await;
        let files = branch_files(&run);
        assert!(files.contains(&"Jenkinsfile".to_string()), "{files:?}");
        assert!(
            files.contains(&".github/actions/build/action.yml".to_string()),
            "{files:?}"
        );
        assert!(files.contains(&"hello.txt".to_string()));
        run.app
            .wait_for("the tracking comment says who approved", |g| {
                tracking(g, issue).contains("approved by @octocat and pushed")
            })
            .await;

        // Approving again finds nothing held.
        comment(&run, issue, "@bosun-test approve", WRITER, "approve-again").await;
        run.app
            .wait_for("the second approval's answer", |g| {
                g.comments(REPO, issue)
                    .iter()
                    .any(|c| c.body.contains("Nothing is held back"))
            })
            .await;
        run.app.finish().await;
    })
    .await;
}
