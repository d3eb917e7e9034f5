//! One task event as one line of the demo's timeline, in words. Kinds a first demo never
//! produces print their stored name, so an event added later still shows.

use crate::reply::human_duration;
use bosun_core::model::{ProgressEvent, RunUsage, TaskEvent};

pub fn describe(event: &TaskEvent) -> String {
    use ProgressEvent as P;
    use TaskEvent as E;
    match event {
        E::Triggered {
            attempt, by, kind, ..
        } => {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("task triggered by @{by} ({kind}, attempt {attempt})")
        }
        E::Started { attempt } => format!("a worker started attempt {attempt}"),
        E::Progress(P::Routed { agent, by, .. }) => format!(
            "routed to agent `{}` ({by})",
            agent.as_deref().unwrap_or("default")
        ),
        E::Progress(P::Fetching {
            received_objects,
            received_bytes,
            done: true,
            ..
        }) => format!(
            "repository cloned: {received_objects} objects, {:.1} MiB",
            *received_bytes as f64 / f64::from(1 << 20)
        ),
        E::Progress(P::Fetching {
            received_objects,
            total_objects,
            ..
        }) => format!("fetching the repository: {received_objects} of {total_objects} objects"),
        E::Progress(P::WorkspaceReady {
            branch, base_sha, ..
        }) => format!(
            "checkout ready: branch {branch} from {}",
            base_sha.get(..7).unwrap_or(base_sha)
        ),
        E::Progress(P::AgentStarted {
            round,
            rounds,
            agent,
            sandbox,
            ..
        }) => format!("agent `{agent}` round {round} of at most {rounds} started ({sandbox})"),
        E::Progress(P::AgentProgress { elapsed_secs, .. }) => {
            format!("agent still working ({})", human_duration(*elapsed_secs))
        }
        E::Progress(P::AgentFinished {
            usage,
            elapsed_secs,
            ..
        }) => format!(
            "agent finished in {}, {}",
            human_duration(*elapsed_secs),
            spent(usage)
        ),
        E::Progress(P::GatesRan { round, results, .. }) => {
            let each: Vec<String> = results
                .iter()
                .map(|g| format!("{} {}", g.name, if g.ok { "passed" } else { "FAILED" }))
                .collect();
            format!("gates after round {round}: {}", each.join(", "))
        }
        E::Progress(P::PeerReviewStarted { reviewer, pass, .. }) => {
            format!("peer review (pass {pass}) by `{reviewer}` started")
        }
        E::Progress(P::PeerReviewed {
            reviewer,
            findings,
            failed,
            ..
        }) => match failed {
            Some(why) => format!("peer review by `{reviewer}` could not be used: {why}"),
            None => format!(
                "peer review by `{reviewer}`: {} blockers, {} concerns, {} nits",
                findings.blockers, findings.concerns, findings.nits
            ),
        },
        E::Progress(P::Pushed { branch, sha, .. }) => {
            format!("pushed {branch} at {}", sha.get(..7).unwrap_or(sha))
        }
        E::Progress(P::PullOpened { number, url, .. }) => {
            format!("draft pull request #{number} opened: {url}")
        }
        E::Finished {
            status, summary, ..
        } => format!("finished `{status}`: {}", first_line(summary)),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(|t| t.replace('_', " ")))
            .unwrap_or_else(|| "event".into()),
    }
}

/// What the agent spent: the demo agent calls no model, so this reads "no model calls".
fn spent(usage: &RunUsage) -> String {
    if usage.input_tokens == 0 && usage.output_tokens == 0 {
        return "no model calls".into();
    }
    let cost = usage
        .cost_micro_usd
        .map(|c| format!(", ${:.2}", c as f64 / 1e6))
        .unwrap_or_default();
    format!(
        "{} in / {} out tokens{cost}",
        usage.input_tokens, usage.output_tokens
    )
}

/// The first non-empty line of a text, cut at 160 characters.
pub(super) fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let cut: String = line.chars().take(160).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::model::TaskStatus;

    #[test]
    fn events_read_as_words() {
        let done = TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: "hello.sh now greets the crew.\n\nMore.".into(),
        };
        assert_eq!(
            describe(&done),
            "finished `done`: hello.sh now greets the crew."
        );
        assert_eq!(describe(&TaskEvent::Unblocked), "unblocked");
        let usage = RunUsage::default();
        assert_eq!(spent(&usage), "no model calls");
    }
}
