//! Intake: turns stored deliveries into work, in commit order. Pure decisions
//! (`bosun_core::trigger::decide`) plus one transaction per batch that marks the deliveries handled
//! and enqueues their jobs, so a crash in between loses nothing and doubles nothing, and a
//! burst of deliveries costs one commit rather than one each.

use crate::db::{now_ms, Db, DeliveryState, Handled, StoredDelivery};
use crate::engine::ingest::{Feed, Ingest};
use bosun_core::events::{parse_event, EventError};
use bosun_core::trigger::{decide, Decision, Identity};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

const BATCH: i64 = 200;
/// The most handed-over deliveries decided in one batch.
const MAX_HANDED: usize = 2000;
/// With nothing handed over for this long, intake looks at the database anyway.
const SAFETY_SWEEP: Duration = Duration::from_secs(5);

/// Handles deliveries until `shutdown`: those handed over by the ingest writer as they are
/// committed, and, at start-up or whenever the hand-off was dropped or went quiet, whatever the
/// database still holds as `received`. A delivery seen both ways has its effects once
/// (a decision only changes a delivery still waiting). Decisions are stored through the ingest
/// writer, in its group commits.
pub async fn run_intake(
    db: Db,
    identity: Identity,
    writer: Ingest,
    mut feed: Feed,
    jobs_added: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut catch_up = true;
    while !*shutdown.borrow() {
        let batch = if catch_up {
            match db.waiting_deliveries(BATCH).await {
                Ok(waiting) if waiting.is_empty() => {
                    catch_up = false;
                    continue;
                }
                Ok(waiting) => waiting,
                Err(e) => {
                    tracing::error!(error = %e, "reading the delivery inbox failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        } else {
            tokio::select! {
                group = feed.groups.recv() => match group {
                    // Everything already handed over goes into one decision batch: each
                    // batch waits for a commit, so one per group would fall behind a burst.
                    Some(mut batch) => {
                        while batch.len() < MAX_HANDED {
                            match feed.groups.try_recv() {
                                Ok(more) => batch.extend(more),
                                Err(_) => break,
                            }
                        }
                        batch
                    }
                    None => return, // the ingest writer is gone: the server is stopping
                },
                _ = feed.behind.notified() => { catch_up = true; continue; }
                _ = tokio::time::sleep(SAFETY_SWEEP) => { catch_up = true; continue; }
                _ = shutdown.changed() => continue,
            }
        };
        let handled: Vec<Handled> = batch
            .iter()
            .map(|delivery| {
                let span = tracing::info_span!("delivery", delivery = %delivery.id, event = %delivery.event);
                span.in_scope(|| handle(&identity, delivery))
            })
            .collect();
        match writer.finish(handled).await {
            Ok(0) => {}
            Ok(_) => jobs_added.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, "recording intake's decisions failed; will catch up");
                tokio::time::sleep(Duration::from_millis(200)).await;
                catch_up = true;
            }
        }
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
    let queued = |jobs: Vec<bosun_core::job::Job>| {
        let jobs: Vec<_> = jobs.iter().map(|job| job.to_new(now_ms())).collect();
        for job in &jobs {
            // The serial key names the issue or pull request the job is about.
            tracing::info!(
                job = job.kind,
                key = job.serial_key.as_deref().unwrap_or_default(),
                "{} queued",
                job.kind
            );
        }
        let kinds: Vec<&str> = jobs.iter().map(|j| j.kind).collect();
        let outcome = format!("{} queued", kinds.join(" and "));
        done(DeliveryState::Processed, &outcome, jobs)
    };
    match decide(&delivery.id, event, me) {
        Decision::Queue(job) => queued(vec![job]),
        Decision::QueueAll(jobs) => queued(jobs),
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
