//! The server's `docker.pull` policy, end to end in Docker: a run's image that the engine lacks
//! is pulled (`missing`, the default) from a registry on loopback, shown in the tracking
//! comment, and the draft pull request opens; `always` pulls an image the engine has; `never`
//! fails the task saying how to build it; a registry that cannot be reached fails the task with
//! the engine's reason, and nothing hangs.
//!
//! A repository's own `image:` (when the server lists it under `limits.repo_images`) is where
//! its set-up, agent and gates run; one the server does not list fails the task saying so.
//!
//! The registry is `tests/support/registry.rs`, serving the busybox image the tests build (no
//! real registry is reachable here). The agent is the `command` adapter with a one-line
//! script, so no model is involved.

#[path = "support/images.rs"]
mod images;
#[path = "support/registry.rs"]
mod registry;
mod support;

use std::time::Duration;

use support::agent_app::AgentApp;
use support::*;

const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// One `command` agent in `image` that changes a file; `pull` is the server's policy.
fn server_config(image: &str, pull: &str) -> String {
    let program = r#"sh -c "echo changed > hello.txt; echo '{\"type\":\"result\",\"ok\":true,\"message\":\"done\"}'""#;
    format!(
        "default_agent: shell\n\
         agents:\n  shell:\n    adapter: command\n    image: {image}\n    program: >-\n      {program}\n\
         limits:\n  memory_mb: 256\n  cpus: 1\n\
         docker:\n  pull: {pull}\n  pull_timeout_minutes: 2\n"
    )
}

const REPO_CONFIG: &str = "rounds: 1\npeer_review:\n  enabled: false\n";

/// A task with this server configuration, to its end: the app, the issue and its comment.
async fn task_of(server: &str) -> (AgentApp, u64, String) {
    let run = AgentApp::start_with_config(server, REPO_CONFIG).await;
    let issue = run.label_until_finished("Change hello", "Do it.").await;
    let comment = tracking(&run.app.github, issue);
    (run, issue, comment)
}

async fn with_docker<F: std::future::Future<Output = ()>>(body: impl FnOnce(String) -> F) {
    images::with_busybox(DOCKER_TEST_TIMEOUT, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_pulled_shown_and_the_run_goes_on() {
    with_docker(|busybox| async move {
        let registry = registry::serve(&busybox, "pull-missing").await;
        let (run, issue, comment) = task_of(&server_config(&registry.image, "missing")).await;
        assert!(has_label(&run.app.github, issue, "bosun:done"), "{comment}");
        assert!(
            comment.contains(&format!("Image `{}` pulled (", registry.image)),
            "{comment}"
        );
        assert_eq!(run.app.github.pulls(REPO).len(), 1, "{comment}");
        // The engine asked for the manifest; the layers it may already hold (they are
        // busybox's, content-addressed), so blob requests are not required.
        assert!(registry.manifest_asked(), "{:?}", registry.requests());
        run.app.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_pulls_an_image_the_engine_has() {
    with_docker(|busybox| async move {
        let registry = registry::serve(&busybox, "pull-always").await;
        // The engine has it already, under the registry's name.
        let tagged = std::process::Command::new("docker")
            .args(["tag", &busybox, &registry.image])
            .output()
            .unwrap();
        assert!(tagged.status.success(), "{tagged:?}");
        let (run, issue, comment) = task_of(&server_config(&registry.image, "always")).await;
        assert!(has_label(&run.app.github, issue, "bosun:done"), "{comment}");
        assert!(registry.manifest_asked(), "{:?}", registry.requests());
        assert!(comment.contains("pulled ("), "{comment}");
        run.app.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_fails_the_task_on_a_missing_image_without_asking_a_registry() {
    with_docker(|busybox| async move {
        let registry = registry::serve(&busybox, "pull-never").await;
        let (run, issue, comment) = task_of(&server_config(&registry.image, "never")).await;
        assert!(
            has_label(&run.app.github, issue, "bosun:failed"),
            "{comment}"
        );
        assert!(
            comment.contains(&format!(
                "`{}` is not on this bosun server's Docker host",
                registry.image
            )),
            "{comment}"
        );
        assert!(registry.requests().is_empty(), "{:?}", registry.requests());
        run.app.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_cannot_be_reached_fails_the_task_with_the_reason() {
    with_docker(|_busybox| async move {
        // A port nothing listens on: bound, then let go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let image = format!("127.0.0.1:{port}/bosun-test/nowhere:1");
        let (run, issue, comment) = task_of(&server_config(&image, "missing")).await;
        assert!(
            has_label(&run.app.github, issue, "bosun:failed"),
            "{comment}"
        );
        assert!(
            comment.contains(&format!("could not pull the container image `{image}`")),
            "{comment}"
        );
        assert!(comment.contains("connection refused"), "{comment}");
        assert!(!comment.contains("Pulling image"), "{comment}");
        assert_eq!(run.app.github.pulls(REPO).len(), 0);
        run.app.finish().await;
    })
    .await;
}

/// A repository naming `image` for its environment, whose set-up and gate look for the file
/// that image has and the agent's does not (and the agent copies it: see the server's).
fn repo_with_image(image: &str) -> String {
    format!(
        "{REPO_CONFIG}image: {image}\n\
         setup:\n  - test -f /etc/bosun-env-marker\n\
         gates:\n  - name: environment\n    run: test -f /etc/bosun-env-marker\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_image_the_server_lists_is_where_set_up_and_gates_run() {
    with_docker(|busybox| async move {
        let env = images::image_with_files(
            "repo-env",
            &[(
                "/etc/bosun-env-marker",
                "the repository's environment\n",
                0o644,
            )],
        );
        // Pulled only if missing: these images are all on the engine.
        // The agent copies the file only that image has: its change shows where it ran.
        let server = server_config(&busybox, "missing")
            .replace(
                "limits:\n",
                "limits:\n  repo_images: ['bosun-test-repo-env:*']\n",
            )
            .replace(
                "echo changed > hello.txt",
                "cp /etc/bosun-env-marker hello.txt",
            );
        let run = AgentApp::start_with_config(&server, &repo_with_image(&env)).await;
        let issue = run.label_until_finished("Change hello", "Do it.").await;
        let comment = tracking(&run.app.github, issue);
        assert!(has_label(&run.app.github, issue, "bosun:done"), "{comment}");
        assert!(comment.contains("`environment` ✅"), "{comment}");
        assert_eq!(run.app.github.pulls(REPO).len(), 1, "{comment}");
        let branches = git(&run.bare, &["branch", "--format=%(refname:short)"]);
        let branch = branches.lines().find(|b| b.starts_with("bosun/")).unwrap();
        let changed = git(&run.bare, &["show", &format!("{branch}:hello.txt")]);
        assert_eq!(changed.trim_end(), "the repository's environment");

        // The same repository on a server that lists no images: refused, saying where to.
        let refused = AgentApp::start_with_config(
            &server_config(&busybox, "missing"),
            &repo_with_image(&env),
        )
        .await;
        let issue = refused.label_until_finished("Change hello", "Do it.").await;
        let comment = tracking(&refused.app.github, issue);
        assert!(
            has_label(&refused.app.github, issue, "bosun:failed"),
            "{comment}"
        );
        assert!(
            comment.contains(&format!("asks for the image `{env}`")),
            "{comment}"
        );
        assert!(comment.contains("`limits.repo_images`"), "{comment}");
        assert_eq!(refused.app.github.pulls(REPO).len(), 0, "{comment}");
        run.app.finish().await;
        refused.app.finish().await;
    })
    .await;
}
