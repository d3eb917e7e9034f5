//! End-to-end tests of the command parser on whole comment bodies.

use super::*;
use Command::*;

const HANDLE: &str = "bosun";

fn parse(markdown: &str) -> Vec<Command> {
    parse_commands(markdown, HANDLE)
}

fn do_(text: &str) -> Command {
    Do(text.to_string())
}

// --- the basics -----------------------------------------------------------

#[test]
fn no_mention_no_command() {
    assert!(parse("").is_empty());
    assert!(parse("Looks good to me!").is_empty());
    assert!(parse("@someone-else fix it").is_empty());
}

#[test]
fn bare_mention_means_work_on_the_issue() {
    assert_eq!(parse("@bosun"), [do_("")]);
    assert_eq!(parse("Thanks for the report. cc @bosun"), [do_("")]);
}

#[test]
fn each_command_word() {
    assert_eq!(parse("@bosun stop"), [Stop]);
    assert_eq!(parse("@bosun cancel"), [Stop]);
    assert_eq!(parse("@bosun retry"), [Retry(None)]);
    assert_eq!(parse("@bosun status"), [Status]);
    assert_eq!(parse("@bosun plan"), [Plan(None)]);
    assert_eq!(parse("@bosun help"), [Help]);
    assert_eq!(parse("@bosun restart"), [Unknown("restart".into())]);
    assert_eq!(parse("@bosun fix the typo"), [do_("fix the typo")]);
}

#[test]
fn separators_after_the_mention() {
    assert_eq!(parse("@bosun: retry"), [Retry(None)]);
    assert_eq!(parse("@bosun, please fix it"), [do_("please fix it")]);
    assert_eq!(parse("@bosun   /status"), [Status]);
}

#[test]
fn handle_is_case_insensitive() {
    assert_eq!(parse("@BOSUN Stop!"), [Stop]);
    assert_eq!(parse_commands("@bosun stop", "BoSuN"), [Stop]);
}

#[test]
fn handle_forms_are_tolerated() {
    assert_eq!(parse_commands("@bosun-app stop", "@bosun-app"), [Stop]);
    assert_eq!(parse_commands("@bosun-app stop", "bosun-app[bot]"), [Stop]);
    assert_eq!(parse_commands("@bosun-app[bot] stop", "bosun-app"), [Stop]);
}

#[test]
fn empty_handle_matches_nothing() {
    assert!(parse_commands("@ stop", "").is_empty());
    assert!(parse_commands("@bosun stop", "  ").is_empty());
}

#[test]
fn command_ends_at_the_end_of_the_line() {
    let body = "@bosun fix the parser\nand also the tests";
    assert_eq!(parse(body), [do_("fix the parser")]);
}

#[test]
fn several_mentions_in_order() {
    let body = "@bosun stop\n\nOn second thought:\n\n@bosun retry with the new config";
    assert_eq!(
        parse(body),
        [Stop, Retry(Some("with the new config".into()))]
    );
}

#[test]
fn second_mention_on_a_line_ends_the_first() {
    assert_eq!(parse("@bosun stop @bosun retry"), [Stop, Retry(None)]);
    assert_eq!(parse("@bosun fix it @bosun"), [do_("fix it"), do_("")]);
}

#[test]
fn other_mentions_are_part_of_the_text() {
    assert_eq!(
        parse("@bosun fix what @alice reported"),
        [do_("fix what @alice reported")]
    );
}

#[test]
fn mention_in_heading_and_list_counts() {
    assert_eq!(parse("## @bosun plan"), [Plan(None)]);
    assert_eq!(parse("- @bosun status\n- @bosun stop"), [Status, Stop]);
    assert_eq!(parse("1. @bosun retry"), [Retry(None)]);
}

#[test]
fn mention_in_emphasis_counts() {
    assert_eq!(
        parse("**@bosun** fix *all* the things"),
        [do_("fix all the things")]
    );
    assert_eq!(parse("_@bosun stop_"), [Stop]);
}

