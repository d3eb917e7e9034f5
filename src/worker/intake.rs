//! Intake: turns stored deliveries into work, in arrival order. Pure decisions
//! (`task::trigger::decide`) plus one transaction per batch that marks the deliveries handled
//! and enqueues their jobs, so a crash in between loses nothing and doubles nothing, and a
//! burst of deliveries costs one commit rather than one each.

use crate::db::{now_ms, Db, DeliveryState, Handled, StoredDelivery};
use crate::github::events::{parse_event, EventError};
use crate::task::trigger::{decide, Decision, Identity};
use crate::worker::job::Job;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

const BATCH: i64 = 200;

pub async fn run_intake(
    db: Db,
    identity: Identity,
    stored: Arc<Notify>,
    jobs_added: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let waiting = match db.waiting_deliveries(BATCH).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "reading the delivery inbox failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if waiting.is_empty() {
            tokio::select! {
                _ = stored.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let handled: Vec<Handled> = waiting
            .iter()
            .map(|delivery| {
                let span = tracing::info_span!("delivery", delivery = %delivery.id, event = %delivery.event);
                span.in_scope(|| handle(&identity, delivery))
            })
            .collect();
        if let Err(e) = db.finish_deliveries(&handled).await {
            tracing::error!(error = %e, "recording intake's decisions failed; will retry");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        jobs_added.notify_one();
    }
}

/// Decides what one delivery means. Pure but for logging: the caller stores the decision.
fn handle(me: &Identity, delivery: &StoredDelivery) -> Handled {
    let done = |state, outcome: &str, jobs| Handled {
        seq: delivery.seq,
        state,
        outcome: outcome.to_string(),
        jobs,
    };
    let event = match parse_event(&delivery.event, &delivery.payload) {
        Ok(event) => event,
        Err(e) => {
            let why = match &e {
                EventError::NotJson(_) => "signed, but not JSON",
                EventError::Shape { .. } => "signed JSON of an unexpected shape",
            };
            tracing::warn!(error = %e, "delivery quarantined: {why}");
            return done(DeliveryState::Quarantined, &e.to_string(), vec![]);
        }
    };
    match decide(&delivery.id, event, me) {
        Decision::Trigger(request) => {
            tracing::info!(repo = %request.repo, issue = %request.issue, sender = %request.sender.login, "possible trigger queued");
            let job = Job::Trigger(*request).to_new(now_ms());
            done(DeliveryState::Processed, "trigger queued", vec![job])
        }
        Decision::Noted(what) => {
            tracing::debug!(what, "delivery noted");
            done(DeliveryState::Processed, what, vec![])
        }
        Decision::Ignore(why) => {
            tracing::debug!(why = %why, "delivery ignored");
            done(DeliveryState::Ignored, &why, vec![])
        }
    }
}
