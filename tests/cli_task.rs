//! `bosun task …` as an operator runs it: the real binary, on the data directory of a server
//! that is running (in this process), with the effects of `kill` and `retry` observed where
//! people see them: on the fake GitHub, after the server's workers carried them out.

#[path = "support/images.rs"]
mod images;
mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use bosun_core::marker::TrackingMarker;
use bosun_core::model::{TaskEvent, TaskId, TaskStatus};
use fake_github::FakeGitHub;
use serde_json::Value;
use support::*;
use tokio::io::AsyncReadExt;

const WRITER: &str = "wanda-writer";
/// The local user the commands run as; the task's events name it.
const OPERATOR: &str = "tess-ops";
const ACTOR: &str = "`cli:tess-ops`";

fn task_cmd(data_dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bosun"));
    cmd.arg("task")
        .args(args)
        .env("BOSUN_DATA_DIR", data_dir)
        .env("USER", OPERATOR)
        .env_remove("BOSUN_CONFIG")
        .kill_on_drop(true);
    cmd
}

async fn task(data_dir: &Path, args: &[&str]) -> Output {
    task_cmd(data_dir, args)
        .output()
        .await
        .expect("the binary runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", out(o), err(o));
    out(o)
}

fn marker(gh: &FakeGitHub, issue: u64) -> Option<TrackingMarker> {
    gh.comments(REPO, issue)
        .iter()
        .find_map(|c| TrackingMarker::find(&c.body))
}

/// The issue shows `status` (label and tracking-comment marker) for attempt `attempt`.
fn shows(gh: &FakeGitHub, issue: u64, status: &str, attempt: u32) -> bool {
    has_label(gh, issue, &format!("bosun:{status}"))
        && marker(gh, issue).is_some_and(|m| m.status.as_str() == status && m.attempt == attempt)
}

async fn labelled_issue(app: &TestApp) -> u64 {
    app.github.set_permission(REPO, WRITER, "write");
    let issue = app
        .github
        .add_issue(REPO, "Fix the parser", "It panics on empty input.", WRITER);
    app.github.label_issue(REPO, issue, "bosun");
    let res = app
        .send_json("issues", "label-1", &labeled(app, issue, "bosun", WRITER))
        .await;
    assert_eq!(res.status(), 202);
    issue
}

#[tokio::test]
async fn list_get_kill_and_retry_go_through_the_running_server() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // The placeholder step takes long enough to be stopped while it runs.
        let app = TestApp::start_with(|c| c.placeholder_secs = 600.0).await;
        let data = app.data_dir.path().to_path_buf();
        let issue = labelled_issue(&app).await;
        app.wait_for("the task runs", |g| shows(g, issue, "in-progress", 1))
            .await;

        let listed = ok(&task(&data, &["list"]).await);
        let row = listed
            .lines()
            .find(|l| l.starts_with("1 "))
            .unwrap_or_else(|| panic!("task 1 listed:\n{listed}"));
        assert!(row.contains("in-progress"), "{row}");
        assert!(row.contains(&format!("{REPO}#{issue}")), "{row}");
        assert!(row.contains(WRITER), "{row}");
        let none = ok(&task(&data, &["list", "--status", "done"]).await);
        assert_eq!(none.trim(), "no tasks");
        let other = ok(&task(&data, &["list", "--repo", "someone/else"]).await);
        assert_eq!(other.trim(), "no tasks");
        let json: Value =
            serde_json::from_str(&ok(&task(&data, &["list", "--json"]).await)).unwrap();
        assert_eq!(json[0]["id"], 1);
        assert_eq!(json[0]["status"], "in-progress");
        assert_eq!(json[0]["issue"], issue);

        let shown = ok(&task(&data, &["get", "1"]).await);
        assert!(
            shown.contains("status    in-progress (attempt 1)"),
            "{shown}"
        );
        assert!(shown.contains(&format!("asked by  {WRITER}")), "{shown}");
        assert!(shown.contains(" triggered attempt=1 "), "{shown}");
        assert!(shown.contains(" started attempt=1"), "{shown}");
        let json: Value =
            serde_json::from_str(&ok(&task(&data, &["get", "1", "--json"]).await)).unwrap();
        assert_eq!(json["task"]["repo"], REPO);
        assert_eq!(json["attempt"], 1);
        assert_eq!(json["events"][0]["event"]["type"], "triggered");

        // The placeholder step runs no agent: there is no log, and that is said.
        let logs = task(&data, &["logs", "1"]).await;
        assert!(logs.status.success());
        assert!(
            err(&logs).contains("no agent output for task 1 attempt 1"),
            "{}",
            err(&logs)
        );

        let busy = task(&data, &["retry", "1"]).await;
        assert!(!busy.status.success());
        assert!(err(&busy).contains("still going"), "{}", err(&busy));

        let killed = ok(&task(&data, &["kill", "1"]).await);
        assert!(
            killed.contains(&format!("stop recorded, by {ACTOR}")),
            "{killed}"
        );
        app.wait_for("the stop reaches GitHub", |g| shows(g, issue, "failed", 1))
            .await;
        let comment = tracking(&app.github, issue);
        assert!(
            comment.contains(&format!("Stopped by @{ACTOR}")),
            "{comment}"
        );
        let events = app.db().task_events(TaskId(1)).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| *e == TaskEvent::Stopped { by: ACTOR.into() }),
            "{events:?}"
        );
        let again = task(&data, &["kill", "1"]).await;
        assert!(!again.status.success());
        assert!(err(&again).contains("nothing to stop"), "{}", err(&again));

        let retried = ok(&task(&data, &["retry", "1", "--note", "mind the empty case"]).await);
        assert!(retried.contains("attempt 2 queued"), "{retried}");
        app.wait_for("attempt 2 runs", |g| shows(g, issue, "in-progress", 2))
            .await;
        let comment = tracking(&app.github, issue);
        assert!(comment.contains(&format!("asked by @{ACTOR}")), "{comment}");
        let shown = ok(&task(&data, &["get", "1"]).await);
        assert!(
            shown.contains("status    in-progress (attempt 2)"),
            "{shown}"
        );
        assert!(shown.contains("mind the empty case"), "{shown}");

        ok(&task(&data, &["kill", "1"]).await);
        app.wait_for("attempt 2 stopped", |g| shows(g, issue, "failed", 2))
            .await;
        let row = app.db().task(TaskId(1)).await.unwrap().unwrap();
        assert_eq!((row.status, row.attempt), (TaskStatus::Failed, 2));
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_wrong_data_dir_is_named_instead_of_answered_empty() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let o = task(&dir.path().join("nowhere"), &["list"]).await;
        assert!(!o.status.success());
        assert!(err(&o).contains("no bosun database at"), "{}", err(&o));
        assert!(!dir.path().join("nowhere").exists(), "nothing was created");
    })
    .await
    .expect("test timed out");
}

