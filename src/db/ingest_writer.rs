//! The ingest writer's connection: a plain SQLite connection (rusqlite), driven from the
//! writer's own thread, not an async one. A group commit is a dozen small statements; through
//! sqlx each is a message to the connection's worker thread and back, and while the label
//! flood ran a group of six deliveries took 0.8 ms that way, so the writer, not the disk, set
//! the webhook's pace. Here the whole group runs on one thread, on statements prepared once.
//!
//! The connection takes turns with the pool's write connection (`write_turn`) like the async
//! writer did, so the two never meet at SQLite's file lock.

use super::deliveries::{
    encode_payload, Arriving, DeliveryState, GroupWritten, Handled, Verdict, PAYLOAD_ENCODING,
};
use super::{now_ms, write_turn::Turn};
use bosun_core::job::{BodyEdit, NewJob};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashSet;
use std::path::Path;

/// The ingest writer's connection. Its methods block: call them from the writer's thread (or
/// `spawn_blocking`), never from an async task.
pub struct IngestWriter {
    conn: Connection,
    turn: Turn,
}

impl std::fmt::Debug for IngestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestWriter").finish_non_exhaustive()
    }
}

impl IngestWriter {
    /// Opens a connection to the database the migrations already set up, with the settings of
    /// the pool's connections (`connect_options`: change them together; the page size is the
    /// file's own, set when the migrations created it).
    pub(super) fn open(path: &Path, turn: Turn) -> rusqlite::Result<IngestWriter> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.pragma_update(
            None,
            "journal_size_limit",
            super::checkpoints::WAL_KEEP_BYTES,
        )?;
        Ok(IngestWriter { conn, turn })
    }

    /// One transaction: stores the new deliveries, each with its verdict when the writer
    /// decided it, and records intake's decisions about earlier ones, so the two share one
    /// commit. The commit is not yet durable: the caller fsyncs the WAL before it answers.
    pub fn write_group(
        &mut self,
        new: &[Arriving],
        decisions: &[Handled],
    ) -> rusqlite::Result<GroupWritten> {
        // Waits for at most the one transaction in progress on the pool's connection.
        let _turn = self.turn.blocking_lock();
        let mut tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        let mut jobs = 0;
        let stored = insert(&mut tx, new, &mut jobs)?;
        let finished = finish(&mut tx, decisions, &mut jobs)?;
        tx.commit()?;
        Ok(GroupWritten {
            stored,
            finished,
            jobs,
        })
    }

    /// Whether some delivery still waits for intake: until none does, the writer leaves new
    /// ones to intake too, so jobs keep the order of their deliveries.
    pub fn any_waiting(&mut self) -> rusqlite::Result<bool> {
        let _turn = self.turn.blocking_lock();
        self.conn
            .prepare_cached("SELECT 1 FROM deliveries WHERE state = 'received' LIMIT 1")?
            .query_row([], |_| Ok(()))
            .optional()
            .map(|row| row.is_some())
    }
}

/// The indexes of the deliveries of `batch` that are first sightings within it: neither their
/// id nor their body came earlier in the batch. Only these are offered to the table (an id
/// must name one body, and a replay in the same group is as much a replay as a later one).
fn firsts_in_batch(batch: &[Arriving]) -> Vec<usize> {
    let mut ids = HashSet::with_capacity(batch.len());
    let mut bodies = HashSet::with_capacity(batch.len());
    (0..batch.len())
        .filter(|&i| {
            let d = &batch[i].delivery;
            // Both sets are told about every delivery, kept or not.
            let new_id = ids.insert(d.id.0.as_str());
            let new_body = bodies.insert(d.fingerprint);
            new_id && new_body
        })
        .collect()
}

