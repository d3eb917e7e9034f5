//! Every text bosun posts on GitHub is rendered here, and only here, so the voice stays one and
//! every text can be snapshot-tested. [`text`] holds the small pieces the operator's views (the
//! `bosun task` commands and the dashboard) print: times, usage, one event as one line.

mod feedback;
mod labels;
mod peer;
mod plan;
mod run;
mod schedule;
pub mod text;

pub use feedback::{
    feedback_answered, no_pull_to_revise, not_addressed, review_gates_failed, thread_reply,
};
pub use labels::{setup_labels, SetupLabel};
pub use peer::{
    counts_of, finding_comment, peer_asked, peer_escalated, peer_noted, peer_question,
    peer_review_body, peer_unreviewed,
};
pub use plan::{
    part_dependency_dropped, part_labels, part_marker, plan_done, plan_dropped, plan_refused,
    read_sub_issue_body, sub_issue_body, SubIssueFacts,
};
pub use run::*;
pub use schedule::scheduled_issue_body;

use crate::db::TaskRow;
use bosun_core::marker::TrackingMarker;
use bosun_core::model::{GateSummary, TaskKind, TaskState, TaskStatus};

/// Marks a reply to one command of one delivery, so a retried job finds the reply it already
/// posted instead of posting a second one.
pub fn reply_marker(key: &str) -> String {
    format!("<!-- bosun:reply {key} -->")
}

fn with_marker(text: String, key: &str) -> String {
    format!("{text}\n\n{}", reply_marker(key))
}

fn status_badge(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::New => "⏳ queued",
        TaskStatus::InProgress => "🔄 in progress",
        TaskStatus::Blocked => "⛔ blocked",
        TaskStatus::NeedsReview => "👀 needs review",
        TaskStatus::Done => "✅ done",
        TaskStatus::Failed => "❌ failed",
        TaskStatus::Stopped => "⏹️ stopped",
    }
}

fn check(done: bool) -> &'static str {
    if done {
        "[x]"
    } else {
        "[ ]"
    }
}

/// The one tracking comment of a task, updated in place as the task moves.
pub fn tracking_comment(task: &TaskRow, state: &TaskState, handle: &str) -> String {
    tracking_comment_in_line(task, state, handle, None)
}

