//! Tasks and their append-only event log. The `tasks` row caches the projection of the log and
//! is only ever changed in the same transaction as the event that changes it.

use super::jobs::{enqueue_in, fence_holds};
use super::{now_ms, Db, Fence};
use bosun_core::ids::{CommentId, InstallationId, IssueNumber, RepoId, RepoRef};
use bosun_core::job::NewJob;
use bosun_core::model::{
    opening, project, InvalidTransition, Opening, ResyncedPart, TaskEvent, TaskId, TaskKind,
    TaskStatus,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: TaskId,
    pub repo_id: RepoId,
    pub repo: RepoRef,
    pub installation: InstallationId,
    pub issue: IssueNumber,
    pub kind: TaskKind,
    pub label_prefix: String,
    pub status: TaskStatus,
    pub attempt: u32,
    pub requested_by: String,
    pub tracking_comment: Option<CommentId>,
}

/// What a trusted trigger asks for.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub repo_id: RepoId,
    pub repo: RepoRef,
    pub installation: InstallationId,
    pub issue: IssueNumber,
    pub label_prefix: String,
    /// The `Triggered` event to record; its `attempt` is filled in here.
    pub event: TaskEvent,
}

/// What `resync` found on GitHub for one issue.
#[derive(Debug, Clone)]
pub struct Resync {
    pub status: TaskStatus,
    pub attempt: u32,
    pub tracking_comment: Option<CommentId>,
    /// For a planned issue: its parts, from its sub-issues.
    pub plan: Vec<ResyncedPart>,
    /// For a part of a plan: the planned issue and what it waits for.
    pub part_of: Option<u64>,
    pub waits_for: Vec<u64>,
}

#[derive(Debug)]
pub enum StartOutcome {
    Started(TaskRow),
    /// The issue already has an active task: nothing was recorded.
    AlreadyActive(TaskRow),
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    #[error("the job's lease passed to another worker")]
    Fenced,
    #[error("no task {0}")]
    NoSuchTask(TaskId),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("stored task data is unreadable: {0}")]
    Corrupt(String),
}

const TASK_COLUMNS: &str = "id, repo_id, repo, installation_id, issue_number, kind, label_prefix,
     status, attempt, requested_by, tracking_comment_id";

fn corrupt(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(what.to_string().into())
}

fn task_from_row(r: &SqliteRow) -> Result<TaskRow, sqlx::Error> {
    let repo: String = r.try_get(2)?;
    let kind: String = r.try_get(5)?;
    let status: String = r.try_get(7)?;
    Ok(TaskRow {
        id: TaskId(r.try_get(0)?),
        repo_id: RepoId(r.try_get::<i64, _>(1)? as u64),
        repo: repo.parse().map_err(corrupt)?,
        installation: InstallationId(r.try_get::<i64, _>(3)? as u64),
        issue: IssueNumber(r.try_get::<i64, _>(4)? as u64),
        kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(corrupt)?,
        label_prefix: r.try_get(6)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt(status))?,
        attempt: r.try_get(8)?,
        requested_by: r.try_get(9)?,
        tracking_comment: r
            .try_get::<Option<i64>, _>(10)?
            .map(|c| CommentId(c as u64)),
    })
}

fn kind_str(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Implement => "implement",
        TaskKind::Plan => "plan",
        TaskKind::Revise => "revise",
    }
}

async fn events_in(
    tx: &mut Transaction<'static, Sqlite>,
    task: TaskId,
) -> Result<Vec<TaskEvent>, RecordError> {
    let rows = sqlx::query("SELECT event FROM task_events WHERE task_id = ? ORDER BY id")
        .bind(task.0)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get(0)?;
            serde_json::from_str(&text).map_err(|e| RecordError::Corrupt(e.to_string()))
        })
        .collect()
}

async fn task_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: TaskId,
) -> Result<Option<TaskRow>, sqlx::Error> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?");
    sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| task_from_row(&r))
        .transpose()
}

/// Appends `event` after checking it against the projection, and refreshes the cached row.
async fn append_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: TaskId,
    event: &TaskEvent,
) -> Result<TaskRow, RecordError> {
    let mut events = events_in(tx, id).await?;
    events.push(event.clone());
    let state = project(&events)?;
    let now = now_ms();
    let text = serde_json::to_string(event).map_err(|e| RecordError::Corrupt(e.to_string()))?;
    sqlx::query("INSERT INTO task_events (task_id, at, event) VALUES (?, ?, ?)")
        .bind(id.0)
        .bind(now)
        .bind(text)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE tasks SET status = ?, attempt = ?, kind = ?, requested_by = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(state.status.as_str())
    .bind(state.attempt)
    .bind(kind_str(state.kind))
    .bind(&state.requested_by)
    .bind(now)
    .bind(id.0)
    .execute(&mut **tx)
    .await?;
    task_in(tx, id).await?.ok_or(RecordError::NoSuchTask(id))
}

