//! Reads the checkout back after the agent (and the gates) ran and turns it into a git tree,
//! deciding file by file what may be committed. The host does this, not the agent, and it
//! trusts nothing in the directory: it never follows a symbolic link, ignores any `.git` the
//! agent made, keeps `.github/workflows/` as it was (the App has no `workflows` permission and
//! a workflow change is a way to run code with the repository's secrets), and scans every
//! changed file for secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use git2::{FileMode, IndexEntry, IndexTime, ObjectType, Oid, Repository, TreeWalkMode};

use super::materialize::safe_entry_name;
use super::{GitError, Workspace};
use bosun_core::redact::Redactor;

/// Files larger than this are not committed (GitHub refuses files over 100 MB).
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The changed files of one snapshot together: they are held in memory until the tree is
/// written, so past this the next changed files are refused rather than read.
pub const MAX_CHANGE_BYTES: u64 = 200 * 1024 * 1024;

const WORKFLOWS: &[u8] = b".github/workflows/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

use bosun_core::publish::{Rejection, SecretInFile};

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The tree to commit (equal to the base tree when nothing changed).
    pub tree: Oid,
    pub changes: Vec<Change>,
    pub rejected: Vec<Rejection>,
    pub secrets: Vec<SecretInFile>,
    /// Changes to protected paths, kept out of `tree` until a writer approves them.
    pub held: Vec<Change>,
    /// `tree` with the held changes too: what an approval pushes (`None` when none is held).
    pub held_tree: Option<Oid>,
}

impl Snapshot {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: Oid,
    mode: i32,
}

/// Builds the snapshot of `ws`, holding nothing back. `redactor` finds secrets in changed
/// files.
pub fn take(ws: &Workspace, redactor: &Redactor) -> Result<Snapshot, GitError> {
    take_holding(ws, redactor, &|_| false)
}

/// Builds the snapshot of `ws`; a change to a path `protects` says yes to is held back: kept
/// out of the tree, and in `held_tree` with the rest. Held files are scanned for secrets like
/// the others (an approval pushes them).
pub fn take_holding(
    ws: &Workspace,
    redactor: &Redactor,
    protects: &dyn Fn(&str) -> bool,
) -> Result<Snapshot, GitError> {
    let repo = Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
    let base_oid = Oid::from_str(&ws.base_sha).map_err(GitError::git("read the base commit"))?;
    let base_tree = repo
        .find_commit(base_oid)
        .and_then(|c| c.tree())
        .map_err(GitError::git("read the base tree"))?;
    let base = tree_entries(&repo, &base_tree)?;

    let mut walk = Walk {
        root: ws.dir.clone(),
        base: &base,
        found: BTreeMap::new(),
        contents: BTreeMap::new(),
        changed_bytes: 0,
        rejected: Vec::new(),
    };
    walk.remove_symlinked_ignore_files(Path::new(""))?;
    // Ignore rules come from the checkout's own `.gitignore` files (the repository's, perhaps
    // edited by the agent: they only narrow what is committed). The workdir is set in memory
    // only; nothing is written to the mirror.
    repo.set_workdir(&ws.dir, false)
        .map_err(GitError::git("read ignore rules"))?;
    walk.dir(&repo, &ws.dir.clone(), &[])?;

    let Walk {
        mut found,
        contents,
        mut rejected,
        ..
    } = walk;

    keep_what_bosun_may_not_delete(&base, &mut found, &mut rejected);
    let (all, secrets) = changes_against(&repo, &base, &found, &contents, redactor)?;
    let (held, changes): (Vec<Change>, Vec<Change>) =
        all.into_iter().partition(|c| protects(&c.path));
    let held_tree = if held.is_empty() {
        None
    } else {
        let full = write_tree(&repo, &found)?;
        // What is pushed now: each held path as the base has it. Matched on the paths' own
        // bytes, not on their lossy display, so a name that is not UTF-8 is held back too.
        let held_paths: BTreeSet<Vec<u8>> = base
            .keys()
            .chain(found.keys())
            .filter(|p| base.get(*p) != found.get(*p))
            .filter(|p| protects(&String::from_utf8_lossy(p)))
            .cloned()
            .collect();
        for path in held_paths {
            match base.get(&path) {
                Some(entry) => found.insert(path, *entry),
                None => found.remove(&path),
            };
        }
        Some(full)
    };
    let tree = if changes.is_empty() {
        base_tree.id()
    } else {
        write_tree(&repo, &found)?
    };
    Ok(Snapshot {
        tree,
        changes,
        rejected,
        secrets,
        held,
        held_tree,
    })
}

