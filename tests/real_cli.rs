//! The real Claude Code and Codex CLIs (from PyPI, see `tests/real-cli/build-image.sh`) in
//! bosun's sandbox, through bosun's real pipeline: the fake GitHub, the metering proxy (the
//! agent holds a run token, never the key), and the fake model scripting tool calls that the
//! CLI really runs in the container. What is real here: the CLIs, their flags and environment
//! as bosun's adapters give them, their requests and streams, the container, the proxy, the
//! files written. What is scripted: the model's answers and token counts.
//!
//! Under `CI=true` a missing Docker engine fails these tests; the images are built when their
//! tag is missing (about a minute, once per machine).

#[path = "support/images.rs"]
mod images;
#[path = "support/real_cli.rs"]
mod real_cli;
mod support;

use std::time::Duration;

use bosun::reply::thousands;
use fake_github::FakeGitHub;
use fake_model::{FakeModel, Turn};
use serde_json::json;
use support::agent_app::{review_submitted, AgentApp, WRITER};
use support::*;

/// Generous: an image may be built first, and a real CLI starts in a container.
const REAL_CLI_TEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The real key, in the server's environment only (a name no other test uses).
const KEY_ENV: &str = "BOSUN_TEST_REAL_CLI_KEY";
const REAL_KEY: &str = "sk-real-cli-0123456789abcdef0123456789";

/// Per call, as the fake model reports it.
const INPUT: u64 = 1_000;
const OUTPUT: u64 = 50;

/// The server: one agent `adapter` in `image`, metered against `model`.
fn server_config(adapter: &str, image: &str, model: &FakeModel, extra: &str) -> String {
    let upstream = match adapter {
        "claude" => "anthropic",
        _ => "openai",
    };
    format!(
        "default_agent: real\n\
         agents:\n  real:\n    adapter: {adapter}\n    image: {image}\n{extra}\
         limits:\n  memory_mb: 2048\n  cpus: 2\n\
         meter:\n  enabled: true\n  {upstream}:\n    base_url: {}\n    key_env: {KEY_ENV}\n{PRICES}",
        model.url()
    )
}

/// The meter's prices, by model-name prefix: Claude Code's default model and codex's.
const PRICES: &str =
    "  prices:\n    claude: {input: 10, output: 200}\n    gpt: {input: 10, output: 200}\n";

/// Like [`REPO_CONFIG`], with a gate that says why it failed: a marker the gate prints and
/// never spells, so only a prompt carrying the gate's output (the next round's) has it.
const GATE_SAYS_WHY: &str = "rounds: 2\npeer_review:\n  enabled: false\n\
     gates:\n  - name: greeting\n    \
     run: grep -q 'hello from the real CLI' hello.txt || { echo GATE-$((6*7))-FAILED; exit 1; }\n";

/// `repo` with the agent on `gpt-5.5`, a model with ordinary tools: codex 0.147.0's default
/// runs them in code mode, which this build lacks (see
/// `codex_without_code_mode_fails_instead_of_doing_nothing`).
fn with_gpt_5_5(repo: &str) -> String {
    format!("{repo}agent:\n  model: gpt-5.5\n")
}

/// A repository whose gate checks what the agent wrote.
const REPO_CONFIG: &str = "rounds: 2\npeer_review:\n  enabled: false\n\
     gates:\n  - name: greeting\n    run: grep -q 'hello from the real CLI' hello.txt\n";

async fn with_docker<F: std::future::Future<Output = ()>>(body: impl FnOnce() -> F) {
    tokio::time::timeout(REAL_CLI_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        // SAFETY: set before bosun reads it; no other test reads or writes this name.
        unsafe { std::env::set_var(KEY_ENV, REAL_KEY) };
        body().await
    })
    .await
    .expect("test timed out");
}

/// The model calls of the run, as the fake model answered them.
fn model_calls(model: &FakeModel, path: &str) -> usize {
    model.calls().iter().filter(|c| c.path == path).count()
}

/// What one call costs by the server's prices: 1,000 tokens in at $10 and 50 out at $200 per
/// million.
const COST_PER_CALL: f64 = 0.02;

/// The usage and cost the tracking comment shows for `calls` calls of the fake model.
fn usage_of(calls: u64) -> String {
    format!(
        "{} in / {} out · ${:.2}",
        thousands(calls * INPUT),
        thousands(calls * OUTPUT),
        calls as f64 * COST_PER_CALL
    )
}

/// A task carried to its end: the app, the issue and its tracking comment.
struct Task {
    run: AgentApp,
    issue: u64,
    comment: String,
}

