//! Read-only look-ups in a repository's local git directory, when its `clone_url` points at one
//! (a `file://` URL or an absolute path, see `FakeGitHub::set_clone_url`). Uses the `git` CLI;
//! callers run these in `tokio::task::spawn_blocking`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The 40-zero sha the fake uses when it cannot know a commit (no local repository).
pub(crate) const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// The git directory behind a `clone_url`, if it names a local repository (bare, or a work tree
/// with a `.git` directory). `None` for anything else (e.g. the default `http://…` URL).
pub(crate) fn local_git_dir(clone_url: Option<&str>) -> Option<PathBuf> {
    let url = clone_url?;
    let path = match url.strip_prefix("file://") {
        // `file:///abs/path` or `file://localhost/abs/path`.
        Some(rest) => {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return None;
            }
            percent_decode_path(rest)
        }
        None if url.starts_with('/') => url.to_owned(),
        None => return None,
    };
    let path = PathBuf::from(path);
    let dot_git = path.join(".git");
    Some(if dot_git.is_dir() { dot_git } else { path })
}

/// Decodes `%XX` escapes (a `+` stays a `+`: this is a path, not a query).
fn percent_decode_path(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `git --git-dir <dir> <args…>`; `Ok((exit code, stdout, stderr))` trimmed, `Err` if git
/// could not be started.
fn git(dir: &Path, args: &[&str]) -> Result<(i32, String, String), String> {
    let (code, out, err) = git_raw(dir, args)?;
    Ok((code, out.trim().to_owned(), err))
}

/// Like [`git`], with stdout as git wrote it (a diff's last line may be a lone space).
fn git_raw(dir: &Path, args: &[&str]) -> Result<(i32, String, String), String> {
    let out = Command::new("git")
        .arg("-c")
        .arg("safe.directory=*")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

/// The full sha of the commit `rev` names (`rev^{commit}`), `Ok(None)` if there is none.
/// `Err` when git fails otherwise (not a repository, git missing).
pub(crate) fn resolve_commit(dir: &Path, rev: &str) -> Result<Option<String>, String> {
    // Never let a user-supplied name be read as an option.
    if rev.is_empty() || rev.starts_with('-') {
        return Ok(None);
    }
    let spec = format!("{rev}^{{commit}}");
    match git(dir, &["rev-parse", "--verify", "--quiet", &spec])? {
        (0, sha, _) => Ok(Some(sha)),
        (1, _, err) if err.is_empty() => Ok(None),
        (code, _, err) => Err(format!(
            "git rev-parse in {} failed ({code}): {err}",
            dir.display()
        )),
    }
}

/// The sha of branch `branch` (`refs/heads/<branch>`), `Ok(None)` if there is no such branch.
pub(crate) fn branch_sha(dir: &Path, branch: &str) -> Result<Option<String>, String> {
    if branch.is_empty() || branch.starts_with('-') {
        return Ok(None);
    }
    resolve_commit(dir, &format!("refs/heads/{branch}"))
}

/// What a pull request from `head` into `base` contains: commits on head not on base, and the
/// `git diff --shortstat base...head` numbers (changed files, additions, deletions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Compare {
    pub commits: u64,
    pub changed_files: u64,
    pub additions: u64,
    pub deletions: u64,
}

pub(crate) fn compare(dir: &Path, base_sha: &str, head_sha: &str) -> Result<Compare, String> {
    let range = format!("{base_sha}..{head_sha}");
    let (code, out, err) = git(dir, &["rev-list", "--count", &range])?;
    if code != 0 {
        return Err(format!("git rev-list failed ({code}): {err}"));
    }
    let commits = out.parse().unwrap_or(0);
    let three_dot = format!("{base_sha}...{head_sha}");
    let (code, out, err) = git(dir, &["diff", "--shortstat", &three_dot])?;
    if code != 0 {
        return Err(format!("git diff failed ({code}): {err}"));
    }
    Ok(Compare {
        commits,
        ..parse_shortstat(&out)
    })
}

/// The paths a pull request from `head_sha` into `base_sha` changes (`git diff --name-only
/// base...head`: new names for renamed files).
pub(crate) fn changed_paths(
    dir: &Path,
    base_sha: &str,
    head_sha: &str,
) -> Result<Vec<String>, String> {
    let three_dot = format!("{base_sha}...{head_sha}");
    let (code, out, err) = git(dir, &["diff", "--no-ext-diff", "--name-only", &three_dot])?;
    if code != 0 {
        return Err(format!("git diff --name-only failed ({code}): {err}"));
    }
    Ok(out.lines().map(str::to_owned).collect())
}

/// One file's part of the pull request's diff (`git diff -U3 base...head -- <path>`), the text
/// `crate::diff` anchors review comments in.
pub(crate) fn file_diff(
    dir: &Path,
    base_sha: &str,
    head_sha: &str,
    path: &str,
) -> Result<String, String> {
    let three_dot = format!("{base_sha}...{head_sha}");
    let (code, out, err) = git_raw(
        dir,
        &[
            "diff",
            "--no-ext-diff",
            "--no-color",
            "-U3",
            &three_dot,
            "--",
            path,
        ],
    )?;
    if code != 0 {
        return Err(format!("git diff failed ({code}): {err}"));
    }
    Ok(out)
}

/// ` 2 files changed, 10 insertions(+), 3 deletions(-)` (parts may be missing).
fn parse_shortstat(s: &str) -> Compare {
    let mut c = Compare::default();
    for part in s.split(',') {
        let mut words = part.split_whitespace();
        let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        match words.next() {
            Some(w) if w.starts_with("file") => c.changed_files = n,
            Some(w) if w.starts_with("insertion") => c.additions = n,
            Some(w) if w.starts_with("deletion") => c.deletions = n,
            _ => {}
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dirs_from_clone_urls() {
        assert_eq!(
            local_git_dir(Some("file:///tmp/some%20repo.git")),
            Some(PathBuf::from("/tmp/some repo.git"))
        );
        assert_eq!(
            local_git_dir(Some("file://localhost/tmp/r.git")),
            Some(PathBuf::from("/tmp/r.git"))
        );
        assert_eq!(
            local_git_dir(Some("/tmp/r+1.git")),
            Some(PathBuf::from("/tmp/r+1.git"))
        );
        assert_eq!(local_git_dir(Some("http://127.0.0.1:1/o/r.git")), None);
        assert_eq!(local_git_dir(Some("file://host/r.git")), None);
        assert_eq!(local_git_dir(None), None);
    }

    #[test]
    fn shortstat_parses() {
        assert_eq!(
            parse_shortstat(" 2 files changed, 10 insertions(+), 3 deletions(-)"),
            Compare {
                commits: 0,
                changed_files: 2,
                additions: 10,
                deletions: 3
            }
        );
        assert_eq!(
            parse_shortstat(" 1 file changed, 1 insertion(+)"),
            Compare {
                commits: 0,
                changed_files: 1,
                additions: 1,
                deletions: 0
            }
        );
        assert_eq!(parse_shortstat(""), Compare::default());
    }
}
