//! The agent logs of one attempt as lines with stable ids, for the dashboard's live log.
//!
//! An attempt's runs each write `<run>/agent.log` (found and ordered by
//! `run::logs::log_files`). Runs may write at the same time (reviewers), so a position
//! in "the log" is the byte offset reached in every run's file: a [`Cursor`]. Each line is
//! sent with the cursor just past it as its id (`<attempt>;<run>=<offset>;…`), so a client
//! that reconnects with `Last-Event-ID` gets exactly the lines after it, once, whichever runs
//! grew meanwhile. Only whole lines are sent while the attempt runs; a last line without a
//! newline is sent when it is over.
//!
//! In the readable view (the default) each line goes through its run's adapter
//! (`bosun_core::agent::readable`) and is sent as what it shows, one or more lines of text,
//! still under the raw line's cursor; a line that shows nothing moves the cursor silently. A
//! parser has state (the tool a result belongs to, the usage so far), so a reader that resumes
//! mid-run first reads the run from its start without sending it. A run whose adapter was
//! not noted is sent raw.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bosun_core::agent::readable::Reader;
use bosun_core::redact::Redactor;

use crate::run::logs::{adapter_of, View};

/// At most this much of one run's file is read per pass (the next pass goes on).
const READ_CHUNK: u64 = 256 * 1024;
/// A line longer than this is shown cut (its id still moves past all of it).
const MAX_LINE_CHARS: usize = 8_000;

/// How far a reader got in each run's log of one attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub attempt: u32,
    /// Run name → bytes already sent. Runs not named start at 0.
    pub offsets: BTreeMap<String, u64>,
}

/// One line of an agent log (in the readable view: what one line shows, possibly several
/// lines of text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The cursor just past this line, as text: the SSE id.
    pub id: String,
    pub run: String,
    pub text: String,
}