#[test]
fn mention_in_table_cell_ends_at_the_cell() {
    let body = "| who | what |\n|---|---|\n| @bosun stop | now |";
    assert_eq!(parse(body), [Stop]);
}

#[test]
fn mention_split_by_markdown_escapes_still_counts() {
    // Mentions are read from the rendered text, as GitHub does.
    assert_eq!(parse("&#64;bosun stop"), [Stop]);
    assert_eq!(parse("\\@bosun stop"), [Stop]);
}

#[test]
fn mention_followed_by_inline_code() {
    assert_eq!(parse("@bosun `retry`"), [Unknown("`retry`".into())]);
    assert_eq!(parse("@bosun fix `a.rs`"), [do_("fix `a.rs`")]);
}

// --- places a mention must not count ---------------------------------------

#[test]
fn quoted_reply_does_not_retrigger() {
    let body = "> @bosun fix the login page\n\nThis is a great idea, thanks!";
    assert!(parse(body).is_empty());
}

#[test]
fn quoted_reply_with_a_new_command_below() {
    let body = "> @bosun fix the login page\n> and the signup page\n\n@bosun stop";
    assert_eq!(parse(body), [Stop]);
}

#[test]
fn nested_quote_and_quote_in_list() {
    assert!(parse("> > @bosun fix").is_empty());
    assert!(parse("- item\n  > @bosun fix").is_empty());
    assert!(parse("> [!NOTE]\n> @bosun fix").is_empty());
}

#[test]
fn fenced_and_indented_code_blocks() {
    assert!(parse("```\n@bosun stop\n```").is_empty());
    assert!(parse("~~~md\n@bosun stop\n~~~").is_empty());
    assert!(parse("text\n\n    @bosun stop").is_empty());
}

#[test]
fn inline_code() {
    assert!(parse("Type `@bosun stop` to stop it.").is_empty());
    assert!(parse("``@bosun ` stop``").is_empty());
}

#[test]
fn links_images_and_autolinks() {
    assert!(parse("[@bosun](https://github.com/apps/bosun)").is_empty());
    assert!(parse("[docs](https://example.com/@bosun)").is_empty());
    assert!(parse("![@bosun stop](https://example.com/x.png)").is_empty());
    assert!(parse("<https://example.com/@bosun>").is_empty());
    assert!(parse("<me@bosun.dev>").is_empty());
    assert!(parse("see https://example.com/?who=@bosun").is_empty());
}

#[test]
fn html_and_html_comments() {
    assert!(parse("<!-- @bosun stop -->").is_empty());
    assert!(parse("Hello <!-- @bosun stop --> there").is_empty());
    assert!(parse("Hello <!--\n@bosun stop\n--> there").is_empty());
    assert!(parse("<details>\n@bosun stop\n</details>").is_empty());
}

#[test]
fn inline_html_code_and_links() {
    assert!(parse("Use <code>@bosun stop</code> to stop.").is_empty());
    assert!(parse("Press <kbd>@bosun</kbd>").is_empty());
    assert!(parse("<a href=\"https://x\">@bosun</a> is our bot").is_empty());
    assert_eq!(parse("<b>@bosun</b> status"), [Status]);
}

#[test]
fn lazy_continuation_line_belongs_to_the_quote() {
    // GitHub renders the second line inside the quote too.
    assert!(parse("> quoted text\n@bosun stop").is_empty());
    assert_eq!(parse("> quoted text\n\n@bosun stop"), [Stop]);
}

#[test]
fn emails_paths_and_longer_logins() {
    assert!(parse("mail me@bosun.com").is_empty());
    assert!(parse("see x/@bosun").is_empty());
    assert!(parse_commands("@bosun-app2 stop", "bosun-app").is_empty());
    assert!(parse_commands("@bosun-app-dev stop", "bosun-app").is_empty());
    assert!(parse("@bosun_x stop").is_empty());
}

#[test]
fn struck_out_command_is_a_retraction() {
    assert!(parse("~~@bosun fix it~~").is_empty());
}