/// What the checkout no longer has is deleted, unless deleting it is not bosun's to do: a
/// submodule, a path git itself would refuse, or a workflow file (refused, and said so).
fn keep_what_bosun_may_not_delete(
    base: &BTreeMap<Vec<u8>, Entry>,
    found: &mut BTreeMap<Vec<u8>, Entry>,
    rejected: &mut Vec<Rejection>,
) {
    for (path, entry) in base {
        if found.contains_key(path) {
            continue;
        }
        if entry.mode == i32::from(FileMode::Commit)
            || !path.split(|b| *b == b'/').all(safe_entry_name)
        {
            found.insert(path.clone(), *entry);
        } else if is_workflow(path) {
            found.insert(path.clone(), *entry);
            rejected.push(reject(path, "deleting a workflow file is not allowed"));
        }
    }
}

/// The paths that differ between `base` and `found`, and the changed files that hold
/// something that looks like a secret. Each changed file's blob is stored in the mirror.
fn changes_against(
    repo: &Repository,
    base: &BTreeMap<Vec<u8>, Entry>,
    found: &BTreeMap<Vec<u8>, Entry>,
    contents: &BTreeMap<Vec<u8>, Vec<u8>>,
    redactor: &Redactor,
) -> Result<(Vec<Change>, Vec<SecretInFile>), GitError> {
    let mut changes = Vec::new();
    let mut secrets = Vec::new();
    let paths: BTreeSet<&Vec<u8>> = base.keys().chain(found.keys()).collect();
    for path in paths {
        let kind = match (base.get(path), found.get(path)) {
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Deleted,
            (Some(a), Some(b)) if a != b => ChangeKind::Modified,
            _ => continue,
        };
        let display = String::from_utf8_lossy(path).into_owned();
        if let Some(data) = contents.get(path) {
            for hit in redactor.find(data).into_iter().take(1) {
                secrets.push(SecretInFile {
                    path: display.clone(),
                    kind: hit.kind,
                });
            }
            repo.blob(data).map_err(GitError::git("store a file"))?;
        }
        changes.push(Change {
            path: display,
            kind,
        });
    }
    Ok((changes, secrets))
}

struct Walk<'a> {
    root: PathBuf,
    base: &'a BTreeMap<Vec<u8>, Entry>,
    /// Every path that goes into the new tree.
    found: BTreeMap<Vec<u8>, Entry>,
    /// Contents of files and links that differ from the base, to store and scan.
    contents: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Their bytes together (`MAX_CHANGE_BYTES`).
    changed_bytes: u64,
    rejected: Vec<Rejection>,
}

