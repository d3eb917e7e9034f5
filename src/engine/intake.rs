//! Intake: decides what each delivery means (`bosun_core::trigger::decide`, plus what the
//! repositories' remembered configurations already answer), in delivery order.
//!
//! Once the engine runs and nothing waits, the ingest writer decides each delivery itself, in
//! the commit that stores it, with the `Judge` intake hands it: the delivery, its state and its
//! jobs are one write, and a delivery bosun will ignore costs one row. Before that (no
//! credentials yet, the App's identity still unknown, or deliveries left `received` by an
//! earlier bosun), deliveries are stored to wait, and this task decides them: those the
//! writer hands over as they are committed, and, at start-up or whenever the hand-off was
//! dropped or went quiet, whatever the database still holds as `received`. Its decisions go
//! through the writer's group commits, so a crash in between loses nothing and doubles
//! nothing. When nothing waits any more it arms the writer and ends (`Ingest::arm`).
//!
//! A label that is neither the trigger label nor the plan label is ignored without a job,
//! when the repository's configuration is remembered (a busy organization labels issues all
//! day). Without a fresh copy the label becomes a trigger job as before, which reads the file.
//! A push that may change the file makes intake forget the copy before it decides the next
//! delivery, so no label is judged by a configuration the push replaced.

use crate::config::repo_configs::RepoConfigs;
use crate::db::{now_ms, Db, DeliveryState, Handled, Verdict};
use crate::engine::ingest::{Feed, Ingest};
use bosun_core::events::{parse_event, Event, EventError};
use bosun_core::ids::DeliveryId;
use bosun_core::job::{BodyEdit, Job};
use bosun_core::trigger::{decide, Decision, Identity};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

const BATCH: i64 = 200;
/// The most handed-over deliveries decided in one batch.
const MAX_HANDED: usize = 2000;
/// With nothing handed over for this long, intake looks at the database anyway.
const SAFETY_SWEEP: Duration = Duration::from_secs(5);

/// What deciding a delivery needs: who bosun is, the remembered configurations, and whom to
/// wake when a decision queued jobs.
#[derive(Clone)]
pub struct Judge {
    pub identity: Identity,
    pub configs: Arc<RepoConfigs>,
    pub jobs_added: Arc<Notify>,
}

impl Judge {
    /// Decides one delivery from its parsed payload. Pure but for logging and for one effect
    /// on the configurations (a push that may change a repository's file makes it forget its
    /// copy): the caller stores the verdict.
    pub fn verdict(
        &self,
        id: &DeliveryId,
        event: &str,
        parsed: Result<Event, EventError>,
    ) -> Verdict {
        let span = tracing::info_span!("delivery", delivery = %id, event);
        span.in_scope(|| verdict(&self.identity, &self.configs, id, parsed))
    }
}

