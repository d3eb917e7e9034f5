//! Planning end to end: a writer labels an issue `bosun:plan`; a scripted planner (a fake
//! `claude` in a real container) returns a breakdown, first a broken one that bosun sends back,
//! then one with three parts where the third depends on the first. bosun opens three native
//! sub-issues on the fake GitHub, runs the two independent ones, holds the dependent one
//! (`bosun:blocked`) until the first is merged, and closes the planned issue when all are done.
//! A part closed as not planned is struck out, and the part that waited for it says it will not
//! start; opened again, the part is waited for again.

#[path = "support/images.rs"]
mod images;
mod support;

use std::time::Duration;

use fake_github::FakeGitHub;
use support::*;

/// The hard limit of each test here, far above `TEST_TIMEOUT`: a plan runs its planner and then
/// each of its parts as agent tasks in real containers, one after the other, and the test waits
/// for every step in bounded steps of up to two minutes. Generous for a slow CI machine, yet a
/// hang fails the test instead of blocking CI.
const PLAN_TEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

const WRITER: &str = "octocat";

/// The fake `claude`: plans for the issue that says `SCENARIO: plan` (a refused plan in the
/// first round, a good one once told why), and writes one file for each part's scenario.
const FAKE_PLANNER: &str = r#"#!/bin/sh
prompt=$(cat)
scenario=$(printf '%s\n' "$prompt" | sed -n 's/.*SCENARIO: \([a-z-]*\).*/\1/p' | head -n 1)
echo '{"type":"system","subtype":"init","session_id":"s1","model":"fake-model","tools":[]}'
say() {
  echo "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"duration_ms\":5,\"num_turns\":1,\"result\":\"$1\",\"session_id\":\"s1\",\"total_cost_usd\":0.01,\"usage\":{\"input_tokens\":100,\"output_tokens\":20}}"
}
if printf '%s' "$prompt" | grep -q "Your job is to review a change"; then
  cat <<'VERDICT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Fine.\n\n```json\n{\"findings\": []}\n```","session_id":"s1","usage":{"input_tokens":10,"output_tokens":2}}
VERDICT
  exit 0
fi
case "$scenario" in
  plan)
    if printf '%s' "$prompt" | grep -q "your previous plan was refused"; then
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Three parts; the third needs the first.\n\n```json\n{\"parts\": [{\"id\": \"a\", \"title\": \"Part A\", \"body\": \"Write a.txt.\\nSCENARIO: edit-a\"}, {\"id\": \"b\", \"title\": \"Part B\", \"body\": \"Write b.txt.\\nSCENARIO: edit-b\", \"complexity\": \"simple\"}, {\"id\": \"c\", \"title\": \"Part C\", \"body\": \"Write c.txt after A.\\nSCENARIO: edit-c\", \"depends_on\": [\"a\"]}]}\n```","session_id":"s1","usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    else
      cat <<'REPORT'
{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"Two parts.\n\n```json\n{\"parts\": [{\"id\": \"a\", \"title\": \"Part A\"}, {\"id\": \"c\", \"title\": \"Part C\", \"depends_on\": [\"z\"]}]}\n```","session_id":"s1","usage":{"input_tokens":100,"output_tokens":20}}
REPORT
    fi
    ;;
  edit-a|edit-b|edit-c)
    echo "$scenario" > "${scenario#edit-}.txt"
    say "Wrote the file for $scenario."
    ;;
  *)
    echo "unknown scenario: $scenario" >&2
    exit 3
    ;;
esac
"#;

/// The open pull request that closes `issue`.
fn pull_for(gh: &FakeGitHub, issue: u64) -> Option<fake_github::PullRecord> {
    gh.pulls(REPO)
        .into_iter()
        .find(|p| p.body.starts_with(&format!("Closes #{issue}\n")))
}

async fn wait(gh: &FakeGitHub, what: &str, check: impl Fn(&FakeGitHub) -> bool, issue: u64) {
    if !gh.wait_until(check, Duration::from_secs(120)).await {
        panic!(
            "timed out waiting for {what}; tracking comment of #{issue}:\n{}",
            tracking(gh, issue)
        );
    }
}

async fn merge(app: &TestApp, pr: &fake_github::PullRecord) {
    let answer = app
        .send_json(
            "pull_request",
            &format!("d-merge-{}", pr.number),
            &pull_closed(app, pr, true, WRITER),
        )
        .await;
    assert_eq!(answer.status(), 202);
}