impl Task {
    /// bosun with `server` and a repository with `repo`; an issue whose body is `body`,
    /// labelled, and waited for.
    async fn of(server: &str, repo: &str, body: &str) -> Task {
        let run = AgentApp::start_with_config(server, repo).await;
        let issue = run.label_until_finished("Greet", body).await;
        let comment = tracking(&run.app.github, issue);
        Task {
            run,
            issue,
            comment,
        }
    }

    fn has(&self, label: &str) -> bool {
        has_label(&self.run.app.github, self.issue, label)
    }

    fn pulls(&self) -> usize {
        self.run.app.github.pulls(REPO).len()
    }

    /// `path` as the task's branch holds it.
    fn on_branch(&self, path: &str) -> String {
        let bare = &self.run.bare;
        let branches = git(bare, &["branch", "--format=%(refname:short)"]);
        let branch = branches.lines().find(|b| b.starts_with("bosun/")).unwrap();
        git(bare, &["show", &format!("{branch}:{path}")])
    }

    /// What `bosun task logs 1` prints (with `extra` flags), run as the binary.
    async fn logs(&self, extra: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
            .arg("task")
            .arg("--data-dir")
            .arg(self.run.app.data_dir.path())
            .args(["logs", "1"])
            .args(extra)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    async fn finish(self) {
        self.run.app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_writes_the_file_and_the_draft_pull_request_opens() {
    with_docker(|| async {
        let image = real_cli::claude_image();
        let model = FakeModel::start().await;
        model.set_usage(INPUT, OUTPUT, 0);
        model.script("SCENARIO: claude-write", claude_writes());
        let server = server_config("claude", &image, &model, "");
        let task = Task::of(&server, REPO_CONFIG, "SCENARIO: claude-write").await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "{comment}");
        assert_eq!(task.pulls(), 1, "{comment}");
        // Nothing but the model: without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC the CLI
        // tries its vendor's own host through the egress proxy, which refuses and names it.
        assert!(
            !comment.contains("Refused by the egress proxy"),
            "{comment}"
        );

        // The CLI asked the model only, with the run's token and never the key.
        let calls = model.calls();
        assert!(calls.iter().all(|c| c.path == "/v1/messages"), "{calls:#?}");
        assert!(calls.iter().all(|c| !c.any_header_contains("bosun-run-")));
        assert!(calls
            .iter()
            .all(|c| c.header("x-api-key") == Some(REAL_KEY)));
        // Two calls (the tool call, then the answer): what bosun reports is what the model
        // counted.
        let n = model_calls(&model, "/v1/messages") as u64;
        assert_eq!(n, 2, "{calls:#?}");
        let usage = usage_of(n);
        assert!(comment.contains(&usage), "{usage} in:\n{comment}");

        // `bosun task logs` reads the run as its adapter does; `--raw` prints the CLI's lines.
        let readable = task.logs(&[]).await;
        assert!(readable.contains("==> round-1/agent.log <=="), "{readable}");
        assert!(
            readable
                .lines()
                .any(|l| l.starts_with("🔧 Write") && l.contains("/workspace/hello.txt")),
            "{readable}"
        );
        assert!(readable.contains("💬 I wrote hello.txt."), "{readable}");
        assert!(!readable.contains("\"type\":"), "{readable}");
        let raw = task.logs(&["--raw"]).await;
        assert!(raw.contains("\"type\":\"assistant\""), "{raw}");
        task.finish().await;
    })
    .await;
}

/// Claude Code writes the greeting the gate checks, then answers.
fn claude_writes() -> Vec<Turn> {
    let write =
        json!({"file_path": "/workspace/hello.txt", "content": "hello from the real CLI\n"});
    vec![Turn::tool("Write", write), Turn::text("I wrote hello.txt.")]
}

/// Codex adds the greeting the gate checks with `apply_patch`, then answers.
fn codex_patches() -> Vec<Turn> {
    vec![
        Turn::tool("apply_patch", json!(PATCH)),
        Turn::text("I added hello.txt."),
    ]
}

/// Adds `hello.txt`, as codex's `apply_patch` tool takes it (a custom tool: the patch is the
/// whole input).
const PATCH: &str =
    "*** Begin Patch\n*** Add File: hello.txt\n+hello from the real CLI\n*** End Patch\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_patches_the_file_runs_a_command_and_the_draft_pull_request_opens() {
    with_docker(|| async {
        let image = real_cli::codex_image();
        let model = FakeModel::start().await;
        model.set_usage(INPUT, OUTPUT, 0);
        model.script(
            "SCENARIO: codex-patch",
            vec![
                Turn::tool("apply_patch", json!(PATCH)),
                Turn::tool("exec_command", json!({"cmd": "cat hello.txt"})),
                Turn::text("I added hello.txt."),
            ],
        );
        let repo = with_gpt_5_5(REPO_CONFIG);
        let task = Task::of(
            &server_config("codex", &image, &model, ""),
            &repo,
            "SCENARIO: codex-patch",
        )
        .await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "{comment}");
        assert_eq!(task.pulls(), 1, "{comment}");
        // Nothing but the model: without `--disable plugins` codex asks a public git
        // repository for plugins, which the egress proxy refuses and names.
        assert!(
            !comment.contains("Refused by the egress proxy"),
            "{comment}"
        );

        let calls = model.calls();
        assert!(
            calls.iter().all(|c| c.path == "/v1/responses"),
            "{calls:#?}"
        );
        assert!(calls
            .iter()
            .all(|c| c.header("authorization") == Some(&format!("Bearer {REAL_KEY}"))));
        // Codex 0.147 asks for the provider's `web_search` in every call; the metering proxy
        // takes it out (the repository lists no `model_tools:`), and keeps codex's own tools,
        // its client-run `tool_search` among them.
        for call in &calls {
            let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
            let kinds: Vec<&str> = body["tools"]
                .as_array()
                .map(|tools| tools.iter().filter_map(|t| t["type"].as_str()).collect())
                .unwrap_or_default();
            assert!(!kinds.contains(&"web_search"), "{kinds:?}");
            assert!(
                kinds.contains(&"function") && kinds.contains(&"custom"),
                "{kinds:?}"
            );
        }
        // And the tracking comment says so, with how to allow it.
        assert!(
            comment.contains("Taken out of the agent's model calls")
                && comment.contains("`web_search`"),
            "{comment}"
        );
        // The command's output went back to the model: codex really ran it in the sandbox.
        let last = String::from_utf8_lossy(&calls.last().unwrap().body).into_owned();
        assert!(last.contains("hello from the real CLI"), "{last}");
        let n = model_calls(&model, "/v1/responses") as u64;
        assert_eq!(n, 3, "{calls:#?}");
        let usage = usage_of(n);
        assert!(comment.contains(&usage), "{usage} in:\n{comment}");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_fixes_what_the_gate_said_in_the_next_round() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        let wrong = json!("*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n");
        let fix = json!({"cmd": "sed -i 's/^hello$/hello from the real CLI/' hello.txt"});
        let task = the_next_round_fixes_what_the_gate_said(
            &server,
            &with_gpt_5_5(GATE_SAYS_WHY),
            &model,
            vec![
                Turn::tool("apply_patch", wrong),
                Turn::text("I added hello.txt."),
            ],
            vec![
                Turn::tool("exec_command", fix),
                Turn::text("Fixed the greeting."),
            ],
        )
        .await;
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_with_a_key_the_model_refuses_fails_saying_so() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        a_refused_key_fails_the_task_saying_so(
            &server,
            &with_gpt_5_5(REPO_CONFIG),
            &model,
            "openai",
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_without_code_mode_fails_instead_of_doing_nothing() {
    with_docker(|| async {
        let image = real_cli::codex_image();
        let model = FakeModel::start().await;
        model.script(
            "SCENARIO: codex-codemode",
            vec![Turn::text("Done: hello.txt has been written.")],
        );
        // No model named: 0.147.0's default runs its tools in code mode, which this build
        // cannot; the CLI still completes its turn and exits 0.
        let task = Task::of(
            &server_config("codex", &image, &model, ""),
            REPO_CONFIG,
            "SCENARIO: codex-codemode",
        )
        .await;
        let comment = &task.comment;
        assert!(
            comment.contains("runs its tools in code mode, which this codex install cannot"),
            "{comment}"
        );
        assert!(comment.contains("`gpt-5.5` in `model_map`"), "{comment}");
        assert!(!task.has("bosun:done"), "{comment}");
        assert_eq!(task.pulls(), 0, "{comment}");
        // One round: the failure is the agent's, not a gate's to send back.
        assert!(!comment.contains("round 2"), "{comment}");
        task.finish().await;
    })
    .await;
}

/// `server`'s agent against a model API that refuses the server's key (`provider`'s in the
/// meter): the API answers 401, the proxy turns it into a refusal the CLIs do not retry (Claude
/// Code retries 401 for as long as the run may last), naming what to fix, and the task fails.
async fn a_refused_key_fails_the_task_saying_so(
    server: &str,
    repo: &str,
    model: &FakeModel,
    provider: &str,
) {
    model.require_key("sk-another-key");
    let task = Task::of(server, repo, "Anything.").await;
    let comment = &task.comment;
    assert!(task.has("bosun:failed"), "{comment}");
    assert!(
        comment.contains("the model API refused this bosun server's key (HTTP 401)"),
        "{comment}"
    );
    assert!(
        comment.contains(&format!("meter.{provider}.key_env")),
        "{comment}"
    );
    assert!(!comment.contains("with backoff"), "{comment}");
    // Finishing at all is the point: before, the 401 went through and Claude Code retried it
    // for as long as the run could last (`label_until_finished` waits two minutes). A CLI
    // still asks a few times at once before it gives up.
    assert!(model.call_count() >= 1);
    task.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_with_a_key_the_model_refuses_fails_saying_so() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        a_refused_key_fails_the_task_saying_so(&server, REPO_CONFIG, &model, "anthropic").await;
    })
    .await;
}

/// `server`'s agent (its turns `implement` write the greeting, then answer) stopped by a
/// budget of 1,000 tokens: one call (1,050 tokens) fits, the next is refused by the proxy.
async fn the_budget_stops_it_with_its_work_on_the_branch(
    server: &str,
    repo: &str,
    model: &FakeModel,
    implement: Vec<Turn>,
) {
    model.set_usage(INPUT, OUTPUT, 0);
    model.script("SCENARIO: budget", implement);
    let server = server.replace("  cpus: 2\n", "  cpus: 2\n  task_budget_tokens: 1000\n");
    let task = Task::of(&server, repo, "SCENARIO: budget").await;
    let comment = &task.comment;
    assert!(task.has("bosun:needs-review"), "{comment}");
    assert!(comment.contains("Budget reached"), "{comment}");
    assert!(
        comment.contains("bosun: the budget of this run is spent"),
        "{comment}"
    );
    assert_eq!(task.pulls(), 0, "{comment}");
    // The file the CLI wrote before the refusal is on the task's branch.
    assert_eq!(task.on_branch("hello.txt"), "hello from the real CLI");
    // The refused call never reached the model.
    assert_eq!(model.call_count(), 1);
    task.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_stopped_by_the_budget_keeps_its_work_on_the_branch() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        let implement = claude_writes();
        the_budget_stops_it_with_its_work_on_the_branch(&server, REPO_CONFIG, &model, implement)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_stopped_by_the_budget_keeps_its_work_on_the_branch() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        let repo = with_gpt_5_5(REPO_CONFIG);
        let implement = codex_patches();
        the_budget_stops_it_with_its_work_on_the_branch(&server, &repo, &model, implement).await;
    })
    .await;
}

