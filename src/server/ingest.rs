//! The ingest writer: one task that owns a dedicated SQLite connection and commits webhook
//! deliveries in groups. Each request waits for the commit that holds its delivery, so nothing
//! is acknowledged before it is on disk, yet a burst shares one fsync.

use crate::db::{insert_delivery_batch, Db, NewDelivery};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest group committed at once; a larger backlog simply takes several commits.
const MAX_GROUP: usize = 512;

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
    /// Starts the writer. `stored` is notified after every commit that stored something new,
    /// which wakes intake.
    pub async fn start(db: &Db, stored: Arc<Notify>) -> anyhow::Result<Ingest> {
        let conn = db.dedicated_connection().await?;
        let (tx, rx) = mpsc::channel(MAX_GROUP * 8);
        tokio::spawn(write_loop(conn, rx, stored));
        Ok(Ingest { tx })
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

async fn write_loop(
    mut conn: sqlx::SqliteConnection,
    mut rx: mpsc::Receiver<(NewDelivery, Reply)>,
    stored: Arc<Notify>,
) {
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
        let result = insert_delivery_batch(&mut conn, &batch).await;
        match result {
            Ok(mut fresh) => {
                let any_new = !fresh.is_empty();
                for (delivery, reply) in batch.drain(..).zip(replies.drain(..)) {
                    // `remove` so a second copy in the same group counts as a duplicate.
                    let verdict = if fresh.remove(&delivery.id.0) {
                        Stored::New
                    } else {
                        Stored::Duplicate
                    };
                    let _ = reply.send(Ok(verdict));
                }
                if any_new {
                    stored.notify_one();
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
