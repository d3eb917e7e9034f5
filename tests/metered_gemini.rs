//! A Gemini CLI run through the metering proxy, in a real container with no network (it reaches
//! the proxy through its door), against the fake Gemini API on the host: the container holds a run token in
//! `GEMINI_API_KEY` and no real key, the upstream sees the real key as `x-goog-api-key` and
//! never the token, the run stops at its budget with at most one call past it, the work so far
//! is pushed, and the cost in the tracking comment is the price table's for the model the calls
//! named in their path (cached prompt tokens at the cache price, thinking tokens as output).

#[path = "support/images.rs"]
mod images;
mod support;

use std::time::Duration;

use fake_model::FakeModel;
use support::*;

/// The hard limit of the test, far above `TEST_TIMEOUT`: it builds images and runs an agent in
/// a real container behind the metering proxy, waited for up to two minutes. Generous for a
/// slow CI machine, yet a hang fails the test instead of blocking CI.
const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

const WRITER: &str = "octocat";
/// The real key, in the server's environment only (a name no other test uses).
const KEY_ENV: &str = "BOSUN_TEST_METER_GEMINI_REAL_KEY";
const REAL_KEY: &str = "AIzaSy-real-0123456789abcdef0123456789";
const MODEL: &str = "gemini-2.5-pro";

/// A fake `gemini` that speaks HTTP itself (busybox `nc`): it calls `generateContent` at
/// `$GOOGLE_GEMINI_BASE_URL/v1beta/models/<its -m model>` with `x-goog-api-key:
/// $GEMINI_API_KEY`, as the real CLI's SDK does, until a call is refused, writing a file per
/// answered call; it prints the real CLI's `-o stream-json` lines (captured from Gemini CLI
/// 0.61.0), and reports the refusal as it does: a `result` line with status `error` whose
/// message wraps the API's error body in `[API Error: ...]`, and exit code 144. What it saw of
/// its environment goes in `env-check.txt`, which is pushed with the partial work.
const METERED_GEMINI: &str = r#"#!/bin/sh
model=gemini-default
while [ $# -gt 0 ]; do
  case "$1" in -m|--model) model=$2; shift ;; esac
  shift
