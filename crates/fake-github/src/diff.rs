//! Finding a line in one file's unified diff, as GitHub does to anchor a review comment: the
//! `diff_hunk` it shows (the hunk header through the commented line) and the deprecated
//! `position` (lines below the file's first `@@`, later hunk headers included).

/// Where a line sits in a file's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spot {
    pub diff_hunk: String,
    pub position: u64,
}

/// Finds `line` on `side` (`RIGHT`: the head's lines, added or context; `LEFT`: the base's,
/// removed or context) in the output of `git diff -U3 -- <file>`. `None` when the line is in
/// no hunk: GitHub refuses to anchor a comment there.
pub(crate) fn find(file_diff: &str, line: u64, side: &str) -> Option<Spot> {
    let left = side.eq_ignore_ascii_case("LEFT");
    let mut position = 0u64;
    let mut in_hunks = false;
    let mut hunk: Vec<&str> = Vec::new();
    let (mut old_ln, mut new_ln) = (0u64, 0u64);
    for text in file_diff.lines() {
        if let Some((old_start, new_start)) = hunk_header(text) {
            // The first header is position 0; every later line counts, headers included.
            if in_hunks {
                position += 1;
            }
            in_hunks = true;
            hunk = vec![text];
            (old_ln, new_ln) = (old_start, new_start);
            continue;
        }
        if !in_hunks || text.starts_with('\\') {
            continue;
        }
        position += 1;
        hunk.push(text);
        let here = match text.as_bytes().first() {
            Some(b'+') => {
                new_ln += 1;
                (!left).then_some(new_ln - 1)
            }
            Some(b'-') => {
                old_ln += 1;
                left.then_some(old_ln - 1)
            }
            _ => {
                old_ln += 1;
                new_ln += 1;
                Some(if left { old_ln - 1 } else { new_ln - 1 })
            }
        };
        if here == Some(line) {
            return Some(Spot {
                diff_hunk: hunk.join("\n"),
                position,
            });
        }
    }
    None
}

/// `@@ -a,b +c,d @@ …` → (a, c).
fn hunk_header(text: &str) -> Option<(u64, u64)> {
    let rest = text.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let start = |range: &str| range.split(',').next()?.parse::<u64>().ok();
    Some((start(old)?, start(new)?))
}

/// The hunk shown for a comment when there is no local repository to read the diff from.
pub(crate) fn placeholder(line: Option<u64>) -> Spot {
    let l = line.unwrap_or(1);
    Spot {
        diff_hunk: format!("@@ -{l},1 +{l},1 @@"),
        position: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n\
@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -10,2 +10,3 @@ fn x\n j\n+new\n k\n";

    #[test]
    fn finds_lines_on_both_sides() {
        let s = find(DIFF, 2, "RIGHT").unwrap();
        assert_eq!(s.diff_hunk, "@@ -1,3 +1,3 @@\n a\n-b\n+B");
        assert_eq!(s.position, 3);
        assert_eq!(find(DIFF, 2, "LEFT").unwrap().position, 2);
        // The second hunk's header counts as a line.
        let s = find(DIFF, 11, "RIGHT").unwrap();
        assert_eq!(s.position, 7);
        assert_eq!(s.diff_hunk, "@@ -10,2 +10,3 @@ fn x\n j\n+new");
        assert_eq!(find(DIFF, 1, "RIGHT").unwrap().position, 1);
    }

    #[test]
    fn lines_outside_hunks_are_not_found() {
        assert_eq!(find(DIFF, 5, "RIGHT"), None);
        assert_eq!(find(DIFF, 13, "RIGHT"), None);
        assert_eq!(find("", 1, "RIGHT"), None);
        assert_eq!(hunk_header("@@ -0,0 +1 @@"), Some((0, 1)));
    }
}
