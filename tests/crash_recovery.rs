//! A bosun process killed (SIGKILL) after it claimed a task finishes the task after a restart,
//! exactly once. The server runs as a real child process on a real SQLite file; in the agent
//! case its agent's container outlives it and is removed by the next start.

#[path = "support/images.rs"]
mod images;
mod support;

use bosun::db::Db;
use bosun_core::marker::TrackingMarker;
use bosun_core::model::{ProgressEvent, TaskEvent, TaskStatus};
use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::*;

const WRITER: &str = "wanda-writer";

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server's log goes to a file beside the data directory, printed when a wait fails.
/// `run` is the run mode's environment (`BOSUN_RUN_MODE` and what goes with it).
fn spawn_server(github: &FakeGitHub, data_dir: &Path, port: u16, run: &[(&str, String)]) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(data_dir))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn,bosun=debug")
        .env("GITHUB_APP_ID", github.app_id().to_string())
        .env("GITHUB_PRIVATE_KEY", TEST_APP_PRIVATE_KEY)
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("GITHUB_API_URL", github.url())
        .env("BOSUN_DATA_DIR", data_dir)
        .env("BOSUN_LISTEN", format!("127.0.0.1:{port}"))
        .env("BOSUN_LEASE_SECS", "2")
        .envs(run.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("bosun binary starts");
    Server(child)
}

fn placeholder(secs: u32) -> Vec<(&'static str, String)> {
    vec![
        ("BOSUN_RUN_MODE", "placeholder".into()),
        ("BOSUN_PLACEHOLDER_SECS", secs.to_string()),
    ]
}

fn log_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.with_extension("log")
}

