//! `bosun resync`: tasks rebuilt from GitHub's labels and tracking-comment markers alone.

mod support;

use bosun::cli::resync::resync;
use bosun::db::Db;
use bosun::github::client::{GitHub, GitHubConfig};
use bosun::reply::{part_marker, sub_issue_body};
use bosun_core::ids::{AppId, RepoRef};
use bosun_core::ids::{IssueNumber, RepoId};
use bosun_core::model::{project, TaskId, TaskKind, TaskState, TaskStatus};
use fake_github::TEST_APP_PRIVATE_KEY;
use support::*;

const WRITER: &str = "wanda-writer";

#[tokio::test]
async fn resync_rebuilds_tasks_from_labels_and_markers() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        app.github.set_permission(REPO, WRITER, "write");
        let worked = app.github.add_issue(REPO, "Worked on", "", WRITER);
        app.send_json("issues", "r1", &labeled(&app, worked, "bosun", WRITER))
            .await;
        app.wait_for("done", |g| {
            g.issue_labels(REPO, worked)
                .contains(&"bosun:done".to_string())
                && g.comments(REPO, worked)
                    .iter()
                    .any(|c| c.body.contains("\"status\":\"done\""))
        })
        .await;
        // Labelled by hand, never seen by this bosun.
        let by_hand = app
            .github
            .add_issue(REPO, "Marked failed by hand", "", WRITER);
        app.github.label_issue(REPO, by_hand, "bosun:failed");
        app.settle().await;

        let fresh = tempfile::tempdir().unwrap();
        let db = Db::open(fresh.path()).await.unwrap();
        let github = GitHub::new(GitHubConfig::new(
            app.github.url(),
            AppId(app.github.app_id()),
            TEST_APP_PRIVATE_KEY,
        ))
        .unwrap();
        let repo: RepoRef = REPO.parse().unwrap();
        let report = resync(&db, &github, &repo).await.unwrap();
        assert_eq!((report.seen, report.changed), (2, 2));

        let tasks = db.tasks_of_repo(RepoId(app.repo_id)).await.unwrap();
        assert_eq!(tasks.len(), 2);
        let tracking = app.github.comments(REPO, worked)[0].id;
        assert_eq!(tasks[0].issue.0, worked);
        assert_eq!(tasks[0].status, TaskStatus::Done);
        assert_eq!(tasks[0].tracking_comment.map(|c| c.0), Some(tracking));
        assert_eq!(tasks[1].status, TaskStatus::Failed);
        assert_eq!(tasks[1].tracking_comment, None);

        let again = resync(&db, &github, &repo).await.unwrap();
        assert_eq!(again.changed, 0, "a second resync changes nothing");
        db.close().await;
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

fn github_for(app: &TestApp) -> GitHub {
    GitHub::new(GitHubConfig::new(
        app.github.url(),
        AppId(app.github.app_id()),
        TEST_APP_PRIVATE_KEY,
    ))
    .unwrap()
}

async fn state_of(app: &TestApp, issue: u64) -> TaskState {
    let task = app
        .db()
        .task_for_issue(RepoId(app.repo_id), IssueNumber(issue))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no task for #{issue}"));
    project(&app.db().task_events(task.id).await.unwrap()).unwrap()
}

/// A plan waiting for its parts, rebuilt into an empty database by `resync`, goes on: the
/// part that waits starts once the one it needs is closed as completed, and the planned issue
/// is closed when both are done.
#[tokio::test]
async fn resync_brings_back_a_waiting_plan_and_the_plan_goes_on() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let gh = &app.github;
        gh.set_permission(REPO, WRITER, "write");
        // What an earlier bosun left on GitHub: the planned issue waits; part A has its pull
        // request open; part C waits for A.
        let parent = gh.add_issue(REPO, "A big feature", "", WRITER);
        let a = gh.add_issue(
            REPO,
            "Part A",
            &sub_issue_body(parent, "Write a.", &[], &part_marker(TaskId(40), "a")),
            "bosun-test[bot]",
        );
        let c = gh.add_issue(
            REPO,
            "Part C",
            &sub_issue_body(parent, "Write c.", &[a], &part_marker(TaskId(40), "c")),
            "bosun-test[bot]",
        );
        // A person's sub-issue that reads like a part is not one: bosun did not write it.
        let forged = gh.add_issue(
            REPO,
            "Part F",
            &sub_issue_body(parent, "Write f.", &[], &part_marker(TaskId(40), "f")),
            WRITER,
        );
        gh.link_sub_issue(REPO, parent, a);
        gh.link_sub_issue(REPO, parent, c);
        gh.link_sub_issue(REPO, parent, forged);
        gh.label_issue(REPO, parent, "bosun:blocked");
        gh.label_issue(REPO, a, "bosun:needs-review");
        gh.label_issue(REPO, c, "bosun:blocked");

        let repo: RepoRef = REPO.parse().unwrap();
        let report = resync(app.db(), &github_for(&app), &repo).await.unwrap();
        assert_eq!((report.seen, report.changed), (3, 3));
        let planned = state_of(&app, parent).await;
        assert_eq!(planned.kind, TaskKind::Plan);
        let parts: Vec<(String, u64, Vec<u64>)> = planned
            .plan
            .as_ref()
            .unwrap()
            .parts
            .iter()
            .map(|p| (p.key.clone(), p.issue, p.depends_on.clone()))
            .collect();
        assert_eq!(
            parts,
            [("a".to_string(), a, vec![]), ("c".to_string(), c, vec![a])]
        );
        let waiting = state_of(&app, c).await;
        assert_eq!(
            (waiting.status, waiting.part_of, waiting.waits_for.clone()),
            (TaskStatus::Blocked, Some(parent), vec![a])
        );
        assert_eq!(state_of(&app, a).await.part_of, Some(parent));

        // A is closed as completed: C starts (and, a placeholder run here, ends done).
        gh.close_issue_as(REPO, a, "completed");
        let closed = issue_closed(&app, a, "completed", WRITER);
        app.send_json("issues", "d-close-a", &closed).await;
        app.wait_for("C to run", |g| {
            g.issue_labels(REPO, c).contains(&"bosun:done".to_string())
        })
        .await;
        assert!(state_of(&app, parent).await.plan.unwrap().parts[0].done);
        assert_eq!(gh.issue_state(REPO, parent).0, "open");

        // C closed as completed too: the planned issue is done and closed.
        gh.close_issue_as(REPO, c, "completed");
        let closed = issue_closed(&app, c, "completed", WRITER);
        app.send_json("issues", "d-close-c", &closed).await;
        app.wait_for("the planned issue to close", |g| {
            g.issue_state(REPO, parent) == ("closed".to_string(), Some("completed".to_string()))
                && g.issue_labels(REPO, parent)
                    .contains(&"bosun:done".to_string())
        })
        .await;
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
