//! The control actions: `POST /api/control/tasks/{id}/stop`, `…/retry` (optional `note`),
//! `POST /api/control/queue/pause`, `…/resume`, and `POST /api/control/jobs/{id}/replay` (a
//! dead job queued again).
//!
//! Each needs the session's CSRF token, as the form field `csrf` (the pages' buttons) or the
//! `X-CSRF-Token` header (scripts), and write access: stop and retry on the task's repository,
//! pause and resume (which hold every repository's runs) on every repository with tasks, or
//! a place in the administrator list. Stop and retry are the task's own events, named after
//! the person's GitHub login, exactly as `@bosun stop` and `@bosun retry` from them would be;
//! pause and resume go to the control log. A form gets a redirect back to its page; a script
//! gets JSON.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use super::access::Visible;
use super::Viewer;
use crate::engine::control::{self, ControlError};
use crate::server::AppState;
use bosun_core::model::TaskId;

#[derive(Default, Deserialize)]
pub struct ControlForm {
    csrf: Option<String>,
    note: Option<String>,
}

/// Who asks, with a valid CSRF token; or the refusal.
async fn checked(
    state: &AppState,
    request: Request,
) -> Result<(Viewer, ControlForm, bool), Response> {
    let headers = request.headers().clone();
    let scripted = headers.contains_key("x-csrf-token");
    let viewer = state.viewer(&headers).map_err(|g| g.api())?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        Form::<ControlForm>::from_request(request, &())
            .await
            .map(|Form(f)| f)
            .map_err(IntoResponse::into_response)?
    } else {
        ControlForm::default()
    };
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| form.csrf.clone());
    if token.as_deref() != Some(viewer.session.csrf.as_str()) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "missing or stale CSRF token: reload the page",
        )
        .respond(scripted));
    }
    Ok((viewer, form, scripted))
}

/// Why a control request did nothing: JSON for a script, a page for a form.
pub struct Refusal(StatusCode, String);

impl Refusal {
    fn respond(self, scripted: bool) -> Response {
        if scripted {
            (self.0, Json(json!({ "error": self.1 }))).into_response()
        } else {
            super::html::error_page(self.0, &self.1)
        }
    }
}

fn refuse(status: StatusCode, why: &str) -> Refusal {
    Refusal(status, why.to_string())
}

/// A database failure: logged with its details, said without them.
fn db_refusal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "dashboard: a control action could not read or write the database");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the database could not be used; see the server log",
    )
}

/// The answer: JSON for a script, back to the page for a form.
fn done(scripted: bool, back: &str, body: serde_json::Value) -> Response {
    if scripted {
        Json(body).into_response()
    } else {
        Redirect::to(back).into_response()
    }
}

/// Whether `viewer` may act on a task of `repo`: what they may see, they may write.
async fn may_act_on(state: &AppState, viewer: &Viewer, id: TaskId) -> Result<(), Refusal> {
    let task = state.db.task(id).await.map_err(db_refusal)?;
    let visible = state.visible(viewer).await.map_err(db_refusal)?;
    match task {
        Some(t) if visible.allows(t.repo_id) => Ok(()),
        // Someone without access learns nothing, not even that the task exists.
        _ => Err(refuse(StatusCode::NOT_FOUND, "no such task")),
    }
}

fn control_refusal(e: ControlError) -> Refusal {
    match e {
        ControlError::NoTask(_) => refuse(StatusCode::NOT_FOUND, "no such task"),
        ControlError::Record(_) | ControlError::Db(_) => db_refusal(e),
        other => refuse(StatusCode::CONFLICT, &other.to_string()),
    }
}

pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> Response {
    let (viewer, _, scripted) = match checked(&state, request).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let id = TaskId(id);
    if let Err(refusal) = may_act_on(&state, &viewer, id).await {
        return refusal.respond(scripted);
    }
    match control::stop(&state.db, id, &viewer.session.login).await {
        Ok(row) => {
            tracing::info!(task = %id, by = %viewer.session.login, "stopped from the dashboard");
            done(
                scripted,
                &format!("/tasks/{id}"),
                json!({ "task": id.0, "status": row.status.as_str() }),
            )
        }
        Err(e) => control_refusal(e).respond(scripted),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> Response {
    let (viewer, form, scripted) = match checked(&state, request).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let id = TaskId(id);
    if let Err(refusal) = may_act_on(&state, &viewer, id).await {
        return refusal.respond(scripted);
    }
    let limits = match control::spend_limits(state.config.run_config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the run configuration cannot be read");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the run configuration cannot be read; see the server log",
            )
            .respond(scripted);
        }
    };
    let note = form.note.filter(|n| !n.trim().is_empty());
    match control::retry(&state.db, id, &viewer.session.login, note, limits).await {
        Ok(row) => {
            tracing::info!(task = %id, by = %viewer.session.login, attempt = row.attempt, "retried from the dashboard");
            done(
                scripted,
                &format!("/tasks/{id}"),
                json!({ "task": id.0, "status": row.status.as_str(), "attempt": row.attempt }),
            )
        }
        Err(e) => control_refusal(e).respond(scripted),
    }
}

/// Pausing holds every repository's runs: it takes write access to all of them.
pub async fn may_hold_the_queue(state: &AppState, viewer: &Viewer) -> Result<(), Refusal> {
    if viewer.session.admin {
        return Ok(());
    }
    let repos = state.db.task_repos().await.map_err(db_refusal)?;
    match state.visible(viewer).await.map_err(db_refusal)? {
        Visible::All => Ok(()),
        Visible::Repos(set) if repos.iter().all(|r| set.contains(&r.repo_id)) => Ok(()),
        Visible::Repos(_) => Err(refuse(
            StatusCode::FORBIDDEN,
            "pausing the queue holds every repository's runs: it needs write access to all of them, or a place in the server's administrator list",
        )),
    }
}

async fn set_paused(state: AppState, request: Request, paused: bool) -> Response {
    let (viewer, _, scripted) = match checked(&state, request).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if let Err(refusal) = may_hold_the_queue(&state, &viewer).await {
        return refusal.respond(scripted);
    }
    match state
        .db
        .set_queue_paused(paused, &viewer.session.login)
        .await
    {
        Ok(changed) => {
            if changed {
                tracing::info!(paused, by = %viewer.session.login, "queue switched from the dashboard");
            }
            done(
                scripted,
                "/",
                json!({ "paused": paused, "changed": changed }),
            )
        }
        Err(e) => db_refusal(e).respond(scripted),
    }
}

/// `POST /api/control/jobs/{id}/replay`: a dead job back in the queue with its tries anew,
/// as `bosun task replay` does; for the server's administrators, who alone see dead jobs.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> Response {
    let (viewer, _, scripted) = match checked(&state, request).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    if !viewer.session.admin {
        return refuse(
            StatusCode::FORBIDDEN,
            "replaying a dead job needs a place in the server's administrator list",
        )
        .respond(scripted);
    }
    match state.db.replay_job(crate::db::JobId(id)).await {
        Ok(true) => {
            tracing::info!(job = id, by = %viewer.session.login, "dead job replayed from the dashboard");
            done(scripted, "/", json!({ "job": id, "replayed": true }))
        }
        Ok(false) => refuse(
            StatusCode::CONFLICT,
            "that job is not a dead job any more (replayed already?), or a queued twin will do its work",
        )
        .respond(scripted),
        Err(e) => db_refusal(e).respond(scripted),
    }
}

pub async fn pause(State(state): State<AppState>, request: Request) -> Response {
    set_paused(state, request, true).await
}

pub async fn resume(State(state): State<AppState>, request: Request) -> Response {
    set_paused(state, request, false).await
}
