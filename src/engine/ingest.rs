//! The ingest writer: the thread that owns the high-volume writes. It commits webhook
//! deliveries in groups, on a blocking SQLite connection of its own (`db::IngestWriter`); a
//! second thread, the syncer, fsyncs the WAL after each commit (taking every commit made
//! meanwhile with it) and only then answers the requests of those groups: nothing is
//! acknowledged before it is on disk, a burst shares one fsync, and the next group's
//! transaction runs while the disk works. Threads, not async tasks: a group is a dozen small
//! statements, and each would otherwise be a hand-off to sqlx's connection thread and back.
//!
//! Once intake has armed it (`Ingest::arm`), the writer decides each delivery as it stores it,
//! in commit order, with intake's `Judge`: the payload was parsed in the request's own task
//! (`Ingest::store`), so the writer only applies the decision, and the delivery's state and
//! jobs go into the same commit. Until then deliveries are stored to wait, and the syncer hands
//! them to intake in memory, in commit order, so intake does not read back what it was just
//! given.
//!
//! A delivery is a duplicate when its body is already stored (`db::deliveries`: a redelivery
//! carries the same body, a replay under another id too), checked in the group's own
//! transaction by the fingerprint's unique index, so the answer costs no extra round trip.

use crate::db::{Arriving, Db, GroupWritten, Handled, IngestWriter, NewDelivery, StoredDelivery};
use crate::engine::intake::{log_queued, Judge};
use bosun_core::events::{parse_event, Event, EventError};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest group committed at once; a larger backlog simply takes several commits.
const MAX_GROUP: usize = 512;
/// Groups waiting for intake before the hand-off gives up and intake reads the database.
const FEED_DEPTH: usize = 64;
/// Committed groups waiting for the syncer before the writer waits too.
const SYNC_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// First sighting: durable now, intake will handle it.
    New,
    /// Its body seen before: a redelivery, a concurrent copy, or a replay under another id
    /// (the id is not signed, the body is). Nothing more will happen.
    Duplicate,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("the delivery store is unavailable: {0}")]
    Store(String),
    #[error("the ingest writer has stopped")]
    Closed,
}

/// Intake's side of the hand-off: committed deliveries in commit order. When intake is away
/// or behind, groups are dropped rather than queued without bound, and `behind` is signalled:
/// the database still has them, and intake catches up from it.
pub struct Feed {
    pub groups: mpsc::Receiver<Vec<StoredDelivery>>,
    pub behind: Arc<Notify>,
}

struct FeedSender {
    groups: mpsc::Sender<Vec<StoredDelivery>>,
    behind: Arc<Notify>,
}

type StoreReply = oneshot::Sender<Result<Stored, IngestError>>;
type FinishReply = oneshot::Sender<Result<usize, IngestError>>;

/// A verified delivery with its payload parsed.
struct Incoming {
    delivery: NewDelivery,
    parsed: Result<Event, EventError>,
}

enum Work {
    Store(Box<Incoming>, StoreReply),
    /// Intake's decisions; answered with how many took effect.
    Finish(Vec<Handled>, FinishReply),
    /// Intake's judge, for the writer to decide deliveries itself once none waits; answered
    /// with whether it took it.
    Arm(Judge, oneshot::Sender<bool>),
}

#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Work>,
}

impl Ingest {
    /// Starts the writer and the syncer on threads of their own; the returned `Feed` is for
    /// intake. Both threads end once every `Ingest` is dropped.
    pub fn start(db: &Db) -> anyhow::Result<(Ingest, Feed)> {
        let writer = db.ingest_writer()?;
        let (tx, rx) = mpsc::channel(MAX_GROUP * 8);
        let (groups, feed) = mpsc::channel(FEED_DEPTH);
        let behind = Arc::new(Notify::new());
        let sender = FeedSender {
            groups,
            behind: behind.clone(),
        };
        let (committed, synced) = sync_channel(SYNC_DEPTH);
        let wal = db.wal_path();
        std::thread::Builder::new()
            .name("bosun-fsync".into())
            .spawn(move || sync_loop(wal, synced, sender))?;
        std::thread::Builder::new()
            .name("bosun-ingest".into())
            .spawn(move || write_loop(writer, rx, committed))?;
        let feed = Feed {
            groups: feed,
            behind,
        };
        Ok((Ingest { tx }, feed))
    }

    /// Stores one delivery durably; returns once its group is committed and fsynced. The
    /// payload is parsed here, in the request's own task, so that work spreads over the
    /// runtime's threads instead of falling on the one writer.
    pub async fn store(&self, delivery: NewDelivery) -> Result<Stored, IngestError> {
        let parsed = parse_event(&delivery.event, &delivery.payload);
        let (reply, answer) = oneshot::channel();
        let incoming = Box::new(Incoming { delivery, parsed });
        self.send(Work::Store(incoming, reply)).await?;
        answer.await.map_err(|_| IngestError::Closed)?
    }

