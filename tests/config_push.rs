//! A push that changes `.github/bosun.yml` on the default branch makes bosun read the file again
//! at once: its jobs appear (and go) without waiting for the repository's next issue event. The
//! shared fixtures hold no `push` example, so the payload is built here from the fields GitHub
//! documents for it (`ref`, `forced`, `commits[].added/modified/removed`, `repository` with
//! `default_branch`, `installation`), trimmed to what bosun reads plus a few it ignores.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

const CONFIG: &str = ".github/bosun.yml";
const WITH_A_JOB: &str =
    "jobs:\n  - name: deps\n    cron: '0 6 * * 1'\n    prompt: Update the dependencies.\n";

fn push(app: &TestApp, branch: &str, touched: &[&str]) -> Value {
    let (owner, name) = REPO.split_once('/').unwrap();
    // Each push its own commit, so no two pushes have the same body (bosun takes a body it saw
    // under another delivery id for a replay).
    static PUSHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PUSHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let after = format!("1481a2de7b2a7d02428ad93446ab166b{n:08x}");
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "17c497ccc7cca9c2f735aa07e9e3813060ce9a6a",
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "commits": [{
            "id": after,
            "message": "Change the settings",
            "added": [],
            "modified": touched,
            "removed": [],
        }],
        "repository": {
            "id": app.repo_id,
            "name": name,
            "full_name": REPO,
            "owner": { "login": owner, "name": owner },
            "default_branch": "main",
        },
        "pusher": { "name": "wanda", "email": "wanda@example.com" },
        "sender": { "login": "wanda", "id": user_id("wanda"), "type": "User" },
        "installation": { "id": app.installation_id },
    })
}

async fn job_listed(app: &TestApp, listed: bool) -> bool {
    let name = format!("{REPO}:deps");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if app.db().schedule(&name).await.unwrap().is_some() == listed {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_pushed_config_is_read_again_at_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        app.github.put_file(REPO, CONFIG, WITH_A_JOB);

        // A push to the default branch that changes the file: its job is listed.
        let answer = app
            .send_json("push", "p1", &push(&app, "main", &[CONFIG]))
            .await;
        assert_eq!(answer.status(), 202);
        assert!(job_listed(&app, true).await, "the job never appeared");

        // The job leaves the file, but on another branch, or in a push that does not touch
        // it: nothing is read, and the job stays.
        app.github.put_file(REPO, CONFIG, "trigger_label: bosun\n");
        app.send_json("push", "p2", &push(&app, "feature", &[CONFIG]))
            .await;
        app.send_json("push", "p3", &push(&app, "main", &["README.md"]))
            .await;
        app.settle().await;
        assert!(job_listed(&app, true).await);
        let reads = |app: &TestApp| {
            app.github
                .requests()
                .iter()
                .filter(|r| r.method == "GET" && r.path.ends_with("/contents/.github/bosun.yml"))
                .count()
        };
        assert_eq!(reads(&app), 1, "only the first push read the file");

        // The change reaches the default branch: the job is gone.
        app.send_json("push", "p4", &push(&app, "main", &[CONFIG]))
            .await;
        assert!(job_listed(&app, false).await, "the job was never removed");
        assert_eq!(reads(&app), 2);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