/// `server`'s agent writes the wrong greeting in round 1 (its turns `round_1`), the gate says
/// why it fails, and round 2 (its turns `round_2`, whose prompt alone carries the gate's
/// output) fixes it: done after two rounds, one pull request with the greeting, and the usage
/// of every call. The task is the caller's to finish.
async fn the_next_round_fixes_what_the_gate_said(
    server: &str,
    repo: &str,
    model: &FakeModel,
    round_1: Vec<Turn>,
    round_2: Vec<Turn>,
) -> Task {
    model.set_usage(INPUT, OUTPUT, 0);
    let calls = (round_1.len() + round_2.len()) as u64;
    // Round 2's script comes first, since its requests carry the issue's text too.
    model.script("GATE-42-FAILED", round_2);
    model.script("SCENARIO: feedback", round_1);
    let task = Task::of(server, repo, "SCENARIO: feedback").await;
    let comment = &task.comment;
    assert!(task.has("bosun:done"), "{comment}");
    assert!(comment.contains("round 2 of 2"), "{comment}");
    assert_eq!(task.pulls(), 1, "{comment}");
    assert_eq!(task.on_branch("hello.txt"), "hello from the real CLI");
    // One call per scripted turn: what bosun reports is what the model counted.
    assert_eq!(model.call_count() as u64, calls);
    let usage = usage_of(calls);
    assert!(comment.contains(&usage), "{usage} in:\n{comment}");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_fixes_what_the_gate_said_in_the_next_round() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        let wrong = json!({"file_path": "/workspace/hello.txt", "content": "hello\n"});
        let fix = json!({"file_path": "/workspace/hello.txt", "old_string": "hello",
                         "new_string": "hello from the real CLI"});
        let show = json!({"command": "cat hello.txt", "description": "Show the file"});
        let task = the_next_round_fixes_what_the_gate_said(
            &server,
            GATE_SAYS_WHY,
            &model,
            vec![Turn::tool("Write", wrong), Turn::text("I wrote hello.txt.")],
            vec![
                Turn::tool("Read", json!({"file_path": "/workspace/hello.txt"})),
                Turn::tool("Edit", fix),
                Turn::tool("Bash", show),
                Turn::text("Fixed the greeting."),
            ],
        )
        .await;
        // Round 2's last call carried the Bash tool's real output.
        let last = String::from_utf8_lossy(&model.calls().last().unwrap().body).into_owned();
        assert!(last.contains("hello from the real CLI"), "{last}");
        task.finish().await;
    })
    .await;
}

