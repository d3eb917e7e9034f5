//! The agent run end to end: a writer labels an issue; bosun checks out the repository (a
//! local bare remote), runs a scripted fake agent in a real Docker container (a busybox image
//! built here, printing Claude Code's stream-json format), runs the gates in fresh containers,
//! pushes, reports check runs and opens a draft pull request on the fake GitHub.

#[path = "support/images.rs"]
mod images;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use bosun_core::ids::{IssueNumber, RepoId};
use bosun_core::model::{AppRemoval, TaskEvent, TaskStatus};
use fake_github::FakeGitHub;
use support::agent_app::{finished, labeled_as_on_github, review_submitted, WRITER};
use support::*;

/// The hard limit of each test here, far above `TEST_TIMEOUT`: the tests run real containers
/// (images built on first use) and wait for agent runs in bounded steps of up to two minutes,
/// five minutes in all at most in the longest test. Twice that still ends on a slow CI machine;
/// a hang fails the test instead of blocking CI.
const AGENT_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The fake `claude`: reads the prompt on stdin and acts out the scenario named in the issue
/// (`SCENARIO: <name>`), printing stream-json lines as Claude Code does. Like a real CLI built
/// with clap, it refuses a flag it does not know (`--full-auto`) on stderr with exit code 2.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
prompt=$(cat)
model=""
prev=""
for arg in "$@"; do
  [ "$prev" = "--model" ] && model="$arg"
  prev="$arg"
  if [ "$arg" = "--full-auto" ]; then
    printf "error: unexpected argument '--full-auto' found\n\n  tip: to pass '--full-auto' as a value, use '-- --full-auto'\n" >&2
    exit 2
  fi
done
scenario=$(printf '%s\n' "$prompt" | sed -n 's/.*SCENARIO: \([a-z-]*\).*/\1/p' | head -n 1)
echo '{"type":"system","subtype":"init","session_id":"s1","model":"fake-model","tools":[]}'
verdict() {
  printf '%s\n' "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":5,\"num_turns\":1,\"result\":\"$1\\n\\n\`\`\`json\\n{\\\"findings\\\": [$2]}\\n\`\`\`\",\"session_id\":\"s1\",\"total_cost_usd\":0.005,\"usage\":{\"input_tokens\":50,\"output_tokens\":10}}"
}
say() {
  echo "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"fake-model\",\"content\":[{\"type\":\"text\",\"text\":\"$1\"}],\"usage\":{\"input_tokens\":100,\"output_tokens\":20}},\"parent_tool_use_id\":null,\"session_id\":\"s1\"}"
  echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":5,\"num_turns\":1,\"result\":\"$1\",\"session_id\":\"s1\",\"total_cost_usd\":0.0125,\"usage\":{\"input_tokens\":100,\"output_tokens\":20}}"
}
# The router's side: a one-line answer, or silence.
if printf '%s' "$prompt" | grep -q "Your job is to route this issue"; then
  case "$scenario" in
    route-hang)
      sleep 600
      ;;
    *)
      cat <<'ROUTE'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"```json\n{\"complexity\": \"simple\", \"agent\": \"second\", \"rationale\": \"A one-line change.\"}\n```","session_id":"s1","total_cost_usd":0.001,"usage":{"input_tokens":30,"output_tokens":5}}
ROUTE
      ;;
  esac
  exit 0
fi
# The reviewer's side: it reads the diff in its prompt, and scribbles in its copy of the change
# (which must never reach the pull request, nor the reviewer's next try).
if printf '%s' "$prompt" | grep -q "Your job is to review a change"; then
  scribbled_before=no
  if grep -q "the reviewer's scribble" hello.txt 2>/dev/null; then scribbled_before=yes; fi
  echo "the reviewer's scribble" > hello.txt
  case "$scenario" in
    peer-silent)
      sleep 600
      ;;
    peer-blocker|peer-fixed)
      if printf '%s\n' "$prompt" | grep -q '^+hello, fixed$'; then
        verdict "Looks right now." ""
      else
        verdict "The greeting is wrong." '{\"severity\": \"blocker\", \"file\": \"hello.txt\", \"line\": 1, \"text\": \"The issue asks for hello, fixed.\"}'
      fi
      ;;
    peer-garbled)
      if [ "$scribbled_before" = yes ]; then
        verdict "My copy holds my last try's scribble." '{\"severity\": \"blocker\", \"text\": \"The copy under review is not the change.\"}'
      elif printf '%s' "$prompt" | grep -q "Your previous verdict could not be read"; then
        verdict "Sorry, here it is." ""
      else
        say "Looks fine to me, no block needed."
      fi
      ;;
    peer-ask)
      verdict "Unsure." '{\"severity\": \"concern\", \"text\": \"Should the old greeting stay for existing users?\"}'
      ;;
    peer-concern)
      verdict "Probably fine." '{\"severity\": \"concern\", \"file\": \"hello.txt\", \"line\": 1, \"text\": \"Is a comma wanted here?\"}, {\"severity\": \"nit\", \"text\": \"The commit could say why.\"}'
      ;;
    *)
      verdict "Nothing to report." ""
      ;;
  esac
  exit 0
fi
case "$scenario" in
  edit)
    echo "hello, fixed" > hello.txt
    say "I replaced the greeting in hello.txt."
    ;;
  rounds)
    echo "round" >> rounds.txt
    say "Added a line to rounds.txt."
    ;;
  nothing)
    say "The code already does what the issue asks; nothing to change."
    ;;
  planted)
    marker=$(printf '%s\n' "$prompt" | sed -n 's/.*MARKER: \([^ ]*\).*/\1/p' | head -n 1)
    ln -s /etc/passwd passwd
    mkdir -p .git/hooks
    printf '#!/bin/sh\ntouch %s\n' "$marker" > .git/hooks/post-commit
    chmod +x .git/hooks/post-commit
    echo "hello, planted" > hello.txt
    say "Changed hello.txt."
    ;;
  secret-file)
    echo "token=ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" > leak.txt
    say "Wrote the config."
    ;;
  secret-message)
    echo "hello, fixed" > hello.txt
    say "Done. For reference the token is ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 ok."
    ;;
  hang)
    sleep 600
    ;;
  stall)
    sleep 600
    ;;
  stall-once)
    if [ -e .stalled-once ]; then
      rm .stalled-once
      echo "hello, fixed" > hello.txt
      say "Fixed the greeting on the second try."
    else
      touch .stalled-once
      sleep 600
    fi
    ;;
  api-down)
    echo '{"type":"result","subtype":"success","is_error":true,"result":"API Error: Unable to connect to API (ConnectionRefused)","session_id":"s1"}'
    exit 1
    ;;
  steer)
    if printf '%s' "$prompt" | grep -q "STEER-MORE"; then
      echo "hello, steered" > hello.txt
      say "Applied the new instruction."
    else
      sleep 4
      echo "hello, first" > hello.txt
      say "First version."
    fi
    ;;
  slow)
    sleep 4
    echo "hello, late" > hello.txt
    say "Changed hello.txt, slowly."
    ;;
  fail-loudly)
    echo '{"type":"result","subtype":"success","is_error":true,"result":"API Error: key ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 rejected","session_id":"s1"}'
    exit 1
    ;;
  edit-model|route-hang|peer-silent)
    echo "hello, fixed" > hello.txt
    say "Model: $model."
    ;;
  peer-blocker)
    if printf '%s' "$prompt" | grep -q "a reviewer found blockers"; then
      echo "hello, still wrong" > hello.txt
      say "Tried again."
    else
      echo "hello, wrong" > hello.txt
      say "Changed the greeting."
    fi
    ;;
  peer-fixed)
    if printf '%s' "$prompt" | grep -q "a reviewer found blockers"; then
      echo "hello, fixed" > hello.txt
      say "Fixed what the reviewer found."
    else
      echo "hello, wrong" > hello.txt
      say "Changed the greeting."
    fi
    ;;
  peer-concern|peer-ask|peer-garbled)
    echo "hello, fixed" > hello.txt
    say "I replaced the greeting in hello.txt."
    ;;
  review)
    if printf '%s' "$prompt" | grep -q "Review feedback on pull request"; then
      echo "hello, reviewed" > hello.txt
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Applied both review comments.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"changed\", \"reply\": \"Reworded the greeting.\"}, {\"id\": \"T2\", \"outcome\": \"changed\", \"reply\": \"Dropped the comma.\"}]}\n```","session_id":"s1","total_cost_usd":0.01,"usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    else
      echo "hello, fixed" > hello.txt
      say "I replaced the greeting in hello.txt."
    fi
    ;;
  review-question)
    if printf '%s' "$prompt" | grep -q "Review feedback on pull request"; then
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Answered the question.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"answered\", \"reply\": \"Because the issue asks for that exact greeting.\"}]}\n```","session_id":"s1","usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    else
      echo "hello, fixed" > hello.txt
      say "I replaced the greeting in hello.txt."
    fi
    ;;
  review-midrun)
    if printf '%s' "$prompt" | grep -q "new since your previous round"; then
      echo "hello, reviewed twice" > hello.txt
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Applied both comments.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"changed\", \"reply\": \"Reworded.\"}, {\"id\": \"T2\", \"outcome\": \"changed\", \"reply\": \"Also done.\"}]}\n```","session_id":"s1","usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    elif printf '%s' "$prompt" | grep -q "Review feedback on pull request"; then
      touch /tmp/round-one-started 2>/dev/null
      sleep 5
      echo "hello, reviewed" > hello.txt
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Applied the comment.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"changed\", \"reply\": \"Reworded.\"}]}\n```","session_id":"s1","usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    else
      echo "hello, fixed" > hello.txt
      say "I replaced the greeting in hello.txt."
    fi
    ;;
  *)
    echo "unknown scenario: $scenario" >&2
    exit 3
    ;;
