//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven through
//! `chromedriver`) against `bosun serve`'s router with the fake GitHub and a real agent run in
//! Docker. A writer signs in through the fake's OAuth flow, sees the task list, opens their
//! running task and watches the agent's lines arrive, presses Stop and the issue shows the
//! task stopped on the fake GitHub; a reader sees no foreign repository and cannot stop
//! anything. Screenshots of each page are kept in `<target>/test-artifacts/browser/`.

#[path = "support/images.rs"]
mod images;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use bosun_core::model::TaskId;
use support::dashboard::{labelled_issue_in, start};
use support::*;
use webdriver::{artifacts_dir, Browser};

const SECRET_REPO: &str = "other-org/secret";

/// An agent that says hello, then reports a step every 300 ms until it is stopped.
const TALKY_CLAUDE: &str = r#"#!/bin/sh
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"s1","model":"fake-model","tools":[]}'
i=0
while [ $i -lt 2000 ]; do
  echo "working on step $i"
  i=$((i+1))
  sleep 0.3
done
"#;

/// Whether this machine can run the test; in CI it must.
fn can_run() -> bool {
    if !images::require_docker() {
        return false;
    }
    match webdriver::missing() {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the browser test must run in CI: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED: {why}");
            false
        }
    }
}

#[tokio::test]
async fn a_writer_watches_and_stops_their_task_and_a_reader_sees_nothing_foreign() {
    if !can_run() {
        return;
    }
    tokio::time::timeout(std::time::Duration::from_secs(150), async {
        let image =
            images::image_with_files("dash-talky-claude", &[("/usr/local/bin/claude", TALKY_CLAUDE, 0o755)]);
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
        let app = start(&[], |c| {
            c.run_mode = "agent".into();
            c.run_config = Some(config.clone());
            // Two runs at once (runs get workers - 1 slots).
            c.workers = 3;
        })
        .await;
        let sweep = images::ContainerSweep::new(
            "bosun.instance",
            &bosun::run::runner::instance_label(app.data_dir.path()),
        );
        let shots = artifacts_dir("browser");
        let bare = bare_remote(dirs.path());
        let gh = &app.github;
        gh.add_repo(SECRET_REPO);
        for repo in [REPO, SECRET_REPO] {
            gh.set_clone_url(repo, &format!("file://{}", bare.display()));
        }
        gh.set_permission(REPO, "writer", "write");
        gh.set_permission(REPO, "reader", "read");
        gh.set_permission(SECRET_REPO, "owner2", "write");
        let mine = labelled_issue_in(&app, REPO, "Fix the parser", "writer").await;
        labelled_issue_in(&app, SECRET_REPO, "Secret plans", "owner2").await;
        app.wait_for("both tasks run", |g| {
            has_label(g, mine, "bosun:in-progress")
                && has_label_in(g, SECRET_REPO, 1, "bosun:in-progress")
        })
        .await;
        let (a, b) = (task_of(&app, REPO).await, task_of(&app, SECRET_REPO).await);

        let browser = Browser::start().await;
        // Signed out: only the way to sign in.
        browser.goto(&app.url).await;
        assert!(browser.wait_until("return !!document.getElementById('sign-in');").await);
        browser.screenshot(&shots, "01-sign-in.png").await;

        // The writer signs in with GitHub (the fake's website has them signed in).
        gh.sign_in_on_web(Some("writer"));
        browser.click("#sign-in").await;
        assert!(
            browser.wait_until("return !!document.getElementById('tasks');").await,
            "the task list after sign-in: {}",
            browser.text().await
        );
        let list = browser.text().await;
        assert!(list.contains("Fix the parser") && list.contains("writer"), "{list}");
        assert!(!list.contains("Secret plans") && !list.contains(SECRET_REPO), "{list}");
        assert_eq!(gh.oauth_exchanges(), 1);
        browser.screenshot(&shots, "02-task-list.png").await;

        // The running task's page: the agent's lines arrive while we watch.
        browser.click(&format!("tr[data-task='{a}'] a.task-link")).await;
        assert!(
            browser
                .wait_until("return document.querySelectorAll('#log .line').length >= 3;")
                .await,
            "log lines arrive: {}",
            browser.text().await
        );
        let seen = browser
            .eval("return document.querySelectorAll('#log .line').length;")
            .await
            .as_u64()
            .unwrap();
        assert!(
            browser
                .wait_until(&format!(
                    "return document.querySelectorAll('#log .line').length > {seen};"
                ))
                .await,
            "more lines arrive while the agent works"
        );
        let log = browser
            .eval("return document.getElementById('log').innerText;")
            .await;
        assert!(log.as_str().unwrap().contains("working on step 1"), "{log}");
        browser.screenshot(&shots, "03-task-running.png").await;

        // Stop: the page shows it, and so does the issue on GitHub.
        browser.click("#stop").await;
        assert!(
            browser
                .wait_until("var s=document.getElementById('status'); return !!s && s.textContent==='failed';")
                .await,
            "the page shows the task stopped: {}",
            browser.text().await
        );
        app.wait_for("the stop reaches GitHub", |g| {
            has_label(g, mine, "bosun:failed") && tracking(g, mine).contains("Stopped by @writer")
        })
        .await;
        browser.screenshot(&shots, "04-task-stopped.png").await;

        // The reader: no foreign repository, and no stopping it even by hand.
        browser.goto(&app.url).await;
        browser.click("header form button").await; // sign out
        assert!(browser.wait_until("return !!document.getElementById('sign-in');").await);
        gh.sign_in_on_web(Some("reader"));
        browser.click("#sign-in").await;
        assert!(
            browser.wait_until("return !!document.getElementById('no-tasks');").await,
            "the reader's list: {}",
            browser.text().await
        );
        let list = browser.text().await;
        assert!(list.contains("reader"), "{list}");
        assert!(!list.contains("Secret plans") && !list.contains("Fix the parser"), "{list}");
        browser.screenshot(&shots, "05-reader-list.png").await;
        browser.goto(&format!("{}/tasks/{b}", app.url)).await;
        assert!(browser.text().await.contains("no such task"));
        browser.screenshot(&shots, "06-reader-foreign-task.png").await;
        browser.goto(&app.url).await;
        let refused = browser
            .eval_async(&format!(
                "var csrf=document.querySelector('input[name=csrf]').value;\
                 fetch('/api/control/tasks/{b}/stop',{{method:'POST',headers:{{'x-csrf-token':csrf}}}})\
                 .then(function(r){{done(r.status);}},function(e){{done(String(e));}});"
            ))
            .await;
        assert_eq!(refused, 404, "a reader cannot stop a foreign task");
        let foreign = app.db().task(TaskId(b)).await.unwrap().unwrap();
        assert!(foreign.status.is_active(), "the foreign task still runs");
        browser.quit().await;

        // Tidy up: the other repository's run ends as an operator would end it.
        bosun::engine::control::stop(app.db(), TaskId(b), "`cli:test`")
            .await
            .unwrap();
        assert!(sweep.become_present(false).await, "the agents' containers are gone");
        eprintln!("screenshots in {}", shots.display());
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

fn has_label_in(gh: &fake_github::FakeGitHub, repo: &str, issue: u64, label: &str) -> bool {
    gh.issue_labels(repo, issue).iter().any(|l| l == label)
}

async fn task_of(app: &TestApp, repo: &str) -> i64 {
    app.db()
        .tasks_where(None, Some(&repo.parse().unwrap()), 5)
        .await
        .unwrap()[0]
        .task
        .id
        .0
}
