//! An agent run through the metering proxy, in a real container with no network (it reaches the
//! proxy through its door), against the fake model API on the host: the container holds a run token and no
//! real key, the upstream sees the real key and never the token, the run stops at its budget
//! with at most one call past it, the work so far is pushed, and the cost in the tracking
//! comment is the price table's, shown while the agent runs too.

#[path = "support/images.rs"]
mod images;
mod support;

use std::time::Duration;

use fake_model::FakeModel;
use support::*;

/// The hard limit of the test, far above `TEST_TIMEOUT`: it builds images and runs an agent in
/// a real container behind the metering proxy, waited for in two steps of up to two minutes.
/// Generous for a slow CI machine, yet a hang fails the test instead of blocking CI.
const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

const WRITER: &str = "octocat";
/// The real key, in the server's environment only (a name no other test uses).
const KEY_ENV: &str = "BOSUN_TEST_METER_REAL_KEY";
const REAL_KEY: &str = "sk-ant-real-0123456789abcdef0123456789";

/// A fake `claude` that speaks HTTP itself (busybox `nc`): it calls the Messages API at
/// `$ANTHROPIC_BASE_URL` with `$ANTHROPIC_API_KEY` until a call is refused, writing a file
/// per answered call, and reports the refusal as Claude Code does (an error result).
const METERED_AGENT: &str = r#"#!/bin/sh
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"m1","model":"claude-test","tools":[]}'
case "$ANTHROPIC_API_KEY" in bosun-run-*) token=ok ;; *) token=missing ;; esac
leak=none
env | grep -q 'sk-ant-real' && leak=LEAKED
hostport=${ANTHROPIC_BASE_URL#http://}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport#*:}
body='{"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
i=0
while [ $i -lt 10 ]; do
  i=$((i+1))
  # The request's end is not the connection's: a closed write side would end the exchange
  # before the answer, so the pipe stays open until the server closes the connection.
  answer=$( (printf 'POST /anthropic/v1/messages HTTP/1.1\r\nHost: %s\r\nx-api-key: %s\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: %s\r\nconnection: close\r\n\r\n%s' "$hostport" "$ANTHROPIC_API_KEY" "${#body}" "$body"; sleep 3) | nc -w 5 "$host" "$port")
  status=$(printf '%s\n' "$answer" | head -n 1 | cut -d' ' -f2)
  if [ "$status" != "200" ]; then
    msg=$(printf '%s' "$answer" | tr -d '\r\n' | sed -n 's/.*"message":"\([^"]*\)".*/\1/p')
    echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"result\":\"API Error: $status $msg (token $token, key $leak, call $i)\",\"session_id\":\"m1\"}"
    exit 1
  fi
  echo "answer $i" > "call-$i.txt"
  # Long enough for bosun's progress line (every 10 s) to show the cost while it runs.
  sleep 2
done
echo '{"type":"result","subtype":"success","is_error":false,"result":"Never stopped.","session_id":"m1"}'
"#;

/// bosun started with `server_config` as its run configuration (written into `dirs`), the
/// repository cloned from a bare remote made there, and a new issue (`title`, `body`) labelled
/// `bosun` by a writer.
async fn labelled_by_a_writer(
    dirs: &std::path::Path,
    server_config: &str,
    (title, body): (&str, &str),
    delivery: &str,
) -> (TestApp, u64, std::path::PathBuf) {
    let config_path = dirs.join("bosun-server.yml");
    std::fs::write(&config_path, server_config).unwrap();
    let app = TestApp::start_with(|c| {
        c.run_mode = "agent".into();
        c.run_config = Some(config_path);
    })
    .await;
    let bare = bare_remote(dirs);
    let gh = &app.github;
    gh.set_clone_url(REPO, &format!("file://{}", bare.display()));
    gh.set_permission(REPO, WRITER, "write");
    let issue = gh.add_issue(REPO, title, body, WRITER);
    let mut payload = labeled(&app, issue, "bosun", WRITER);
    payload["issue"]["title"] = title.into();
    payload["issue"]["body"] = body.into();
    payload["issue"]["user"]["login"] = WRITER.into();
    assert_eq!(
        app.send_json("issues", delivery, &payload).await.status(),
        202
    );
    (app, issue, bare)
}

/// The key a host holds under the usual name, for the default-metering test (no other test of
/// this binary reads or writes `ANTHROPIC_API_KEY`).
const DEFAULT_KEY: &str = "sk-ant-default-0123456789abcdef0123456789";

/// A fake `claude` that reports what it was given: a run token, the raw key or no key, whether
/// the raw key is anywhere in its environment, and where its base URL points.
const KEY_REPORTING_AGENT: &str = r#"#!/bin/sh
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"k1","model":"claude-test","tools":[]}'
case "$ANTHROPIC_API_KEY" in bosun-run-*) key=token ;; "") key=none ;; *) key=raw ;; esac
if env | grep -q 'sk-ant-default'; then leak=LEAKED; else leak=clean; fi
case "$ANTHROPIC_BASE_URL" in http://127.0.0.1:*/anthropic) base=proxy ;; *) base="[$ANTHROPIC_BASE_URL]" ;; esac
echo "key $key, env $leak, base $base" > given.txt
echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"session_id\":\"k1\"}"
"#;

