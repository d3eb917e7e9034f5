//! What finished attempts took (`run_stats`), for estimates and `bosun stats`.

use sqlx::Row;

use super::Db;
use bosun_core::estimate::Sample;
use bosun_core::ids::RepoId;

/// One finished attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStat {
    pub task_id: i64,
    pub attempt: u32,
    pub repo_id: RepoId,
    pub kind: String,
    pub agent: String,
    pub model: Option<String>,
    pub complexity: String,
    pub outcome: String,
    pub duration_secs: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: Option<u64>,
    pub files_changed: u64,
    pub lines_changed: u64,
    pub finished_at: i64,
    /// Indexed for similarity, not stored.
    pub title: String,
    pub body: String,
}

/// One line of `bosun stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsLine {
    pub agent: String,
    pub complexity: String,
    pub runs: u64,
    pub done: u64,
    pub median_secs: f64,
    pub median_micro_usd: Option<f64>,
}

/// Whose spending a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendScope {
    Repo(RepoId),
    Installation(bosun_core::ids::InstallationId),
}

/// How many of the best matches a similarity look-up returns.
const SIMILAR_LIMIT: i64 = 20;

impl Db {
    /// Records a finished attempt (once: a second record of it is ignored).
    pub async fn record_run_stat(&self, s: &RunStat) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO run_stats (task_id, attempt, repo_id, kind, agent, model,
               complexity, outcome, duration_secs, input_tokens, output_tokens, cost_micro_usd,
               files_changed, lines_changed, finished_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.task_id)
        .bind(s.attempt)
        .bind(s.repo_id.0 as i64)
        .bind(&s.kind)
        .bind(&s.agent)
        .bind(&s.model)
        .bind(&s.complexity)
        .bind(&s.outcome)
        .bind(s.duration_secs as i64)
        .bind(s.input_tokens as i64)
        .bind(s.output_tokens as i64)
        .bind(s.cost_micro_usd.map(|c| c as i64))
        .bind(s.files_changed as i64)
        .bind(s.lines_changed as i64)
        .bind(s.finished_at)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 1 {
            sqlx::query("INSERT INTO run_stats_text (rowid, title, body) VALUES (?, ?, ?)")
                .bind(inserted.last_insert_rowid())
                .bind(&s.title)
                .bind(&s.body)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await
    }