esac
"#;

/// bosun in agent mode on a local bare remote (see `support::agent_app`).
type Run = support::agent_app::AgentApp;

async fn start(image: &str, repo_config: &str) -> Run {
    Run::start(image, repo_config).await
}

async fn start_with_server_config(server_config: &str, repo_config: &str) -> Run {
    Run::start_with_config(server_config, repo_config).await
}

fn fake_agent_image() -> String {
    images::image_with_files(
        "bosun-fake-claude",
        &[("/usr/local/bin/claude", FAKE_CLAUDE, 0o755)],
    )
}

async fn label_and_wait(
    run: &Run,
    title: &str,
    body: &str,
    done: impl Fn(&FakeGitHub, u64) -> bool,
) -> u64 {
    run.label_and_wait(title, body, done).await
}

/// Labels a new issue and waits until its task finished with a pull request.
async fn label_until_pull(run: &Run, title: &str, body: &str) -> u64 {
    label_and_wait(run, title, body, |gh, issue| {
        finished(gh, issue) && !gh.pulls(REPO).is_empty()
    })
    .await
}

/// The data directory's `runs/task-<id>/attempt-1/` of the test's only task.
fn first_attempt_dir(run: &Run) -> PathBuf {
    run.app
        .data_dir
        .path()
        .join("runs")
        .read_dir()
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("attempt-1")
}

/// Every container of this test's bosun (by its instance label).
fn sweep(run: &Run) -> images::ContainerSweep {
    let instance = bosun::run::runner::instance_label(run.app.data_dir.path());
    images::ContainerSweep::new("bosun.instance", &instance)
}