    /// Records intake's decisions (and enqueues their jobs) in the next group commit.
    pub async fn finish(&self, handled: Vec<Handled>) -> Result<usize, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Finish(handled, reply)).await?;
        answer.await.map_err(|_| IngestError::Closed)?
    }

    /// Hands the writer intake's judge: from the next delivery on, the writer decides each one
    /// as it stores it. Refused (`false`) while some delivery still waits for intake, so jobs
    /// keep the order of their deliveries; the writer checks that in its own order of work,
    /// so no delivery can slip in between.
    pub async fn arm(&self, judge: Judge) -> Result<bool, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Arm(judge, reply)).await?;
        answer.await.map_err(|_| IngestError::Closed)
    }

    async fn send(&self, work: Work) -> Result<(), IngestError> {
        self.tx.send(work).await.map_err(|_| IngestError::Closed)
    }
}

/// A committed group on its way to the syncer: its answers wait for the fsync.
struct Committed {
    written: Result<GroupWritten, IngestError>,
    new: Vec<Arriving>,
    replies: Vec<StoreReply>,
    /// Each finish request with the sequence numbers it decided.
    finishes: Vec<(Vec<i64>, FinishReply)>,
    /// Whom to wake when the writer's own verdicts queued jobs.
    jobs_added: Option<Arc<Notify>>,
}

fn store_error(e: impl std::fmt::Display) -> IngestError {
    IngestError::Store(e.to_string())
}

