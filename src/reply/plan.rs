//! What bosun posts when it plans: the sub-issues it opens, the planned issue's checklist in
//! the tracking comment, and how a plan ends. Texts from the planner are redacted by the caller
//! before they get here.

use bosun_core::model::{PlanItem, PlanState, TaskId, TaskState, TaskStatus};

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

/// Hidden in a sub-issue's body: finds the issue again on a retry (task and part, not the
/// attempt, so a retried plan reuses the sub-issues it already opened), and tells `resync`
/// which part it is. The key is hex-encoded: it is the planner's text, and must neither end the
/// HTML comment nor collide with another key.
pub fn part_marker(task: TaskId, key: &str) -> String {
    format!("{PART_MARKER}{task}:{} -->", hex::encode(key))
}

/// How `part_marker` begins.
const PART_MARKER: &str = "<!-- bosun:part ";

/// What `resync` reads back from a sub-issue bosun opened: its part's key, the planned issue
/// and the sub-issues it waits for. `None` for any other issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubIssueFacts {
    pub key: String,
    pub parent: u64,
    pub depends_on: Vec<u64>,
}

/// Reads what `sub_issue_body` and `part_marker` wrote.
pub fn read_sub_issue_body(body: &str) -> Option<SubIssueFacts> {
    // The last marker and line: bosun writes them after the planner's text.
    let marker = body[body.rfind(PART_MARKER)? + PART_MARKER.len()..]
        .split(" -->")
        .next()?;
    let (_task, hex_key) = marker.split_once(':')?;
    let key = String::from_utf8(hex::decode(hex_key).ok()?).ok()?;
    let line = body
        .lines()
        .rev()
        .find(|l| l.starts_with("Part of #") && l.contains(", planned by bosun."))?;
    let parent = line
        .strip_prefix("Part of #")?
        .split(',')
        .next()?
        .parse()
        .ok()?;
    let depends_on = match line.split_once(" bosun starts it when ") {
        Some((_, after)) => after
            .split(" is done")
            .next()
            .and_then(|l| l.split(" are done").next())
            .unwrap_or_default()
            .split(", ")
            .filter_map(|n| n.trim().strip_prefix('#')?.parse().ok())
            .collect(),
        None => Vec::new(),
    };
    Some(SubIssueFacts {
        key,
        parent,
        depends_on,
    })
}

