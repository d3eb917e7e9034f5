//! The change a task made, as a reviewer reads it: the unified diff of the snapshot's tree
//! against the base commit, and the lines of the new version a review comment can be anchored
//! to. GitHub anchors an inline comment on the right side only to a line inside one of the pull
//! request's hunks (an added or a context line of a three-line-context diff) and refuses the
//! whole review otherwise, so bosun computes the same set from the same trees before posting.

use std::collections::{BTreeMap, BTreeSet};

use git2::{DiffFormat, DiffOptions, Oid, Repository};

use super::{GitError, Workspace};

/// GitHub's pull request diffs carry three lines of context around each change.
const CONTEXT_LINES: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeDiff {
    /// git's patch format; binary files appear as one "Binary files … differ" line.
    pub patch: String,
    /// Whether `patch` was cut at the limit asked for (at a line's end).
    pub truncated: bool,
    /// For each path of the new version, the line numbers (1-based) an inline comment may
    /// name: the added and context lines of its hunks. Complete even when `patch` was cut.
    pub commentable: BTreeMap<String, BTreeSet<u64>>,
    /// Lines added and removed (text files), complete even when `patch` was cut.
    pub added: u64,
    pub removed: u64,
}

impl ChangeDiff {
    /// Whether GitHub would anchor a comment on `line` of `path` in this change.
    pub fn can_comment(&self, path: &str, line: u64) -> bool {
        self.commentable
            .get(path)
            .is_some_and(|lines| lines.contains(&line))
    }
}

