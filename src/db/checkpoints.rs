//! Checkpoints: copying committed WAL frames into the database file, and starting the WAL over.
//!
//! Commits only append to the WAL (autocheckpoint is off, so no commit pays for a checkpoint).
//! A background task copies the frames into the database file with PASSIVE checkpoints, which
//! never wait for or block a writer. But the WAL only starts over from its beginning when a
//! write transaction begins with every frame already copied, and under a steady flood of
//! webhooks there is always a commit between the end of a pass and the next transaction: the
//! file grew by 130 MB a second (about 3 frames of 4 KiB a delivery, one page for each random
//! index key) and never shrank until the flood paused.
//!
//! A WAL that grows is slower than one reused: appending to a file makes each fsync write the
//! file's new size through the filesystem's journal as well, where overwriting the blocks of a
//! WAL already that long does not (on this project's machine, fdatasync of 16 KiB took p50
//! 0.19–0.21 ms appending against 0.10–0.14 ms overwriting), and every webhook's answer waits
//! for that fsync. So once the WAL is past `RESTART_BYTES`, the checkpointer runs passes back
//! to back until one is short, then one last short pass holding the write turn
//! (`write_turn`), so that no commit comes between it and the next transaction, which then
//! writes from the start of the file again. The webhook answers wait for that one short pass:
//! 1–2.7 ms when it was measured first (`bosun-bench labels`, 4 KiB pages), 2–3 ms (p50, at
//! most 7) with the 1 KiB pages of now (`connect_options` has why), and the WAL file stayed at
//! 64–104 MB where it had reached 2.7 GB in 20 s.
//!
//! Every such pause delays every answer in flight, so how often the WAL starts over matters
//! as much as how long the pause is. The threshold is in bytes, not frames: when pages became
//! 1 KiB, the same 8,192 frames meant a restart twice a second (as often as the checkpointer
//! looks), and with those pauses the flood's p99 passed 5 ms in three runs of five.

use super::{connect_options, Db};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The WAL's length past which it is started over: 64 MiB, whatever the page size. Under the
/// label flood (`bosun-bench labels`) the WAL now starts over every 1.5–2 s, where 8,192
/// frames of 1 KiB made it twice a second, and the answers pause a third as often
/// (architecture.md, "Ingest performance", step 11).
const RESTART_BYTES: i64 = 64 << 20;
/// A pass that copied fewer frames than this was short, and so will the next one be: few
/// frames are written while a short pass runs.
const SHORT_PASS_FRAMES: i64 = 512;
/// Passes tried before giving up on starting over this time (the writes outpace the copy).
const MAX_PASSES: usize = 12;
/// `journal_size_limit`: a WAL that grew past this (a reader held it, or the writes
/// outpaced the copies) is cut back to it when it starts over, so it stays a file reused.
/// Room above `RESTART_BYTES` for what is written between the checkpointer's looks and
/// during its passes (under the flood the WAL reached 86 MiB): a WAL cut back each time
/// would grow again, and each fsync while it grows journals the new size.
pub(super) const WAL_KEEP_BYTES: i64 = 128 << 20;

/// What one `PRAGMA wal_checkpoint` reports: the frames in the WAL, and how many of them are
/// now copied into the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    frames: i64,
    copied: i64,
}

async fn passive(conn: &mut SqliteConnection) -> Result<Pass, sqlx::Error> {
    // `fetch_all`, not `fetch_one`: the statement runs to its end, so it holds no read
    // snapshot after it.
    let rows = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_all(&mut *conn)
        .await?;
    let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    Ok(Pass {
        frames: row.try_get(1)?,
        copied: row.try_get(2)?,
    })
}

/// The database's page size: each WAL frame holds one page (1 KiB in a database made now,
/// 4 KiB in one made before 90677f2, `connect_options`).
async fn page_size(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await
}

