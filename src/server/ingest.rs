//! The ingest writer: one task that owns the high-volume writes. It commits webhook deliveries
//! in groups, each request waiting for the commit that holds its delivery, so nothing is
//! acknowledged before it is on disk, yet a burst shares one fsync. Intake's decisions ride in
//! the same commits, so deliveries and their handling never queue behind each other's
//! transactions. After each commit the new deliveries are handed to intake in memory, so
//! intake does not read back what it was just given.

use crate::db::{write_group, Db, Handled, NewDelivery, StoredDelivery};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest group committed at once; a larger backlog simply takes several commits.
const MAX_GROUP: usize = 512;
/// Groups waiting for intake before the hand-off gives up and intake reads the database.
const FEED_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// First sighting: durable now, intake will handle it.
    New,
    /// Seen before (a redelivery or a concurrent copy): nothing more will happen.
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

enum Work {
    Store(NewDelivery, oneshot::Sender<Result<Stored, IngestError>>),
    /// Intake's decisions; answered with how many took effect.
    Finish(Vec<Handled>, oneshot::Sender<Result<usize, IngestError>>),
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

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Work>, feed: FeedSender) {
    let mut new = Vec::with_capacity(MAX_GROUP);
    let mut replies = Vec::with_capacity(MAX_GROUP);
    let mut decisions = Vec::new();
    let mut finishes = Vec::new();
    // Waits for the first piece of work, then takes whatever else is already waiting: no
    // timer, so a lone delivery is committed at once and a burst is grouped by itself.
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(work) = next {
            match work {
                Work::Store(delivery, reply) => {
                    new.push(delivery);
                    replies.push(reply);
                }
                Work::Finish(handled, reply) => {
                    finishes.push((handled.iter().map(|h| h.seq).collect::<Vec<_>>(), reply));
                    decisions.extend(handled);
                }
            }
            next = if new.len() + decisions.len() < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        // The write connection is taken per group and given back right after the commit, so
        // the workers' small writes go in between groups.
        let result = match db.write_connection().await {
            Ok(mut conn) => write_group(&mut conn, &new, &decisions).await,
            Err(e) => Err(e),
        };
        decisions.clear();
        match result {
            Ok(mut written) => {
                let mut handed = Vec::with_capacity(written.fresh.len());
                for (delivery, reply) in new.drain(..).zip(replies.drain(..)) {
                    // `remove` so a second copy in the same group counts as a duplicate.
                    let verdict = match written.fresh.remove(&delivery.id.0) {
                        Some(seq) => {
                            handed.push(StoredDelivery {
                                seq,
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
                for (seqs, reply) in finishes.drain(..) {
                    let took = seqs.iter().filter(|s| written.finished.contains(s)).count();
                    let _ = reply.send(Ok(took));
                }
                if !handed.is_empty() && feed.groups.try_send(handed).is_err() {
                    feed.behind.notify_one();
                }
            }
            Err(err) => {
                tracing::error!(error = %err, deliveries = new.len(), "group commit failed");
                let failure = IngestError::Store(err.to_string());
                new.clear();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(failure.clone()));
                }
                for (_, reply) in finishes.drain(..) {
                    let _ = reply.send(Err(failure.clone()));
                }
            }
        }
    }
}
