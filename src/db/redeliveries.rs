//! Which missed deliveries bosun already asked GitHub to redeliver.

use super::Db;
use bosun_core::ids::DeliveryId;

impl Db {
    /// True when bosun neither stored this delivery nor asked for it again before.
    pub async fn needs_redelivery(&self, id: &DeliveryId) -> Result<bool, sqlx::Error> {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM deliveries WHERE delivery_id = ?1
             UNION ALL SELECT 1 FROM redelivery_requests WHERE delivery_id = ?1 LIMIT 1",
        )
        .bind(&id.0)
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
