//! Reads for the dashboard: the repositories that have tasks (whose permissions decide who
//! sees what), and tasks limited to a set of repositories. Nothing here writes.

use sqlx::Row;

use super::{Db, TaskListing};
use bosun_core::ids::{InstallationId, RepoId, RepoRef};
use bosun_core::model::TaskId;

/// A repository bosun has tasks in, and the installation that covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRepo {
    pub repo_id: RepoId,
    pub repo: RepoRef,
    pub installation: InstallationId,
}

impl Db {
    /// Every repository with a task, with its latest name and installation.
    pub async fn task_repos(&self) -> Result<Vec<TaskRepo>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT repo_id, repo, installation_id FROM tasks t
             WHERE id = (SELECT max(id) FROM tasks o WHERE o.repo_id = t.repo_id)
             ORDER BY lower(repo)",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(1)?;
                Ok(TaskRepo {
                    repo_id: RepoId(r.try_get::<i64, _>(0)? as u64),
                    repo: name.parse().map_err(|e: bosun_core::ids::BadRepoRef| {
                        sqlx::Error::Decode(e.to_string().into())
                    })?,
                    installation: InstallationId(r.try_get::<i64, _>(2)? as u64),
                })
            })
            .collect()
    }

    /// One task with its times.
    pub async fn task_listing(&self, id: TaskId) -> Result<Option<TaskListing>, sqlx::Error> {
        let Some(task) = self.task(id).await? else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT created_at, updated_at FROM tasks WHERE id = ?")
            .bind(id.0)
            .fetch_one(&self.read)
            .await?;
        Ok(Some(TaskListing {
            task,
            created_at: row.try_get(0)?,
            updated_at: row.try_get(1)?,
        }))
    }

    /// Tasks of the given repositories (all when `None`), most recently changed first.
    pub async fn tasks_in_repos(
        &self,
        repos: Option<&[RepoId]>,
        limit: u32,
    ) -> Result<Vec<TaskListing>, sqlx::Error> {
        let ids = repos.map(|r| {
            serde_json::Value::from(r.iter().map(|id| id.0 as i64).collect::<Vec<i64>>())
                .to_string()
        });
        let rows = sqlx::query(
            "SELECT id, created_at, updated_at FROM tasks
             WHERE ?1 IS NULL OR repo_id IN (SELECT value FROM json_each(?1))
             ORDER BY updated_at DESC, id DESC
             LIMIT ?2",
        )
        .bind(ids)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            // Row decoding stays in one place (`Db::task`), as in `tasks_where`.
            if let Some(task) = self.task(TaskId(r.try_get(0)?)).await? {
                out.push(TaskListing {
                    task,
                    created_at: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewAttempt;
    use bosun_core::ids::IssueNumber;
    use bosun_core::model::{TaskEvent, TaskKind, TriggerSource};

    async fn task_in(db: &Db, repo: &str, repo_id: u64, issue: u64) {
        db.start_attempt(
            NewAttempt {
                repo_id: RepoId(repo_id),
                repo: repo.parse().unwrap(),
                installation: InstallationId(7),
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
            },
            |_| vec![],
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn lists_repositories_and_their_tasks_only() {
        let (db, _dir) = crate::db::test_db().await;
        task_in(&db, "octo/one", 1, 1).await;
        task_in(&db, "octo/one", 1, 2).await;
        task_in(&db, "octo/two", 2, 1).await;
        let repos = db.task_repos().await.unwrap();
        let names: Vec<String> = repos.iter().map(|r| r.repo.to_string()).collect();
        assert_eq!(names, ["octo/one", "octo/two"]);
        assert_eq!(repos[0].installation, InstallationId(7));
        assert_eq!(db.tasks_in_repos(None, 50).await.unwrap().len(), 3);
        let one = db.tasks_in_repos(Some(&[RepoId(1)]), 50).await.unwrap();
        assert_eq!(one.len(), 2);
        assert!(one.iter().all(|l| l.task.repo_id == RepoId(1)));
        assert!(db.tasks_in_repos(Some(&[]), 50).await.unwrap().is_empty());
    }
}
