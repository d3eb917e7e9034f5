//! Small text pieces the task commands print: times, usage, one event as one line.

use serde_json::Value;

use bosun_core::job::Job;
use bosun_core::model::{RunUsage, TaskEvent};

/// Stored times (ms since the epoch) as UTC to the second, e.g. `2026-05-09 07:30:12Z`.
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The same time in RFC 3339, for JSON output.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `12,345 in / 678 out tokens, $0.42` (no cost when nothing was priced).
pub fn usage(u: &RunUsage) -> String {
    let cost = u
        .cost_micro_usd
        .map(|c| format!(", ${:.2}", c as f64 / 1e6))
        .unwrap_or_default();
    format!(
        "{} in / {} out tokens{cost}",
        thousands(u.input_tokens),
        thousands(u.output_tokens)
    )
}

pub use crate::reply::{human_duration as duration, thousands};

/// Text on one line, cut to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// One event as `type key=value …`, from its stored JSON shape: every event kind (also ones
/// added later) prints without a case of its own here. Long texts (summaries, gate logs) are
/// cut; `bosun task get --json` has them whole.
/// What a queued (or dead) job is about, in a few words: `trigger acme/app#7: the label
/// \`bosun\` by @octocat`.
pub fn job_line(job: &Job) -> String {
    let asked = |n: Option<bosun_core::job::GaveUpNotice>| {
        n.map(|n| format!("{}#{}: {} by @{}", n.repo, n.issue, n.what, n.sender))
    };
    let about = match job {
        Job::Trigger(_) | Job::Feedback(_) | Job::Lifecycle(_) => asked(job.gave_up_notice(0, "")),
        Job::GaveUp(n) => Some(format!(
            "{}#{}: the notice that job {} was given up on",
            n.repo, n.issue, n.job
        )),
        Job::BodyEdited(e) => Some(format!("#{} edited by @{}", e.issue, e.editor.login)),
        Job::Run { task, attempt } => Some(format!("task {task}, attempt {attempt}")),
        Job::SyncFace { task } | Job::PlanCheck { task } => Some(format!("task {task}")),
        Job::Scheduled { name, .. } => Some(format!("job `{name}`")),
        Job::RefreshConfig(r) => Some(r.repo.to_string()),
        Job::Installation(i) => Some(format!("installation {}", i.installation)),
    };
    match about {
        Some(about) => format!("{} {about}", job.kind()),
        None => job.kind().to_string(),
    }
}

/// What a dead job was about, read from its payload.
pub fn dead_job_about(d: &crate::db::DeadJob) -> String {
    match Job::from_stored(&d.payload) {
        Ok(job) => job_line(&job),
        Err(_) => format!("{} (unreadable payload)", d.kind),
    }
}

/// A dead job as `bosun task dead --json` and the dashboard's queue give it: `job`, `kind`,
/// `about` (what it was about, from its payload), `tries`, `died_at`, `last_error`.
pub fn dead_job_json(d: &crate::db::DeadJob) -> Value {
    serde_json::json!({
        "job": d.id.0,
        "kind": d.kind,
        "about": dead_job_about(d),
        "tries": d.attempts,
        "died_at": rfc3339(d.died_at),
        "last_error": d.last_error,
    })
}

pub fn event_line(event: &TaskEvent) -> String {
    let value = serde_json::to_value(event).unwrap_or(Value::Null);
    let Value::Object(fields) = value else {
        return String::from("(unreadable event)");
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("event")
        .to_string();
    let mut parts = vec![kind];
    for (key, value) in fields.iter().filter(|(k, _)| k.as_str() != "type") {
        flatten(key, value, &mut parts);
    }
    parts.join(" ")
}

fn flatten(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Object(inner) => {
            for (k, v) in inner {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let joined: Vec<String> = items.iter().map(scalar).collect();
            out.push(format!("{key}=[{}]", one_line(&joined.join(","), 60)));
        }
        Value::Array(items) => out.push(format!("{key}=[{} items]", items.len())),
        Value::String(s) if s.is_empty() => {}
        other => out.push(format!("{key}={}", scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let short = one_line(s, 60);
            if short.contains(' ') || short.is_empty() {
                format!("{short:?}")
            } else {
                short
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::model::TaskStatus;

    #[test]
    fn events_print_on_one_line_with_their_fields() {
        let line = event_line(&TaskEvent::Finished {
            attempt: 2,
            status: TaskStatus::Failed,
            summary: "the agent\nfailed: no result".into(),
        });
        assert_eq!(
            line,
            "finished attempt=2 status=failed summary=\"the agent failed: no result\""
        );
        assert_eq!(
            event_line(&TaskEvent::Stopped {
                by: "`cli:alice`".into()
            }),
            "stopped by=`cli:alice`"
        );
    }

    #[test]
    fn numbers_and_times_read_easily() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(one_line("a  b\nc", 10), "a b c");
        assert_eq!(one_line("abcdefghijk", 5), "abcd…");
        let u = RunUsage {
            input_tokens: 12_345,
            output_tokens: 678,
            cost_micro_usd: Some(420_000),
        };
        assert_eq!(usage(&u), "12,345 in / 678 out tokens, $0.42");
    }
}
