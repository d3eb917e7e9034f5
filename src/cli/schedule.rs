//! `bosun job …`: the server's scheduled jobs, managed in the data directory's database
//! (a running server picks changes up at its next look, within seconds).

use std::path::Path;

use clap::Subcommand;

use crate::db::{now_ms, Db};
use bosun_core::ids::RepoRef;
use bosun_core::schedule::{ScheduleRow, ScheduleSource};

#[derive(Debug, Clone, Subcommand)]
pub enum JobAction {
    /// List the jobs, with their next tick.
    List,
    /// Add a job: at each tick of `--cron` (UTC), open an issue in `--repo` with `--prompt` as
    /// its description and start a task on it (or, with `--run`, run that command in the
    /// sandbox in place of an agent).
    Add {
        name: String,
        /// Five fields (minute hour day month weekday), e.g. "0 6 * * 1" for Mondays 06:00.
        #[arg(long)]
        cron: String,
        /// owner/name; the App must be installed there.
        #[arg(long)]
        repo: RepoRef,
        /// The title; the job's name when left out.
        #[arg(long)]
        title: Option<String>,
        /// What the agent should do, as an issue description.
        #[arg(long, required_unless_present = "run", conflicts_with = "run")]
        prompt: Option<String>,
        /// A shell command run on the repository's checkout in the sandbox, instead of an
        /// agent; what it changes goes through the gates into a draft pull request.
        #[arg(long)]
        run: Option<String>,
        /// Add it switched off.
        #[arg(long)]
        disabled: bool,
    },
    Remove {
        name: String,
    },
    Enable {
        name: String,
    },
    Disable {
        name: String,
    },
    /// Fire the jobs whose tick has passed, now (the server does this every 20 seconds).
    Tick,
}

/// Carries out `action` at time `now_ms`; returns what to print.
pub async fn run_at(data_dir: &Path, action: JobAction, now_ms: i64) -> anyhow::Result<String> {
    let db = Db::open(data_dir).await?;
    let out = act(&db, action, now_ms).await;
    db.close().await;
    out
}

pub async fn run(data_dir: &Path, action: JobAction) -> anyhow::Result<String> {
    run_at(data_dir, action, now_ms()).await
}

async fn act(db: &Db, action: JobAction, now: i64) -> anyhow::Result<String> {
    Ok(match action {
        JobAction::List => {
            let rows = db.schedules().await?;
            if rows.is_empty() {
                return Ok("no jobs; add one with `bosun job add`".into());
            }
            rows.iter()
                .map(|r| list_line(r, now))
                .collect::<Vec<_>>()
                .join("\n")
        }
        JobAction::Add {
            name,
            cron,
            repo,
            title,
            prompt,
            run,
            disabled,
        } => {
            let schedule =
                bosun_core::schedule::parse(&cron).map_err(|why| anyhow::anyhow!(why))?;
            let empty = |t: &Option<String>| t.as_deref().is_none_or(|t| t.trim().is_empty());
            anyhow::ensure!(
                !(empty(&prompt) && empty(&run)),
                "the prompt (or the command) is empty"
            );
            anyhow::ensure!(
                !name.trim().is_empty() && name.chars().count() <= 100,
                "a job's name has 1 to 100 characters"
            );
            let row = ScheduleRow {
                title: title.unwrap_or_else(|| name.clone()),
                name,
                cron,
                repo: repo.to_string(),
                prompt: prompt.unwrap_or_default(),
                command: run,
                enabled: !disabled,
                last_tick: now,
                source: ScheduleSource::Cli,
            };
            db.add_schedule(&row, now).await?;
            format!(
                "added `{}`; next tick {}",
                row.name,
                when(bosun_core::schedule::next_tick(&schedule, now))
            )
        }
        JobAction::Remove { name } => {
            db.remove_schedule(&name).await?;
            format!("removed `{name}`")
        }
        JobAction::Enable { name } => {
            db.enable_schedule(&name, true, now).await?;
            format!("enabled `{name}`")
        }
        JobAction::Disable { name } => {
            db.enable_schedule(&name, false, now).await?;
            format!("disabled `{name}`")
        }
        JobAction::Tick => {
            let fired = db.tick_schedules(now).await?;
            if fired.is_empty() {
                "nothing was due".into()
            } else {
                fired
                    .iter()
                    .map(|(name, tick)| format!("fired `{name}` for {}", when(Some(*tick))))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    })
}

fn list_line(r: &ScheduleRow, now: i64) -> String {
    let next = match bosun_core::schedule::parse(&r.cron) {
        Ok(s) if r.enabled => when(bosun_core::schedule::next_tick(&s, r.last_tick.max(now))),
        Ok(_) => "off".into(),
        Err(why) => format!("broken: {why}"),
    };
    let what = if r.command.is_some() {
        "command"
    } else {
        "prompt"
    };
    let from = match &r.source {
        ScheduleSource::Cli => "cli",
        ScheduleSource::Server => "server config",
        ScheduleSource::Repo(_) => "repo config",
    };
    format!(
        "{}\t{}\t{}\t{what}\t{from}\tnext: {next}",
        r.name, r.cron, r.repo
    )
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(bosun_core::schedule::utc_minute)
        .unwrap_or_else(|| "never".into())
}
