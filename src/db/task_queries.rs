//! Reads for operators (`bosun task …`): tasks by status and repository, a task's event log
//! with the time of each event, its finished attempts' statistics, and the jobs still pending
//! for it. Nothing here writes.

use sqlx::Row;

use super::{Db, RecordError, RunStat, TaskRow};
use bosun_core::ids::{RepoId, RepoRef};
use bosun_core::model::{TaskEvent, TaskId, TaskStatus};

/// A task with the times its row was created and last changed (ms since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskListing {
    pub task: TaskRow,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One stored event and when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    pub at: i64,
    pub event: TaskEvent,
}

/// A job of the task that has not finished: queued, running or dead.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingJob {
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub run_after: i64,
    pub last_error: Option<String>,
}

impl Db {
    /// Tasks, most recently changed first, optionally of one status and one repository (the
    /// name compared without case, as GitHub does), at most `limit`.
    pub async fn tasks_where(
        &self,
        status: Option<TaskStatus>,
        repo: Option<&RepoRef>,
        limit: u32,
    ) -> Result<Vec<TaskListing>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, created_at, updated_at FROM tasks
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR lower(repo) = lower(?2))
             ORDER BY updated_at DESC, id DESC
             LIMIT ?3",
        )
        .bind(status.map(TaskStatus::as_str))
        .bind(repo.map(ToString::to_string))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            // One read per task keeps the row decoding in one place (`Db::task`); a task
            // list is short and local.
            let id = TaskId(r.try_get(0)?);
            if let Some(task) = self.task(id).await? {
                out.push(TaskListing {
                    task,
                    created_at: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                });
            }
        }
        Ok(out)
    }

    /// The task's events in order, each with the time it was stored.
    pub async fn task_event_log(&self, id: TaskId) -> Result<Vec<TimedEvent>, RecordError> {
        let rows = sqlx::query("SELECT at, event FROM task_events WHERE task_id = ? ORDER BY id")
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(1)?;
                Ok(TimedEvent {
                    at: r.try_get(0)?,
                    event: serde_json::from_str(&text)
                        .map_err(|e| RecordError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// What each finished attempt of the task took (agent, model, outcome, time, tokens, cost).
    pub async fn task_run_stats(&self, id: TaskId) -> Result<Vec<RunStat>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT task_id, attempt, repo_id, kind, agent, model, complexity, outcome,
                    duration_secs, input_tokens, output_tokens, cost_micro_usd, files_changed,
                    lines_changed, finished_at
             FROM run_stats WHERE task_id = ? ORDER BY attempt",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RunStat {
                    task_id: r.try_get(0)?,
                    attempt: r.try_get(1)?,
                    repo_id: RepoId(r.try_get::<i64, _>(2)? as u64),
                    kind: r.try_get(3)?,
                    agent: r.try_get(4)?,
                    model: r.try_get(5)?,
                    complexity: r.try_get(6)?,
                    outcome: r.try_get(7)?,
                    duration_secs: r.try_get::<i64, _>(8)? as u64,
                    input_tokens: r.try_get::<i64, _>(9)? as u64,
                    output_tokens: r.try_get::<i64, _>(10)? as u64,
                    cost_micro_usd: r.try_get::<Option<i64>, _>(11)?.map(|c| c as u64),
                    files_changed: r.try_get::<i64, _>(12)? as u64,
                    lines_changed: r.try_get::<i64, _>(13)? as u64,
                    finished_at: r.try_get(14)?,
                    // Indexed for similarity only; the table does not keep them.
                    title: String::new(),
                    body: String::new(),
                })
            })
            .collect()
    }

    /// The task's jobs that are not done (its run, face refreshes, plan checks), oldest first:
    /// what an operator looks at to see why a task waits. Jobs name their task inside the
    /// payload (`bosun_core::job::Job`'s JSON), as the run claim reads it too.
    pub async fn task_pending_jobs(&self, id: TaskId) -> Result<Vec<PendingJob>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, state, attempts, max_attempts, run_after, last_error FROM jobs
             WHERE state != 'done'
               AND (json_extract(payload, '$.Run.task') = ?1
                    OR json_extract(payload, '$.SyncFace.task') = ?1
                    OR json_extract(payload, '$.PlanCheck.task') = ?1)
             ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingJob {
                    kind: r.try_get(0)?,
                    state: r.try_get(1)?,
                    attempts: r.try_get(2)?,
                    max_attempts: r.try_get(3)?,
                    run_after: r.try_get(4)?,
                    last_error: r.try_get(5)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{NewAttempt, StartOutcome};
    use bosun_core::ids::{InstallationId, IssueNumber};
    use bosun_core::job::Job;
    use bosun_core::model::{TaskKind, TriggerSource};

    fn attempt(repo: &str, issue: u64) -> NewAttempt {
        NewAttempt {
            repo_id: RepoId(issue),
            repo: repo.parse().unwrap(),
            installation: InstallationId(1),
            issue: IssueNumber(issue),
            label_prefix: "bosun".into(),
            event: TaskEvent::Triggered {
                attempt: 0,
                kind: TaskKind::Implement,
                by: "alice".into(),
                source: TriggerSource::IssueBody,
                instructions: String::new(),
                issue: None,
            },
        }
    }

    #[tokio::test]
    async fn filters_by_status_and_repository_and_finds_pending_jobs() {
        let (db, _dir) = crate::db::test_db().await;
        let StartOutcome::Started(first) = db
            .start_attempt(attempt("Octo/One", 1), |t| {
                vec![Job::Run {
                    task: t.id,
                    attempt: t.attempt,
                }
                .to_new(0)]
            })
            .await
            .unwrap()
        else {
            panic!("starts")
        };
        db.start_attempt(attempt("octo/two", 2), |_| vec![])
            .await
            .unwrap();
        db.record(
            first.id,
            &TaskEvent::Stopped { by: "bob".into() },
            None,
            &[],
        )
        .await
        .unwrap();

        let failed = db
            .tasks_where(Some(TaskStatus::Failed), None, 50)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].task.id, first.id);
        let one = db
            .tasks_where(None, Some(&"octo/one".parse().unwrap()), 50)
            .await
            .unwrap();
        assert_eq!(one.len(), 1, "repository names compare without case");
        assert_eq!(db.tasks_where(None, None, 1).await.unwrap().len(), 1);

        let log = db.task_event_log(first.id).await.unwrap();
        assert_eq!(log.len(), 2);
        assert!(matches!(log[1].event, TaskEvent::Stopped { .. }));
        assert!(log[0].at <= log[1].at);

        let jobs = db.task_pending_jobs(first.id).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (jobs[0].kind.as_str(), jobs[0].state.as_str()),
            ("run", "queued")
        );
        assert!(db.task_run_stats(first.id).await.unwrap().is_empty());
    }
}
