//! Intake: turns stored deliveries into work, in arrival order. Pure decisions
//! (`task::trigger::decide`) plus one transaction per delivery that marks it handled and
//! enqueues its job, so a crash in between loses nothing and doubles nothing.

use crate::db::{now_ms, Db, DeliveryState, StoredDelivery};
use crate::github::events::{parse_event, EventError};
use crate::task::trigger::{decide, Decision, Identity};
use crate::worker::job::Job;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

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
        for delivery in waiting {
            let span =
                tracing::info_span!("delivery", delivery = %delivery.id, event = %delivery.event);
            if let Err(e) = handle(&db, &identity, &delivery).instrument(span).await {
                tracing::error!(error = %e, "recording intake's decision failed; will retry");
                tokio::time::sleep(Duration::from_millis(200)).await;
                break;
            }
        }
        jobs_added.notify_waiters();
    }
}

async fn handle(db: &Db, me: &Identity, delivery: &StoredDelivery) -> Result<(), sqlx::Error> {
    let event = match parse_event(&delivery.event, &delivery.payload) {
        Ok(event) => event,
        Err(e) => {
            let why = match &e {
                EventError::NotJson(_) => "signed, but not JSON",
                EventError::Shape { .. } => "signed JSON of an unexpected shape",
            };
            tracing::warn!(error = %e, "delivery quarantined: {why}");
            return db
                .finish_delivery(
                    delivery.seq,
                    DeliveryState::Quarantined,
                    &e.to_string(),
                    &[],
                )
                .await;
        }
    };
    match decide(&delivery.id, event, me) {
        Decision::Trigger(request) => {
            tracing::info!(repo = %request.repo, issue = %request.issue, sender = %request.sender.login, "possible trigger queued");
            let job = Job::Trigger(*request).to_new(now_ms());
            db.finish_delivery(
                delivery.seq,
                DeliveryState::Processed,
                "trigger queued",
                &[job],
            )
            .await
        }
        Decision::Noted(what) => {
            tracing::debug!(what, "delivery noted");
            db.finish_delivery(delivery.seq, DeliveryState::Processed, what, &[])
                .await
        }
        Decision::Ignore(why) => {
            tracing::debug!(why = %why, "delivery ignored");
            db.finish_delivery(delivery.seq, DeliveryState::Ignored, &why, &[])
                .await
        }
    }
}
