//! What bosun posts about an agent run: summaries that end an attempt, the pull request body,
//! check-run texts and the commit message. Texts that carry agent output are redacted by the
//! caller before they get here.

use std::time::Duration;

use bosun_core::gate::GateResult;
use bosun_core::model::{GateSummary, RunProgress, RunUsage};
use bosun_core::publish::{Rejection, SecretInFile};

/// Longest agent summary quoted in a comment or pull request body.
const MAX_SUMMARY_CHARS: usize = 20_000;

pub fn run_config_broken(message: &str) -> String {
    format!(
        "❌ `.github/bosun.yml` cannot be used: {message}\n\nFix the file on the default branch, \
         then `retry`."
    )
}

/// A repository asked for `network: true` without the server listing it.
pub fn network_refused(repo: &str) -> String {
    format!(
        "❌ `.github/bosun.yml` asks for `network: true`, which gives the agent the open internet, \
         past bosun's egress proxy. This bosun server does not allow that for `{repo}` (its \
         operator lists such repositories under `limits.network_repos`). To let the agent fetch \
         what it needs, list those hosts under `egress:` instead (presets such as `crates.io`, \
         `pypi` or `npm` work too), then `retry`."
    )
}

pub fn workspace_failed(why: &str) -> String {
    format!("❌ bosun could not prepare the repository's checkout: {why}. Retry later; if it keeps failing, check the server's log.")
}

pub fn image_missing(image: &str) -> String {
    format!(
        "❌ The agent's container image `{image}` is not on this bosun server's Docker host. \
         An operator must build or load it (`docker build -f docker/agent.Dockerfile -t {image} .`), \
         then `retry`."
    )
}

pub fn image_pull_failed(image: &str, why: &str) -> String {
    format!(
        "❌ bosun could not pull the container image `{image}` onto its Docker host: {}. \
         An operator must make it pullable (the engine's registry login, the image's name) or \
         build or load it on the host, then `retry`.",
        one_paragraph(why)
    )
}

pub fn agent_failed(why: &str, timed_out: bool, limit: Duration) -> String {
    if timed_out {
        return format!(
            "👀 The agent ran past its deadline of {} and was stopped. Nothing was pushed. \
             Split the issue into smaller ones, or raise `timeouts.agent_minutes` in \
             `.github/bosun.yml`, then `retry`.",
            human_duration(limit.as_secs())
        );
    }
    format!(
        "❌ The agent failed: {}\n\nNothing was pushed. `retry` runs it again.",
        one_paragraph(why)
    )
}

pub fn agent_stalled(idle: Duration, runs: u32) -> String {
    format!(
        "❌ The agent printed nothing for {} and was stopped, {runs} times. It may be waiting \
         for input it cannot get, or stuck in a loop. Nothing was pushed. `retry` runs it again.",
        human_duration(idle.as_secs())
    )
}

pub fn breaker_open(agent: &str, failures: u32, wait: Duration) -> String {
    format!(
        "⛔ The agent `{agent}` failed {failures} times in a row in this repository, so bosun \
         pauses it here for {} (its circuit breaker is open) instead of retrying in a loop. \
         Check the earlier failures (a model key, an API outage), then `retry` after the pause.",
        human_duration(wait.as_secs())
    )
}

pub fn gates_could_not_run(why: &str) -> String {
    format!("❌ The gates could not run: {why}. Nothing was pushed.")
}

pub fn secrets_blocked(secrets: &[SecretInFile]) -> String {
    let mut out = String::from(
        "❌ bosun did not push: the agent's change contains what looks like a secret, so \
         nothing left this server.\n\n",
    );
    for s in secrets.iter().take(10) {
        out.push_str(&format!("- `{}`: {}\n", code_safe(&s.path), s.kind));
    }
    out.push_str("\nThe value is not shown here. `retry` starts over from the default branch.");
    out
}