done
echo "{\"type\":\"init\",\"timestamp\":\"2026-11-21T04:48:30.206Z\",\"session_id\":\"g1\",\"model\":\"$model\"}"
echo '{"type":"message","timestamp":"2026-11-21T04:48:30.208Z","role":"user","content":"Spend"}'
case "$GEMINI_API_KEY" in bosun-run-*) token=ok ;; *) token=missing ;; esac
leak=none
env | grep -q 'AIzaSy-real' && leak=LEAKED
url=${GOOGLE_GEMINI_BASE_URL#http://}
hostport=${url%%/*}
prefix=/${url#*/}
host=${hostport%:*}
port=${hostport#*:}
echo "token $token, key $leak, base path $prefix, model $model" > env-check.txt
body='{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"temperature":0}}'
i=0
while [ $i -lt 10 ]; do
  i=$((i+1))
  # The request's end is not the connection's: a closed write side would end the exchange
  # before the answer, so the pipe stays open until the server closes the connection.
  answer=$( (printf 'POST %s/v1beta/models/%s:generateContent HTTP/1.1\r\nHost: %s\r\nx-goog-api-key: %s\r\ncontent-type: application/json\r\ncontent-length: %s\r\nconnection: close\r\n\r\n%s' "$prefix" "$model" "$hostport" "$GEMINI_API_KEY" "${#body}" "$body"; sleep 3) | nc -w 5 "$host" "$port")
  status=$(printf '%s\n' "$answer" | head -n 1 | cut -d' ' -f2)
  if [ "$status" != "200" ]; then
    error=$(printf '%s' "$answer" | tr -d '\r' | sed '1,/^$/d' | sed 's/\\/\\\\/g; s/"/\\"/g')
    echo "{\"type\":\"result\",\"timestamp\":\"2026-11-21T04:48:36.955Z\",\"status\":\"error\",\"error\":{\"type\":\"unknown\",\"message\":\"[API Error: $error]\"},\"stats\":{\"total_tokens\":0,\"input_tokens\":0,\"output_tokens\":0,\"cached\":0,\"input\":0,\"duration_ms\":0,\"tool_calls\":0}}"
    exit 144
  fi
  echo "answer $i" > "call-$i.txt"
  echo "{\"type\":\"message\",\"timestamp\":\"2026-11-21T04:48:31.000Z\",\"role\":\"assistant\",\"content\":\"Call $i answered. \",\"delta\":true}"
done
echo '{"type":"result","timestamp":"2026-11-21T04:48:40.000Z","status":"success","stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0}}'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metered_gemini_run_holds_no_key_and_stops_at_its_budget() {
    tokio::time::timeout(DOCKER_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        // SAFETY: set once, before bosun reads it; no other test reads or writes this name.
        unsafe { std::env::set_var(KEY_ENV, REAL_KEY) };
        let model = FakeModel::start().await;
        // Each call: a 400-token prompt of which 100 were cached, 60 candidates and 40 thinking
        // tokens; 500 tokens in all.
        model.set_usage(300, 60, 100);
        model.set_thoughts(40);
        let image = images::image_with_files(
            "bosun-metered-gemini",
            &[("/usr/local/bin/gemini", METERED_GEMINI, 0o755)],
        );
        let dirs = tempfile::tempdir().unwrap();
        let config_path = dirs.path().join("bosun-server.yml");
        std::fs::write(
            &config_path,
            format!(
                "default_agent: fake\nagents:\n  fake:\n    adapter: gemini\n    image: {image}\n    \
                 env: [{KEY_ENV}]\n\
                 model_map:\n  fake: {{simple: {MODEL}, medium: {MODEL}, complex: {MODEL}}}\n\
                 limits:\n  memory_mb: 256\n  cpus: 1\n  task_budget_tokens: 1200\n\
                 peer_review: {{enabled: false}}\n\
                 meter:\n  enabled: true\n  gemini:\n    base_url: {}\n    key_env: {KEY_ENV}\n  \
                 prices:\n    {MODEL}: {{input: 3000, output: 15000, cache_read: 300}}\n",
                model.url()
            ),
        )
        .unwrap();
        let app = TestApp::start_with(|c| {
            c.run_mode = "agent".into();
            c.run_config = Some(config_path.clone());
        })
        .await;
        let _no_network = images::NoNetworkMade::of(app.data_dir.path());
        let bare = bare_remote(dirs.path());
        let gh = &app.github;
        gh.set_clone_url(REPO, &format!("file://{}", bare.display()));
        gh.set_permission(REPO, WRITER, "write");
        let issue = gh.add_issue(REPO, "Spend", "Make some calls.", WRITER);
        let mut payload = labeled(&app, issue, "bosun", WRITER);
        payload["issue"]["title"] = "Spend".into();
        payload["issue"]["body"] = "Make some calls.".into();
        payload["issue"]["user"]["login"] = WRITER.into();
        assert_eq!(
            app.send_json("issues", "d-meter-gemini", &payload)
                .await
                .status(),
            202
        );
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
            assert_eq!(call.path, format!("/v1beta/models/{MODEL}:generateContent"));
            assert_eq!(call.header("x-goog-api-key"), Some(REAL_KEY));
            assert!(
                !call.any_header_contains("bosun-run-") && !call.query.contains("bosun-run-"),
                "the token never reached upstream"
            );
        }
        // The CLI's error, as the adapter reads it out of Google's error body.
        assert!(
            comment.contains(
                "API Error: bosun: the budget of this run is spent (token budget: 1500 of 1200 tokens used)"
            ),
            "{comment}"
        );
        // Per call: 300 fresh x $3,000 + 100 cached x $300 + (60 + 40) out x $15,000 per million
        // tokens = $2.43; three calls $7.29. Input counts the cached tokens: 3 x 400.
        assert!(comment.contains("1,200 in / 300 out · $7.29"), "{comment}");
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
        // Inside the container: the run token, no real key, and the proxy's /gemini base URL.
        assert_eq!(
            git(&bare, &["show", &format!("{branch}:env-check.txt")]),
            format!("token ok, key none, base path /gemini, model {MODEL}")
        );

        app.finish().await;
        model.shutdown().await;
    })
    .await
    .expect("test timed out");
}
