//! `bosun resync`: tasks rebuilt from GitHub's labels and tracking-comment markers alone.

mod support;

use bosun::db::Db;
use bosun::github::client::{GitHub, GitHubConfig};
use bosun::github::ids::{AppId, RepoRef};
use bosun::task::model::TaskStatus;
use bosun::task::resync::resync;
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

        let tasks = db
            .tasks_of_repo(bosun::github::ids::RepoId(app.repo_id))
            .await
            .unwrap();
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
