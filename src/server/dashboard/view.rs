//! What the dashboard shows of a task, read once and shared by the JSON API and the pages: a
//! summary per task (the list) and the details of one (its page). Texts here are untrusted
//! (issue titles, summaries, instructions): the pages escape them, the API sends them as JSON.

use serde::Serialize;
use serde_json::Value;

use crate::db::{Db, PendingJob, RecordError, RunStat, TaskListing, TaskRow, TimedEvent};
use crate::reply::text::{event_line, rfc3339};
use bosun_core::model::{GateSummary, TaskEvent, TaskState};

#[derive(Debug, Clone, Serialize)]
pub struct PullView {
    pub number: u64,
    pub url: String,
}

/// One task as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    pub id: i64,
    pub repo: String,
    pub issue: u64,
    pub issue_url: String,
    /// The issue's title as the last trusted trigger saw it.
    pub title: Option<String>,
    pub kind: String,
    pub status: &'static str,
    /// New, in progress or blocked: it can be stopped, not retried.
    pub active: bool,
    pub attempt: u32,
    pub requested_by: String,
    pub agent: Option<String>,
    /// Known once the attempt finished (its statistics record it).
    pub model: Option<String>,
    /// Since the current attempt was triggered, until it ended (or now).
    pub elapsed_secs: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    pub pull: Option<PullView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The event on one line (`bosun task get`'s form).
    pub line: String,
    pub event: Value,
}

/// A line of the tracking comment's checklist: ticked, open, or a note (`None`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    pub done: Option<bool>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    pub pass: u32,
    pub reviewer: String,
    pub running: bool,
    pub blockers: u32,
    pub concerns: u32,
    pub nits: u32,
    pub failed: Option<String>,
    pub secs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub attempt: u32,
    pub agent: String,
    pub model: Option<String>,
    pub outcome: String,
    pub duration_secs: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Everything the task's page shows.
#[derive(Debug, Clone, Serialize)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub summary: TaskSummary,
    pub checklist: Vec<CheckItem>,
    pub gates: Vec<GateSummary>,
    pub gates_round: u32,
    pub reviews: Vec<ReviewView>,
    pub instructions: Vec<(String, String)>,
    pub outcome: Option<String>,
    pub attempts: Vec<AttemptView>,
    pub pending_jobs: Vec<JobView>,
    pub events: Vec<EventView>,
}

/// A task's row, events, projection and statistics.
struct Loaded {
    listing: TaskListing,
    events: Vec<TimedEvent>,
    state: TaskState,
    stats: Vec<RunStat>,
}

async fn load(db: &Db, listing: TaskListing) -> Result<Loaded, RecordError> {
    let events = db.task_event_log(listing.task.id).await?;
    let plain: Vec<TaskEvent> = events.iter().map(|e| e.event.clone()).collect();
    let state = bosun_core::model::project(&plain)?;
    let stats = db.task_run_stats(listing.task.id).await?;
    Ok(Loaded {
        listing,
        events,
        state,
        stats,
    })
}

fn usd(micro: u64) -> f64 {
    micro as f64 / 1e6
}

/// When the current attempt began and, if it is over, when it ended (ms since the epoch).
fn attempt_span(events: &[TimedEvent]) -> Option<(i64, Option<i64>)> {
    let start = events.iter().rposition(|e| {
        matches!(
            e.event,
            TaskEvent::Triggered { .. } | TaskEvent::Resynced { .. }
        )
    })?;
    let mut state: Option<TaskState> = None;
    let mut ended = None;
    for (k, e) in events.iter().enumerate() {
        let next = match state {
            None => TaskState::initial(&e.event),
            Some(s) => s.apply(&e.event),
        };
        let Ok(next) = next else { return None };
        if k >= start && ended.is_none() && !next.status.is_active() {
            ended = Some(e.at);
        }
        state = Some(next);
    }
    Some((events[start].at, ended))
}

fn summary_of(l: &Loaded, web_url: &str) -> TaskSummary {
    let (t, s) = (&l.listing.task, &l.state);
    let this_attempt = l.stats.iter().find(|r| r.attempt == s.attempt);
    let elapsed = attempt_span(&l.events).map(|(from, to)| {
        let to = to.unwrap_or_else(crate::db::now_ms);
        ((to - from).max(0) / 1000) as u64
    });
    let usage = s.run.usage.plus(s.route.usage);
    let cost = this_attempt
        .and_then(|r| r.cost_micro_usd)
        .or(usage.cost_micro_usd);
    TaskSummary {
        id: t.id.0,
        repo: t.repo.to_string(),
        issue: t.issue.0,
        issue_url: format!(
            "{}/{}/issues/{}",
            web_url.trim_end_matches('/'),
            t.repo,
            t.issue.0
        ),
        title: s.issue.as_ref().map(|i| i.title.clone()),
        kind: kind_name(t),
        status: s.status.as_str(),
        active: s.status.is_active(),
        attempt: s.attempt,
        requested_by: s.requested_by.clone(),
        agent: s.run.agent.clone().or_else(|| s.route.agent.clone()),
        // While the attempt runs, its stats row does not exist yet: the round's model does.
        model: this_attempt
            .and_then(|r| r.model.clone())
            .or_else(|| s.run.model.clone()),
        elapsed_secs: elapsed,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cost_usd: cost.map(usd),
        pull: s.pull.as_ref().map(|p| PullView {
            number: p.number,
            url: p.url.clone(),
        }),
        created_at: rfc3339(l.listing.created_at),
        updated_at: rfc3339(l.listing.updated_at),
    }
}

