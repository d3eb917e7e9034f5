//! Operator commands of the `bosun` binary that are more than a line in `main.rs`:
//! `bosun task …` (tasks in the data directory's database), `bosun job …` (scheduled jobs) and
//! `bosun doctor` (what to fix before or while running a server).

pub mod doctor;
pub mod env;
pub mod learnings;
pub mod resync;
pub mod schedule;
pub mod stats;
pub mod task;

use std::path::Path;

/// Opens the server's database for an operator command, refusing a directory that holds none:
/// `Db::open` would create an empty database there, and a mistyped `--data-dir` would then
/// answer "no tasks" instead of saying where it looked.
pub(crate) async fn open_existing_db(data_dir: &Path) -> anyhow::Result<crate::db::Db> {
    let file = data_dir.join("bosun.db");
    anyhow::ensure!(
        file.is_file(),
        "no bosun database at {}: point --data-dir (or BOSUN_DATA_DIR) at the server's data directory",
        file.display()
    );
    crate::db::Db::open(data_dir).await
}
