//! Where a queued task run stands in line, for its tracking comment. The order is the one
//! `claim_run` uses (answers to review feedback first, then the repository with the fewest
//! runs going, then the oldest), applied to the runs going now: exact for the next claim, and
//! a fair guide after it, since runs that finish change who goes next.

use std::collections::HashMap;

use sqlx::Row;

use super::Db;
use bosun_core::model::TaskId;

/// A queued run's place: how many runs go before it, and how busy the run slots are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpot {
    pub ahead: u32,
    pub running: u32,
    /// The global limit of runs at once.
    pub slots: u32,
}

/// A run waiting in the queue, as the line is ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    task: TaskId,
    repo: i64,
    revise: bool,
    run_after: i64,
    job: i64,
}

/// The waiting runs in the order the queue would take them, given how many runs each
/// repository has going.
fn line_up(mut waiting: Vec<Waiting>, live: &HashMap<i64, u32>) -> Vec<TaskId> {
    waiting.sort_by_key(|w| {
        (
            !w.revise,
            live.get(&w.repo).copied().unwrap_or(0),
            w.run_after,
            w.job,
        )
    });
    waiting.into_iter().map(|w| w.task).collect()
}

impl Db {
    /// `task`'s place in the run queue; `None` when it has no run waiting there.
    pub async fn queue_spot(
        &self,
        task: TaskId,
        slots: u32,
    ) -> Result<Option<QueueSpot>, sqlx::Error> {
        let now = super::now_ms();
        let waiting = sqlx::query(
            "SELECT t.id, t.repo_id, t.kind = 'revise', j.run_after, j.id
             FROM jobs j JOIN tasks t ON t.id = json_extract(j.payload, '$.Run.task')
             WHERE j.kind = 'run' AND j.state = 'queued'",
        )
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Waiting {
                task: TaskId(r.try_get(0)?),
                repo: r.try_get(1)?,
                revise: r.try_get(2)?,
                run_after: r.try_get(3)?,
                job: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut live = HashMap::new();
        let rows = sqlx::query(
            "SELECT t.repo_id FROM jobs o JOIN tasks t ON t.id = json_extract(o.payload, '$.Run.task')
             WHERE o.kind = 'run' AND o.state = 'running' AND o.lease_until >= ?",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            *live.entry(r.try_get::<i64, _>(0)?).or_insert(0u32) += 1;
        }
        let line = line_up(waiting, &live);
        Ok(line.iter().position(|t| *t == task).map(|at| QueueSpot {
            ahead: at as u32,
            running: rows.len() as u32,
            slots,
        }))
    }

    /// Tasks with a run waiting in the queue, first in line first (at most `limit`): their
    /// tracking comments show their place, which moves when a run starts.
    pub async fn waiting_runs(&self, limit: u32) -> Result<Vec<TaskId>, sqlx::Error> {
        sqlx::query(
            "SELECT json_extract(payload, '$.Run.task') FROM jobs
             WHERE kind = 'run' AND state = 'queued' ORDER BY run_after, id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(|r| r.try_get(0).map(TaskId))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(task: i64, repo: i64, revise: bool, job: i64) -> Waiting {
        Waiting {
            task: TaskId(task),
            repo,
            revise,
            run_after: 0,
            job,
        }
    }

    #[test]
    fn feedback_first_then_the_least_busy_repository_then_the_oldest() {
        let waiting = vec![
            w(1, 10, false, 1),
            w(2, 10, false, 2),
            w(3, 20, false, 3),
            w(4, 10, true, 4),
        ];
        let live = HashMap::from([(10, 2)]);
        let ids: Vec<i64> = line_up(waiting.clone(), &live)
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(ids, vec![4, 3, 1, 2]);
        let ids: Vec<i64> = line_up(waiting, &HashMap::new())
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(ids, vec![4, 1, 2, 3]);
    }
}
