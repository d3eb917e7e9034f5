//! The one database facade. Every SQL statement bosun runs lives under `src/db/`; callers get
//! typed rows and typed errors, never a connection.

mod deliveries;
mod jobs;
mod tasks;

pub use deliveries::{insert_delivery_batch, DeliveryState, Handled, NewDelivery, StoredDelivery};
pub use jobs::{ClaimedJob, Fence, JobId, NewJob};
pub use tasks::{NewAttempt, RecordError, StartOutcome, TaskRow};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::str::FromStr;
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

#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

fn connect_options(path: &Path) -> Result<SqliteConnectOptions, sqlx::Error> {
    // WAL lets readers run beside the single writer; FULL makes every commit reach the disk
    // before we answer GitHub (group commit in the ingest writer keeps that affordable).
    Ok(
        SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .log_statements(tracing::log::LevelFilter::Trace),
    )
}

impl Db {
    /// Opens (creating if needed) `bosun.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        create_private_dir(data_dir)?;
        let path = data_dir.join("bosun.db");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect_options(&path)?)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Db { pool, path })
    }

    /// A connection of its own, outside the pool, for the ingest writer's group commits.
    pub async fn dedicated_connection(&self) -> Result<SqliteConnection, sqlx::Error> {
        SqliteConnection::connect_with(&connect_options(&self.path)?).await
    }

    /// `SELECT 1`, for the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// A write transaction that takes SQLite's write lock up front. A deferred BEGIN that reads
    /// first can fail to upgrade with a busy-snapshot error no timeout cures.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Runs a `SELECT <label>, COUNT(*) … GROUP BY <label>` query (the /metrics gauges).
    async fn count_by(&self, sql: &'static str) -> Result<Vec<(String, i64)>, sqlx::Error> {
        use sqlx::Row;
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
pub(crate) async fn test_db() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).await.expect("open db");
    (db, dir)
}
