//! Installing the App does something: GitHub's example `installation.created` and
//! `installation_repositories.added` deliveries, aimed at the fake's installation, make the
//! trigger and plan labels in each repository (named as its `.github/bosun.yml` says), once,
//! also when a delivery comes again. (Suspending and uninstalling stop a running agent:
//! `tests/agent_run.rs`.)

mod support;

use support::*;

const SECOND: &str = "octo-org/second";

fn listed(id: u64, full_name: &str) -> serde_json::Value {
    let name = full_name.split('/').nth(1).unwrap();
    serde_json::json!({
        "id": id, "node_id": "R_x", "name": name, "full_name": full_name, "private": false,
    })
}

fn label_posts(app: &TestApp, repo: &str) -> usize {
    app.github
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == format!("/repos/{repo}/labels"))
        .count()
}

#[tokio::test]
async fn installing_the_app_makes_its_labels_once_in_each_repository() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let gh = &app.github;
        let mut created = fixture("installation", "created.payload.json");
        created["installation"]["id"] = app.installation_id.into();
        created["repositories"] = serde_json::json!([listed(app.repo_id, REPO)]);
        for delivery in ["d-installed", "d-installed-again"] {
            // Two events, two bodies (one body under two ids would be a replay).
            created["installation"]["updated_at"] = event_time().into();
            let answer = app.send_json("installation", delivery, &created).await;
            assert_eq!(answer.status(), 202);
            app.settle().await;
        }
        let made = |gh: &fake_github::FakeGitHub| {
            gh.repo_label(REPO, "bosun").is_some() && gh.repo_label(REPO, "bosun:plan").is_some()
        };
        assert!(gh.wait_until(made, TEST_TIMEOUT).await);
        let (_, color, description) = gh.repo_label(REPO, "bosun").unwrap();
        assert_eq!(
            description.as_deref(),
            Some("Ask bosun to work on this issue")
        );
        assert_eq!(color.len(), 6);
        assert!(gh.repo_label(REPO, "bosun:plan").unwrap().2.is_some());

        // A repository added later, whose configuration names its labels otherwise.
        let (second_id, installation) = gh.add_repo(SECOND);
        assert_eq!(
            installation, app.installation_id,
            "one owner, one installation"
        );
        gh.put_file(
            SECOND,
            ".github/bosun.yml",
            "trigger_label: ai please\nlabel_prefix: bot\n",
        );
        let mut added = fixture("installation_repositories", "added.payload.json");
        added["installation"]["id"] = app.installation_id.into();
        added["repositories_added"] = serde_json::json!([listed(second_id, SECOND)]);
        let answer = app
            .send_json("installation_repositories", "d-added", &added)
            .await;
        assert_eq!(answer.status(), 202);
        let named = |gh: &fake_github::FakeGitHub| {
            gh.repo_label(SECOND, "ai please").is_some()
                && gh.repo_label(SECOND, "bot:plan").is_some()
        };
        assert!(gh.wait_until(named, TEST_TIMEOUT).await);
        app.settle().await;
        assert!(gh.repo_label(SECOND, "bosun").is_none());

        // Each label was made once, though the installation came twice.
        assert_eq!(label_posts(&app, REPO), 2);
        assert_eq!(label_posts(&app, SECOND), 2);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_label_a_maintainer_made_is_left_as_it_is() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let gh = &app.github;
        let issue = gh.add_issue(REPO, "t", "b", "alice");
        gh.label_issue(REPO, issue, "bosun");
        let before = gh.repo_label(REPO, "bosun").unwrap();
        let mut created = fixture("installation", "created.payload.json");
        created["installation"]["id"] = app.installation_id.into();
        created["repositories"] = serde_json::json!([listed(app.repo_id, REPO)]);
        let answer = app.send_json("installation", "d-installed", &created).await;
        assert_eq!(answer.status(), 202);
        let plan = |gh: &fake_github::FakeGitHub| gh.repo_label(REPO, "bosun:plan").is_some();
        assert!(gh.wait_until(plan, TEST_TIMEOUT).await);
        app.settle().await;
        assert_eq!(gh.repo_label(REPO, "bosun").unwrap(), before);
        assert_eq!(label_posts(&app, REPO), 1, "only the plan label was made");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