/// Safe by default (issue 20, hole 1): a server whose configuration says nothing about the
/// meter, with `ANTHROPIC_API_KEY` in its environment and an agent whose `env` names it, runs
/// the agent behind the metering proxy: the container gets a run token and the proxy's
/// address, and the key is nowhere in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_meter_configuration_the_agent_gets_a_run_token_and_never_the_key() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        // SAFETY: set once, before bosun reads it; no other test of this binary uses the name.
        unsafe { std::env::set_var("ANTHROPIC_API_KEY", DEFAULT_KEY) };
        let image = images::image_with_files(
            "bosun-key-reporting-agent",
            &[("/usr/local/bin/claude", KEY_REPORTING_AGENT, 0o755)],
        );
        let dirs = tempfile::tempdir().unwrap();
        let server = format!(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n    \
                 env: [ANTHROPIC_API_KEY]\nlimits:\n  memory_mb: 256\n  cpus: 1\n\
                 peer_review: {{enabled: false}}\n"
        );
        let (app, issue, bare) = labelled_by_a_writer(
            dirs.path(),
            &server,
            ("Report", "Say what you were given."),
            "d-default-meter",
        )
        .await;
        let gh = &app.github;
        let ended = |g: &fake_github::FakeGitHub| tracking(g, issue).contains("[x] Finished");
        let ok = gh.wait_until(ended, Duration::from_secs(120)).await;
        let comment = tracking(gh, issue);
        assert!(ok, "{comment}");
        assert!(!comment.contains(DEFAULT_KEY), "{comment}");
        let branch = git(
            &bare,
            &[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/bosun",
            ],
        );
        let given = git(&bare, &["show", &format!("{branch}:given.txt")]);
        assert_eq!(
            given.trim(),
            "key token, env clean, base proxy",
            "{comment}"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metered_run_holds_no_key_and_stops_at_its_budget_with_its_work_pushed() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        // SAFETY: set once, before bosun reads it; no other test reads or writes this name.
        unsafe { std::env::set_var(KEY_ENV, REAL_KEY) };
        let model = FakeModel::start().await;
        model.set_usage(400, 100, 0);
        let image = images::image_with_files(
            "bosun-metered-agent",
            &[("/usr/local/bin/claude", METERED_AGENT, 0o755)],
        );
        let dirs = tempfile::tempdir().unwrap();
        let server = format!(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n    \
             env: [{KEY_ENV}]\nlimits:\n  memory_mb: 256\n  cpus: 1\n  task_budget_tokens: 1200\n\
             peer_review: {{enabled: false}}\n\
             meter:\n  enabled: true\n  anthropic:\n    base_url: {}\n    key_env: {KEY_ENV}\n  \
             prices:\n    claude-test: {{input: 3000, output: 15000}}\n",
            model.url()
        );
        let (app, issue, bare) = labelled_by_a_writer(
            dirs.path(),
            &server,
            ("Spend", "Make some calls."),
            "d-meter",
        )
        .await;
        let _no_network = images::NoNetworkMade::of(app.data_dir.path());
        let gh = &app.github;
        // While the agent runs, the cost the proxy counted so far shows (the fake CLI reports no
        // usage of its own): $2.70 per call.
        let live = |g: &fake_github::FakeGitHub| {
            let c = tracking(g, issue);
            c.contains("🔄 running") && (c.contains("· $2.70") || c.contains("· $5.40"))
        };
        let seen_live = gh.wait_until(live, Duration::from_secs(120)).await;
        assert!(seen_live, "{}", tracking(gh, issue));
        let ended = |g: &fake_github::FakeGitHub| {
            has_label(g, issue, "bosun:needs-review") && tracking(g, issue).contains("[x] Finished")
        };
        let ok = gh.wait_until(ended, Duration::from_secs(120)).await;
        let comment = tracking(gh, issue);
        assert!(ok, "{comment}");

        // Three calls answered (500 tokens each: the third crossed 1,200), the fourth refused by
        // the proxy without reaching the model API.
        let calls = model.calls();
        assert_eq!(calls.len(), 3, "{calls:#?}");
        for call in &calls {
            assert_eq!(call.header("x-api-key"), Some(REAL_KEY));
            assert!(
                !call.any_header_contains("bosun-run-"),
                "the token never reached upstream"
            );
        }
        assert!(
            comment.contains(
                "the budget of this run is spent (token budget: 1500 of 1200 tokens used)"
            ),
            "{comment}"
        );
        assert!(
            comment.contains("(token ok, key none, call 4)"),
            "{comment}"
        );
        // 3 × (400 × $3,000 + 100 × $15,000 per million tokens) = $8.10.
        assert!(comment.contains("1,200 in / 300 out · $8.10"), "{comment}");
        assert!(comment.contains("Budget reached"), "{comment}");
        // The work so far is on the task branch; no pull request.
        assert!(gh.pulls(REPO).is_empty());
        let branch = git(
            &bare,
            &[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/bosun",
            ],
        );
        assert!(
            comment.contains(&format!("pushed to `{branch}`")),
            "{comment}"
        );
        let files = git(&bare, &["ls-tree", "--name-only", &branch]);
        assert!(
            files.contains("call-3.txt") && !files.contains("call-4.txt"),
            "{files}"
        );

        app.finish().await;
        model.shutdown().await;
    })
    .await
    .expect("test timed out");
}
