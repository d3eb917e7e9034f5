//! Helpers shared by the integration tests: JWTs, an HTTP client, token minting.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

/// A second RSA key that the fake does not know.
pub const OTHER_PRIVATE_KEY: &str = include_str!("../keys/other-app.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs arbitrary claims with a PEM private key (RS256).
pub fn sign(claims: &Value, pem: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A valid App JWT, back-dated 60 s as GitHub's docs recommend.
pub fn app_jwt(app_id: u64) -> String {
    let now = now();
    sign(
        &json!({ "iat": now - 60, "exp": now + 540, "iss": app_id }),
        TEST_APP_PRIVATE_KEY,
    )
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// A request with GitHub's usual headers.
pub fn req(fake: &FakeGitHub, method: &str, path: &str) -> RequestBuilder {
    client()
        .request(method.parse().unwrap(), format!("{}{path}", fake.url()))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header("user-agent", "fake-github-tests")
}

/// Mints an installation token through the API and returns it.
pub async fn mint(fake: &FakeGitHub, installation_id: u64) -> String {
    let resp = req(
        fake,
        "POST",
        &format!("/app/installations/{installation_id}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// A fake with `octo/widgets` installed and one issue; returns (fake, token, issue number).
pub async fn fixture() -> (FakeGitHub, String, u64) {
    let fake = FakeGitHub::start().await;
    let (_, installation) = fake.add_repo("octo/widgets");
    let issue = fake.add_issue("octo/widgets", "Widgets wobble", "They wobble.", "alice");
    let token = mint(&fake, installation).await;
    (fake, token, issue)
}

/// Sends with `Authorization: token <t>` and returns (status, headers, JSON body).
pub async fn call(
    fake: &FakeGitHub,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = req(fake, method, path).header("authorization", format!("token {token}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    split(r.send().await.unwrap()).await
}

pub async fn split(resp: Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, headers, body)
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "fake-github-{tag}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `git` in `dir` with a fixed identity and no user/system configuration; returns stdout.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A real bare repository (`origin.git`) with `main` (one commit) and `feature` (one more
/// commit), both pushed from a temporary clone, plus `same` pointing at main's commit.
pub struct LocalRepo {
    pub dir: TempDir,
    pub bare: std::path::PathBuf,
    pub main_sha: String,
    pub feature_sha: String,
}

impl LocalRepo {
    pub fn create() -> LocalRepo {
        let dir = TempDir::new("repo");
        let root = dir.path().to_path_buf();
        git(
            &root,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "origin.git",
            ],
        );
        git(&root, &["clone", "--quiet", "origin.git", "work"]);
        let work = root.join("work");
        git(&work, &["checkout", "--quiet", "-B", "main"]);
        std::fs::write(work.join("README.md"), "hello\n").unwrap();
        git(&work, &["add", "README.md"]);
        git(&work, &["commit", "--quiet", "-m", "initial"]);
        git(&work, &["push", "--quiet", "origin", "main"]);
        let main_sha = git(&work, &["rev-parse", "HEAD"]);
        git(
            &work,
            &["push", "--quiet", "origin", "main:refs/heads/same"],
        );
        git(&work, &["checkout", "--quiet", "-b", "feature"]);
        std::fs::write(work.join("README.md"), "hello\nworld\n").unwrap();
        std::fs::write(work.join("NEW.md"), "new\n").unwrap();
        git(&work, &["add", "README.md", "NEW.md"]);
        git(&work, &["commit", "--quiet", "-m", "feature work"]);
        git(&work, &["push", "--quiet", "origin", "feature"]);
        let feature_sha = git(&work, &["rev-parse", "HEAD"]);
        LocalRepo {
            bare: root.join("origin.git"),
            dir,
            main_sha,
            feature_sha,
        }
    }

    /// `file:///…/origin.git`.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

/// Opens a pull request from `head` into `main` in `octo/widgets` through the API (so the App's
/// bot is its author); returns its number.
pub async fn open_pull(fake: &FakeGitHub, token: &str, head: &str) -> u64 {
    let (status, _, pr) = call(
        fake,
        token,
        "POST",
        "/repos/octo/widgets/pulls",
        Some(json!({ "title": format!("Work on {head}"), "head": head, "base": "main" })),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    pr["number"].as_u64().unwrap()
}

/// Mints a token for `installation` restricted to `permissions` (e.g. `{"issues": "write"}`).
pub async fn mint_limited(fake: &FakeGitHub, installation: u64, permissions: Value) -> String {
    let resp = req(
        fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .json(&json!({ "permissions": permissions }))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Ends a test that sends requests breaking GitHub's published contract on purpose (to see the
/// fake's error answers): takes the contract violations recorded so far, after checking that
/// each one is about a request. A violation in one of the fake's answers still fails the test.
pub fn take_deliberate_request_violations(fake: &FakeGitHub) {
    let taken = fake.take_contract_violations();
    let in_answers: Vec<&String> = taken
        .iter()
        .filter(|v| v.contains(" response ") || v.contains(" answer "))
        .collect();
    assert!(
        in_answers.is_empty(),
        "the fake's answers broke GitHub's published contract:\n{in_answers:#?}"
    );
}
