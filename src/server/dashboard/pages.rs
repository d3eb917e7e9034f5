//! The two pages: `/`, the tasks the signed-in person may see with the queue's switch, and
//! `/tasks/{id}`, one task with its buttons, checklist, gates, reviews, live agent log and
//! event timeline. Every text from a task is escaped; links are only http(s).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::api::{queue_view, visible_task, visible_tasks};
use super::html::{duration, escape, href, money, page, with_code};
use super::view::{TaskDetail, TaskSummary};
use super::{html, Viewer};
use crate::run::logs::View;
use crate::server::AppState;
use bosun_core::model::TaskId;

fn status_badge(status: &str) -> String {
    format!("<span class=\"badge s-{0}\">{0}</span>", escape(status))
}

fn csrf_field(viewer: &Viewer) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&viewer.session.csrf)
    )
}

fn pull_link(t: &TaskSummary) -> String {
    t.pull
        .as_ref()
        .map(|p| {
            format!(
                "<a class=\"pr\" href=\"{}\">#{}</a>",
                href(&p.url),
                p.number
            )
        })
        .unwrap_or_else(|| "–".to_string())
}

fn row(t: &TaskSummary) -> String {
    format!(
        "<tr data-task=\"{id}\" data-status=\"{status}\"><td><a class=\"task-link\" href=\"/tasks/{id}\">{id}</a></td>\
         <td><a class=\"issue\" href=\"{issue_url}\">{repo}#{issue}</a></td>\
         <td><a href=\"/tasks/{id}\">{title}</a></td><td>{badge}</td><td>{agent}</td><td>{model}</td>\
         <td>{elapsed}</td><td>{cost}</td><td>{pr}</td></tr>",
        id = t.id,
        status = escape(t.status),
        issue_url = href(&t.issue_url),
        repo = escape(&t.repo),
        issue = t.issue,
        title = escape(t.title.as_deref().unwrap_or("(no title)")),
        badge = status_badge(t.status),
        agent = escape(t.agent.as_deref().unwrap_or("–")),
        model = escape(t.model.as_deref().unwrap_or("–")),
        elapsed = duration(t.elapsed_secs),
        cost = money(t.cost_usd),
        pr = pull_link(t),
    )
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return html::gate_page(&state, gate, "/"),
    };
    let tasks = match visible_tasks(&state, &viewer, None, 200).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let queue = match queue_view(&state, &viewer).await {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    // Only someone who may hold every repository's runs gets the switch.
    let may_switch = super::control::may_hold_the_queue(&state, &viewer)
        .await
        .is_ok();
    let switch = if !may_switch {
        format!(
            "<p id=\"queue-state\">{}</p>",
            if queue.paused {
                format!(
                    "⏸ Paused by <b>{}</b>: no new agent runs start.",
                    escape(queue.changed_by.as_deref().unwrap_or("?"))
                )
            } else {
                "▶ Running: queued tasks start as workers free up.".to_string()
            }
        )
    } else if queue.paused {
        format!(
            "<p id=\"queue-state\">⏸ Paused by <b>{}</b> at {}: no new agent runs start.</p>\
             <form method=\"post\" action=\"/api/control/queue/resume\">{}<button id=\"resume\" type=\"submit\">Resume the queue</button></form>",
            escape(queue.changed_by.as_deref().unwrap_or("?")),
            escape(queue.changed_at.as_deref().unwrap_or("?")),
            csrf_field(&viewer)
        )
    } else {
        format!(
            "<p id=\"queue-state\">▶ Running: queued tasks start as workers free up.</p>\
             <form method=\"post\" action=\"/api/control/queue/pause\">{}<button id=\"pause\" type=\"submit\">Pause the queue</button></form>",
            csrf_field(&viewer)
        )
    };
    let dead = dead_letters(&queue, &viewer);
    let rows: String = tasks.iter().map(row).collect();
    let table = if tasks.is_empty() {
        "<p id=\"no-tasks\" class=\"muted\">No tasks in the repositories you can write to.</p>"
            .to_string()
    } else {
        format!(
            "<table id=\"tasks\"><thead><tr><th>task</th><th>issue</th><th>title</th><th>status</th>\
             <th>agent</th><th>model</th><th>elapsed</th><th>cost</th><th>pull request</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        )
    };
    page(
        "Tasks",
        Some(&viewer.session),
        &format!(
            "<section><h2>Queue</h2>{switch}{dead}</section><section><h1>Tasks</h1>{table}</section>"
        ),
    )
}

/// The jobs given up on, each with a button to run it again (only filled for people who may
/// hold the queue).
fn dead_letters(queue: &super::api::QueueView, viewer: &super::Viewer) -> String {
    if queue.dead.is_empty() {
        return String::new();
    }
    let text = |v: &serde_json::Value| escape(v.as_str().unwrap_or(""));
    let rows: String = queue
        .dead
        .iter()
        .map(|d| {
            let job = d["job"].as_i64().unwrap_or_default();
            format!(
                "<tr><td>{job}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"muted\">{}</td>\
                 <td><form method=\"post\" action=\"/api/control/jobs/{job}/replay\">{}\
                 <button type=\"submit\">Replay</button></form></td></tr>",
                text(&d["died_at"]),
                text(&d["about"]),
                d["tries"],
                text(&d["last_error"]),
                csrf_field(viewer),
            )
        })
        .collect();
    format!(
        "<h3>Given up</h3><p class=\"muted\">Jobs bosun gave up on after their tries (GitHub kept \
         failing, say). Each is kept until it is replayed.</p><table id=\"dead-jobs\"><thead><tr>\
         <th>job</th><th>given up</th><th>what</th><th>tries</th><th>last error</th><th></th></tr>\
         </thead><tbody>{rows}</tbody></table>"
    )
}

#[derive(Deserialize)]
pub struct TaskQuery {
    attempt: Option<u32>,
    /// How the agent log is shown: `readable` (the default) or `raw`.
    #[serde(default)]
    log: View,
}

pub async fn task(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(q): Query<TaskQuery>,
) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return html::gate_page(&state, gate, &format!("/tasks/{id}")),
    };
    match visible_task(&state, &viewer, TaskId(id)).await {
        Ok(Some(d)) => task_page(&viewer, &d, q.attempt, q.log),
        Ok(None) => html::error_page(
            StatusCode::NOT_FOUND,
            "There is no such task, or it is in a repository you cannot write to.",
        ),
        Err(resp) => resp,
    }
}