impl Walk<'_> {
    /// A `.gitignore` that is a symbolic link would make libgit2 read a file the link points
    /// to, perhaps outside the checkout. Such links are removed before ignore rules are read
    /// (they would not be committed either).
    fn remove_symlinked_ignore_files(&mut self, rel: &Path) -> Result<(), GitError> {
        let dir = self.root.join(rel);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            let rel_path = rel.join(entry.file_name());
            if meta.file_type().is_symlink() && entry.file_name() == ".gitignore" {
                std::fs::remove_file(entry.path()).map_err(GitError::io("remove a link"))?;
                self.rejected.push(reject(
                    rel_path.as_os_str().as_bytes(),
                    "a .gitignore that is a symbolic link is not committed",
                ));
            } else if meta.is_dir() && !entry.file_name().eq_ignore_ascii_case(".git") {
                self.remove_symlinked_ignore_files(&rel_path)?;
            }
        }
        Ok(())
    }

    fn dir(&mut self, repo: &Repository, abs: &Path, rel: &[u8]) -> Result<(), GitError> {
        let mut names: Vec<_> = std::fs::read_dir(abs)
            .map_err(GitError::io("read the checkout"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(GitError::io("read the checkout"))?;
        names.sort();
        for name in names {
            let bytes = name.as_bytes();
            let mut path = rel.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(bytes);
            let abs_path = abs.join(&name);
            if bytes.eq_ignore_ascii_case(b".git") {
                self.rejected.push(reject(
                    &path,
                    "git metadata in the checkout is never committed",
                ));
                continue;
            }
            let meta = std::fs::symlink_metadata(&abs_path).map_err(GitError::io("read a file"))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                if self.ignored(repo, &path, true) && !self.base_has_under(&path) {
                    continue;
                }
                self.dir(repo, &abs_path, &path)?;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&abs_path).map_err(GitError::io("read a link"))?;
                if !link_stays_inside(rel, &target) {
                    self.rejected.push(reject(
                        &path,
                        &format!(
                            "a symbolic link to `{}`, outside the repository, is not committed",
                            target.display()
                        ),
                    ));
                    self.keep_base(&path);
                    continue;
                }
                let data = target.as_os_str().as_bytes().to_vec();
                self.add(&path, data, i32::from(FileMode::Link))?;
            } else if kind.is_file() {
                if !self.base.contains_key(&path) && self.ignored(repo, &path, false) {
                    continue;
                }
                if meta.len() > MAX_FILE_BYTES {
                    self.rejected.push(reject(
                        &path,
                        &format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20),
                    ));
                    self.keep_base(&path);
                    continue;
                }
                let data = std::fs::read(&abs_path).map_err(GitError::io("read a file"))?;
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    FileMode::BlobExecutable
                } else {
                    FileMode::Blob
                };
                self.add(&path, data, i32::from(mode))?;
            } else {
                self.rejected.push(reject(
                    &path,
                    "special files (fifos, sockets, devices) are not committed",
                ));
                self.keep_base(&path);
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &[u8], data: Vec<u8>, mode: i32) -> Result<(), GitError> {
        let id = Oid::hash_object(ObjectType::Blob, &data).map_err(GitError::git("hash a file"))?;
        let entry = Entry { id, mode };
        if self.base.get(path) == Some(&entry) {
            self.found.insert(path.to_vec(), entry);
            return Ok(());
        }
        if is_workflow(path) {
            self.rejected.push(reject(
                path,
                "changes under .github/workflows/ are not allowed (bosun has no workflows permission)",
            ));
            self.keep_base(path);
            return Ok(());
        }
        let size = data.len() as u64;
        if self.changed_bytes + size > MAX_CHANGE_BYTES {
            self.rejected.push(reject(
                path,
                &format!(
                    "the change is over {} MiB in all; this file was left out",
                    MAX_CHANGE_BYTES >> 20
                ),
            ));
            self.keep_base(path);
            return Ok(());
        }
        self.changed_bytes += size;
        self.found.insert(path.to_vec(), entry);
        self.contents.insert(path.to_vec(), data);
        Ok(())
    }

    /// A rejected path keeps what the base had there, if anything.
    fn keep_base(&mut self, path: &[u8]) {
        if let Some(entry) = self.base.get(path) {
            self.found.insert(path.to_vec(), *entry);
        }
    }

    fn ignored(&self, repo: &Repository, path: &[u8], dir: bool) -> bool {
        let mut p = PathBuf::from(OsStr::from_bytes(path));
        if dir {
            p.push("");
        }
        repo.is_path_ignored(&p).unwrap_or(false)
    }

    fn base_has_under(&self, dir: &[u8]) -> bool {
        let mut prefix = dir.to_vec();
        prefix.push(b'/');
        self.base
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

/// Whether a link at directory `link_dir` (relative to the root) pointing to `target` resolves,
/// lexically, to a place inside the root. Absolute targets never do.
pub(crate) fn link_stays_inside(link_dir: &[u8], target: &Path) -> bool {
    let mut depth: Vec<&OsStr> = Path::new(OsStr::from_bytes(link_dir))
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    for component in target.components() {
        match component {
            Component::Normal(name) if name.eq_ignore_ascii_case(".git") => return false,
            Component::Normal(name) => depth.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn is_workflow(path: &[u8]) -> bool {
    path.len() >= WORKFLOWS.len() && path[..WORKFLOWS.len()].eq_ignore_ascii_case(WORKFLOWS)
}

fn reject(path: &[u8], reason: &str) -> Rejection {
    Rejection {
        path: String::from_utf8_lossy(path).into_owned(),
        reason: reason.to_string(),
    }
}

fn tree_entries(
    repo: &Repository,
    tree: &git2::Tree,
) -> Result<BTreeMap<Vec<u8>, Entry>, GitError> {
    let mut out = BTreeMap::new();
    let mut failed = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Tree) {
            return git2::TreeWalkResult::Ok;
        }
        let mut path = dir.as_bytes().to_vec();
        path.extend_from_slice(entry.name_bytes());
        out.insert(
            path,
            Entry {
                id: entry.id(),
                mode: entry.filemode(),
            },
        );
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| failed = Some(e))
    .ok();
    let _ = repo;
    match failed {
        Some(e) => Err(GitError::git("read the base tree")(e)),
        None => Ok(out),
    }
}

fn write_tree(repo: &Repository, entries: &BTreeMap<Vec<u8>, Entry>) -> Result<Oid, GitError> {
    let mut index = git2::Index::new().map_err(GitError::git("build the tree"))?;
    for (path, entry) in entries {
        index
            .add(&IndexEntry {
                ctime: IndexTime::new(0, 0),
                mtime: IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: entry.mode as u32,
                uid: 0,
                gid: 0,
                file_size: 0,
                id: entry.id,
                flags: path.len().min(0xfff) as u16,
                flags_extended: 0,
                path: path.clone(),
            })
            .map_err(GitError::git("build the tree"))?;
    }
    index
        .write_tree_to(repo)
        .map_err(GitError::git("write the tree"))
}
