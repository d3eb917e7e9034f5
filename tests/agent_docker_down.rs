//! With the Docker engine away, a task waits in the queue instead of failing or retrying in a
//! storm: its run job is deferred without using up its attempts. Its own test binary, because
//! it points `DOCKER_HOST` at a socket that does not exist for the whole process.

mod support;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_waits_while_the_docker_engine_is_away() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        // Set before bosun builds its sandbox client; nothing else in this binary uses Docker.
        std::env::set_var("DOCKER_HOST", "unix:///nonexistent/bosun-test-docker.sock");
        let dirs = tempfile::tempdir().unwrap();
        let config = dirs.path().join("bosun-server.yml");
        std::fs::write(
            &config,
            "agents:\n  claude:\n    adapter: claude\n    image: bosun-agent:never-built\n",
        )
        .unwrap();
        let app = TestApp::start_with(|c| {
            c.run_mode = "agent".into();
            c.run_config = Some(config.clone());
        })
        .await;
        app.github.set_permission(REPO, "octocat", "write");
        let issue = app
            .github
            .add_issue(REPO, "Needs Docker", "body", "octocat");
        let answer = app
            .send_json(
                "issues",
                "d-down",
                &labeled(&app, issue, "bosun", "octocat"),
            )
            .await;
        assert_eq!(answer.status(), 202);

        // The run job is claimed, finds the engine away, and goes back to the queue.
        let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
        let job = loop {
            let runs = app.db().jobs_of_kind("run").await.unwrap();
            if let Some(job) = runs.into_iter().find(|(_, _, e)| e.is_some()) {
                break job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the run job never deferred"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (state, attempts, error) = job;
        assert_eq!(state, "queued");
        assert_eq!(attempts, 0, "waiting for the engine used up an attempt");
        assert!(error.unwrap().contains("unavailable"));

        // Still in progress on GitHub, not failed; and no second look within the deferral.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let labels = app.github.issue_labels(REPO, issue);
        assert!(
            labels.contains(&"bosun:in-progress".to_string()),
            "{labels:?}"
        );
        assert!(!labels.contains(&"bosun:failed".to_string()), "{labels:?}");
        let runs = app.db().jobs_of_kind("run").await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].1, 0);
        // Strict teardown, except that the deferred job is expected to stay queued.
        let jobs = app.db().job_counts().await.unwrap();
        assert!(!jobs.iter().any(|(s, n)| s == "dead" && *n > 0), "{jobs:?}");
        let mut app = app;
        app.shutdown().await;
    })
    .await
    .expect("test timed out");
}
