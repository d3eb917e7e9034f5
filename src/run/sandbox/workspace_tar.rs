//! A checkout as a tar archive and back, for an engine that cannot mount bosun's disk.
//!
//! Going in, every entry belongs to the run's user (the engine extracts with the header's
//! owner), keeps its permission bits but never set-id ones, and links stay links. Coming back,
//! the archive is what a container's user wrote, so it is read as hostile: only plain names
//! below the one top directory, nothing through a link, no device or FIFO, and the result goes
//! into a fresh directory that replaces the checkout's contents only when all of it unpacked.
//! Both directions block (file system): callers run them on the blocking pool.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::{Archive, Builder, EntryType, Header};

/// Writes `dir`'s contents (not `dir` itself) to `out` as entries owned by `user`.
pub(crate) fn pack(dir: &Path, user: (u32, u32), out: &Path) -> std::io::Result<()> {
    let mut builder = Builder::new(BufWriter::new(File::create(out)?));
    builder.follow_symlinks(false);
    pack_dir(&mut builder, dir, Path::new(""), user)?;
    builder.into_inner()?.into_inner()?.sync_all()
}

fn pack_dir<W: std::io::Write>(
    builder: &mut Builder<W>,
    root: &Path,
    relative: &Path,
    user: (u32, u32),
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    // Sorted, so the same checkout always gives the same archive.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = relative.join(entry.file_name());
        let meta = entry.path().symlink_metadata()?;
        let mut header = Header::new_gnu();
        header.set_uid(u64::from(user.0));
        header.set_gid(u64::from(user.1));
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_mode(meta.mode() & 0o777);
        let kind = meta.file_type();
        if kind.is_dir() {
            header.set_entry_type(EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, &path, std::io::empty())?;
            pack_dir(builder, root, &path, user)?;
        } else if kind.is_symlink() {
            header.set_entry_type(EntryType::Symlink);
            header.set_size(0);
            let target = std::fs::read_link(entry.path())?;
            builder.append_link(&mut header, &path, target)?;
        } else if kind.is_file() {
            header.set_entry_type(EntryType::Regular);
            header.set_size(meta.len());
            builder.append_data(&mut header, &path, File::open(entry.path())?)?;
        }
        // Sockets, FIFOs and devices are nothing a checkout holds: left out.
    }
    Ok(())
}

/// Why an archive coming back was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UnpackError {
    #[error("the archive holds an entry outside its directory: {0:?}")]
    Outside(String),
    #[error("the archive writes through a link: {0:?}")]
    ThroughLink(String),
    #[error("the archive holds a hard link to nothing before it: {0:?}")]
    DanglingHardLink(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Replaces the contents of `dir` with the archive at `archive`, whose entries all sit under
/// one top directory (`top/…`, as the engine answers for a path `…/top`). On any error `dir`
/// is left as it was.
pub(crate) fn unpack_replacing(archive: &Path, top: &str, dir: &Path) -> Result<(), UnpackError> {
    let staging = sibling(dir, "incoming");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging)?;
    let unpacked = unpack_into(archive, top, &staging);
    let swapped = unpacked.and_then(|()| swap_contents(&staging, dir).map_err(UnpackError::Io));
    let _ = std::fs::remove_dir_all(&staging);
    swapped
}

fn unpack_into(archive: &Path, top: &str, dest: &Path) -> Result<(), UnpackError> {
    let mut archive = Archive::new(BufReader::new(File::open(archive)?));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(relative) = inside(&name, top) else {
            return Err(UnpackError::Outside(name));
        };
        if relative.as_os_str().is_empty() {
            continue; // the top directory itself: `dest` stands for it
        }
        let target = dest.join(&relative);
        ensure_parents(dest, &relative, &name)?;
        clear_non_dir(&target)?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        match entry.header().entry_type() {
            EntryType::Directory => {
                if !target.is_dir() {
                    std::fs::create_dir(&target)?;
                }
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o700))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let mut file = File::create(&target)?;
                std::io::copy(&mut entry, &mut file)?;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            EntryType::Symlink => {
                let link = entry.link_name()?.ok_or_else(|| {
                    UnpackError::Io(std::io::Error::other(format!(
                        "symlink {name:?} without a target"
                    )))
                })?;
                std::os::unix::fs::symlink(link.as_ref(), &target)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let source = inside(&link, top)
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| dest.join(p))
                    .ok_or_else(|| UnpackError::Outside(link.clone()))?;
                let is_file = source.symlink_metadata().is_ok_and(|m| m.is_file());
                if !is_file {
                    return Err(UnpackError::DanglingHardLink(link));
                }
                std::fs::hard_link(&source, &target)?;
            }
            // PAX and GNU long-name headers are consumed by the reader; anything else (devices,
            // FIFOs) has no place in a checkout.
            _ => tracing::warn!(entry = %name, "left out a special file the run made"),
        }
    }
    Ok(())
}

