//! `bosun learnings …`: what runs taught about a repository (the notes later prompts get),
//! listed and deleted in the data directory's database. A running server reads them when each
//! task's prompt is built, so a deletion holds from the next task on.

use std::path::Path;

use clap::Subcommand;

use crate::db::{Db, Learning};
use bosun_core::ids::RepoRef;

#[derive(Debug, Clone, Subcommand)]
pub enum LearningsAction {
    /// List a repository's learnings, oldest first, with their ids.
    List {
        /// owner/name
        repo: RepoRef,
    },
    /// Delete one learning of a repository by its id, or all of them with `--all`.
    Delete {
        /// owner/name
        repo: RepoRef,
        /// The id `bosun learnings list` shows.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        #[arg(long)]
        all: bool,
    },
}

/// Carries out `action`; returns what to print.
pub async fn run(data_dir: &Path, action: LearningsAction) -> anyhow::Result<String> {
    let db = Db::open(data_dir).await?;
    let out = act(&db, action).await;
    db.close().await;
    out
}

async fn act(db: &Db, action: LearningsAction) -> anyhow::Result<String> {
    Ok(match action {
        LearningsAction::List { repo } => render(&repo, &db.learnings_of(&repo).await?),
        LearningsAction::Delete {
            repo, id: Some(id), ..
        } => {
            anyhow::ensure!(
                db.delete_learning(&repo, id).await?,
                "{repo} has no learning {id}; `bosun learnings list {repo}` shows their ids"
            );
            format!("deleted learning {id} of {repo}")
        }
        LearningsAction::Delete {
            repo,
            id: None,
            all: true,
        } => {
            let n = db.delete_learnings(&repo).await?;
            format!(
                "deleted {n} learning{} of {repo}",
                if n == 1 { "" } else { "s" }
            )
        }
        // clap asks for one of them; anyone else calling this must too, since "delete" with
        // neither must not mean "delete everything".
        LearningsAction::Delete { .. } => anyhow::bail!("name a learning's id, or --all"),
    })
}

/// One line per learning: id, where it came from, how often it was learned, when last, and the
/// note.
pub fn render(repo: &RepoRef, learnings: &[Learning]) -> String {
    if learnings.is_empty() {
        return format!("{repo} has no learnings yet");
    }
    learnings
        .iter()
        .map(|l| {
            let last = chrono::DateTime::from_timestamp_millis(l.last_seen)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
            format!(
                "{:>5}  {:<11} #{:<6} {:>3}×  {last}  {}",
                l.id, l.source, l.issue, l.seen, l.note
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::LearnedFrom;
    use bosun_core::ids::{InstallationId, IssueNumber, RepoId};
    use bosun_core::learnings::{normalise, Note, Source};
    use bosun_core::model::TaskId;

    #[test]
    fn one_line_per_learning() {
        let out = render(
            &RepoRef::new("acme", "widgets"),
            &[Learning {
                id: 3,
                source: "gate".into(),
                task_id: 1,
                issue: 12,
                note: "gate `test` (`make`) failed before it passed: error: x".into(),
                seen: 2,
                created_at: 0,
                last_seen: 1_700_000_000_000,
            }],
        );
        assert_eq!(
            out,
            "    3  gate        #12       2×  2023-11-14  \
             gate `test` (`make`) failed before it passed: error: x"
        );
        assert_eq!(
            render(&RepoRef::new("a", "b"), &[]),
            "a/b has no learnings yet"
        );
    }

    #[tokio::test]
    async fn list_delete_one_and_delete_all() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoRef::new("acme", "widgets");
        let db = Db::open(dir.path()).await.unwrap();
        let from = LearnedFrom {
            repo_id: RepoId(1),
            repo: repo.clone(),
            installation: InstallationId(2),
            task: TaskId(3),
            issue: IssueNumber(4),
            title: "t".into(),
            body: String::new(),
        };
        let notes: Vec<Note> = ["a reviewer asked: one", "a reviewer asked: two", "three"]
            .iter()
            .map(|t| Note {
                source: Source::Review,
                text: t.to_string(),
                key: normalise(t),
            })
            .collect();
        db.record_learnings(&from, &notes, 0).await.unwrap();
        db.close().await;

        let list = |r: &str| LearningsAction::List {
            repo: r.parse().unwrap(),
        };
        let out = run(dir.path(), list("acme/widgets")).await.unwrap();
        assert_eq!(out.lines().count(), 3, "{out}");
        let first: i64 = out.split_whitespace().next().unwrap().parse().unwrap();
        let delete = |id, all| LearningsAction::Delete {
            repo: repo.clone(),
            id,
            all,
        };
        let out = run(dir.path(), delete(Some(first), false)).await.unwrap();
        assert_eq!(out, format!("deleted learning {first} of acme/widgets"));
        let again = run(dir.path(), delete(Some(first), false)).await;
        assert!(again.unwrap_err().to_string().contains("has no learning"));
        let out = run(dir.path(), delete(None, true)).await.unwrap();
        assert_eq!(out, "deleted 2 learnings of acme/widgets");
        let out = run(dir.path(), list("Acme/Widgets")).await.unwrap();
        assert_eq!(out, "Acme/Widgets has no learnings yet");
    }
}
