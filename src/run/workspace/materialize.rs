//! Writes a git tree into a directory as plain files, byte for byte (no line-ending or other
//! filters), so that reading the directory back gives the same blobs for untouched files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git2::{FileMode, ObjectType, Repository, Tree};

use super::GitError;

pub(super) fn write_tree(repo: &Repository, tree: &Tree, dir: &Path) -> Result<(), GitError> {
    for entry in tree.iter() {
        let name = entry.name_bytes();
        if !safe_entry_name(name) {
            // git itself refuses to check such names out: a crafted tree could otherwise
            // write outside the checkout or plant a `.git`.
            tracing::warn!(name = %String::from_utf8_lossy(name), "skipped an unsafe tree entry");
            continue;
        }
        let path = dir.join(OsStr::from_bytes(name));
        let mode = entry.filemode();
        match entry.kind() {
            Some(ObjectType::Tree) => {
                std::fs::create_dir(&path).map_err(GitError::io("create a directory"))?;
                let sub = repo
                    .find_tree(entry.id())
                    .map_err(GitError::git("read a tree"))?;
                write_tree(repo, &sub, &path)?;
            }
            Some(ObjectType::Blob) => write_blob(repo, entry.id(), mode, &path)?,
            // A submodule: an empty directory where git would put it; its commit stays as is.
            Some(ObjectType::Commit) => {
                std::fs::create_dir(&path).map_err(GitError::io("create a directory"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes one blob as a file (mode 0644 or 0755, created with it: one system call fewer per
/// file than a chmod afterwards) or as a symbolic link.
pub(super) fn write_blob(
    repo: &Repository,
    id: git2::Oid,
    mode: i32,
    path: &Path,
) -> Result<(), GitError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let blob = repo.find_blob(id).map_err(GitError::git("read a file"))?;
    if mode == i32::from(FileMode::Link) {
        return std::os::unix::fs::symlink(OsStr::from_bytes(blob.content()), path)
            .map_err(GitError::io("create a symbolic link"));
    }
    let bits = if mode == i32::from(FileMode::BlobExecutable) {
        0o755
    } else {
        0o644
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(bits)
        .open(path)
        .map_err(GitError::io("write a file"))?;
    file.write_all(blob.content())
        .map_err(GitError::io("write a file"))?;
    // The umask may have narrowed the mode given at creation.
    let actual = file
        .metadata()
        .map_err(GitError::io("write a file"))?
        .permissions()
        .mode()
        & 0o777;
    if actual != bits {
        file.set_permissions(std::fs::Permissions::from_mode(bits))
            .map_err(GitError::io("set a file's mode"))?;
    }
    Ok(())
}

/// A single path component that is safe to create: not empty, no separator or NUL, not `.`,
/// `..` or any spelling of `.git`.
pub(crate) fn safe_entry_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.contains(&b'/')
        && !name.contains(&0)
        && name != b"."
        && name != b".."
        && !name.eq_ignore_ascii_case(b".git")
}