/// An agent that says it started, then works until it is stopped.
const SLOW_CLAUDE: &str = r#"#!/bin/sh
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"s1","model":"fake-model","tools":[]}'
echo "reading the parser"
sleep 600
"#;

#[tokio::test]
async fn logs_follow_a_real_agent_run_until_kill_ends_it() {
    if !images::require_docker() {
        return;
    }
    tokio::time::timeout(TEST_TIMEOUT, async {
        let image = images::image_with_files(
            "cli-slow-claude",
            &[("/usr/local/bin/claude", SLOW_CLAUDE, 0o755)],
        );
        let dirs = tempfile::tempdir().unwrap();
        let config = dirs.path().join("bosun-server.yml");
        std::fs::write(
            &config,
            format!(
                "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
                 limits:\n  memory_mb: 256\n  cpus: 1\n"
            ),
        )
        .unwrap();
        let app = TestApp::start_with(|c| {
            c.run_mode = "agent".into();
            c.run_config = Some(config.clone());
        })
        .await;
        let data = app.data_dir.path().to_path_buf();
        let sweep = images::ContainerSweep::new(
            "bosun.instance",
            &bosun::run::runner::instance_label(&data),
        );
        let bare = bare_remote(dirs.path());
        app.github
            .set_clone_url(REPO, &format!("file://{}", bare.display()));
        let issue = labelled_issue(&app).await;
        assert!(
            sweep.become_present(true).await,
            "the agent's container starts"
        );

        // Follow the run while the agent works; the line it printed arrives.
        let mut follow = task_cmd(&data, &["logs", "1", "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = follow.stdout.take().unwrap();
        let mut seen = String::new();
        while !seen.contains("reading the parser") {
            let mut chunk = [0u8; 4096];
            let n = stdout.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the follower ended early: {seen}");
            seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        assert!(seen.starts_with("==> round-1/agent.log <=="), "{seen}");

        ok(&task(&data, &["kill", "1"]).await);
        // The follower ends by itself once the attempt is over.
        let status = tokio::time::timeout(Duration::from_secs(30), follow.wait())
            .await
            .expect("the follower stops when the task ends")
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        follow
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .await
            .unwrap();
        assert!(rest.contains("task 1 attempt 1 is over: failed"), "{rest}");

        app.wait_for("the stop reaches GitHub", |g| shows(g, issue, "failed", 1))
            .await;
        assert!(
            sweep.become_present(false).await,
            "the container was stopped"
        );
        // Without --follow the whole log prints at once.
        let all = ok(&task(&data, &["logs", "1"]).await);
        assert!(all.contains("reading the parser"), "{all}");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
