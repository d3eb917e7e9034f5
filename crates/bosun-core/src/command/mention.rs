//! Finds `@handle` mentions in the prose of a [`Line`].

use std::ops::Range;

use super::markdown::Line;

/// GitHub shows an App's bot account as `name[bot]`; people may type either.
const BOT_SUFFIX: &str = "[bot]";

/// The handle as it appears after `@`: surrounding whitespace, a leading `@`
/// and a `[bot]` suffix are removed, so callers may pass any of the forms
/// GitHub shows.
pub(super) fn normalize_handle(handle: &str) -> &str {
    let handle = handle.trim();
    let handle = handle.strip_prefix('@').unwrap_or(handle);
    strip_suffix_ignore_case(handle, BOT_SUFFIX).unwrap_or(handle)
}

/// Byte ranges of each mention of `handle` (already normalized, non-empty)
/// in `line`, in order. A range covers `@handle` and any `[bot]` after it.
pub(super) fn find_mentions(line: &Line, handle: &str) -> Vec<Range<usize>> {
    let urls = bare_urls(&line.text);
    let mut found = Vec::new();
    for span in &line.mentionable {
        let Some(prose) = line.text.get(span.clone()) else {
            continue;
        };
        for (offset, _) in prose.match_indices('@') {
            let at = span.start + offset;
            let Some(end) = mention_end(&line.text, at, span.end, handle) else {
                continue;
            };
            if !inside_any(&urls, at) {
                found.push(at..end);
            }
        }
    }
    found
}

/// If a mention of `handle` starts at the `@` at byte `at` and fits before
/// `limit`, returns the byte offset just past it.
fn mention_end(text: &str, at: usize, limit: usize, handle: &str) -> Option<usize> {
    if !starts_a_mention(text.get(..at)?) {
        return None;
    }
    let name_start = at + 1;
    let name_end = name_start + handle.len();
    // Compare bytes: GitHub logins are ASCII, and a byte comparison cannot
    // split a multi-byte character the way slicing the str could.
    let name = text.as_bytes().get(name_start..name_end)?;
    if name_end > limit || !name.eq_ignore_ascii_case(handle.as_bytes()) {
        return None;
    }
    // What follows may lie outside the prose range: `@bosun` then inline
    // code is still a mention, but `@bosun-app` is not `@bosun`.
    let rest = text.get(name_end..)?;
    if rest.chars().next().is_some_and(continues_login) {
        return None;
    }
    let prose_rest = text.get(name_end..limit).unwrap_or_default();
    let bot_len = strip_prefix_ignore_case(prose_rest, BOT_SUFFIX).map_or(0, |_| BOT_SUFFIX.len());
    Some(name_end + bot_len)
}

/// An `@` starts a mention only at a word boundary: not inside an email
/// address (`me@bosun.com`), a path (`x/@bosun`) or an identifier.
fn starts_a_mention(before: &str) -> bool {
    !before
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'))
}