fn task_page(viewer: &Viewer, d: &TaskDetail, attempt: Option<u32>, view: View) -> Response {
    let t = &d.summary;
    let csrf = csrf_field(viewer);
    let buttons = if t.active {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/api/control/tasks/{}/stop\">{csrf}\
             <button id=\"stop\" class=\"danger\" type=\"submit\">Stop</button></form>",
            t.id
        )
    } else {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"/api/control/tasks/{}/retry\">{csrf}\
             <input name=\"note\" placeholder=\"a note for the agent (optional)\" size=\"40\"> \
             <button id=\"retry\" type=\"submit\">Retry</button></form>",
            t.id
        )
    };
    let facts = format!(
        "<table><tr><th>status</th><td><span id=\"status\" class=\"badge s-{status}\">{status}</span> \
         attempt {attempt} · {kind}</td></tr>\
         <tr><th>issue</th><td><a class=\"issue\" href=\"{issue_url}\">{repo}#{issue}</a></td></tr>\
         <tr><th>pull request</th><td>{pr}</td></tr>\
         <tr><th>asked by</th><td>{by}</td></tr>\
         <tr><th>agent · model</th><td>{agent} · {model}</td></tr>\
         <tr><th>elapsed</th><td>{elapsed}</td></tr>\
         <tr><th>tokens · cost</th><td>{tin} in / {tout} out · {cost}</td></tr></table>",
        status = escape(t.status),
        attempt = t.attempt,
        kind = escape(&t.kind),
        issue_url = href(&t.issue_url),
        repo = escape(&t.repo),
        issue = t.issue,
        pr = pull_link(t),
        by = escape(&t.requested_by),
        agent = escape(t.agent.as_deref().unwrap_or("–")),
        model = escape(t.model.as_deref().unwrap_or("–")),
        elapsed = duration(t.elapsed_secs),
        tin = crate::reply::thousands(t.input_tokens),
        tout = crate::reply::thousands(t.output_tokens),
        cost = money(t.cost_usd),
    );
    let checklist: String = d
        .checklist
        .iter()
        .map(|c| {
            let mark = match c.done {
                Some(true) => "☑",
                Some(false) => "☐",
                None => "·",
            };
            format!("<li>{mark} {}</li>", with_code(&c.text))
        })
        .collect();
    let gates = if d.gates.is_empty() {
        "<p class=\"muted\">No gates ran in this attempt.</p>".to_string()
    } else {
        let rows: String = d
            .gates
            .iter()
            .map(|g| {
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>{}",
                    escape(&g.name),
                    if g.ok {
                        "✅ passed"
                    } else if g.timed_out {
                        "⏱ timed out"
                    } else {
                        "❌ failed"
                    },
                    g.exit_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "–".into()),
                    crate::reply::human_duration(g.secs),
                    if g.tail.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "<tr><td colspan=\"4\"><pre>{}</pre></td></tr>",
                            escape(&g.tail)
                        )
                    }
                )
            })
            .collect();
        format!(
            "<p class=\"muted\">Round {}</p><table id=\"gates\"><tr><th>gate</th><th>result</th><th>exit</th><th>time</th></tr>{rows}</table>",
            d.gates_round
        )
    };
    let reviews = if d.reviews.is_empty() {
        "<p class=\"muted\">No peer review in this attempt.</p>".to_string()
    } else {
        let rows: String = d
            .reviews
            .iter()
            .map(|r| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} blockers · {} concerns · {} nits</td><td>{}</td></tr>",
                    r.pass,
                    escape(&r.reviewer),
                    if r.running { "reviewing" } else { "done" },
                    r.blockers,
                    r.concerns,
                    r.nits,
                    escape(r.failed.as_deref().unwrap_or(""))
                )
            })
            .collect();
        format!("<table id=\"reviews\"><tr><th>pass</th><th>reviewer</th><th></th><th>findings</th><th>failure</th></tr>{rows}</table>")
    };
    let outcome = d
        .outcome
        .as_deref()
        .map(|s| {
            format!(
                "<section><h2>Outcome</h2><div class=\"outcome\">{}</div></section>",
                escape(s)
            )
        })
        .unwrap_or_default();
    let instructions: String = d
        .instructions
        .iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(by, text)| {
            format!(
                "<li><b>{}</b>: <span class=\"outcome\">{}</span></li>",
                escape(by),
                escape(text)
            )
        })
        .collect();
    let instructions = if instructions.is_empty() {
        String::new()
    } else {
        format!("<section><h2>Instructions</h2><ul>{instructions}</ul></section>")
    };
    let shown_attempt = attempt.unwrap_or(t.attempt).clamp(1, t.attempt.max(1));
    let others: String = (1..=t.attempt)
        .filter(|a| *a != shown_attempt)
        .map(|a| format!(" <a href=\"/tasks/{}?attempt={a}\">attempt {a}</a>", t.id))
        .collect();
    let live = t.active && shown_attempt == t.attempt;
    // The other view of the same attempt, one click away.
    let (view_param, switch) = match view {
        View::Readable => ("", format!(
            "<a id=\"log-view\" href=\"/tasks/{}?attempt={shown_attempt}&amp;log=raw\">raw lines</a>",
            t.id
        )),
        View::Raw => ("&amp;view=raw", format!(
            "<a id=\"log-view\" href=\"/tasks/{}?attempt={shown_attempt}\">readable</a>",
            t.id
        )),
    };
    let log = format!(
        "<section><h2>Agent log · attempt {shown_attempt} <span class=\"muted\">(<span id=\"log-state\">{}</span>, \
         <span id=\"log-count\">0</span> lines)</span></h2><p class=\"muted\">{switch}{others}</p>\
         <div id=\"log\" data-src=\"/api/tasks/{}/events?attempt={shown_attempt}{view_param}\" data-active=\"{}\"></div></section>",
        if live { "connecting" } else { "finished" },
        t.id,
        if live { "1" } else { "0" },
    );
    let attempts = if d.attempts.is_empty() {
        String::new()
    } else {
        let rows: String = d
            .attempts
            .iter()
            .map(|a| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} in / {} out</td><td>{}</td></tr>",
                    a.attempt,
                    escape(&a.agent),
                    escape(a.model.as_deref().unwrap_or("–")),
                    escape(&a.outcome),
                    crate::reply::human_duration(a.duration_secs),
                    crate::reply::thousands(a.input_tokens),
                    crate::reply::thousands(a.output_tokens),
                    money(a.cost_usd)
                )
            })
            .collect();
        format!("<section><h2>Finished attempts</h2><table><tr><th>attempt</th><th>agent</th><th>model</th><th>outcome</th><th>time</th><th>tokens</th><th>cost</th></tr>{rows}</table></section>")
    };
    let jobs: String = d
        .pending_jobs
        .iter()
        .map(|j| {
            format!(
                "<li><code>{}</code> {} (tries {}){}</li>",
                escape(&j.kind),
                escape(&j.state),
                j.attempts,
                j.last_error
                    .as_deref()
                    .map(|e| format!(": {}", escape(e)))
                    .unwrap_or_default()
            )
        })
        .collect();
    let jobs = if jobs.is_empty() {
        String::new()
    } else {
        format!("<section><h2>Pending jobs</h2><ul>{jobs}</ul></section>")
    };
    let events: String = d
        .events
        .iter()
        .map(|e| {
            format!(
                "<tr><td class=\"muted\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&e.at),
                escape(&e.kind),
                escape(&e.line)
            )
        })
        .collect();
    let title = format!(
        "Task {} · {}",
        t.id,
        t.title.as_deref().unwrap_or("(no title)")
    );
    page(
        &title,
        Some(&viewer.session),
        &format!(
            "<section><h1>{}</h1>{facts}<p>{buttons}</p></section>{log}\
             <section><h2>Checklist</h2><ul class=\"check\" id=\"checklist\">{checklist}</ul></section>\
             <section><h2>Gates</h2>{gates}</section><section><h2>Peer review</h2>{reviews}</section>\
             {outcome}{instructions}{attempts}{jobs}\
             <section><h2>Events</h2><table id=\"events\">{events}</table></section>",
            escape(&title)
        ),
    )
}