/// The tracking comment of a task whose run may be waiting in the queue at `queue`.
pub fn tracking_comment_in_line(
    task: &TaskRow,
    state: &TaskState,
    handle: &str,
    queue: Option<crate::db::QueueSpot>,
) -> String {
    let what = match (state.kind, &state.pull) {
        (TaskKind::Implement, _) => "work on this issue".to_string(),
        (TaskKind::Plan, _) => "plan this issue".to_string(),
        (TaskKind::Revise, Some(pull)) => format!("answer the review of #{}", pull.number),
        (TaskKind::Revise, None) => "answer the review of its pull request".to_string(),
    };
    let started = !matches!(state.status, TaskStatus::New);
    let finished = !state.status.is_active();
    let mut out = format!(
        "### bosun · task {} · attempt {}\n\n**Status:** {} · asked by @{} to {what}\n\n",
        task.id,
        state.attempt,
        status_badge(state.status),
        state.requested_by
    );
    out.push_str(&format!("- {} Queued\n", check(true)));
    out.push_str(&format!(
        "- {} Picked up by a worker{}\n",
        check(started),
        queue.filter(|_| !started).map(in_line).unwrap_or_default()
    ));
    out.push_str(&route_step(&state.route));
    if let Some(why) = state.run.waiting.as_ref().filter(|_| !finished) {
        out.push_str(&format!("- ⏳ Waiting: {why}\n"));
    }
    if let Some(fetch) = state.run.fetch.as_ref().filter(|_| !finished) {
        out.push_str(&format!("- 📥 {}\n", fetch_line(fetch)));
    }
    for (image, secs) in &state.run.images {
        let image = image.replace('`', "'");
        match secs {
            Some(secs) => out.push_str(&format!(
                "- {} Image `{image}` pulled ({})\n",
                check(true),
                human_duration(*secs)
            )),
            // A pull the task ended during failed: the closing message says why.
            None if !finished => out.push_str(&format!("- 📦 Pulling image `{image}`…\n")),
            None => {}
        }
    }
    if let Some((estimate, complexity)) = &state.estimate {
        out.push_str(&estimate_step(estimate, *complexity));
    }
    if state.placeholder_ran {
        out.push_str(&format!(
            "- {} Work step (placeholder: no agent runner is configured on this server, so \
             this step only records that it ran, and changes no code)\n",
            check(true)
        ));
    }
    out.push_str(&run_steps(state));
    out.push_str(&held_step(&state.run, handle));
    out.push_str(&plan::plan_steps(state));
    if let Some(reason) = &state.retry_reason {
        out.push_str(&format!(
            "- ⚠️ Retried {}× with backoff: {reason}\n",
            state.retries
        ));
    }
    out.push_str(&format!("- {} Finished\n", check(finished)));
    if state.feedback_events > 0 {
        out.push_str(&format!(
            "- ↪️ Review feedback received while running: {} (answered in the next round)\n",
            state.feedback_events
        ));
    }
    let steering: Vec<_> = state.instructions.iter().skip(1).collect();
    if !steering.is_empty() {
        out.push_str("\n**Further instructions received:**\n");
        for (by, text) in steering {
            out.push_str(&format!("- @{by}: {}\n", one_line(text)));
        }
    }
    if let Some(summary) = &state.summary {
        out.push_str(&format!("\n{summary}\n"));
    }
    out.push_str(&format!(
        "\n<sub>Commands: `@{handle} stop` · `@{handle} retry` · `@{handle} status` · `@{handle} help`</sub>\n\n"
    ));
    out.push_str(
        &TrackingMarker {
            task: task.id,
            status: state.status,
            attempt: state.attempt,
            branch: state.run.branch.clone(),
            pr: state.pull.as_ref().map(|p| p.number),
        }
        .render(),
    );
    out
}

/// A fetch under way: "Fetching the repository: 1,234 of 5,678 objects (12.3 MiB)".
pub fn fetch_line(fetch: &bosun_core::model::FetchShown) -> String {
    let mib = fetch.received_bytes as f64 / f64::from(1 << 20);
    if fetch.total_objects == 0 {
        return format!("Fetching the repository ({mib:.1} MiB so far)");
    }
    format!(
        "Fetching the repository: {} of {} objects ({mib:.1} MiB)",
        run::thousands(fetch.received_objects),
        run::thousands(fetch.total_objects)
    )
}

/// Where a waiting run stands: the queue's order now (it moves as runs start and end).
fn in_line(q: crate::db::QueueSpot) -> String {
    let busy = format!("{} of {} run slots busy", q.running.min(q.slots), q.slots);
    match q.ahead {
        0 => format!(" · next in line ({busy})"),
        1 => format!(" · 1 run ahead of it in line ({busy})"),
        n => format!(" · {n} runs ahead of it in line ({busy})"),
    }
}

