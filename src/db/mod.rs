//! The one database facade. Every SQL statement bosun runs lives under `src/db/`; callers get
//! typed rows and typed errors, never a connection.

mod body_edits;
mod breakers;
mod checkpoints;
mod dashboard_queries;
mod deliveries;
#[cfg(test)]
mod fairness_tests;
mod ingest_writer;
mod jobs;
mod learnings;
mod queue;
mod queue_control;
mod redeliveries;
mod run_stats;
mod schedules;
mod task_queries;
mod tasks;
mod write_turn;

pub use body_edits::BodyEditRow;
pub use dashboard_queries::TaskRepo;
pub use deliveries::{
    Arriving, DeliveryState, GroupWritten, Handled, NewDelivery, StoredDelivery, Verdict,
};
pub use ingest_writer::IngestWriter;
pub use jobs::{ClaimedJob, DeadJob, Fence, JobId, RunLimits};
pub use learnings::{LearnedFrom, Learning};
pub use queue::QueueSpot;
pub use queue_control::{ControlEvent, QueueState};
pub use run_stats::{RunStat, SpendScope, StatsLine};
pub use schedules::ScheduleError;
pub use task_queries::{PendingJob, TaskListing, TimedEvent};
pub use tasks::{NewAttempt, RecordError, Resync, StartOutcome, TaskRow};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Milliseconds since the Unix epoch: the one clock every stored time uses.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Creates the data directory readable by its owner only (it holds the database and the App's
/// credentials). An existing directory is left as the operator set it up.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Reads go through a small pool. Writes go through two connections that take turns
/// (`write_turn`): the ingest writer's own, and ONE pooled connection for every other writer,
/// so writers queue in process (an async wait, woken in order) instead of meeting on SQLite's
/// file lock, whose busy handler sleeps and polls and turns contention into multi-millisecond
/// stalls, and a webhook's answer waits for at most one other transaction.
#[derive(Clone)]
pub struct Db {
    read: SqlitePool,
    write: SqlitePool,
    turn: write_turn::Turn,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

/// How long a connection waits for SQLite's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of every connection. The ingest writer's (`IngestWriter::open`, another
/// library) sets the same: change them together.
fn connect_options(path: &Path) -> Result<SqliteConnectOptions, sqlx::Error> {
    // WAL lets readers run beside the single writer. Commits are NORMAL (written to the WAL,
    // not yet fsynced) so the one write connection is never held through an fsync; the ingest
    // writer makes its groups durable by fsyncing the WAL before answering GitHub, and everything
    // else bosun writes is safe to redo if a power cut takes it (intake and jobs are
    // idempotent). A crash of bosun itself loses nothing: the WAL is in the page cache.
    Ok(
        SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Pages of 1 KiB, not SQLite's 4 KiB: a delivery adds a key in random order to
            // its body fingerprint's index (migration 0013), so each commit rewrites one page
            // of it per delivery, and a smaller page is fewer bytes to write and fsync before
            // the answer (architecture.md, "Ingest performance", steps 10 and 12). It applies
            // when the file is created; a database made before keeps the size it has.
            .page_size(1024)
            // Checkpoints run from a background task (`checkpoints`), not inside a commit.
            .pragma("wal_autocheckpoint", "0")
            .pragma(
                "journal_size_limit",
                checkpoints::WAL_KEEP_BYTES.to_string(),
            )
            .log_statements(tracing::log::LevelFilter::Trace),
    )
}

/// Applies pending migrations on a connection of their own with foreign keys off, as SQLite
/// asks for a change a table cannot take in place (rebuilt, dropped, renamed: migration 0013).
/// `PRAGMA foreign_keys` does nothing inside a transaction, and sqlx runs every SQLite
/// migration in one, so it is set on the connection before. What the migrations leave is then
/// checked against the foreign keys, and a violation stops the start.
async fn migrate(options: &SqliteConnectOptions) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect_with(&options.clone().foreign_keys(false)).await?;
    MIGRATOR.run(&mut conn).await?;
    let broken: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    anyhow::ensure!(
        broken.is_empty(),
        "the database's migrations left rows pointing at nothing: {broken:?}"
    );
    Ok(())
}

impl Db {
    /// Opens (creating if needed) `bosun.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        create_private_dir(data_dir)?;
        let path = data_dir.join("bosun.db");
        let options = connect_options(&path)?;
        migrate(&options).await?;
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // A ping per acquire costs a round trip on every group commit; the connection is
            // local and long-lived, and a broken one fails its next statement anyway.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Db {
            read,
            write,
            turn: Arc::default(),
            path,
        })
    }

    /// A connection of its own for the ingest writer, taking turns with the pool's write
    /// connection (`write_turn`). Opening it blocks briefly; its methods block.
    pub fn ingest_writer(&self) -> rusqlite::Result<IngestWriter> {
        IngestWriter::open(&self.path, self.turn.clone())
    }

    /// One group commit on a writer of its own, off the async threads. Tests only: the server
    /// keeps one writer on its own thread (`engine::ingest`).
    #[cfg(test)]
    pub(crate) async fn write_group(
        &self,
        new: Vec<Arriving>,
        decisions: Vec<Handled>,
    ) -> rusqlite::Result<GroupWritten> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.ingest_writer()?.write_group(&new, &decisions))
            .await
            .expect("the writer thread panicked")
    }

    /// The pool's write connection with the turn, for one statement outside a transaction.
    async fn writer(&self) -> Result<write_turn::Writer, sqlx::Error> {
        write_turn::Writer::take(&self.write, &self.turn).await
    }

    /// The WAL file, which holds every commit not yet checkpointed: the ingest writer fsyncs
    /// it to make its groups durable (`engine::ingest`).
    pub fn wal_path(&self) -> PathBuf {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        wal.into()
    }

    /// `SELECT 1`, for the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
    }

    /// A write transaction on the pool's connection that takes SQLite's write lock up front.
    /// A deferred BEGIN that reads first can fail to upgrade with a busy-snapshot error no
    /// timeout cures.
    async fn begin_write(&self) -> Result<write_turn::WriteTx, sqlx::Error> {
        self.writer().await?.begin().await
    }

    /// Runs a `SELECT <label>, COUNT(*) … GROUP BY <label>` query (the /metrics gauges).
    async fn count_by(&self, sql: &'static str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        use sqlx::Row;
        let rows = sqlx::query(sql).fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[cfg(test)]
pub(crate) async fn test_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).await.expect("open db");
    (db, dir)
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    #[tokio::test]
    async fn a_new_database_has_pages_of_one_kib_and_an_old_one_keeps_its_own() {
        let (db, _dir) = super::test_db().await;
        let size = |row: sqlx::sqlite::SqliteRow| row.get::<i64, _>(0);
        let new = sqlx::query("PRAGMA page_size").fetch_one(&db.read).await;
        assert_eq!(new.map(size).unwrap(), 1024);
        db.close().await;

        // A database made with SQLite's default pages, as bosun made them before: opening it
        // migrates it and leaves its pages as they are (WAL mode cannot change them).
        let old_dir = tempfile::tempdir().unwrap();
        let path = old_dir.path().join("bosun.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut made = sqlx::ConnectOptions::connect(&options).await.unwrap();
        sqlx::query("CREATE TABLE before (x)")
            .execute(&mut made)
            .await
            .unwrap();
        sqlx::Connection::close(made).await.unwrap();
        let old = super::Db::open(old_dir.path()).await.unwrap();
        let kept = sqlx::query("PRAGMA page_size").fetch_one(&old.read).await;
        assert_eq!(kept.map(size).unwrap(), 4096);
        old.close().await;
    }

    /// Migration 0013 rebuilds `deliveries` (one random index instead of two) under a database
    /// that has rows: every row and payload stays, a body stored twice before (a replay taken
    /// as new after the 24 hours a body was remembered then) keeps its fingerprint on its first
    /// row only, and the payloads still belong to their deliveries.
    #[tokio::test]
    async fn the_deliveries_table_is_rebuilt_with_its_rows_and_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let options = super::connect_options(&dir.path().join("bosun.db")).unwrap();
        let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
        let before = sqlx::migrate::Migrator {
            migrations: super::MIGRATOR.migrations[..12].to_vec().into(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(&mut conn).await.unwrap();
        for (seq, id, fingerprint) in [(1, "a", &b"x"[..]), (2, "b", b"y"), (3, "c", b"x")] {
            sqlx::query(
                "INSERT INTO deliveries (seq, delivery_id, event, received_at, body_fingerprint)
                 VALUES (?, ?, 'ping', ?, ?)",
            )
            .bind(seq)
            .bind(id)
            .bind(1_000 * seq)
            .bind(fingerprint)
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO delivery_payloads (seq, encoding, payload) VALUES (?, 'lz4', x'00')",
            )
            .bind(seq)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::Connection::close(conn).await.unwrap();

        let db = super::Db::open(dir.path()).await.unwrap();
        let rows: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT seq, delivery_id, body_fingerprint FROM deliveries ORDER BY seq",
        )
        .fetch_all(&db.read)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                (1, "a".into(), Some(b"x".to_vec())),
                (2, "b".into(), Some(b"y".to_vec())),
                (3, "c".into(), None),
            ]
        );
        // The payloads are still there, and still go with their delivery.
        let payloads = || async {
            sqlx::query_scalar::<_, i64>("SELECT seq FROM delivery_payloads ORDER BY seq")
                .fetch_all(&db.read)
                .await
                .unwrap()
        };
        assert_eq!(payloads().await, [1, 2, 3]);
        let mut writer = db.writer().await.unwrap();
        sqlx::query("DELETE FROM deliveries WHERE seq = 2")
            .execute(&mut *writer)
            .await
            .unwrap();
        drop(writer);
        assert_eq!(payloads().await, [1, 3]);
        db.close().await;
    }
}