/// `@bosun stop` while `server`'s agent waits on a model whose answer streams for about a
/// minute: the task ends stopped, and its container is gone.
async fn stop_ends_it_mid_call(server: &str, repo: &str, model: &FakeModel) {
    model.set_pieces(30);
    model.set_event_delay(Duration::from_secs(2));
    let run = AgentApp::start_with_config(server, repo).await;
    let instance = bosun::run::runner::instance_label(run.app.data_dir.path());
    let sweep = images::ContainerSweep::new("bosun.instance", &instance);
    let asked = |_: &FakeGitHub, _: u64| model.call_count() >= 1;
    let issue = run.label_and_wait("Greet", "Take your time.", asked).await;
    assert_eq!(sweep.containers().len(), 1, "the agent's container runs");

    run.stop_and_see_it_end(issue).await;
    assert!(
        sweep.become_present(false).await,
        "the container outlived the stop"
    );
    run.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_claude_code_mid_call_and_removes_its_container() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        stop_ends_it_mid_call(&server, REPO_CONFIG, &model).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_codex_mid_call_and_removes_its_container() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        let repo = with_gpt_5_5(REPO_CONFIG);
        stop_ends_it_mid_call(&server, &repo, &model).await;
    })
    .await;
}

/// The planner's answer: two independent parts, each a task that writes the greeting.
const PLAN: &str = "Two independent parts.\n\n```json\n{\"parts\": [\
    {\"id\": \"one\", \"title\": \"Greet once\", \"body\": \"SCENARIO: part\", \"depends_on\": []},\
    {\"id\": \"two\", \"title\": \"Greet twice\", \"body\": \"SCENARIO: part\", \"depends_on\": []}\
    ]}\n```";