/// A character that would make the name a different, longer login
/// (`@bosun-app2` is not `@bosun-app`).
fn continues_login(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Byte ranges of the bare URLs in `text`, in order, from the scheme (or
/// `www.`) to the end of the word. GitHub turns these into links even
/// without `<>`, but pulldown-cmark leaves them as text. Computed once per
/// line so that a long run of `@`s stays linear.
fn bare_urls(text: &str) -> Vec<Range<usize>> {
    let mut urls = Vec::new();
    let mut word_start = 0;
    let ends = text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')));
    for (index, c) in ends {
        if c.is_whitespace() || c == '<' {
            let word = text.get(word_start..index).unwrap_or_default();
            if let Some(offset) = url_start(word) {
                urls.push(word_start + offset..index);
            }
            word_start = index + c.len_utf8();
        }
    }
    urls
}

/// Where a URL starts in a word, if the word holds one.
fn url_start(word: &str) -> Option<usize> {
    if let Some(scheme_end) = word.find("://") {
        return Some(scheme_end);
    }
    let bare = word.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    strip_prefix_ignore_case(bare, "www.").map(|_| word.len() - bare.len())
}

/// Whether `at` falls in one of the sorted, disjoint `ranges`.
fn inside_any(ranges: &[Range<usize>], at: usize) -> bool {
    let after = ranges.partition_point(|range| range.end <= at);
    ranges.get(after).is_some_and(|range| range.contains(&at))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.as_bytes().get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix.as_bytes()) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.as_bytes().get(cut..)?;
    if tail.eq_ignore_ascii_case(suffix.as_bytes()) {
        text.get(..cut)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose_line(text: &str) -> Line {
        Line {
            text: text.to_string(),
            mentionable: vec![Range {
                start: 0,
                end: text.len(),
            }],
        }
    }

    /// The matched text of each mention of `bosun` in one line of prose.
    fn mentions(text: &str) -> Vec<String> {
        let line = prose_line(text);
        find_mentions(&line, "bosun")
            .into_iter()
            .map(|r| text[r].to_string())
            .collect()
    }

    #[test]
    fn normalize_handle_accepts_the_forms_github_shows() {
        assert_eq!(normalize_handle("bosun-app"), "bosun-app");
        assert_eq!(normalize_handle("@bosun-app"), "bosun-app");
        assert_eq!(normalize_handle(" bosun-app[bot] "), "bosun-app");
        assert_eq!(normalize_handle("bosun-app[BOT]"), "bosun-app");
        assert_eq!(normalize_handle(""), "");
        assert_eq!(normalize_handle("[bot]"), "");
    }

    #[test]
    fn plain_mentions() {
        assert_eq!(mentions("@bosun fix"), ["@bosun"]);
        assert_eq!(mentions("hey @BoSuN, fix"), ["@BoSuN"]);
        assert_eq!(mentions("(@bosun)"), ["@bosun"]);
        assert_eq!(mentions("@bosun @bosun"), ["@bosun", "@bosun"]);
    }

    #[test]
    fn bot_suffix_is_part_of_the_mention() {
        assert_eq!(mentions("@bosun[bot] fix"), ["@bosun[bot]"]);
    }

    #[test]
    fn word_boundaries_before() {
        assert!(mentions("me@bosun.com").is_empty());
        assert!(mentions("x/@bosun").is_empty());
        assert!(mentions("a.@bosun a-@bosun a_@bosun 1@bosun").is_empty());
    }

    #[test]
    fn word_boundaries_after() {
        assert!(mentions("@bosun2 @bosun_x @bosun-app @bosunx").is_empty());
        assert_eq!(
            mentions("@bosun. @bosun! @bosun:"),
            ["@bosun", "@bosun", "@bosun"]
        );
    }

    #[test]
    fn cjk_text_around_a_mention() {
        assert_eq!(mentions("请@bosun修复"), ["@bosun"]);
    }

    #[test]
    fn bare_urls_are_not_mentions() {
        assert!(mentions("see https://example.com/x?u=@bosun").is_empty());
        assert!(mentions("see (www.example.com/~@bosun)").is_empty());
        assert_eq!(mentions("https://x.com @bosun"), ["@bosun"]);
    }

    #[test]
    fn bare_url_ranges() {
        let text = "a https://x.y/@b (www.z.com/@c) <www.q> @d";
        let urls: Vec<&str> = bare_urls(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(urls, ["://x.y/@b", "www.z.com/@c)", "www.q>"]);
        assert!(bare_urls("").is_empty());
    }

    #[test]
    fn mention_before_a_url_in_the_same_word_counts() {
        assert_eq!(mentions("@bosun:https://x.y"), ["@bosun"]);
    }

    #[test]
    fn mention_must_lie_inside_prose() {
        // "@bos" is prose but "un" is not (e.g. it came from inline code).
        let line = Line {
            text: "@bosun".to_string(),
            mentionable: vec![Range { start: 0, end: 4 }],
        };
        assert!(find_mentions(&line, "bosun").is_empty());
    }

    #[test]
    fn handle_with_hyphen() {
        let line = prose_line("@bosun-app fix, not @bosun-app2 or @bosun");
        let found = find_mentions(&line, "bosun-app");
        assert_eq!(found, [Range { start: 0, end: 10 }]);
    }

    #[test]
    fn multibyte_text_after_at_does_not_panic() {
        assert!(mentions("@é").is_empty());
        assert!(mentions("@bos€").is_empty());
        assert!(mentions("@").is_empty());
    }
}
