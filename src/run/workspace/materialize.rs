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
            Some(ObjectType::Blob) => {
                let blob = repo
                    .find_blob(entry.id())
                    .map_err(GitError::git("read a file"))?;
                if mode == i32::from(FileMode::Link) {
                    std::os::unix::fs::symlink(OsStr::from_bytes(blob.content()), &path)
                        .map_err(GitError::io("create a symbolic link"))?;
                } else {
                    std::fs::write(&path, blob.content()).map_err(GitError::io("write a file"))?;
                    let bits = if mode == i32::from(FileMode::BlobExecutable) {
                        0o755
                    } else {
                        0o644
                    };
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits))
                        .map_err(GitError::io("set a file's mode"))?;
                }
            }
            // A submodule: an empty directory where git would put it; its commit stays as is.
            Some(ObjectType::Commit) => {
                std::fs::create_dir(&path).map_err(GitError::io("create a directory"))?;
            }
            _ => {}
        }
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
