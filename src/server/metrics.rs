//! `GET /metrics`: Prometheus text. Webhook answers are counted in memory as they happen;
//! tasks, queue and delivery states are read from the database at scrape time.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// How the webhook endpoint answered, one counter per outcome.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    pub accepted: AtomicU64,
    pub duplicate: AtomicU64,
    pub bad_signature: AtomicU64,
    pub too_large: AtomicU64,
    pub bad_request: AtomicU64,
    pub not_configured: AtomicU64,
    pub store_failed: AtomicU64,
    /// Refused before its body was read: too many bodies being read already.
    pub busy: AtomicU64,
    /// The body did not arrive in time.
    pub too_slow: AtomicU64,
    /// Refusals anyone can cause are logged at most once per interval.
    pub refusals_logged: super::log_throttle::LogThrottle,
}

impl WebhookCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn pairs(&self) -> [(&'static str, u64); 9] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("accepted", get(&self.accepted)),
            ("duplicate", get(&self.duplicate)),
            ("bad_signature", get(&self.bad_signature)),
            ("too_large", get(&self.too_large)),
            ("bad_request", get(&self.bad_request)),
            ("not_configured", get(&self.not_configured)),
            ("store_failed", get(&self.store_failed)),
            ("busy", get(&self.busy)),
            ("too_slow", get(&self.too_slow)),
        ]
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    family(
        &mut out,
        "bosun_webhook_deliveries_total",
        "Webhook requests by how they were answered.",
        "counter",
    );
    for (outcome, n) in state.counters.pairs() {
        let _ = writeln!(
            out,
            "bosun_webhook_deliveries_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    let conns = &state.connections;
    family(
        &mut out,
        "bosun_connections_open",
        "HTTP connections open now.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "bosun_connections_open {}",
        conns.open.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "bosun_connections_closed_total",
        "HTTP connections bosun closed: refused over --max-connections, or headers not in time.",
        "counter",
    );
    for (reason, n) in [
        ("refused", &conns.refused),
        ("header_timeout", &conns.header_timeouts),
    ] {
        let _ = writeln!(
            out,
            "bosun_connections_closed_total{{reason=\"{reason}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    let db = &state.db;
    if let Ok(rows) = db.delivery_counts().await {
        family(
            &mut out,
            "bosun_deliveries",
            "Stored deliveries by intake state.",
            "gauge",
        );
        for (s, n) in rows {
            let _ = writeln!(out, "bosun_deliveries{{state=\"{s}\"}} {n}");
        }
    }
    if let Ok(rows) = db.task_counts().await {
        family(&mut out, "bosun_tasks", "Tasks by status.", "gauge");
        for (s, n) in rows {
            let _ = writeln!(out, "bosun_tasks{{status=\"{s}\"}} {n}");
        }
    }
    if let Ok(rows) = db.job_counts().await {
        family(&mut out, "bosun_jobs", "Jobs by state.", "gauge");
        let mut depth = 0;
        for (s, n) in rows {
            if s == "queued" || s == "running" {
                depth += n;
            }
            let _ = writeln!(out, "bosun_jobs{{state=\"{s}\"}} {n}");
        }
        family(
            &mut out,
            "bosun_queue_depth",
            "Jobs queued or running.",
            "gauge",
        );
        let _ = writeln!(out, "bosun_queue_depth {depth}");
    }
    if let Some(configured) = state.configured() {
        family(
            &mut out,
            "bosun_github_calls_total",
            "GitHub API calls by response status.",
            "counter",
        );
        for (status, n) in configured.github.call_counts() {
            let _ = writeln!(out, "bosun_github_calls_total{{status=\"{status}\"}} {n}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