/// Decides deliveries left waiting until none is left, then arms the ingest writer with the
/// judge and ends (or ends at `shutdown`).
pub async fn run_intake(
    db: Db,
    judge: Judge,
    writer: Ingest,
    mut feed: Feed,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut catch_up = true;
    while !*shutdown.borrow() {
        let batch = if catch_up {
            match db.waiting_deliveries(BATCH).await {
                Ok(waiting) if waiting.is_empty() => match writer.arm(judge.clone()).await {
                    Ok(true) => {
                        tracing::debug!("nothing waits: the ingest writer decides from now on");
                        return;
                    }
                    // Stored meanwhile: decide those first.
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "could not hand decisions to the writer");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
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
                let parsed = parse_event(&delivery.event, &delivery.payload);
                let verdict = judge.verdict(&delivery.id, &delivery.event, parsed);
                log_queued(&delivery.id, &delivery.event, &verdict);
                Handled {
                    seq: delivery.seq,
                    verdict,
                }
            })
            .collect();
        match writer.finish(handled).await {
            Ok(0) => {}
            Ok(_) => judge.jobs_added.notify_one(),
            Err(e) => {
                tracing::error!(error = %e, "recording intake's decisions failed; will catch up");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // After a hand-off batch, the database is the place to look for anything dropped;
        // arming is tried from there too.
        catch_up = true;
    }
}

/// Logs the jobs a verdict queues: by whoever stores it, once the delivery is stored (the
/// writer judges a redelivery too, and drops its verdict).
pub fn log_queued(id: &DeliveryId, event: &str, verdict: &Verdict) {
    if verdict.jobs.is_empty() {
        return; // no span to make: most deliveries queue nothing
    }
    let _span = tracing::info_span!("delivery", delivery = %id, event).entered();
    for job in &verdict.jobs {
        // The serial key names the issue or pull request the job is about.
        tracing::info!(
            job = job.kind,
            key = job.serial_key.as_deref().unwrap_or_default(),
            "{} queued",
            job.kind
        );
    }
}

/// Decides what one delivery means.
fn verdict(
    me: &Identity,
    configs: &RepoConfigs,
    id: &DeliveryId,
    parsed: Result<Event, EventError>,
) -> Verdict {
    let event = match parsed {
        Ok(event) => event,
        Err(e) => {
            let why = match &e {
                EventError::NotJson(_) => "signed, but not JSON",
                EventError::Shape { .. } => "signed JSON of an unexpected shape",
            };
            tracing::warn!(error = %e, "delivery quarantined: {why}");
            return Verdict::plain(DeliveryState::Quarantined, e.to_string());
        }
    };
    let queued = |jobs: Vec<Job>| {
        // An edit of the description needs no GitHub call: it is recorded in the commit that
        // marks its delivery handled, before any later delivery's trigger is queued, instead of
        // as a job that waited behind the issue's triggers (which could start a task that did
        // not yet know of an edit its description already held).
        let (mut edits, mut queued): (Vec<BodyEdit>, Vec<_>) = (Vec::new(), Vec::new());
        for job in jobs {
            match job {
                Job::BodyEdited(edit) => edits.push(*edit),
                job => queued.push(job.to_new(now_ms())),
            }
        }
        let jobs = queued;
        let mut said: Vec<String> = jobs.iter().map(|j| format!("{} queued", j.kind)).collect();
        if !edits.is_empty() {
            said.insert(0, "description edit recorded".into());
        }
        Verdict {
            edits,
            jobs,
            ..Verdict::plain(DeliveryState::Processed, said.join(" and "))
        }
    };
    follow_pushes(configs, &event);
    if let Some(why) = label_asks_nothing(configs, &event) {
        tracing::debug!(why = %why, "delivery ignored");
        return Verdict::plain(DeliveryState::Ignored, why);
    }
    match decide(id, event, me) {
        Decision::Queue(job) => queued(vec![job]),
        Decision::QueueAll(jobs) => queued(jobs),
        Decision::Noted(what) => {
            tracing::debug!(what, "delivery noted");
            Verdict::plain(DeliveryState::Processed, what)
        }
        Decision::Ignore(why) => {
            tracing::debug!(why = %why, "delivery ignored");
            Verdict::plain(DeliveryState::Ignored, why)
        }
    }
}

/// A push to the default branch that may change `.github/bosun.yml` makes the remembered copy
/// stale at once, before the deliveries after it are decided (its refresh job reads it again).
fn follow_pushes(configs: &RepoConfigs, event: &Event) {
    if let Event::Pushed {
        repo_id,
        to_default_branch: true,
        config_may_have_changed: true,
        ..
    } = event
    {
        configs.forget(*repo_id);
    }
}

/// Why an issue's new label needs no job: the repository's remembered configuration says it
/// asks nothing of bosun. `None` when it may, or when no fresh copy is remembered.
fn label_asks_nothing(configs: &RepoConfigs, event: &Event) -> Option<String> {
    match event {
        Event::IssueLabeled { issue, label } if !issue.is_pull_request => {
            match configs.label_asks(issue.repo_id, label) {
                Some(false) => Some(format!(
                    "the label `{label}` is not one that asks bosun for work here"
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::StoredDelivery;

    /// Decides a stored delivery.
    fn handle(me: &Identity, configs: &RepoConfigs, delivery: &StoredDelivery) -> Verdict {
        verdict(
            me,
            configs,
            &delivery.id,
            parse_event(&delivery.event, &delivery.payload),
        )
    }
    use bosun_core::ids::{DeliveryId, RepoId};
    use bosun_core::repo_config::RepoConfig;

    const LABELED: &str = include_str!("../../tests/fixtures/webhooks/issues/labeled.payload.json");
    /// The repository of GitHub's `issues.labeled` example.
    pub(crate) const REPO_ID: u64 = 186853002;

    fn delivery(seq: i64, event: &str, payload: String) -> StoredDelivery {
        StoredDelivery {
            seq,
            id: DeliveryId(format!("d{seq}")),
            event: event.into(),
            payload: payload.into_bytes().into(),
        }
    }

    pub(crate) fn labeled(seq: i64, label: &str) -> StoredDelivery {
        let mut p: serde_json::Value = serde_json::from_str(LABELED).unwrap();
        p["label"]["name"] = label.into();
        p["installation"] = serde_json::json!({ "id": 3 });
        delivery(seq, "issues", p.to_string())
    }

    const EDITED: &str = include_str!("../../tests/fixtures/webhooks/issues/edited.payload.json");

    /// GitHub's `issues.edited` example, with its body changed from `before`.
    fn body_edited(seq: i64, before: &str, body: &str) -> StoredDelivery {
        let mut p: serde_json::Value = serde_json::from_str(EDITED).unwrap();
        p["changes"] = serde_json::json!({ "body": { "from": before } });
        p["issue"]["body"] = body.into();
        delivery(seq, "issues", p.to_string())
    }

    #[tokio::test]
    async fn a_description_edit_is_recorded_with_its_delivery_not_queued_as_a_job() {
        let (db, _dir) = crate::db::test_db().await;
        let configs = RepoConfigs::new(db, Duration::from_secs(60));
        let plain = handle(&me(), &configs, &body_edited(1, "Old text.", "New text."));
        assert!(plain.jobs.is_empty(), "{:?}", plain.jobs);
        assert_eq!(plain.edits.len(), 1);
        assert_eq!(plain.edits[0].old_body, "Old text.");
        assert_eq!(plain.outcome, "description edit recorded");

        // An edit that adds a mention records the edit first and queues the trigger.
        let mention = handle(
            &me(),
            &configs,
            &body_edited(2, "Old.", "Old. @bosun fix it"),
        );
        assert_eq!(mention.edits.len(), 1);
        assert_eq!(
            mention.jobs.iter().map(|j| j.kind).collect::<Vec<_>>(),
            ["trigger"]
        );
        assert_eq!(
            mention.outcome,
            "description edit recorded and trigger queued"
        );
    }

    pub(crate) fn config_pushed(seq: i64) -> StoredDelivery {
        let body = format!(
            r#"{{"ref":"refs/heads/main","forced":false,
            "commits":[{{"added":[],"modified":[".github/bosun.yml"],"removed":[]}}],
            "repository":{{"id":{REPO_ID},"name":"Hello-World","owner":{{"login":"Codertocat","name":"Codertocat"}},"default_branch":"main"}},
            "installation":{{"id":3}}}}"#
        );
        delivery(seq, "push", body)
    }

    pub(crate) fn me() -> Identity {
        Identity {
            handle: "bosun".into(),
            bot_login: "bosun[bot]".into(),
            bot_user_id: None,
        }
    }

    #[tokio::test]
    async fn labels_are_judged_by_the_remembered_file_until_a_push_may_change_it() {
        let (db, _dir) = crate::db::test_db().await;
        let configs = RepoConfigs::new(db, Duration::from_secs(60));
        let kinds = |h: &Verdict| h.jobs.iter().map(|j| j.kind).collect::<Vec<_>>();

        // Nothing remembered: a label is a trigger job, which reads the file.
        let unknown = handle(&me(), &configs, &labeled(1, "bug"));
        assert_eq!(kinds(&unknown), ["trigger"]);

        configs.remember(RepoId(REPO_ID), RepoConfig::default());
        let bug = handle(&me(), &configs, &labeled(2, "bug"));
        assert_eq!(bug.state, DeliveryState::Ignored);
        assert!(bug.jobs.is_empty());
        assert!(bug.outcome.contains("`bug`"), "{}", bug.outcome);
        assert_eq!(
            kinds(&handle(&me(), &configs, &labeled(3, "Bosun"))),
            ["trigger"]
        );
        assert_eq!(
            kinds(&handle(&me(), &configs, &labeled(4, "bosun:plan"))),
            ["trigger"]
        );

        // The file may have changed: the next label is a job again, decided by the new file.
        let pushed = handle(&me(), &configs, &config_pushed(5));
        assert_eq!(kinds(&pushed), ["refresh_config"]);
        assert_eq!(
            kinds(&handle(&me(), &configs, &labeled(6, "ai"))),
            ["trigger"]
        );
    }
}
