//! What runs taught about each repository (`learnings`, `learnings_text`): stored at the end of
//! an attempt, read for the prompt of later similar tasks, listed and deleted by
//! `bosun learnings`.

use sqlx::Row;

use super::Db;
use bosun_core::ids::{InstallationId, IssueNumber, RepoId, RepoRef};
use bosun_core::learnings::Note;
use bosun_core::model::TaskId;

/// A repository keeps at most this many learnings, the most recently seen: old lessons about
/// code that has since changed should not crowd out new ones.
pub const MAX_PER_REPO: i64 = 200;
/// Indexed from the issue a note came from: its beginning says what the task was about.
const MAX_INDEXED_BODY_CHARS: usize = 4_000;

/// Where an attempt's notes come from.
#[derive(Debug, Clone)]
pub struct LearnedFrom {
    pub repo_id: RepoId,
    pub repo: RepoRef,
    pub installation: InstallationId,
    pub task: TaskId,
    pub issue: IssueNumber,
    /// The issue's title and body, indexed with the notes for similarity.
    pub title: String,
    pub body: String,
}

/// One stored learning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learning {
    pub id: i64,
    pub source: String,
    pub task_id: i64,
    pub issue: u64,
    pub note: String,
    /// How many attempts taught it.
    pub seen: u32,
    pub created_at: i64,
    pub last_seen: i64,
}

const COLUMNS: &str =
    "l.id, l.source, l.task_id, l.issue, l.note, l.seen, l.created_at, l.last_seen";

