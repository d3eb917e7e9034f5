//! Scheduled jobs with a controlled clock: `bosun job` against a real data directory (each
//! call opens the database afresh, as a restarted process would), and a fired tick through the
//! real engine against the fake GitHub.

mod support;

use bosun::cli::schedule::{run_at, JobAction};
use support::*;

/// Milliseconds of an RFC 3339 time.
fn at(time: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap()
        .timestamp_millis()
}

fn add(name: &str, cron: &str) -> JobAction {
    JobAction::Add {
        name: name.into(),
        cron: cron.into(),
        repo: REPO.parse().unwrap(),
        title: Some("Weekly dependency update".into()),
        prompt: Some("Update the dependencies and make sure the tests pass.".into()),
        run: None,
        disabled: false,
    }
}

async fn scheduled_jobs(dir: &std::path::Path) -> usize {
    let db = bosun::db::Db::open(dir).await.unwrap();
    let n = db.jobs_of_kind("scheduled").await.unwrap().len();
    db.close().await;
    n
}

#[tokio::test]
async fn a_job_fires_once_per_tick_across_restarts_and_never_twice() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let added = run_at(data, add("deps", "0 * * * *"), at("2026-11-21T10:15:00Z"))
            .await
            .unwrap();
        assert!(added.contains("next tick 2026-11-21 11:00 UTC"), "{added}");

        let tick = |time: &'static str| run_at(data, JobAction::Tick, at(time));
        assert_eq!(
            tick("2026-11-21T10:59:59Z").await.unwrap(),
            "nothing was due"
        );
        assert_eq!(
            tick("2026-11-21T11:00:05Z").await.unwrap(),
            "fired `deps` for 2026-11-21 11:00 UTC"
        );
        // Again within the same tick, and after a "restart" (every call opens the database anew).
        assert_eq!(
            tick("2026-11-21T11:00:30Z").await.unwrap(),
            "nothing was due"
        );
        assert_eq!(
            tick("2026-11-21T11:59:00Z").await.unwrap(),
            "nothing was due"
        );
        assert_eq!(scheduled_jobs(data).await, 1);
        // Down for three ticks: one firing, for the latest.
        assert_eq!(
            tick("2026-11-21T14:10:00Z").await.unwrap(),
            "fired `deps` for 2026-11-21 14:00 UTC"
        );
        assert_eq!(scheduled_jobs(data).await, 2);

        // Off, its ticks pass by; on again, it starts from then.
        run_at(
            data,
            JobAction::Disable {
                name: "deps".into(),
            },
            at("2026-11-21T14:20:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(
            tick("2026-11-21T15:00:00Z").await.unwrap(),
            "nothing was due"
        );
        run_at(
            data,
            JobAction::Enable {
                name: "deps".into(),
            },
            at("2026-11-21T15:30:00Z"),
        )
        .await
        .unwrap();
        assert_eq!(
            tick("2026-11-21T15:40:00Z").await.unwrap(),
            "nothing was due"
        );
        assert_eq!(
            tick("2026-11-21T16:00:00Z").await.unwrap(),
            "fired `deps` for 2026-11-21 16:00 UTC"
        );
        let list = run_at(data, JobAction::List, at("2026-11-21T16:01:00Z"))
            .await
            .unwrap();
        assert!(list.contains("deps\t0 * * * *\t"), "{list}");
        assert!(list.contains("next: 2026-11-21 17:00 UTC"), "{list}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn concurrent_ticks_fire_a_tick_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let db = bosun::db::Db::open(dir.path()).await.unwrap();
        let row = bosun_core::schedule::ScheduleRow {
            name: "deps".into(),
            cron: "*/5 * * * *".into(),
            repo: REPO.into(),
            title: "t".into(),
            prompt: "p".into(),
            enabled: true,
            last_tick: 0,
            command: None,
            source: bosun_core::schedule::ScheduleSource::Cli,
        };
        db.add_schedule(&row, at("2026-11-21T10:01:00Z"))
            .await
            .unwrap();
        let now = at("2026-11-21T10:05:00Z");
        let ticks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.tick_schedules(now).await.unwrap().len() })
            })
            .collect();
        let mut fired = 0;
        for t in ticks {
            fired += t.await.unwrap();
        }
        assert_eq!(fired, 1);
        assert_eq!(db.jobs_of_kind("scheduled").await.unwrap().len(), 1);
        db.close().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn mistakes_are_refused_with_the_reason() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-21T10:00:00Z");
        let err = run_at(dir.path(), add("x", "every monday"), now)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("5 fields"), "{err}");
        run_at(dir.path(), add("x", "0 6 * * 1"), now)
            .await
            .unwrap();
        let twice = run_at(dir.path(), add("x", "0 6 * * 1"), now)
            .await
            .unwrap_err();
        assert!(twice.to_string().contains("exists already"), "{twice}");
        let missing = run_at(dir.path(), JobAction::Remove { name: "y".into() }, now)
            .await
            .unwrap_err();
        assert!(
            missing.to_string().contains("no job is named `y`"),
            "{missing}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_fired_tick_opens_an_issue_with_the_prompt_and_runs_a_task_on_it() {
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let app = TestApp::start().await;
        let gh = &app.github;
        let now = bosun::db::now_ms();
        let row = bosun_core::schedule::ScheduleRow {
            name: "deps".into(),
            cron: "0 6 * * 1".into(),
            repo: REPO.into(),
            title: "Weekly dependency update".into(),
            prompt: "Update the dependencies.".into(),
            enabled: true,
            last_tick: now,
            command: None,
            source: bosun_core::schedule::ScheduleSource::Cli,
        };
        app.db().add_schedule(&row, now).await.unwrap();
        // A week from now, whatever day today is: one Monday 06:00 has passed.
        let fired = app.db().tick_schedules(now + 7 * 86_400_000).await.unwrap();
        assert_eq!(fired.len(), 1);
        app.wait_for("the scheduled task is done", |g| {
            g.issue(REPO, 1)
                .is_some_and(|i| i.labels.contains(&"bosun:done".to_string()))
        })
        .await;
        let issue = gh.issue(REPO, 1).unwrap();
        assert_eq!(issue.title, "Weekly dependency update");
        assert_eq!(issue.user_login, gh.bot_login());
        assert!(
            issue.body.starts_with("Update the dependencies."),
            "{}",
            issue.body
        );
        assert!(
            issue.body.contains("scheduled job `deps`"),
            "{}",
            issue.body
        );
        let comment = tracking(gh, 1);
        assert!(comment.contains("✅ done"), "{comment}");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn jobs_from_configuration_follow_their_file_and_keep_their_ticks() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        use bosun_core::repo_config::jobs::{rows, JobSpec};
        use bosun_core::schedule::ScheduleSource;
        let dir = tempfile::tempdir().unwrap();
        let db = bosun::db::Db::open(dir.path()).await.unwrap();
        let source = ScheduleSource::Repo(REPO.into());
        let spec = |yaml: &str| -> Vec<JobSpec> { serde_yaml_ng::from_str(yaml).unwrap() };
        let first = spec(
            "- {name: deps, cron: '0 * * * *', prompt: Update.}\n- {name: fmt, cron: '0 5 * * *', run: cargo fmt}\n",
        );
        let t0 = at("2026-11-21T10:30:00Z");
        assert!(db
            .sync_schedules(&source, &rows(&first, &source), t0)
            .await
            .unwrap()
            .is_empty());
        let name = format!("{REPO}:deps");
        // It fires once for 11:00, like any job.
        let fired = db.tick_schedules(at("2026-11-21T11:10:00Z")).await.unwrap();
        assert_eq!(fired, vec![(name.clone(), at("2026-11-21T11:00:00Z"))]);

        // Read again unchanged (bosun reads the file often): the tick handled is kept.
        db.sync_schedules(&source, &rows(&first, &source), at("2026-11-21T11:20:00Z"))
            .await
            .unwrap();
        assert!(db
            .tick_schedules(at("2026-11-21T11:30:00Z"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            db.schedule(&name).await.unwrap().unwrap().last_tick,
            at("2026-11-21T11:00:00Z")
        );

        // A new prompt keeps the tick; a job gone from the file is gone from the table.
        let second = spec("- {name: deps, cron: '0 * * * *', prompt: Update everything.}\n");
        db.sync_schedules(&source, &rows(&second, &source), at("2026-11-21T11:40:00Z"))
            .await
            .unwrap();
        let deps = db.schedule(&name).await.unwrap().unwrap();
        assert_eq!(deps.prompt, "Update everything.");
        assert_eq!(deps.last_tick, at("2026-11-21T11:00:00Z"));
        assert!(db.schedule(&format!("{REPO}:fmt")).await.unwrap().is_none());

        // A new expression starts from now: no tick before the change fires.
        let third = spec("- {name: deps, cron: '*/10 * * * *', prompt: Update everything.}\n");
        db.sync_schedules(&source, &rows(&third, &source), at("2026-11-21T11:45:00Z"))
            .await
            .unwrap();
        assert!(db
            .tick_schedules(at("2026-11-21T11:49:00Z"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            db.tick_schedules(at("2026-11-21T11:50:00Z"))
                .await
                .unwrap()
                .len(),
            1
        );

        // Other sources are left alone, and a clash of names is reported, not overwritten.
        let server = ScheduleSource::Server;
        let clash = spec(&format!(
            "- {{name: 'x', cron: '0 * * * *', prompt: p, repo: {REPO}}}\n"
        ));
        let mut clash_rows = rows(&clash, &server);
        clash_rows[0].name = name.clone();
        assert_eq!(
            db.sync_schedules(&server, &clash_rows, at("2026-11-21T12:00:00Z"))
                .await
                .unwrap(),
            vec![name.clone()]
        );
        assert_eq!(db.schedule(&name).await.unwrap().unwrap().source, source);
        db.sync_schedules(&source, &[], at("2026-11-21T12:00:00Z"))
            .await
            .unwrap();
        assert!(db.schedules().await.unwrap().is_empty());
        db.close().await;
    })
    .await
    .expect("test timed out");
}
