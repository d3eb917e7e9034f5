//! Webhook deliveries: the durable inbox between the HTTP handler and intake.

use super::{now_ms, Db};
use bosun_core::ids::DeliveryId;
use bytes::Bytes;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row, Sqlite, Transaction};
use std::collections::{HashMap, HashSet};

/// A verified delivery as the webhook handler hands it over.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event: String,
    /// As received: what intake parses.
    pub payload: Bytes,
    /// As stored (see `PAYLOAD_ENCODING`).
    pub compressed: Bytes,
    pub received_at: i64,
}

/// How `delivery_payloads.payload` is encoded.
const PAYLOAD_ENCODING: &str = "lz4";

impl NewDelivery {
    /// Compresses here, in the request's own task, so the cost is spread over all the
    /// runtime's threads instead of falling on the single writer.
    pub fn new(id: DeliveryId, event: String, payload: Bytes, received_at: i64) -> Self {
        let compressed = Bytes::from(lz4_flex::compress_prepend_size(&payload));
        NewDelivery {
            id,
            event,
            payload,
            compressed,
            received_at,
        }
    }
}

/// The payload as received, from its stored form. A payload that cannot be decoded comes back
/// empty, and intake then quarantines the delivery as unreadable.
fn decode_payload(encoding: &str, stored: Vec<u8>) -> Bytes {
    match encoding {
        PAYLOAD_ENCODING => match lz4_flex::decompress_size_prepended(&stored) {
            Ok(raw) => Bytes::from(raw),
            Err(e) => {
                tracing::error!(error = %e, "a stored payload does not decompress");
                Bytes::new()
            }
        },
        other => {
            tracing::error!(encoding = other, "a stored payload has an unknown encoding");
            Bytes::new()
        }
    }
}

/// A delivery waiting for intake.
#[derive(Debug, Clone)]
pub struct StoredDelivery {
    pub seq: i64,
    pub id: DeliveryId,
    pub event: String,
    pub payload: Bytes,
}

/// Intake's decision about one stored delivery.
#[derive(Debug, Clone)]
pub struct Handled {
    pub seq: i64,
    pub state: DeliveryState,
    pub outcome: String,
    pub jobs: Vec<bosun_core::job::NewJob>,
}

/// What intake decided about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// SQLite allows 32,766 bound variables per statement; three per row keeps a batch well under.
const MAX_ROWS_PER_STATEMENT: usize = 1000;

fn values_list(rows: usize, one: &str) -> String {
    let mut sql = String::with_capacity(rows * (one.len() + 1));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(one);
    }
    sql
}

/// What one group commit did: the new deliveries (id → sequence number; a repeated id, in the
/// table already or earlier in the group, is not new) and the deliveries whose intake decision
/// took effect.
#[derive(Debug)]
pub struct GroupWritten {
    pub fresh: HashMap<String, i64>,
    pub finished: HashSet<i64>,
}

/// One transaction for the ingest writer: stores new deliveries and records intake's decisions
/// together, so the two share one commit and never wait for each other's. The commit is not
/// yet durable: the caller makes it so with `Db::sync_wal` before it answers GitHub.
pub async fn write_group(
    conn: &mut SqliteConnection,
    new: &[NewDelivery],
    decisions: &[Handled],
) -> Result<GroupWritten, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let fresh = insert_in(&mut tx, new).await?;
    let finished = finish_in(&mut tx, decisions).await?;
    tx.commit().await?;
    Ok(GroupWritten { fresh, finished })
}

