//! `bosun task …`: list and inspect tasks, stop or retry one, read its run logs; list the jobs
//! given up on and replay one.
//!
//! Everything works on the data directory's database, also while a server runs on it: SQLite
//! in WAL mode lets this process read beside the server, and its few writes queue on SQLite's
//! lock for a moment. `kill` and `retry` change nothing by themselves beyond what `@bosun stop`
//! and `@bosun retry` record: the task's event and the same durable jobs, which the server's
//! workers pick up (see [`control`]).

mod control;
mod dead;
pub mod logs;
mod show;

use std::path::Path;

use clap::Subcommand;

use bosun_core::ids::RepoRef;
use bosun_core::model::{TaskId, TaskStatus};

#[derive(Debug, Clone, Subcommand)]
pub enum TaskAction {
    /// List tasks, most recently changed first.
    List {
        /// Only tasks with this status (new, in-progress, blocked, needs-review, done, failed,
        /// stopped).
        #[arg(long, value_parser = parse_status)]
        status: Option<TaskStatus>,
        /// Only tasks of this repository (owner/name).
        #[arg(long)]
        repo: Option<RepoRef>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one task: status, repository and issue, agent, model, attempt, usage and cost, pull
    /// request, pending jobs, and its event timeline.
    Get {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Stop the task's running attempt, as `@bosun stop` does: a running server stops its
    /// container and marks the issue failed, naming you.
    Kill { id: i64 },
    /// Start a new attempt of a finished, failed or stopped task, as `@bosun retry` does.
    Retry {
        id: i64,
        /// Further instructions for the new attempt.
        #[arg(long)]
        note: Option<String>,
        /// The server's run configuration, for its spending limits (as `bosun serve`).
        #[arg(long = "config", env = "BOSUN_CONFIG")]
        run_config: Option<std::path::PathBuf>,
    },
    /// List the jobs bosun gave up on (a trigger GitHub kept failing, a notice that never got
    /// through), most recent first: the dead letters, kept until replayed.
    Dead {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Queue a dead job again with its tries anew (`bosun task dead` lists them).
    Replay { job: i64 },
    /// Print the agent logs of the task's current (or given) attempt.
    Logs {
        id: i64,
        /// Another attempt than the current one.
        #[arg(long)]
        attempt: Option<u32>,
        /// Keep printing what is written until the attempt ends.
        #[arg(long)]
        follow: bool,
        /// The CLIs' own output, line for line, instead of what it says (text, tool calls,
        /// results, usage).
        #[arg(long)]
        raw: bool,
    },
}

fn parse_status(s: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(s).ok_or_else(|| {
        let all: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", all.join(", "))
    })
}

/// Carries out `action`; what it prints goes to stdout as it comes (logs can be followed).
pub async fn run(data_dir: &Path, action: TaskAction) -> anyhow::Result<()> {
    let db = super::open_existing_db(data_dir).await?;
    let result = match action {
        TaskAction::List {
            status,
            repo,
            limit,
            json,
        } => show::list(&db, status, repo.as_ref(), limit, json).await,
        TaskAction::Get { id, json } => show::get(&db, TaskId(id), json).await,
        TaskAction::Kill { id } => control::kill(&db, TaskId(id)).await,
        TaskAction::Retry {
            id,
            note,
            run_config,
        } => control::retry(&db, TaskId(id), note, run_config.as_deref()).await,
        TaskAction::Dead { limit, json } => dead::list(&db, limit, json).await,
        TaskAction::Replay { job } => dead::replay(&db, job).await,
        TaskAction::Logs {
            id,
            attempt,
            follow,
            raw,
        } => {
            let view = if raw {
                logs::View::Raw
            } else {
                logs::View::Readable
            };
            logs::print(&db, data_dir, TaskId(id), attempt, follow, view).await
        }
    };
    db.close().await;
    result
}
