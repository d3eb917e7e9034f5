//! Jobs written in configuration, through the real engine: a server configuration's command
//! job runs its command in a real container in place of an agent and ends as a draft pull
//! request with the command's change; a repository's jobs are taken from its
//! `.github/bosun.yml` when bosun reads the file.

#[path = "support/images.rs"]
mod images;
mod support;

use std::time::Duration;

use support::agent_app::AgentApp;
use support::*;

/// The hard limit of the test, far above `TEST_TIMEOUT`: the scheduled command runs in a real
/// container and is waited for up to two minutes. Generous for a slow CI machine, yet a hang
/// fails the test instead of blocking CI.
const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_job_from_the_configuration_runs_its_command_into_a_pull_request() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = images::busybox_image();
        let run = AgentApp::start_with_config(
            &format!(
                "default_agent: shell\nagents:\n  shell:\n    adapter: command\n    image: {image}\n    \
                 program: never-run\nlimits:\n  memory_mb: 256\n  cpus: 1\n\
                 jobs:\n  - name: stamp\n    repo: {REPO}\n    cron: '0 6 * * 1'\n    \
                 title: Stamp the tree\n    run: echo \"stamped by $(echo bosun)\" > STAMP.txt\n"
            ),
            "jobs:\n  - name: weekly\n    cron: '0 7 * * 1'\n    prompt: Update the dependencies.\n",
        )
        .await;
        let (app, bare) = (&run.app, &run.bare);

        // The server's job is in the table from start-up, managed by the configuration.
        let job = app.db().schedule("stamp").await.unwrap().expect("synced");
        assert_eq!(
            job.command.as_deref(),
            Some("echo \"stamped by $(echo bosun)\" > STAMP.txt")
        );
        let refused = bosun::cli::schedule::run(
            app.data_dir.path(),
            bosun::cli::schedule::JobAction::Remove {
                name: "stamp".into(),
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(refused.contains("server configuration"), "{refused}");

        // Nothing read the repository's file yet, so its job is not known yet.
        let weekly_name = "octo-org/hello-world:weekly";
        assert!(app.db().schedule(weekly_name).await.unwrap().is_none());

        // A week on, the job's tick has passed: it opens an issue and runs the command.
        let now = bosun::db::now_ms();
        let fired = app.db().tick_schedules(now + 7 * 86_400_000).await.unwrap();
        assert_eq!(fired.len(), 1, "{fired:?}");
        let gh = &app.github;
        let done = gh
            .wait_until(
                |g| {
                    g.issue(REPO, 1)
                        .is_some_and(|i| i.labels.iter().any(|l| l == "bosun:done"))
                        && !g.pulls(REPO).is_empty()
                },
                Duration::from_secs(120),
            )
            .await;
        assert!(done, "comments: {:#?}", gh.comments(REPO, 1));
        let issue = gh.issue(REPO, 1).unwrap();
        assert_eq!(issue.title, "Stamp the tree");
        assert!(
            issue
                .body
                .contains("~~~sh\necho \"stamped by $(echo bosun)\" > STAMP.txt\n~~~"),
            "{}",
            issue.body
        );
        let pull = &gh.pulls(REPO)[0];
        assert!(pull.draft);
        let clone = run.dirs.path().join("check");
        git(
            run.dirs.path(),
            &["clone", "-q", &bare.display().to_string(), "check"],
        );
        git(&clone, &["checkout", "-q", &pull.head]);
        assert_eq!(
            std::fs::read_to_string(clone.join("STAMP.txt")).unwrap(),
            "stamped by bosun\n",
            "the command ran in a shell"
        );
        let comment = tracking(gh, 1);
        assert!(comment.contains("`scheduled-command`"), "{comment}");

        // The run read the repository's file, and with it took in the repository's job.
        let weekly = app
            .db()
            .schedule(weekly_name)
            .await
            .unwrap()
            .expect("the repository's job");
        assert_eq!(weekly.prompt, "Update the dependencies.");
        assert_eq!(weekly.repo, REPO);
        assert_eq!(weekly.source, bosun_core::schedule::ScheduleSource::Repo(REPO.into()));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}
