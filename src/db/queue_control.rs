//! The queue's pause switch and the log of control actions that belong to no task (see
//! migration 0008). The claim of task runs (`jobs::claim_run`) reads the switch in its own
//! statement, so a run is never claimed after a pause committed.

use sqlx::Row;

use super::{now_ms, Db};

/// Whether runs are being claimed, and who last switched that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueState {
    pub paused: bool,
    /// `None` until someone paused the queue once.
    pub changed_by: Option<String>,
    pub changed_at: Option<i64>,
}

/// One control action (pause, resume) and who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
}

impl Db {
    pub async fn queue_state(&self) -> Result<QueueState, sqlx::Error> {
        let row =
            sqlx::query("SELECT paused, changed_by, changed_at FROM queue_state WHERE id = 1")
                .fetch_optional(&self.read)
                .await?;
        Ok(match row {
            None => QueueState {
                paused: false,
                changed_by: None,
                changed_at: None,
            },
            Some(r) => QueueState {
                paused: r.try_get::<i64, _>(0)? != 0,
                changed_by: Some(r.try_get(1)?),
                changed_at: Some(r.try_get(2)?),
            },
        })
    }

    /// Pauses or resumes the queue and records who did it, in one transaction. Returns false
    /// (and records nothing) when the queue already was so.
    pub async fn set_queue_paused(&self, paused: bool, actor: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let now: Option<i64> = sqlx::query_scalar("SELECT paused FROM queue_state WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
        if now.unwrap_or(0) != 0 && paused || now.unwrap_or(0) == 0 && !paused {
            return Ok(false);
        }
        let at = now_ms();
        sqlx::query(
            "INSERT INTO queue_state (id, paused, changed_by, changed_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET paused = ?1, changed_by = ?2, changed_at = ?3",
        )
        .bind(paused as i64)
        .bind(actor)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO control_events (at, actor, action) VALUES (?, ?, ?)")
            .bind(at)
            .bind(actor)
            .bind(if paused { "pause" } else { "resume" })
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The latest control actions, newest first.
    pub async fn control_events(&self, limit: u32) -> Result<Vec<ControlEvent>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT at, actor, action FROM control_events ORDER BY id DESC LIMIT ?")
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ControlEvent {
                    at: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn pausing_is_kept_and_logged_once() {
        let (db, _dir) = crate::db::test_db().await;
        assert!(!db.queue_state().await.unwrap().paused);
        assert!(
            !db.set_queue_paused(false, "alice").await.unwrap(),
            "already running"
        );
        assert!(db.set_queue_paused(true, "alice").await.unwrap());
        assert!(
            !db.set_queue_paused(true, "bob").await.unwrap(),
            "already paused"
        );
        let state = db.queue_state().await.unwrap();
        assert!(state.paused);
        assert_eq!(state.changed_by.as_deref(), Some("alice"));
        assert!(db.set_queue_paused(false, "bob").await.unwrap());
        let log = db.control_events(10).await.unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        assert_eq!(actions, [("bob", "resume"), ("alice", "pause")]);
    }

    #[tokio::test]
    async fn no_run_is_claimed_while_paused() {
        use crate::db::{NewAttempt, RunLimits};
        use bosun_core::ids::{InstallationId, IssueNumber, RepoId};
        use bosun_core::job::Job;
        use bosun_core::model::{TaskEvent, TaskKind, TriggerSource};
        let (db, _dir) = crate::db::test_db().await;
        db.start_attempt(
            NewAttempt {
                repo_id: RepoId(1),
                repo: "octo/one".parse().unwrap(),
                installation: InstallationId(1),
                issue: IssueNumber(1),
                label_prefix: "bosun".into(),
                event: TaskEvent::Triggered {
                    attempt: 0,
                    kind: TaskKind::Implement,
                    by: "alice".into(),
                    source: TriggerSource::IssueBody,
                    instructions: String::new(),
                    issue: None,
                },
            },
            |t| {
                vec![Job::Run {
                    task: t.id,
                    attempt: t.attempt,
                }
                .to_new(0)]
            },
        )
        .await
        .unwrap();
        let limits = RunLimits {
            global: 0,
            per_installation: 0,
            per_repo: 0,
        };
        db.set_queue_paused(true, "alice").await.unwrap();
        assert!(db.claim_job("w1", 60_000, limits).await.unwrap().is_none());
        db.set_queue_paused(false, "alice").await.unwrap();
        let claimed = db.claim_job("w1", 60_000, limits).await.unwrap().unwrap();
        assert_eq!(claimed.kind, "run");
    }
}
