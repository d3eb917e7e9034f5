//! The built-in GitHub simulator (`fake-github`, the same one the integration tests use) with
//! the sample repository, its writer and the issue, and the `issues.labeled` webhook a person
//! labelling the issue makes GitHub send.

use std::path::{Path, PathBuf};

use fake_github::{FakeGitHub, FakeOptions};
use serde_json::{json, Value};

use super::sample::{self, REPO, WRITER};
use crate::github::signature::sign;

/// The label that starts a task (a repository's `trigger_label` default).
pub const TRIGGER_LABEL: &str = "bosun";
/// The simulated App's slug: its bot is `bosun-demo[bot]`.
const APP_SLUG: &str = "bosun-demo";

pub struct Simulator {
    pub github: FakeGitHub,
    pub repo_id: u64,
    pub installation_id: u64,
    pub issue: u64,
    /// The sample repository the simulator serves (and bosun pushes to).
    pub bare: PathBuf,
}

impl Simulator {
    /// Starts the simulator on loopback with the App installed on the sample repository, the
    /// repository served over git's smart HTTP (installation tokens as passwords, as on
    /// GitHub), its files also on the contents API (where bosun reads `.github/bosun.yml`),
    /// and the issue opened by the writer.
    pub async fn start(dir: &Path) -> anyhow::Result<Simulator> {
        let github = FakeGitHub::start_with(FakeOptions {
            app_slug: APP_SLUG.into(),
            ..FakeOptions::default()
        })
        .await;
        let (repo_id, installation_id) = github.add_repo(REPO);
        let bare = sample::create(dir)?;
        github.serve_git(REPO, &bare);
        for (path, content, _) in sample::FILES {
            github.put_file(REPO, path, content);
        }
        github.set_permission(REPO, WRITER, "write");
        let issue = github.add_issue(REPO, sample::ISSUE_TITLE, sample::ISSUE_BODY, WRITER);
        Ok(Simulator {
            github,
            repo_id,
            installation_id,
            issue,
            bare,
        })
    }

    /// Labels the issue as the writer would, and delivers the webhook GitHub sends for it to
    /// bosun's `/webhook`, signed with the App's webhook secret.
    pub async fn label(&self, bosun_url: &str, secret: &str) -> anyhow::Result<()> {
        self.github.label_issue(REPO, self.issue, TRIGGER_LABEL);
        let body = serde_json::to_vec(&self.labeled_payload())?;
        let delivery = format!("demo-{:032x}", rand::random::<u128>());
        let answer = reqwest::Client::new()
            .post(format!("{bosun_url}/webhook"))
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/bosun-demo")
            .header("x-github-event", "issues")
            .header("x-github-delivery", &delivery)
            .header("x-hub-signature-256", sign(secret, &body))
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().as_u16() == 202,
            "bosun answered the labeled webhook with {}",
            answer.status()
        );
        Ok(())
    }

    /// `issues.labeled` as GitHub sends it: the action, the label, the issue, the repository,
    /// the sender and the installation. The objects are the simulator's own REST views (the
    /// same renderers answer `GET /repos/…/issues/1`), so the payload and later API reads
    /// agree.
    fn labeled_payload(&self) -> Value {
        let issue = self.github.issue_json(REPO, self.issue);
        let label = issue["labels"]
            .as_array()
            .and_then(|all| all.iter().find(|l| l["name"] == TRIGGER_LABEL))
            .cloned()
            .unwrap_or_else(|| json!({ "name": TRIGGER_LABEL }));
        json!({
            "action": "labeled",
            "label": label,
            // The writer opened the issue and labels it.
            "sender": issue["user"].clone(),
            "repository": self.github.repo_json(REPO),
            "installation": { "id": self.installation_id },
            "issue": issue,
        })
    }
}
