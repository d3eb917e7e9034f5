//! The dashboard, served by `bosun serve` at `/`: the tasks a signed-in person may see, a page
//! per task (events, checklist, gates, reviews, the live agent log), and buttons to stop,
//! retry, and pause or resume the queue. Server-rendered HTML with a little inline JavaScript,
//! backed by a JSON API (`/api/…`). Sign-in is GitHub's, through the App's OAuth client.
//!
//! Without an OAuth client (no `client_id`/`client_secret` from the setup page or the flags)
//! the dashboard says how to configure one and shows no task data: there is no anonymous view.

pub mod access;
mod api;
mod auth;
mod control;
mod html;
pub mod logs;
pub mod oauth;
mod pages;
pub mod session;
mod sse;
mod view;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::{AppState, Configured, Mode};
use crate::config::server::ServerConfig;
use crate::locks::lock;
use access::{AccessCache, Visible};
use oauth::OAuthClient;
use session::{Session, Sessions};

/// The dashboard's state, beside the rest of the server's.
#[derive(Default)]
pub struct Dashboard {
    pub sessions: Sessions,
    pub access: AccessCache,
    /// Found once: from the flags, or from the credentials the setup page stored.
    oauth: Mutex<Option<OAuthClient>>,
}

impl Dashboard {
    /// The App's OAuth client, if this server has one.
    pub fn oauth(&self, config: &ServerConfig) -> Option<OAuthClient> {
        let mut known = lock(&self.oauth);
        if known.is_none() {
            *known = oauth_credentials(config).map(|(id, secret)| {
                OAuthClient::new(&id, &secret, &config.github_web_url, &config.github_api_url)
            });
        }
        known.clone()
    }
}

/// The flags win; else the client the manifest flow gave the App (read again until found, so
/// an App created on the setup page works without a restart).
fn oauth_credentials(config: &ServerConfig) -> Option<(String, String)> {
    let d = &config.dashboard;
    if let (Some(id), Some(secret)) = (&d.github_client_id, &d.github_client_secret) {
        if !id.trim().is_empty() && !secret.trim().is_empty() {
            return Some((id.trim().to_string(), secret.trim().to_string()));
        }
    }
    let stored = crate::config::credentials::load(config).ok().flatten()?;
    Some((stored.client_id?, stored.client_secret?))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::list))
        .route("/tasks/{id}", get(pages::task))
        .route("/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/logout", post(auth::logout))
        .route("/api/tasks", get(api::tasks))
        .route("/api/tasks/{id}", get(api::task))
        .route("/api/tasks/{id}/events", get(sse::events))
        .route("/api/queue", get(api::queue))
        .route("/api/session", get(api::session))
        .route("/api/control/tasks/{id}/stop", post(control::stop))
        .route("/api/control/tasks/{id}/retry", post(control::retry))
        .route("/api/control/queue/pause", post(control::pause))
        .route("/api/control/queue/resume", post(control::resume))
        .route("/api/control/jobs/{id}/replay", post(control::replay))
}

/// Someone signed in, on a configured server.
pub struct Viewer {
    pub session: Session,
    pub configured: Arc<Configured>,
}

/// Why a request gets no dashboard data.
pub enum Gate {
    /// No App yet: the setup page comes first.
    Setup,
    /// No OAuth client: nobody can sign in.
    NoSignIn,
    SignedOut,
}

impl Gate {
    /// The JSON API's answer.
    pub fn api(self) -> Response {
        let (status, why) = match self {
            Gate::Setup => (
                StatusCode::SERVICE_UNAVAILABLE,
                "no GitHub App is configured yet: open /setup",
            ),
            Gate::NoSignIn => (
                StatusCode::SERVICE_UNAVAILABLE,
                "dashboard sign-in is not configured: the App's OAuth client id and secret are missing",
            ),
            Gate::SignedOut => (StatusCode::UNAUTHORIZED, "sign in at /login first"),
        };
        (status, Json(json!({ "error": why }))).into_response()
    }
}

impl AppState {
    /// The signed-in person of this request, or why there is none.
    pub fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Gate> {
        let Mode::Configured(configured) = &*self.mode() else {
            return Err(Gate::Setup);
        };
        if self.dashboard.oauth(&self.config).is_none() {
            return Err(Gate::NoSignIn);
        }
        let session = session::read_cookie(headers, session::COOKIE)
            .and_then(|id| self.dashboard.sessions.get(&id))
            .ok_or(Gate::SignedOut)?;
        Ok(Viewer {
            session,
            configured: configured.clone(),
        })
    }

    /// The repositories `viewer` may see (and act on).
    pub async fn visible(&self, viewer: &Viewer) -> Result<Visible, sqlx::Error> {
        if viewer.session.admin {
            return Ok(Visible::All);
        }
        let repos = self.db.task_repos().await?;
        Ok(self
            .dashboard
            .access
            .visible(&viewer.configured.github, &viewer.session, &repos)
            .await)
    }
}

/// Where GitHub sends people back after sign-in: the public URL's `/auth/callback`, exactly
/// the callback URL the App's manifest registered (GitHub refuses any other `redirect_uri`).
/// Never the request's `Host`: behind another host name that would be a URL GitHub does not
/// know.
pub fn callback_url(config: &ServerConfig) -> String {
    format!("{}/auth/callback", config.public_url())
}

/// Cookies are `Secure` when people reach bosun over https.
pub fn secure_cookies(config: &ServerConfig) -> bool {
    config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// A database failure, as the JSON API says it (details go to the log only).
pub fn db_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard: database read failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": "the database could not be read; see the server log" })),
    )
        .into_response()
}
