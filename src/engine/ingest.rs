//! The ingest writer: the task that owns the high-volume writes. It commits webhook deliveries
//! in groups; intake's decisions ride in the same commits, so deliveries and their handling
//! never queue behind each other's transactions. A second task, the syncer, fsyncs the WAL
//! after each commit (taking every commit made meanwhile with it) and only then answers the
//! requests of those groups: nothing is acknowledged before it is on disk, a burst shares one
//! fsync, and the next group's transaction runs while the disk works. The syncer then hands the
//! new deliveries to intake in memory, in commit order, so intake does not read back what it was
//! just given.
//!
//! A delivery is a duplicate when its id is known or its body was received within
//! `db::deliveries::REPLAY_WINDOW_MS`; both are checked in the group's own transaction (the id
//! by its unique index, the body by its hash's index), so the answer costs no extra round trip.

use crate::db::{write_group, Db, GroupWritten, Handled, NewDelivery, StoredDelivery};
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
    /// Seen before (a redelivery or a concurrent copy), or its body was received within
    /// `REPLAY_WINDOW_MS` under another id (a replay: the id is not signed, the body is):
    /// nothing more will happen.
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

enum Work {
    Store(NewDelivery, StoreReply),
    /// Intake's decisions; answered with how many took effect.
    Finish(Vec<Handled>, FinishReply),
}

#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Work>,
}

impl Ingest {
    /// Starts the writer; the returned `Feed` is for intake.
    pub fn start(db: &Db) -> (Ingest, Feed) {
        let (tx, rx) = mpsc::channel(MAX_GROUP * 8);
        let (groups, feed) = mpsc::channel(FEED_DEPTH);
        let behind = Arc::new(Notify::new());
        let sender = FeedSender {
            groups,
            behind: behind.clone(),
        };
        tokio::spawn(write_loop(db.clone(), rx, sender));
        let feed = Feed {
            groups: feed,
            behind,
        };
        (Ingest { tx }, feed)
    }

    /// Stores one delivery durably; returns once its group is committed.
    pub async fn store(&self, delivery: NewDelivery) -> Result<Stored, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Store(delivery, reply)).await?;
        answer.await.map_err(|_| IngestError::Closed)?
    }

    /// Records intake's decisions (and enqueues their jobs) in the next group commit.
    pub async fn finish(&self, handled: Vec<Handled>) -> Result<usize, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Finish(handled, reply)).await?;
        answer.await.map_err(|_| IngestError::Closed)?
    }

    async fn send(&self, work: Work) -> Result<(), IngestError> {
        self.tx.send(work).await.map_err(|_| IngestError::Closed)
    }
}

/// A committed group on its way to the syncer: its answers wait for the fsync.
struct Committed {
    written: Result<GroupWritten, IngestError>,
    new: Vec<NewDelivery>,
    replies: Vec<StoreReply>,
    /// Each finish request with the sequence numbers it decided.
    finishes: Vec<(Vec<i64>, FinishReply)>,
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Work>, feed: FeedSender) {
    let (committed, synced) = mpsc::channel(SYNC_DEPTH);
    tokio::spawn(sync_loop(db.clone(), synced, feed));
    // Waits for the first piece of work, then takes whatever else is already waiting: no
    // timer, so a lone delivery is committed at once and a burst is grouped by itself.
    while let Some(first) = rx.recv().await {
        let (mut new, mut replies, mut finishes, mut decisions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(work) = next {
            match work {
                Work::Store(delivery, reply) => {
                    new.push(delivery);
                    replies.push(reply);
                }
                Work::Finish(handled, reply) => {
                    let seqs = handled.iter().map(|h| h.seq).collect();
                    finishes.push((seqs, reply));
                    decisions.extend(handled);
                }
            }
            next = if new.len() + decisions.len() < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        // The writer's own connection, with the turn to write (`db::write_turn`): it waits
        // for at most the one transaction in progress elsewhere, and the turn is given back
        // right after the commit, so the workers' small writes go in between groups.
        let written = write_group(&mut *db.write_connection().await, &new, &decisions)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, deliveries = new.len(), "group commit failed");
                IngestError::Store(e.to_string())
            });
        let group = Committed {
            written,
            new,
            replies,
            finishes,
        };
        if committed.send(group).await.is_err() {
            return;
        }
    }
}

/// Fsyncs, then answers, group after group in commit order.
async fn sync_loop(db: Db, mut synced: mpsc::Receiver<Committed>, feed: FeedSender) {
    while let Some(first) = synced.recv().await {
        let mut groups = vec![first];
        while let Ok(more) = synced.try_recv() {
            groups.push(more);
        }
        // One fsync covers every group committed before it started.
        let durable = db.sync_wal().await.map_err(|e| {
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
    let mut handed = Vec::with_capacity(new.len());
    // `stored` follows `new`: a delivery not stored (its id known, in the table or earlier in
    // the group, or its body received within `REPLAY_WINDOW_MS`) is a duplicate.
    for ((delivery, reply), stored) in new.into_iter().zip(replies).zip(&written.stored) {
        let verdict = match stored {
            Some(seq) => {
                handed.push(StoredDelivery {
                    seq: *seq,
                    id: delivery.id,
                    event: delivery.event,
                    payload: delivery.payload,
                });
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
    if !handed.is_empty() && feed.groups.try_send(handed).is_err() {
        feed.behind.notify_one();
    }
}