/// Labels a sub-issue gets besides its status label: the planner's suggestions, visible.
/// One longer than GitHub's 50 characters (a long agent name) is left out: GitHub would
/// refuse the whole issue for it. That part is then routed as an issue without the label.
pub fn part_labels(prefix: &str, agent: Option<&str>, complexity: Option<&str>) -> Vec<String> {
    let mut labels = Vec::new();
    if let Some(agent) = agent {
        labels.push(format!("{prefix}:agent:{agent}"));
    }
    if let Some(complexity) = complexity {
        labels.push(format!("{prefix}:complexity:{complexity}"));
    }
    labels.retain(|l| l.chars().count() <= bosun_core::repo_config::MAX_LABEL_CHARS);
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

/// The summary once every part is done or closed without being done, at least one done.
/// `dropped`: the parts closed without being done, with GitHub's reason.
pub fn plan_done(done: usize, dropped: &[(u64, String)]) -> String {
    if dropped.is_empty() {
        return format!(
            "✅ All {done} sub-issue{} of this plan are done, so bosun closed this issue.",
            if done == 1 { "" } else { "s" }
        );
    }
    format!(
        "✅ {done} of the {} sub-issues of this plan {} done and the rest closed without being \
         done ({}), so bosun closed this issue.",
        done + dropped.len(),
        if done == 1 { "is" } else { "are" },
        closed_list(dropped)
    )
}

/// The summary when every part was closed without being done: the plan ends, and the issue
/// stays open for a person to decide.
pub fn plan_dropped(dropped: &[(u64, String)]) -> String {
    format!(
        "Every sub-issue of this plan was closed without being done ({}), so the plan ends \
         here and this issue stays open; `plan` asks for a new one.",
        closed_list(dropped)
    )
}

/// The summary of a part that will not start because a part it waits for was closed without
/// being done.
pub fn part_dependency_dropped(dropped: &[(u64, String)]) -> String {
    let why = match dropped {
        [(n, reason)] => format!("#{n}, which was closed {}", closed_as(reason)),
        _ => format!(
            "{}, which were closed without being done ({})",
            issue_list(&dropped.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
            closed_list(dropped)
        ),
    };
    format!(
        "⛔ bosun did not start this part: it waited for {why}. `retry` starts it anyway; or \
         close this issue."
    )
}

/// `#12 as not planned, #14 as a duplicate`.
fn closed_list(dropped: &[(u64, String)]) -> String {
    dropped
        .iter()
        .map(|(n, reason)| format!("#{n} {}", closed_as(reason)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// GitHub's `state_reason` of a closed issue, in words.
fn closed_as(reason: &str) -> &'static str {
    match reason {
        "not_planned" => "as not planned",
        "duplicate" => "as a duplicate",
        _ => "without being completed",
    }
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
    let dropped = plan.parts.iter().filter(|p| p.dropped.is_some()).count();
    let mut out = format!(
        "- {} Plan: {} sub-issue{}, {done} done{}\n",
        check(plan.published),
        plan.parts.len(),
        if plan.parts.len() == 1 { "" } else { "s" },
        if dropped > 0 {
            format!(", {dropped} closed without being done")
        } else {
            String::new()
        }
    );
    let dependencies = |part: &PlanItem, which: fn(&PlanItem) -> bool| {
        part.depends_on
            .iter()
            .filter(|d| plan.parts.iter().any(|p| p.issue == **d && which(p)))
            .copied()
            .collect::<Vec<_>>()
    };
    for part in &plan.parts {
        let line = if let Some(reason) = &part.dropped {
            format!(
                "~~#{} {}~~ · closed {}",
                part.issue,
                one_paragraph(&part.title),
                closed_as(reason)
            )
        } else {
            let waits = dependencies(part, |p| !p.settled());
            let lost = dependencies(part, |p| p.dropped.is_some());
            let mut line = format!("#{} {}", part.issue, one_paragraph(&part.title));
            if !part.done && !waits.is_empty() {
                line.push_str(&format!(" · waits for {}", issue_list(&waits)));
            }
            if !part.done && !lost.is_empty() {
                line.push_str(&format!(
                    " · needs {}, closed without being done",
                    issue_list(&lost)
                ));
            }
            line
        };
        out.push_str(&format!("  - {} {line}\n", check(part.done)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_markers_cannot_end_the_html_comment() {
        let marker = part_marker(TaskId(3), "a -->");
        assert_eq!(marker, "<!-- bosun:part 3:61202d2d3e -->");
        assert_ne!(part_marker(TaskId(3), "a b"), part_marker(TaskId(3), "a_b"));
    }

    #[test]
    fn what_a_sub_issue_body_says_reads_back() {
        for depends_on in [vec![], vec![21], vec![21, 22, 30]] {
            let body = sub_issue_body(
                12,
                "Do it.\nPart of #99, planned by bosun.\n<!-- bosun:part 1:6161 -->",
                &depends_on,
                &part_marker(TaskId(5), "ui -->"),
            );
            assert_eq!(
                read_sub_issue_body(&body),
                Some(SubIssueFacts {
                    key: "ui -->".into(),
                    parent: 12,
                    depends_on: depends_on.clone(),
                }),
                "{body}"
            );
        }
        assert_eq!(read_sub_issue_body("Part of #12, planned by bosun."), None);
        assert_eq!(read_sub_issue_body("<!-- bosun:part 5:zz -->"), None);
    }
}
