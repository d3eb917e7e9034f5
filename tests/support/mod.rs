//! The test app: the real bosun router served on loopback, pointed at the fake GitHub, plus
//! helpers to sign and send real webhook payloads. Every integration test goes through here.
#![allow(dead_code)] // each test binary uses its own subset

pub mod agent_app;
pub mod dashboard;
pub mod door;

use bosun::app::Bosun;
use bosun::config::server::ServerConfig;
use bosun::github::signature::sign;
use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

pub const SECRET: &str = "test-webhook-secret";
pub const REPO: &str = "octo-org/hello-world";

/// A hard limit for every integration test: a hang fails instead of blocking CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A real example payload from `tests/fixtures/webhooks/<event>/<file>`.
pub fn fixture(event: &str, file: &str) -> Value {
    let path = fixtures_dir().join("webhooks").join(event).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn server_config(github_url: &str, data_dir: &Path, app_id: u64) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        github_app_id: Some(app_id),
        github_private_key: Some(TEST_APP_PRIVATE_KEY.to_string()),
        github_private_key_path: None,
        github_webhook_secret: Some(SECRET.to_string()),
        github_api_url: github_url.to_string(),
        github_web_url: github_url.to_string(),
        mention_handle: None,
        allowed_bot_ids: vec![],
        public_url: None,
        webhook_proxy_url: None,
        setup_allow_remote: false,
        workers: 2,
        webhook_bodies_in_flight: 64,
        webhook_body_timeout_secs: 30,
        max_connections: 1024,
        header_timeout_secs: 10,
        lease_secs: 5,
        run_config: None,
        redelivery_sweep_secs: 0,
        run_mode: "placeholder".into(),
        placeholder_secs: 0.0,
        log_format: "text".into(),
        dashboard: Default::default(),
    }
}

pub struct TestApp {
    pub github: FakeGitHub,
    pub url: String,
    pub data_dir: TempDir,
    pub repo_id: u64,
    pub installation_id: u64,
    http: reqwest::Client,
    bosun: Option<Bosun>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,bosun=info".into()),
        )
        .with_test_writer()
        .try_init();
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    /// Starts the fake GitHub (with `REPO` installed) and bosun, letting `tweak` adjust the
    /// server config first.
    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
        Self::start_custom(|_| {}, tweak).await
    }

    /// Like `start_with`, and `prepare` gets the fake GitHub before bosun starts (to inject
    /// faults into bosun's first calls).
    pub async fn start_custom(
        prepare: impl FnOnce(&FakeGitHub),
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestApp {
        init_logs();
        let github = FakeGitHub::start().await;
        prepare(&github);
        let (repo_id, installation_id) = github.add_repo(REPO);
        let data_dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = server_config(&github.url(), data_dir.path(), github.app_id());
        // Where people reach it, as an operator configures it; GitHub's callback URL for
        // dashboard sign-in is registered for it.
        config.listen = addr;
        config.public_url = Some(format!("http://{addr}"));
        github.set_callback_urls(&[&format!("http://{addr}/auth/callback")]);
        tweak(&mut config);
        let bosun = Bosun::build(config).await.expect("bosun builds");
        // Served as `bosun serve` serves it: the same connection limits.
        let server = tokio::spawn(bosun.serve_on(listener, std::future::pending()));
        TestApp {
            github,
            url: format!("http://{addr}"),
            data_dir,
            repo_id,
            installation_id,
            http: reqwest::Client::new(),
            bosun: Some(bosun),
            server: Some(server),
        }
    }

    /// The one-time set-up code `bosun serve` prints in its log.
    pub fn setup_code(&self) -> String {
        self.bosun
            .as_ref()
            .unwrap()
            .state
            .setup_guard
            .code()
            .to_string()
    }

    /// What bosun's listener saw: open, refused and timed-out connections.
    pub fn connections(&self) -> std::sync::Arc<bosun::server::listen::ConnCounters> {
        self.bosun.as_ref().unwrap().state.connections.clone()
    }

    pub fn db(&self) -> &bosun::db::Db {
        &self.bosun.as_ref().unwrap().state.db
    }

    /// Sends `body` signed with the test secret, as GitHub would.
    pub async fn send(&self, event: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        self.post(event, delivery, body, Some(&sign(SECRET, body)))
            .await
    }

    pub async fn send_json(
        &self,
        event: &str,
        delivery: &str,
        payload: &Value,
    ) -> reqwest::Response {
        self.send(event, delivery, &serde_json::to_vec(payload).unwrap())
            .await
    }

    pub async fn post(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/webhook", self.url))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.expect("bosun answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("bosun answers")
    }

    /// Waits until `check` holds on the fake GitHub.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&FakeGitHub) -> bool) {
        assert!(
            self.github.wait_until(check, Duration::from_secs(20)).await,
            "timed out waiting for: {what}"
        );
    }

    /// Waits until the queue has nothing queued or running.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let waiting = self.db().waiting_deliveries(1).await.unwrap();
            let jobs = self.db().job_counts().await.unwrap();
            let busy = jobs
                .iter()
                .any(|(s, n)| (s == "queued" || s == "running") && *n > 0);
            if waiting.is_empty() && !busy {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "queue never drained: {jobs:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Strict teardown: the queue must drain with no job dead (unless the test expects some),
    /// then everything stops.
    pub async fn finish(mut self) {
        self.settle().await;
        let jobs = self.db().job_counts().await.unwrap();
        assert!(
            !jobs.iter().any(|(s, n)| s == "dead" && *n > 0),
            "a job died: {jobs:?}"
        );
        self.shutdown().await;
    }

    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(bosun) = self.bosun.take() {
            bosun.stop(Duration::from_secs(5)).await;
        }
    }
}

