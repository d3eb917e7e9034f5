//! Flattens a Markdown comment body into lines of visible text.
//!
//! Commands live on one line of ordinary prose, so the rest of the parser
//! works on [`Line`]s: the rendered text of one line, plus the byte ranges
//! where a mention is allowed to start. Everything a mention must never be
//! read from (code, quotes, links, HTML, ...) is either left out entirely or
//! kept only as context for the instruction text.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// One line of rendered text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Line {
    /// The text as a reader sees it, inline code and links kept as written.
    pub text: String,
    /// Byte ranges of `text` that came from ordinary prose, in order.
    pub mentionable: Vec<Range<usize>>,
}

impl Line {
    /// Appends ordinary prose, where mentions count.
    /// pulldown-cmark splits text at characters that might have been markup
    /// (`_`, `&`, `[`, ...), so adjacent pieces are merged into one range;
    /// otherwise `@bosun_x` would look like `@bosun` followed by nothing.
    fn push_prose(&mut self, prose: &str) {
        let start = self.text.len();
        self.text.push_str(prose);
        let end = self.text.len();
        match self.mentionable.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => self.mentionable.push(start..end),
        }
    }

    /// Appends Markdown source that belongs in an instruction but can never
    /// hold a mention (inline code, a link). Runs of whitespace, including
    /// the newline of a link wrapped over two lines, become one space.
    fn push_context(&mut self, source: &str) {
        let mut words = source.split_whitespace();
        if let Some(first) = words.next() {
            self.text.push_str(first);
        }
        for word in words {
            self.text.push(' ');
            self.text.push_str(word);
        }
    }
}

/// Splits `markdown` into the lines of text a mention may appear on.
pub(super) fn text_lines(markdown: &str) -> Vec<Line> {
    let mut walker = Walker::new(markdown);
    for (event, range) in Parser::new_ext(markdown, options()).into_offset_iter() {
        walker.event(event, range);
    }
    walker.finish()
}

/// The GitHub-flavoured extensions that change what counts as prose:
/// tables split cells, strikethrough hides retracted text, task list
/// markers are not text, and GFM alerts (`> [!NOTE]`) are still quotes.
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
}

/// Elements whose content is never prose. Quotes are here because a quoted
/// reply (`> @bosun fix`) repeats someone else's command and must not run it
/// again; strikethrough because struck-out text is a retraction.
fn hides_content(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::CodeBlock
            | TagEnd::BlockQuote(_)
            | TagEnd::HtmlBlock
            | TagEnd::Link
            | TagEnd::Image
            | TagEnd::Strikethrough
            | TagEnd::MetadataBlock(_)
    )
}

/// Elements that are kept, as written, in the instruction text around them.
fn kept_as_source(tag: TagEnd) -> bool {
    matches!(tag, TagEnd::Link | TagEnd::Image)
}

/// Elements that sit inside a line; every other element starts or ends one.
fn is_inline(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link | TagEnd::Image
    )
}

/// Inline HTML elements whose text is not prose, mirroring the Markdown
/// elements hidden above: `<code>@bosun stop</code>` documents a command.
const HIDING_HTML_ELEMENTS: &[&str] = &[
    "a",
    "blockquote",
    "code",
    "del",
    "kbd",
    "q",
    "s",
    "samp",
    "strike",
    "tt",
    "var",
];

/// What one piece of inline HTML does to the hiding of prose.
#[derive(Debug, PartialEq, Eq)]
enum HtmlEffect {
    Hide,
    Reveal,
    Nothing,
}

/// Reads a tag such as `<code>`, `</CODE>` or `<a href="x">`.
fn html_effect(html: &str) -> HtmlEffect {
    let Some(inner) = html.trim().strip_prefix('<') else {
        return HtmlEffect::Nothing;
    };
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let name_end = inner
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(inner.len());
    let name = inner.get(..name_end).unwrap_or_default();
    let hides = HIDING_HTML_ELEMENTS
        .iter()
        .any(|element| element.eq_ignore_ascii_case(name));
    match (hides, closing) {
        (false, _) => HtmlEffect::Nothing,
        (true, true) => HtmlEffect::Reveal,
        (true, false) if inner.trim_end().ends_with("/>") => HtmlEffect::Nothing,
        (true, false) => HtmlEffect::Hide,
    }
}

struct Walker<'a> {
    source: &'a str,
    lines: Vec<Line>,
    current: Line,
    /// How many hiding elements we are inside; text is dropped while > 0.
    hidden_depth: usize,
    /// The same for inline HTML elements. Raw HTML need not be balanced, so
    /// this is reset at every block boundary: an unclosed `<code>` hides the
    /// rest of its paragraph, not the rest of the comment.
    html_depth: usize,
}

impl<'a> Walker<'a> {
    fn new(source: &'a str) -> Self {
        Walker {
            source,
            lines: Vec::new(),
            current: Line::default(),
            hidden_depth: 0,
            html_depth: 0,
        }
    }

