//! Every text bosun posts on GitHub is rendered here, and only here, so the voice stays one and
//! every text can be snapshot-tested.

use crate::db::TaskRow;
use crate::github::marker::TrackingMarker;
use crate::task::model::{TaskKind, TaskState, TaskStatus};

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
    let what = match state.kind {
        TaskKind::Implement => "work on this issue",
        TaskKind::Plan => "plan this issue",
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
    out.push_str(&format!("- {} Picked up by a worker\n", check(started)));
    out.push_str(&format!(
        "- {} Work step (placeholder: the agent run comes in a later version of bosun; \
         this step only records that it ran, and changes no code)\n",
        check(state.placeholder_ran)
    ));
    out.push_str(&format!("- {} Finished\n", check(finished)));
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
            branch: None,
            pr: None,
        }
        .render(),
    );
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
    with_marker(crate::command::help_text(handle), key)
}

pub fn unknown_command(word: &str, handle: &str, key: &str) -> String {
    let word: String = word.chars().take(40).filter(|c| *c != '`').collect();
    with_marker(
        format!(
            "I don't know the command `{word}`.\n\n{}",
            crate::command::help_text(handle)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::ids::{InstallationId, IssueNumber, RepoId, RepoRef};
    use crate::task::model::{project, TaskEvent, TaskId, TriggerSource};

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
            },
            TaskEvent::Steered {
                by: "bob".into(),
                text: "keep the `old` API\n\n# and no headings".into(),
            },
            TaskEvent::Started { attempt: 1 },
        ]
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
        evs.push(TaskEvent::PlaceholderRan { attempt: 1 });
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
