//! The dashboard's sign-in, its JSON API and its control actions, over real HTTP against
//! bosun and the fake GitHub: people see only repositories they can write to (administrators
//! all), control calls need the session's CSRF token and write access, and what they do is
//! recorded as events and reaches GitHub like `@bosun stop` / `retry`.

mod support;

use std::time::Duration;

use bosun_core::model::{TaskEvent, TaskId, TaskStatus};
use support::dashboard::{labelled_issue_in, sign_in, start};
use support::*;

const SECRET_REPO: &str = "other-org/secret";

async fn wait_for_tasks(app: &TestApp, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.db().tasks_where(None, None, 50).await.unwrap().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "tasks never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stopped_by(events: &[bosun::db::TimedEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            TaskEvent::Stopped { by } => Some(by.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn people_see_and_control_only_what_they_can_write() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = start(&["boss"], |c| c.placeholder_secs = 20.0).await;
        let gh = &app.github;
        gh.set_permission(REPO, "writer", "write");
        gh.set_permission(REPO, "reader", "read");
        gh.add_repo(SECRET_REPO);
        gh.set_permission(SECRET_REPO, "owner2", "write");
        gh.set_permission(SECRET_REPO, "writer", "read");

        // The writer's task takes the one run slot first (its placeholder run lasts 20 s);
        // the other repository's task is triggered only then, so it is still waiting for the
        // slot, and still stoppable, when the boss stops it below.
        let mine = labelled_issue_in(&app, REPO, "Fix the parser", "writer").await;
        wait_for_tasks(&app, 1).await;
        let a = app.db().tasks_where(None, None, 50).await.unwrap()[0]
            .task
            .id
            .0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while app.db().task(TaskId(a)).await.unwrap().unwrap().status == TaskStatus::New {
            assert!(tokio::time::Instant::now() < deadline, "never picked up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        labelled_issue_in(&app, SECRET_REPO, "Secret <b>plans</b>", "owner2").await;
        wait_for_tasks(&app, 2).await;
        let tasks = app.db().tasks_where(None, None, 50).await.unwrap();
        let b = tasks
            .iter()
            .find(|l| l.task.repo.to_string() == SECRET_REPO)
            .unwrap()
            .task
            .id
            .0;

        // Without a session: no data, only the way to sign in.
        let anon = reqwest::get(format!("{}/api/tasks", app.url))
            .await
            .unwrap();
        assert_eq!(anon.status(), 401);
        let page = reqwest::get(format!("{}/", app.url)).await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("Sign in with GitHub"), "{page}");
        assert!(!page.contains("Fix the parser"));

        // A writer of one repository sees its task and nothing of the other.
        let writer = sign_in(&app, "writer").await;
        let seen = writer.task_list().await;
        assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [a]);
        let (status, detail) = writer.get_json(&format!("/api/tasks/{a}")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["title"], "Fix the parser");
        assert_eq!(detail["status"], "in-progress");
        assert!(detail["issue_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{REPO}/issues/{mine}")));
        assert!(detail["events"].as_array().unwrap().len() >= 2);
        for path in [
            format!("/api/tasks/{b}"),
            format!("/api/tasks/{b}/events"),
            format!("/tasks/{b}"),
        ] {
            assert_eq!(writer.get(&path).await.status(), 404, "{path}");
        }
        let list_page = writer.get("/").await.text().await.unwrap();
        assert!(list_page.contains("Fix the parser"));
        assert!(!list_page.contains("Secret"), "{list_page}");
        let (status, _) = writer
            .control(&format!("/api/control/tasks/{b}/stop"), &[])
            .await;
        assert_eq!(status, 404, "no stopping what one cannot see");

        // A reader sees nothing and stops nothing.
        let reader = sign_in(&app, "reader").await;
        assert!(reader.task_list().await.is_empty());
        let (status, _) = reader
            .control(&format!("/api/control/tasks/{a}/stop"), &[])
            .await;
        assert_eq!(status, 404);

        // A control call without the session's CSRF token is refused.
        let forged = reqwest::Client::new()
            .post(format!("{}/api/control/tasks/{a}/stop", app.url))
            .header("cookie", &writer.cookie)
            .form(&[("csrf", "guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(app
            .db()
            .task(TaskId(a))
            .await
            .unwrap()
            .unwrap()
            .status
            .is_active());

        // The writer stops their task: the event names them, GitHub shows it.
        let (status, body) = writer
            .control(&format!("/api/control/tasks/{a}/stop"), &[])
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("failed")),
            "{body}"
        );
        let events = app.db().task_event_log(TaskId(a)).await.unwrap();
        assert_eq!(stopped_by(&events), ["writer"]);
        app.wait_for("the stop reaches GitHub", |g| {
            has_label(g, mine, "bosun:failed")
        })
        .await;
        app.wait_for("the tracking comment says who", |g| {
            tracking(g, mine).contains("Stopped by @writer")
        })
        .await;
        let (status, _) = writer
            .control(&format!("/api/control/tasks/{a}/stop"), &[])
            .await;
        assert_eq!(status, 409, "nothing left to stop");

        // Pausing holds every repository's runs: not for a writer of one of them.
        let (status, _) = writer.control("/api/control/queue/pause", &[]).await;
        assert_eq!(status, 403);
        let boss = sign_in(&app, "boss").await;
        assert_eq!(boss.task_list().await.len(), 2, "an administrator sees all");
        let (status, body) = boss.control("/api/control/queue/pause", &[]).await;
        assert_eq!((status, body["changed"].as_bool()), (200, Some(true)));
        let (_, queue) = writer.get_json("/api/queue").await;
        assert_eq!(
            (queue["paused"].as_bool(), queue["changed_by"].as_str()),
            (Some(true), Some("boss"))
        );
        assert!(writer
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Paused by <b>boss</b>"));

        // A retry while paused is queued; it starts once the queue resumes.
        let (status, body) = writer
            .control(
                &format!("/api/control/tasks/{a}/retry"),
                &[("note", "try the other way")],
            )
            .await;
        assert_eq!((status, body["attempt"].as_u64()), (200, Some(2)), "{body}");
        // The other repository's task took the one run slot when the writer's stopped (or waits
        // for it behind the pause): the boss stops it so the retry can run.
        let (status, _) = boss
            .control(&format!("/api/control/tasks/{b}/stop"), &[])
            .await;
        assert_eq!(status, 200);
        let (status, _) = boss.control("/api/control/queue/resume", &[]).await;
        assert_eq!(status, 200);
        let runs = app
            .github
            .wait_until(
                |g| {
                    tracking(g, mine).contains("attempt 2")
                        && has_label(g, mine, "bosun:in-progress")
                },
                Duration::from_secs(20),
            )
            .await;
        assert!(
            runs,
            "attempt 2 never ran: {:?} {} {:?}",
            app.github.issue_labels(REPO, mine),
            tracking(&app.github, mine),
            app.db().task_pending_jobs(TaskId(a)).await
        );
        let log = app.db().control_events(10).await.unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(actions, [("boss", "resume"), ("boss", "pause")]);

        // Stop what still runs so the queue drains.
        let (status, _) = writer
            .control(&format!("/api/control/tasks/{a}/stop"), &[])
            .await;
        assert_eq!(status, 200);
        let events = app.db().task_event_log(TaskId(b)).await.unwrap();
        assert_eq!(stopped_by(&events), ["boss"]);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn without_an_oauth_client_the_dashboard_shows_no_data() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(|c| c.placeholder_secs = 0.0).await;
        app.github.set_permission(REPO, "writer", "write");
        labelled_issue_in(&app, REPO, "Fix the parser", "writer").await;
        wait_for_tasks(&app, 1).await;
        let page = reqwest::get(format!("{}/", app.url)).await.unwrap();
        assert_eq!(page.status(), 503);
        let page = page.text().await.unwrap();
        assert!(page.contains("GITHUB_CLIENT_ID"), "{page}");
        assert!(!page.contains("Fix the parser"));
        let api = reqwest::get(format!("{}/api/tasks", app.url))
            .await
            .unwrap();
        assert_eq!(api.status(), 503);
        let login = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}/login", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 503, "no sign-in to start");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn sign_in_through_another_host_name_returns_to_the_registered_callback_url() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // No public URL configured: it is `http://localhost:<port>`, whose callback the App
        // registered. The browser reaches bosun as 127.0.0.1 instead.
        let app = start(&[], |c| c.public_url = None).await;
        let port = app.url.rsplit(':').next().unwrap().to_string();
        let registered = format!("http://localhost:{port}/auth/callback");
        app.github.set_callback_urls(&[&registered]);
        app.github.sign_in_on_web(Some("writer"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let start = http.get(format!("{}/login", app.url)).send().await.unwrap();
        assert_eq!(start.status(), 303);
        let authorize = start.headers()["location"].to_str().unwrap().to_string();
        let at_github = http.get(&authorize).send().await.unwrap();
        assert_eq!(
            at_github.status(),
            302,
            "GitHub accepted the redirect_uri: {authorize}"
        );
        let back = at_github.headers()["location"].to_str().unwrap();
        assert!(back.starts_with(&format!("{registered}?code=")), "{back}");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