fn server_log(data_dir: &Path) -> String {
    std::fs::read_to_string(log_path(data_dir)).unwrap_or_default()
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/health");
    for _ in 0..200 {
        if let Ok(res) = reqwest::get(&url).await {
            if res.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bosun on port {port} never became healthy");
}

#[tokio::test]
async fn a_killed_server_finishes_the_claimed_task_after_restart_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        init_logs();
        let github = FakeGitHub::start().await;
        let (repo_id, installation_id) = github.add_repo(REPO);
        github.set_permission(REPO, WRITER, "admin");
        let issue = github.add_issue(REPO, "Crash me", "", WRITER);
        github.label_issue(REPO, issue, "bosun");
        let data_dir = tempfile::tempdir().unwrap();

        // First life: the placeholder step takes 30 s, so the run is mid-way when killed.
        let port = free_port();
        let mut first = spawn_server(&github, data_dir.path(), port, &placeholder(30));
        wait_healthy(port).await;
        let mut payload = fixture("issues", "labeled.payload.json");
        retarget_raw(&mut payload, repo_id, installation_id, issue, WRITER);
        payload["label"]["name"] = "bosun".into();
        let body = serde_json::to_vec(&payload).unwrap();
        let answer = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/webhook"))
            .header("x-github-event", "issues")
            .header("x-github-delivery", "crash-1")
            .header(
                "x-hub-signature-256",
                bosun::github::signature::sign(SECRET, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
        assert!(
            github
                .wait_until(
                    |g| g
                        .issue_labels(REPO, issue)
                        .contains(&"bosun:in-progress".to_string()),
                    Duration::from_secs(20)
                )
                .await,
            "the task was claimed and started; server log:\n{}",
            server_log(data_dir.path())
        );
        first.0.kill().unwrap(); // SIGKILL: no shutdown, no lease release
        first.0.wait().unwrap();

        // Second life on the same data directory: the expired lease is reclaimed.
        let port = free_port();
        let _second = spawn_server(&github, data_dir.path(), port, &placeholder(0));
        wait_healthy(port).await;
        assert!(
            github
                .wait_until(
                    |g| g
                        .issue_labels(REPO, issue)
                        .contains(&"bosun:done".to_string()),
                    Duration::from_secs(30)
                )
                .await,
            "the task finished after the restart; server log:\n{}",
            server_log(data_dir.path())
        );

        let trackers: Vec<_> = github
            .comments(REPO, issue)
            .into_iter()
            .filter_map(|c| TrackingMarker::find(&c.body))
            .collect();
        assert_eq!(trackers.len(), 1, "one tracking comment across both lives");
        assert_eq!(trackers[0].status, TaskStatus::Done);

        let db = Db::open(data_dir.path()).await.unwrap();
        let task = db
            .task_for_issue(
                bosun_core::ids::RepoId(repo_id),
                bosun_core::ids::IssueNumber(issue),
            )
            .await
            .unwrap()
            .expect("task stored");
        let events = db.task_events(task.id).await.unwrap();
        let count = |f: fn(&TaskEvent) -> bool| events.iter().filter(|e| f(e)).count();
        assert_eq!(count(|e| matches!(e, TaskEvent::Triggered { .. })), 1);
        assert_eq!(
            count(|e| matches!(e, TaskEvent::Started { .. })),
            2,
            "{events:?}"
        );
        assert_eq!(
            count(|e| matches!(e, TaskEvent::Progress(ProgressEvent::PlaceholderRan { .. }))),
            1,
            "{events:?}"
        );
        assert_eq!(
            count(|e| matches!(e, TaskEvent::Finished { .. })),
            1,
            "{events:?}"
        );
        db.close().await;
    })
    .await
    .expect("test timed out");
}

/// Sends `issues.labeled` (label `bosun`, by the writer) to the server on `port`.
async fn label(port: u16, repo_id: u64, installation_id: u64, issue: u64, delivery: &str) {
    let mut payload = fixture("issues", "labeled.payload.json");
    retarget_raw(&mut payload, repo_id, installation_id, issue, WRITER);
    payload["label"]["name"] = "bosun".into();
    let body = serde_json::to_vec(&payload).unwrap();
    let answer = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("x-github-event", "issues")
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            bosun::github::signature::sign(SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
}

/// Killed while its agent runs: the container outlives bosun; the next start removes it,
/// reclaims the run, and the task ends with one pull request and one tracking comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_reaps_the_orphaned_agent_and_redoes_the_run_once() {
    if !images::require_docker() {
        return;
    }
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        init_logs();
        let agent = "#!/bin/sh\ncat > /dev/null\n\
            echo '{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"c\"}'\n\
            sleep 6\necho 'hello, after a crash' > hello.txt\n\
            echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Done.\",\"session_id\":\"c\"}'\n";
        let image = images::image_with_files("bosun-crash-agent", &[("/usr/local/bin/claude", agent, 0o755)]);
        let github = FakeGitHub::start().await;
        let (repo_id, installation_id) = github.add_repo(REPO);
        github.set_permission(REPO, WRITER, "admin");
        let issue = github.add_issue(REPO, "Crash mid-run", "", WRITER);
        github.label_issue(REPO, issue, "bosun");
        let work = tempfile::tempdir().unwrap();
        let bare = bare_remote(work.path());
        github.serve_git(REPO, &bare);
        let config = work.path().join("bosun-server.yml");
        // This agent never gives a verdict; reviews are tested in agent_run.rs.
        std::fs::write(&config, format!("agents:\n  claude:\n    adapter: claude\n    image: {image}\npeer_review: {{enabled: false}}\n")).unwrap();
        let agent_mode = vec![
            ("BOSUN_RUN_MODE", "agent".to_string()),
            ("BOSUN_CONFIG", config.display().to_string()),
        ];
        let data_dir = work.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let instance = bosun::run::runner::instance_label(&data_dir);
        let sweep = images::ContainerSweep::new("bosun.instance", &instance);

        let port = free_port();
        let mut first = spawn_server(&github, &data_dir, port, &agent_mode);
        wait_healthy(port).await;
        label(port, repo_id, installation_id, issue, "crash-agent-1").await;
        assert!(
            sweep.become_present(true).await,
            "the agent never ran:\n{}",
            server_log(&data_dir)
        );
        let orphan = sweep.containers();
        first.0.kill().unwrap();
        first.0.wait().unwrap();
        assert_eq!(sweep.containers(), orphan, "the agent's container outlives bosun");

        let port = free_port();
        let _second = spawn_server(&github, &data_dir, port, &agent_mode);
        wait_healthy(port).await;
        let opened = |g: &FakeGitHub| {
            !g.pulls(REPO).is_empty()
                && g.issue_labels(REPO, issue).contains(&"bosun:done".to_string())
        };
        assert!(
            github.wait_until(opened, Duration::from_secs(90)).await,
            "the task finished after the restart; server log:\n{}",
            server_log(&data_dir)
        );
        assert!(!sweep.containers().contains(&orphan[0]), "the orphan was reaped");
        assert_eq!(github.pulls(REPO).len(), 1);
        let trackers: Vec<_> = github
            .comments(REPO, issue)
            .into_iter()
            .filter_map(|c| TrackingMarker::find(&c.body))
            .collect();
        assert_eq!(trackers.len(), 1, "one tracking comment across both lives");
        assert_eq!(trackers[0].status, TaskStatus::Done);
    })
    .await
    .expect("test timed out");
}
