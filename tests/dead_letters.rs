//! Issue 20, hole 7: nothing accepted is dropped without a trace. Through the real router and
//! queue against the fake GitHub:
//! - a trigger GitHub rate-limits waits for the limit's reset, without using up its tries;
//! - a trigger bosun gives up on leaves one comment on its issue (once GitHub answers) and a
//!   dead job, which `bosun task dead` lists and `bosun task replay`, or the dashboard's
//!   Replay (for `--admins`), runs again, so the task then happens.

mod support;

use std::path::Path;
use std::time::Duration;

use fake_github::Fault;
use support::*;

const WRITER: &str = "wanda-writer";

fn permission_path(login: &str) -> String {
    format!("/repos/{REPO}/collaborators/{login}/permission")
}

fn gave_up_comment(app: &TestApp, issue: u64) -> Option<String> {
    app.github
        .comments(REPO, issue)
        .into_iter()
        .map(|c| c.body)
        .find(|b| b.contains("could not act on"))
}

fn done(app: &TestApp, issue: u64) -> bool {
    has_label(&app.github, issue, "bosun:done")
}

async fn bosun_task(data_dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
        .arg("task")
        .args(args)
        .env("BOSUN_DATA_DIR", data_dir)
        .env_remove("BOSUN_CONFIG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs")
}

/// A labelled issue whose trigger GitHub refuses once with an error retrying cannot fix: the
/// trigger job dies at once. Returns the app, the issue and the dead job's id.
async fn a_given_up_trigger(app: &TestApp) -> (u64, i64) {
    app.github.set_permission(REPO, WRITER, "write");
    let issue = app
        .github
        .add_issue(REPO, "Fix the parser", "It panics.", WRITER);
    app.github
        .inject("GET", &permission_path(WRITER), Fault::Status(403), 1);
    app.github.label_issue(REPO, issue, "bosun");
    let res = app
        .send_json("issues", "dead-1", &labeled(app, issue, "bosun", WRITER))
        .await;
    assert_eq!(res.status(), 202);
    app.wait_for("the gave-up notice", |_| {
        gave_up_comment(app, issue).is_some()
    })
    .await;
    let dead = app.db().dead_jobs(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].kind, "trigger");
    (issue, dead[0].id.0)
}

#[tokio::test]
async fn a_given_up_trigger_is_said_on_its_issue_and_replayed_from_the_cli() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let (issue, job) = a_given_up_trigger(&app).await;
        let notice = gave_up_comment(&app, issue).unwrap();
        assert!(
            notice.contains("the label `bosun` by @wanda-writer"),
            "{notice}"
        );
        assert!(
            notice.contains(&format!("bosun task replay {job}")),
            "{notice}"
        );
        assert!(!done(&app, issue));

        let data = app.data_dir.path();
        let listed = bosun_task(data, &["dead"]).await;
        let text = String::from_utf8_lossy(&listed.stdout);
        assert!(listed.status.success(), "{text}");
        assert!(
            text.contains(&format!(
                "trigger {REPO}#{issue}: the label `bosun` by @{WRITER}"
            )),
            "{text}"
        );
        assert!(
            text.contains("forbidden"),
            "the last error is shown: {text}"
        );

        let replayed = bosun_task(data, &["replay", &job.to_string()]).await;
        assert!(
            replayed.status.success(),
            "{}",
            String::from_utf8_lossy(&replayed.stderr)
        );
        app.wait_for("the replayed trigger's task done", |_| done(&app, issue))
            .await;
        let again = bosun_task(data, &["replay", &job.to_string()]).await;
        assert!(!again.status.success(), "a job is replayed once");
        // One notice, however often its job ran.
        let notices = app
            .github
            .comments(REPO, issue)
            .into_iter()
            .filter(|c| c.body.contains("could not act on"))
            .count();
        assert_eq!(notices, 1);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_dashboard_lists_dead_jobs_to_operators_and_replays_them() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = support::dashboard::start(&["olive-ops"], |_| {}).await;
        let (issue, job) = a_given_up_trigger(&app).await;
        // A writer of the repository, not an administrator: sees no dead letters, may not
        // replay one.
        let writer = support::dashboard::sign_in(&app, WRITER).await;
        let (status, queue) = writer.get_json("/api/queue").await;
        assert_eq!(status, 200);
        assert_eq!(queue["dead"], serde_json::json!([]), "{queue}");
        let path = format!("/api/control/jobs/{job}/replay");
        let (status, _) = writer.control(&path, &[]).await;
        assert_eq!(status, 403);

        let ops = support::dashboard::sign_in(&app, "olive-ops").await;
        let (_, queue) = ops.get_json("/api/queue").await;
        let dead = queue["dead"].as_array().unwrap();
        assert_eq!(dead.len(), 1, "{queue}");
        assert_eq!(dead[0]["job"], job);
        let page = ops.get("/").await.text().await.unwrap();
        assert!(page.contains("id=\"dead-jobs\""), "{page}");
        assert!(
            page.contains(&format!("/api/control/jobs/{job}/replay")),
            "{page}"
        );

        let (status, _) = ops.control(&path, &[]).await;
        assert_eq!(status, 200);
        app.wait_for("the replayed trigger's task done", |_| done(&app, issue))
            .await;
        let (status, _) = ops.control(&path, &[]).await;
        assert_eq!(status, 409, "replayed once");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_rate_limited_trigger_waits_for_the_reset_without_using_up_its_tries() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let mut app = TestApp::start().await;
        app.github.set_permission(REPO, WRITER, "write");
        let issue = app.github.add_issue(REPO, "Fix it", "Please.", WRITER);
        // The limit resets in an hour: longer than the door sits through in one call.
        app.github.inject(
            "GET",
            &permission_path(WRITER),
            Fault::PrimaryRateLimit {
                reset_in_secs: 3600,
            },
            1,
        );
        app.github.label_issue(REPO, issue, "bosun");
        let res = app
            .send_json(
                "issues",
                "limited-1",
                &labeled(&app, issue, "bosun", WRITER),
            )
            .await;
        assert_eq!(res.status(), 202);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let (state, tries, error) = loop {
            let jobs = app.db().jobs_of_kind("trigger").await.unwrap();
            if let Some((state, tries, Some(error))) = jobs.into_iter().next() {
                break (state, tries, error);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the trigger never ran"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(state, "queued", "{error}");
        assert_eq!(tries, 0, "waiting for a rate limit is not a failed try");
        let due = app.db().next_job_due().await.unwrap().unwrap();
        let wait = due - bosun::db::now_ms();
        assert!(
            wait > 3_500_000,
            "due when the limit resets, not after a short backoff: in {wait} ms ({error})"
        );
        assert!(app.db().dead_jobs(10).await.unwrap().is_empty());
        // The trigger is still waiting, by design: no strict drain here.
        app.shutdown().await;
    })
    .await
    .expect("test timed out");
}