/// The part of `name` below `top/`, if it is made of plain names only.
fn inside(name: &str, top: &str) -> Option<PathBuf> {
    let mut components = Path::new(name).components();
    match components.next() {
        Some(Component::Normal(first)) if first == top => {}
        _ => return None,
    }
    let mut relative = PathBuf::new();
    for component in components {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(relative)
}

/// Makes the directories above `relative` inside `dest`, refusing any that is a link: an
/// entry must never land outside `dest` through a link an earlier entry made.
fn ensure_parents(dest: &Path, relative: &Path, name: &str) -> Result<(), UnpackError> {
    let mut current = dest.to_path_buf();
    let parents: Vec<_> = relative.components().collect();
    for part in &parents[..parents.len().saturating_sub(1)] {
        current.push(part);
        match current.symlink_metadata() {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(UnpackError::ThroughLink(name.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&current)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A later entry for the same name wins, as when the engine's tar is extracted: remove what is
/// there unless both are directories.
fn clear_non_dir(target: &Path) -> std::io::Result<()> {
    match target.symlink_metadata() {
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(target),
        _ => Ok(()),
    }
}

/// Moves `from`'s entries into `to` after emptying it; `to` itself (its owner and mode) stays.
fn swap_contents(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(to)? {
        let path = entry?.path();
        if path.symlink_metadata()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::rename(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// `<dir>.<suffix>` beside `dir`: on the same file system, so renames are cheap.
pub(crate) fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("README"), "hello\n").unwrap();
        std::fs::write(root.join("src/deep/run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            root.join("src/deep/run.sh"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        symlink("../README", root.join("src/readme-link")).unwrap();
        let long = "x".repeat(120);
        std::fs::write(root.join(&long), "long name").unwrap();
        dir
    }

    /// Reads an archive back as (name, kind, uid, mode) rows.
    fn listing(archive: &Path) -> Vec<(String, char, u64, u32)> {
        let mut archive = Archive::new(File::open(archive).unwrap());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let kind = match e.header().entry_type() {
                    EntryType::Directory => 'd',
                    EntryType::Symlink => 'l',
                    _ => 'f',
                };
                let name = e.path().unwrap().display().to_string();
                (
                    name,
                    kind,
                    e.header().uid().unwrap(),
                    e.header().mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn packing_gives_every_entry_to_the_user_and_drops_set_id_bits() {
        let dir = tree();
        let out = dir.path().join("out.tar");
        pack(&dir.path().join("ws"), (1234, 99), &out).unwrap();
        let rows = listing(&out);
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "README",
                "src",
                "src/deep",
                "src/deep/run.sh",
                "src/readme-link",
                &"x".repeat(120)
            ]
        );
        assert!(rows.iter().all(|r| r.2 == 1234));
        let script = rows.iter().find(|r| r.0 == "src/deep/run.sh").unwrap();
        assert_eq!(script.3, 0o755, "exec kept, setuid dropped");
        assert_eq!(
            rows.iter().find(|r| r.0 == "src/readme-link").unwrap().1,
            'l'
        );
    }

    /// An archive as the engine answers for `/w`: every entry under `w/`.
    fn engine_archive(dir: &Path, build: impl FnOnce(&mut Builder<File>)) -> PathBuf {
        let path = dir.join("back.tar");
        let mut builder = Builder::new(File::create(&path).unwrap());
        let mut top = Header::new_gnu();
        top.set_entry_type(EntryType::Directory);
        top.set_mode(0o755);
        top.set_size(0);
        builder
            .append_data(&mut top, "w/", std::io::empty())
            .unwrap();
        build(&mut builder);
        builder.finish().unwrap();
        path
    }

    fn file(builder: &mut Builder<File>, name: &str, content: &str, mode: u32) {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(mode);
        header.set_size(content.len() as u64);
        builder
            .append_data(&mut header, name, content.as_bytes())
            .unwrap();
    }

    fn link(builder: &mut Builder<File>, kind: EntryType, name: &str, target: &str) {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        builder.append_link(&mut header, name, target).unwrap();
    }

    #[test]
    fn a_round_trip_gives_the_same_tree_and_removes_what_the_run_removed() {
        let dir = tree();
        let ws = dir.path().join("ws");
        let packed = dir.path().join("in.tar");
        pack(&ws, (1000, 1000), &packed).unwrap();
        // What the container sends back: the same tree under `w/`, minus README, plus a file.
        let back = engine_archive(dir.path(), |b| {
            let mut archive = Archive::new(File::open(&packed).unwrap());
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                let name = format!("w/{}", entry.path().unwrap().display());
                if name == "w/README" {
                    continue;
                }
                let mut header = entry.header().clone();
                if header.entry_type() == EntryType::Symlink {
                    let target = entry.link_name().unwrap().unwrap().into_owned();
                    b.append_link(&mut header, &name, target).unwrap();
                } else {
                    b.append_data(&mut header, &name, &mut entry).unwrap();
                }
            }
            file(b, "w/new.txt", "made inside\n", 0o644);
        });
        std::fs::write(ws.join("stale"), "from before").unwrap();
        unpack_replacing(&back, "w", &ws).unwrap();
        assert!(!ws.join("README").exists() && !ws.join("stale").exists());
        assert_eq!(
            std::fs::read_to_string(ws.join("new.txt")).unwrap(),
            "made inside\n"
        );
        assert_eq!(
            std::fs::read_link(ws.join("src/readme-link")).unwrap(),
            Path::new("../README")
        );
        let mode = ws.join("src/deep/run.sh").metadata().unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o755);
        assert_eq!(
            std::fs::read_to_string(ws.join("x".repeat(120))).unwrap(),
            "long name"
        );
        assert!(!sibling(&ws, "incoming").exists(), "staging cleaned up");
    }

    #[test]
    fn entries_escaping_the_directory_are_refused_and_the_checkout_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::fs::write(ws.join("keep"), "kept").unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        type Writes = Box<dyn Fn(&mut Builder<File>)>;
        let cases: Vec<(&str, Writes)> = vec![
            (
                "dot-dot",
                Box::new(|b| {
                    // tar's own writer refuses `..`; write the name into the header directly.
                    let mut header = Header::new_gnu();
                    header.set_entry_type(EntryType::Regular);
                    header.set_size(1);
                    header.as_old_mut().name[..12].copy_from_slice(b"w/../escaped");
                    header.set_cksum();
                    b.append(&header, &b"x"[..]).unwrap();
                }),
            ),
            ("other top", Box::new(|b| file(b, "v/x", "x", 0o644))),
            (
                "through a link",
                Box::new(|b| {
                    link(b, EntryType::Symlink, "w/out", "../outside");
                    file(b, "w/out/planted", "x", 0o644);
                }),
            ),
            (
                "hard link out",
                Box::new(|b| link(b, EntryType::Link, "w/h", "w/../../etc/passwd")),
            ),
        ];
        for (case, build) in cases {
            let back = engine_archive(dir.path(), |b| build(b));
            let result = unpack_replacing(&back, "w", &ws);
            assert!(result.is_err(), "{case}: accepted");
            assert_eq!(
                std::fs::read_to_string(ws.join("keep")).unwrap(),
                "kept",
                "{case}"
            );
            assert!(
                std::fs::read_dir(&outside).unwrap().next().is_none(),
                "{case}"
            );
            assert!(!dir.path().join("escaped").exists(), "{case}");
        }
    }

    #[test]
    fn hard_links_inside_become_hard_links() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let back = engine_archive(dir.path(), |b| {
            file(b, "w/a", "same", 0o644);
            link(b, EntryType::Link, "w/b", "w/a");
        });
        unpack_replacing(&back, "w", &ws).unwrap();
        assert_eq!(std::fs::read_to_string(ws.join("b")).unwrap(), "same");
        assert_eq!(ws.join("a").metadata().unwrap().nlink(), 2);
    }
}
