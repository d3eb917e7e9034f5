//! Keeping long text out of an [`Outcome`](super::Outcome).
//!
//! Outcomes are stored and posted to GitHub; an agent that dumps a megabyte as its last
//! message, or an error that embeds a whole response body, must not bloat either. Cuts are
//! made on a char boundary so the result is still valid UTF-8 text.

/// Most bytes kept of [`Outcome::final_message`](super::Outcome::final_message).
pub(super) const FINAL_MESSAGE_MAX: usize = 64 * 1024;
/// Most bytes kept of [`Outcome::error`](super::Outcome::error).
pub(super) const ERROR_MAX: usize = 4 * 1024;

/// Appended to text that was cut, so readers know it was.
const MARK: &str = "\n…[truncated]";

/// `s` if it fits in `max` bytes; otherwise its longest prefix that fits with [`MARK`].
pub(super) fn cap(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mark = if MARK.len() <= max { MARK } else { "" };
    let mut cut = max - mark.len();
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str(mark);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cap("hello".into(), 5), "hello");
        assert_eq!(cap(String::new(), 0), "");
    }

    #[test]
    fn long_text_is_cut_and_marked() {
        let out = cap("x".repeat(100), 50);
        assert_eq!(out.len(), 50);
        assert!(out.ends_with(MARK));
        assert!(out.starts_with("xxx"));
    }

    #[test]
    fn cuts_land_on_char_boundaries() {
        // 'é' is 2 bytes, '✓' 3: try every limit so some fall mid-character.
        let text = "é✓".repeat(50);
        for max in 0..text.len() {
            let out = cap(text.clone(), max);
            assert!(out.len() <= max, "max {max}: {} bytes", out.len());
        }
    }

    #[test]
    fn limits_match_the_contract() {
        assert_eq!(FINAL_MESSAGE_MAX, 65_536);
        assert_eq!(ERROR_MAX, 4_096);
        let out = cap("é".repeat(40_000), FINAL_MESSAGE_MAX);
        assert!(out.len() <= FINAL_MESSAGE_MAX && out.len() > FINAL_MESSAGE_MAX - 20);
    }
}