/// `server`'s agent plans an issue labelled `bosun:plan` (its turns `plan`: a command that
/// lists the files, then [`PLAN`]); each part then runs (its turns `part`) to a draft pull
/// request.
async fn it_plans_into_sub_issues_that_then_run(
    server: &str,
    repo: &str,
    model: &FakeModel,
    plan: Vec<Turn>,
    part: Vec<Turn>,
) {
    model.set_usage(INPUT, OUTPUT, 0);
    model.script("## What to do: plan", plan);
    model.script("SCENARIO: part", part);
    let run = AgentApp::start_with_config(server, repo).await;
    let (app, gh) = (&run.app, &run.app.github);
    let parent = gh.add_issue(REPO, "A bigger greeting", "Split it up.", WRITER);
    let mut payload = labeled(app, parent, "bosun:plan", WRITER);
    payload["issue"]["title"] = "A bigger greeting".into();
    payload["issue"]["body"] = "Split it up.".into();
    payload["issue"]["user"]["login"] = WRITER.into();
    assert_eq!(
        app.send_json("issues", "d-plan", &payload).await.status(),
        202
    );

    // Both parts open as sub-issues and each gets its own draft pull request.
    let done = |gh: &FakeGitHub| {
        let parts = gh.sub_issues(REPO, parent);
        parts.len() == 2 && parts.iter().all(|p| has_label(gh, *p, "bosun:done"))
    };
    assert!(
        gh.wait_until(done, Duration::from_secs(120)).await,
        "{}",
        tracking(gh, parent)
    );
    let titles: Vec<String> = gh
        .sub_issues(REPO, parent)
        .iter()
        .map(|n| gh.issue(REPO, *n).unwrap().title)
        .collect();
    assert_eq!(titles, ["Greet once", "Greet twice"]);
    assert_eq!(gh.pulls(REPO).len(), 2);
    // The planner's command really ran: its output went back to the model.
    let planner_calls: Vec<_> = model
        .calls()
        .into_iter()
        .filter(|c| String::from_utf8_lossy(&c.body).contains("## What to do: plan"))
        .collect();
    assert_eq!(planner_calls.len(), 2);
    let listing = String::from_utf8_lossy(&planner_calls[1].body).into_owned();
    assert!(listing.contains(".github"), "{listing}");
    run.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_plans_the_issue_into_sub_issues_that_then_run() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        let list = json!({"command": "ls -a", "description": "List files"});
        it_plans_into_sub_issues_that_then_run(
            &server,
            REPO_CONFIG,
            &model,
            vec![Turn::tool("Bash", list), Turn::text(PLAN)],
            claude_writes(),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_plans_the_issue_into_sub_issues_that_then_run() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        let repo = with_gpt_5_5(REPO_CONFIG);
        it_plans_into_sub_issues_that_then_run(
            &server,
            &repo,
            &model,
            vec![
                Turn::tool("exec_command", json!({"cmd": "ls -a"})),
                Turn::text(PLAN),
            ],
            codex_patches(),
        )
        .await;
    })
    .await;
}