// --- what the instruction text keeps ----------------------------------------

#[test]
fn instruction_keeps_inline_code_and_links() {
    assert_eq!(
        parse("@bosun rename `foo_bar` as in [#12](https://x/12)"),
        [do_("rename `foo_bar` as in [#12](https://x/12)")]
    );
}

#[test]
fn instruction_drops_html_comments() {
    assert_eq!(
        parse("@bosun fix it <!-- quietly --> now"),
        [do_("fix it  now")]
    );
}

// --- real-looking comment bodies ---------------------------------------------

#[test]
fn github_reply_with_quote_and_new_request() {
    let body = "\
> @bosun add a dark mode toggle
>
> It should live in the settings page.

Agreed. @bosun plan: start with the CSS variables, no JS yet.

Thanks!";
    assert_eq!(
        parse(body),
        [Plan(Some(
            "start with the CSS variables, no JS yet.".into()
        ))]
    );
}

#[test]
fn bug_report_with_log_and_command() {
    let body = "\
The build fails on main:

```
error[E0308]: mismatched types
  --> src/lib.rs:3:5
   | @bosun stop
```

@bosun retry the cache was stale
";
    assert_eq!(parse(body), [Retry(Some("the cache was stale".into()))]);
}

#[test]
fn docs_comment_explaining_commands_triggers_nothing() {
    let body = "\
You can control the bot with:

- `@bosun stop` stops it
- `@bosun retry` runs it again

<!-- @bosun status -->";
    assert!(parse(body).is_empty());
}

// --- edits ------------------------------------------------------------------

#[test]
fn edit_that_changes_nothing_adds_nothing() {
    let body = "@bosun fix it\n\n@bosun status";
    assert!(new_commands(body, body, HANDLE).is_empty());
}

#[test]
fn edit_adding_a_command() {
    let old = "@bosun fix the tests";
    let new = "@bosun fix the tests\n\n@bosun stop";
    assert_eq!(new_commands(old, new, HANDLE), [Stop]);
}

#[test]
fn edit_that_fixes_a_typo_in_text_around_a_command() {
    let old = "Teh bug: @bosun retry";
    let new = "The bug: @bosun retry";
    assert!(new_commands(old, new, HANDLE).is_empty());
}

#[test]
fn edit_that_changes_the_command_text() {
    let old = "@bosun fix teh bug";
    let new = "@bosun fix the bug";
    assert_eq!(new_commands(old, new, HANDLE), [do_("fix the bug")]);
}

#[test]
fn edit_duplicates_count() {
    let old = "@bosun retry";
    let new = "@bosun retry\n\n@bosun retry";
    assert_eq!(new_commands(old, new, HANDLE), [Retry(None)]);
}

#[test]
fn edit_removing_commands_adds_nothing() {
    assert!(new_commands("@bosun stop\n@bosun retry", "@bosun stop", HANDLE).is_empty());
}

#[test]
fn edit_from_empty_is_a_plain_parse() {
    let new = "@bosun plan\n\n@bosun status";
    assert_eq!(new_commands("", new, HANDLE), parse(new));
}

#[test]
fn edit_moving_a_command_into_a_quote_adds_nothing() {
    assert!(new_commands("@bosun stop", "> @bosun stop", HANDLE).is_empty());
}

// --- help -------------------------------------------------------------------

#[test]
fn help_text_lists_every_command_with_the_handle() {
    let help = help_text("bosun-app[bot]");
    for word in ["plan", "retry", "status", "stop", "cancel", "help"] {
        assert!(help.contains(word), "help text lacks {word}: {help}");
    }
    assert!(help.contains("`@bosun-app stop`"));
    assert!(!help.contains("[bot]"));
}

#[test]
fn help_text_examples_parse_as_documented() {
    // The help text is Markdown with commands in inline code, so replying
    // with it can never trigger the App itself.
    assert!(parse_commands(&help_text(HANDLE), HANDLE).is_empty());
}

// --- robustness ---------------------------------------------------------------