/// The attempt's estimate from history.
fn estimate_step(
    e: &bosun_core::estimate::Estimate,
    complexity: bosun_core::repo_config::Complexity,
) -> String {
    use bosun_core::estimate::Basis;
    let time = |s: u64| match s {
        0..=59 => format!("{s} s"),
        _ => format!("{} min", (s + 30) / 60),
    };
    let money = |m: u64| format!("${:.2}", m as f64 / 1e6);
    let span = |lo: u64, hi: u64| {
        if lo >= 60 {
            format!("{}–{} min", (lo + 30) / 60, (hi + 30) / 60)
        } else {
            format!("{}–{}", time(lo), time(hi))
        }
    };
    let mut out = format!(
        "- ⏱ Estimate: ~{} (95%: {})",
        time(e.secs.mid),
        span(e.secs.low, e.secs.high)
    );
    if let Some(c) = e.micro_usd {
        out.push_str(&format!(
            ", ~{} ({}–{})",
            money(c.mid),
            money(c.low),
            money(c.high)
        ));
    }
    let plural = if e.samples == 1 { "" } else { "s" };
    match e.basis {
        Basis::Similar => out.push_str(&format!(", from {} similar task{plural}\n", e.samples)),
        Basis::Complexity => out.push_str(&format!(
            ", from {} task{plural} of complexity `{}` here (fewer than {} similar ones)\n",
            e.samples,
            complexity.as_str(),
            bosun_core::estimate::MIN_SIMILAR
        )),
    }
    out
}

/// Who works on the task and how hard it is, when something decided it.
fn route_step(route: &bosun_core::model::Route) -> String {
    let Some(by) = route.by.as_deref() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(agent) = &route.agent {
        parts.push(format!("agent `{}`", agent.replace('`', "'")));
    }
    if let Some(complexity) = route.complexity {
        parts.push(format!("complexity `{}`", complexity.as_str()));
    }
    if parts.is_empty() {
        return String::new();
    }
    let what = parts.join(" · ");
    let why = run::one_paragraph(&route.rationale);
    match by {
        "router" if why.is_empty() => {
            format!("- 🧭 Routed: {what} · {}\n", usage_text(&route.usage))
        }
        "router" => format!(
            "- 🧭 Routed: {what} ({why}) · {}\n",
            usage_text(&route.usage)
        ),
        "turns" => {
            format!("- 🧭 The router gave no answer ({why}), so the agents take turns: {what}\n")
        }
        "labels" => format!("- 🧭 From the issue's labels: {what}\n"),
        _ => format!("- 🧭 From the plan: {what}\n"),
    }
}

/// The run's checklist lines, as far as the attempt got.
fn run_steps(state: &TaskState) -> String {
    let run = &state.run;
    let mut out = String::new();
    let Some(branch) = &run.branch else {
        return out;
    };
    let base = run.base_sha.as_deref().unwrap_or("").get(..7).unwrap_or("");
    out.push_str(&format!(
        "- [x] Workspace ready: branch `{branch}` from `{base}`\n"
    ));
    if let Some((key, secs)) = &run.setup_reused {
        out.push_str(&format!(
            "- [x] ♻️ Set-up skipped: started from environment snapshot `{}`, made by an \
             earlier run whose set-up took {}\n",
            key.replace('`', "'"),
            human_duration(*secs)
        ));
    }
    if !run.setup.is_empty() {
        let secs: u64 = run.setup.iter().map(|g| g.secs).sum();
        let title = format!("Set-up ({})", human_duration(secs));
        out.push_str(&checks_block(&title, &run.setup));
    }
    if let Some(agent) = &run.agent {
        let running = run.agent_running && state.status.is_active();
        let sandbox = match run.sandbox.as_deref() {
            Some("process") => " (⚠️ unsandboxed: process backend)".to_string(),
            Some(name) => format!(" in {name}"),
            None => String::new(),
        };
        out.push_str(&format!(
            "- {} Agent `{agent}`{sandbox}: round {} of {} · {} · {}{}\n",
            check(!running),
            run.round,
            run.rounds,
            human_duration(run.agent_secs),
            usage_text(&run.usage),
            if running { " · 🔄 running" } else { "" }
        ));
    }
    for fix in &run.relaunches {
        out.push_str(&format!("- 🔧 Relaunched the agent: {fix}\n"));
    }
    if !run.egress_refused.is_empty() {
        out.push_str(&egress_refused_line(&run.egress_refused));
    }
    if !run.tools_stripped.is_empty() {
        let tools: Vec<String> = run
            .tools_stripped
            .iter()
            .take(10)
            .map(|t| format!("`{}`", t.replace('`', "'")))
            .collect();
        out.push_str(&format!(
            "- 🧰 Taken out of the agent's model calls, since the model provider would run them \
             past the sandbox and bill what bosun cannot count: {}. If the agents here need \
             them, list them under `model_tools:` in `.github/bosun.yml`\n",
            tools.join(", ")
        ));
    }
    if run.stalls > 0 {
        out.push_str(&format!(
            "- ⚠️ The agent printed nothing for {} and was restarted ({}×)\n",
            human_duration(run.stall_secs),
            run.stalls
        ));
    }
    if !run.gates.is_empty() {
        let title = format!("Gates (round {})", run.gates_round);
        out.push_str(&checks_block(&title, &run.gates));
    }
    out.push_str(&peer::peer_steps(run, state.status.is_active()));
    if let Some(sha) = &run.pushed_sha {
        out.push_str(&format!("- [x] Pushed `{}`\n", sha.get(..7).unwrap_or(sha)));
    }
    match &run.pr {
        Some((number, url)) if run.pr_ready => out.push_str(&format!(
            "- [x] Pull request [#{number}]({url}), ready for review: this repository does not \
             take draft pull requests (GitHub offers them in private repositories on paid plans \
             only)\n"
        )),
        Some((number, url)) => {
            out.push_str(&format!("- [x] Draft pull request [#{number}]({url})\n"))
        }
        None => {}
    }
    if let Some((_, inline)) = run.peer_posted {
        out.push_str(&peer::posted_step(inline));
    }
    if let Some(answer) = &run.answered {
        out.push_str(&feedback::answered_steps(answer));
    }
    out
}

