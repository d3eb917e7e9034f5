//! The HTTP face of bosun: webhook receiver, setup page, dashboard and its API, health and
//! metrics.

pub mod dashboard;
pub mod listen;
pub mod log_throttle;
pub mod metrics;
pub mod public_reach;
pub mod setup;
pub mod setup_guard;
pub mod webhook;
pub mod webhook_relay;

use crate::config::credentials::AppCredentials;
use crate::config::server::ServerConfig;
use crate::db::Db;
use crate::engine::ingest::Ingest;
use crate::github::client::GitHub;
use crate::github::signature::WebhookSecrets;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bosun_core::ids::AppId;
use metrics::WebhookCounters;
use serde_json::json;
use setup_guard::SetupGuard;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// Whether bosun can talk to GitHub yet.
pub enum Mode {
    /// No App credentials: only the setup page works.
    Setup,
    Configured(Arc<Configured>),
}

pub struct Configured {
    pub app_id: AppId,
    pub secrets: WebhookSecrets,
    pub github: GitHub,
}

/// Turns credentials into a running engine; provided by `app.rs`, called by the setup page.
pub type Activate = Arc<
    dyn Fn(AppCredentials) -> Pin<Box<dyn Future<Output = anyhow::Result<Arc<Configured>>> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub ingest: Ingest,
    pub counters: Arc<WebhookCounters>,
    pub config: Arc<ServerConfig>,
    /// The one-time set-up code and the browsers that gave it.
    pub setup_guard: Arc<SetupGuard>,
    pub dashboard: Arc<dashboard::Dashboard>,
    /// What the listener saw (open, refused, timed-out connections).
    pub connections: Arc<listen::ConnCounters>,
    /// Webhook bodies being read (`webhook_bodies_in_flight` permits).
    pub webhook_bodies: Arc<tokio::sync::Semaphore>,
    /// The host's secrets a run's output can hold, for the live log's redactor (set by
    /// `app.rs` from the run configuration; none until then).
    pub live_log_secrets: Arc<dashboard::logs::LiveSecrets>,
    mode: Arc<RwLock<Arc<Mode>>>,
    activate: Activate,
}

impl AppState {
    pub fn new(
        db: Db,
        ingest: Ingest,
        config: Arc<ServerConfig>,
        mode: Mode,
        activate: Activate,
    ) -> Self {
        AppState {
            db,
            ingest,
            counters: Arc::new(WebhookCounters::default()),
            connections: Arc::default(),
            webhook_bodies: Arc::new(tokio::sync::Semaphore::new(
                config.webhook_bodies_in_flight.max(1),
            )),
            config,
            setup_guard: Arc::new(SetupGuard::default()),
            dashboard: Arc::new(dashboard::Dashboard::default()),
            live_log_secrets: Arc::default(),
            mode: Arc::new(RwLock::new(Arc::new(mode))),
            activate,
        }
    }

    pub fn mode(&self) -> Arc<Mode> {
        self.mode.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn configured(&self) -> Option<Arc<Configured>> {
        match &*self.mode() {
            Mode::Configured(c) => Some(c.clone()),
            Mode::Setup => None,
        }
    }

    /// Starts the engine with new credentials and switches the server to configured mode.
    pub async fn activate(&self, creds: AppCredentials) -> anyhow::Result<()> {
        let configured = (self.activate)(creds).await?;
        *self.mode.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Mode::Configured(configured));
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(dashboard::routes())
        .route("/webhook", post(webhook::webhook))
        .route("/setup", get(setup::setup_page).post(setup::setup_code))
        .route("/setup/callback", get(setup::setup_callback))
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Response {
    let mode = match &*state.mode() {
        Mode::Setup => "setup",
        Mode::Configured(_) => "configured",
    };
    match state.db.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": "ok", "mode": mode })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable", "mode": mode })),
            )
                .into_response()
        }
    }
}
