//! Anchoring new review comments on a pull request's diff. With a local repository the path must
//! be one the pull request changes and the line must be in one of its hunks (else GitHub's 422s,
//! see [`Miss`]); the hunk and position come from the real diff. Without one, any path and line
//! is accepted with a placeholder hunk.

use std::path::Path;

use crate::diff;
use crate::git;
use crate::reviews::Anchor;

/// Where a new comment asks to go.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub path: String,
    pub line: Option<u64>,
    pub side: String,
}

/// Why a comment could not be anchored (the first failing one, by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    Path(usize),
    Line(usize),
}

fn placeholder(w: &Want) -> Anchor {
    let spot = diff::placeholder(w.line);
    Anchor {
        path: w.path.clone(),
        line: w.line,
        side: w.side.clone(),
        diff_hunk: spot.diff_hunk,
        position: Some(spot.position),
    }
}

/// Anchors every wanted spot in the diff `base_sha...head_sha` of the local repository `dir`.
/// `strict` refuses (with [`Miss`]) what GitHub would refuse; otherwise such spots get a
/// placeholder (the test handle adds comments "as a user would" without checks).
pub(crate) fn in_repo(
    dir: &Path,
    base_sha: &str,
    head_sha: &str,
    wants: &[Want],
    strict: bool,
) -> Result<Result<Vec<Anchor>, Miss>, String> {
    let changed = git::changed_paths(dir, base_sha, head_sha)?;
    let mut anchors = Vec::new();
    for (i, w) in wants.iter().enumerate() {
        if !changed.contains(&w.path) {
            if strict {
                return Ok(Err(Miss::Path(i)));
            }
            anchors.push(placeholder(w));
            continue;
        }
        let file_diff = git::file_diff(dir, base_sha, head_sha, &w.path)?;
        let anchor = match w.line {
            // A comment on the whole file: shown with the file's first hunk header.
            None => Anchor {
                path: w.path.clone(),
                line: None,
                side: w.side.clone(),
                diff_hunk: file_diff
                    .lines()
                    .find(|l| l.starts_with("@@"))
                    .unwrap_or_default()
                    .to_owned(),
                position: None,
            },
            Some(line) => match diff::find(&file_diff, line, &w.side) {
                Some(spot) => Anchor {
                    path: w.path.clone(),
                    line: Some(line),
                    side: w.side.clone(),
                    diff_hunk: spot.diff_hunk,
                    position: Some(spot.position),
                },
                None if strict => return Ok(Err(Miss::Line(i))),
                None => placeholder(w),
            },
        };
        anchors.push(anchor);
    }
    Ok(Ok(anchors))
}

/// Without a local repository: everything is accepted, with placeholder hunks.
pub(crate) fn without_repo(wants: &[Want]) -> Vec<Anchor> {
    wants.iter().map(placeholder).collect()
}
