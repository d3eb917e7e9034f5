//! `bosun env …`: the environment snapshots in the data directory (what repositories' set-ups
//! installed, kept so later tasks skip the set-up): listed, and pruned when unused.

use std::path::Path;
use std::time::{Duration, SystemTime};

use clap::Subcommand;

use crate::reply::text::utc;
use crate::run::environment::Environments;

#[derive(Debug, Clone, Subcommand)]
pub enum EnvAction {
    /// List the snapshots, most recently used first.
    List,
    /// Remove the snapshots no task started from for `--unused-days` days (all with 0); the
    /// next task of their repository runs its set-up again.
    Prune {
        #[arg(long, default_value_t = 14)]
        unused_days: u64,
    },
}

/// Carries out `action`; returns what to print.
pub fn run(data_dir: &Path, action: EnvAction) -> anyhow::Result<String> {
    let envs = Environments::new(data_dir);
    Ok(match action {
        EnvAction::List => {
            let listed = envs.list();
            if listed.is_empty() {
                return Ok("no environment snapshots".to_string());
            }
            listed
                .iter()
                .map(|e| {
                    let used = e
                        .last_used
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    let mib = e.bytes as f64 / f64::from(1 << 20);
                    format!(
                        "{}  {}  {mib:.1} MiB  set-up {}s  last used {}",
                        e.key,
                        e.ready.repo,
                        e.ready.setup_secs,
                        utc(used)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        EnvAction::Prune { unused_days } => {
            let removed = envs.prune(Duration::from_secs(unused_days * 24 * 3600))?;
            match removed.len() {
                0 => "nothing to prune".to_string(),
                n => format!("removed {n}: {}", removed.join(", ")),
            }
        }
    })
}
