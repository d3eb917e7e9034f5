//! Character-level rules for untrusted text: characters that a person reading the issue on GitHub
//! cannot see, but that a model reads just fine (trust rule 2). A hidden instruction written in
//! zero-width characters, Unicode tag characters or behind a bidi override must not reach an agent.

/// True for characters that render as nothing (or silently reorder what is around them).
///
/// The list is the brief's plus the other "default ignorable" format characters that are
/// invisible in a browser. The zero-width joiner is dropped too, although emoji sequences use it
/// (👨‍👩‍👧 becomes 👨👩👧): a slightly different emoji is cheaper than a hidden channel. The tag
/// characters also carry subdivision flags (🏴 of Scotland falls back to a plain black flag).
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' // soft hyphen
        | '\u{034F}' // combining grapheme joiner
        | '\u{061C}' // Arabic letter mark (bidi)
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels, rendered as nothing
        | '\u{180B}'..='\u{180F}' // Mongolian free variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible math operators
        | '\u{2066}'..='\u{206F}' // bidi isolates, deprecated format characters
        | '\u{FEFF}' // byte order mark / zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{1D173}'..='\u{1D17A}' // musical formatting
        | '\u{E0000}'..='\u{E007F}' // Unicode tag characters ("ASCII smuggling")
    )
}