/// Quoted user text shown back on one line, so it cannot open Markdown blocks or mention anyone.
fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = flat.chars().take(200).collect();
    let ellipsis = if flat.chars().count() > 200 {
        "…"
    } else {
        ""
    };
    format!("`{}{ellipsis}`", short.replace('`', "'"))
}

pub fn status_reply(task: &TaskRow, key: &str) -> String {
    with_marker(
        format!(
            "Task {} is **{}** (attempt {}). The tracking comment above shows each step.",
            task.id,
            status_badge(task.status),
            task.attempt
        ),
        key,
    )
}

pub fn no_task_reply(handle: &str, key: &str) -> String {
    with_marker(
        format!(
            "There is no bosun task on this issue yet. Add the trigger label or write \
             `@{handle} <what to do>` to start one."
        ),
        key,
    )
}

pub fn nothing_to_stop(task: Option<&TaskRow>, key: &str) -> String {
    let text = match task {
        Some(t) => format!(
            "Nothing to stop: task {} is already {}.",
            t.id,
            status_badge(t.status)
        ),
        None => "Nothing to stop: there is no bosun task on this issue.".to_string(),
    };
    with_marker(text, key)
}

pub fn already_running(task: &TaskRow, handle: &str, key: &str) -> String {
    with_marker(
        format!(
            "Task {} is still {} on this issue, so there is nothing to retry yet. \
             Use `@{handle} stop` first if you want to start over.",
            task.id,
            status_badge(task.status)
        ),
        key,
    )
}

pub fn help(handle: &str, key: &str) -> String {
    with_marker(bosun_core::command::help_text(handle), key)
}

pub fn unknown_command(word: &str, handle: &str, key: &str) -> String {
    let word: String = word.chars().take(40).filter(|c| *c != '`').collect();
    with_marker(
        format!(
            "I don't know the command `{word}`.\n\n{}",
            bosun_core::command::help_text(handle)
        ),
        key,
    )
}