/// `issues.labeled` from the real example, moved onto `repo`/`issue` and sent by `sender`.
/// As on GitHub, the issue carries the label when the event is sent (bosun reads it again
/// before it starts work).
pub fn labeled(app: &TestApp, issue: u64, label: &str, sender: &str) -> Value {
    app.github.label_issue(REPO, issue, label);
    labeled_payload(app, issue, label, sender)
}

/// The `issues.labeled` payload alone, for an issue the caller labels itself (one in another
/// repository than `REPO`).
pub fn labeled_payload(app: &TestApp, issue: u64, label: &str, sender: &str) -> Value {
    let mut p = fixture("issues", "labeled.payload.json");
    retarget(&mut p, app, issue, sender);
    p["label"]["name"] = label.into();
    p
}

/// `issues.closed` with GitHub's `state_reason`, by `sender`. GitHub's examples hold no
/// `closed` one, so it is the real `labeled` example with the action and state changed.
pub fn issue_closed(app: &TestApp, issue: u64, reason: &str, sender: &str) -> Value {
    let mut p = fixture("issues", "labeled.payload.json");
    retarget(&mut p, app, issue, sender);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("label");
    }
    p["action"] = "closed".into();
    p["issue"]["state"] = "closed".into();
    p["issue"]["state_reason"] = reason.into();
    p
}

/// `issues.reopened` from the real example, moved onto `issue` and sent by `sender`.
pub fn issue_reopened(app: &TestApp, issue: u64, sender: &str) -> Value {
    let mut p = fixture("issues", "reopened.payload.json");
    retarget(&mut p, app, issue, sender);
    p
}

/// Whether the issue carries `label` on the fake GitHub.
pub fn has_label(gh: &FakeGitHub, issue: u64, label: &str) -> bool {
    gh.issue_labels(REPO, issue).iter().any(|l| l == label)
}

/// The body of the issue's tracking comment (empty before bosun posted it).
pub fn tracking(gh: &FakeGitHub, issue: u64) -> String {
    gh.comments(REPO, issue)
        .into_iter()
        .find(|c| c.body.contains("bosun:task"))
        .map(|c| c.body)
        .unwrap_or_default()
}

/// `pull_request.closed` for bosun's pull request `pr`, from GitHub's real example, by
/// `sender`.
pub fn pull_closed(
    app: &TestApp,
    pr: &fake_github::PullRecord,
    merged: bool,
    sender: &str,
) -> Value {
    let mut p = fixture("pull_request", "closed.payload.json");
    retarget(&mut p, app, pr.number, sender);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("issue");
    }
    p["number"] = pr.number.into();
    p["pull_request"]["number"] = pr.number.into();
    p["pull_request"]["merged"] = merged.into();
    p["pull_request"]["head"]["ref"] = pr.head.clone().into();
    p["pull_request"]["head"]["sha"] = pr.head_sha.clone().into();
    p["pull_request"]["head"]["repo"]["full_name"] = REPO.into();
    p
}

/// `issue_comment.created` from the real example, with `body`, by `sender`.
pub fn comment_created(
    app: &TestApp,
    issue: u64,
    comment_id: u64,
    body: &str,
    sender: &str,
) -> Value {
    let mut p = fixture("issue_comment", "created.payload.json");
    retarget(&mut p, app, issue, sender);
    p["comment"]["id"] = comment_id.into();
    p["comment"]["body"] = body.into();
    p["comment"]["user"] = p["sender"].clone();
    p
}

/// Points a real payload at the fake's repository and issue, and sets the sender.
pub fn retarget(p: &mut Value, app: &TestApp, issue: u64, sender: &str) {
    retarget_raw(p, app.repo_id, app.installation_id, issue, sender)
}

pub fn retarget_raw(p: &mut Value, repo_id: u64, installation_id: u64, issue: u64, sender: &str) {
    let (owner, name) = REPO.split_once('/').unwrap();
    p["repository"]["id"] = repo_id.into();
    p["repository"]["name"] = name.into();
    p["repository"]["full_name"] = REPO.into();
    p["repository"]["owner"]["login"] = owner.into();
    p["issue"]["number"] = issue.into();
    p["issue"]["updated_at"] = event_time().into();
    if let Some(obj) = p["issue"].as_object_mut() {
        obj.remove("pull_request");
    }
    p["installation"] = serde_json::json!({ "id": installation_id });
    p["sender"]["login"] = sender.into();
    p["sender"]["id"] = user_id(sender).into();
    p["sender"]["type"] = if sender.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    }
    .into();
}

/// A time of its own for each event a test builds, as GitHub's payloads carry the state of
/// what they are about at the time of the event (`updated_at`): two events never have the same
/// body, and bosun takes a body it saw within a day under another delivery id for a replay.
pub fn event_time() -> String {
    static BUILT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let n = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (chrono::Utc::now() + chrono::Duration::seconds(n))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A stable fake user id per login.
pub fn user_id(login: &str) -> u64 {
    login
        .bytes()
        .fold(1000u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % 1_000_000
}

/// Runs git in `dir` (no system or user config) and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository `root/remote.git` with `hello.txt` on `main`, to serve as a repository's
/// remote (`set_clone_url` or `serve_git`).
pub fn bare_remote(root: &Path) -> std::path::PathBuf {
    let bare = root.join("remote.git");
    let seed = root.join("seed");
    git(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    git(root, &["init", "-q", "-b", "main", "seed"]);
    std::fs::write(seed.join("hello.txt"), "hello\n").unwrap();
    commit_all(&seed, "seed");
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    bare
}

/// Commits everything in the work tree `dir` as a test author.
pub fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            message,
        ],
    );
}
