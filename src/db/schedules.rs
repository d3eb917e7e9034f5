//! The schedules table: server jobs added, listed, switched and removed (`bosun job …`), jobs
//! made to match the server's and the repositories' configuration, and the tick that fires the
//! due ones, each at most once per tick.

use sqlx::Row;

use super::{jobs::enqueue_in, Db};
use bosun_core::job::Job;
use bosun_core::schedule::{ScheduleRow, ScheduleSource};

/// Why `add_schedule` refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("a job named `{0}` exists already")]
    Exists(String),
    #[error("no job is named `{0}`")]
    Missing(String),
    #[error("the job `{0}` comes from {1}; change it there")]
    Managed(String, String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Db {
    /// Adds a schedule whose first tick is the first one after `now_ms`.
    pub async fn add_schedule(&self, row: &ScheduleRow, now_ms: i64) -> Result<(), ScheduleError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO schedules
                 (name, cron, repo, title, prompt, enabled, last_tick, created_at, source, command)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'cli', ?)",
        )
        .bind(&row.name)
        .bind(&row.cron)
        .bind(&row.repo)
        .bind(&row.title)
        .bind(&row.prompt)
        .bind(row.enabled)
        .bind(now_ms)
        .bind(now_ms)
        .bind(&row.command)
        .execute(&mut *self.writer().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ScheduleError::Exists(row.name.clone()));
        }
        Ok(())
    }

    pub async fn schedules(&self) -> Result<Vec<ScheduleRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT name, cron, repo, title, prompt, enabled, last_tick, source, command
             FROM schedules ORDER BY name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ScheduleRow {
                    name: r.try_get(0)?,
                    cron: r.try_get(1)?,
                    repo: r.try_get(2)?,
                    title: r.try_get(3)?,
                    prompt: r.try_get(4)?,
                    enabled: r.try_get(5)?,
                    last_tick: r.try_get(6)?,
                    source: ScheduleSource::from_stored(r.try_get(7)?),
                    command: r.try_get(8)?,
                })
            })
            .collect()
    }

    pub async fn schedule(&self, name: &str) -> Result<Option<ScheduleRow>, sqlx::Error> {
        Ok(self.schedules().await?.into_iter().find(|s| s.name == name))
    }

    /// A job managed in configuration is changed there, not with `bosun job`.
    async fn managed_elsewhere(&self, name: &str) -> Result<(), ScheduleError> {
        match self.schedule(name).await? {
            Some(row) if row.source != ScheduleSource::Cli => {
                Err(ScheduleError::Managed(name.to_string(), row.source.place()))
            }
            _ => Ok(()),
        }
    }

    pub async fn remove_schedule(&self, name: &str) -> Result<(), ScheduleError> {
        self.managed_elsewhere(name).await?;
        let done = sqlx::query("DELETE FROM schedules WHERE name = ?")
            .bind(name)
            .execute(&mut *self.writer().await?)
            .await?;
        match done.rows_affected() {
            0 => Err(ScheduleError::Missing(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Switches a schedule on or off. Switched on, it starts from now: ticks missed while it
    /// was off do not fire.
    pub async fn enable_schedule(
        &self,
        name: &str,
        enabled: bool,
        now_ms: i64,
    ) -> Result<(), ScheduleError> {
        self.managed_elsewhere(name).await?;
        let done = sqlx::query(
            "UPDATE schedules SET enabled = ?2,
                 last_tick = CASE WHEN ?2 AND NOT enabled THEN max(last_tick, ?3) ELSE last_tick END
             WHERE name = ?1",
        )
        .bind(name)
        .bind(enabled)
        .bind(now_ms)
        .execute(&mut *self.writer().await?)
        .await?;
        match done.rows_affected() {
            0 => Err(ScheduleError::Missing(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Makes the schedules of `source` exactly `rows`: new ones start from `now_ms` (no tick
    /// before it fires), changed ones keep their last tick (or start from now when their
    /// expression changed or they were switched back on), missing ones are removed. A row
    /// whose name another source holds is left out; its names are returned.
    pub async fn sync_schedules(
        &self,
        source: &ScheduleSource,
        rows: &[ScheduleRow],
        now_ms: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let stored = source.stored();
        let mut clashes = Vec::new();
        let mut tx = self.begin_write().await?;
        for row in rows {
            let done = sqlx::query(
                "INSERT INTO schedules
                     (name, cron, repo, title, prompt, enabled, last_tick, created_at, source, command)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
                 ON CONFLICT(name) DO UPDATE SET
                     last_tick = CASE
                         WHEN schedules.cron != excluded.cron
                              OR (excluded.enabled AND NOT schedules.enabled)
                         THEN max(schedules.last_tick, excluded.last_tick)
                         ELSE schedules.last_tick END,
                     cron = excluded.cron, repo = excluded.repo, title = excluded.title,
                     prompt = excluded.prompt, enabled = excluded.enabled,
                     command = excluded.command
                 WHERE schedules.source = excluded.source",
            )
            .bind(&row.name)
            .bind(&row.cron)
            .bind(&row.repo)
            .bind(&row.title)
            .bind(&row.prompt)
            .bind(row.enabled)
            .bind(now_ms)
            .bind(&stored)
            .bind(&row.command)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
                clashes.push(row.name.clone());
            }
        }
        let keep = serde_json::to_string(&rows.iter().map(|r| &r.name).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "DELETE FROM schedules WHERE source = ?
             AND name NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(&stored)
        .bind(keep)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(clashes)
    }

    /// Fires every enabled schedule whose tick passed since the last one it handled: moves its
    /// `last_tick` forward and queues its work, in one transaction, only if `last_tick` was
    /// still what this call read. Returns `(name, tick)` of each firing. A schedule whose
    /// expression no longer parses is skipped (with a warning).
    pub async fn tick_schedules(&self, now_ms: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let mut fired = Vec::new();
        for row in self.schedules().await? {
            if !row.enabled {
                continue;
            }
            let schedule = match bosun_core::schedule::parse(&row.cron) {
                Ok(s) => s,
                Err(why) => {
                    tracing::warn!(job = %row.name, %why, "skipping a job whose schedule is broken");
                    continue;
                }
            };
            let Some(tick) = bosun_core::schedule::due_tick(&schedule, row.last_tick, now_ms)
            else {
                continue;
            };
            let mut tx = self.begin_write().await?;
            let moved = sqlx::query(
                "UPDATE schedules SET last_tick = ? WHERE name = ? AND last_tick = ? AND enabled",
            )
            .bind(tick)
            .bind(&row.name)
            .bind(row.last_tick)
            .execute(&mut **tx)
            .await?;
            if moved.rows_affected() == 1 {
                let job = Job::Scheduled {
                    name: row.name.clone(),
                    tick,
                };
                enqueue_in(&mut tx, &job.to_new(0)).await?;
                fired.push((row.name.clone(), tick));
            }
            tx.commit().await?;
        }
        Ok(fired)
    }
}
