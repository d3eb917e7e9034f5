//! `bosun task list` and `bosun task get`: what the database knows of tasks, as a table and
//! a page of text, or as JSON for scripts.

use serde_json::{json, Value};

use crate::db::{Db, PendingJob, RunStat, TaskListing, TaskRow, TimedEvent};
use crate::reply::text::{duration, event_line, one_line, rfc3339, usage, utc};
use bosun_core::ids::RepoRef;
use bosun_core::model::{project, TaskId, TaskState, TaskStatus};

pub async fn list(
    db: &Db,
    status: Option<TaskStatus>,
    repo: Option<&RepoRef>,
    limit: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    let tasks = db.tasks_where(status, repo, limit).await?;
    if as_json {
        let all: Vec<Value> = tasks.iter().map(listing_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if tasks.is_empty() {
        println!("no tasks");
        return Ok(());
    }
    println!(
        "{:<6} {:<13} {:<36} {:<10} {:>7}  {:<20}  asked by",
        "id", "status", "issue", "kind", "attempt", "updated"
    );
    for l in &tasks {
        let t = &l.task;
        println!(
            "{:<6} {:<13} {:<36} {:<10} {:>7}  {:<20}  {}",
            t.id.0,
            t.status.as_str(),
            format!("{}#{}", t.repo, t.issue.0),
            kind_name(t),
            t.attempt,
            utc(l.updated_at),
            t.requested_by
        );
    }
    Ok(())
}

fn kind_name(t: &TaskRow) -> String {
    serde_json::to_value(t.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn task_json(t: &TaskRow) -> Value {
    json!({
        "id": t.id.0,
        "repo": t.repo.to_string(),
        "issue": t.issue.0,
        "installation": t.installation.0,
        "kind": kind_name(t),
        "status": t.status.as_str(),
        "attempt": t.attempt,
        "requested_by": t.requested_by,
        "label_prefix": t.label_prefix,
        "tracking_comment": t.tracking_comment.map(|c| c.0),
    })
}

fn listing_json(l: &TaskListing) -> Value {
    let mut v = task_json(&l.task);
    v["created_at"] = json!(rfc3339(l.created_at));
    v["updated_at"] = json!(rfc3339(l.updated_at));
    v
}

/// Everything `get` shows, read once.
struct Details {
    task: TaskRow,
    state: TaskState,
    events: Vec<TimedEvent>,
    stats: Vec<RunStat>,
    jobs: Vec<PendingJob>,
}

async fn details(db: &Db, id: TaskId) -> anyhow::Result<Details> {
    let task = db
        .task(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no task {id}: `bosun task list` shows the tasks"))?;
    let events = db.task_event_log(id).await?;
    let plain: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    Ok(Details {
        state: project(&plain)?,
        task,
        events,
        stats: db.task_run_stats(id).await?,
        jobs: db.task_pending_jobs(id).await?,
    })
}

pub async fn get(db: &Db, id: TaskId, as_json: bool) -> anyhow::Result<()> {
    let d = details(db, id).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&details_json(&d))?);
    } else {
        print!("{}", details_text(&d));
    }
    Ok(())
}

/// The agent of the current attempt: the one that ran, else the one routing chose.
fn agent(d: &Details) -> Option<String> {
    d.state
        .run
        .agent
        .clone()
        .or_else(|| d.state.route.agent.clone())
}

/// The model is known once an attempt finished (its statistics record it).
fn model(d: &Details) -> Option<String> {
    d.stats
        .iter()
        .find(|s| s.attempt == d.state.attempt)
        .and_then(|s| s.model.clone())
}

fn details_text(d: &Details) -> String {
    let (t, s) = (&d.task, &d.state);
    let mut out = format!(
        "task {} · {}#{} · {}\n",
        t.id.0,
        t.repo,
        t.issue.0,
        kind_name(t)
    );
    let mut field = |name: &str, value: String| out.push_str(&format!("{name:<10}{value}\n"));
    field("status", format!("{} (attempt {})", s.status, s.attempt));
    field("asked by", s.requested_by.clone());
    let complexity = s
        .route
        .complexity
        .map(|c| format!(", complexity {}", c.as_str()))
        .unwrap_or_default();
    field(
        "agent",
        format!("{}{complexity}", agent(d).unwrap_or_else(|| "–".into())),
    );
    field("model", model(d).unwrap_or_else(|| "–".into()));
    field("usage", usage(&s.run.usage.plus(s.route.usage)));
    if let Some(pull) = &s.pull {
        let closed = if pull.closed { " (closed)" } else { "" };
        field("pull", format!("#{} {}{closed}", pull.number, pull.url));
    }
    if let Some(branch) = &s.run.branch {
        field("branch", branch.clone());
    }
    if let Some(summary) = &s.summary {
        field("summary", one_line(summary, 200));
    }
    for j in &d.jobs {
        let error = j
            .last_error
            .as_deref()
            .map(|e| format!(", last error: {}", one_line(e, 120)))
            .unwrap_or_default();
        // A job waiting out a backoff (or a deferral) says until when.
        let due = if j.state == "queued" && j.run_after > crate::db::now_ms() {
            format!(", next try {}", utc(j.run_after))
        } else {
            String::new()
        };
        field(
            "job",
            format!(
                "{} {} ({} of {} tries{due}{error})",
                j.kind, j.state, j.attempts, j.max_attempts
            ),
        );
    }
    if !d.stats.is_empty() {
        out.push_str("\nfinished attempts:\n");
        for st in &d.stats {
            let cost = st
                .cost_micro_usd
                .map(|c| format!(", ${:.2}", c as f64 / 1e6))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {}  {:<12} {} {} ({}) {}, {} in / {} out tokens{cost}\n",
                st.attempt,
                st.outcome,
                st.agent,
                st.model.as_deref().unwrap_or("(CLI default model)"),
                st.complexity,
                duration(st.duration_secs),
                st.input_tokens,
                st.output_tokens
            ));
        }
    }
    out.push_str("\nevents:\n");
    for e in &d.events {
        out.push_str(&format!("  {}  {}\n", utc(e.at), event_line(&e.event)));
    }
    out
}

