//! POSIX shell quoting and word splitting for the scripts bosun hands to `/bin/sh -c`.
//!
//! Everything interpolated into an agent script (model names, configured programs, extra
//! arguments) comes from repository config, which bosun does not trust. So no value may ever
//! be interpreted by the shell: each one becomes exactly one single-quoted word. Inside single
//! quotes POSIX sh takes every character literally except `'` itself, which is written as
//! `'\''` (close the quote, an escaped quote, reopen).

use std::fmt;

/// Quotes `s` as one shell word that the shell reads back as exactly `s`.
///
/// Always quotes, even when `s` looks harmless: one rule is easier to trust than a list of
/// "safe" characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quotes each word and joins them with single spaces.
pub fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a configured command line could not be split into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    UnclosedSingleQuote,
    UnclosedDoubleQuote,
    TrailingBackslash,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SplitError::UnclosedSingleQuote => "a single quote is not closed",
            SplitError::UnclosedDoubleQuote => "a double quote is not closed",
            SplitError::TrailingBackslash => "the line ends with a backslash",
        })
    }
}

impl std::error::Error for SplitError {}

/// Splits a command line from config into words, honouring `'…'`, `"…"` and backslashes the
/// way sh does, but expanding nothing: `$HOME`, `*` and `$(…)` stay literal text.
///
/// Config authors write commands the way they would type them, so quoting must work as they
/// expect; expansion is left out on purpose, because the words are re-quoted with [`quote`]
/// and a config file must not be able to run shell code.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnclosedSingleQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash only escapes these (POSIX 2.2.3).
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::UnclosedDoubleQuote),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnclosedDoubleQuote),
                    }
                }
            }
            '\\' => match chars.next() {
                // Line continuation: joins lines, adds nothing.
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(SplitError::TrailingBackslash),
            },
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Strings that break naive quoting.
    const NASTY: &[&str] = &[
        "plain",
        "two words",
        "",
        "it's",
        "''",
        "$HOME",
        "${PATH}",
        "`id`",
        "$(echo pwned)",
        "a\"b",
        "back\\slash",
        "semi;colon && rm -rf / | cat > x",
        "*",
        "new\nline",
        "tab\there",
        "-n",
        "ünïcødé ✓",
    ];

    #[test]
    fn quote_wraps_in_single_quotes() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("two words"), "'two words'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("`id`"), "'`id`'");
    }

    #[test]
    fn quote_escapes_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("'"), r"''\'''");
    }

    #[test]
    fn quote_all_joins_with_spaces() {
        assert_eq!(quote_all(&["a b", "", "c"]), "'a b' '' 'c'");
        assert_eq!(quote_all::<&str>(&[]), "");
    }

    /// The real test of quoting: the shell must hand every string back byte for byte.
    #[test]
    fn quoted_words_survive_a_real_shell() {
        let script = format!("printf '%s\\0' {}", quote_all(NASTY));
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("run /bin/sh");
        assert!(out.status.success(), "{script}");
        let got = String::from_utf8(out.stdout).expect("utf-8 output");
        let want: String = NASTY.iter().map(|s| format!("{s}\0")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn split_plain_words() {
        assert_eq!(split("a  b\tc").unwrap(), ["a", "b", "c"]);
        assert_eq!(split("   ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn split_quotes_and_escapes() {
        assert_eq!(
            split(r#"agent --msg "hello world" 'it''s' a\ b "" x"#).unwrap(),
            ["agent", "--msg", "hello world", "its", "a b", "", "x"]
        );
        assert_eq!(split(r#""a\"b\$c\n""#).unwrap(), [r#"a"b$c\n"#]);
        assert_eq!(split("a \\\nb").unwrap(), ["a", "b"]);
    }

    #[test]
    fn split_expands_nothing() {
        assert_eq!(
            split("run $HOME `id` $(x) *").unwrap(),
            ["run", "$HOME", "`id`", "$(x)", "*"]
        );
    }

    #[test]
    fn split_rejects_unbalanced_input() {
        assert_eq!(split("a 'b"), Err(SplitError::UnclosedSingleQuote));
        assert_eq!(split("a \"b"), Err(SplitError::UnclosedDoubleQuote));
        assert_eq!(split("a \\"), Err(SplitError::TrailingBackslash));
    }

    #[test]
    fn split_then_quote_round_trips_through_sh() {
        let words = split(r#"printf '%s|' "a b" 'c$d' e\'f"#).unwrap();
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(quote_all(&words))
            .output()
            .expect("run /bin/sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b|c$d|e'f|");
    }
}
