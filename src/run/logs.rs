//! Where each agent run of an attempt keeps its output
//! (`<data>/runs/task-<id>/attempt-<n>/<run>/agent.log`), and an attempt's logs in the order
//! their runs started: what `bosun task logs` prints and the dashboard streams.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bosun_core::model::TaskId;

/// The file each agent run writes its output to.
pub const LOG_FILE: &str = "agent.log";
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
