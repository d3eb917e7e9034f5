//! The JSON API behind the dashboard: `GET /api/tasks` (the tasks the signed-in person may
//! see, most recently changed first, `?status=` and `?limit=`), `GET /api/tasks/{id}` (one
//! task's details), `GET /api/queue` (paused or not, recent control actions) and
//! `GET /api/session` (who is signed in, and the CSRF token scripts send with control calls;
//! another site cannot read it, browsers keep cross-origin answers from it). A task of a
//! repository the viewer cannot see answers 404, as one that does not exist.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::view::{self, TaskDetail, TaskSummary};
use super::{db_error, Viewer};
use crate::server::AppState;
use bosun_core::model::{TaskId, TaskStatus};

/// The most tasks one list shows.
pub const MAX_LIST: u32 = 500;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

/// The tasks `viewer` may see, newest change first.
pub async fn visible_tasks(
    state: &AppState,
    viewer: &Viewer,
    status: Option<TaskStatus>,
    limit: u32,
) -> Result<Vec<TaskSummary>, Response> {
    let visible = state.visible(viewer).await.map_err(db_error)?;
    let ids = visible.ids();
    let mut listings = state
        .db
        .tasks_in_repos(ids.as_deref(), limit.min(MAX_LIST))
        .await
        .map_err(db_error)?;
    if let Some(status) = status {
        listings.retain(|l| l.task.status == status);
    }
    view::summaries(&state.db, listings, &state.config.github_web_url)
        .await
        .map_err(db_error)
}

pub async fn tasks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return gate.api(),
    };
    let status = match q.status.as_deref().map(TaskStatus::parse) {
        Some(None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "unknown status" })),
            )
                .into_response()
        }
        Some(s) => s,
        None => None,
    };
    match visible_tasks(&state, &viewer, status, q.limit.unwrap_or(100)).await {
        Ok(tasks) => Json(json!({ "tasks": tasks })).into_response(),
        Err(resp) => resp,
    }
}

/// One task the viewer may see, in detail; `Ok(None)` when there is none for them.
pub async fn visible_task(
    state: &AppState,
    viewer: &Viewer,
    id: TaskId,
) -> Result<Option<TaskDetail>, Response> {
    let Some(listing) = state.db.task_listing(id).await.map_err(db_error)? else {
        return Ok(None);
    };
    let visible = state.visible(viewer).await.map_err(db_error)?;
    if !visible.allows(listing.task.repo_id) {
        return Ok(None);
    }
    let handle = state
        .config
        .mention_handle
        .clone()
        .unwrap_or_else(|| "bosun".to_string());
    view::detail(&state.db, listing, &state.config.github_web_url, &handle)
        .await
        .map(Some)
        .map_err(db_error)
}

pub async fn task(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return gate.api(),
    };
    match visible_task(&state, &viewer, TaskId(id)).await {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such task" })),
        )
            .into_response(),
        Err(resp) => resp,
    }
}

#[derive(Serialize)]
pub struct QueueView {
    pub paused: bool,
    pub changed_by: Option<String>,
    pub changed_at: Option<String>,
    pub recent: Vec<serde_json::Value>,
    /// The jobs given up on (the dead letters), for the server's administrators (`--admins`):
    /// each as `reply::text::dead_job_json` gives it. Empty for anyone else:
    /// a dead job may be about a repository they cannot see, and no task names it.
    pub dead: Vec<serde_json::Value>,
}

/// How many dead jobs the dashboard lists.
const DEAD_SHOWN: u32 = 50;

pub async fn queue_view(state: &AppState, viewer: &Viewer) -> Result<QueueView, Response> {
    let q = state.db.queue_state().await.map_err(db_error)?;
    let recent = state.db.control_events(10).await.map_err(db_error)?;
    let dead = if viewer.session.admin {
        let jobs = state.db.dead_jobs(DEAD_SHOWN).await.map_err(db_error)?;
        jobs.iter().map(crate::reply::text::dead_job_json).collect()
    } else {
        Vec::new()
    };
    Ok(QueueView {
        dead,
        paused: q.paused,
        changed_by: q.changed_by,
        changed_at: q.changed_at.map(crate::reply::text::rfc3339),
        recent: recent
            .into_iter()
            .map(|e| {
                json!({
                    "at": crate::reply::text::rfc3339(e.at),
                    "actor": e.actor,
                    "action": e.action,
                })
            })
            .collect(),
    })
}

pub async fn queue(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match state.viewer(&headers) {
        Ok(v) => v,
        Err(gate) => return gate.api(),
    };
    match queue_view(&state, &viewer).await {
        Ok(v) => Json(v).into_response(),
        Err(resp) => resp,
    }
}

pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.viewer(&headers) {
        Ok(v) => Json(json!({
            "login": v.session.login,
            "admin": v.session.admin,
            "csrf": v.session.csrf,
        }))
        .into_response(),
        Err(gate) => gate.api(),
    }
}