/// The only checkout in the data directory's `worktrees/`: the running task's. Its name is
/// unique to this claim of the job (`task-<id>-job-<job>-<fence>`), so a run that takes the job
/// over writes another one, and only the run that made it removes it, once nothing of the run
/// is left that could publish: at the end of `run_attempt`, after every push, check run and
/// pull request (only the final event follows, which the database refuses to a run that lost
/// its lease), or in the background as the run is dropped midway, which is how the worker pool
/// ends a run whose heartbeat found the lease gone (`RemoveOnDrop`).
fn only_checkout(run: &Run) -> PathBuf {
    let checkouts: Vec<PathBuf> = std::fs::read_dir(run.app.data_dir.path().join("worktrees"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    match &checkouts[..] {
        [checkout] => checkout.clone(),
        _ => panic!("one running task, one checkout: {checkouts:?}"),
    }
}

/// How long a run that lost its lease may take to end: it notices at its next heartbeat (every
/// third of the 5 s lease), or at the latest when it renews the lease before publishing.
const STALE_RUN_ENDS_WITHIN: Duration = Duration::from_secs(60);

/// Looks every 100 ms, for `limit` at most, whether `done` holds; false if it never did.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Opens and labels an issue acting out `scenario`, and waits until its agent's container runs.
async fn running_task(
    run: &Run,
    sweep: &images::ContainerSweep,
    title: &str,
    scenario: &str,
) -> u64 {
    let body = format!("SCENARIO: {scenario}");
    let issue = run.app.github.add_issue(REPO, title, &body, WRITER);
    let payload = labeled_as_on_github(&run.app, issue, title, &body);
    let delivery = format!("d-run-{issue}");
    assert_eq!(
        run.app
            .send_json("issues", &delivery, &payload)
            .await
            .status(),
        202
    );
    assert!(sweep.become_present(true).await, "the agent never ran");
    issue
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_issue_becomes_a_draft_pull_request_with_the_agents_change() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let run = start(
            &image,
            "gates:\n  - name: greeting\n    run: grep -q fixed hello.txt\n",
        )
        .await;
        let sweep = sweep(&run);
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let pulls = gh.pulls(REPO);
        assert_eq!(pulls.len(), 1, "{pulls:#?}");
        let pr = &pulls[0];
        assert!(pr.draft);
        assert_eq!(pr.title, "Fix the greeting");
        assert_eq!(pr.base, "main");
        assert!(
            pr.body.starts_with(&format!("Closes #{issue}")),
            "{}",
            pr.body
        );
        assert!(pr.body.contains("I replaced the greeting"), "{}", pr.body);
        assert!(pr.body.contains("`greeting`"), "{}", pr.body);

        // The branch holds exactly the agent's change, on top of main.
        let head = git(
            &run.bare,
            &["rev-parse", &format!("refs/heads/{}", pr.head)],
        );
        assert_eq!(head, pr.head_sha);
        assert!(
            pr.head
                .starts_with(&format!("bosun/{issue}-fix-the-greeting")),
            "{}",
            pr.head
        );
        let diff = git(&run.bare, &["diff", "--name-status", "main", &head]);
        assert_eq!(diff, "M\thello.txt");
        // By the App's bot, at the no-reply address GitHub links to its account.
        assert_eq!(
            git(&run.bare, &["log", "-1", "--format=%an <%ae>", &head]),
            format!(
                "{bot} <{}+{bot}@users.noreply.github.com>",
                run.app.github.bot_user_id(),
                bot = run.app.github.bot_login()
            )
        );
        assert_eq!(
            git(&run.bare, &["show", &format!("{head}:hello.txt")]),
            "hello, fixed"
        );
        assert_eq!(
            git(&run.bare, &["rev-parse", &format!("{head}^")]),
            git(&run.bare, &["rev-parse", "main"])
        );

        let checks = gh.check_runs(REPO);
        assert_eq!(checks.len(), 1, "{checks:#?}");
        assert_eq!(checks[0].name, "bosun / greeting");
        assert_eq!(checks[0].head_sha, head);
        assert_eq!(checks[0].conclusion.as_deref(), Some("success"));

        let comment = tracking(gh, issue);
        assert!(has_label(gh, issue, "bosun:done"));
        assert!(comment.contains("✅"), "{comment}");
        assert!(comment.contains(&pr.html_url), "{comment}");
        assert!(comment.contains("round 1 of 3"), "{comment}");
        assert!(comment.contains("`greeting` ✅"), "{comment}");
        // Another agent (here the only one, so the same) reviewed it and found nothing to post.
        assert!(
            comment.contains("- [x] Review by `fake`: no findings"),
            "{comment}"
        );
        assert!(gh.reviews(REPO, pr.number).is_empty(), "nothing to post");
        let leftovers = sweep.containers();
        assert!(
            leftovers.is_empty(),
            "containers left behind: {leftovers:?}"
        );
        let worktrees: Vec<_> = std::fs::read_dir(run.app.data_dir.path().join("worktrees"))
            .unwrap()
            .collect();
        assert!(worktrees.is_empty(), "checkout removed: {worktrees:?}");

        // The repository's first clone is on the task's timeline, with its size.
        let task = run
            .app
            .db()
            .task_for_issue(
                bosun_core::ids::RepoId(run.app.repo_id),
                bosun_core::ids::IssueNumber(issue),
            )
            .await
            .unwrap()
            .expect("the task");
        let events = run.app.db().task_event_log(task.id).await.unwrap();
        let cloned: Vec<_> = events
            .iter()
            .filter_map(|e| match e.event {
                bosun_core::model::TaskEvent::Progress(
                    bosun_core::model::ProgressEvent::Fetching {
                        total_objects,
                        received_bytes,
                        done: true,
                        ..
                    },
                ) => Some((total_objects, received_bytes)),
                _ => None,
            })
            .collect();
        assert!(
            matches!(cloned[..], [(objects, bytes)] if objects > 0 && bytes > 0),
            "{cloned:?}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_gate_goes_back_to_the_agent_until_it_passes() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        // Passes once the agent has written three lines: in its third round.
        let gates =
            "gates:\n  - name: three\n    run: test \"$(wc -l < rounds.txt)\" -ge 3\nrounds: 3\n";
        let run = start(&image, gates).await;
        let issue = label_until_pull(&run, "Three rounds", "SCENARIO: rounds").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(comment.contains("round 3 of 3"), "{comment}");
        let pr = &gh.pulls(REPO)[0];
        let lines = git(&run.bare, &["show", &format!("{}:rounds.txt", pr.head_sha)]);
        assert_eq!(lines.lines().count(), 3);
        // Rounds 1 and 2 failed their gate; the check run reports the final, passing one.
        let checks = gh.check_runs(REPO);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].conclusion.as_deref(), Some("success"));
        let prompts = run.app.data_dir.path().join("runs/task-1/attempt-1");
        let round3 = std::fs::read_to_string(prompts.join("round-3/input/prompt.md")).unwrap();
        assert!(
            round3.contains("three"),
            "the failing gate goes back to the agent:\n{round3}"
        );
        assert!(!prompts.join("round-4").exists());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_changes_nothing_gets_a_comment_and_no_pull_request() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let issue = label_and_wait(&run, "Already fine", "SCENARIO: nothing", finished).await;
        let gh = &run.app.github;
        assert!(gh.pulls(REPO).is_empty());
        let comment = tracking(gh, issue);
        assert!(comment.contains("without changing any file"), "{comment}");
        assert!(comment.contains("nothing to change"), "{comment}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_fails_the_task_fast_with_a_clear_comment() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        // `pull: never`: the operator builds every image (with the default, `missing`, the
        // engine would try a registry first: `tests/image_pull.rs`).
        let run = start_with_server_config(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    \
             image: bosun-test-no-such-image:never-built\n\
             limits:\n  memory_mb: 256\n  cpus: 1\ndocker:\n  pull: never\n",
            "",
        )
        .await;
        let issue = label_and_wait(&run, "Anything", "SCENARIO: edit", finished).await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:failed"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("`bosun-test-no-such-image:never-built` is not on this bosun server"),
            "{comment}"
        );
        assert!(gh.pulls(REPO).is_empty());
        // At once: no retry with backoff (which would take minutes) before the comment.
        assert!(!comment.contains("with backoff"), "{comment}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

const TOKEN: &str = "ghs_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_links_and_hooks_are_neither_committed_nor_run() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let marker = std::env::temp_dir().join(format!("bosun-hook-marker-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let run = start(&fake_agent_image(), "").await;
        let body = format!("SCENARIO: planted\nMARKER: {}", marker.display());
        label_until_pull(&run, "Plant things", &body).await;
        let gh = &run.app.github;
        let pr = &gh.pulls(REPO)[0];
        let files = git(&run.bare, &["ls-tree", "-r", "--name-only", &pr.head_sha]);
        assert_eq!(files, "hello.txt", "only the real change is committed");
        assert!(!marker.exists(), "a hook the agent planted ran on the host");
        assert!(pr.body.contains("Not committed"), "{}", pr.body);
        assert!(pr.body.contains("`passwd`"), "{}", pr.body);
        assert!(
            !pr.body.contains("root:x:0:0"),
            "the link's target was read"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_written_into_a_file_blocks_the_push_and_is_never_posted() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let issue = label_and_wait(&run, "Leak", "SCENARIO: secret-file", finished).await;
        let gh = &run.app.github;
        assert!(gh.pulls(REPO).is_empty());
        assert!(has_label(gh, issue, "bosun:failed"));
        let comment = tracking(gh, issue);
        assert!(comment.contains("did not push"), "{comment}");
        assert!(comment.contains("`leak.txt`"), "{comment}");
        let heads = git(
            &run.bare,
            &["for-each-ref", "--format=%(refname)", "refs/heads"],
        );
        assert_eq!(heads, "refs/heads/main", "nothing was pushed");
        for c in gh.comments(REPO, issue) {
            assert!(!c.body.contains(TOKEN), "the token was posted: {}", c.body);
        }
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_agents_final_message_is_redacted_in_the_pull_request() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        label_until_pull(&run, "Say too much", "SCENARIO: secret-message").await;
        let pr = &run.app.github.pulls(REPO)[0];
        assert!(!pr.body.contains(TOKEN), "{}", pr.body);
        assert!(pr.body.contains("[REDACTED]"), "{}", pr.body);
        let message = git(&run.bare, &["log", "-1", "--format=%B", &pr.head_sha]);
        assert!(!message.contains(TOKEN), "{message}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_hangs_is_stopped_at_its_deadline_and_its_container_removed() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        // Past the deadline a human must act: the task needs review.
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "timeouts:\n  agent_minutes: 1\n").await;
        let sweep = sweep(&run);
        let issue = label_and_wait(&run, "Hang", "SCENARIO: hang", finished).await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:needs-review"));
        let comment = tracking(gh, issue);
        assert!(comment.contains("deadline of 1m 0s"), "{comment}");
        assert!(gh.pulls(REPO).is_empty());
        assert!(sweep.containers().is_empty(), "the container is gone");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_running_agent_and_removes_its_container() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        let issue = running_task(&run, &sweep, "Hang until stopped", "hang").await;
        let running = |gh: &FakeGitHub| tracking(gh, issue).contains("🔄 running");
        assert!(
            gh.wait_until(running, Duration::from_secs(60)).await,
            "{}",
            tracking(gh, issue)
        );
        assert_eq!(sweep.containers().len(), 1);

        run.stop_and_see_it_end(issue).await;
        assert!(
            sweep.become_present(false).await,
            "the container outlived the stop"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Suspending or uninstalling the App (GitHub's example deliveries, aimed at this installation)
/// stops its running agent: the container goes, and the task records why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_or_uninstalling_the_app_stops_its_running_agent() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        for (file, why) in [
            ("suspend.payload.json", AppRemoval::Suspended),
            ("deleted.payload.json", AppRemoval::Uninstalled),
        ] {
            let issue = running_task(&run, &sweep, "Hang until stopped", "hang").await;
            let running = |gh: &FakeGitHub| tracking(gh, issue).contains("🔄 running");
            assert!(gh.wait_until(running, Duration::from_secs(60)).await);

            let mut payload = fixture("installation", file);
            payload["installation"]["id"] = run.app.installation_id.into();
            payload["sender"]["login"] = "octo-admin".into();
            let delivery = format!("d-{file}");
            let answer = run.app.send_json("installation", &delivery, &payload).await;
            assert_eq!(answer.status(), 202);
            assert!(
                sweep.become_present(false).await,
                "the container outlived the {file}"
            );
            let task = run
                .app
                .db()
                .task_for_issue(RepoId(run.app.repo_id), IssueNumber(issue))
                .await
                .unwrap()
                .unwrap();
            let ended = |status| status == TaskStatus::Stopped;
            let mut status = task.status;
            for _ in 0..600 {
                if ended(status) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                status = run.app.db().task(task.id).await.unwrap().unwrap().status;
            }
            assert_eq!(status, TaskStatus::Stopped, "{file}");
            let events = run.app.db().task_events(task.id).await.unwrap();
            assert!(
                events.iter().any(|e| matches!(
                    e,
                    TaskEvent::AppRemoved { by, why: w } if by == "octo-admin" && *w == why
                )),
                "{events:#?}"
            );
            assert!(gh.pulls(REPO).is_empty());
        }
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// The process backend: the same fake agent as a host program, with the tracking comment
/// saying that it ran unsandboxed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_backend_runs_the_agent_on_the_host_and_says_so() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let script = bin.path().join("fake-claude");
        std::fs::write(&script, FAKE_CLAUDE).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // When the tests run as root the process backend drops to an unprivileged user, who must
        // reach the script and the data directory.
        std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = start_with_server_config(
            &format!(
            "sandbox: process\ndefault_agent: fake\nagents:\n  fake:\n    adapter: claude\n    \
             image: unused\n    program: {}\n",
            script.display()
        ),
            "gates:\n  - name: greeting\n    run: grep -q fixed hello.txt\n",
        )
        .await;
        std::fs::set_permissions(
            run.app.data_dir.path(),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(comment.contains("unsandboxed"), "{comment}");
        let pr = &gh.pulls(REPO)[0];
        assert!(pr.body.contains("`process` sandbox"), "{}", pr.body);
        assert_eq!(
            git(&run.bare, &["show", &format!("{}:hello.txt", pr.head_sha)]),
            "hello, fixed"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// The prompt is built from the issue as it was when the writer labelled it: an edit made
/// afterwards (here: the body on GitHub now says something else) does not reach the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_works_from_the_issue_as_it_was_when_triggered() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let gh = &run.app.github;
        let issue = gh.add_issue(
            REPO,
            "Fix the greeting",
            "SCENARIO: nothing (edited later)",
            WRITER,
        );
        let payload = labeled_as_on_github(&run.app, issue, "Fix the greeting", "SCENARIO: edit");
        assert_eq!(
            run.app
                .send_json("issues", "d-snap", &payload)
                .await
                .status(),
            202
        );
        let opened = |gh: &FakeGitHub| finished(gh, issue) && !gh.pulls(REPO).is_empty();
        assert!(
            gh.wait_until(opened, Duration::from_secs(120)).await,
            "{}",
            tracking(gh, issue)
        );
        let prompt = std::fs::read_to_string(
            run.app
                .data_dir
                .path()
                .join("runs/task-1/attempt-1/round-1/input/prompt.md"),
        )
        .unwrap();
        assert!(prompt.contains("SCENARIO: edit"), "{prompt}");
        assert!(!prompt.contains("edited later"), "{prompt}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_agents_error_is_posted_redacted() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let issue = label_and_wait(&run, "Fail", "SCENARIO: fail-loudly", finished).await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:failed"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("The agent failed: API Error: key [REDACTED] rejected"),
            "{comment}"
        );
        assert!(!comment.contains(TOKEN));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// The repository over HTTP, as on GitHub: the fake serves the bare repository with git's
/// smart HTTP protocol and wants an installation token as the Basic-auth password. bosun
/// fetches and pushes with it, and the token is written nowhere on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_push_over_http_use_the_installation_token_and_store_it_nowhere() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        run.app.github.serve_git(REPO, &run.bare);
        label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let pr = &gh.pulls(REPO)[0];
        assert_eq!(
            git(&run.bare, &["show", &format!("{}:hello.txt", pr.head_sha)]),
            "hello, fixed"
        );

        let calls = gh.git_requests();
        let served: Vec<_> = calls.iter().filter(|c| c.status == 200).collect();
        assert!(
            served.iter().any(|c| c.path.ends_with("/git-upload-pack")),
            "{calls:#?}"
        );
        assert!(
            served.iter().any(|c| c.path.ends_with("/git-receive-pack")),
            "{calls:#?}"
        );
        for call in &served {
            assert_eq!(call.user.as_deref(), Some("x-access-token"), "{call:?}");
            assert!(call.token_valid);
        }
        // The token never lands on disk: not in the mirror's config, FETCH_HEAD, the database or
        // the run logs.
        let mut stack = vec![run.app.data_dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !bytes.windows(4).any(|w| w == b"ghs_"),
                        "a token-shaped string in {}",
                        path.display()
                    );
                }
            }
        }
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// A run whose job was taken over by another worker (its fencing token moved on) publishes
/// nothing: no push, no check run, no pull request, and its container and checkout go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lease_publishes_nothing() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(
            &fake_agent_image(),
            "gates:\n  - name: any\n    run: 'true'\n",
        )
        .await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        running_task(&run, &sweep, "Slow", "slow").await;
        // Its agent's container runs (`running_task`), so the run has started and this is its
        // checkout.
        let checkout = only_checkout(&run);

        // Another worker reclaims the job, as after an expired lease: its fence moves on, and the
        // job is parked far in the future so nobody runs it again during the test.
        let db = run.app.data_dir.path().join("bosun.db");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query(
            "UPDATE jobs SET fence = fence + 1, state = 'queued', \
             run_after = 9999999999999 WHERE kind = 'run'",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        // Wait until the run is over rather than sleeping past the agent's 4 s of work. A fenced
        // run records nothing (the database refuses its events), so its end shows on disk: its
        // checkout goes only when the run has ended or was dropped, after every step that could
        // publish (see `only_checkout`); its container is removed in the background when the
        // run is dropped, so it is waited for too. Both were there (checked above), so the wait
        // cannot pass before the run even started.
        assert!(
            eventually(STALE_RUN_ENDS_WITHIN, || {
                !checkout.exists() && sweep.containers().is_empty()
            })
            .await,
            "the run that lost its lease did not end: checkout {} there: {}, containers: {:?}",
            checkout.display(),
            checkout.exists(),
            sweep.containers()
        );
        // Over: nothing was published, nothing was left behind.
        assert!(gh.pulls(REPO).is_empty());
        assert!(gh.check_runs(REPO).is_empty());
        let heads = git(
            &run.bare,
            &["for-each-ref", "--format=%(refname)", "refs/heads"],
        );
        assert_eq!(heads, "refs/heads/main", "nothing was pushed");
        assert!(sweep.containers().is_empty(), "the container is gone");
        let worktrees: Vec<_> = std::fs::read_dir(run.app.data_dir.path().join("worktrees"))
            .unwrap()
            .collect();
        assert!(worktrees.is_empty(), "checkout removed: {worktrees:?}");
        let mut app = run.app;
        app.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Two runs of one attempt at once (the first one's lease taken over while it still works):
/// both run their agents, only the one holding the job publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_racing_on_one_issue_leave_one_pull_request_and_one_set_of_comments() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(
            &fake_agent_image(),
            "gates:\n  - name: any\n    run: 'true'\n",
        )
        .await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        let issue = running_task(&run, &sweep, "Slow", "slow").await;
        // Its agent's container runs (`running_task`), so the first run has started and this is
        // its checkout; the second run gets one of its own.
        let first_checkout = only_checkout(&run);

        // The job goes back to the queue with a new fence while its first run is mid-agent: a
        // second worker claims it at once and runs the same attempt again.
        let db = run.app.data_dir.path().join("bosun.db");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query(
            "UPDATE jobs SET fence = fence + 1, state = 'queued', run_after = 0 WHERE kind = 'run'",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let done = |gh: &FakeGitHub| finished(gh, issue) && !gh.pulls(REPO).is_empty();
        assert!(
            gh.wait_until(done, Duration::from_secs(120)).await,
            "{}",
            tracking(gh, issue)
        );
        // Rather than sleeping for long enough, wait until the first run is over: then it has
        // reached every publishing step it could. The database shows nothing of a fenced run's
        // end (its events are refused), but its checkout goes only when it has ended or was
        // dropped, after every step that could publish (see `only_checkout`). The checkout was
        // there while its agent ran (checked above), so the wait cannot pass before the first
        // run even started.
        assert!(
            eventually(STALE_RUN_ENDS_WITHIN, || !first_checkout.exists()).await,
            "the first run did not end: its checkout {} is still there",
            first_checkout.display()
        );
        assert_eq!(gh.pulls(REPO).len(), 1, "{:#?}", gh.pulls(REPO));
        assert_eq!(gh.check_runs(REPO).len(), 1, "{:#?}", gh.check_runs(REPO));
        let bot = gh.bot_login();
        let own: Vec<_> = gh
            .comments(REPO, issue)
            .into_iter()
            .filter(|c| c.user_login == bot)
            .collect();
        assert_eq!(
            own.len(),
            1,
            "one tracking comment and nothing else: {own:#?}"
        );
        assert!(has_label(gh, issue, "bosun:done"));
        let heads = git(
            &run.bare,
            &["for-each-ref", "--format=%(refname)", "refs/heads"],
        );
        assert_eq!(
            heads.lines().count(),
            2,
            "main and one task branch: {heads}"
        );
        assert!(sweep.become_present(false).await, "containers left behind");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn where_the_repository_takes_no_drafts_the_pull_request_opens_ready_and_the_comment_says_why(
) {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let run = start(
            &image,
            "gates:\n  - name: greeting\n    run: grep -q fixed hello.txt\n",
        )
        .await;
        let _sweep = sweep(&run);
        // A private repository on one of GitHub's free plans.
        run.app.github.set_drafts_supported(REPO, false);
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let pulls = gh.pulls(REPO);
        assert_eq!(pulls.len(), 1, "{pulls:#?}");
        assert!(!pulls[0].draft);
        assert!(has_label(gh, issue, "bosun:done"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("ready for review: this repository does not take draft pull requests"),
            "{comment}"
        );
        assert!(comment.contains("rather than a draft"), "{comment}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_pull_request_marks_the_task_done_and_deletes_its_branch() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let pr = gh.pulls(REPO)[0].clone();
        let branch_ref = format!("refs/heads/{}", pr.head);
        assert!(git(&run.bare, &["for-each-ref", "--format=%(refname)"]).contains(&branch_ref));

        let payload = pull_closed(&run.app, &pr, true, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request", "d-merged", &payload)
                .await
                .status(),
            202
        );
        let merged = |gh: &FakeGitHub| tracking(gh, issue).contains("was merged by @octocat");
        assert!(
            gh.wait_until(merged, Duration::from_secs(30)).await,
            "{}",
            tracking(gh, issue)
        );
        let gone = tokio::time::timeout(Duration::from_secs(30), async {
            while git(&run.bare, &["for-each-ref", "--format=%(refname)"]).contains(&branch_ref) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(gone.is_ok(), "the merged branch was not deleted");
        assert!(has_label(gh, issue, "bosun:done"));
        // A redelivery changes nothing.
        assert_eq!(
            run.app
                .send_json("pull_request", "d-merged", &payload)
                .await
                .status(),
            200
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_closed_unmerged_cancels_the_task_and_keeps_the_branch() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let pr = gh.pulls(REPO)[0].clone();
        let payload = pull_closed(&run.app, &pr, false, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request", "d-closed", &payload)
                .await
                .status(),
            202
        );
        // The comment is updated before the labels: wait for both.
        let closed = |gh: &FakeGitHub| {
            tracking(gh, issue).contains("closed without merging by @octocat")
                && !has_label(gh, issue, "bosun:done")
        };
        assert!(
            gh.wait_until(closed, Duration::from_secs(30)).await,
            "{} {:?}",
            tracking(gh, issue),
            gh.issue_labels(REPO, issue)
        );
        let refs = git(&run.bare, &["for-each-ref", "--format=%(refname)"]);
        assert!(refs.contains(&format!("refs/heads/{}", pr.head)), "{refs}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_issue_stops_its_running_agent() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        let issue = running_task(&run, &sweep, "Hang", "hang").await;

        let mut closed = labeled_as_on_github(&run.app, issue, "Hang", "SCENARIO: hang");
        closed["action"] = "closed".into();
        closed["issue"]["state"] = "closed".into();
        // Someone without write access closes it first (an issue's author may, on GitHub):
        // that does not stop a writer's task (issue 20, hole 8). Both closes are handled in
        // the order they came, so the stop below is the writer's.
        let mut by_mallory = closed.clone();
        by_mallory["sender"]["login"] = "mallory".into();
        by_mallory["sender"]["id"] = 6_660_666.into();
        assert_eq!(
            run.app
                .send_json("issues", "d-close-1", &by_mallory)
                .await
                .status(),
            202
        );
        assert_eq!(
            run.app
                .send_json("issues", "d-close-2", &closed)
                .await
                .status(),
            202
        );
        let stopped =
            |gh: &FakeGitHub| tracking(gh, issue).contains("The issue was closed by @octocat");
        assert!(
            gh.wait_until(stopped, Duration::from_secs(60)).await,
            "{}",
            tracking(gh, issue)
        );
        assert!(
            sweep.become_present(false).await,
            "the container outlived the close"
        );
        assert!(
            !tracking(gh, issue).contains("mallory"),
            "{}",
            tracking(gh, issue)
        );
        assert!(gh.pulls(REPO).is_empty());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Server configuration with agents that count as stuck after `idle_secs` of silence.
async fn start_with_idle(idle_secs: u64) -> Run {
    let image = fake_agent_image();
    start_with_server_config(
        &format!(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
             limits:\n  memory_mb: 256\n  cpus: 1\n  agent_idle_secs: {idle_secs}\n"
        ),
        "",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_is_restarted_once() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_with_idle(2).await;
        let issue = label_until_pull(&run, "Stall once", "SCENARIO: stall-once").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("printed nothing for 2s and was restarted (1×)"),
            "{comment}"
        );
        let pr = &gh.pulls(REPO)[0];
        let files = git(&run.bare, &["ls-tree", "-r", "--name-only", &pr.head_sha]);
        assert_eq!(
            files, "hello.txt",
            "the marker the agent removed is not committed"
        );
        let runs = run.app.data_dir.path().join("runs/task-1/attempt-1");
        assert!(runs.join("round-1-restart-1/agent.log").exists());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// A reviewer stopped for its silence is a review that failed, not a task someone stopped: the
/// change still becomes a pull request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_reviewer_is_a_failed_review_not_a_stopped_task() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_with_idle(2).await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: peer-silent").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        // The change is published and left for a person to review, since no agent reviewed it.
        assert!(has_label(gh, issue, "bosun:needs-review"), "{comment}");
        assert!(
            comment.contains(
                "⚠️ Review by `fake`: could not be used: it printed nothing for 2s and was stopped"
            ),
            "{comment}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_silent_twice_fails_the_task() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_with_idle(2).await;
        let sweep = sweep(&run);
        let issue = label_and_wait(&run, "Stall", "SCENARIO: stall", finished).await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:failed"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("printed nothing for 2s and was stopped, 2 times"),
            "{comment}"
        );
        assert!(gh.pulls(REPO).is_empty());
        assert!(sweep.containers().is_empty());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// An agent whose model API cannot be reached is retried by the queue with backoff (it does
/// not use up the task), and the tracking comment says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_agent_failure_is_retried_with_backoff() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let gh = &run.app.github;
        let issue = gh.add_issue(REPO, "API down", "SCENARIO: api-down", WRITER);
        let payload = labeled_as_on_github(&run.app, issue, "API down", "SCENARIO: api-down");
        assert_eq!(
            run.app
                .send_json("issues", "d-api", &payload)
                .await
                .status(),
            202
        );
        let retried = |gh: &FakeGitHub| {
            tracking(gh, issue)
                .contains("Retried 1× with backoff: the model API could not be reached")
        };
        assert!(
            gh.wait_until(retried, Duration::from_secs(60)).await,
            "{}",
            tracking(gh, issue)
        );
        let labels = gh.issue_labels(REPO, issue);
        assert!(
            labels.contains(&"bosun:in-progress".to_string()),
            "{labels:?}"
        );
        // The queue notes the error when the worker hands the job back, just after the comment
        // says it will retry.
        let mut runs = Vec::new();
        for _ in 0..100 {
            runs = run.app.db().jobs_of_kind("run").await.unwrap();
            if runs[0].2.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            runs[0]
                .2
                .as_deref()
                .unwrap_or("")
                .contains("could not be reached"),
            "{runs:?}"
        );

        // Stop it; the queued retry then finds nothing to do.
        let comment_id = gh.add_comment(REPO, issue, "@bosun-test stop", WRITER);
        let stop = comment_created(&run.app, issue, comment_id, "@bosun-test stop", WRITER);
        assert_eq!(
            run.app
                .send_json("issue_comment", "d-api-stop", &stop)
                .await
                .status(),
            202
        );
        let stopped = |gh: &FakeGitHub| tracking(gh, issue).contains("Stopped by @octocat");
        assert!(
            gh.wait_until(stopped, Duration::from_secs(30)).await,
            "{}",
            tracking(gh, issue)
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// After `breaker_failures` failed runs in a row, the agent's circuit breaker opens in that
/// repository: the retries stop, and the next task there ends at once, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_stops_a_retry_loop() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let run = start_with_server_config(
            &format!(
                "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
             limits:\n  breaker_failures: 2\n  breaker_cooldown_minutes: 30\n"
            ),
            "",
        )
        .await;
        let issue = label_and_wait(&run, "API down", "SCENARIO: api-down", finished).await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:failed"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("failed 2 times in a row in this repository"),
            "{comment}"
        );
        assert!(comment.contains("Retried 2×"), "{comment}");

        // The next task in the repository is refused at once: its agent never starts.
        let sweep = sweep(&run);
        let second = label_and_wait(&run, "Fix the greeting", "SCENARIO: edit", finished).await;
        assert!(
            tracking(gh, second).contains("circuit breaker is open"),
            "{}",
            tracking(gh, second)
        );
        assert!(sweep.containers().is_empty());
        assert!(
            !run.app.data_dir.path().join("runs/task-2").exists(),
            "no agent ran for task 2"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// `retry` after a failure starts a new attempt whose prompt says how the last one ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_the_cli_does_not_know_is_dropped_and_the_agent_relaunched() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let run = start_with_server_config(
            &format!(
            "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n    \
             args: [\"--full-auto\"]\nlimits:\n  memory_mb: 256\n  cpus: 1\n"
        ),
            "",
        )
        .await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(
            comment.contains(
                "Relaunched the agent: dropped `--full-auto`, which the CLI does not know"
            ),
            "{comment}"
        );
        assert!(has_label(gh, issue, "bosun:done"), "{comment}");
        // The reviewer (the same CLI) learns the same lesson and reviews.
        assert!(
            comment.contains("reviewer `fake`: dropped `--full-auto`"),
            "{comment}"
        );
        assert!(
            comment.contains("- [x] Review by `fake`: no findings"),
            "{comment}"
        );
        // Both launches kept their logs; the refused one holds the CLI's own error.
        let round = first_attempt_dir(&run);
        let refused = std::fs::read_to_string(round.join("round-1").join("agent.log")).unwrap();
        assert!(
            refused.contains("unexpected argument '--full-auto'"),
            "{refused}"
        );
        assert!(round.join("round-1-restart-1").join("agent.log").exists());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_tells_the_agent_how_the_previous_attempt_failed() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let (title, body) = ("Fail", "SCENARIO: fail-loudly");
        let issue = label_and_wait(&run, title, body, finished).await;
        let gh = &run.app.github;
        let comment_id = gh.add_comment(REPO, issue, "@bosun-test retry", WRITER);
        let mut retry = comment_created(&run.app, issue, comment_id, "@bosun-test retry", WRITER);
        retry["issue"]["title"] = title.into();
        retry["issue"]["body"] = body.into();
        assert_eq!(
            run.app
                .send_json("issue_comment", "d-retry", &retry)
                .await
                .status(),
            202
        );
        let second = |gh: &FakeGitHub| {
            let comment = tracking(gh, issue);
            comment.contains("attempt 2") && comment.contains("[x] Finished")
        };
        assert!(
            gh.wait_until(second, Duration::from_secs(60)).await,
            "{}",
            tracking(gh, issue)
        );
        let prompt = std::fs::read_to_string(
            run.app
                .data_dir
                .path()
                .join("runs/task-1/attempt-2/round-1/input/prompt.md"),
        )
        .unwrap();
        assert!(
            prompt.contains("An earlier attempt at this task failed"),
            "{prompt}"
        );
        assert!(
            prompt.contains("API Error: key [REDACTED] rejected"),
            "{prompt}"
        );
        assert!(!prompt.contains(TOKEN));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Instructions written while the agent works are not lost: the round after carries them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructions_written_during_a_run_get_a_round_of_their_own() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let sweep = sweep(&run);
        let gh = &run.app.github;
        let issue = running_task(&run, &sweep, "Steer me", "steer").await;
        let text = "@bosun-test STEER-MORE: greet the steering way";
        let comment_id = gh.add_comment(REPO, issue, text, WRITER);
        let mut steer = comment_created(&run.app, issue, comment_id, text, WRITER);
        steer["issue"]["title"] = "Steer me".into();
        steer["issue"]["body"] = "SCENARIO: steer".into();
        assert_eq!(
            run.app
                .send_json("issue_comment", "d-steer", &steer)
                .await
                .status(),
            202
        );
        let opened = |gh: &FakeGitHub| finished(gh, issue) && !gh.pulls(REPO).is_empty();
        assert!(
            gh.wait_until(opened, Duration::from_secs(90)).await,
            "{}",
            tracking(gh, issue)
        );
        let pr = &gh.pulls(REPO)[0];
        assert_eq!(
            git(&run.bare, &["show", &format!("{}:hello.txt", pr.head_sha)]),
            "hello, steered"
        );
        assert!(
            tracking(gh, issue).contains("round 2 of 3"),
            "{}",
            tracking(gh, issue)
        );
        let round2 = std::fs::read_to_string(
            run.app
                .data_dir
                .path()
                .join("runs/task-1/attempt-1/round-2/input/prompt.md"),
        )
        .unwrap();
        assert!(round2.contains("new instructions"), "{round2}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// When the queue's tries are used up (here: the model API never comes back), the task needs
/// review and says what failed last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_out_of_tries_needs_review_with_its_last_error() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let run = start_with_server_config(
            &format!(
                "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
             limits:\n  breaker_failures: 50\n"
            ),
            "",
        )
        .await;
        let issue = run
            .app
            .github
            .add_issue(REPO, "Down", "SCENARIO: api-down", WRITER);
        let payload = labeled_as_on_github(&run.app, issue, "Down", "SCENARIO: api-down");
        assert_eq!(
            run.app
                .send_json("issues", "d-tries", &payload)
                .await
                .status(),
            202
        );
        let gh = &run.app.github;
        // The comment is updated before the labels: wait for both.
        let given_up = |gh: &FakeGitHub| {
            tracking(gh, issue).contains("gave up on this attempt")
                && has_label(gh, issue, "bosun:needs-review")
        };
        assert!(
            gh.wait_until(given_up, Duration::from_secs(150)).await,
            "{} {:?}",
            tracking(gh, issue),
            gh.issue_labels(REPO, issue)
        );
        let comment = tracking(gh, issue);
        assert!(comment.contains("could not be reached"), "{comment}");
        assert!(comment.contains("Retried 5×"), "{comment}");
        // The job is dead (used up), which the strict teardown would flag: shut down by hand.
        let mut app = run.app;
        app.shutdown().await;
    })
    .await
    .expect("test timed out");
}

// --- review feedback on bosun's pull request ---------------------------------------------------

/// The task's first run opens the pull request; returns (issue, pull request).
async fn pull_request_for(run: &Run, scenario: &str) -> (u64, fake_github::PullRecord) {
    let issue = label_until_pull(run, "Fix the greeting", &format!("SCENARIO: {scenario}")).await;
    (issue, run.app.github.pulls(REPO)[0].clone())
}

/// `pull_request_review_comment.created` for comment `id`.
fn review_comment_created(app: &TestApp, pr: u64, id: u64, sender: &str) -> serde_json::Value {
    let mut p = fixture("pull_request_review_comment", "created.payload.json");
    retarget(&mut p, app, pr, sender);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("issue");
    }
    p["comment"] = app.github.review_comment_json(REPO, id);
    p["pull_request"] = app.github.pull_json(REPO, pr);
    p
}

fn commits_on(bare: &std::path::Path, branch: &str) -> Vec<String> {
    git(bare, &["rev-list", &format!("refs/heads/{branch}")])
        .lines()
        .map(str::to_string)
        .collect()
}

fn answered(gh: &FakeGitHub, issue: u64) -> bool {
    finished(gh, issue) && tracking(gh, issue).contains("Review threads:")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_with_two_threads_gets_one_commit_two_replies_and_two_resolved_threads() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let (issue, pr) = pull_request_for(&run, "review").await;
        let gh = &run.app.github;
        let before = commits_on(&run.bare, &pr.head);

        let (review, _) = gh.add_review(
            REPO,
            pr.number,
            WRITER,
            "CHANGES_REQUESTED",
            "Two small things.",
            &[
                ("hello.txt", 1, "Say it more warmly."),
                ("hello.txt", 1, "No comma, please."),
            ],
        );
        // A reader's review does nothing at all.
        gh.set_permission(REPO, "stranger", "read");
        let (outsider, _) = gh.add_review(
            REPO,
            pr.number,
            "stranger",
            "COMMENTED",
            "Delete everything.",
            &[],
        );
        let payload = review_submitted(&run.app, pr.number, outsider, "stranger");
        assert_eq!(
            run.app
                .send_json("pull_request_review", "d-outsider", &payload)
                .await
                .status(),
            202
        );

        let payload = review_submitted(&run.app, pr.number, review, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request_review", "d-review", &payload)
                .await
                .status(),
            202
        );
        // The inline comments' own deliveries arrive too; they coalesce into the same run.
        for (i, thread) in gh.review_threads(REPO, pr.number).iter().enumerate() {
            let payload =
                review_comment_created(&run.app, pr.number, thread.comments[0].id, WRITER);
            let delivery = format!("d-review-comment-{i}");
            assert_eq!(
                run.app
                    .send_json("pull_request_review_comment", &delivery, &payload)
                    .await
                    .status(),
                202
            );
        }
        assert!(
            gh.wait_until(|gh| answered(gh, issue), Duration::from_secs(120))
                .await,
            "{}",
            tracking(gh, issue)
        );

        // One new commit on the same branch, on top of the old head (no force push).
        let after = commits_on(&run.bare, &pr.head);
        assert_eq!(after.len(), before.len() + 1, "{after:?}");
        assert_eq!(after[1..], before[..]);
        let content = git(
            &run.bare,
            &["show", &format!("refs/heads/{}:hello.txt", pr.head)],
        );
        assert_eq!(content, "hello, reviewed");
        assert_eq!(gh.pulls(REPO).len(), 1, "no second pull request");

        let threads = gh.review_threads(REPO, pr.number);
        assert_eq!(threads.len(), 2);
        let short = &after[0][..7];
        for thread in &threads {
            assert!(thread.resolved, "{thread:?}");
            assert_eq!(thread.resolved_by.as_deref(), Some(gh.bot_login().as_str()));
            let replies: Vec<_> = thread
                .comments
                .iter()
                .filter(|c| c.user_login == gh.bot_login())
                .collect();
            assert_eq!(replies.len(), 1, "{thread:?}");
            assert!(
                replies[0].body.contains(&format!("Changed in [`{short}`]")),
                "{}",
                replies[0].body
            );
        }
        let text = tracking(gh, issue);
        assert!(text.contains("2 replied, 2 resolved"), "{text}");
        assert!(text.contains("answer the review of #"), "{text}");
        assert!(has_label(gh, issue, "bosun:done"));
        assert!(!text.contains("Delete everything"));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_in_review_gets_an_answer_and_no_commit() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let (issue, pr) = pull_request_for(&run, "review-question").await;
        let gh = &run.app.github;
        let before = commits_on(&run.bare, &pr.head);
        let id =
            gh.add_review_comment(REPO, pr.number, WRITER, "hello.txt", 1, "Why this wording?");
        let payload = review_comment_created(&run.app, pr.number, id, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request_review_comment", "d-question", &payload)
                .await
                .status(),
            202
        );
        assert!(
            gh.wait_until(|gh| answered(gh, issue), Duration::from_secs(120))
                .await,
            "{}",
            tracking(gh, issue)
        );
        assert_eq!(commits_on(&run.bare, &pr.head), before, "no commit");
        let thread = &gh.review_threads(REPO, pr.number)[0];
        assert!(!thread.resolved, "the asker resolves a question");
        let reply = thread.comments.last().unwrap();
        assert_eq!(reply.user_login, gh.bot_login());
        assert!(
            reply
                .body
                .starts_with("Because the issue asks for that exact greeting."),
            "{}",
            reply.body
        );
        assert!(tracking(gh, issue).contains("1 replied, 0 resolved"));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_feedback_arriving_mid_run_is_handled_in_the_next_round_once() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let (issue, pr) = pull_request_for(&run, "review-midrun").await;
        let gh = &run.app.github;
        let before = commits_on(&run.bare, &pr.head);
        let sweep = sweep(&run);

        let first = gh.add_review_comment(
            REPO,
            pr.number,
            WRITER,
            "hello.txt",
            1,
            "Say it more warmly.",
        );
        let payload = review_comment_created(&run.app, pr.number, first, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request_review_comment", "d-first", &payload)
                .await
                .status(),
            202
        );
        assert!(sweep.become_present(true).await, "the follow-up never ran");

        // While round 1 works: a second comment, delivered twice (a redelivery) and mentioned once.
        let second = gh.add_review_comment(
            REPO,
            pr.number,
            WRITER,
            "hello.txt",
            1,
            "And add a newline.",
        );
        let payload = review_comment_created(&run.app, pr.number, second, WRITER);
        assert_eq!(
            run.app
                .send_json("pull_request_review_comment", "d-second", &payload)
                .await
                .status(),
            202
        );
        assert_eq!(
            run.app
                .send_json("pull_request_review_comment", "d-second", &payload)
                .await
                .status(),
            200
        );
        assert!(
            gh.wait_until(|gh| answered(gh, issue), Duration::from_secs(120))
                .await,
            "{}",
            tracking(gh, issue)
        );
        let text = tracking(gh, issue);
        assert!(text.contains("round 2 of"), "two rounds: {text}");
        let after = commits_on(&run.bare, &pr.head);
        assert_eq!(after.len(), before.len() + 1, "one commit for both rounds");
        for thread in gh.review_threads(REPO, pr.number) {
            let replies = thread
                .comments
                .iter()
                .filter(|c| c.user_login == gh.bot_login())
                .count();
            assert_eq!(replies, 1, "answered once: {thread:?}");
            assert!(thread.resolved);
        }
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Starts a run whose gates pass whenever `hello.txt` says hello, and waits for `scenario`'s
/// issue to finish with a pull request.
async fn peer_reviewed(scenario: &str) -> (Run, u64, fake_github::PullRecord) {
    let image = fake_agent_image();
    let run = start(
        &image,
        "gates:\n  - name: greeting\n    run: grep -q hello hello.txt\n",
    )
    .await;
    let issue = label_until_pull(&run, "Fix the greeting", &format!("SCENARIO: {scenario}")).await;
    let pulls = run.app.github.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    let pr = pulls[0].clone();
    (run, issue, pr)
}

fn file_on(run: &Run, pr: &fake_github::PullRecord, file: &str) -> String {
    git(&run.bare, &["show", &format!("{}:{file}", pr.head_sha)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_blocker_gets_one_fix_round_then_escalates_with_an_inline_review() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let (run, issue, pr) = peer_reviewed("peer-blocker").await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:needs-review"));
        assert!(pr.draft);
        // The fix round's version is what was pushed, in one commit; the reviewer's scribbles in
        // its own copy are nowhere.
        assert_eq!(file_on(&run, &pr, "hello.txt"), "hello, still wrong");
        assert_eq!(
            git(&run.bare, &["rev-parse", &format!("{}^", pr.head_sha)]),
            git(&run.bare, &["rev-parse", "main"])
        );
        let reviews = gh.reviews(REPO, pr.number);
        assert_eq!(reviews.len(), 1, "{reviews:#?}");
        assert_eq!(reviews[0].state, "COMMENTED");
        assert_eq!(reviews[0].user_login, gh.bot_login());
        assert_eq!(reviews[0].commit_id, pr.head_sha);
        assert!(
            reviews[0].body.contains("Blockers remain"),
            "{}",
            reviews[0].body
        );
        let threads = gh.review_threads(REPO, pr.number);
        assert_eq!(threads.len(), 1, "{threads:#?}");
        assert_eq!(
            (threads[0].path.as_str(), threads[0].line),
            ("hello.txt", Some(1))
        );
        assert!(
            threads[0].comments[0].body.contains("**blocker**")
                && threads[0].comments[0]
                    .body
                    .contains("The issue asks for hello, fixed."),
            "{:?}",
            threads[0].comments[0]
        );
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("- [x] Review by `fake`: 1 blocker"),
            "{comment}"
        );
        assert!(
            comment.contains("1 blocker went back to the agent for one round of fixes"),
            "{comment}"
        );
        assert!(
            comment.contains("Review by `fake` (after the fixes): 1 blocker"),
            "{comment}"
        );
        assert!(comment.contains("round 2 of 3"), "{comment}");
        assert!(comment.contains("still finds blockers"), "{comment}");
        assert!(comment.contains("(1 inline)"), "{comment}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocker_fixed_in_the_fix_round_ends_done_without_a_review() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let (run, issue, pr) = peer_reviewed("peer-fixed").await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:done"));
        assert_eq!(file_on(&run, &pr, "hello.txt"), "hello, fixed");
        assert!(
            pr.body.contains("Fixed what the reviewer found."),
            "{}",
            pr.body
        );
        assert!(
            gh.reviews(REPO, pr.number).is_empty(),
            "nothing left to post"
        );
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("Review by `fake` (after the fixes): no findings"),
            "{comment}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_concern_lands_as_a_note_on_the_pull_request() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let (run, issue, pr) = peer_reviewed("peer-concern").await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:done"));
        assert_eq!(file_on(&run, &pr, "hello.txt"), "hello, fixed");
        let reviews = gh.reviews(REPO, pr.number);
        assert_eq!(reviews.len(), 1, "{reviews:#?}");
        let body = &reviews[0].body;
        assert!(body.contains("A concern to look at"), "{body}");
        // The nit is about the whole change: in the body, not on a line.
        assert!(
            body.contains("**nit** (the whole change, `fake`): The commit could say why."),
            "{body}"
        );
        let threads = gh.review_threads(REPO, pr.number);
        assert_eq!(threads.len(), 1, "{threads:#?}");
        assert!(threads[0].comments[0].body.contains("**concern**"));
        assert!(threads[0].comments[0]
            .body
            .contains("Is a comma wanted here?"));
        let comment = tracking(gh, issue);
        assert!(comment.contains("1 concern"), "{comment}");
        assert!(comment.contains("noted in the review"), "{comment}");
        assert!(!comment.contains("went back to the agent"), "{comment}");
        // No question on the issue: a single concern is only noted.
        let questions = gh
            .comments(REPO, issue)
            .into_iter()
            .filter(|c| c.body.contains("peer-question"))
            .count();
        assert_eq!(questions, 0);
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concerns_shared_by_most_reviewers_are_asked_about_on_the_issue() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let image = fake_agent_image();
        let agent = format!("    adapter: claude\n    image: {image}\n");
        let run = start_with_server_config(
            &format!(
                "default_agent: fake\nagents:\n  fake:\n{agent}  second:\n{agent}\
             limits:\n  memory_mb: 256\n  cpus: 1\n"
            ),
            "gates:\n  - name: greeting\n    run: grep -q hello hello.txt\n\
         peer_review:\n  reviewers: [fake, second]\n",
        )
        .await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: peer-ask").await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:needs-review"));
        let pr = &gh.pulls(REPO)[0];
        let reviews = gh.reviews(REPO, pr.number);
        assert_eq!(reviews.len(), 1, "{reviews:#?}");
        assert!(reviews[0].body.contains("Most reviewers share concerns"));
        assert!(
            reviews[0].body.contains("`fake`, `second`"),
            "{}",
            reviews[0].body
        );
        let questions: Vec<_> = gh
            .comments(REPO, issue)
            .into_iter()
            .filter(|c| c.body.contains("peer-question"))
            .collect();
        assert_eq!(questions.len(), 1, "{questions:#?}");
        let q = &questions[0].body;
        assert!(q.starts_with(&format!("@{WRITER} ")), "{q}");
        assert!(q.contains(&format!("#{}", pr.number)), "{q}");
        assert_eq!(q.matches("Should the old greeting stay").count(), 2, "{q}");
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("- [x] Review by `second`: 0 blockers · 1 concern"),
            "{comment}"
        );
        assert!(comment.contains("asked about them below"), "{comment}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// The second try runs on a fresh copy of the change: the fake reviewer scribbles in its copy on
/// every try, and reports a blocker when it finds its earlier try's scribble there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_that_cannot_be_read_is_asked_for_once_more() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let (run, issue, pr) = peer_reviewed("peer-garbled").await;
        let gh = &run.app.github;
        assert!(has_label(gh, issue, "bosun:done"));
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("- [x] Review by `fake`: no findings"),
            "{comment}"
        );
        assert!(gh.reviews(REPO, pr.number).is_empty());
        let attempt = first_attempt_dir(&run);
        let second =
            std::fs::read_to_string(attempt.join("review-1-0-run-2/input/prompt.md")).unwrap();
        assert!(
            second.contains("no fenced `json` block"),
            "the second prompt says why: {second}"
        );
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Two agents of the same fake CLI, `second` with a model per complexity, and a router.
async fn start_routed(router_timeout_secs: u64) -> Run {
    let image = fake_agent_image();
    let agent = format!("    adapter: claude\n    image: {image}\n");
    start_with_server_config(
        &format!(
            "default_agent: fake\nagents:\n  fake:\n{agent}  second:\n{agent}\
             model_map:\n  second: {{simple: small-model, complex: big-model}}\n\
             router:\n  agent: fake\n  timeout_secs: {router_timeout_secs}\n\
             limits:\n  memory_mb: 256\n  cpus: 1\n"
        ),
        "",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_picks_the_agent_and_complexity_and_the_model_follows_the_map() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_routed(60).await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit-model").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(
            comment
                .contains("🧭 Routed: agent `second` · complexity `simple` (A one-line change.)"),
            "{comment}"
        );
        assert!(comment.contains("Agent `second`"), "{comment}");
        assert!(has_label(gh, issue, "bosun:agent:second"), "{comment}");
        assert!(has_label(gh, issue, "bosun:complexity:simple"), "{comment}");
        let pr = &gh.pulls(REPO)[0];
        assert!(pr.body.contains("Model: small-model."), "{}", pr.body);
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_on_the_issue_override_the_router() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_routed(60).await;
        let gh = &run.app.github;
        let body = "SCENARIO: edit-model";
        let issue = gh.add_issue(REPO, "Fix the greeting", body, WRITER);
        gh.label_issue(REPO, issue, "bosun:agent:second");
        gh.label_issue(REPO, issue, "bosun:complexity:complex");
        let payload = labeled_as_on_github(&run.app, issue, "Fix the greeting", body);
        assert_eq!(
            run.app
                .send_json("issues", "d-labels", &payload)
                .await
                .status(),
            202
        );
        let done = |gh: &FakeGitHub| finished(gh, issue) && !gh.pulls(REPO).is_empty();
        assert!(
            gh.wait_until(done, Duration::from_secs(120)).await,
            "{}",
            tracking(gh, issue)
        );
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("🧭 From the issue's labels: agent `second` · complexity `complex`"),
            "{comment}"
        );
        assert!(gh.pulls(REPO)[0].body.contains("Model: big-model."));
        // The router never ran.
        assert!(!first_attempt_dir(&run).join("route").exists());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_that_times_out_leaves_the_agents_to_take_turns() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_routed(2).await;
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: route-hang").await;
        let gh = &run.app.github;
        let comment = tracking(gh, issue);
        assert!(
            comment.contains("The router gave no answer (the router did not answer within 2s)"),
            "{comment}"
        );
        assert!(
            comment.contains("the agents take turns: agent `fake`"),
            "{comment}"
        );
        assert!(has_label(gh, issue, "bosun:done"));
        assert!(has_label(gh, issue, "bosun:agent:fake"));
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_is_estimated_from_similar_ones_and_adds_its_own_run_to_the_history() {
    tokio::time::timeout(AGENT_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start(&fake_agent_image(), "").await;
        let repo_id = run.app.github.add_repo(REPO).0;
        // Five greeting fixes of 60..300 s and $0.10..$0.50 in this repository, and one elsewhere.
        for i in 1..=6u64 {
            let stat = bosun::db::RunStat {
                task_id: 1000 + i as i64,
                attempt: 1,
                repo_id: bosun_core::ids::RepoId(if i == 6 { repo_id + 1 } else { repo_id }),
                kind: "implement".into(),
                agent: "fake".into(),
                model: None,
                complexity: "medium".into(),
                outcome: "done".into(),
                duration_secs: i * 60,
                input_tokens: 100,
                output_tokens: 10,
                cost_micro_usd: Some(i * 100_000),
                files_changed: 1,
                lines_changed: 2,
                finished_at: 0,
                title: "Fix the greeting in hello.txt".into(),
                body: String::new(),
            };
            run.app.db().record_run_stat(&stat).await.unwrap();
        }
        let issue = label_until_pull(&run, "Fix the greeting", "SCENARIO: edit").await;
        let comment = tracking(&run.app.github, issue);
        // Mean 180 s; 2.5th and 97.5th percentiles of 60..300 are 66 and 294 s.
        assert!(
            comment.contains(
                "⏱ Estimate: ~3 min (95%: 1–5 min), ~$0.30 ($0.11–$0.49), from 5 similar tasks"
            ),
            "{comment}"
        );
        let summary = run.app.db().run_stats_summary().await.unwrap();
        let total: u64 = summary.iter().map(|l| l.runs).sum();
        assert_eq!(total, 7, "the new run joined the history: {summary:?}");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}
