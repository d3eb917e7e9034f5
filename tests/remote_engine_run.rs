//! bosun whose agents run on another host's Docker engine, as on Fly.io with the engine on a
//! VPS: the run configuration names a `tcp://` engine with mutual TLS, and a labelled issue
//! goes all the way to a draft pull request, the checkout copied to the engine and back. The
//! engine is the real local one behind a TLS relay (support/engine_relay.rs), which keeps what
//! bosun sent: no path of bosun's disk reaches it.

#[path = "support/engine_relay.rs"]
mod engine_relay;
#[path = "support/images.rs"]
mod images;
mod support;

use engine_relay::{EngineRelay, Pki};
use support::agent_app::AgentApp;
use support::*;

/// The hard limit of the test, far above `TEST_TIMEOUT`: it builds an image and runs an agent
/// task on the engine behind a TLS relay, copying the checkout in and out, waited for up to two
/// minutes. Generous for a slow CI machine, yet a hang fails the test instead of blocking CI.
const DOCKER_TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// A `command` agent: greets from the remote engine in hello.txt, and approves as a reviewer.
const AGENT: &str = r###"#!/bin/sh
prompt=$(cat)
case "$prompt" in
*"## What to do: review"*)
  echo '{"type":"result","ok":true,"turns":1,"message":"Looks right.\n\n```json\n{\"findings\": []}\n```"}'
  exit 0
  ;;
esac
echo "hello, from the engine on the other host" > hello.txt
echo '{"type":"text","text":"Editing hello.txt."}'
echo '{"type":"result","ok":true,"turns":1,"message":"hello.txt now greets from the other host."}'
"###;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_becomes_a_pull_request_with_the_agents_on_another_hosts_engine() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = images::image_with_files(
            "bosun-remote-agent",
            &[("/usr/local/bin/agent", AGENT, 0o755)],
        );
        let certs = tempfile::tempdir().unwrap();
        let (engine_ca, client_ca) = (Pki::new("engine CA"), Pki::new("client CA"));
        client_ca.write_client_files(&engine_ca, certs.path());
        let relay = EngineRelay::tls(&engine_ca, &client_ca).await;
        let server_config = format!(
            "default_agent: remote\n\
             docker:\n  host: {}\n  tls_dir: {}\n  workspace: copy\n\
             agents:\n  remote:\n    adapter: command\n    image: {image}\n    program: /usr/local/bin/agent\n\
             limits:\n  memory_mb: 256\n  cpus: 1\n",
            relay.url(),
            certs.path().display()
        );
        let run = AgentApp::start_with_config(
            &server_config,
            "gates:\n  - name: greeting\n    run: grep -q 'other host' hello.txt\n",
        )
        .await;
        let instance = bosun::run::runner::instance_label(run.app.data_dir.path());
        let containers = images::ContainerSweep::new("bosun.instance", &instance);

        let issue = run
            .label_and_wait("Greet from afar", "Change the greeting.", |gh, issue| {
                support::agent_app::finished(gh, issue) && !gh.pulls(REPO).is_empty()
            })
            .await;
        let gh = &run.app.github;
        let pr = &gh.pulls(REPO)[0];
        assert!(pr.draft);
        assert!(
            pr.body.starts_with(&format!("Closes #{issue}")),
            "{}",
            pr.body
        );
        let diff = git(&run.bare, &["diff", "--name-status", "main", &pr.head_sha]);
        assert_eq!(diff, "M\thello.txt");
        assert_eq!(
            git(&run.bare, &["show", &format!("{}:hello.txt", pr.head_sha)]),
            "hello, from the engine on the other host"
        );
        let checks = gh.check_runs(REPO);
        assert_eq!(
            checks[0].conclusion.as_deref(),
            Some("success"),
            "{checks:#?}"
        );
        let comment = tracking(gh, issue);
        assert!(comment.contains("`greeting` ✅"), "{comment}");

        // The engine was used, over TLS, and never told a path on bosun's disk.
        let sent = relay.sent();
        assert!(sent.contains("/containers/create") && sent.contains("/archive"));
        let data_dir = run.app.data_dir.path().display().to_string();
        assert!(!sent.contains(&data_dir), "a host path reached the engine");
        assert!(containers.containers().is_empty(), "containers left behind");
        let volumes = std::process::Command::new("docker")
            .args(["volume", "ls", "--quiet", "--filter"])
            .arg(format!("label=bosun.instance={instance}"))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&volumes.stdout).trim().is_empty(),
            "volumes left behind"
        );
    })
    .await
    .expect("test timed out");
}
