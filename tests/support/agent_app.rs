//! bosun in agent mode (real sandbox, real git) on a local bare remote: start it with a server
//! and a repository config, label issues as a writer would, wait for their tasks to finish, and
//! read the prompts their agents got.

use std::path::PathBuf;
use std::time::Duration;

use fake_github::FakeGitHub;
use tempfile::TempDir;

use super::*;

/// The person who labels issues; has write permission on `REPO`.
pub const WRITER: &str = "octocat";

pub struct AgentApp {
    pub app: TestApp,
    /// The repository's remote, as bosun clones and pushes it.
    pub bare: PathBuf,
    /// Holds the server's configuration and the remote; also a place for a test's own files.
    pub dirs: TempDir,
}

impl AgentApp {
    /// One agent `fake` (adapter claude) running in `image`, and `.github/bosun.yml` =
    /// `repo_config` (none when empty).
    pub async fn start(image: &str, repo_config: &str) -> AgentApp {
        let server_config = format!(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
             limits:\n  memory_mb: 256\n  cpus: 1\n"
        );
        Self::start_with_config(&server_config, repo_config).await
    }

    /// The server's run configuration is `server_config`; `.github/bosun.yml` is
    /// `repo_config` (none when empty).
    pub async fn start_with_config(server_config: &str, repo_config: &str) -> AgentApp {
        let dirs = tempfile::tempdir().unwrap();
        let config_path = dirs.path().join("bosun-server.yml");
        std::fs::write(&config_path, server_config).unwrap();
        let app = TestApp::start_with(|c| {
            c.run_mode = "agent".into();
            c.run_config = Some(config_path.clone());
        })
        .await;
        let bare = bare_remote(dirs.path());
        app.github
            .set_clone_url(REPO, &format!("file://{}", bare.display()));
        app.github.set_permission(REPO, WRITER, "write");
        if !repo_config.is_empty() {
            app.github.put_file(REPO, ".github/bosun.yml", repo_config);
        }
        AgentApp { app, bare, dirs }
    }

    /// Opens an issue as the writer, labels it, and waits (two minutes at most) until its
    /// task finished.
    pub async fn label_until_finished(&self, title: &str, body: &str) -> u64 {
        self.label_and_wait(title, body, finished).await
    }

    /// Opens an issue as the writer, labels it, and waits (two minutes at most) until `done`
    /// holds for it.
    pub async fn label_and_wait(
        &self,
        title: &str,
        body: &str,
        done: impl Fn(&FakeGitHub, u64) -> bool,
    ) -> u64 {
        let issue = self.app.github.add_issue(REPO, title, body, WRITER);
        let payload = labeled_as_on_github(&self.app, issue, title, body);
        let answer = self
            .app
            .send_json("issues", &format!("d-{issue}"), &payload)
            .await;
        assert_eq!(answer.status(), 202);
        let ok = self
            .app
            .github
            .wait_until(|gh| done(gh, issue), Duration::from_secs(120))
            .await;
        if !ok {
            let comments = self.app.github.comments(REPO, issue);
            panic!("the task of #{issue} did not finish as expected; comments: {comments:#?}");
        }
        issue
    }

    /// Comments `@bosun-test stop` on `issue`, whose agent is running, and waits (a minute at
    /// most) until the task ends stopped: "Stopped by" in its comment, `bosun:failed`, and no
    /// pull request. (That its container is gone is the caller's to check.)
    pub async fn stop_and_see_it_end(&self, issue: u64) {
        let gh = &self.app.github;
        let comment_id = gh.add_comment(REPO, issue, "@bosun-test stop", WRITER);
        let stop = comment_created(&self.app, issue, comment_id, "@bosun-test stop", WRITER);
        let answer = self.app.send_json("issue_comment", "d-stop", &stop).await;
        assert_eq!(answer.status(), 202);
        let stopped = |gh: &FakeGitHub| {
            tracking(gh, issue).contains("Stopped by @octocat")
                && has_label(gh, issue, "bosun:failed")
        };
        assert!(
            gh.wait_until(stopped, Duration::from_secs(60)).await,
            "{}",
            tracking(gh, issue)
        );
        assert!(gh.pulls(REPO).is_empty());
    }

    /// The prompt the agent got in `round` of the first attempt at `issue`.
    pub async fn prompt(&self, issue: u64, round: u32) -> String {
        let task = self
            .app
            .db()
            .task_for_issue(
                bosun_core::ids::RepoId(self.app.repo_id),
                bosun_core::ids::IssueNumber(issue),
            )
            .await
            .unwrap()
            .expect("a task for the issue");
        let path = self.app.data_dir.path().join(format!(
            "runs/task-{}/attempt-1/round-{round}/input/prompt.md",
            task.id.0
        ));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Whether the issue's task finished: a final status label and the tracking comment ticked.
pub fn finished(gh: &FakeGitHub, issue: u64) -> bool {
    let labels = gh.issue_labels(REPO, issue);
    labels
        .iter()
        .any(|l| ["bosun:done", "bosun:failed", "bosun:needs-review"].contains(&l.as_str()))
        && tracking(gh, issue).contains("[x] Finished")
}

/// `issues.labeled` by the writer, carrying the issue's title, body and author, as GitHub
/// sends it.
pub fn labeled_as_on_github(
    app: &TestApp,
    issue: u64,
    title: &str,
    body: &str,
) -> serde_json::Value {
    let mut payload = labeled(app, issue, "bosun", WRITER);
    payload["issue"]["title"] = title.into();
    payload["issue"]["body"] = body.into();
    payload["issue"]["user"]["login"] = WRITER.into();
    payload
}

/// `pull_request_review.submitted` for review `review` of pull request `pr`, from GitHub's real
/// example around the fake's own shapes of the review and the pull request.
pub fn review_submitted(app: &TestApp, pr: u64, review: u64, sender: &str) -> serde_json::Value {
    let mut p = fixture("pull_request_review", "submitted.payload.json");
    retarget(&mut p, app, pr, sender);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("issue");
    }
    p["review"] = app.github.review_json(REPO, pr, review);
    p["review"]["state"] = p["review"]["state"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase()
        .into();
    p["pull_request"] = app.github.pull_json(REPO, pr);
    p
}