/// A delivery id of its own for each webhook a test sends.
fn delivery(what: &str) -> String {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("d-{what}-{n}")
}

async fn close(app: &TestApp, issue: u64, reason: &str) {
    app.github.close_issue_as(REPO, issue, reason);
    let payload = issue_closed(app, issue, reason, WRITER);
    let answer = app.send_json("issues", &delivery("close"), &payload).await;
    assert_eq!(answer.status(), 202);
}

async fn reopen(app: &TestApp, issue: u64) {
    app.github.set_issue_state(REPO, issue, "open");
    let payload = issue_reopened(app, issue, WRITER);
    let answer = app.send_json("issues", &delivery("reopen"), &payload).await;
    assert_eq!(answer.status(), 202);
}

async fn start_with_the_fake_planner() -> support::agent_app::AgentApp {
    let image = images::image_with_files(
        "bosun-fake-planner",
        &[("/usr/local/bin/claude", FAKE_PLANNER, 0o755)],
    );
    support::agent_app::AgentApp::start(&image, "").await
}

/// Asks for the plan and waits until its three parts are open, A and B with pull requests,
/// and the planned issue waits for them: `(parent, [a, b, c])`.
async fn planned_in_three_parts(app: &TestApp) -> (u64, [u64; 3]) {
    let gh = &app.github;
    let parent = gh.add_issue(REPO, "A big feature", "SCENARIO: plan", WRITER);
    let mut payload = labeled(app, parent, "bosun:plan", WRITER);
    payload["issue"]["title"] = "A big feature".into();
    payload["issue"]["body"] = "SCENARIO: plan".into();
    payload["issue"]["user"]["login"] = WRITER.into();
    let answer = app.send_json("issues", "d-plan", &payload).await;
    assert_eq!(answer.status(), 202);

    // Three sub-issues, linked in plan order; the two independent ones get pull requests.
    let planned = |gh: &FakeGitHub| gh.sub_issues(REPO, parent).len() == 3;
    wait(gh, "three sub-issues", planned, parent).await;
    let parts = gh.sub_issues(REPO, parent);
    let (a, b, c) = (parts[0], parts[1], parts[2]);
    let both_open = |gh: &FakeGitHub| pull_for(gh, a).is_some() && pull_for(gh, b).is_some();
    wait(gh, "pull requests for A and B", both_open, parent).await;
    let parent_waits = |gh: &FakeGitHub| has_label(gh, parent, "bosun:blocked");
    wait(gh, "the planned issue to wait", parent_waits, parent).await;
    (parent, [a, b, c])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_three_parts_opens_linked_sub_issues_runs_them_in_order_and_closes_the_parent()
{
    tokio::time::timeout(PLAN_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_with_the_fake_planner().await;
        let app = &run.app;
        let gh = &app.github;
        let (parent, [a, b, c]) = planned_in_three_parts(app).await;
        let parts = [a, b, c];

        let titles: Vec<String> = parts
            .iter()
            .map(|n| gh.issue(REPO, *n).unwrap().title)
            .collect();
        assert_eq!(titles, ["Part A", "Part B", "Part C"]);
        let part_c = gh.issue(REPO, c).unwrap();
        assert_eq!(part_c.parent, Some(parent));
        assert!(
            part_c.user_login.ends_with("[bot]"),
            "{}",
            part_c.user_login
        );
        assert!(
            part_c.body.contains(&format!(
                "Part of #{parent}, planned by bosun. bosun starts it when #{a} is done."
            )),
            "{}",
            part_c.body
        );
        assert!(has_label(gh, b, "bosun:complexity:simple"));
        // The dependent part waits, visibly, and has no pull request.
        let c_waits = |gh: &FakeGitHub| {
            has_label(gh, c, "bosun:blocked")
                && tracking(gh, c).contains(&format!("Waits until #{a} is done"))
        };
        wait(gh, "part C to show that it waits", c_waits, c).await;
        assert!(pull_for(gh, c).is_none());
        // The broken first plan went back to the planner: two rounds, one plan.
        let board = tracking(gh, parent);
        assert!(board.contains("round 2 of 3"), "{board}");
        assert!(board.contains("Plan: 3 sub-issues, 0 done"), "{board}");
        assert!(
            board.contains(&format!("#{c} Part C · waits for #{a}")),
            "{board}"
        );

        // Merging A's pull request starts C.
        merge(app, &pull_for(gh, a).unwrap()).await;
        let c_open = |gh: &FakeGitHub| pull_for(gh, c).is_some();
        wait(gh, "a pull request for C", c_open, parent).await;
        let c_done =
            |gh: &FakeGitHub| has_label(gh, c, "bosun:done") && !has_label(gh, c, "bosun:blocked");
        wait(gh, "part C done", c_done, c).await;
        let one_done = |gh: &FakeGitHub| tracking(gh, parent).contains("1 done");
        wait(gh, "A counted as done", one_done, parent).await;
        assert_eq!(gh.issue_state(REPO, parent).0, "open");

        // When B and C are merged too, the planned issue is done and closed.
        merge(app, &pull_for(gh, b).unwrap()).await;
        merge(app, &pull_for(gh, c).unwrap()).await;
        let closed = |gh: &FakeGitHub| {
            gh.issue_state(REPO, parent) == ("closed".to_string(), Some("completed".to_string()))
                && has_label(gh, parent, "bosun:done")
        };
        wait(gh, "the planned issue to close", closed, parent).await;
        let board = tracking(gh, parent);
        assert!(
            board.contains("All 3 sub-issues of this plan are done"),
            "{board}"
        );
        assert!(board.contains("3 done"), "{board}");
        // One pull request per part, none for the planned issue.
        assert_eq!(gh.pulls(REPO).len(), 3);
        assert!(pull_for(gh, parent).is_none());
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_closed_as_not_planned_holds_back_what_needs_it_and_the_plan_ends_without_it() {
    tokio::time::timeout(PLAN_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let run = start_with_the_fake_planner().await;
        let app = &run.app;
        let gh = &app.github;
        let (parent, [a, b, c]) = planned_in_three_parts(app).await;
        let c_waits =
            |gh: &FakeGitHub| tracking(gh, c).contains(&format!("Waits until #{a} is done"));
        wait(gh, "part C to wait for A", c_waits, c).await;

        // A is closed as not planned: struck out on the plan; C, which needs it, does not start
        // and says what to do.
        close(app, a, "not_planned").await;
        let struck = |gh: &FakeGitHub| {
            tracking(gh, parent).contains(&format!("~~#{a} Part A~~ · closed as not planned"))
        };
        wait(gh, "A struck out on the plan", struck, parent).await;
        let c_told = |gh: &FakeGitHub| {
            has_label(gh, c, "bosun:failed")
                && tracking(gh, c).contains(&format!(
                    "it waited for #{a}, which was closed as not planned. `retry` starts it anyway"
                ))
        };
        wait(gh, "C to say it will not start", c_told, c).await;
        let board = tracking(gh, parent);
        assert!(
            board.contains("Plan: 3 sub-issues, 0 done, 1 closed without being done"),
            "{board}"
        );
        assert!(
            board.contains(&format!(
                "#{c} Part C · needs #{a}, closed without being done"
            )),
            "{board}"
        );
        assert!(pull_for(gh, c).is_none());
        assert_eq!(gh.issue_state(REPO, parent).0, "open");

        // A opened again is waited for again; closed as not planned once more, it is struck out.
        reopen(app, a).await;
        let back = |gh: &FakeGitHub| {
            let board = tracking(gh, parent);
            board.contains("Plan: 3 sub-issues, 0 done\n") && !board.contains(&format!("~~#{a}"))
        };
        wait(gh, "A back on the plan", back, parent).await;
        close(app, a, "not_planned").await;
        wait(gh, "A struck out again", struck, parent).await;

        // B merged and C closed as completed by a person: the plan is done without A.
        merge(app, &pull_for(gh, b).unwrap()).await;
        close(app, c, "completed").await;
        let closed = |gh: &FakeGitHub| {
            gh.issue_state(REPO, parent) == ("closed".to_string(), Some("completed".to_string()))
                && has_label(gh, parent, "bosun:done")
        };
        wait(gh, "the planned issue to close", closed, parent).await;
        let board = tracking(gh, parent);
        assert!(
            board.contains(&format!(
                "2 of the 3 sub-issues of this plan are done and the rest closed without being \
             done (#{a} as not planned)"
            )),
            "{board}"
        );
        assert!(pull_for(gh, c).is_none(), "C never ran");
        run.app.finish().await;
    })
    .await
    .expect("test timed out");
}
