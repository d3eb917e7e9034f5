//! Environment snapshots: what a repository's set-up installed into its `cache:` paths, kept on
//! this host so that a later task with the same key starts from it and skips the set-up.
//!
//! A snapshot is a directory `<data>/envs/<key>/` with one directory per cache path (`0`, `1`,
//! …) and `ready.json`. The key is a hash of the repository, the image, the set-up commands,
//! the cache paths and the content of the `snapshot_key` files, so a changed lockfile or set-up
//! makes a new one. A set-up builds into `<key>.build-<random>` and renames it into place only
//! when it succeeded, so two tasks building the same key at once cannot mix their files, and a
//! failed or interrupted build leaves nothing that looks ready. Containers get the paths as
//! bind mounts: writable for the set-up that builds them, read-only for every agent and gate,
//! so no run can change what later runs start from.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::runner::give_to;
use super::sandbox::{ExtraMount, HOME_DIR, WORKSPACE_MOUNT};

const READY: &str = "ready.json";

/// What a finished snapshot records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// `owner/name`, for `bosun env list`.
    pub repo: String,
    /// How long its set-up took: what a task that reuses it saves.
    pub setup_secs: u64,
}

/// One snapshot, as `bosun env list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub ready: Ready,
    /// When a task last started from it (or it was made).
    pub last_used: SystemTime,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Environments {
    root: PathBuf,
}

/// The key of a snapshot: the repository, the image, the set-up commands, the cache paths, and
/// each `snapshot_key` file's content (`None`: the file is absent).
pub fn key(
    repo_id: u64,
    image: &str,
    setup: &[String],
    cache: &[String],
    key_files: &[(String, Option<Vec<u8>>)],
) -> String {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(&repo_id.to_le_bytes());
    part(image.as_bytes());
    for command in setup {
        part(command.as_bytes());
    }
    part(b"cache");
    for path in cache {
        part(path.as_bytes());
    }
    part(b"keys");
    for (path, content) in key_files {
        part(path.as_bytes());
        match content {
            Some(content) => part(content),
            None => part(b"\0absent"),
        }
    }
    hex::encode(&hash.finalize()[..8])
}

/// Where a cache path is in the container: under the workspace, or the home for `~/…`.
pub fn target_of(path: &str) -> String {
    let path = path.trim_end_matches('/');
    match path.strip_prefix("~/") {
        Some(home) => format!("{HOME_DIR}/{home}"),
        None => format!("{WORKSPACE_MOUNT}/{path}"),
    }
}

/// The snapshot's directories as mounts at the cache paths.
pub fn mounts(dir: &Path, cache: &[String], writable: bool) -> Vec<ExtraMount> {
    cache
        .iter()
        .enumerate()
        .map(|(i, path)| ExtraMount {
            source: dir.join(i.to_string()),
            target: target_of(path),
            writable,
        })
        .collect()
}

/// Makes the mount points of the checkout's cache paths, owned by the sandbox user: Docker would
/// make a missing one itself, owned by root. They stay empty on the host side, so nothing in
/// them is committed.
pub fn make_mount_points(checkout: &Path, cache: &[String], user: (u32, u32)) -> io::Result<()> {
    for path in cache.iter().filter(|p| !p.starts_with("~/")) {
        let point = checkout.join(path.trim_end_matches('/'));
        std::fs::create_dir_all(&point)?;
        give_to(&point, user)?;
    }
    Ok(())
}

impl Environments {
    pub fn new(data_dir: &Path) -> Environments {
        Environments {
            root: data_dir.join("envs"),
        }
    }

    fn dir(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The snapshot of `key` when one is ready; marks it used.
    pub fn take(&self, key: &str) -> Option<(PathBuf, Ready)> {
        let dir = self.dir(key);
        let ready_file = dir.join(READY);
        let ready: Ready = serde_json::from_slice(&std::fs::read(&ready_file).ok()?).ok()?;
        // The file's time is the snapshot's last use, for `bosun env prune`.
        let _ = std::fs::File::options()
            .append(true)
            .open(&ready_file)
            .and_then(|f| f.set_modified(SystemTime::now()));
        Some((dir, ready))
    }

    /// A directory to build `key`'s snapshot in: one empty directory per cache path, owned by
    /// the sandbox user.
    pub fn build(&self, key: &str, paths: usize, user: (u32, u32)) -> io::Result<Build> {
        std::fs::create_dir_all(&self.root)?;
        let dir = self.root.join(format!(
            "{key}.build-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        for i in 0..paths {
            let path = dir.join(i.to_string());
            std::fs::create_dir_all(&path)?;
            give_to(&path, user)?;
        }
        Ok(Build {
            dir,
            ready_dir: self.dir(key),
            done: false,
        })
    }

    /// Every ready snapshot, most recently used first.
    pub fn list(&self) -> Vec<Listed> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut listed: Vec<Listed> = entries
            .flatten()
            .filter_map(|e| {
                let key = e.file_name().to_string_lossy().into_owned();
                if key.contains('.') {
                    return None; // a build going on, or one left by a crash
                }
                let ready_file = e.path().join(READY);
                let ready = serde_json::from_slice(&std::fs::read(&ready_file).ok()?).ok()?;
                let last_used = std::fs::metadata(&ready_file).ok()?.modified().ok()?;
                let bytes = super::disk_cap::size_of(&e.path());
                Some(Listed {
                    key,
                    ready,
                    last_used,
                    bytes,
                })
            })
            .collect();
        listed.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        listed
    }

    /// Removes the snapshots not used for `unused_for`, and builds left over from a crash
    /// older than that; returns the keys removed.
    pub fn prune(&self, unused_for: Duration) -> io::Result<Vec<String>> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(Vec::new());
        };
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp = std::fs::metadata(path.join(READY))
                .or_else(|_| std::fs::metadata(&path))
                .and_then(|m| m.modified())
                .unwrap_or(now);
            if now.duration_since(stamp).unwrap_or_default() >= unused_for {
                std::fs::remove_dir_all(&path)?;
                removed.push(name);
            }
        }
        removed.sort();
        Ok(removed)
    }
}

