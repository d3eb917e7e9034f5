//! Webhook deliveries: the durable inbox between the HTTP handler and intake.

use super::{now_ms, Db};
use crate::github::ids::DeliveryId;
use bytes::Bytes;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use std::collections::HashSet;

/// A verified delivery as the webhook handler hands it over.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event: String,
    pub payload: Bytes,
    pub received_at: i64,
}

/// A delivery waiting for intake.
#[derive(Debug, Clone)]
pub struct StoredDelivery {
    pub seq: i64,
    pub id: DeliveryId,
    pub event: String,
    pub payload: Vec<u8>,
}

/// Intake's decision about one stored delivery.
#[derive(Debug, Clone)]
pub struct Handled {
    pub seq: i64,
    pub state: DeliveryState,
    pub outcome: String,
    pub jobs: Vec<super::NewJob>,
}

/// What intake decided about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Received,
    /// Turned into work (or recognised and nothing was needed).
    Processed,
    /// An event or action bosun does not act on.
    Ignored,
    /// Signed correctly but not the JSON GitHub sends: kept aside for a human to look at.
    Quarantined,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Received,
        DeliveryState::Processed,
        DeliveryState::Ignored,
        DeliveryState::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Received => "received",
            DeliveryState::Processed => "processed",
            DeliveryState::Ignored => "ignored",
            DeliveryState::Quarantined => "quarantined",
        }
    }
}

/// SQLite allows 32,766 bound variables per statement; four per row keeps a batch well under.
const MAX_ROWS_PER_STATEMENT: usize = 1000;

/// Stores a batch in ONE transaction (one fsync for all of them) and returns the ids that were
/// new. A repeated id, in the table already or earlier in the same batch, is not new.
pub async fn insert_delivery_batch(
    conn: &mut SqliteConnection,
    batch: &[NewDelivery],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut fresh = HashSet::with_capacity(batch.len());
    let mut tx = conn.begin().await?;
    for chunk in batch.chunks(MAX_ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT OR IGNORE INTO deliveries (delivery_id, event, received_at, payload) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?,?,?,?)" } else { ",(?,?,?,?)" });
        }
        sql.push_str(" RETURNING delivery_id");
        let mut query = sqlx::query(&sql);
        for d in chunk {
            query = query
                .bind(&d.id.0)
                .bind(&d.event)
                .bind(d.received_at)
                .bind(d.payload.as_ref());
        }
        for row in query.fetch_all(&mut *tx).await? {
            fresh.insert(row.try_get::<String, _>(0)?);
        }
    }
    tx.commit().await?;
    Ok(fresh)
}

impl Db {
    /// The oldest deliveries intake has not handled yet.
    pub async fn waiting_deliveries(&self, limit: i64) -> Result<Vec<StoredDelivery>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT seq, delivery_id, event, payload FROM deliveries
             WHERE state = 'received' ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredDelivery {
                    seq: r.try_get(0)?,
                    id: DeliveryId(r.try_get(1)?),
                    event: r.try_get(2)?,
                    payload: r.try_get::<Option<Vec<u8>>, _>(3)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Records intake's decisions for a batch and enqueues the work they produced, in one
    /// transaction: a crash leaves the batch either waiting (handled again) or handled with its
    /// jobs queued, and one commit serves the whole batch.
    pub async fn finish_deliveries(&self, handled: &[Handled]) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        for h in handled {
            sqlx::query(
                "UPDATE deliveries SET state = ?, outcome = ?, processed_at = ? WHERE seq = ?",
            )
            .bind(h.state.as_str())
            .bind(&h.outcome)
            .bind(now)
            .bind(h.seq)
            .execute(&mut *tx)
            .await?;
            for job in &h.jobs {
                super::jobs::enqueue_in(&mut tx, job).await?;
            }
        }
        tx.commit().await
    }

    /// How intake left a delivery, with its outcome note (tests and the dashboard read it).
    pub async fn delivery_state(
        &self,
        id: &DeliveryId,
    ) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
        let row = sqlx::query("SELECT state, outcome FROM deliveries WHERE delivery_id = ?")
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Deliveries by state, for /metrics.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        self.count_by("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            .await
    }

    /// Drops the payloads of handled deliveries older than `age_ms` (the id stays, so a late
    /// redelivery is still recognised) and forgets ids older than `forget_ms`.
    pub async fn prune_deliveries(&self, age_ms: i64, forget_ms: i64) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let trimmed = sqlx::query(
            "UPDATE deliveries SET payload = NULL
             WHERE state != 'received' AND state != 'quarantined' AND payload IS NOT NULL
               AND received_at < ?",
        )
        .bind(now - age_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let forgotten =
            sqlx::query("DELETE FROM deliveries WHERE state != 'received' AND received_at < ?")
                .bind(now - forget_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(trimmed + forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str) -> NewDelivery {
        NewDelivery {
            id: DeliveryId(id.into()),
            event: "ping".into(),
            payload: Bytes::from_static(b"{}"),
            received_at: now_ms(),
        }
    }

    #[tokio::test]
    async fn a_batch_reports_only_first_sightings() {
        let (db, _dir) = super::super::test_db().await;
        let mut conn = db.dedicated_connection().await.unwrap();
        let fresh =
            insert_delivery_batch(&mut conn, &[delivery("a"), delivery("b"), delivery("a")])
                .await
                .unwrap();
        assert_eq!(fresh.len(), 2);
        let again = insert_delivery_batch(&mut conn, &[delivery("b"), delivery("c")])
            .await
            .unwrap();
        assert_eq!(again, HashSet::from(["c".to_string()]));
        let waiting = db.waiting_deliveries(10).await.unwrap();
        let ids: Vec<_> = waiting.iter().map(|d| d.id.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn finishing_a_delivery_takes_it_out_of_the_inbox() {
        let (db, _dir) = super::super::test_db().await;
        let mut conn = db.dedicated_connection().await.unwrap();
        insert_delivery_batch(&mut conn, &[delivery("a")])
            .await
            .unwrap();
        let seq = db.waiting_deliveries(1).await.unwrap()[0].seq;
        db.finish_deliveries(&[Handled {
            seq,
            state: DeliveryState::Quarantined,
            outcome: "bad json".into(),
            jobs: vec![],
        }])
        .await
        .unwrap();
        assert!(db.waiting_deliveries(1).await.unwrap().is_empty());
        let (state, outcome) = db
            .delivery_state(&DeliveryId("a".into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (state.as_str(), outcome.as_deref()),
            ("quarantined", Some("bad json"))
        );
    }
}