/// Posted once per broken version of the file (keyed by its blob sha).
pub fn config_error(error: &str, key: &str) -> String {
    with_marker(
        format!(
            "bosun could not use `.github/bosun.yml` from the default branch, so it did not act \
             on this request.\n\n```\n{}\n```\n\nFix the file on the default branch and trigger \
             bosun again. Every key is described in bosun's example config (`examples/bosun.yml`).",
            error.replace("```", "'''")
        ),
        key,
    )
}

/// A line of commands with their verdicts (the set-up's, a round's gates'), and the end of each
/// failing one's log.
fn checks_block(title: &str, results: &[GateSummary]) -> String {
    let lines: Vec<String> = results.iter().map(gate_line).collect();
    let mut out = format!(
        "- {} {title}: {}\n",
        check(results.iter().all(|g| g.ok)),
        lines.join(" · ")
    );
    for g in results.iter().filter(|g| !g.ok && !g.tail.is_empty()) {
        out.push_str(&format!(
            "\n<details><summary>Log of `{}` (end)</summary>\n\n{}\n\n</details>\n\n",
            g.name.replace('`', "'"),
            fenced(&g.tail)
        ));
    }
    out
}

/// Changes to protected paths kept out of the push, and how a writer lets them in; or who did.
fn held_step(run: &bosun_core::model::RunProgress, handle: &str) -> String {
    if run.held.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = run
        .held
        .iter()
        .take(10)
        .map(|p| format!("`{}`", p.replace('`', "'")))
        .collect();
    let more = match run.held.len().saturating_sub(10) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let paths = format!("{}{more}", shown.join(", "));
    match &run.held_pushed_by {
        Some(by) => format!(
            "- {} Protected paths {paths}: approved by @{by} and pushed\n",
            check(true)
        ),
        None => format!(
            "- 🔒 Held back, because CI may run them with the repository's secrets: changes to \
             {paths} (`protected_paths`). A person with write access comments `@{handle} \
             approve` to push them onto the branch.\n"
        ),
    }
}