pub fn no_change(summary: &str, rejected: &[Rejection]) -> String {
    let mut out =
        String::from("The agent finished without changing any file, so there is no pull request.");
    if !summary.trim().is_empty() {
        out.push_str("\n\n**The agent's explanation:**\n\n");
        out.push_str(&quote(summary));
    }
    out.push_str(&rejected_list(rejected));
    out
}

pub fn gates_failed(branch: &str, rounds: u32) -> String {
    format!(
        "👀 The gates still fail after {rounds} round{}. The work so far is on the branch \
         `{branch}` (no pull request was opened); the failing log is above. Push a fix to the \
         branch yourself, or `retry` with more guidance.",
        if rounds == 1 { "" } else { "s" }
    )
}

/// How a run that opened its pull request ends; `draft` is false where the repository takes
/// no drafts.
pub fn pull_opened(number: u64, url: &str, draft: bool) -> String {
    if draft {
        format!(
            "✅ Opened the draft pull request [#{number}]({url}). Review it, then mark it ready."
        )
    } else {
        format!(
            "✅ Opened the pull request [#{number}]({url}), ready for review rather than a draft \
             (this repository does not take drafts). Review it before merging."
        )
    }
}

pub fn commit_message(issue: u64, title: &str, summary: &str) -> String {
    let subject: String = title.chars().take(60).collect();
    let body: String = summary.chars().take(2000).collect();
    format!(
        "{subject} (#{issue})\n\n{}\n\nCloses #{issue}\n",
        body.trim()
    )
}

pub fn check_run_texts(gate: &GateResult) -> (String, String) {
    let title = if gate.ok {
        format!("{} passed", gate.name)
    } else if gate.timed_out {
        format!("{} timed out", gate.name)
    } else {
        format!(
            "{} failed (exit {})",
            gate.name,
            gate.exit_code.map_or("unknown".into(), |c| c.to_string())
        )
    };
    let summary = format!(
        "`{}` ran in {} with the network off.",
        code_safe(&gate.command),
        human_duration(gate.duration.as_secs())
    );
    (title, summary)
}

pub fn pull_request_body(
    issue: u64,
    summary: &str,
    gates: &[GateResult],
    run: &RunProgress,
    rejected: &[Rejection],
) -> String {
    let mut out = format!("Closes #{issue}\n\n");
    if summary.trim().is_empty() {
        out.push_str("_The agent left no summary._\n");
    } else {
        out.push_str("## Summary\n\n");
        out.push_str(&quote(summary));
        out.push('\n');
    }
    out.push_str("\n## Gates\n\n");
    if gates.is_empty() {
        out.push_str("No gates are configured (`gates:` in `.github/bosun.yml`).\n");
    }
    for g in gates {
        out.push_str(&format!(
            "- {} `{}`: `{}` ({})\n",
            if g.ok { "✅" } else { "❌" },
            code_safe(&g.name),
            code_safe(&g.command),
            human_duration(g.duration.as_secs())
        ));
    }
    out.push_str(&format!(
        "\n## Run\n\n- Agent: `{}` in the `{}` sandbox, {} round{}\n- Agent time: {}\n- Tokens: {}\n",
        run.agent.as_deref().unwrap_or("?"),
        run.sandbox.as_deref().unwrap_or("?"),
        run.round,
        if run.round == 1 { "" } else { "s" },
        human_duration(run.agent_secs),
        usage_text(&run.usage)
    ));
    out.push_str(&rejected_list(rejected));
    out.push_str("\n<sub>Opened by bosun as a draft. bosun never merges.</sub>\n");
    out
}

/// `12,345 in / 678 out · $0.12`.
pub fn usage_text(u: &RunUsage) -> String {
    let mut out = format!(
        "{} in / {} out",
        thousands(u.input_tokens),
        thousands(u.output_tokens)
    );
    if let Some(micro) = u.cost_micro_usd {
        out.push_str(&format!(" · ${:.2}", micro as f64 / 1e6));
    }
    out
}