/// Stores each delivery whose body is not in the table (`OR IGNORE` on the `UNIQUE` index of
/// fingerprints, `deliveries_body_fingerprint`), with its verdict's effects when it has one.
fn insert(
    tx: &mut Transaction<'_>,
    batch: &[Arriving],
    jobs: &mut usize,
) -> rusqlite::Result<Vec<Option<i64>>> {
    let mut stored = vec![None; batch.len()];
    let now = now_ms();
    for i in firsts_in_batch(batch) {
        let Arriving {
            delivery: d,
            verdict,
        } = &batch[i];
        let (state, outcome, processed_at) = match verdict {
            Some(v) => (v.state, Some(v.outcome.as_str()), Some(now)),
            None => (DeliveryState::Received, None, None),
        };
        let seq: Option<i64> = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO deliveries
                   (delivery_id, event, received_at, body_fingerprint, state, outcome, processed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 RETURNING seq",
            )?
            .query_row(
                params![
                    d.id.0,
                    d.event,
                    d.received_at,
                    &d.fingerprint[..],
                    state.as_str(),
                    outcome,
                    processed_at,
                ],
                |row| row.get(0),
            )
            .optional()?;
        let Some(seq) = seq else { continue };
        stored[i] = Some(seq);
        // The payload is kept for whoever still needs it: intake, for a delivery it has yet
        // to decide; a human, for one quarantined. A decided delivery's effects are stored
        // with it, and GitHub's delivery log keeps every payload for redelivery.
        if verdict
            .as_ref()
            .is_none_or(|v| v.state == DeliveryState::Quarantined)
        {
            tx.prepare_cached(
                "INSERT INTO delivery_payloads (seq, encoding, payload) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![seq, PAYLOAD_ENCODING, encode_payload(&d.payload)])?;
        }
        if let Some(v) = verdict {
            effects(tx, v, jobs)?;
        }
    }
    Ok(stored)
}

/// Applies intake's decisions to deliveries still `received`, with their effects, in delivery
/// order (jobs of one issue must queue in the order their events came). A delivery decided
/// twice (hand-off and catch-up) takes effect once.
fn finish(
    tx: &mut Transaction<'_>,
    handled: &[Handled],
    jobs: &mut usize,
) -> rusqlite::Result<HashSet<i64>> {
    let now = now_ms();
    let mut changed = HashSet::with_capacity(handled.len());
    for h in handled {
        let updated = tx
            .prepare_cached(
                "UPDATE deliveries SET state = ?1, outcome = ?2, processed_at = ?3
                 WHERE seq = ?4 AND state = 'received'",
            )?
            .execute(params![
                h.verdict.state.as_str(),
                h.verdict.outcome,
                now,
                h.seq
            ])?;
        if updated == 1 && changed.insert(h.seq) {
            effects(tx, &h.verdict, jobs)?;
        }
    }
    Ok(changed)
}

/// A decided delivery's description edits, then its jobs: a trigger the same delivery queues
/// must see the edit.
fn effects(tx: &mut Transaction<'_>, verdict: &Verdict, jobs: &mut usize) -> rusqlite::Result<()> {
    for edit in &verdict.edits {
        record_edit(tx, edit)?;
    }
    for job in &verdict.jobs {
        enqueue(tx, job)?;
        *jobs += 1;
    }
    Ok(())
}

fn record_edit(tx: &mut Transaction<'_>, edit: &BodyEdit) -> rusqlite::Result<()> {
    tx.prepare_cached(super::body_edits::INSERT)?
        .execute(params![
            edit.repo_id.0 as i64,
            edit.issue.0 as i64,
            edit.editor.login,
            edit.editor.id.0 as i64,
            edit.editor.is_bot,
            edit.old_body,
            now_ms()
        ])?;
    Ok(())
}

fn enqueue(tx: &mut Transaction<'_>, job: &NewJob) -> rusqlite::Result<()> {
    let now = now_ms();
    tx.prepare_cached(super::jobs::INSERT)?.execute(params![
        job.kind,
        job.payload,
        job.serial_key,
        job.coalesce_key,
        job.max_attempts,
        job.run_after,
        now,
        now
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::deliveries::{Arriving, DeliveryState, NewDelivery, Verdict};
    use bosun_core::ids::DeliveryId;
    use bosun_core::job::NewJob;

    fn arriving(id: &str, verdict: Option<Verdict>) -> Arriving {
        let delivery = NewDelivery::new(
            DeliveryId(id.into()),
            "issues".into(),
            format!("{{\"id\":\"{id}\"}}").into(),
            [id.len() as u8; 32],
            super::now_ms(),
        );
        Arriving { delivery, verdict }
    }

    /// What intake decides about a trigger: processed, one job queued.
    fn trigger_queued() -> Verdict {
        let job = NewJob {
            kind: "trigger",
            payload: "{}".into(),
            serial_key: Some("r/1".into()),
            coalesce_key: None,
            max_attempts: 3,
            run_after: 0,
        };
        Verdict {
            jobs: vec![job],
            ..Verdict::plain(DeliveryState::Processed, "trigger queued")
        }
    }

    #[tokio::test]
    async fn a_decided_delivery_keeps_its_effects_and_only_a_quarantined_one_its_payload() {
        let (db, _dir) = crate::db::test_db().await;
        let queued = trigger_queued();
        let written = db
            .write_group(
                vec![
                    arriving("a", None),
                    arriving(
                        "bb",
                        Some(Verdict::plain(DeliveryState::Ignored, "a label")),
                    ),
                    arriving(
                        "ccc",
                        Some(Verdict::plain(DeliveryState::Quarantined, "bad")),
                    ),
                    arriving("dddd", Some(queued)),
                ],
                Vec::new(),
            )
            .await
            .unwrap();
        assert!(written.stored.iter().all(Option::is_some));
        assert_eq!(written.jobs, 1);
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT d.delivery_id FROM delivery_payloads p JOIN deliveries d USING (seq)
             ORDER BY d.seq",
        )
        .fetch_all(&db.read)
        .await
        .unwrap();
        assert_eq!(payloads, ["a", "ccc"], "kept for intake and for a human");
        for (id, state, outcome) in [
            ("a", "received", None),
            ("bb", "ignored", Some("a label")),
            ("ccc", "quarantined", Some("bad")),
            ("dddd", "processed", Some("trigger queued")),
        ] {
            let found = db.delivery_state(&DeliveryId(id.into())).await.unwrap();
            assert_eq!(
                found,
                Some((state.to_string(), outcome.map(str::to_string))),
                "{id}"
            );
        }
        let jobs = db.job_counts().await.unwrap();
        assert_eq!(jobs, [("queued".to_string(), 1)]);

        // A redelivery of a decided delivery is a duplicate, and queues nothing again.
        let queued_again = trigger_queued();
        let again = db
            .write_group(vec![arriving("dddd", Some(queued_again))], Vec::new())
            .await
            .unwrap();
        assert_eq!(again.stored, [None]);
        assert_eq!(again.jobs, 0);
        assert_eq!(db.job_counts().await.unwrap(), [("queued".to_string(), 1)]);
    }
}
