//! Where each agent run of an attempt keeps its output
//! (`<data>/runs/task-<id>/attempt-<n>/<run>/agent.log`), and an attempt's logs in the order
//! their runs started: what `bosun task logs` prints and the dashboard streams.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bosun_core::agent::AdapterKind;
use bosun_core::model::TaskId;

/// The file each agent run writes its output to.
pub const LOG_FILE: &str = "agent.log";
/// Beside it, the adapter that parses it (`claude`, `codex`, …).
pub const ADAPTER_FILE: &str = "adapter";

/// How a run's output is shown (`bosun task logs`, the dashboard's live log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Through the run's adapter: one line per event.
    #[default]
    Readable,
    /// The CLI's own lines.
    Raw,
}

/// Notes which adapter reads `run_dir`'s log; a failure only costs the readable view.
pub fn note_adapter(run_dir: &Path, kind: AdapterKind) {
    let _ = std::fs::create_dir_all(run_dir);
    if let Err(e) = std::fs::write(run_dir.join(ADAPTER_FILE), kind.name()) {
        tracing::warn!(error = %e, "could not note the run's adapter beside its log");
    }
}

/// The adapter noted for the run whose log is `log`, if any.
pub fn adapter_of(log: &Path) -> Option<AdapterKind> {
    let dir = log.parent()?;
    std::fs::read_to_string(dir.join(ADAPTER_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}
/// The directory of one attempt's runs.
pub fn attempt_dir(data_dir: &Path, task: TaskId, attempt: u32) -> PathBuf {
    let runs = super::runner::runs_dir(data_dir);
    super::runner::attempt_dir(&runs, task, attempt)
}

/// The attempt's agent logs as (run name, path), oldest run first.
pub fn log_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path().join(LOG_FILE);
            let meta = std::fs::metadata(&path).ok()?;
            // A run's log is created when it starts; without a birth time, its first write
            // is the best stand-in.
            let started = meta.created().or_else(|_| meta.modified()).ok()?;
            Some((started, e.file_name().to_string_lossy().into_owned(), path))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(_, name, path)| (name, path))
        .collect()
}