/// A snapshot being built: removed when dropped unless [`Build::finish`] put it in place.
pub struct Build {
    dir: PathBuf,
    ready_dir: PathBuf,
    done: bool,
}

impl Build {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks the build ready and puts it in place; the directory it is now in. When another
    /// task put the same key in place first, theirs stays and this one goes.
    pub fn finish(mut self, ready: &Ready) -> io::Result<PathBuf> {
        let text = serde_json::to_vec(ready).map_err(io::Error::other)?;
        std::fs::write(self.dir.join(READY), text)?;
        if std::fs::rename(&self.dir, &self.ready_dir).is_err() {
            std::fs::remove_dir_all(&self.dir)?;
        }
        self.done = true;
        Ok(self.ready_dir.clone())
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> (u32, u32) {
        // SAFETY: getuid and getgid cannot fail.
        unsafe { (libc::getuid(), libc::getgid()) }
    }

    #[test]
    fn the_key_changes_with_anything_that_changes_what_set_up_makes() {
        let setup = vec!["npm ci".to_string()];
        let cache = vec!["node_modules".to_string()];
        let lock = |text: &str| {
            vec![(
                "package-lock.json".to_string(),
                Some(text.as_bytes().to_vec()),
            )]
        };
        let base = key(7, "img", &setup, &cache, &lock("v1"));
        assert_eq!(base, key(7, "img", &setup, &cache, &lock("v1")));
        assert_eq!(base.len(), 16);
        assert_ne!(base, key(7, "img", &setup, &cache, &lock("v2")));
        assert_ne!(base, key(8, "img", &setup, &cache, &lock("v1")));
        assert_ne!(base, key(7, "img2", &setup, &cache, &lock("v1")));
        assert_ne!(base, key(7, "img", &["npm i".into()], &cache, &lock("v1")));
        assert_ne!(base, key(7, "img", &setup, &[".venv".into()], &lock("v1")));
        let absent = vec![("package-lock.json".to_string(), None)];
        assert_ne!(base, key(7, "img", &setup, &cache, &absent));
        assert_ne!(
            key(7, "img", &setup, &cache, &absent),
            key(7, "img", &setup, &cache, &lock(""))
        );
    }

    #[test]
    fn cache_paths_land_under_the_workspace_or_the_home() {
        assert_eq!(target_of("node_modules/"), "/workspace/node_modules");
        assert_eq!(
            target_of("~/.cargo/registry"),
            "/home/bosun/.cargo/registry"
        );
        let m = mounts(
            Path::new("/data/envs/k"),
            &["a".into(), "~/b".into()],
            false,
        );
        assert_eq!(m[1].source, PathBuf::from("/data/envs/k/1"));
        assert!(!m[0].writable && m[1].target == "/home/bosun/b");
    }

    #[test]
    fn a_build_is_ready_only_once_finished_and_the_first_one_stays() {
        let data = tempfile::tempdir().unwrap();
        let envs = Environments::new(data.path());
        assert!(envs.take("k1").is_none());
        {
            let build = envs.build("k1", 2, me()).unwrap();
            std::fs::write(build.dir().join("0/file"), "half").unwrap();
        } // dropped unfinished: gone
        assert!(envs.take("k1").is_none());
        assert!(std::fs::read_dir(data.path().join("envs"))
            .unwrap()
            .next()
            .is_none());

        let ready = Ready {
            repo: "o/r".into(),
            setup_secs: 14,
        };
        let first = envs.build("k1", 1, me()).unwrap();
        std::fs::write(first.dir().join("0/file"), "first").unwrap();
        let second = envs.build("k1", 1, me()).unwrap();
        std::fs::write(second.dir().join("0/file"), "second").unwrap();
        let dir = first.finish(&ready).unwrap();
        second.finish(&ready).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("0/file")).unwrap(),
            "first"
        );
        let (taken, got) = envs.take("k1").unwrap();
        assert_eq!((taken, got), (dir, ready));
        let listed = envs.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, "k1");
        assert!(listed[0].bytes >= 5);

        assert!(envs.prune(Duration::from_secs(3600)).unwrap().is_empty());
        assert_eq!(envs.prune(Duration::ZERO).unwrap(), ["k1"]);
        assert!(envs.take("k1").is_none());
    }
}
