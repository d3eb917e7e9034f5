//! Webhook deliveries: the durable inbox between the HTTP handler and intake.
//!
//! A delivery's body is remembered by its fingerprint, the HMAC the signature check has just
//! verified (see `NewDelivery::fingerprint`), for as long as its row is kept (`prune_deliveries`,
//! 30 days), and a body already stored is a duplicate, whatever its delivery id.
//!
//! Why a body and not the id: `X-GitHub-Delivery` (like `X-GitHub-Event`) is not covered by the
//! signature, only the body is, so whoever captured one signed delivery could send its body
//! again under a fresh id and have it acted on again. GitHub's own redeliveries (by hand, or
//! asked for by bosun's sweep) keep the event's id and its body, so the body refuses them too.
//! Two different events never have the same body: every payload carries the state of what it is
//! about at that moment (`updated_at`, to the second, on the issue, pull request or comment; a
//! new comment or review has a new `id`), its `action` and its `sender`, so two events differ in
//! at least one of these. (Only the same change made, undone and made again on one object within
//! one second could repeat a body; the repeat then says nothing the first copy did not.)
//!
//! One index, not two: the fingerprint's index is the only one whose keys come in random order,
//! and each such key rewrites a leaf page in the commit every answer waits for (migration 0013;
//! architecture.md, "Ingest performance", step 12). The price: a redelivery asked for after the
//! webhook secret was rotated is signed with the new secret, so its fingerprint is new and it is
//! taken as a new delivery (intake then judges it like any other: a trigger is checked against
//! GitHub again before it acts).

use super::{now_ms, Db};
use bosun_core::ids::DeliveryId;
use bytes::Bytes;
use sqlx::Row;
use std::collections::HashSet;

/// A verified delivery as the webhook handler hands it over.
#[derive(Debug)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event: String,
    /// As received.
    pub payload: Bytes,
    /// The body's verified `X-Hub-Signature-256` digest: a body already stored is a
    /// duplicate. The HMAC is already computed and identifies the body as well as a second
    /// hash would: a replay carries the captured signature, and another valid signature for
    /// the same body needs the secret. (Rows from before migration 0012 hold a SHA-256
    /// instead, which matches nothing now: a body received before that upgrade is not
    /// recognised when it comes again.)
    pub fingerprint: [u8; 32],
    pub received_at: i64,
}

impl NewDelivery {
    pub fn new(
        id: DeliveryId,
        event: String,
        payload: Bytes,
        fingerprint: [u8; 32],
        received_at: i64,
    ) -> Self {
        NewDelivery {
            id,
            event,
            payload,
            fingerprint,
            received_at,
        }
    }
}

/// A new delivery on its way into a group commit, with its verdict when the ingest writer
/// decided it; without one it waits for intake.
#[derive(Debug)]
pub struct Arriving {
    pub delivery: NewDelivery,
    pub verdict: Option<Verdict>,
}

/// How `delivery_payloads.payload` is encoded.
pub(super) const PAYLOAD_ENCODING: &str = "lz4";

/// A payload in its stored form.
pub(super) fn encode_payload(raw: &[u8]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(raw)
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

/// What a delivery means, as intake decides it.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub state: DeliveryState,
    pub outcome: String,
    /// Edits of an issue's description to remember (`issue_body_edits`), in the same commit.
    pub edits: Vec<bosun_core::job::BodyEdit>,
    pub jobs: Vec<bosun_core::job::NewJob>,
}

impl Verdict {
    /// A verdict with no effect but its state and note.
    pub fn plain(state: DeliveryState, outcome: impl Into<String>) -> Verdict {
        Verdict {
            state,
            outcome: outcome.into(),
            edits: Vec::new(),
            jobs: Vec::new(),
        }
    }
}

/// Intake's decision about a delivery already stored.
#[derive(Debug, Clone)]
pub struct Handled {
    pub seq: i64,
    pub verdict: Verdict,
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

/// What one group commit did: for each new delivery (in the order given), its sequence number
/// if it was stored, `None` if it was a duplicate (its body already in the table, or its id or
/// its body earlier in the group); the deliveries whose
/// intake decision took effect; and how many jobs it queued.
#[derive(Debug)]
pub struct GroupWritten {
    pub stored: Vec<Option<i64>>,
    pub finished: HashSet<i64>,
    pub jobs: usize,
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

