//! What bosun posts when it plans: the sub-issues it opens, the planned issue's checklist in
//! the tracking comment, and how a plan ends. Texts from the planner are redacted by the caller
//! before they get here.

use crate::task::model::{PlanState, TaskState, TaskStatus};

use super::check;
use super::run::{fenced, one_paragraph, quote};

/// A sub-issue's description: the planner's text, then where it belongs. `@` is defused so
/// the planner cannot ping people; `marker` finds the issue again on a retry.
pub fn sub_issue_body(parent: u64, body: &str, depends_on: &[u64], marker: &str) -> String {
    let mut out = String::new();
    let body = body.trim().replace('@', "@\u{200b}");
    if !body.is_empty() {
        out.push_str(&body);
        out.push_str("\n\n");
    }
    out.push_str(&format!("---\nPart of #{parent}, planned by bosun."));
    if !depends_on.is_empty() {
        out.push_str(&format!(
            " bosun starts it when {} {} done.",
            issue_list(depends_on),
            if depends_on.len() == 1 { "is" } else { "are" }
        ));
    }
    out.push_str(&format!("\n\n{marker}"));
    out
}

/// Labels a sub-issue gets besides its status label: the planner's suggestions, visible.
pub fn part_labels(prefix: &str, agent: Option<&str>, complexity: Option<&str>) -> Vec<String> {
    let mut labels = Vec::new();
    if let Some(agent) = agent {
        labels.push(format!("{prefix}:agent:{agent}"));
    }
    if let Some(complexity) = complexity {
        labels.push(format!("{prefix}:complexity:{complexity}"));
    }
    labels
}

/// The summary of a plan attempt whose breakdown could not be used.
pub fn plan_refused(why: &str, rounds: u32) -> String {
    format!(
        "👀 The planner's breakdown could not be used after {rounds} round{}, so no sub-issue \
         was opened. The reason:\n\n{}\n\nMake the issue clearer, or `retry` with hints.",
        if rounds == 1 { "" } else { "s" },
        fenced(why)
    )
}

/// The summary once every part is done.
pub fn plan_done(parts: usize) -> String {
    format!(
        "✅ All {parts} sub-issue{} of this plan are done, so bosun closed this issue.",
        if parts == 1 { "" } else { "s" }
    )
}

/// The tracking comment's lines for a task that belongs to a plan, or has one.
pub(super) fn plan_steps(state: &TaskState) -> String {
    let mut out = String::new();
    if let Some(parent) = state.part_of {
        out.push_str(&format!("- Part of the plan of #{parent}\n"));
        if state.status == TaskStatus::Blocked && !state.waits_for.is_empty() {
            out.push_str(&format!(
                "- ⛔ Waits until {} {} done (merged, or closed as completed)\n",
                issue_list(&state.waits_for),
                if state.waits_for.len() == 1 {
                    "is"
                } else {
                    "are"
                }
            ));
        }
    }
    if let Some(plan) = &state.plan {
        out.push_str(&checklist(plan));
    }
    out
}

fn checklist(plan: &PlanState) -> String {
    let done = plan.parts.iter().filter(|p| p.done).count();
    let mut out = format!(
        "- {} Plan: {} sub-issue{}, {done} done\n",
        check(plan.published),
        plan.parts.len(),
        if plan.parts.len() == 1 { "" } else { "s" }
    );
    for part in &plan.parts {
        let waits = part
            .depends_on
            .iter()
            .filter(|d| plan.parts.iter().any(|p| p.issue == **d && !p.done))
            .copied()
            .collect::<Vec<_>>();
        let after = if waits.is_empty() || part.done {
            String::new()
        } else {
            format!(" · waits for {}", issue_list(&waits))
        };
        out.push_str(&format!(
            "  - {} #{} {}{after}\n",
            check(part.done),
            part.issue,
            one_paragraph(&part.title)
        ));
    }
    if !plan.overview.trim().is_empty() {
        out.push_str(&format!(
            "\n<details><summary>The planner's overview</summary>\n\n{}\n</details>\n\n",
            quote(&plan.overview)
        ));
    }
    out
}

fn issue_list(issues: &[u64]) -> String {
    issues
        .iter()
        .map(|n| format!("#{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