/// Run names are directory names bosun makes (`round-1`, `review-1-2-run-1`, …).
fn valid_run(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Cursor {
    pub fn start(attempt: u32) -> Cursor {
        Cursor {
            attempt,
            offsets: BTreeMap::new(),
        }
    }

    /// `<attempt>;<run>=<offset>;…`, runs in name order.
    pub fn id(&self) -> String {
        let mut out = self.attempt.to_string();
        for (run, offset) in &self.offsets {
            out.push_str(&format!(";{run}={offset}"));
        }
        out
    }

    /// Reads an id back; `None` for anything that is not one.
    pub fn parse(id: &str) -> Option<Cursor> {
        let mut parts = id.trim().split(';');
        let attempt = parts.next()?.parse().ok()?;
        let mut offsets = BTreeMap::new();
        for part in parts {
            let (run, offset) = part.split_once('=')?;
            if !valid_run(run) {
                return None;
            }
            offsets.insert(run.to_string(), offset.parse().ok()?);
        }
        Some(Cursor { attempt, offsets })
    }
}

/// Reads what is new in an attempt's logs, pass after pass.
pub struct Tail {
    dir: PathBuf,
    cursor: Cursor,
    redactor: Redactor,
    view: View,
    /// The readable view's parser of each run, caught up with the cursor; `None` for a run
    /// shown raw.
    readers: HashMap<String, Option<Reader>>,
}

impl Tail {
    pub fn new(dir: &Path, cursor: Cursor, redactor: Redactor, view: View) -> Tail {
        Tail {
            dir: dir.to_path_buf(),
            cursor,
            redactor,
            view,
            readers: HashMap::new(),
        }
    }

    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// The lines written since the last pass, oldest run first. With `last`, an unfinished
    /// final line is taken too (the attempt is over: nothing more will come).
    pub fn pass(&mut self, last: bool) -> std::io::Result<Vec<LogLine>> {
        let mut out = Vec::new();
        for (run, path) in crate::run::logs::log_files(&self.dir) {
            if !valid_run(&run) {
                continue;
            }
            loop {
                let (lines, more) = self.read_run(&run, &path, last)?;
                out.extend(lines);
                if !more {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// New whole lines of one run (at most a chunk); whether more is waiting.
    fn read_run(
        &mut self,
        run: &str,
        path: &Path,
        last: bool,
    ) -> std::io::Result<(Vec<LogLine>, bool)> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let mut from = self.cursor.offsets.get(run).copied().unwrap_or(0);
        if len < from {
            // The file was written anew (the attempt's job ran again after a crash): what it
            // holds now was never sent.
            from = 0;
            self.readers.remove(run);
        }
        if len == from {
            return Ok((Vec::new(), false));
        }
        if !self.readers.contains_key(run) {
            let reader = self.reader_caught_up(path, from)?;
            self.readers.insert(run.to_string(), reader);
        }
        let want = (len - from).min(READ_CHUNK);
        file.seek(SeekFrom::Start(from))?;
        let mut bytes = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut bytes)?;
        let more = from + (bytes.len() as u64) < len;
        // Only whole lines, unless this is all there will be.
        let usable = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(end) => end + 1,
            None if last && !more => bytes.len(),
            // A line longer than a chunk: take the chunk as a line rather than never moving.
            None if bytes.len() as u64 == READ_CHUNK => bytes.len(),
            None => return Ok((Vec::new(), false)),
        };
        let usable = if last && !more { bytes.len() } else { usable };
        let mut lines = Vec::new();
        let mut pos = from;
        for raw in bytes[..usable].split_inclusive(|b| *b == b'\n') {
            pos += raw.len() as u64;
            self.cursor.offsets.insert(run.to_string(), pos);
            let shown = match self.readers.get_mut(run) {
                Some(Some(reader)) => {
                    // A last line without its newline is whole once the attempt is over.
                    let mut whole = raw.to_vec();
                    if !whole.ends_with(b"\n") {
                        whole.push(b'\n');
                    }
                    reader.feed(&whole)
                }
                _ => {
                    let text = String::from_utf8_lossy(raw);
                    vec![text.trim_end_matches(['\n', '\r']).to_string()]
                }
            };
            if shown.is_empty() {
                continue;
            }
            let text = shown
                .iter()
                .map(|line| self.cleaned(line))
                .collect::<Vec<_>>()
                .join("\n");
            lines.push(LogLine {
                id: self.cursor.id(),
                run: run.to_string(),
                text,
            });
        }
        Ok((lines, more))
    }

    /// A line as it may be sent: secrets redacted, cut when very long.
    fn cleaned(&self, line: &str) -> String {
        let mut text = self.redactor.redact(line);
        if text.chars().count() > MAX_LINE_CHARS {
            text = text.chars().take(MAX_LINE_CHARS).collect::<String>() + " …";
        }
        text
    }

    /// The readable view's parser for the run whose log is `path`, having read its first
    /// `upto` bytes (already sent, so not shown again); `None` when the run is shown raw.
    fn reader_caught_up(&self, path: &Path, upto: u64) -> std::io::Result<Option<Reader>> {
        let kind = match self.view {
            View::Readable => adapter_of(path),
            View::Raw => None,
        };
        let Some(kind) = kind else {
            return Ok(None);
        };
        let mut reader = Reader::new(kind);
        let mut file = std::fs::File::open(path)?.take(upto);
        let mut chunk = vec![0; READ_CHUNK as usize];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            drop(reader.feed(&chunk[..n]));
        }
        Ok(Some(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(dir: &Path, run: &str, text: &str) {
        std::fs::create_dir_all(dir.join(run)).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(run).join(crate::run::logs::LOG_FILE))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn ids_round_trip_and_refuse_garbage() {
        let mut c = Cursor::start(2);
        c.offsets.insert("round-1".into(), 120);
        c.offsets.insert("review-1-1-run-1".into(), 7);
        assert_eq!(c.id(), "2;review-1-1-run-1=7;round-1=120");
        assert_eq!(Cursor::parse(&c.id()), Some(c));
        for bad in ["", "x", "1;round-1", "1;../x=3", "1;a=b"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn resuming_from_any_line_gives_the_rest_once() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), "round-1", "one\ntwo\nthree without end");
        let mut tail = Tail::new(dir.path(), Cursor::start(1), Redactor::new([]), View::Raw);
        let first = tail.pass(false).unwrap();
        assert_eq!(texts(&first), ["one", "two"], "an unfinished line waits");

        // Another run starts while the first still writes.
        std::thread::sleep(std::time::Duration::from_millis(20));
        append(dir.path(), "review-1-1-run-1", "r1\n");
        append(dir.path(), "round-1", "\nfour\n");
        let second = tail.pass(false).unwrap();
        assert_eq!(texts(&second), ["three without end", "four", "r1"]);

        // A reader that saw only "one" reconnects with its id.
        let mut again = Tail::new(
            dir.path(),
            Cursor::parse(&first[0].id).unwrap(),
            Redactor::new([]),
            View::Raw,
        );
        assert_eq!(
            texts(&again.pass(false).unwrap()),
            ["two", "three without end", "four", "r1"]
        );
        assert!(again.pass(false).unwrap().is_empty(), "nothing twice");

        append(dir.path(), "round-1", "tail");
        assert!(tail.pass(false).unwrap().is_empty());
        assert_eq!(
            texts(&tail.pass(true).unwrap()),
            ["tail"],
            "the end is sent"
        );
    }

    /// A real CLI's log, noted as read by `adapter`, in run `round-1`.
    fn real_run(dir: &Path, adapter: &str, capture: &str) -> String {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/agent-streams")
                .join(capture),
        )
        .unwrap();
        append(dir, "round-1", &text);
        std::fs::write(
            dir.join("round-1").join(crate::run::logs::ADAPTER_FILE),
            adapter,
        )
        .unwrap();
        text
    }

    #[test]
    fn the_readable_view_shows_what_the_adapter_reads_and_raw_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        let text = real_run(
            dir.path(),
            "claude",
            "claude/captured-2.1.332-pypi-container/claude-write.jsonl",
        );
        let mut readable = Tail::new(
            dir.path(),
            Cursor::start(1),
            Redactor::new([]),
            View::Readable,
        );
        let shown = texts(&readable.pass(true).unwrap()).join("\n");
        assert!(
            shown.contains("🔧 Write") && shown.contains("hello.txt"),
            "{shown}"
        );
        assert!(!shown.contains("\"type\""), "no raw JSON: {shown}");

        let mut raw = Tail::new(dir.path(), Cursor::start(1), Redactor::new([]), View::Raw);
        assert_eq!(
            texts(&raw.pass(true).unwrap()),
            text.lines().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_readable_reader_resuming_anywhere_gets_the_rest_as_a_whole_read_shows_it() {
        for (adapter, capture) in [
            (
                "claude",
                "claude/captured-2.1.332-pypi-container/claude-bash.jsonl",
            ),
            (
                "codex",
                "codex/captured-0.147.0-pypi-container/codex-shell.jsonl",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            real_run(dir.path(), adapter, capture);
            let whole = Tail::new(
                dir.path(),
                Cursor::start(1),
                Redactor::new([]),
                View::Readable,
            )
            .pass(true)
            .unwrap();
            assert!(whole.len() > 2, "{capture}: {whole:?}");
            for (i, line) in whole.iter().enumerate() {
                let mut resumed = Tail::new(
                    dir.path(),
                    Cursor::parse(&line.id).unwrap(),
                    Redactor::new([]),
                    View::Readable,
                );
                assert_eq!(
                    resumed.pass(true).unwrap(),
                    whole[i + 1..],
                    "{capture}: resumed after line {i}"
                );
            }
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let token = format!("ghs_{}", "a".repeat(36));
        append(dir.path(), "round-1", &format!("token {token}\n"));
        let mut tail = Tail::new(dir.path(), Cursor::start(1), Redactor::new([]), View::Raw);
        let lines = tail.pass(false).unwrap();
        assert!(!lines[0].text.contains(&token), "{}", lines[0].text);
    }
}