    fn visible(&self) -> bool {
        self.hidden_depth == 0 && self.html_depth == 0
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(tag) => self.start(&tag, range),
            Event::End(tag) => self.end(tag),
            Event::Text(text) if self.visible() => self.current.push_prose(&text),
            Event::Code(_) if self.visible() => self.push_source(range),
            Event::SoftBreak | Event::HardBreak | Event::Rule if self.visible() => self.flush(),
            Event::InlineHtml(html) => self.inline_html(&html),
            // HTML blocks (comments included), footnote references, task
            // list markers and anything hidden: not prose, not worth keeping.
            _ => {}
        }
    }

    fn start(&mut self, tag: &Tag<'_>, range: Range<usize>) {
        let tag = tag.to_end();
        if !is_inline(tag) {
            self.html_depth = 0;
            if self.visible() {
                self.flush();
            }
        }
        if hides_content(tag) {
            if kept_as_source(tag) && self.visible() {
                self.push_source(range);
            }
            self.hidden_depth += 1;
        }
    }

    fn end(&mut self, tag: TagEnd) {
        if hides_content(tag) {
            self.hidden_depth = self.hidden_depth.saturating_sub(1);
        }
        if !is_inline(tag) {
            self.html_depth = 0;
            if self.visible() {
                self.flush();
            }
        }
    }

    /// Inline HTML is never kept in the text; some elements hide the text
    /// between their tags.
    fn inline_html(&mut self, html: &str) {
        match html_effect(html) {
            HtmlEffect::Hide => self.html_depth += 1,
            HtmlEffect::Reveal => self.html_depth = self.html_depth.saturating_sub(1),
            HtmlEffect::Nothing => {}
        }
    }

    fn push_source(&mut self, range: Range<usize>) {
        if let Some(source) = self.source.get(range) {
            self.current.push_context(source);
        }
    }

    fn flush(&mut self) {
        if !self.current.text.is_empty() {
            self.lines.push(std::mem::take(&mut self.current));
        }
    }

    fn finish(mut self) -> Vec<Line> {
        self.flush();
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of each line, for compact assertions.
    fn texts(markdown: &str) -> Vec<String> {
        text_lines(markdown).into_iter().map(|l| l.text).collect()
    }

    /// Only the prose parts of each line, joined with `|`.
    fn prose(markdown: &str) -> Vec<String> {
        text_lines(markdown)
            .into_iter()
            .map(|line| {
                line.mentionable
                    .iter()
                    .filter_map(|r| line.text.get(r.clone()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    #[test]
    fn paragraphs_and_soft_breaks_make_lines() {
        assert_eq!(texts("a b\nc\n\nd"), ["a b", "c", "d"]);
    }

    #[test]
    fn hard_break_ends_a_line() {
        assert_eq!(texts("a  \nb"), ["a", "b"]);
    }

    #[test]
    fn emphasis_stays_on_the_line() {
        assert_eq!(texts("a **b** _c_ d"), ["a b c d"]);
        assert_eq!(prose("a **b** d"), ["a b d"]);
    }

    #[test]
    fn split_text_is_one_prose_range() {
        let lines = text_lines("a_b &amp; [c");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "a_b & [c");
        assert_eq!(lines[0].mentionable, [Range { start: 0, end: 8 }]);
    }

    #[test]
    fn inline_code_is_kept_but_not_prose() {
        assert_eq!(texts("fix `a  b` now"), ["fix `a b` now"]);
        assert_eq!(prose("fix `x` now"), ["fix | now"]);
    }

    #[test]
    fn links_are_kept_as_written_but_not_prose() {
        assert_eq!(
            texts("see [the bug](https://x/1) ok"),
            ["see [the bug](https://x/1) ok"]
        );
        assert_eq!(prose("see [the bug](https://x/1) ok"), ["see | ok"]);
    }

    #[test]
    fn wrapped_link_stays_on_one_line() {
        assert_eq!(texts("see [the\nbug](u) ok"), ["see [the bug](u) ok"]);
    }

    #[test]
    fn code_blocks_quotes_and_html_are_dropped() {
        let md = "a\n\n```\ncode\n```\n\n    indented\n\n> quoted\n\n<div>\nhtml\n</div>\n\nb";
        assert_eq!(texts(md), ["a", "b"]);
    }

    #[test]
    fn html_comment_is_dropped() {
        assert_eq!(texts("<!-- hidden -->\nshown"), ["shown"]);
        assert_eq!(texts("x <!-- hidden --> y"), ["x  y"]);
    }

    #[test]
    fn html_effects() {
        assert_eq!(html_effect("<code>"), HtmlEffect::Hide);
        assert_eq!(html_effect("<A HREF=\"x\">"), HtmlEffect::Hide);
        assert_eq!(html_effect("</kbd>"), HtmlEffect::Reveal);
        assert_eq!(html_effect("<a/>"), HtmlEffect::Nothing);
        assert_eq!(html_effect("<b>"), HtmlEffect::Nothing);
        assert_eq!(html_effect("<abbr>"), HtmlEffect::Nothing);
        assert_eq!(html_effect("<!-- x -->"), HtmlEffect::Nothing);
        assert_eq!(html_effect("<"), HtmlEffect::Nothing);
        assert_eq!(html_effect(""), HtmlEffect::Nothing);
    }

    #[test]
    fn text_inside_inline_html_code_is_dropped() {
        assert_eq!(texts("a <code>b</code> c"), ["a  c"]);
        assert_eq!(texts("a <a href=\"u\">b</a> c"), ["a  c"]);
        assert_eq!(texts("a <b>b</b> c"), ["a b c"]);
    }

    #[test]
    fn unclosed_inline_html_hides_only_its_paragraph() {
        assert_eq!(texts("a <code>b\nc\n\nd"), ["a ", "d"]);
    }

    #[test]
    fn strikethrough_is_dropped() {
        assert_eq!(texts("a ~~b~~ c"), ["a  c"]);
    }

    #[test]
    fn list_items_and_table_cells_are_separate_lines() {
        assert_eq!(texts("- a\n- b"), ["a", "b"]);
        assert_eq!(
            texts("| h1 | h2 |\n|----|----|\n| a | b |"),
            ["h1", "h2", "a", "b"]
        );
    }

    #[test]
    fn task_list_marker_is_not_text() {
        assert_eq!(texts("- [ ] todo"), ["todo"]);
    }

    #[test]
    fn quote_inside_list_is_dropped_but_the_item_is_not() {
        assert_eq!(texts("- item\n  > quoted\n- next"), ["item", "next"]);
    }
}