    /// Implement attempts of `repo` with `complexity` that ran to a result (done or handed to
    /// a person), best text matches of `query` (an FTS5 query) first.
    pub async fn similar_runs(
        &self,
        repo: RepoId,
        complexity: &str,
        query: &str,
    ) -> Result<Vec<Sample>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT s.duration_secs, s.cost_micro_usd
             FROM run_stats_text t JOIN run_stats s ON s.rowid = t.rowid
             WHERE run_stats_text MATCH ? AND s.repo_id = ? AND s.complexity = ?
               AND s.kind = 'implement' AND s.outcome IN ('done', 'needs-review')
             ORDER BY bm25(run_stats_text)
             LIMIT ?",
        )
        .bind(query)
        .bind(repo.0 as i64)
        .bind(complexity)
        .bind(SIMILAR_LIMIT)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(sample).collect()
    }

    /// Every such attempt of `repo` with `complexity`.
    pub async fn complexity_runs(
        &self,
        repo: RepoId,
        complexity: &str,
    ) -> Result<Vec<Sample>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT duration_secs, cost_micro_usd FROM run_stats
             WHERE repo_id = ? AND complexity = ? AND kind = 'implement'
               AND outcome IN ('done', 'needs-review')",
        )
        .bind(repo.0 as i64)
        .bind(complexity)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(sample).collect()
    }

    /// The metered cost of the attempts that finished since `since_ms`, of one repository or of
    /// every repository of one installation.
    pub async fn spent_since(&self, scope: SpendScope, since_ms: i64) -> Result<u64, sqlx::Error> {
        let total: Option<i64> = match scope {
            SpendScope::Repo(repo) => sqlx::query_scalar(
                "SELECT sum(cost_micro_usd) FROM run_stats WHERE repo_id = ? AND finished_at >= ?",
            )
            .bind(repo.0 as i64)
            .bind(since_ms)
            .fetch_one(&self.read)
            .await?,
            SpendScope::Installation(installation) => {
                sqlx::query_scalar(
                    "SELECT sum(s.cost_micro_usd) FROM run_stats s JOIN tasks t ON t.id = s.task_id
                     WHERE t.installation_id = ? AND s.finished_at >= ?",
                )
                .bind(installation.0 as i64)
                .bind(since_ms)
                .fetch_one(&self.read)
                .await?
            }
        };
        Ok(total.unwrap_or(0).max(0) as u64)
    }

    /// Success rate, median time and cost per agent and complexity, over every attempt.
    pub async fn run_stats_summary(&self) -> Result<Vec<StatsLine>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT agent, complexity, outcome, duration_secs, cost_micro_usd FROM run_stats
             ORDER BY agent, complexity",
        )
        .fetch_all(&self.read)
        .await?;
        let mut lines: Vec<(StatsLine, Vec<f64>, Vec<f64>)> = Vec::new();
        for r in rows {
            let (agent, complexity): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let outcome: String = r.try_get(2)?;
            let secs: i64 = r.try_get(3)?;
            let cost: Option<i64> = r.try_get(4)?;
            let same = lines
                .last()
                .is_some_and(|(l, _, _)| l.agent == agent && l.complexity == complexity);
            if !same {
                lines.push((
                    StatsLine {
                        agent,
                        complexity,
                        runs: 0,
                        done: 0,
                        median_secs: 0.0,
                        median_micro_usd: None,
                    },
                    Vec::new(),
                    Vec::new(),
                ));
            }
            let (line, all_secs, costs) = lines.last_mut().expect("pushed above");
            line.runs += 1;
            line.done += u64::from(outcome == "done");
            all_secs.push(secs as f64);
            costs.extend(cost.map(|c| c as f64));
        }
        Ok(lines
            .into_iter()
            .map(|(mut line, secs, costs)| {
                line.median_secs = median(secs).unwrap_or(0.0);
                line.median_micro_usd = median(costs);
                line
            })
            .collect())
    }
}

