//! `GET /api/tasks/{id}/events`: the attempt's agent log as Server-Sent Events while it runs.
//!
//! Events: `log` (`{"run","text"}`: what one line of a run's log shows, at times several lines
//! of text, with the line's cursor as its id, see `logs`),
//! `status` (`{"status","attempt","active"}` when it changes; no id, so `Last-Event-ID`
//! stays the last line's) and `end` once the attempt is over and every line was sent. A
//! reconnect with `Last-Event-ID` (browsers send it by themselves) resumes after that line.
//! `?attempt=N` reads an earlier attempt (the current one by default); `?view=raw` sends the
//! CLI's own lines instead of what its adapter reads in them. Both views are redacted with the
//! secrets a run's own redactor knows (see `logs::LiveSecrets`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::db_error;
use super::logs::{Cursor, Tail};
use crate::db::Db;
use crate::run::logs::View;
use crate::server::AppState;
use bosun_core::model::TaskId;

/// How often a running attempt's logs and status are looked at.
const POLL: Duration = Duration::from_millis(300);

#[derive(Deserialize)]
pub struct EventsQuery {
    attempt: Option<u32>,
    /// `readable` (the default) or `raw`.
    #[serde(default)]
    view: View,
}

pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return gate.api(),
    };
    let id = TaskId(id);
    let task = match state.db.task(id).await {
        Ok(t) => t,
        Err(e) => return db_error(e),
    };
    let visible = match state.visible(&viewer).await {
        Ok(v) => v,
        Err(e) => return db_error(e),
    };
    // A task of a repository the viewer may not see does not exist for them.
    let Some(task) = task.filter(|t| visible.allows(t.repo_id)) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such task" })),
        )
            .into_response();
    };
    let attempt = q.attempt.unwrap_or(task.attempt);
    if !(1..=task.attempt.max(1)).contains(&attempt) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such attempt" })),
        )
            .into_response();
    }
    let cursor = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Cursor::parse)
        .filter(|c| c.attempt == attempt)
        .unwrap_or_else(|| Cursor::start(attempt));
    let dir = crate::run::logs::attempt_dir(&state.config.data_dir, id, attempt);
    // The webhook secrets are the configured App's: the set-up page can configure it after
    // start-up, so they are read per stream.
    let configured = state.configured();
    let webhook = configured.iter().flat_map(|c| c.secrets.expose());
    let redactor = state.live_log_secrets.redactor(webhook);
    let tail = Tail::new(&dir, cursor, redactor, q.view);
    let (tx, rx) = mpsc::channel::<Event>(256);
    tokio::spawn(follow(state.db.clone(), id, attempt, tail, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Sends new lines and status changes until the attempt is over or the client went away.
async fn follow(db: Db, id: TaskId, attempt: u32, mut tail: Tail, tx: mpsc::Sender<Event>) {
    // Browsers wait 3 s before reconnecting unless told otherwise.
    if tx
        .send(
            Event::default()
                .retry(Duration::from_secs(1))
                .comment("log"),
        )
        .await
        .is_err()
    {
        return;
    }
    let mut shown: Option<(String, u32)> = None;
    loop {
        // A client that went away is noticed here too, not only at the next line sent.
        if tx.is_closed() {
            return;
        }
        // The status is read before the logs: what the runs wrote before the attempt ended is
        // then in this pass, the last one.
        let task = match db.task(id).await {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "live log: reading the task failed");
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let over = !(task.status.is_active() && task.attempt == attempt);
        let now = (task.status.as_str().to_string(), task.attempt);
        if shown.as_ref() != Some(&now) {
            let data =
                json!({ "status": now.0, "attempt": now.1, "active": task.status.is_active() });
            if tx
                .send(Event::default().event("status").data(data.to_string()))
                .await
                .is_err()
            {
                return;
            }
            shown = Some(now);
        }
        let read = tokio::task::spawn_blocking(move || {
            let lines = tail.pass(over);
            (tail, lines)
        })
        .await;
        let Ok((back, lines)) = read else { return };
        tail = back;
        match lines {
            Ok(lines) => {
                for line in lines {
                    let data = json!({ "run": line.run, "text": line.text });
                    let event = Event::default()
                        .event("log")
                        .id(line.id)
                        .data(data.to_string());
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, task = %id, "live log: reading the run logs failed")
            }
        }
        if over {
            let _ = tx
                .send(Event::default().event("end").data(tail.cursor().id()))
                .await;
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