/// A review with one inline comment on the pull request `server`'s agent opened (its turns
/// `implement`), answered by the agent's follow-up (its turns `follow_up`, which make the
/// greeting warmer and report thread `T1` changed): one commit, one reply, the thread resolved.
async fn a_review_comment_is_answered(
    server: &str,
    repo: &str,
    model: &FakeModel,
    implement: Vec<Turn>,
    follow_up: Vec<Turn>,
) {
    model.set_usage(INPUT, OUTPUT, 0);
    // The review prompt's heading: only the follow-up's requests carry it.
    model.script("## Review feedback on pull request", follow_up);
    model.script("SCENARIO: reviewed-later", implement);
    let task = Task::of(server, repo, "SCENARIO: reviewed-later").await;
    assert!(task.has("bosun:done"), "{}", task.comment);
    let (app, gh) = (&task.run.app, &task.run.app.github);
    let pr = gh.pulls(REPO)[0].clone();

    let (review, _) = gh.add_review(
        REPO,
        pr.number,
        WRITER,
        "CHANGES_REQUESTED",
        "One thing.",
        &[("hello.txt", 1, "Say it more warmly.")],
    );
    let payload = review_submitted(app, pr.number, review, WRITER);
    let answer = app
        .send_json("pull_request_review", "d-review", &payload)
        .await;
    assert_eq!(answer.status(), 202);
    let issue = task.issue;
    let answered = |gh: &FakeGitHub| {
        tracking(gh, issue).contains("Review threads:") && has_label(gh, issue, "bosun:done")
    };
    assert!(
        gh.wait_until(answered, Duration::from_secs(120)).await,
        "{}",
        tracking(gh, issue)
    );
    let comment = tracking(gh, issue);
    assert!(comment.contains("1 replied, 1 resolved"), "{comment}");
    assert_eq!(
        task.on_branch("hello.txt"),
        "a warm hello from the real CLI"
    );
    let thread = &gh.review_threads(REPO, pr.number)[0];
    assert!(thread.resolved, "{thread:?}");
    assert!(
        thread
            .comments
            .iter()
            .any(|c| c.user_login == gh.bot_login() && c.body.contains("Warmer now.")),
        "{thread:?}"
    );
    assert_eq!(gh.pulls(REPO).len(), 1, "no second pull request");
    task.finish().await;
}

/// What the follow-up reports about thread `T1`.
const WARMER: &str = "Made the greeting warmer.\n\n```json\n{\"threads\": [{\"id\": \"T1\", \
                      \"outcome\": \"changed\", \"reply\": \"Warmer now.\"}]}\n```";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_answers_a_review_comment_with_a_commit_and_a_reply() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("claude", &real_cli::claude_image(), &model, "");
        let edit = json!({"file_path": "/workspace/hello.txt", "old_string": "hello from",
                          "new_string": "a warm hello from"});
        a_review_comment_is_answered(
            &server,
            REPO_CONFIG,
            &model,
            claude_writes(),
            vec![
                Turn::tool("Read", json!({"file_path": "/workspace/hello.txt"})),
                Turn::tool("Edit", edit),
                Turn::text(WARMER),
            ],
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_answers_a_review_comment_with_a_commit_and_a_reply() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = server_config("codex", &real_cli::codex_image(), &model, "");
        let repo = with_gpt_5_5(REPO_CONFIG);
        let warmer = json!({"cmd": "sed -i 's/^hello from/a warm hello from/' hello.txt"});
        a_review_comment_is_answered(
            &server,
            &repo,
            &model,
            codex_patches(),
            vec![Turn::tool("exec_command", warmer), Turn::text(WARMER)],
        )
        .await;
    })
    .await;
}