/// Variation selectors pick a glyph variant of the character before them. A run of them after one
/// character is invisible and can encode arbitrary bytes ("emoji smuggling"), so only the two
/// emoji presentation selectors survive, and only directly after a character that is not itself a
/// selector: one bit per visible character is no channel worth worrying about.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// C0 and C1 control characters (and DEL) other than newline and tab: terminals and models
/// interpret some of them (escape sequences), a reader on GitHub sees nothing.
pub(super) fn is_stray_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Drops every invisible character, stray control character and surplus variation selector.
/// Expects `\r` to be normalized away already (it would count as a control character).
pub(super) fn strip_invisible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if is_invisible(c) || is_stray_control(c) {
            continue;
        }
        if is_variation_selector(c) {
            let after_base = prev.is_some_and(|p| !is_variation_selector(p));
            if !(after_base && matches!(c, '\u{FE0E}' | '\u{FE0F}')) {
                continue;
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// Removes character references (`&#8203;`, `&#x200B;`, `&zwj;` …) that GitHub would render as an
/// invisible character. Other references stay verbatim: they are visible text either way.
pub(super) fn strip_invisible_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        match parse_entity(tail) {
            Some((c, len)) if hides(c) => rest = &tail[len..],
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes numeric character references only, for attribute values we inspect (`style`): a
/// browser decodes `display&#58;none` before applying it.
pub(super) fn decode_numeric_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        match parse_entity(tail) {
            Some((c, len)) if tail.as_bytes().get(1) == Some(&b'#') => {
                out.push(c);
                rest = &tail[len..];
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn hides(c: char) -> bool {
    is_invisible(c) || is_variation_selector(c) || (is_stray_control(c) && c != '\r')
}

/// Named references that decode to an invisible character (HTML5 names, case-sensitive).
const INVISIBLE_NAMES: &[(&str, char)] = &[
    ("shy", '\u{00AD}'),
    ("zwnj", '\u{200C}'),
    ("zwj", '\u{200D}'),
    ("lrm", '\u{200E}'),
    ("rlm", '\u{200F}'),
    ("ZeroWidthSpace", '\u{200B}'),
    ("NegativeVeryThinSpace", '\u{200B}'),
    ("NegativeThinSpace", '\u{200B}'),
    ("NegativeMediumSpace", '\u{200B}'),
    ("NegativeThickSpace", '\u{200B}'),
    ("NoBreak", '\u{2060}'),
    ("ApplyFunction", '\u{2061}'),
    ("af", '\u{2061}'),
    ("InvisibleTimes", '\u{2062}'),
    ("it", '\u{2062}'),
    ("InvisibleComma", '\u{2063}'),
    ("ic", '\u{2063}'),
];

/// Parses a CommonMark character reference at the start of `s` (which starts with `&`):
/// `&#1234567;` (1–7 digits), `&#x10FFFF;` (1–6 hex digits) or one of [`INVISIBLE_NAMES`].
/// Returns the character and the reference's length in bytes.
fn parse_entity(s: &str) -> Option<(char, usize)> {
    let body = s.get(1..)?;
    // No reference is longer than this (`&CounterClockwiseContourIntegral;`); looking further
    // would make a text full of `&` quadratic.
    let semi = body.bytes().take(33).position(|c| c == b';')?;
    let name = &body[..semi];
    let len = semi + 2;
    if let Some(num) = name.strip_prefix('#') {
        let (digits, radix, max) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 6),
            None => (num, 10, 7),
        };
        if digits.is_empty() || digits.len() > max || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let code = u32::from_str_radix(digits, radix).ok()?;
        // CommonMark maps invalid code points and NUL to U+FFFD, which is visible.
        return Some((char::from_u32(code).unwrap_or('\u{FFFD}'), len));
    }
    INVISIBLE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, c)| (c, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_and_soft_hyphen_go() {
        let s = "a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}f\u{180E}g\u{00AD}h";
        assert_eq!(strip_invisible(s), "abcdefgh");
    }

    #[test]
    fn bidi_controls_go() {
        let s = "x\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}y";
        assert_eq!(strip_invisible(s), "xy");
    }

    #[test]
    fn tag_characters_go() {
        // "hi" spelled in tag characters after a visible word.
        let s = "ok\u{E0001}\u{E0068}\u{E0069}\u{E007F}";
        assert_eq!(strip_invisible(s), "ok");
    }

    #[test]
    fn controls_go_but_newline_and_tab_stay() {
        assert_eq!(
            strip_invisible("a\u{1b}[31mb\u{7f}\u{85}\tc\n"),
            "a[31mb\tc\n"
        );
    }

    #[test]
    fn one_emoji_selector_stays_a_run_does_not() {
        assert_eq!(strip_invisible("❤\u{FE0F}"), "❤\u{FE0F}");
        assert_eq!(strip_invisible("❤\u{FE0F}\u{FE0E}\u{FE0F}"), "❤\u{FE0F}");
        assert_eq!(strip_invisible("😀\u{E0100}\u{E0142}\u{FE01}"), "😀");
        assert_eq!(strip_invisible("\u{FE0F}start"), "start");
    }

    #[test]
    fn visible_non_ascii_is_untouched() {
        let s = "Grüße, 日本語, العربية, emoji 🎉, math ∑ — “quotes”";
        assert_eq!(strip_invisible(s), s);
    }

    #[test]
    fn invisible_entities_go_visible_ones_stay() {
        assert_eq!(
            strip_invisible_entities("a&#8203;b&#x200b;c&zwj;d&ZeroWidthSpace;e&#xE0041;f"),
            "abcdef"
        );
        assert_eq!(
            strip_invisible_entities("&amp; &lt;tag&gt; &#65; &copy; & &#; &#xZZ; &unknown;"),
            "&amp; &lt;tag&gt; &#65; &copy; & &#; &#xZZ; &unknown;"
        );
        // A newline written as a reference is visible as a line break: keep it.
        assert_eq!(strip_invisible_entities("a&#10;b"), "a&#10;b");
        // Far-away semicolons do not make a reference.
        let text = format!("&{};", "z".repeat(40));
        assert_eq!(strip_invisible_entities(&text), text);
    }

    #[test]
    fn numeric_entities_decode_in_attribute_values() {
        assert_eq!(decode_numeric_entities("display&#58;none"), "display:none");
        assert_eq!(decode_numeric_entities("a&#x3A;b &amp;"), "a:b &amp;");
        assert_eq!(decode_numeric_entities("&#99999999;"), "&#99999999;");
        assert_eq!(decode_numeric_entities("&#xD800;"), "\u{FFFD}");
    }
}
