//! The demo's data directory: bosun's database, mirrors, checkouts and run logs, the sample
//! repository and the run configuration. Every demo starts from an empty one, because its
//! simulator is new each time and a database that remembers another simulator's issue #1
//! would make the new issue a second attempt of an old task.

use std::path::{Path, PathBuf};

/// Marks a directory as a demo's, so a later demo may empty it again.
const MARKER: &str = ".bosun-demo";

pub struct DataDir {
    path: PathBuf,
    /// Made by the demo in the temporary directory, so removed when it ends.
    temporary: bool,
}

impl DataDir {
    /// `given` when set: created if missing, emptied if an earlier demo used it, refused if it
    /// holds anything else. Otherwise a new directory under the system's temporary directory.
    pub fn prepare(given: Option<&Path>) -> anyhow::Result<DataDir> {
        let (path, temporary) = match given {
            Some(path) => {
                if path.join(MARKER).exists() {
                    std::fs::remove_dir_all(path)?;
                } else if std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_some()) {
                    anyhow::bail!(
                        "{} is not empty and not an earlier demo's data directory: give the \
                         demo an empty or new one (it never reuses a server's data)",
                        path.display()
                    );
                }
                (path.to_path_buf(), false)
            }
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or_default();
                let name = format!("bosun-demo-{}-{nanos:x}", std::process::id());
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::create_dir_all(&path)?;
        std::fs::write(
            path.join(MARKER),
            "bosun demo data: `bosun demo` empties this directory when it runs here again\n",
        )?;
        // The engine resolves bind mounts of checkouts by path, so the path must be absolute.
        let path = std::fs::canonicalize(&path)?;
        Ok(DataDir { path, temporary })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// Removes a temporary directory; a given one is kept for `bosun task … --data-dir`.
    pub fn finish(self) {
        if self.temporary {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                eprintln!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}