async fn task_for_issue_in(
    tx: &mut Transaction<'static, Sqlite>,
    repo: RepoId,
    issue: IssueNumber,
) -> Result<Option<TaskRow>, sqlx::Error> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE repo_id = ? AND issue_number = ?");
    sqlx::query(&sql)
        .bind(repo.0 as i64)
        .bind(issue.0 as i64)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| task_from_row(&r))
        .transpose()
}

/// A new task row for the issue in `new`; the caller appends its first event next.
async fn insert_task_in(
    tx: &mut Transaction<'static, Sqlite>,
    new: &NewAttempt,
    status: TaskStatus,
    attempt: u32,
) -> Result<TaskId, sqlx::Error> {
    let now = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (repo_id, repo, installation_id, issue_number, kind,
            label_prefix, status, attempt, requested_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'implement', ?, ?, ?, '', ?, ?) RETURNING id",
    )
    .bind(new.repo_id.0 as i64)
    .bind(new.repo.to_string())
    .bind(new.installation.0 as i64)
    .bind(new.issue.0 as i64)
    .bind(&new.label_prefix)
    .bind(status.as_str())
    .bind(attempt)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(TaskId(id))
}

impl Db {
    pub async fn task(&self, id: TaskId) -> Result<Option<TaskRow>, sqlx::Error> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?");
        sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .map(|r| task_from_row(&r))
            .transpose()
    }

    pub async fn task_for_issue(
        &self,
        repo: RepoId,
        issue: IssueNumber,
    ) -> Result<Option<TaskRow>, sqlx::Error> {
        let mut tx = self.read.begin().await?;
        let task = task_for_issue_in(&mut tx, repo, issue).await?;
        tx.commit().await?;
        Ok(task)
    }

    /// The installation's tasks that are running, queued or waiting.
    pub async fn active_tasks_of_installation(
        &self,
        installation: InstallationId,
    ) -> Result<Vec<TaskRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE installation_id = ? \
             AND status IN ('new', 'in-progress', 'blocked') ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(installation.0 as i64)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Every task of a repository, for `bosun resync` and the dashboard.
    pub async fn tasks_of_repo(&self, repo: RepoId) -> Result<Vec<TaskRow>, sqlx::Error> {
        let sql =
            format!("SELECT {TASK_COLUMNS} FROM tasks WHERE repo_id = ? ORDER BY issue_number");
        let rows = sqlx::query(&sql)
            .bind(repo.0 as i64)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    pub async fn task_events(&self, id: TaskId) -> Result<Vec<TaskEvent>, RecordError> {
        let mut tx = self.read.begin().await?;
        let events = events_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(events)
    }

    /// Starts a new attempt for an issue: creates its task, or re-opens the finished task the
    /// issue already has. An active task is left alone and returned. `jobs` are enqueued in the
    /// same transaction, so a started attempt always has its work queued.
    pub async fn start_attempt(
        &self,
        new: NewAttempt,
        jobs_for: impl FnOnce(&TaskRow) -> Vec<NewJob>,
    ) -> Result<StartOutcome, RecordError> {
        let mut tx = self.begin_write().await?;
        let existing = task_for_issue_in(&mut tx, new.repo_id, new.issue).await?;
        let attempt = match opening(existing.as_ref().map(|t| (t.status, t.attempt))) {
            Opening::Active => {
                let task = existing.expect("only an existing task is active");
                return Ok(StartOutcome::AlreadyActive(task));
            }
            Opening::Attempt(attempt) => attempt,
        };
        let id = match existing {
            Some(task) => task.id,
            None => insert_task_in(&mut tx, &new, TaskStatus::New, 0).await?,
        };
        // The repo may have been renamed or moved installations since the task was created.
        sqlx::query(
            "UPDATE tasks SET repo = ?, installation_id = ?, label_prefix = ? WHERE id = ?",
        )
        .bind(new.repo.to_string())
        .bind(new.installation.0 as i64)
        .bind(&new.label_prefix)
        .bind(id.0)
        .execute(&mut **tx)
        .await?;
        let event = new.event.for_attempt(attempt);
        let row = append_in(&mut tx, id, &event).await?;
        for job in jobs_for(&row) {
            enqueue_in(&mut tx, &job).await?;
        }
        tx.commit().await?;
        Ok(StartOutcome::Started(row))
    }

    /// Records one event. With a fence, the write only happens while that job lease holds.
    /// `jobs` are enqueued in the same transaction (typically: refresh the task's GitHub face).
    pub async fn record(
        &self,
        id: TaskId,
        event: &TaskEvent,
        fence: Option<Fence>,
        jobs: &[NewJob],
    ) -> Result<TaskRow, RecordError> {
        let mut tx = self.begin_write().await?;
        if let Some(fence) = fence {
            if !fence_holds(&mut tx, fence).await? {
                return Err(RecordError::Fenced);
            }
        }
        let row = append_in(&mut tx, id, event).await?;
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    pub async fn set_tracking_comment(
        &self,
        id: TaskId,
        comment: CommentId,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE tasks SET tracking_comment_id = ? WHERE id = ?")
            .bind(comment.0 as i64)
            .bind(id.0)
            .execute(&mut *self.writer().await?)
            .await
            .map(|_| ())
    }

    /// Creates or corrects the issue's task from what `resync` found on GitHub; returns the
    /// task when something changed (a task already at that status and attempt is left as it
    /// is).
    pub async fn resync_task(
        &self,
        new: NewAttempt,
        found: Resync,
    ) -> Result<Option<TaskId>, RecordError> {
        let Resync {
            status,
            attempt,
            tracking_comment,
            plan,
            part_of,
            waits_for,
        } = found;
        let mut tx = self.begin_write().await?;
        let id = match task_for_issue_in(&mut tx, new.repo_id, new.issue).await? {
            Some(t) if t.status == status && t.attempt == attempt => {
                tx.commit().await?;
                return Ok(None);
            }
            Some(t) => t.id,
            None => insert_task_in(&mut tx, &new, status, attempt).await?,
        };
        let event = TaskEvent::Resynced {
            status,
            attempt,
            plan,
            part_of,
            waits_for,
        };
        append_in(&mut tx, id, &event).await?;
        if let Some(comment) = tracking_comment {
            sqlx::query("UPDATE tasks SET tracking_comment_id = ? WHERE id = ?")
                .bind(comment.0 as i64)
                .bind(id.0)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Tasks by status, for /metrics.
    pub async fn task_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        self.count_by("SELECT status, COUNT(*) FROM tasks GROUP BY status")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::model::TriggerSource;

    fn attempt() -> NewAttempt {
        NewAttempt {
            repo_id: RepoId(7),
            repo: RepoRef::new("o", "r"),
            installation: InstallationId(1),
            issue: IssueNumber(3),
            label_prefix: "bosun".into(),
            event: TaskEvent::Triggered {
                attempt: 0,
                kind: TaskKind::Implement,
                by: "alice".into(),
                source: TriggerSource::IssueBody,
                instructions: "fix it".into(),
                issue: None,
            },
        }
    }

    #[tokio::test]
    async fn one_active_task_per_issue_and_a_new_attempt_after_it_ends() {
        let (db, _dir) = crate::db::test_db().await;
        let StartOutcome::Started(task) = db.start_attempt(attempt(), |_| vec![]).await.unwrap()
        else {
            panic!("first trigger starts a task")
        };
        assert_eq!((task.status, task.attempt), (TaskStatus::New, 1));
        assert!(matches!(
            db.start_attempt(attempt(), |_| vec![]).await.unwrap(),
            StartOutcome::AlreadyActive(_)
        ));
        db.record(task.id, &TaskEvent::Stopped { by: "bob".into() }, None, &[])
            .await
            .unwrap();
        let StartOutcome::Started(again) = db.start_attempt(attempt(), |_| vec![]).await.unwrap()
        else {
            panic!("a stopped task can start again")
        };
        assert_eq!((again.id, again.attempt), (task.id, 2));
        let events = db.task_events(task.id).await.unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(project(&events).unwrap().status, TaskStatus::New);
    }

    #[tokio::test]
    async fn a_stale_fence_cannot_record() {
        let (db, _dir) = crate::db::test_db().await;
        db.enqueue(&[NewJob {
            kind: "step",
            payload: "{}".into(),
            serial_key: None,
            coalesce_key: None,
            max_attempts: 3,
            run_after: 0,
        }])
        .await
        .unwrap();
        let old = db
            .claim_job("w1", -1, Default::default())
            .await
            .unwrap()
            .unwrap();
        let _new = db
            .claim_job("w2", 60_000, Default::default())
            .await
            .unwrap()
            .unwrap();
        let StartOutcome::Started(task) = db.start_attempt(attempt(), |_| vec![]).await.unwrap()
        else {
            panic!()
        };
        let err = db
            .record(
                task.id,
                &TaskEvent::Started { attempt: 1 },
                Some(old.fence),
                &[],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, RecordError::Fenced), "{err}");
        assert_eq!(
            db.task(task.id).await.unwrap().unwrap().status,
            TaskStatus::New
        );
    }
}
