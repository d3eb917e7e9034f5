//! The schedules table: server jobs added, listed, switched and removed (`bosun job …`), and
//! the tick that fires the due ones, each at most once per tick.

use sqlx::Row;

use super::{jobs::enqueue_in, Db};
use crate::worker::job::Job;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub name: String,
    pub cron: String,
    /// `owner/name`.
    pub repo: String,
    pub title: String,
    pub prompt: String,
    pub enabled: bool,
    /// The latest tick handled (ms since the epoch).
    pub last_tick: i64,
}

/// Why `add_schedule` refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("a job named `{0}` exists already")]
    Exists(String),
    #[error("no job is named `{0}`")]
    Missing(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Db {
    /// Adds a schedule whose first tick is the first one after `now_ms`.
    pub async fn add_schedule(&self, row: &ScheduleRow, now_ms: i64) -> Result<(), ScheduleError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO schedules (name, cron, repo, title, prompt, enabled, last_tick, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.name)
        .bind(&row.cron)
        .bind(&row.repo)
        .bind(&row.title)
        .bind(&row.prompt)
        .bind(row.enabled)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ScheduleError::Exists(row.name.clone()));
        }
        Ok(())
    }

    pub async fn schedules(&self) -> Result<Vec<ScheduleRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT name, cron, repo, title, prompt, enabled, last_tick FROM schedules ORDER BY name",
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
                })
            })
            .collect()
    }

    pub async fn schedule(&self, name: &str) -> Result<Option<ScheduleRow>, sqlx::Error> {
        Ok(self.schedules().await?.into_iter().find(|s| s.name == name))
    }

    pub async fn remove_schedule(&self, name: &str) -> Result<(), ScheduleError> {
        let done = sqlx::query("DELETE FROM schedules WHERE name = ?")
            .bind(name)
            .execute(&self.write)
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
        let done = sqlx::query(
            "UPDATE schedules SET enabled = ?2,
                 last_tick = CASE WHEN ?2 AND NOT enabled THEN max(last_tick, ?3) ELSE last_tick END
             WHERE name = ?1",
        )
        .bind(name)
        .bind(enabled)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        match done.rows_affected() {
            0 => Err(ScheduleError::Missing(name.to_string())),
            _ => Ok(()),
        }
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
            let schedule = match crate::schedule::parse(&row.cron) {
                Ok(s) => s,
                Err(why) => {
                    tracing::warn!(job = %row.name, %why, "skipping a job whose schedule is broken");
                    continue;
                }
            };
            let Some(tick) = crate::schedule::due_tick(&schedule, row.last_tick, now_ms) else {
                continue;
            };
            let mut tx = self.begin_write().await?;
            let moved = sqlx::query(
                "UPDATE schedules SET last_tick = ? WHERE name = ? AND last_tick = ? AND enabled",
            )
            .bind(tick)
            .bind(&row.name)
            .bind(row.last_tick)
            .execute(&mut *tx)
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
