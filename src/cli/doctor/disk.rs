//! Free space where the data directory lives: mirrors, checkouts (two per active repository
//! with the spare) and run logs all grow there, and SQLite cannot commit on a full disk.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Finding;

const GIB: u64 = 1 << 30;
/// Below this, a few large repositories' mirrors and checkouts no longer fit.
const WARN_BELOW: u64 = 5 * GIB;
/// Below this, the next clone or database commit may fail.
const FAIL_BELOW: u64 = GIB / 2;

/// The environment snapshots' folder: whether bosun can write there, and what it holds.
pub fn snapshots(data_dir: &Path) -> Finding {
    const WHAT: &str = "environment snapshots";
    let root = data_dir.join("envs");
    if !root.exists() {
        return Finding::ok(
            WHAT,
            "none yet (the first set-up with `cache:` paths makes one)",
        );
    }
    let probe = root.join(".doctor-probe");
    let writable = std::fs::write(&probe, b"").and_then(|_| std::fs::remove_file(&probe));
    if let Err(e) = writable {
        return Finding::fail(
            WHAT,
            format!(
                "cannot write in {} ({e}): give bosun's user that folder",
                root.display()
            ),
        );
    }
    let listed = crate::run::environment::Environments::new(data_dir).list();
    let bytes: u64 = listed.iter().map(|e| e.bytes).sum();
    Finding::ok(
        WHAT,
        format!(
            "{} in {} ({:.1} GiB); `bosun env prune` removes unused ones",
            listed.len(),
            root.display(),
            bytes as f64 / GIB as f64
        ),
    )
}

pub fn free_space(data_dir: &Path) -> Finding {
    const WHAT: &str = "disk";
    // The directory may not exist yet (the server creates it): measure where it will be.
    let Some(existing) = data_dir
        .ancestors()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .find(|p| p.exists())
    else {
        return Finding::warn(
            WHAT,
            format!("cannot find {} or a parent", data_dir.display()),
        );
    };
    let free = match available_bytes(existing) {
        Ok(free) => free,
        Err(e) => {
            return Finding::warn(WHAT, format!("cannot measure {} ({e})", existing.display()))
        }
    };
    let amount = format!(
        "{:.1} GiB free for {}",
        free as f64 / GIB as f64,
        data_dir.display()
    );
    if free < FAIL_BELOW {
        Finding::fail(
            WHAT,
            format!("only {amount}: free space there or move --data-dir to a larger disk"),
        )
    } else if free < WARN_BELOW {
        Finding::warn(
            WHAT,
            format!(
                "only {amount}: mirrors, checkouts and logs need more; free some space \
                 (old logs are under runs/)"
            ),
        )
    } else {
        Finding::ok(WHAT, amount)
    }
}

/// Bytes an unprivileged process may still write on the file system holding `path`.
fn available_bytes(path: &Path) -> std::io::Result<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated path and `stat` a valid place for the answer;
    // statvfs writes nothing else.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_dir_is_measured_where_it_will_be() {
        let dir = tempfile::tempdir().unwrap();
        let finding = free_space(&dir.path().join("not/yet"));
        assert_ne!(finding.level, super::super::Level::Skip);
        assert!(finding.text.contains("GiB free for"), "{finding}");
    }
}
