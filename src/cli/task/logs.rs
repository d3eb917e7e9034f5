//! `bosun task logs`: the output of an attempt's agent runs.
//!
//! The run pipeline keeps each agent run's output in
//! `<data>/runs/task-<id>/attempt-<n>/<run>/agent.log` (`<run>`: `route`, `round-<r>`,
//! `round-<r>-restart-<k>`, `review-<pass>-<i>-run-<k>`, see `run::pipeline::run_dir`). This
//! prints them in the order they were started, each after a `==> <run>/agent.log <==` header
//! (as `tail` does for several files); `--follow` keeps printing what is appended, and runs
//! that start later, until the attempt ends.
//!
//! By default each run is shown as its adapter reads it (`bosun_core::agent::readable`: what
//! the agent said, each tool call and result, the usage so far); `--raw` prints the CLI's own
//! lines. A run whose adapter was not noted (older runs) is printed raw.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::Db;
pub use crate::run::logs::View;
use crate::run::logs::{adapter_of, attempt_dir, log_files, LOG_FILE};
use bosun_core::agent::readable::Reader;
use bosun_core::model::TaskId;

/// How often `--follow` looks for new output and at the task's status.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

pub async fn print(
    db: &Db,
    data_dir: &Path,
    id: TaskId,
    attempt: Option<u32>,
    follow: bool,
    view: View,
) -> anyhow::Result<()> {
    let task = db
        .task(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no task {id}: `bosun task list` shows the tasks"))?;
    let attempt = attempt.unwrap_or(task.attempt);
    anyhow::ensure!(
        (1..=task.attempt).contains(&attempt),
        "task {id} has attempts 1 to {}",
        task.attempt
    );
    let dir = attempt_dir(data_dir, id, attempt);
    let mut printer = Printer {
        view,
        ..Printer::default()
    };
    loop {
        // Read before printing: whatever the runs wrote before the attempt ended is then
        // printed by this last pass.
        let going = follow
            && db
                .task(id)
                .await?
                .is_some_and(|t| t.status.is_active() && t.attempt == attempt);
        match printer.pass(&dir) {
            Ok(()) => {}
            // The reader went away (`| head`): nothing left to do.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if !going {
            break;
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
    if !printer.printed_any {
        eprintln!(
            "no agent output for task {id} attempt {attempt} (looked in {}); a server in \
             placeholder mode runs no agent",
            dir.display()
        );
    } else if follow {
        let status = db.task(id).await?.map(|t| t.status.to_string());
        eprintln!(
            "task {id} attempt {attempt} is over: {}",
            status.unwrap_or_default()
        );
    }
    Ok(())
}

/// Prints the logs once, or again and again with only what is new each time.
#[derive(Default)]
struct Printer {
    view: View,
    printed: HashMap<PathBuf, u64>,
    /// Each run's reader, holding its parser's state and a partial last line.
    readers: HashMap<PathBuf, Reader>,
    current: Option<PathBuf>,
    printed_any: bool,
}

impl Printer {
    fn pass(&mut self, dir: &Path) -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for (name, path) in log_files(dir) {
            let from = self.printed.get(&path).copied().unwrap_or(0);
            let mut file = std::fs::File::open(&path)?;
            let len = file.metadata()?.len();
            if len <= from {
                continue;
            }
            file.seek(SeekFrom::Start(from))?;
            let mut fresh = Vec::with_capacity((len - from) as usize);
            file.take(len - from).read_to_end(&mut fresh)?;
            if self.current.as_ref() != Some(&path) {
                let gap = if self.printed_any { "\n" } else { "" };
                writeln!(out, "{gap}==> {name}/{LOG_FILE} <==")?;
                self.current = Some(path.clone());
            }
            self.write(&mut out, &path, &fresh)?;
            self.printed.insert(path, from + fresh.len() as u64);
            self.printed_any = true;
        }
        out.flush()
    }

    /// `fresh`, the next bytes of `path`, as the view shows them.
    fn write(&mut self, out: &mut impl Write, path: &Path, fresh: &[u8]) -> std::io::Result<()> {
        let kind = match self.view {
            View::Readable => adapter_of(path),
            View::Raw => None,
        };
        let Some(kind) = kind else {
            return out.write_all(fresh);
        };
        let reader = self
            .readers
            .entry(path.to_path_buf())
            .or_insert_with(|| Reader::new(kind));
        for line in reader.feed(fresh) {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_in_the_order_they_started() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["round-1", "route", "round-2"] {
            let run = dir.path().join(name);
            std::fs::create_dir_all(run.join("input")).unwrap();
            std::fs::write(run.join(LOG_FILE), format!("{name}\n")).unwrap();
            // Distinct start times even on a coarse clock.
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::create_dir_all(dir.path().join("no-log-yet")).unwrap();
        let names: Vec<String> = log_files(dir.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["round-1", "route", "round-2"]);
    }
}