/// The server's two agents, `claude` (the default) and `codex`, both metered; codex gets a
/// model with ordinary tools for every use (its default runs them in code mode).
fn two_agents(claude: &str, codex: &str, model: &FakeModel, extra: &str) -> String {
    format!(
        "default_agent: claude\n\
         agents:\n  claude:\n    adapter: claude\n    image: {claude}\n\
         \x20 codex:\n    adapter: codex\n    image: {codex}\n\
         model_map:\n  codex: {{simple: gpt-5.5, medium: gpt-5.5, complex: gpt-5.5, review: gpt-5.5}}\n\
         limits:\n  memory_mb: 2048\n  cpus: 2\n{extra}\
         meter:\n  enabled: true\n\
         \x20 anthropic:\n    base_url: {url}\n    key_env: {KEY_ENV}\n\
         \x20 openai:\n    base_url: {url}\n    key_env: {KEY_ENV}\n{PRICES}",
        url = model.url()
    )
}

/// The router (`router`, the server's other agent's name given as `to`) sends the issue to
/// `to`, which implements it (its turns `implement`); the model is asked at `paths`, in order.
async fn it_routes_the_issue_to_the_other_agent(
    model: &FakeModel,
    router: &str,
    to: &str,
    implement: Vec<Turn>,
    paths: [&str; 3],
) {
    model.set_usage(INPUT, OUTPUT, 0);
    // The route prompt's heading: only the router's request carries it.
    model.script(
        "# bosun: route",
        vec![Turn::text(&format!(
            "```json\n{{\"complexity\": \"simple\", \"agent\": \"{to}\", \
             \"rationale\": \"A one-file change.\"}}\n```"
        ))],
    );
    model.script("SCENARIO: routed", implement);
    let server = two_agents(
        &real_cli::claude_image(),
        &real_cli::codex_image(),
        model,
        &format!("router:\n  agent: {router}\n"),
    );
    let task = Task::of(&server, REPO_CONFIG, "SCENARIO: routed").await;
    let comment = &task.comment;
    assert!(task.has("bosun:done"), "{comment}");
    assert!(
        comment.contains(&format!(
            "Routed: agent `{to}` · complexity `simple` (A one-file change.)"
        )),
        "{comment}"
    );
    assert!(comment.contains(&format!("Agent `{to}`")), "{comment}");
    assert!(task.has(&format!("bosun:agent:{to}")), "{comment}");
    assert_eq!(task.on_branch("hello.txt"), "hello from the real CLI");
    let asked: Vec<String> = model.calls().iter().map(|c| c.path.clone()).collect();
    assert_eq!(asked, paths, "{comment}");
    task.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_routes_the_issue_to_codex_which_implements_it() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let implement = codex_patches();
        let paths = ["/v1/messages", "/v1/responses", "/v1/responses"];
        it_routes_the_issue_to_the_other_agent(&model, "claude", "codex", implement, paths).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_routes_the_issue_to_claude_code_which_implements_it() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let implement = claude_writes();
        let paths = ["/v1/responses", "/v1/messages", "/v1/messages"];
        it_routes_the_issue_to_the_other_agent(&model, "codex", "claude", implement, paths).await;
    })
    .await;
}

/// The reviewer's verdict: one concern, on the line the diff shows.
const VERDICT: &str = "The change does what the issue asks.\n\n```json\n\
    {\"findings\": [{\"severity\": \"concern\", \"file\": \"hello.txt\", \"line\": 1, \
    \"text\": \"The greeting has no full stop.\"}]}\n```";