pub fn gate_line(g: &GateSummary) -> String {
    let verdict = if g.ok {
        "✅".to_string()
    } else if g.timed_out {
        "⏱️".to_string()
    } else {
        format!(
            "❌ (exit {})",
            g.exit_code.map_or("?".into(), |c| c.to_string())
        )
    };
    format!("`{}` {verdict}", code_safe(&g.name))
}

pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        _ => format!("{}h {}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// A block of agent or gate output, fenced so nothing inside can close it.
pub fn fenced(text: &str) -> String {
    let longest = bosun_core::prompt::fence::longest_backtick_run(text);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", text.trim_end())
}

fn rejected_list(rejected: &[Rejection]) -> String {
    if rejected.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n**Not committed** (bosun's publishing rules):\n");
    for r in rejected.iter().take(20) {
        out.push_str(&format!("- `{}`: {}\n", code_safe(&r.path), r.reason));
    }
    out
}

/// The agent's text as a Markdown quote; mentions are defused so the agent cannot ping people.
pub(super) fn quote(text: &str) -> String {
    let short: String = text.chars().take(MAX_SUMMARY_CHARS).collect();
    short
        .replace('@', "@\u{200b}")
        .lines()
        .map(|l| format!("> {l}\n"))
        .collect()
}

pub(super) fn one_paragraph(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = flat.chars().take(1000).collect();
    short.replace('@', "@\u{200b}")
}

fn code_safe(text: &str) -> String {
    text.replace('`', "'").replace('\n', " ")
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How an attempt ends when the metering proxy refused a call for its budget.
pub fn budget_spent(branch: Option<&str>, why: &str) -> String {
    let kept = match branch {
        Some(branch) => format!(
            " The work so far is pushed to `{}` (no pull request was opened).",
            code_safe(branch)
        ),
        None => String::new(),
    };
    format!(
        "💸 Budget reached: the agent's model calls were stopped.{kept} Raise \
         `limits.task_budget_usd` / `limits.task_budget_tokens` in the server's configuration, \
         or split the issue, then `retry`.\n\n{}",
        fenced(why)
    )
}

/// Which budget is spent: `$12.40 of $10.00 (until midnight UTC)`.
pub fn spent_line(budget: &str, spent: u64, limit: u64, until: &str) -> String {
    format!(
        "{budget} is spent: ${:.2} of ${:.2}, until {until}",
        spent as f64 / 1e6,
        limit as f64 / 1e6
    )
}

/// How an attempt ends when a budget was found spent as its run was about to start.
pub fn budget_refused_at_start(why: &str) -> String {
    format!(
        "💸 Not started: {why}. Say `retry` after that, or raise the limit in the server's \
         configuration (`limits.repo_daily_budget_usd`, `limits.installation_monthly_budget_usd`) \
         or the repository's `budget.daily_usd`."
    )
}

/// The answer to a trigger while a budget is spent: no run is queued.
pub fn budget_refused(why: &str, key: &str) -> String {
    super::with_marker(
        format!(
            "💸 Not starting: {why}. No run was queued. Ask again after that, or raise the limit \
             in the server's configuration (`limits.repo_daily_budget_usd`, \
             `limits.installation_monthly_budget_usd`)."
        ),
        key,
    )
}

/// How an attempt ends when its repository lists `egress:` hosts this server cannot give.
pub fn egress_unavailable() -> String {
    "🚫 Not started: the repository lists `egress:` hosts, but this server gives runs no egress \
     proxy (its `egress.enabled` is off, or its agents run on another host's Docker engine, \
     which the proxy cannot reach). Remove `egress:` from `.github/bosun.yml`, or ask the \
     server's operator."
        .to_string()
}

/// How an attempt ends when a set-up command failed: the agent never started.
pub fn setup_failed(step: &GateSummary, limit: Duration) -> String {
    let how = if step.timed_out {
        format!(
            "ran past its {} limit and was stopped",
            human_duration(limit.as_secs())
        )
    } else {
        match step.exit_code {
            Some(code) => format!("exited with {code}"),
            None => "ended without an exit code".to_string(),
        }
    };
    format!(
        "🧰 Set-up failed: `{}` {how}, so the agent did not start. Its log is above. Fix \
         `setup:` in `.github/bosun.yml` (a host it needs goes under `egress:`; a slow step may \
         need a longer `timeouts.setup_minutes`), then `retry`.",
        code_safe(&step.name)
    )
}

/// How an attempt ends when the agent wrote more into the checkout than the server allows.
pub fn agent_filled_disk(max_mb: u64) -> String {
    format!(
        "💾 The agent was stopped: the checkout grew past {max_mb} MiB, this server's limit \
         (`limits.max_checkout_mb`). Nothing was pushed. If the task really needs that much \
         (a large download, build output), ask it to write less, or ask the server's operator \
         to raise the limit, then `retry`."
    )
}

/// How an attempt ends when its set-up wrote more into the checkout than the server allows.
pub fn setup_filled_disk(max_mb: u64) -> String {
    format!(
        "🧰 Set-up stopped: it wrote more than {max_mb} MiB into the checkout, this server's \
         limit (`limits.max_checkout_mb`), so the agent did not start. Install less, or into a \
         path the repository's gates do not need, then `retry`."
    )
}

/// Said on an issue or pull request when bosun gave up on someone's trigger or feedback after
/// GitHub kept failing (the dead job stays, and an operator can run it again).
pub fn gave_up_on(notice: &bosun_core::job::GaveUpNotice, handle: &str) -> String {
    super::with_marker(
        format!(
            "⚠️ bosun could not act on {} by @{}: GitHub kept failing while bosun handled it, \
             so nothing was done about it. The last error: `{}`. To try again, add the label \
             again or mention @{handle} again; or the server's operator can replay it with \
             `bosun task replay {}`.",
            notice.what,
            notice.sender,
            notice.error.replace('`', "'"),
            notice.job,
        ),
        &format!("gave-up:{}", notice.job),
    )
}

/// The message of the commit that adds held-back changes to protected paths, pushed once a
/// writer approves it.
pub fn held_commit_message(issue: u64, paths: &[String]) -> String {
    format!(
        "Changes to protected paths for #{issue}\n\nHeld back by bosun until a person with \
         write access approved them: {}.",
        paths.join(", ")
    )
}

/// The answer to `@bosun approve`: what was pushed, or why nothing was.
pub fn approve_reply(outcome: &ApproveOutcome, key: &str) -> String {
    let text = match outcome {
        ApproveOutcome::Pushed { sha, by } => format!(
            "🔓 Approved by @{by}: the held-back changes to protected paths are pushed ({}).",
            &sha[..sha.len().min(12)]
        ),
        ApproveOutcome::NothingHeld => {
            "Nothing is held back for approval on this task.".to_string()
        }
        ApproveOutcome::StillRunning => {
            "The task is still running; approve once it has finished and says what it held back."
                .to_string()
        }
        ApproveOutcome::Refused(why) => format!(
            "⚠️ The held-back change could not be pushed: {why}. Nothing was changed; start a new \
             attempt (`retry`) if the branch moved."
        ),
    };
    super::with_marker(text, key)
}

/// What an approval came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproveOutcome {
    Pushed { sha: String, by: String },
    NothingHeld,
    StillRunning,
    Refused(String),
}

/// Said when a trigger starts work on an issue whose body was last edited by people who may not
/// start work here: the agent gets the body as it was before their edits.
pub fn body_before_edits(editors: &[String], key: &str) -> String {
    let who: Vec<String> = editors
        .iter()
        .take(5)
        .map(|e| format!("@{}", e.replace('`', "'")))
        .collect();
    super::with_marker(
        format!(
            "✂️ The issue's description was last edited by {}, who cannot start work in this \
             repository, so the agent is given the description as it was before those edits. \
             If the new text is meant, a person with write access can edit the description \
             (any change) and trigger bosun again.",
            who.join(", ")
        ),
        key,
    )
}
