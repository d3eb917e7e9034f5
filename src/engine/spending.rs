//! Whether a repository's daily or an installation's monthly budget is spent: the check before
//! anything starts a new run (a trigger on GitHub, `bosun task retry`, and again when the run
//! starts, with the repository's own budget). Spending is what finished runs cost
//! (`run_stats`), per UTC day and per UTC month.

use chrono::Datelike;

use crate::db::{Db, SpendScope};
use crate::engine::context::SpendLimits;
use bosun_core::ids::{InstallationId, RepoId};

/// Which budget is spent under the server's limits, with the repository's own daily budget
/// where it is lower (`repo_budget`: from its `.github/bosun.yml`; `None` when the file could
/// not be read, which leaves the server's limits alone).
pub async fn spent_with_repo_budget(
    db: &Db,
    server: SpendLimits,
    repo_budget: Option<&bosun_core::repo_config::Budget>,
    repo: RepoId,
    installation: InstallationId,
) -> Result<Option<String>, sqlx::Error> {
    let limits = match repo_budget {
        Some(budget) => SpendLimits {
            repo_daily: crate::config::run::clamp_max(
                budget.daily_usd.map(crate::config::run::micro_usd),
                server.repo_daily,
            ),
            ..server
        },
        None => server,
    };
    spent_budget(db, limits, repo, installation).await
}

/// Which budget is spent, with the numbers, or `None` while both leave room.
pub async fn spent_budget(
    db: &Db,
    limits: SpendLimits,
    repo: RepoId,
    installation: InstallationId,
) -> Result<Option<String>, sqlx::Error> {
    let today = chrono::Utc::now().date_naive();
    let midnight = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis())
    };
    if let Some(limit) = limits.repo_daily {
        let spent = db
            .spent_since(SpendScope::Repo(repo), midnight(today))
            .await?;
        if spent >= limit {
            return Ok(Some(crate::reply::spent_line(
                "this repository's daily budget",
                spent,
                limit,
                "midnight UTC",
            )));
        }
    }
    if let Some(limit) = limits.installation_monthly {
        let first = chrono::NaiveDate::from_ymd_opt(today.year(), today.month(), 1);
        let spent = db
            .spent_since(
                SpendScope::Installation(installation),
                first.map_or(0, midnight),
            )
            .await?;
        if spent >= limit {
            return Ok(Some(crate::reply::spent_line(
                "this installation's monthly budget",
                spent,
                limit,
                "the first of next month (UTC)",
            )));
        }
    }
    Ok(None)
}
