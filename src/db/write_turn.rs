//! Whose turn it is to write. SQLite takes one writer at a time, and bosun has two kinds: the
//! ingest writer, whose group commits each hold up webhook answers, and everything else (the
//! workers' claims and task events, intake's catch-up, the CLI), which waits for nobody.
//!
//! Each kind has its own connection: the ingest writer a dedicated one (`ingest_writer`, a
//! blocking connection on the writer's own thread), everything else the one connection of the
//! write pool, where they queue among themselves in order. The two
//! connections take turns through one async lock (`turn`) that only two can ever wait on: the
//! ingest writer and whoever holds the pool's connection. So a group commit waits for at most
//! one other transaction, never for the queue of worker writes behind it (before, the ingest
//! writer took the pool's connection too, and queued behind every worker write in line: a
//! webhook's answer took up to 383 ms while 50 tasks ran). The connections never meet at
//! SQLite's own file lock, whose busy handler sleeps and polls.
//!
//! A transaction dropped without commit or rollback (an error path) hands its turn back before
//! sqlx has rolled it back on its connection; the other connection then meets SQLite's lock
//! and waits in its busy handler (`busy_timeout`) for that moment, which is correct if slower.

use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Sqlite, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The lock both connections take before they write.
pub(super) type Turn = Arc<Mutex<()>>;

/// The pool's connection, held with the turn: a write outside the ingest writer.
pub(super) struct Writer {
    conn: PoolConnection<Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl Writer {
    /// Queues for the pool's connection first (among the other writers), then takes the turn.
    pub(super) async fn take(pool: &sqlx::SqlitePool, turn: &Turn) -> Result<Writer, sqlx::Error> {
        let conn = pool.acquire().await?;
        let turn = turn.clone().lock_owned().await;
        Ok(Writer { conn, _turn: turn })
    }

    /// A transaction that takes SQLite's write lock up front (a deferred BEGIN that reads
    /// first can fail to upgrade with a busy-snapshot error no timeout cures).
    pub(super) async fn begin(self) -> Result<WriteTx, sqlx::Error> {
        let Writer { conn, _turn } = self;
        let tx = Transaction::begin(conn, Some("BEGIN IMMEDIATE".into())).await?;
        Ok(WriteTx { tx, _turn })
    }
}

impl Deref for Writer {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

/// A write transaction on the pool's connection that holds the turn until it ends.
pub(crate) struct WriteTx {
    // Declared first: dropped (its rollback queued) before the turn is handed back.
    tx: Transaction<'static, Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = Transaction<'static, Sqlite>;
    fn deref(&self) -> &Transaction<'static, Sqlite> {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Transaction<'static, Sqlite> {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use bosun_core::job::NewJob;
    use std::sync::{Arc, Mutex};

    fn job() -> NewJob {
        NewJob {
            kind: "a",
            payload: "{}".into(),
            serial_key: None,
            coalesce_key: None,
            max_attempts: 3,
            run_after: 0,
        }
    }

    #[tokio::test]
    async fn the_ingest_writer_waits_for_the_write_in_progress_not_for_the_writers_queued_behind_it(
    ) {
        let (db, _dir) = crate::db::test_db().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = db.begin_write().await.unwrap();
        let mut waiting = Vec::new();
        for i in 0..5 {
            let (db, order) = (db.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                db.enqueue(&[job()]).await.unwrap();
                order.lock().unwrap().push(format!("worker {i}"));
            }));
        }
        // The test runtime has one thread: the workers run until they wait for the pool's
        // connection, which `held` has.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        // On a thread of its own, as in the server: the ingest writer's connection blocks.
        let mut writer = db.ingest_writer().unwrap();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let ingest = {
            let order = order.clone();
            std::thread::spawn(move || {
                tid_tx
                    .send(std::fs::read_link("/proc/thread-self").unwrap())
                    .unwrap();
                writer.write_group(&[], &[]).unwrap();
                order.lock().unwrap().push("ingest".to_string());
            })
        };
        // The writer has queued for the turn once its thread sleeps: it does nothing else that
        // sleeps before the lock.
        let stat = std::path::Path::new("/proc")
            .join(tid_rx.recv().unwrap())
            .join("stat");
        let asleep = || {
            let stat = std::fs::read_to_string(&stat).unwrap_or_default();
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('S'))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !asleep() {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never waited"
            );
            std::thread::yield_now();
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody writes while one holds the turn"
        );
        held.commit().await.unwrap();
        tokio::task::spawn_blocking(move || ingest.join().unwrap())
            .await
            .unwrap();
        for w in waiting {
            w.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order[0], "ingest", "{order:?}");
        assert_eq!(order.len(), 6);
    }
}
