//! The circuit breaker of each (repository, agent): after `threshold` agent runs in a row
//! failed, the agent is not started there again until a cool-down passed, so a broken key or
//! an API outage does not turn into an endless loop of doomed runs.

use sqlx::Row;

use super::Db;
use bosun_core::ids::RepoId;

impl Db {
    /// Until when (ms since the epoch) the breaker of `agent` in `repo` is open, if it is.
    pub async fn breaker_open_until(
        &self,
        repo: RepoId,
        agent: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row =
            sqlx::query("SELECT open_until FROM agent_breakers WHERE repo_id = ? AND agent = ?")
                .bind(repo.0 as i64)
                .bind(agent)
                .fetch_optional(&self.read)
                .await?;
        let until: Option<i64> = match row {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        Ok(until.filter(|u| *u > now_ms))
    }

    /// Records how an agent run ended. A failure that makes `threshold` in a row opens the
    /// breaker for `cooldown_ms` (and starts the count again); a success closes it. Returns
    /// the new `open_until` when this call opened it.
    pub async fn note_agent_run(
        &self,
        repo: RepoId,
        agent: &str,
        failed: bool,
        threshold: u32,
        cooldown_ms: i64,
        now_ms: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        if !failed {
            sqlx::query(
                "INSERT INTO agent_breakers (repo_id, agent, failures, open_until) VALUES (?, ?, 0, NULL)
                 ON CONFLICT (repo_id, agent) DO UPDATE SET failures = 0, open_until = NULL",
            )
            .bind(repo.0 as i64)
            .bind(agent)
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO agent_breakers (repo_id, agent, failures) VALUES (?, ?, 1)
             ON CONFLICT (repo_id, agent) DO UPDATE SET failures = failures + 1
             RETURNING failures",
        )
        .bind(repo.0 as i64)
        .bind(agent)
        .fetch_one(&mut **tx)
        .await?;
        let opened = if failures >= i64::from(threshold.max(1)) {
            let until = now_ms + cooldown_ms;
            sqlx::query(
                "UPDATE agent_breakers SET failures = 0, open_until = ? WHERE repo_id = ? AND agent = ?",
            )
            .bind(until)
            .bind(repo.0 as i64)
            .bind(agent)
            .execute(&mut **tx)
            .await?;
            Some(until)
        } else {
            None
        };
        tx.commit().await?;
        Ok(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_breaker_opens_after_failures_in_a_row_and_a_success_closes_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let (repo, now) = (RepoId(7), 1_000_000);
        assert_eq!(
            db.note_agent_run(repo, "claude", true, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            db.note_agent_run(repo, "claude", false, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            db.note_agent_run(repo, "claude", true, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            db.note_agent_run(repo, "claude", true, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        // Another agent, another repository: their own counts.
        assert_eq!(
            db.note_agent_run(repo, "codex", true, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            db.note_agent_run(RepoId(8), "claude", true, 3, 60_000, now)
                .await
                .unwrap(),
            None
        );
        let opened = db
            .note_agent_run(repo, "claude", true, 3, 60_000, now)
            .await
            .unwrap();
        assert_eq!(opened, Some(now + 60_000));
        assert_eq!(
            db.breaker_open_until(repo, "claude", now + 1)
                .await
                .unwrap(),
            Some(now + 60_000)
        );
        assert_eq!(
            db.breaker_open_until(repo, "claude", now + 60_001)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            db.breaker_open_until(repo, "codex", now).await.unwrap(),
            None
        );
        db.note_agent_run(repo, "claude", false, 3, 60_000, now)
            .await
            .unwrap();
        assert_eq!(
            db.breaker_open_until(repo, "claude", now + 1)
                .await
                .unwrap(),
            None
        );
    }
}
