//! Length caps. A prompt is paid per token and a model's attention is finite: a 60 000-character
//! issue body or a 2 MB test log must not crowd out bosun's own rules. Caps count `char`s (not
//! bytes, so non-Latin text is not penalised), cut on char boundaries, and always say how much
//! was cut, so the agent knows it is reading an excerpt. The result, marker included, is never
//! longer than the cap (unless the cap is smaller than the marker itself).

/// The line that replaces cut text.
pub fn omitted_marker(chars: usize) -> String {
    format!("[… {chars} characters omitted …]")
}

/// Keeps the beginning of `text` (an issue body: the problem statement comes first).
pub fn keep_head(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(reserve(total));
    let cut = byte_index(text, keep);
    let marker = omitted_marker(total - keep);
    match &text[..cut] {
        "" => marker,
        head => format!("{head}\n{marker}"),
    }
}

/// Keeps the end of `text` (a test log: the failure and the summary come last).
pub fn keep_tail(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(reserve(total));
    let cut = byte_index(text, total - keep);
    let marker = omitted_marker(total - keep);
    match &text[cut..] {
        "" => marker,
        tail => format!("{marker}\n{tail}"),
    }
}

/// Room for the marker and its newline: `total` has at least as many digits as any count cut.
fn reserve(total: usize) -> usize {
    omitted_marker(total).chars().count() + 1
}

/// Byte offset of the `n`th char (or the end).
fn byte_index(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(keep_head("abc", 3), "abc");
        assert_eq!(keep_tail("abc", 10), "abc");
        assert_eq!(keep_head("", 0), "");
    }

    #[test]
    fn head_keeps_the_start_and_says_how_much_was_cut() {
        let text = "x".repeat(100);
        let out = keep_head(&text, 50);
        assert!(out.chars().count() <= 50, "{out}");
        let kept = out.chars().take_while(|&c| c == 'x').count();
        assert!(out.ends_with(&format!("\n[… {} characters omitted …]", 100 - kept)));
    }

    #[test]
    fn tail_keeps_the_end() {
        let text: String = (0..200)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let out = keep_tail(&text, 60);
        assert!(out.chars().count() <= 60);
        assert!(out.starts_with("[… "));
        let tail = out.split_once('\n').map(|(_, t)| t).unwrap_or_default();
        assert!(text.ends_with(tail));
        assert!(out.contains(&format!(
            "{} characters omitted",
            200 - tail.chars().count()
        )));
    }

    #[test]
    fn caps_count_chars_and_cut_on_boundaries() {
        let text = "日本語🎉é".repeat(40); // 200 chars, 600+ bytes
        for max in 0..=210 {
            let head = keep_head(&text, max);
            let tail = keep_tail(&text, max);
            if max >= 40 {
                assert!(head.chars().count() <= max, "head {max}");
                assert!(tail.chars().count() <= max, "tail {max}");
            }
        }
        assert_eq!(keep_head(&text, 200), text);
    }

    #[test]
    fn tiny_cap_is_just_the_marker() {
        assert_eq!(keep_head("abcdef", 2), "[… 6 characters omitted …]");
        assert_eq!(keep_tail("abcdef", 2), "[… 6 characters omitted …]");
    }
}