/// Inputs that have broken Markdown parsers before; none may panic.
fn odd_inputs() -> Vec<String> {
    vec![
        "```\n@bosun stop".into(),
        "~~~\n@bosun stop\n```".into(),
        "- a\n  - b\n    > - c\n    >   > @bosun stop\n- @bosun retry".into(),
        "| a | @bosun stop |\n|---|\n| @bosun | b | c |".into(),
        "@bosun 🚢 ship it 🎉".into(),
        "@bosun أصلح الخطأ من فضلك".into(),
        "\u{202e}@bosun stop\u{202c}".into(),
        "@bosun\u{0}stop\r\n@bosun\rretry".into(),
        "[".repeat(5_000) + "@bosun" + &"]".repeat(5_000),
        "*".repeat(10_000) + " @bosun " + &"_".repeat(10_000),
        "> ".repeat(2_000) + "@bosun stop",
        "<!--".repeat(1_000) + "@bosun",
        "`".repeat(3_001) + "@bosun stop",
        "@bosun ".repeat(15_000),
        "word @bosun fix it\n".repeat(6_000),
        "é@bosunè ".repeat(10_000),
        "@".repeat(100_000),
        "a(@bosun".repeat(12_000),
        "https://x/(@bosun".repeat(6_000),
        "[x](".repeat(25_000),
        "- ".repeat(5_000) + "@bosun stop",
        "| @bosun stop ".repeat(2_000) + "|\n" + &"|---".repeat(2_000) + "|\n",
        "*a _b **c __d ".repeat(7_000),
        "`a ``b ```c ".repeat(8_000),
        "<a href=\"".repeat(10_000),
        "&#x40;bosun ".repeat(8_000),
    ]
}

#[test]
fn never_panics_on_odd_inputs() {
    for input in odd_inputs() {
        for command in parse(&input) {
            assert_single_line(&command);
        }
        let _ = new_commands(&input, &(input.clone() + "\n@bosun stop"), HANDLE);
    }
}

#[test]
fn large_bodies_are_parsed() {
    let body = "@bosun fix it\n\n".repeat(7_000);
    assert!(body.len() > 100_000);
    assert_eq!(parse(&body).len(), 7_000);
}

#[test]
fn odd_inputs_still_find_real_commands() {
    assert_eq!(parse("@bosun 🚢 ship it 🎉"), [do_("🚢 ship it 🎉")]);
    assert_eq!(parse("@bosun أصلح الخطأ"), [do_("أصلح الخطأ")]);
    assert_eq!(parse("```\n@bosun stop"), []);
    assert_eq!(parse("@bosun stop\r\n@bosun retry"), [Stop, Retry(None)]);
}

/// A command never spans lines.
fn assert_single_line(command: &Command) {
    let text = match command {
        Do(text) | Unknown(text) => Some(text),
        Retry(note) | Plan(note) => note.as_ref(),
        Stop | Status | Help | Approve => None,
    };
    if let Some(text) = text {
        assert!(!text.contains('\n'), "multi-line command: {command:?}");
    }
}

/// Deterministic pseudo-random bodies built from Markdown's special
/// characters, to reach combinations nobody thought to write down.
#[test]
fn never_panics_on_generated_markdown() {
    const PIECES: &[&str] = &[
        "@bosun",
        "@Bosun-",
        " stop",
        " retry",
        " plan",
        "\n",
        "\n\n",
        "> ",
        "- ",
        "1. ",
        "```",
        "~~~",
        "    ",
        "`",
        "*",
        "_",
        "~~",
        "[",
        "](",
        ")",
        "<",
        ">",
        "<!--",
        "-->",
        "|",
        "---",
        "#",
        "\\",
        "&amp;",
        "é",
        "🚢",
        "\u{200f}",
        "\t",
        "x@",
        "/",
        "<https://a.b/@bosun>",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64: tiny, deterministic, good enough to pick pieces.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3_000 {
        let len = next() % 40;
        let body: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        for command in parse(&body) {
            assert_single_line(&command);
        }
    }
}