impl Db {
    /// Stores an attempt's notes at time `now`: a note the repository already has (same
    /// normalised text) counts once more instead. Then only the newest [`MAX_PER_REPO`] of the
    /// repository are kept.
    pub async fn record_learnings(
        &self,
        from: &LearnedFrom,
        notes: &[Note],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        if notes.is_empty() {
            return Ok(());
        }
        let repo_id = from.repo_id.0 as i64;
        let body: String = from.body.chars().take(MAX_INDEXED_BODY_CHARS).collect();
        let mut tx = self.begin_write().await?;
        for note in notes {
            let known: Option<i64> =
                sqlx::query_scalar("SELECT id FROM learnings WHERE repo_id = ? AND norm = ?")
                    .bind(repo_id)
                    .bind(&note.key)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some(id) = known {
                sqlx::query("UPDATE learnings SET seen = seen + 1, last_seen = ? WHERE id = ?")
                    .bind(now)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO learnings (repo_id, repo, installation_id, source, task_id, issue,
                   note, norm, created_at, last_seen)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(repo_id)
            .bind(from.repo.to_string())
            .bind(from.installation.0 as i64)
            .bind(note.source.as_str())
            .bind(from.task.0)
            .bind(from.issue.0 as i64)
            .bind(&note.text)
            .bind(&note.key)
            .bind(now)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO learnings_text (rowid, note, title, body) VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&note.text)
            .bind(&from.title)
            .bind(&body)
            .execute(&mut **tx)
            .await?;
        }
        // A renamed repository keeps its learnings (they are keyed by id); the CLI finds them
        // by the current name.
        sqlx::query("UPDATE learnings SET repo = ? WHERE repo_id = ? AND repo <> ?")
            .bind(from.repo.to_string())
            .bind(repo_id)
            .bind(from.repo.to_string())
            .execute(&mut **tx)
            .await?;
        let old: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM learnings WHERE repo_id = ?
             ORDER BY last_seen DESC, id DESC LIMIT -1 OFFSET ?",
        )
        .bind(repo_id)
        .bind(MAX_PER_REPO)
        .fetch_all(&mut **tx)
        .await?;
        for id in old {
            delete_one(&mut tx, id).await?;
        }
        tx.commit().await
    }

    /// Up to `limit` learnings of `repo` for a new task: the best bm25 matches of `query` (an
    /// FTS5 query made of the task's title and body; the note counts most), then, to fill
    /// up, the most recently seen others. A lesson about the repository's gates applies to
    /// any task, even one whose words it does not share.
    pub async fn relevant_learnings(
        &self,
        repo: RepoId,
        query: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Learning>, sqlx::Error> {
        let limit = limit as i64;
        let mut out = match query {
            Some(query) => {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM learnings_text t JOIN learnings l ON l.id = t.rowid
                     WHERE learnings_text MATCH ? AND l.repo_id = ?
                     ORDER BY bm25(learnings_text, 4.0, 1.0, 0.5), l.last_seen DESC
                     LIMIT ?"
                ))
                .bind(query)
                .bind(repo.0 as i64)
                .bind(limit)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter()
                    .map(learning)
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => Vec::new(),
        };
        if (out.len() as i64) < limit {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM learnings l WHERE l.repo_id = ?
                 ORDER BY l.last_seen DESC, l.id DESC LIMIT ?"
            ))
            .bind(repo.0 as i64)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
            for row in rows {
                let l = learning(row)?;
                if out.len() as i64 >= limit {
                    break;
                }
                if !out.iter().any(|o| o.id == l.id) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    /// Every learning of the repository named `repo` (any case), oldest first.
    pub async fn learnings_of(&self, repo: &RepoRef) -> Result<Vec<Learning>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM learnings l WHERE l.repo = ? COLLATE NOCASE ORDER BY l.id"
        ))
        .bind(repo.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(learning).collect()
    }

    /// Deletes learning `id` of `repo`; false when the repository has no such learning.
    pub async fn delete_learning(&self, repo: &RepoRef, id: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM learnings WHERE id = ? AND repo = ? COLLATE NOCASE")
                .bind(id)
                .bind(repo.to_string())
                .fetch_optional(&mut **tx)
                .await?;
        if found.is_some() {
            delete_one(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(found.is_some())
    }

    /// Deletes every learning of `repo`; returns how many there were.
    pub async fn delete_learnings(&self, repo: &RepoRef) -> Result<u64, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM learnings WHERE repo = ? COLLATE NOCASE")
                .bind(repo.to_string())
                .fetch_all(&mut **tx)
                .await?;
        for &id in &ids {
            delete_one(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

/// Removes a learning and its index row.
async fn delete_one(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM learnings_text WHERE rowid = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM learnings WHERE id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn learning(r: sqlx::sqlite::SqliteRow) -> Result<Learning, sqlx::Error> {
    let issue: i64 = r.try_get(3)?;
    let seen: i64 = r.try_get(5)?;
    Ok(Learning {
        id: r.try_get(0)?,
        source: r.try_get(1)?,
        task_id: r.try_get(2)?,
        issue: issue.max(0) as u64,
        note: r.try_get(4)?,
        seen: seen.clamp(0, u32::MAX as i64) as u32,
        created_at: r.try_get(6)?,
        last_seen: r.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_core::estimate::similarity_query;
    use bosun_core::learnings::{normalise, Source};

    fn from(repo_id: u64, task: i64, title: &str) -> LearnedFrom {
        LearnedFrom {
            repo_id: RepoId(repo_id),
            repo: RepoRef::new("acme", format!("repo{repo_id}")),
            installation: InstallationId(7),
            task: TaskId(task),
            issue: IssueNumber(task as u64),
            title: title.into(),
            body: String::new(),
        }
    }

    fn note(source: Source, text: &str) -> Note {
        Note {
            source,
            text: text.into(),
            key: normalise(text),
        }
    }

    #[tokio::test]
    async fn notes_are_stored_deduplicated_ranked_and_deleted() {
        let (db, _dir) = crate::db::test_db().await;
        let parser = from(1, 1, "Parser crashes on empty input");
        db.record_learnings(
            &parser,
            &[
                note(
                    Source::Gate,
                    "gate `test` failed before it passed: error at line 3",
                ),
                note(
                    Source::Review,
                    "a reviewer asked: the parser returns Err(Empty), never panics",
                ),
            ],
            100,
        )
        .await
        .unwrap();
        let styles = from(1, 2, "Dashboard colours are off");
        db.record_learnings(
            &styles,
            &[
                note(
                    Source::PeerReview,
                    "peer review concern: use the theme's palette",
                ),
                // The same lesson as task 1's gate note, numbers aside.
                note(
                    Source::Gate,
                    "Gate `test` failed before it passed: error at line 9",
                ),
            ],
            200,
        )
        .await
        .unwrap();
        // Another repository's learning is never shown here.
        db.record_learnings(
            &from(2, 3, "Parser again"),
            &[note(Source::Review, "a reviewer asked: parser")],
            300,
        )
        .await
        .unwrap();

        let all = db
            .learnings_of(&RepoRef::new("ACME", "Repo1"))
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        let gate = &all[0];
        assert_eq!((gate.seen, gate.created_at, gate.last_seen), (2, 100, 200));
        assert_eq!(
            (gate.task_id, gate.issue, gate.source.as_str()),
            (1, 1, "gate")
        );
        assert!(gate.note.ends_with("line 3"), "the first wording stays");

        // A parser issue: the note that names the parser first (the note counts most), then
        // the other note of the parser task (its title matches), then the rest by recency.
        let query = similarity_query("Parser fails on whitespace input", "").unwrap();
        let got = db
            .relevant_learnings(RepoId(1), Some(&query), 5)
            .await
            .unwrap();
        let notes: Vec<&str> = got.iter().map(|l| l.note.as_str()).collect();
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].starts_with("a reviewer asked: the parser"),
            "{notes:?}"
        );
        assert!(notes[1].starts_with("gate `test`"), "{notes:?}");
        let got = db
            .relevant_learnings(RepoId(1), Some(&query), 1)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        // Nothing matches: the most recently seen.
        let query = similarity_query("Translate the docs", "").unwrap();
        let got = db
            .relevant_learnings(RepoId(1), Some(&query), 2)
            .await
            .unwrap();
        let ids: Vec<i64> = got.iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![all[2].id, all[0].id], "{got:?}");

        assert!(!db
            .delete_learning(&RepoRef::new("acme", "repo2"), all[0].id)
            .await
            .unwrap());
        assert!(db
            .delete_learning(&RepoRef::new("acme", "repo1"), all[0].id)
            .await
            .unwrap());
        assert_eq!(db.learnings_of(&parser.repo).await.unwrap().len(), 2);
        let query = similarity_query("test gate error", "").unwrap();
        let got = db
            .relevant_learnings(RepoId(1), Some(&query), 5)
            .await
            .unwrap();
        assert!(got.iter().all(|l| l.id != all[0].id), "{got:?}");
        assert_eq!(db.delete_learnings(&parser.repo).await.unwrap(), 2);
        assert!(db
            .relevant_learnings(RepoId(1), Some(&query), 5)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            db.learnings_of(&RepoRef::new("acme", "repo2"))
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_repository_keeps_its_newest_learnings_up_to_the_cap() {
        let (db, _dir) = crate::db::test_db().await;
        let repo = from(1, 1, "t");
        for i in 0..MAX_PER_REPO + 5 {
            let text = format!("a reviewer asked: lesson {}", "x".repeat(i as usize + 1));
            db.record_learnings(&repo, &[note(Source::Review, &text)], i)
                .await
                .unwrap();
        }
        let all = db.learnings_of(&repo.repo).await.unwrap();
        assert_eq!(all.len() as i64, MAX_PER_REPO);
        assert_eq!(all[0].last_seen, 5, "the five oldest went");
        let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM learnings_text")
            .fetch_one(&db.read)
            .await
            .unwrap();
        assert_eq!(indexed, MAX_PER_REPO, "their index rows went with them");

        // A renamed repository keeps its learnings under its new name.
        let mut renamed = repo.clone();
        renamed.repo = RepoRef::new("acme", "renamed");
        let text = "a reviewer asked: one more";
        db.record_learnings(&renamed, &[note(Source::Review, text)], 1_000)
            .await
            .unwrap();
        assert!(db.learnings_of(&repo.repo).await.unwrap().is_empty());
        assert_eq!(
            db.learnings_of(&renamed.repo).await.unwrap().len() as i64,
            MAX_PER_REPO
        );
    }
}