/// One agent implements (`implement`), the other reviews (`review`: it reads the file with
/// a command, then gives [`VERDICT`]) and calls the model at `reviewer_path`: the concern is
/// parsed and posted on the pull request as a comment review.
async fn a_review_finding_is_posted(
    server: &str,
    repo: &str,
    model: &FakeModel,
    implement: Vec<Turn>,
    review: Vec<Turn>,
    reviewer_path: &str,
) {
    model.set_usage(INPUT, OUTPUT, 0);
    // The review prompt's heading: only the reviewer's requests carry it.
    model.script("## What to do: review", review);
    model.script("SCENARIO: reviewed", implement);
    let task = Task::of(server, repo, "SCENARIO: reviewed").await;
    let comment = &task.comment;
    assert!(task.has("bosun:done"), "{comment}");
    let gh = &task.run.app.github;
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{comment}");
    // The reviewer really ran the command in its own sandbox and read the change.
    let reviewer_calls: Vec<_> = model
        .calls()
        .into_iter()
        .filter(|c| {
            c.path == reviewer_path
                && String::from_utf8_lossy(&c.body).contains("## What to do: review")
        })
        .collect();
    assert_eq!(reviewer_calls.len(), 2);
    let last = String::from_utf8_lossy(&reviewer_calls[1].body).into_owned();
    assert!(last.contains("hello from the real CLI"), "{last}");
    // bosun read the verdict: one concern, posted on the pull request as a comment review.
    let reviews = gh.reviews(REPO, pulls[0].number);
    assert!(
        reviews
            .iter()
            .any(|r| r.state == "COMMENTED" && !r.comment_ids.is_empty()),
        "{reviews:#?}"
    );
    let threads = gh.review_threads(REPO, pulls[0].number);
    assert!(
        threads.iter().any(|t| t
            .comments
            .iter()
            .any(|c| c.body.contains("The greeting has no full stop."))),
        "{threads:#?}"
    );
    task.finish().await;
}

/// `REPO_CONFIG` with `reviewer` reviewing, and `implementer` implementing.
fn reviewed_by(reviewer: &str, implementer: &str) -> String {
    REPO_CONFIG.replace(
        "peer_review:\n  enabled: false\n",
        &format!("peer_review:\n  reviewers: [{reviewer}]\nagent:\n  name: {implementer}\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_reviews_claude_codes_change_and_its_finding_is_posted() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = two_agents(
            &real_cli::claude_image(),
            &real_cli::codex_image(),
            &model,
            "",
        );
        a_review_finding_is_posted(
            &server,
            &reviewed_by("codex", "claude"),
            &model,
            claude_writes(),
            vec![
                Turn::tool("exec_command", json!({"cmd": "cat hello.txt"})),
                Turn::text(VERDICT),
            ],
            "/v1/responses",
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_reviews_codexs_change_and_its_finding_is_posted() {
    with_docker(|| async {
        let model = FakeModel::start().await;
        let server = two_agents(
            &real_cli::claude_image(),
            &real_cli::codex_image(),
            &model,
            "",
        );
        let read = json!({"command": "cat hello.txt", "description": "Read the change"});
        a_review_finding_is_posted(
            &server,
            &reviewed_by("claude", "codex"),
            &model,
            codex_patches(),
            vec![Turn::tool("Bash", read), Turn::text(VERDICT)],
            "/v1/messages",
        )
        .await;
    })
    .await;
}

/// `bosun demo --once --agent claude --config FILE`: the real binary, its GitHub simulator and
/// sample issue, and the real Claude Code CLI behind the metering proxy, answered by the
/// scripted model through the configuration's `meter` upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_carries_its_issue_to_a_pull_request_with_the_real_claude_code() {
    with_docker(|| async {
        let image = real_cli::claude_image();
        let model = FakeModel::start().await;
        model.set_usage(INPUT, OUTPUT, 0);
        // The sample repository keeps peer review on: the same agent reviews, and finds nothing.
        model.script(
            "## What to do: review",
            vec![Turn::text(
                "The greeting changed as asked.\n\n```json\n{\"findings\": []}\n```",
            )],
        );
        model.script(
            "Greet the crew, not the world",
            vec![
                Turn::tool(
                    "Bash",
                    json!({"command": "sed -i 's/world/crew/' hello.sh", "description": "Greet the crew"}),
                ),
                Turn::text("hello.sh now greets the crew."),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("run.yml");
        // The agent named `claude`, as the README's command names it.
        let named = server_config("claude", &image, &model, "")
            .replace("default_agent: real\n", "default_agent: claude\n")
            .replace("\n  real:\n", "\n  claude:\n");
        std::fs::write(&config, named).unwrap();
        let data = dir.path().join("data");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["demo", "--once", "--agent", "claude", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("BOSUN_SANDBOX")
            .env_remove("BOSUN_DEFAULT_AGENT")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n--- stderr\n{stderr}");
        for expected in [
            "agent claude, as the run configuration names it",
            "gates after round 1: check passed",
            "the simulator holds draft pull request #2 \"Greet the crew, not the world\"",
            "changed: hello.sh",
        ] {
            assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}\n{stderr}");
        }
        assert!(model.call_count() >= 3, "the implementer's two calls and the review");
    })
    .await;
}
