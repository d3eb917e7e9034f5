//! `bosun task kill` and `bosun task retry`: the operator's `@bosun stop` and `@bosun retry`.
//!
//! They write what the trigger job writes for those commands, through `engine::control` (which
//! the dashboard's buttons use too): a `stopped` event, or a `triggered` event that opens the
//! next attempt, each in one transaction with the same durable jobs. The server's workers then
//! do the rest as for a comment.
//!
//! The trigger job itself is not enqueued: it asks GitHub whether its sender may write to the
//! repository, and an operator at this machine is no GitHub account. Whoever can run this
//! command owns the data directory, which is more than write access.

use std::path::Path;

use crate::db::Db;
use crate::engine::control::{self, ControlError};
use bosun_core::model::TaskId;

pub async fn kill(db: &Db, id: TaskId) -> anyhow::Result<()> {
    let by = local_actor();
    control::stop(db, id, &by).await.map_err(explain)?;
    println!(
        "task {id}: stop recorded, by {by}. A running bosun server stops the run within a \
         second and marks the issue failed; without one, that happens when it starts."
    );
    Ok(())
}

pub async fn retry(
    db: &Db,
    id: TaskId,
    note: Option<String>,
    run_config: Option<&Path>,
) -> anyhow::Result<()> {
    let limits = control::spend_limits(run_config)?;
    let by = local_actor();
    let row = control::retry(db, id, &by, note, limits)
        .await
        .map_err(explain)?;
    println!(
        "task {id}: attempt {} queued, by {by}. A running bosun server starts it within \
         a second; `bosun task logs {id} --follow` shows the agent's output.",
        row.attempt
    );
    Ok(())
}

/// The refusal as the operator at a terminal needs it: which command helps next.
fn explain(e: ControlError) -> anyhow::Error {
    match e {
        ControlError::NoTask(id) => {
            anyhow::anyhow!("no task {id}: `bosun task list` shows the tasks")
        }
        ControlError::StillGoing { id, status } => anyhow::anyhow!(
            "task {id} is {status} and still going: `bosun task kill {id}` stops it first"
        ),
        ControlError::BudgetSpent(why) => anyhow::anyhow!(
            "not starting: {why}. Ask again after that, or raise the limit in the run \
             configuration (`limits.repo_daily_budget_usd`, `limits.installation_monthly_budget_usd`)"
        ),
        other => other.into(),
    }
}

/// Who asked, as the task's events record it: `cli:<local user>`. In backticks, because the
/// tracking comment writes the requester as `@<by>`, and a bare `@cli:alice` would mention
/// (and notify) the GitHub account `cli`.
pub fn local_actor() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        // SAFETY: getuid cannot fail and touches no memory.
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(39)
        .collect();
    format!("`cli:{clean}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_cannot_mention_anyone() {
        let actor = local_actor();
        assert!(
            actor.starts_with("`cli:") && actor.ends_with('`'),
            "{actor}"
        );
        assert!(!actor[1..actor.len() - 1].contains('`'));
    }
}