impl Db {
    /// Copies committed WAL frames into the database file every `every`, on a connection of
    /// its own, and starts the WAL over once it is long (see the module's comment), until
    /// `shutdown`.
    pub async fn run_checkpoints(&self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut conn = match SqliteConnection::connect_with(&match connect_options(&self.path) {
            Ok(o) => o,
            Err(e) => return tracing::error!(error = %e, "checkpointer cannot start"),
        })
        .await
        {
            Ok(c) => c,
            Err(e) => return tracing::error!(error = %e, "checkpointer cannot connect"),
        };
        let restart_frames = match page_size(&mut conn).await {
            Ok(size) => RESTART_BYTES / size.max(512),
            Err(e) => return tracing::error!(error = %e, "checkpointer cannot read the page size"),
        };
        // The WAL's length when it was last copied whole under the turn.
        let mut copied_whole = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => break,
            }
            let pass = match passive(&mut conn).await {
                Ok(pass) => pass,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
                    continue;
                }
            };
            // A pass reports the WAL as it was when the pass began, so `copied == frames` does
            // not tell whether commits came meanwhile; an unchanged length after a whole copy
            // does (nothing was written since: the next commit starts the WAL over by itself).
            if pass.frames >= restart_frames && copied_whole != Some(pass.frames) {
                match self.start_wal_over(&mut conn, pass).await {
                    Ok(whole) => copied_whole = whole,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not start the WAL over; will try again")
                    }
                }
            }
        }
        // A last full pass so a clean stop leaves a short WAL behind.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }

    /// Copies what is left, pass after pass, until a pass is short; then copies the rest
    /// holding the write turn, so that the next transaction finds every frame copied and
    /// writes from the start of the WAL. Returns the WAL's length when it copied it whole.
    async fn start_wal_over(
        &self,
        conn: &mut SqliteConnection,
        mut last: Pass,
    ) -> Result<Option<i64>, sqlx::Error> {
        for _ in 0..MAX_PASSES {
            let pass = passive(conn).await?;
            if pass.frames < last.frames {
                // A writer already started it over (the writes paused after a full copy).
                return Ok(None);
            }
            let short = pass.copied - last.copied < SHORT_PASS_FRAMES;
            last = pass;
            if short {
                // A pass that does not reach the WAL's end copies pages without syncing the
                // database file; the pass that does syncs them all. Written out here, the
                // pages of the last half second would make the pass under the turn take
                // 5-17 ms instead of about one.
                self.sync_database_file().await?;
                let started = Instant::now();
                let turn = self.turn.lock().await;
                let held = Instant::now();
                let pass = passive(conn).await?;
                drop(turn);
                let done = pass.copied == pass.frames;
                tracing::debug!(
                    frames = pass.frames,
                    copied_last = pass.copied - last.copied,
                    waited_us = (held - started).as_micros() as u64,
                    held_us = held.elapsed().as_micros() as u64,
                    done,
                    "last checkpoint pass, under the write turn"
                );
                // Not done: a reader still reads frames the checkpoint may not overwrite.
                return Ok(done.then_some(pass.frames));
            }
        }
        tracing::debug!(
            frames = last.frames,
            "the writes outpaced the checkpoint; the WAL goes on growing for now"
        );
        Ok(None)
    }

    /// fdatasync of the database file, off the async threads.
    async fn sync_database_file(&self) -> Result<(), sqlx::Error> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(path)?.sync_data())
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
            .map_err(sqlx::Error::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_len(db: &Db) -> u64 {
        std::fs::metadata(db.wal_path())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    async fn connect(db: &Db) -> SqliteConnection {
        SqliteConnection::connect_with(&connect_options(&db.path).unwrap())
            .await
            .unwrap()
    }

    /// A long WAL for the tests (8 MiB): `start_wal_over` is called directly, so it need not
    /// reach `RESTART_BYTES`.
    const LONG_WAL_PAGES: i64 = 8192;

    /// One commit of `pages` pages: as many WAL frames and then some (each row a blob just
    /// under a page of 1 KiB, a database's page size, `connect_options`).
    async fn write_pages(conn: &mut SqliteConnection, pages: i64) {
        sqlx::query("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO filler SELECT randomblob(900) FROM n",
        )
        .bind(pages)
        .execute(&mut *conn)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_long_wal_is_copied_whole_and_written_again_from_its_start() {
        let (db, _dir) = super::super::test_db().await;
        let (mut checkpointer, mut writer) = (connect(&db).await, connect(&db).await);
        write_pages(&mut writer, LONG_WAL_PAGES).await;
        let long = passive(&mut checkpointer).await.unwrap();
        assert!(long.frames >= LONG_WAL_PAGES, "{long:?}");
        let size = wal_len(&db);

        let whole = db.start_wal_over(&mut checkpointer, long).await.unwrap();
        assert_eq!(whole, Some(long.frames));
        write_pages(&mut writer, 1).await;
        let after = passive(&mut checkpointer).await.unwrap();
        assert!(after.frames < 16, "the WAL did not start over: {after:?}");
        // Reused, not cut: the file keeps its length (it is under `WAL_KEEP_BYTES`).
        assert_eq!(wal_len(&db), size);
    }

    #[tokio::test]
    async fn a_reader_keeps_the_frames_it_reads() {
        let (db, _dir) = super::super::test_db().await;
        let (mut checkpointer, mut writer) = (connect(&db).await, connect(&db).await);
        write_pages(&mut writer, 10).await;
        // A read transaction that began before the long write sees the database without it.
        let mut reader = connect(&db).await;
        sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
        sqlx::query("SELECT COUNT(*) FROM filler")
            .fetch_all(&mut reader)
            .await
            .unwrap();
        write_pages(&mut writer, LONG_WAL_PAGES).await;
        let long = passive(&mut checkpointer).await.unwrap();

        assert_eq!(
            db.start_wal_over(&mut checkpointer, long).await.unwrap(),
            None
        );
        sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
        write_pages(&mut writer, 1).await;
        let still = passive(&mut checkpointer).await.unwrap();
        assert!(still.frames > LONG_WAL_PAGES, "{still:?}");
    }
}