fn details_json(d: &Details) -> Value {
    let s = &d.state;
    let total = s.run.usage.plus(s.route.usage);
    json!({
        "task": task_json(&d.task),
        "status": s.status.as_str(),
        "attempt": s.attempt,
        "requested_by": s.requested_by,
        "agent": agent(d),
        "model": model(d),
        "complexity": s.route.complexity.map(|c| c.as_str()),
        "usage": {
            "input_tokens": total.input_tokens,
            "output_tokens": total.output_tokens,
            "cost_usd": total.cost_micro_usd.map(|c| c as f64 / 1e6),
        },
        "pull": s.pull.as_ref().map(|p| json!({"number": p.number, "url": p.url, "closed": p.closed})),
        "branch": s.run.branch,
        "summary": s.summary,
        "jobs": d.jobs.iter().map(|j| json!({
            "kind": j.kind,
            "state": j.state,
            "attempts": j.attempts,
            "max_attempts": j.max_attempts,
            // 0 means "as soon as a worker is free".
            "run_after": (j.run_after > 0).then(|| rfc3339(j.run_after)),
            "last_error": j.last_error,
        })).collect::<Vec<_>>(),
        "attempts": d.stats.iter().map(|st| json!({
            "attempt": st.attempt,
            "outcome": st.outcome,
            "agent": st.agent,
            "model": st.model,
            "complexity": st.complexity,
            "duration_secs": st.duration_secs,
            "input_tokens": st.input_tokens,
            "output_tokens": st.output_tokens,
            "cost_usd": st.cost_micro_usd.map(|c| c as f64 / 1e6),
            "files_changed": st.files_changed,
            "lines_changed": st.lines_changed,
            "finished_at": rfc3339(st.finished_at),
        })).collect::<Vec<_>>(),
        // Each event as stored (its own JSON shape), with the time it was recorded.
        "events": d.events.iter().map(|e| json!({
            "at": rfc3339(e.at),
            "event": e.event,
        })).collect::<Vec<_>>(),
    })
}
