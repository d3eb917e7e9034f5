//! Missed webhooks: GitHub logs every delivery attempt. While bosun was down, or when it
//! answered 5xx, a delivery failed and GitHub will not send it again by itself. A sweep (at
//! start-up, then periodically) reads the App's delivery log and asks GitHub, once per
//! delivery, to redeliver what failed and never reached bosun's database.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::watch;

use crate::db::Db;
use crate::github::client::{GitHub, GitHubError};

/// How far back the log is read: GitHub keeps deliveries for redelivery about this long.
const WINDOW_HOURS: i64 = 72;

pub async fn run_redelivery_sweeps(
    github: GitHub,
    db: Db,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match sweep_once(&github, &db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(asked = n, "asked GitHub to redeliver missed webhooks"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the redelivery sweep failed; next time")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One sweep; returns how many redeliveries it asked for.
pub async fn sweep_once(github: &GitHub, db: &Db) -> anyhow::Result<usize> {
    let since = chrono::Utc::now() - chrono::Duration::hours(WINDOW_HOURS);
    let log = github.hook_deliveries(since).await?;
    // A delivery one of whose attempts succeeded reached bosun (it stores before answering).
    let reached: HashSet<_> = log
        .iter()
        .filter(|d| d.succeeded())
        .map(|d| &d.guid)
        .collect();
    // When GitHub tried each delivery, first and last attempt: bosun finds a row by its id
    // around those times (`Db::needs_redelivery`).
    let mut sent: HashMap<_, (i64, i64)> = HashMap::new();
    for d in &log {
        let at = d.delivered_at.timestamp_millis();
        let span = sent.entry(&d.guid).or_insert((at, at));
        *span = (span.0.min(at), span.1.max(at));
    }
    let mut considered = HashSet::new();
    let mut asked = 0;
    for d in &log {
        if d.succeeded() || d.event == "ping" || reached.contains(&d.guid) {
            continue;
        }
        // Newest first: one request per delivery, for its latest failed attempt.
        if !considered.insert(&d.guid) || !db.needs_redelivery(&d.guid, sent[&d.guid]).await? {
            continue;
        }
        match github.redeliver(d.id).await {
            Ok(()) => {
                tracing::info!(delivery = %d.guid.0, event = %d.event, status = d.status_code, "missed webhook: redelivery asked");
                asked += 1;
            }
            // This delivery cannot be redelivered (too old, gone): noted, so it is not asked
            // again, and the sweep goes on with the others.
            Err(
                e @ (GitHubError::Validation { .. }
                | GitHubError::NotFound { .. }
                | GitHubError::Forbidden { .. }),
            ) => {
                tracing::warn!(delivery = %d.guid.0, event = %d.event, error = %e, "missed webhook: GitHub refused to redeliver it; it is lost");
            }
            // GitHub itself is unreachable or limiting us: the rest would fail too.
            Err(e) => return Err(e.into()),
        }
        db.note_redelivery(&d.guid, d.id).await?;
    }
    Ok(asked)
}