async fn insert_in(
    tx: &mut Transaction<'_, Sqlite>,
    batch: &[NewDelivery],
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut fresh = HashMap::with_capacity(batch.len());
    for chunk in batch.chunks(MAX_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT OR IGNORE INTO deliveries (delivery_id, event, received_at) VALUES {} \
             RETURNING seq, delivery_id",
            values_list(chunk.len(), "(?,?,?)")
        );
        let mut query = sqlx::query(&sql);
        for d in chunk {
            query = query.bind(&d.id.0).bind(&d.event).bind(d.received_at);
        }
        // The first copy of an id in the batch is the one whose row was inserted.
        let mut first: HashMap<&str, &Bytes> = HashMap::with_capacity(chunk.len());
        for d in chunk {
            first.entry(d.id.0.as_str()).or_insert(&d.compressed);
        }
        let mut stored = Vec::new();
        for row in query.fetch_all(&mut **tx).await? {
            let seq: i64 = row.try_get(0)?;
            let id: String = row.try_get(1)?;
            if let Some(payload) = first.get(id.as_str()) {
                stored.push((seq, (*payload).clone()));
            }
            fresh.insert(id, seq);
        }
        if stored.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO delivery_payloads (seq, encoding, payload) VALUES {}",
            values_list(stored.len(), "(?,?,?)")
        );
        let mut query = sqlx::query(&sql);
        for (seq, payload) in &stored {
            query = query
                .bind(seq)
                .bind(PAYLOAD_ENCODING)
                .bind(payload.as_ref());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(fresh)
}

/// Applies intake's decisions to deliveries still `received` and enqueues the jobs of those
/// that changed, in delivery order (jobs of one issue must queue in the order their events
/// came). A delivery decided twice (hand-off and catch-up) takes effect once.
async fn finish_in(
    tx: &mut Transaction<'_, Sqlite>,
    handled: &[Handled],
) -> Result<HashSet<i64>, sqlx::Error> {
    let now = now_ms();
    let mut changed = HashSet::with_capacity(handled.len());
    // One statement per chunk, whatever mix of decisions it holds.
    for chunk in handled.chunks(MAX_ROWS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE deliveries SET state = v.column2, outcome = v.column3, processed_at = ? \
             FROM (VALUES {}) AS v \
             WHERE deliveries.seq = v.column1 AND deliveries.state = 'received' \
             RETURNING deliveries.seq",
            values_list(chunk.len(), "(?,?,?)")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for h in chunk {
            query = query.bind(h.seq).bind(h.state.as_str()).bind(&h.outcome);
        }
        for row in query.fetch_all(&mut **tx).await? {
            changed.insert(row.try_get::<i64, _>(0)?);
        }
    }
    for h in handled.iter().filter(|h| changed.contains(&h.seq)) {
        for job in &h.jobs {
            super::jobs::enqueue_in(tx, job).await?;
        }
    }
    Ok(changed)
}

