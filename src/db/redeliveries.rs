//! Which missed deliveries bosun already asked GitHub to redeliver.

use super::Db;
use bosun_core::ids::DeliveryId;

/// How far bosun's clock and GitHub's may disagree, and how long GitHub waits for an answer,
/// with room to spare: a delivery bosun stored was received this close to an attempt GitHub
/// logged.
pub const CLOCK_SLACK_MS: i64 = 10 * 60 * 1000;

impl Db {
    /// True when bosun neither stored this delivery nor asked for it again before. `sent` is
    /// when GitHub tried to deliver it (the first and the last of its attempts, unix ms): ids
    /// have no index of their own (migration 0013), so the row is looked for among those
    /// received within `CLOCK_SLACK_MS` of those times, on the index of reception times.
    pub async fn needs_redelivery(
        &self,
        id: &DeliveryId,
        sent: (i64, i64),
    ) -> Result<bool, sqlx::Error> {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries
               WHERE received_at BETWEEN ?2 AND ?3 AND delivery_id = ?1
             UNION ALL SELECT 1 FROM redelivery_requests WHERE delivery_id = ?1 LIMIT 1",
        )
        .bind(&id.0)
        .bind(sent.0 - CLOCK_SLACK_MS)
        .bind(sent.1 + CLOCK_SLACK_MS)
        .fetch_optional(&self.read)
        .await?;
        Ok(known.is_none())
    }

    /// Remembers that a redelivery was asked for; false when it already was.
    pub async fn note_redelivery(
        &self,
        id: &DeliveryId,
        hook_delivery_id: u64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO redelivery_requests (delivery_id, hook_delivery_id, requested_at)
             VALUES (?, ?, ?)",
        )
        .bind(&id.0)
        .bind(hook_delivery_id as i64)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::deliveries::{Arriving, NewDelivery};

    #[tokio::test]
    async fn a_stored_delivery_is_found_by_its_id_around_when_github_sent_it() {
        let (db, _dir) = super::super::test_db().await;
        let at = 1_800_000_000_000;
        let id = DeliveryId("g-stored".into());
        let delivery = NewDelivery::new(id.clone(), "ping".into(), "{}".into(), [7; 32], at);
        db.write_group(
            vec![Arriving {
                delivery,
                verdict: None,
            }],
            vec![],
        )
        .await
        .unwrap();

        // GitHub logged its attempts a little before and after bosun's clock said.
        assert!(!db
            .needs_redelivery(&id, (at + 2_000, at + 9_000))
            .await
            .unwrap());
        assert!(!db
            .needs_redelivery(&id, (at - 60_000, at - 60_000))
            .await
            .unwrap());
        // Another id, or the same one sent at another time, is not this row.
        let other = DeliveryId("g-missed".into());
        assert!(db.needs_redelivery(&other, (at, at)).await.unwrap());
        let day = 24 * 60 * 60 * 1000;
        assert!(db
            .needs_redelivery(&id, (at + day, at + day))
            .await
            .unwrap());

        // Asked for once, it is not asked again, whenever it was sent.
        assert!(db.note_redelivery(&other, 9).await.unwrap());
        assert!(!db.needs_redelivery(&other, (at, at)).await.unwrap());
    }
}