/// The hosts the egress proxy refused to the run, and what a maintainer can do about it.
fn egress_refused_line(hosts: &[String]) -> String {
    let shown: Vec<String> = hosts
        .iter()
        .take(10)
        .map(|h| format!("`{}`", h.replace('`', "'")))
        .collect();
    let more = match hosts.len().saturating_sub(10) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "- 🚫 Refused by the egress proxy: {}{more}. If the run needs them, add the hosts to \
         `egress:` in `.github/bosun.yml`\n",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::ids::{InstallationId, IssueNumber, RepoId, RepoRef};
    use bosun_core::model::{project, ProgressEvent, TaskEvent, TaskId, TriggerSource};

    fn task(status: TaskStatus) -> TaskRow {
        TaskRow {
            id: TaskId(7),
            repo_id: RepoId(1),
            repo: RepoRef::new("octo", "hello"),
            installation: InstallationId(2),
            issue: IssueNumber(12),
            kind: TaskKind::Implement,
            label_prefix: "bosun".into(),
            status,
            attempt: 1,
            requested_by: "alice".into(),
            tracking_comment: None,
        }
    }

    fn events() -> Vec<TaskEvent> {
        vec![
            TaskEvent::Triggered {
                attempt: 1,
                kind: TaskKind::Implement,
                by: "alice".into(),
                source: TriggerSource::Label {
                    name: "bosun".into(),
                },
                instructions: String::new(),
                issue: None,
            },
            TaskEvent::Steered {
                by: "bob".into(),
                text: "keep the `old` API\n\n# and no headings".into(),
            },
            TaskEvent::Started { attempt: 1 },
        ]
    }

    #[test]
    fn refused_hosts_are_listed_with_what_to_do_and_a_long_list_is_cut() {
        let hosts: Vec<String> = (1..=12).map(|i| format!("h{i}.example:443")).collect();
        let line = egress_refused_line(&hosts);
        assert!(
            line.contains("`h1.example:443`, `h2.example:443`"),
            "{line}"
        );
        assert!(line.contains("`h10.example:443` and 2 more."), "{line}");
        assert!(!line.contains("h11.example"), "{line}");
        assert!(
            line.contains("add the hosts to `egress:` in `.github/bosun.yml`"),
            "{line}"
        );
        let odd = egress_refused_line(&["a`b:80".to_string()]);
        assert!(odd.contains("`a'b:80`"), "{odd}");
    }

    #[test]
    fn tracking_comment_in_progress() {
        let state = project(&events()).unwrap();
        insta::assert_snapshot!(tracking_comment(
            &task(TaskStatus::InProgress),
            &state,
            "bosun-app"
        ));
    }

    #[test]
    fn tracking_comment_done() {
        let mut evs = events();
        evs.push(TaskEvent::Progress(ProgressEvent::PlaceholderRan {
            attempt: 1,
        }));
        evs.push(TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: "✅ The placeholder step ran. No code was changed.".into(),
        });
        let state = project(&evs).unwrap();
        let body = tracking_comment(&task(TaskStatus::Done), &state, "bosun-app");
        assert_eq!(
            TrackingMarker::find(&body).map(|m| m.status),
            Some(TaskStatus::Done)
        );
        insta::assert_snapshot!(body);
    }

    /// A long fetch shows its counts until the checkout is ready; a first clone's closing
    /// event (`done`) shows nothing more.
    #[test]
    fn a_fetch_under_way_shows_its_counts_until_the_checkout_is_ready() {
        let fetching = |received: u64, done: bool| {
            TaskEvent::Progress(ProgressEvent::Fetching {
                attempt: 1,
                received_objects: received,
                total_objects: 5_678,
                received_bytes: 12_900_000,
                done,
            })
        };
        let mut evs = events();
        evs.push(fetching(1_234, false));
        let comment = |evs: &[TaskEvent]| {
            tracking_comment(
                &task(TaskStatus::InProgress),
                &project(evs).unwrap(),
                "bosun",
            )
        };
        assert!(
            comment(&evs)
                .contains("- 📥 Fetching the repository: 1,234 of 5,678 objects (12.3 MiB)\n"),
            "{}",
            comment(&evs)
        );
        evs.push(fetching(5_678, true));
        assert!(!comment(&evs).contains("📥"), "{}", comment(&evs));
        evs.push(fetching(10, false));
        evs.push(TaskEvent::Progress(ProgressEvent::WorkspaceReady {
            attempt: 1,
            branch: "bosun/12-fix-it".into(),
            base_sha: "0123456789abcdef0123456789abcdef01234567".into(),
        }));
        assert!(!comment(&evs).contains("📥"), "{}", comment(&evs));
    }

    /// The agent run's checklist: a second round running after a failing gate, then the end
    /// with a pushed commit and a pull request.
    #[test]
    fn tracking_comment_of_an_agent_run() {
        use bosun_core::model::{GateSummary, RunUsage};
        let mut evs = events();
        evs.push(TaskEvent::Progress(ProgressEvent::WorkspaceReady {
            attempt: 1,
            branch: "bosun/12-fix-it".into(),
            base_sha: "0123456789abcdef0123456789abcdef01234567".into(),
        }));
        let usage = RunUsage {
            input_tokens: 12_345,
            output_tokens: 678,
            cost_micro_usd: Some(123_400),
        };
        for round in 1..=2 {
            evs.push(TaskEvent::Progress(ProgressEvent::AgentStarted {
                attempt: 1,
                round,
                rounds: 3,
                agent: "claude".into(),
                sandbox: "docker".into(),
                model: None,
            }));
            if round == 1 {
                evs.push(TaskEvent::Progress(ProgressEvent::AgentFinished {
                    attempt: 1,
                    usage,
                    elapsed_secs: 95,
                }));
                evs.push(TaskEvent::Progress(ProgressEvent::GatesRan {
                    attempt: 1,
                    round,
                    results: vec![
                        GateSummary {
                            name: "test".into(),
                            ok: false,
                            exit_code: Some(101),
                            timed_out: false,
                            secs: 12,
                            tail: "test it_works ... FAILED\n```\nnot a fence".into(),
                        },
                        GateSummary {
                            name: "fmt".into(),
                            ok: true,
                            exit_code: Some(0),
                            timed_out: false,
                            secs: 1,
                            tail: String::new(),
                        },
                    ],
                }));
            }
        }
        evs.push(TaskEvent::Progress(ProgressEvent::AgentProgress {
            attempt: 1,
            usage,
            elapsed_secs: 30,
        }));
        let state = project(&evs).unwrap();
        insta::assert_snapshot!(
            "agent_run_round_2",
            tracking_comment(&task(TaskStatus::InProgress), &state, "bosun-app")
        );

        evs.push(TaskEvent::Progress(ProgressEvent::AgentFinished {
            attempt: 1,
            usage,
            elapsed_secs: 40,
        }));
        evs.push(TaskEvent::Progress(ProgressEvent::Pushed {
            attempt: 1,
            branch: "bosun/12-fix-it".into(),
            sha: "fedcba9876543210fedcba9876543210fedcba98".into(),
        }));
        evs.push(TaskEvent::Progress(ProgressEvent::PullOpened {
            attempt: 1,
            number: 13,
            url: "https://github.com/octo/hello/pull/13".into(),
            ready: false,
        }));
        evs.push(TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: pull_opened(13, "https://github.com/octo/hello/pull/13", true),
        });
        let state = project(&evs).unwrap();
        let body = tracking_comment(&task(TaskStatus::Done), &state, "bosun-app");
        let marker = TrackingMarker::find(&body).unwrap();
        assert_eq!(marker.pr, Some(13));
        assert_eq!(marker.branch.as_deref(), Some("bosun/12-fix-it"));
        insta::assert_snapshot!("agent_run_done", body);

        // Where the repository takes no drafts, the comment says why it is ready for review.
        let mut no_drafts = evs.clone();
        no_drafts.retain(|e| !matches!(e, TaskEvent::Finished { .. }));
        if let Some(TaskEvent::Progress(ProgressEvent::PullOpened { ready, .. })) =
            no_drafts.last_mut()
        {
            *ready = true;
        }
        no_drafts.push(TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: pull_opened(13, "https://github.com/octo/hello/pull/13", false),
        });
        let state = project(&no_drafts).unwrap();
        let body = tracking_comment(&task(TaskStatus::Done), &state, "bosun-app");
        assert!(
            body.contains(
                "- [x] Pull request [#13](https://github.com/octo/hello/pull/13), ready for review: \
                 this repository does not take draft pull requests"
            ),
            "{body}"
        );
        assert!(
            body.contains("ready for review rather than a draft"),
            "{body}"
        );
        assert!(!body.contains("Draft pull request [#13]"), "{body}");
    }

    /// A planned issue waiting for its parts, and one of its parts waiting for another.
    #[test]
    fn tracking_comments_of_a_plan_and_a_waiting_part() {
        use bosun_core::model::TaskEvent::*;
        let mut plan = events();
        if let TaskEvent::Triggered { kind, .. } = &mut plan[0] {
            *kind = TaskKind::Plan;
        }
        plan.truncate(1);
        plan.push(Started { attempt: 1 });
        for (key, issue, deps) in [
            ("api", 21, vec![]),
            ("ui", 22, vec![21]),
            ("docs", 23, vec![]),
        ] {
            plan.push(TaskEvent::Progress(ProgressEvent::PlanPartCreated {
                attempt: 1,
                key: key.into(),
                issue,
                title: key.into(),
                depends_on: deps,
            }));
        }
        plan.push(PlanPublished {
            attempt: 1,
            overview: "API first, then @alice's UI.".into(),
        });
        plan.push(PlanPartDone { issue: 23 });
        let state = project(&plan).unwrap();
        let mut row = task(TaskStatus::Blocked);
        row.kind = TaskKind::Plan;
        insta::assert_snapshot!("plan_waiting", tracking_comment(&row, &state, "bosun-app"));

        let part = vec![TaskEvent::Triggered {
            attempt: 1,
            kind: TaskKind::Implement,
            by: "alice".into(),
            source: TriggerSource::PlanPart {
                parent: 12,
                part: "ui".into(),
                waits_for: vec![21],
                agent: None,
                complexity: None,
            },
            instructions: String::new(),
            issue: None,
        }];
        let state = project(&part).unwrap();
        let body = tracking_comment(&task(TaskStatus::Blocked), &state, "bosun-app");
        assert!(body.contains("Part of the plan of #12"), "{body}");
        assert!(body.contains("Waits until #21 is done"), "{body}");

        // The part the UI needs is closed as not planned: struck out, and the UI says so.
        plan.push(PlanPartDropped {
            issue: 21,
            reason: "not_planned".into(),
        });
        let state = project(&plan).unwrap();
        let body = tracking_comment(&row, &state, "bosun-app");
        insta::assert_snapshot!("plan_with_a_dropped_part", body);
    }

    #[test]
    fn how_a_plan_with_dropped_parts_ends() {
        let not_planned = [(21, "not_planned".to_string())];
        let two = [
            (21, "not_planned".to_string()),
            (22, "duplicate".to_string()),
        ];
        assert_eq!(
            plan_done(3, &[]),
            "✅ All 3 sub-issues of this plan are done, so bosun closed this issue."
        );
        assert_eq!(
            plan_done(1, &two),
            "✅ 1 of the 3 sub-issues of this plan is done and the rest closed without being \
             done (#21 as not planned, #22 as a duplicate), so bosun closed this issue."
        );
        assert_eq!(
            plan_dropped(&[(21, "weird".to_string())]),
            "Every sub-issue of this plan was closed without being done (#21 without being \
             completed), so the plan ends here and this issue stays open; `plan` asks for a new \
             one."
        );
        assert_eq!(
            part_dependency_dropped(&not_planned),
            "⛔ bosun did not start this part: it waited for #21, which was closed as not \
             planned. `retry` starts it anyway; or close this issue."
        );
        let both = part_dependency_dropped(&two);
        assert!(
            both.contains("it waited for #21, #22, which were closed without being done (#21 as not planned, #22 as a duplicate)."),
            "{both}"
        );
    }

    #[test]
    fn a_sub_issue_says_where_it_belongs_and_cannot_ping() {
        let body = sub_issue_body(12, "Add it. cc @bob", &[21, 22], "<!-- m -->");
        assert!(
            body.starts_with("Add it. cc @\u{200b}bob\n\n---\nPart of #12"),
            "{body}"
        );
        assert!(body.contains("when #21, #22 are done"), "{body}");
        assert!(body.ends_with("<!-- m -->"));
        assert_eq!(
            part_labels("bosun", Some("codex"), Some("simple")),
            ["bosun:agent:codex", "bosun:complexity:simple"]
        );
        // GitHub refuses labels over 50 characters, and the whole issue with them.
        let prefix = "p".repeat(31);
        let long_agent = "a".repeat(20);
        assert_eq!(
            part_labels(&prefix, Some(&long_agent), Some("complex")),
            [format!("{prefix}:complexity:complex")]
        );
    }

    #[test]
    fn replies() {
        insta::assert_snapshot!(config_error(
            "line 2, column 1: unknown field `trigger`",
            "cfg:abc"
        ));
        insta::assert_snapshot!(nothing_to_stop(Some(&task(TaskStatus::Done)), "d:0"));
        insta::assert_snapshot!(already_running(
            &task(TaskStatus::InProgress),
            "bosun-app",
            "d:1"
        ));
    }
}