fn sample(r: sqlx::sqlite::SqliteRow) -> Result<Sample, sqlx::Error> {
    let secs: i64 = r.try_get(0)?;
    let cost: Option<i64> = r.try_get(1)?;
    Ok(Sample {
        secs: secs as f64,
        micro_usd: cost.map(|c| c as f64),
    })
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(bosun_core::estimate::percentile(&values, 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::estimate::{estimate, similarity_query, Basis};

    fn stat(task: i64, title: &str, secs: u64, cost: u64, outcome: &str) -> RunStat {
        RunStat {
            task_id: task,
            attempt: 1,
            repo_id: RepoId(1),
            kind: "implement".into(),
            agent: "claude".into(),
            model: None,
            complexity: "medium".into(),
            outcome: outcome.into(),
            duration_secs: secs,
            input_tokens: 1000,
            output_tokens: 100,
            cost_micro_usd: Some(cost),
            files_changed: 1,
            lines_changed: 4,
            finished_at: 0,
            title: title.into(),
            body: String::new(),
        }
    }

    #[tokio::test]
    async fn similar_tasks_give_the_estimate_and_its_interval() {
        let (db, _dir) = crate::db::test_db().await;
        // Six parser tasks of 60..360 s and $0.10..$0.60; four unrelated slow ones.
        for i in 1..=6u64 {
            let s = stat(
                i as i64,
                "Fix the parser on empty input",
                i * 60,
                i * 100_000,
                "done",
            );
            db.record_run_stat(&s).await.unwrap();
        }
        for i in 7..=10 {
            let s = stat(i, "Rewrite the dashboard styles", 3600, 5_000_000, "done");
            db.record_run_stat(&s).await.unwrap();
        }
        db.record_run_stat(&stat(11, "Fix the parser", 9, 1, "failed"))
            .await
            .unwrap();
        // Recording the same attempt twice keeps one row.
        db.record_run_stat(&stat(
            1,
            "Fix the parser on empty input",
            60,
            100_000,
            "done",
        ))
        .await
        .unwrap();

        let query = similarity_query("Parser crashes on empty input", "").unwrap();
        let similar = db.similar_runs(RepoId(1), "medium", &query).await.unwrap();
        assert_eq!(
            similar.len(),
            6,
            "the parser tasks, not the failed one: {similar:?}"
        );
        let all = db.complexity_runs(RepoId(1), "medium").await.unwrap();
        let e = estimate(&similar, &all).unwrap();
        assert_eq!(e.basis, Basis::Similar);
        assert_eq!(e.samples, 6);
        // Mean of 60..360 is 210; ranks 0.125 and 4.875 of the six.
        assert_eq!(
            (e.secs.mid, e.secs.low, e.secs.high),
            (210, 68, 353),
            "{e:?}"
        );
        assert_eq!(e.micro_usd.unwrap().mid, 350_000);

        // A task unlike any before: the repository's average for the complexity.
        let query = similarity_query("Translate the docs", "").unwrap();
        let none = db.similar_runs(RepoId(1), "medium", &query).await.unwrap();
        let e = estimate(&none, &all).unwrap();
        assert_eq!(e.basis, Basis::Complexity);
        assert_eq!(e.samples, 10);

        // Spending: the finished runs since a time, of the repository.
        assert_eq!(
            db.spent_since(SpendScope::Repo(RepoId(1)), 0)
                .await
                .unwrap(),
            (1..=6).map(|i| i * 100_000).sum::<u64>() + 4 * 5_000_000 + 1
        );
        assert_eq!(
            db.spent_since(SpendScope::Repo(RepoId(2)), 0)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            db.spent_since(SpendScope::Repo(RepoId(1)), 1)
                .await
                .unwrap(),
            0
        );

        let summary = db.run_stats_summary().await.unwrap();
        assert_eq!(summary.len(), 1);
        assert_eq!((summary[0].runs, summary[0].done), (11, 10));
        assert_eq!(summary[0].median_secs, 300.0, "the middle of 11 runs");
    }

    #[tokio::test]
    async fn an_installation_spends_what_its_repositories_tasks_spent() {
        use crate::db::{NewAttempt, StartOutcome};
        use bosun_core::ids::{InstallationId, IssueNumber, RepoRef};
        use bosun_core::model::{TaskEvent, TaskKind, TriggerSource};
        let (db, _dir) = crate::db::test_db().await;
        let new = NewAttempt {
            repo_id: RepoId(9),
            repo: RepoRef::new("o", "r"),
            installation: InstallationId(5),
            issue: IssueNumber(1),
            label_prefix: "bosun".into(),
            event: TaskEvent::Triggered {
                attempt: 0,
                kind: TaskKind::Implement,
                by: "a".into(),
                source: TriggerSource::IssueBody,
                instructions: String::new(),
                issue: None,
            },
        };
        let StartOutcome::Started(task) = db.start_attempt(new, |_| vec![]).await.unwrap() else {
            panic!("a new task")
        };
        let mut s = stat(task.id.0, "t", 60, 250_000, "done");
        s.repo_id = RepoId(9);
        db.record_run_stat(&s).await.unwrap();
        let of = |i| SpendScope::Installation(InstallationId(i));
        assert_eq!(db.spent_since(of(5), 0).await.unwrap(), 250_000);
        assert_eq!(db.spent_since(of(6), 0).await.unwrap(), 0);
    }
}
