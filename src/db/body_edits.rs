//! Issue body edits (`issue_body_edits`): who changed an issue's body, and what it said before.

use super::{now_ms, Db};
use bosun_core::events::Actor;
use bosun_core::ids::{IssueNumber, RepoId, UserId};
use bosun_core::job::BodyEdit;
use sqlx::Row;

/// How many of an issue's latest edits a trigger looks back through.
const LOOK_BACK: i64 = 50;

/// One recorded edit.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyEditRow {
    pub editor: Actor,
    pub old_body: String,
}

/// Records an edit: repository, issue, editor's login, id and bot flag, old body, when.
/// (The ingest writer binds the same statement on its own connection.)
pub(super) const INSERT: &str = "INSERT INTO issue_body_edits
    (repo_id, issue, editor, editor_id, editor_bot, old_body, recorded_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

fn insert(
    edit: &BodyEdit,
) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    sqlx::query(INSERT)
        .bind(edit.repo_id.0 as i64)
        .bind(edit.issue.0 as i64)
        .bind(&edit.editor.login)
        .bind(edit.editor.id.0 as i64)
        .bind(edit.editor.is_bot)
        .bind(&edit.old_body)
        .bind(now_ms())
}

impl Db {
    /// Records an edit on its own: a `body_edited` job queued by a version of bosun that did
    /// not yet record edits at intake.
    pub async fn record_body_edit(&self, edit: &BodyEdit) -> Result<(), sqlx::Error> {
        insert(edit).execute(&mut *self.writer().await?).await?;
        Ok(())
    }

    /// The issue's latest body edits, newest first.
    pub async fn body_edits(
        &self,
        repo: RepoId,
        issue: IssueNumber,
    ) -> Result<Vec<BodyEditRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT editor, editor_id, editor_bot, old_body FROM issue_body_edits
             WHERE repo_id = ? AND issue = ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(repo.0 as i64)
        .bind(issue.0 as i64)
        .bind(LOOK_BACK)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BodyEditRow {
                    editor: Actor {
                        login: r.try_get(0)?,
                        id: UserId(r.try_get::<i64, _>(1)? as u64),
                        is_bot: r.try_get(2)?,
                    },
                    old_body: r.try_get(3)?,
                })
            })
            .collect()
    }
}