fn kind_name(t: &TaskRow) -> String {
    serde_json::to_value(t.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Summaries of `listings`, in their order.
pub async fn summaries(
    db: &Db,
    listings: Vec<TaskListing>,
    web_url: &str,
) -> Result<Vec<TaskSummary>, RecordError> {
    let mut out = Vec::with_capacity(listings.len());
    for listing in listings {
        out.push(summary_of(&load(db, listing).await?, web_url));
    }
    Ok(out)
}

/// The checklist of the tracking comment, as bosun last rendered it from this state.
fn checklist(task: &TaskRow, state: &TaskState, handle: &str) -> Vec<CheckItem> {
    crate::reply::tracking_comment(task, state, handle)
        .lines()
        .filter_map(|line| line.strip_prefix("- "))
        .map(|item| {
            let (done, text) = if let Some(rest) = item.strip_prefix("[x] ") {
                (Some(true), rest)
            } else if let Some(rest) = item.strip_prefix("[ ] ") {
                (Some(false), rest)
            } else {
                (None, item)
            };
            CheckItem {
                done,
                text: text.to_string(),
            }
        })
        .collect()
}

pub async fn detail(
    db: &Db,
    listing: TaskListing,
    web_url: &str,
    handle: &str,
) -> Result<TaskDetail, RecordError> {
    let l = load(db, listing).await?;
    let jobs: Vec<PendingJob> = db.task_pending_jobs(l.listing.task.id).await?;
    let s = &l.state;
    Ok(TaskDetail {
        summary: summary_of(&l, web_url),
        checklist: checklist(&l.listing.task, s, handle),
        gates: s.run.gates.clone(),
        gates_round: s.run.gates_round,
        reviews: s
            .run
            .peer
            .iter()
            .map(|p| ReviewView {
                pass: p.pass,
                reviewer: p.reviewer.clone(),
                running: p.running,
                blockers: p.findings.blockers,
                concerns: p.findings.concerns,
                nits: p.findings.nits,
                failed: p.failed.clone(),
                secs: p.secs,
            })
            .collect(),
        instructions: s.instructions.clone(),
        outcome: s.summary.clone(),
        attempts: l
            .stats
            .iter()
            .map(|r| AttemptView {
                attempt: r.attempt,
                agent: r.agent.clone(),
                model: r.model.clone(),
                outcome: r.outcome.clone(),
                duration_secs: r.duration_secs,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                cost_usd: r.cost_micro_usd.map(usd),
            })
            .collect(),
        pending_jobs: jobs
            .into_iter()
            .map(|j| JobView {
                kind: j.kind,
                state: j.state,
                attempts: j.attempts,
                last_error: j.last_error,
            })
            .collect(),
        events: l
            .events
            .iter()
            .map(|e| {
                let event = serde_json::to_value(&e.event).unwrap_or(Value::Null);
                EventView {
                    at: rfc3339(e.at),
                    kind: event["type"].as_str().unwrap_or("event").to_string(),
                    line: event_line(&e.event),
                    event,
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::model::{TaskKind, TaskStatus, TriggerSource};

    fn at(ms: i64, event: TaskEvent) -> TimedEvent {
        TimedEvent { at: ms, event }
    }

    fn triggered(attempt: u32) -> TaskEvent {
        TaskEvent::Triggered {
            attempt,
            kind: TaskKind::Implement,
            by: "alice".into(),
            source: TriggerSource::IssueBody,
            instructions: String::new(),
            issue: None,
        }
    }

    #[test]
    fn the_span_is_the_current_attempts() {
        let events = vec![
            at(1_000, triggered(0)),
            at(2_000, TaskEvent::Started { attempt: 1 }),
            at(9_000, TaskEvent::Stopped { by: "bob".into() }),
            at(20_000, triggered(0)),
            at(21_000, TaskEvent::Started { attempt: 2 }),
        ];
        assert_eq!(attempt_span(&events), Some((20_000, None)));
        assert_eq!(attempt_span(&events[..3]), Some((1_000, Some(9_000))));
        let finished = [
            events.clone(),
            vec![at(
                30_000,
                TaskEvent::Finished {
                    attempt: 2,
                    status: TaskStatus::Done,
                    summary: String::new(),
                },
            )],
        ]
        .concat();
        assert_eq!(attempt_span(&finished), Some((20_000, Some(30_000))));
    }
}
