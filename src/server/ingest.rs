//! The ingest writer: one task that commits webhook deliveries in groups on the database's
//! write connection. Each request waits for the commit that holds its delivery, so nothing is
//! acknowledged before it is on disk, yet a burst shares one fsync. After each commit the new
//! deliveries are handed to intake in memory, so intake does not read back what it was given.

use crate::db::{insert_delivery_batch, Db, NewDelivery, StoredDelivery};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest group committed at once; a larger backlog simply takes several commits.
const MAX_GROUP: usize = 512;
/// Groups waiting for intake before the hand-off gives up and intake reads the database.
const FEED_DEPTH: usize = 64;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// First sighting: durable now, intake will handle it.
    New,
    /// Seen before (a redelivery or a concurrent copy): nothing more will happen.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the delivery store is unavailable: {0}")]
    Store(String),
    #[error("the ingest writer has stopped")]
    Closed,
}

type Reply = oneshot::Sender<Result<Stored, IngestError>>;

#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<(NewDelivery, Reply)>,
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
        (
            Ingest { tx },
            Feed {
                groups: feed,
                behind,
            },
        )
    }

    pub async fn store(&self, delivery: NewDelivery) -> Result<Stored, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((delivery, reply))
            .await
            .map_err(|_| IngestError::Closed)?;
        answer.await.map_err(|_| IngestError::Closed)?
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<(NewDelivery, Reply)>, feed: FeedSender) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    let mut replies = Vec::with_capacity(MAX_GROUP);
    // Waits for the first delivery, then takes whatever else is already waiting: no timer,
    // so a lone delivery is committed at once and a burst is grouped by itself.
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some((delivery, reply)) = next {
            batch.push(delivery);
            replies.push(reply);
            next = if batch.len() < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        // The write connection is taken per group and given back right after the commit, so
        // intake and the workers write between groups.
        let result = match db.write_connection().await {
            Ok(mut conn) => insert_delivery_batch(&mut conn, &batch).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(mut fresh) => {
                let mut handed = Vec::with_capacity(fresh.len());
                for (delivery, reply) in batch.drain(..).zip(replies.drain(..)) {
                    // `remove` so a second copy in the same group counts as a duplicate.
                    let verdict = match fresh.remove(&delivery.id.0) {
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
                if !handed.is_empty() && feed.groups.try_send(handed).is_err() {
                    feed.behind.notify_one();
                }
            }
            Err(err) => {
                tracing::error!(error = %err, deliveries = batch.len(), "storing deliveries failed");
                batch.clear();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(IngestError::Store(err.to_string())));
                }
            }
        }
    }
}