impl Db {
    /// The oldest deliveries intake has not handled yet.
    pub async fn waiting_deliveries(&self, limit: i64) -> Result<Vec<StoredDelivery>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT d.seq, d.delivery_id, d.event, p.encoding, p.payload
             FROM deliveries d LEFT JOIN delivery_payloads p ON p.seq = d.seq
             WHERE d.state = 'received' ORDER BY d.seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredDelivery {
                    seq: r.try_get(0)?,
                    id: DeliveryId(r.try_get(1)?),
                    event: r.try_get(2)?,
                    payload: match (
                        r.try_get::<Option<String>, _>(3)?,
                        r.try_get::<Option<Vec<u8>>, _>(4)?,
                    ) {
                        (Some(encoding), Some(stored)) => decode_payload(&encoding, stored),
                        _ => Bytes::new(),
                    },
                })
            })
            .collect()
    }

    /// Records intake's decisions for a batch (see `write_group`), on its own. Tests only: the
    /// running server sends decisions through the ingest writer, to share its commits.
    #[cfg(test)]
    pub async fn finish_deliveries(&self, handled: &[Handled]) -> Result<usize, sqlx::Error> {
        let mut conn = self.write_connection().await?;
        Ok(write_group(&mut conn, &[], handled).await?.finished.len())
    }

    /// How intake left a delivery, with its outcome note (tests and the dashboard read it).
    pub async fn delivery_state(
        &self,
        id: &DeliveryId,
    ) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
        let row = sqlx::query("SELECT state, outcome FROM deliveries WHERE delivery_id = ?")
            .bind(&id.0)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Deliveries by state, for /metrics.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        self.count_by("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            .await
    }

    /// Drops the payloads of handled deliveries older than `age_ms` (the id stays, so a late
    /// redelivery is still recognised; quarantined ones keep theirs for a human to read) and
    /// forgets ids older than `forget_ms`.
    pub async fn prune_deliveries(&self, age_ms: i64, forget_ms: i64) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let trimmed = sqlx::query(
            "DELETE FROM delivery_payloads WHERE seq IN (
               SELECT seq FROM deliveries
               WHERE state IN ('processed', 'ignored') AND received_at < ?)",
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
        NewDelivery::new(
            DeliveryId(id.into()),
            "ping".into(),
            Bytes::from_static(b"{}"),
            now_ms(),
        )
    }

    #[tokio::test]
    async fn a_batch_reports_only_first_sightings() {
        let (db, _dir) = super::super::test_db().await;
        let mut conn = db.write_connection().await.unwrap();
        let fresh = write_group(
            &mut conn,
            &[delivery("a"), delivery("b"), delivery("a")],
            &[],
        )
        .await
        .unwrap()
        .fresh;
        assert_eq!(fresh.len(), 2);
        let again = write_group(&mut conn, &[delivery("b"), delivery("c")], &[])
            .await
            .unwrap()
            .fresh;
        assert_eq!(again.keys().collect::<Vec<_>>(), ["c"]);
        let waiting = db.waiting_deliveries(10).await.unwrap();
        let ids: Vec<_> = waiting.iter().map(|d| d.id.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(
            waiting.iter().all(|d| d.payload == "{}"),
            "payloads joined back and decompressed"
        );
        assert_eq!(again["c"], waiting[2].seq);
    }

    #[tokio::test]
    async fn finishing_a_delivery_takes_it_out_of_the_inbox() {
        let (db, _dir) = super::super::test_db().await;
        {
            // Held only for the insert: every other write waits for this connection.
            let mut conn = db.write_connection().await.unwrap();
            write_group(&mut conn, &[delivery("a")], &[]).await.unwrap();
        }
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
        let twice = Handled {
            seq,
            state: DeliveryState::Processed,
            outcome: "again".into(),
            jobs: vec![],
        };
        assert_eq!(
            db.finish_deliveries(&[twice]).await.unwrap(),
            0,
            "handled once only"
        );
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

    #[tokio::test]
    async fn pruning_drops_old_payloads_then_old_ids_but_keeps_quarantined_payloads() {
        let (db, _dir) = super::super::test_db().await;
        let day = 24 * 3600 * 1000;
        let aged = |id: &str, days: i64| {
            let mut d = delivery(id);
            d.received_at = now_ms() - days * day;
            d
        };
        let batch = [
            aged("fresh", 0),
            aged("week", 7),
            aged("odd", 7),
            aged("old", 40),
        ];
        let seqs = {
            let mut conn = db.write_connection().await.unwrap();
            write_group(&mut conn, &batch, &[]).await.unwrap().fresh
        };
        let decide = |id: &str, state| Handled {
            seq: seqs[id],
            state,
            outcome: String::new(),
            jobs: vec![],
        };
        db.finish_deliveries(&[
            decide("fresh", DeliveryState::Ignored),
            decide("week", DeliveryState::Ignored),
            decide("odd", DeliveryState::Quarantined),
            decide("old", DeliveryState::Processed),
        ])
        .await
        .unwrap();
        db.prune_deliveries(3 * day, 30 * day).await.unwrap();

        let payloads: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM delivery_payloads ORDER BY seq")
                .fetch_all(&db.read)
                .await
                .unwrap();
        assert_eq!(payloads, [seqs["fresh"], seqs["odd"]]);
        for (id, kept) in [
            ("fresh", true),
            ("week", true),
            ("odd", true),
            ("old", false),
        ] {
            let found = db.delivery_state(&DeliveryId(id.into())).await.unwrap();
            assert_eq!(found.is_some(), kept, "{id}");
        }
    }
}