fn write_loop(
    mut writer: IngestWriter,
    mut rx: mpsc::Receiver<Work>,
    committed: SyncSender<Committed>,
) {
    let mut judge: Option<Judge> = None;
    // Waits for the first piece of work, then takes whatever else is already waiting: no
    // timer, so a lone delivery is committed at once and a burst is grouped by itself.
    while let Some(first) = rx.blocking_recv() {
        let (mut new, mut replies, mut finishes, mut decisions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut arm = None;
        let mut next = Some(first);
        while let Some(work) = next {
            match work {
                Work::Store(incoming, reply) => {
                    let Incoming { delivery, parsed } = *incoming;
                    // Decided in commit order: a push that makes the judge forget a
                    // configuration comes before the labels after it.
                    let verdict = judge
                        .as_ref()
                        .map(|j| j.verdict(&delivery.id, &delivery.event, parsed));
                    new.push(Arriving { delivery, verdict });
                    replies.push(reply);
                }
                Work::Finish(handled, reply) => {
                    let seqs = handled.iter().map(|h| h.seq).collect();
                    finishes.push((seqs, reply));
                    decisions.extend(handled);
                }
                Work::Arm(offered, reply) => {
                    // After this group, which it must not overtake.
                    arm = Some((offered, reply));
                    break;
                }
            }
            next = if new.len() + decisions.len() < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !new.is_empty() || !decisions.is_empty() {
            // The turn to write (`db::write_turn`) is taken for the transaction only: it waits
            // for at most the one transaction in progress elsewhere, and the workers' small
            // writes go in between groups.
            let written = writer.write_group(&new, &decisions).map_err(|e| {
                tracing::error!(error = %e, deliveries = new.len(), "group commit failed");
                store_error(e)
            });
            let group = Committed {
                written,
                new,
                replies,
                finishes,
                jobs_added: judge.as_ref().map(|j| j.jobs_added.clone()),
            };
            if committed.send(group).is_err() {
                return;
            }
        }
        if let Some((offered, reply)) = arm {
            let armed = match writer.any_waiting() {
                Ok(waiting) => !waiting,
                Err(e) => {
                    tracing::error!(error = %e, "could not look for waiting deliveries");
                    false
                }
            };
            if armed {
                judge = Some(offered);
            }
            let _ = reply.send(armed);
        }
    }
}

/// Fsyncs, then answers, group after group in commit order.
fn sync_loop(wal: PathBuf, synced: Receiver<Committed>, feed: FeedSender) {
    while let Ok(first) = synced.recv() {
        let mut groups = vec![first];
        while let Ok(more) = synced.try_recv() {
            groups.push(more);
        }
        // One fsync covers every group committed before it started. The file is opened by
        // path each time, so a truncated or recreated WAL is never missed. This is the fsync
        // `synchronous=FULL` would do inside the commit, done after it instead.
        let durable = std::fs::File::open(&wal)
            .and_then(|f| f.sync_data())
            .map_err(|e| {
                tracing::error!(error = %e, "fsync of the WAL failed");
                IngestError::Store(format!("fsync failed: {e}"))
            });
        for group in groups {
            answer(group, durable.clone(), &feed);
        }
    }
}

fn answer(group: Committed, durable: Result<(), IngestError>, feed: &FeedSender) {
    let Committed {
        written,
        new,
        replies,
        finishes,
        jobs_added,
    } = group;
    let written = match written.and_then(|w| durable.map(|()| w)) {
        Ok(w) => w,
        Err(failure) => {
            for reply in replies {
                let _ = reply.send(Err(failure.clone()));
            }
            for (_, reply) in finishes {
                let _ = reply.send(Err(failure.clone()));
            }
            return;
        }
    };
    let mut handed = Vec::new();
    // `stored` follows `new`: a delivery not stored (its body in the table, or its id or body
    // earlier in the group) is a duplicate.
    for ((arriving, reply), stored) in new.into_iter().zip(replies).zip(&written.stored) {
        let verdict = match stored {
            Some(seq) => {
                let d = arriving.delivery;
                match &arriving.verdict {
                    Some(verdict) => log_queued(&d.id, &d.event, verdict),
                    None => handed.push(StoredDelivery {
                        seq: *seq,
                        id: d.id,
                        event: d.event,
                        payload: d.payload,
                    }),
                }
                Stored::New
            }
            None => Stored::Duplicate,
        };
        let _ = reply.send(Ok(verdict));
    }
    for (seqs, reply) in finishes {
        let took = seqs.iter().filter(|s| written.finished.contains(s)).count();
        let _ = reply.send(Ok(took));
    }
    if written.jobs > 0 {
        if let Some(jobs_added) = jobs_added {
            jobs_added.notify_one();
        }
    }
    if !handed.is_empty() && feed.groups.try_send(handed).is_err() {
        feed.behind.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::repo_configs::RepoConfigs;
    use crate::db::{DeliveryState, Verdict};
    use crate::engine::intake::tests::{config_pushed, labeled, me, REPO_ID};
    use bosun_core::ids::RepoId;
    use bosun_core::repo_config::RepoConfig;
    use sha2::Digest;
    use std::time::Duration;

    /// A delivery as the webhook handler hands it over, from a test's stored one.
    fn new(d: StoredDelivery) -> NewDelivery {
        let fingerprint = sha2::Sha256::digest(&d.payload).into();
        NewDelivery::new(d.id, d.event, d.payload, fingerprint, crate::db::now_ms())
    }

    async fn state(db: &Db, id: &str) -> (String, Option<String>) {
        let id = bosun_core::ids::DeliveryId(id.into());
        db.delivery_state(&id).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn the_writer_decides_deliveries_itself_once_none_waits_for_intake() {
        let (db, _dir) = crate::db::test_db().await;
        let (ingest, _feed) = Ingest::start(&db).unwrap();
        let configs = Arc::new(RepoConfigs::new(db.clone(), Duration::from_secs(60)));
        let judge = Judge {
            identity: me(),
            configs: configs.clone(),
            jobs_added: Arc::new(Notify::new()),
        };

        // Not armed: stored to wait for intake, which the arming waits for.
        assert_eq!(
            ingest.store(new(labeled(1, "bug"))).await.unwrap(),
            Stored::New
        );
        assert_eq!(state(&db, "d1").await.0, "received");
        assert!(
            !ingest.arm(judge.clone()).await.unwrap(),
            "one delivery waits for intake"
        );
        let seq = db.waiting_deliveries(1).await.unwrap()[0].seq;
        let verdict = Verdict::plain(DeliveryState::Ignored, "decided by intake");
        assert_eq!(
            ingest.finish(vec![Handled { seq, verdict }]).await.unwrap(),
            1
        );
        assert!(ingest.arm(judge.clone()).await.unwrap());

        // Armed: decided in the commit that stores it, its job queued and the workers woken.
        let woken = judge.jobs_added.notified();
        assert_eq!(
            ingest.store(new(labeled(2, "enhancement"))).await.unwrap(),
            Stored::New
        );
        assert_eq!(state(&db, "d2").await.0, "processed");
        tokio::time::timeout(Duration::from_secs(10), woken)
            .await
            .expect("the workers are told of the job");
        assert!(db.waiting_deliveries(1).await.unwrap().is_empty());
        assert_eq!(db.job_counts().await.unwrap(), [("queued".to_string(), 1)]);

        // With the file remembered, a label it does not ask for costs no job; a push that
        // may change the file makes the writer forget it before the next label.
        configs.remember(RepoId(REPO_ID), RepoConfig::default());
        assert_eq!(
            ingest.store(new(labeled(3, "wontfix"))).await.unwrap(),
            Stored::New
        );
        assert_eq!(state(&db, "d3").await.0, "ignored");
        assert_eq!(
            ingest.store(new(config_pushed(4))).await.unwrap(),
            Stored::New
        );
        assert_eq!(
            ingest.store(new(labeled(5, "ai"))).await.unwrap(),
            Stored::New
        );
        assert_eq!(
            state(&db, "d5").await,
            ("processed".into(), Some("trigger queued".into()))
        );

        // A redelivery is still a duplicate, and decides nothing again.
        assert_eq!(
            ingest.store(new(labeled(5, "ai"))).await.unwrap(),
            Stored::Duplicate
        );
        assert_eq!(db.job_counts().await.unwrap(), [("queued".to_string(), 3)]);
    }
}
