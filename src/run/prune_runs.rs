//! Keeps `<data>/runs/` (the prompts and agent logs of every attempt) from growing without end:
//! hourly, a finished task's folder goes once it is older than `limits.runs_keep_days`, and
//! while finished tasks' folders together are over `limits.runs_max_gib` the least recently
//! used go first. A task still going keeps its folder, and it does not count: its live log is
//! read from there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bosun_core::model::TaskId;

use crate::db::Db;

/// One task's folder under `runs/`.
#[derive(Debug, Clone)]
pub struct TaskRuns {
    pub task: TaskId,
    pub path: PathBuf,
    /// The newest write in it.
    pub last_used: SystemTime,
    pub bytes: u64,
}

/// How long and how much is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub keep: Duration,
    pub max_bytes: u64,
}

/// Which folders go: the finished ones past `keep`, then the least recently used finished ones
/// while their total is over `max_bytes`. Folders of `active` tasks are never picked.
pub fn to_remove(
    mut dirs: Vec<TaskRuns>,
    active: &HashSet<TaskId>,
    now: SystemTime,
    retention: Retention,
) -> Vec<TaskRuns> {
    dirs.retain(|d| !active.contains(&d.task));
    dirs.sort_by_key(|d| d.last_used);
    let mut total: u64 = dirs.iter().map(|d| d.bytes).sum();
    let mut gone = Vec::new();
    for dir in dirs {
        let age = now.duration_since(dir.last_used).unwrap_or_default();
        if age > retention.keep || total > retention.max_bytes {
            total -= dir.bytes;
            gone.push(dir);
        }
    }
    gone
}

/// The task folders under `runs_dir` (`task-<id>`), each measured.
pub fn list(runs_dir: &Path) -> Vec<TaskRuns> {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let id = e
                .file_name()
                .to_str()?
                .strip_prefix("task-")?
                .parse()
                .ok()?;
            let path = e.path();
            let (bytes, last_used) = measure(&path);
            Some(TaskRuns {
                task: TaskId(id),
                path,
                last_used,
                bytes,
            })
        })
        .collect()
}

/// The bytes of the files under `dir` and the newest modification time in it, links not
/// followed.
fn measure(dir: &Path) -> (u64, SystemTime) {
    let mut bytes = 0;
    let mut newest = SystemTime::UNIX_EPOCH;
    crate::run::disk_cap::walk(dir, |meta| {
        newest = newest.max(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        if !meta.is_dir() {
            bytes += meta.len();
        }
    });
    (bytes, newest)
}

/// Removes what `to_remove` picks; the folders removed and their bytes.
pub async fn prune(db: &Db, runs_dir: &Path, retention: Retention) -> anyhow::Result<(usize, u64)> {
    let dir = runs_dir.to_path_buf();
    let found = tokio::task::spawn_blocking(move || list(&dir)).await?;
    let mut active = HashSet::new();
    for d in &found {
        // A folder whose task the database does not know is left alone too: not ours to judge.
        match db.task(d.task).await? {
            Some(task) if !task.status.is_active() => {}
            _ => {
                active.insert(d.task);
            }
        }
    }
    let gone = to_remove(found, &active, SystemTime::now(), retention);
    let (count, bytes) = (gone.len(), gone.iter().map(|d| d.bytes).sum());
    tokio::task::spawn_blocking(move || {
        for d in gone {
            if let Err(e) = std::fs::remove_dir_all(&d.path) {
                tracing::warn!(error = %e, path = %d.path.display(), "could not remove an old run folder");
            }
        }
    })
    .await?;
    Ok((count, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn runs(task: i64, days_ago: u64, mib: u64, now: SystemTime) -> TaskRuns {
        TaskRuns {
            task: TaskId(task),
            path: PathBuf::from(format!("task-{task}")),
            last_used: now - DAY * days_ago as u32,
            bytes: mib << 20,
        }
    }

    fn ids(gone: &[TaskRuns]) -> Vec<i64> {
        let mut ids: Vec<i64> = gone.iter().map(|d| d.task.0).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn old_finished_folders_go_and_then_the_least_recent_while_over_the_size() {
        let now = SystemTime::now();
        let retention = Retention {
            keep: 30 * DAY,
            max_bytes: 100 << 20,
        };
        let dirs = vec![
            runs(1, 40, 10, now), // old: goes
            runs(2, 20, 60, now), // least recent of the rest: goes for the size
            runs(3, 10, 50, now),
            runs(4, 1, 30, now),
            runs(5, 45, 500, now), // old and huge, but its task is still going: kept, not counted
        ];
        let active = HashSet::from([TaskId(5)]);
        assert_eq!(
            ids(&to_remove(dirs.clone(), &active, now, retention)),
            [1, 2]
        );
        // Nothing active: the old ones go, and the least recent while still over the size.
        assert_eq!(
            ids(&to_remove(dirs, &HashSet::new(), now, retention)),
            [1, 2, 5]
        );
    }

    #[test]
    fn folders_are_listed_with_their_size_and_newest_write() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("task-7/attempt-1/round-1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("agent.log"), vec![b'x'; 3000]).unwrap();
        std::fs::create_dir_all(dir.path().join("not-a-task")).unwrap();
        let found = list(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].task, TaskId(7));
        assert_eq!(found[0].bytes, 3000);
        assert!(found[0].last_used.elapsed().unwrap() < Duration::from_secs(60));
    }
}