/// The diff from the workspace's base commit to `tree` (a tree in the workspace's mirror, as a
/// [`super::snapshot::Snapshot`] stores it), with at most `max_chars` characters of patch.
pub fn diff(ws: &Workspace, tree: Oid, max_chars: usize) -> Result<ChangeDiff, GitError> {
    let repo = Repository::open_bare(&ws.mirror).map_err(GitError::git("open the mirror"))?;
    let base_oid = Oid::from_str(&ws.base_sha).map_err(GitError::git("read the base commit"))?;
    let base = repo
        .find_commit(base_oid)
        .and_then(|c| c.tree())
        .map_err(GitError::git("read the base tree"))?;
    let new = repo
        .find_tree(tree)
        .map_err(GitError::git("read the change's tree"))?;
    let mut options = DiffOptions::new();
    options.context_lines(CONTEXT_LINES);
    let diff = repo
        .diff_tree_to_tree(Some(&base), Some(&new), Some(&mut options))
        .map_err(GitError::git("compare the change with its base"))?;

    let mut out = ChangeDiff::default();
    let mut chars = 0usize;
    diff.print(DiffFormat::Patch, |delta, _hunk, line| {
        let origin = line.origin();
        match origin {
            '+' => out.added += 1,
            '-' => out.removed += 1,
            _ => {}
        }
        if let (Some(path), Some(number)) = (
            delta.new_file().path().and_then(|p| p.to_str()),
            line.new_lineno(),
        ) {
            if origin == '+' || origin == ' ' {
                out.commentable
                    .entry(path.to_string())
                    .or_default()
                    .insert(u64::from(number));
            }
        }
        if out.truncated {
            return true;
        }
        let mut text = String::new();
        if matches!(origin, '+' | '-' | ' ') {
            text.push(origin);
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        let len = text.chars().count();
        if chars + len > max_chars {
            out.truncated = true;
            return true;
        }
        chars += len;
        out.patch.push_str(&text);
        true
    })
    .map_err(GitError::git("write the diff"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::workspace::snapshot;
    use bosun_core::redact::Redactor;

    /// A bare mirror whose `main` has `files`, and a workspace on it holding `files`.
    fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("mirror.git");
        let repo = Repository::init_bare(&mirror).unwrap();
        let mut builder = repo.treebuilder(None).unwrap();
        for (name, text) in files {
            let blob = repo.blob(text.as_bytes()).unwrap();
            builder.insert(name, blob, 0o100644).unwrap();
        }
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.invalid").unwrap();
        let base = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        let checkout = dir.path().join("checkout");
        std::fs::create_dir(&checkout).unwrap();
        for (name, text) in files {
            std::fs::write(checkout.join(name), text).unwrap();
        }
        let ws = Workspace {
            dir: checkout,
            mirror,
            clone_url: String::new(),
            branch: "bosun/1-x".into(),
            base_branch: "main".into(),
            base_sha: base.to_string(),
            from_spare: false,
        };
        (dir, ws)
    }

    fn numbered(lines: std::ops::RangeInclusive<u32>) -> String {
        lines.map(|n| format!("line {n}\n")).collect()
    }

    #[test]
    fn the_commentable_lines_are_the_hunks_added_and_context_lines() {
        let (_dir, ws) = workspace(&[("a.txt", &numbered(1..=20)), ("gone.txt", "bye\n")]);
        let changed = numbered(1..=20).replace("line 10\n", "line ten\n");
        std::fs::write(ws.dir.join("a.txt"), changed).unwrap();
        std::fs::write(ws.dir.join("new.txt"), "one\ntwo\n").unwrap();
        std::fs::remove_file(ws.dir.join("gone.txt")).unwrap();
        let snap = snapshot::take(&ws, &Redactor::new(Vec::new())).unwrap();

        let d = diff(&ws, snap.tree, 100_000).unwrap();
        assert!(!d.truncated);
        assert!(d.patch.contains("-line 10\n+line ten\n"), "{}", d.patch);
        assert!(d.patch.contains("+++ b/new.txt"), "{}", d.patch);
        assert!(d.patch.contains("--- a/gone.txt"), "{}", d.patch);
        let a: Vec<u64> = d.commentable["a.txt"].iter().copied().collect();
        assert_eq!(a, vec![7, 8, 9, 10, 11, 12, 13]);
        assert!(d.can_comment("new.txt", 2));
        assert_eq!(
            (d.added, d.removed),
            (3, 2),
            "one line changed, two added, one gone"
        );
        assert!(!d.can_comment("a.txt", 1), "outside every hunk");
        assert!(!d.can_comment("a.txt", 14));
        assert!(
            !d.commentable.contains_key("gone.txt"),
            "nothing on the right"
        );
    }

    #[test]
    fn a_long_patch_is_cut_at_a_line_end_but_every_line_stays_commentable() {
        let (_dir, ws) = workspace(&[("keep.txt", "x\n")]);
        std::fs::write(ws.dir.join("big.txt"), numbered(1..=500)).unwrap();
        let snap = snapshot::take(&ws, &Redactor::new(Vec::new())).unwrap();

        let d = diff(&ws, snap.tree, 300).unwrap();
        assert!(d.truncated);
        assert!(d.patch.chars().count() <= 300);
        assert!(d.patch.ends_with('\n'));
        assert_eq!(d.commentable["big.txt"].len(), 500);
    }

    #[test]
    fn no_change_is_an_empty_diff() {
        let (_dir, ws) = workspace(&[("a.txt", "same\n")]);
        let snap = snapshot::take(&ws, &Redactor::new(Vec::new())).unwrap();
        let d = diff(&ws, snap.tree, 1000).unwrap();
        assert_eq!(d, ChangeDiff::default());
    }

    #[test]
    fn a_copy_of_the_change_holds_its_files_apart_from_the_checkout() {
        let (dir, ws) = workspace(&[("a.txt", "old\n")]);
        std::fs::write(ws.dir.join("a.txt"), "new\n").unwrap();
        let snap = snapshot::take(&ws, &Redactor::new(Vec::new())).unwrap();
        let spaces = crate::run::workspace::Workspaces::new(dir.path().join("data"));

        let copy = spaces.copy_of(&ws, snap.tree, "task-1-review-1").unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.join("a.txt")).unwrap(),
            "new\n"
        );
        std::fs::write(copy.join("a.txt"), "the reviewer's scribble\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.dir.join("a.txt")).unwrap(),
            "new\n"
        );
        // Asking again starts from the tree, not from what was left.
        let again = spaces.copy_of(&ws, snap.tree, "task-1-review-1").unwrap();
        assert_eq!(
            std::fs::read_to_string(again.join("a.txt")).unwrap(),
            "new\n"
        );
    }
}