    /// Records intake's decisions for a batch on its own. Tests only: the running server sends
    /// decisions through the ingest writer, to share its commits.
    #[cfg(test)]
    pub async fn finish_deliveries(&self, handled: &[Handled]) -> rusqlite::Result<usize> {
        let written = self.write_group(Vec::new(), handled.to_vec()).await?;
        Ok(written.finished.len())
    }

    /// How intake left a delivery, with its outcome note. For tests: ids have no index of their
    /// own (migration 0013), so this reads the whole table.
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

    /// Drops the payloads of handled deliveries older than `age_ms` (the row stays, with its
    /// id and its body's fingerprint, so a late redelivery or a replay is still recognised;
    /// quarantined ones keep theirs for a human to read) and forgets rows older than
    /// `forget_ms`, and with them their bodies: one sent again after that is taken as new.
    pub async fn prune_deliveries(&self, age_ms: i64, forget_ms: i64) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let trimmed = sqlx::query(
            "DELETE FROM delivery_payloads WHERE seq IN (
               SELECT seq FROM deliveries
               WHERE state IN ('processed', 'ignored') AND received_at < ?)",
        )
        .bind(now - age_ms)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let forgotten =
            sqlx::query("DELETE FROM deliveries WHERE state != 'received' AND received_at < ?")
                .bind(now - forget_ms)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(trimmed + forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use std::collections::HashMap;

    /// The body an event `name` would have: different events, different bodies.
    fn body(name: &str) -> Bytes {
        Bytes::from(format!("{{\"zen\":\"{name}\"}}"))
    }

    /// Delivery `id` of the event `id`.
    fn delivery(id: &str) -> NewDelivery {
        sent(id, id, now_ms())
    }

    /// Delivery `id` carrying the body of event `event`, received at `at`.
    fn sent(id: &str, event: &str, at: i64) -> NewDelivery {
        let body = body(event);
        // Any function of the body will do here; the server's is the verified signature.
        let fingerprint = sha2::Sha256::digest(&body).into();
        NewDelivery::new(DeliveryId(id.into()), "ping".into(), body, fingerprint, at)
    }

    /// Stores `batch` for intake to decide.
    async fn write(db: &Db, batch: impl IntoIterator<Item = NewDelivery>) -> Vec<Option<i64>> {
        let arriving = batch
            .into_iter()
            .map(|delivery| Arriving {
                delivery,
                verdict: None,
            })
            .collect();
        db.write_group(arriving, Vec::new()).await.unwrap().stored
    }

    fn kept(stored: &[Option<i64>]) -> Vec<bool> {
        stored.iter().map(Option::is_some).collect()
    }

    #[tokio::test]
    async fn a_batch_reports_only_first_sightings() {
        let (db, _dir) = super::super::test_db().await;
        let first = write(&db, [delivery("a"), delivery("b"), delivery("a")]).await;
        assert_eq!(kept(&first), [true, true, false]);
        let again = write(&db, [delivery("b"), delivery("c")]).await;
        assert_eq!(kept(&again), [false, true]);
        let waiting = db.waiting_deliveries(10).await.unwrap();
        let ids: Vec<_> = waiting.iter().map(|d| d.id.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(
            waiting.iter().all(|d| d.payload == body(&d.id.0)),
            "payloads joined back and decompressed"
        );
        assert_eq!(again[1], Some(waiting[2].seq));
    }

    #[tokio::test]
    async fn a_body_already_stored_is_a_duplicate_under_any_id_until_its_row_is_forgotten() {
        let (db, _dir) = super::super::test_db().await;
        let now = now_ms();
        // A captured delivery sent again under new ids: in a later group, and twice in one.
        assert_eq!(
            kept(&write(&db, [sent("real", "labeled", now)]).await),
            [true]
        );
        assert_eq!(
            kept(&write(&db, [sent("forged-1", "labeled", now + 5)]).await),
            [false]
        );
        let group = [
            sent("other", "opened", now + 10),
            sent("forged-2", "opened", now + 10),
            // GitHub's redelivery: same id, same body.
            sent("real", "labeled", now + 10),
        ];
        assert_eq!(kept(&write(&db, group).await), [true, false, false]);

        // Replayed under an id whose first copy in the group carries another body: the id
        // names the first copy only, so neither is taken as the other.
        let mixed = [
            sent("closed", "closed", now + 20),
            sent("forged-3", "closed", now + 20),
            sent("forged-3", "edited", now + 20),
        ];
        assert_eq!(kept(&write(&db, mixed).await), [true, false, false]);

        // However old the first copy, as long as its row is kept; once `prune_deliveries`
        // forgets the row, the body is new again.
        let day = 24 * 60 * 60 * 1000;
        let stored = write(
            &db,
            [
                sent("old", "reopened", now - 31 * day),
                sent("recent", "typed", now - 29 * day),
            ],
        )
        .await;
        let decided: Vec<_> = stored
            .into_iter()
            .map(|seq| Handled {
                seq: seq.expect("both are new"),
                verdict: Verdict::plain(DeliveryState::Ignored, ""),
            })
            .collect();
        db.finish_deliveries(&decided).await.unwrap();
        let late = |n| {
            [
                sent(&format!("late-{n}a"), "reopened", now),
                sent(&format!("late-{n}b"), "typed", now),
            ]
        };
        assert_eq!(kept(&write(&db, late(1)).await), [false, false]);
        db.prune_deliveries(3 * day, 30 * day).await.unwrap();
        assert_eq!(kept(&write(&db, late(2)).await), [true, false]);

        let waiting = db.waiting_deliveries(20).await.unwrap();
        let shown: Vec<_> = waiting
            .iter()
            .map(|d| (d.id.0.as_str(), d.payload.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("real", body("labeled")),
                ("other", body("opened")),
                ("closed", body("closed")),
                ("late-2a", body("reopened")),
            ]
        );
    }

    #[tokio::test]
    async fn rows_from_before_the_hashes_match_no_body() {
        let (db, _dir) = super::super::test_db().await;
        sqlx::query(
            "INSERT INTO deliveries (delivery_id, event, received_at) VALUES ('before', 'ping', ?)",
        )
        .bind(now_ms())
        .execute(&db.write)
        .await
        .unwrap();
        assert_eq!(kept(&write(&db, [delivery("after")]).await), [true]);
    }

    #[tokio::test]
    async fn finishing_a_delivery_takes_it_out_of_the_inbox() {
        let (db, _dir) = super::super::test_db().await;
        write(&db, [delivery("a")]).await;
        let seq = db.waiting_deliveries(1).await.unwrap()[0].seq;
        db.finish_deliveries(&[Handled {
            seq,
            verdict: Verdict::plain(DeliveryState::Quarantined, "bad json"),
        }])
        .await
        .unwrap();
        assert!(db.waiting_deliveries(1).await.unwrap().is_empty());
        let twice = Handled {
            seq,
            verdict: Verdict::plain(DeliveryState::Processed, "again"),
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
        let names = ["fresh", "week", "odd", "old"];
        let stored = write(
            &db,
            names.iter().zip([0, 7, 7, 40]).map(|(id, d)| aged(id, d)),
        )
        .await;
        let seqs: HashMap<&str, i64> = names
            .into_iter()
            .zip(&stored)
            .map(|(id, seq)| (id, seq.unwrap()))
            .collect();
        let decide = |id: &str, state| Handled {
            seq: seqs[id],
            verdict: Verdict::plain(state, ""),
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
        // A row whose payload was dropped keeps its body's fingerprint: a replay is still refused.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        db.prune_deliveries(0, 30 * day).await.unwrap();
        let payloads: Vec<i64> = sqlx::query_scalar("SELECT seq FROM delivery_payloads")
            .fetch_all(&db.read)
            .await
            .unwrap();
        assert_eq!(
            payloads,
            [seqs["odd"]],
            "the fresh one's payload is gone too"
        );
        let replay = sent("replay", "fresh", now_ms());
        assert_eq!(kept(&write(&db, [replay]).await), [false]);
    }
}
