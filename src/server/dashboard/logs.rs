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
//!
//! Every line sent, in either view, goes through a [`LiveRedactor`] first.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bosun_core::agent::readable::Reader;
use bosun_core::redact::{Redactor, REDACTED};

use crate::config::run::{RunConfig, MODEL_KEY_ENVS};
use crate::run::logs::{adapter_of, View};

/// At most this much of one run's file is read per pass (the next pass goes on).
const READ_CHUNK: u64 = 256 * 1024;
/// A line longer than this is shown cut (its id still moves past all of it).
const MAX_LINE_CHARS: usize = 8_000;

/// The server's own secrets that a run's output can hold, for the live log's redactor: the
/// values of every host variable a run's redactor may know, read once at start-up.
///
/// A run's redactor (`Sealed::redactor`, built in `run::pipeline::checkout`) knows the values
/// of its agents' environment (the variables each agent's `env` names, model keys among them),
/// the run's canary, the installation token it fetched with and the run's egress and metering
/// tokens. The live log cannot use that redactor: it lives inside the attempt's pipeline only
/// while the attempt runs and is never stored, and the dashboard reads an attempt's logs also
/// after it ended or after a restart. So the live log's redactor is rebuilt from the same
/// sources:
/// - here, the values of the host variables any run can hold: every agent's `env`, the model
///   keys (`MODEL_KEY_ENVS`: `ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `GEMINI_API_KEY`, …,
///   whether or not an agent is given them, since a CLI's error can still quote one) and the
///   metering proxy's `key_env`s;
/// - added per request ([`LiveSecrets::redactor`]): the App's webhook secrets, known once the
///   App is configured (the set-up page can configure it after start-up);
/// - by shape, since they are random per run and never stored: the installation token
///   (`ghs_`, and GitHub's other token families, as `Redactor` always does) and bosun's own
///   run tokens, the metering proxy's `bosun-run-…`, the egress proxy's `bosun-egress-…` and
///   the canary `bosun-canary-…` (see [`redact_run_tokens`]).
#[derive(Clone, Default)]
pub struct LiveSecrets {
    values: Vec<String>,
}

/// By hand, so that logging it can never print what it holds.
impl fmt::Debug for LiveSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSecrets")
            .field("count", &self.values.len())
            .finish()
    }
}

impl LiveSecrets {
    /// The values the host environment holds for the variables `run` can give its runs.
    pub fn from_env(run: &RunConfig) -> LiveSecrets {
        LiveSecrets::gather(run, |name| std::env::var(name).ok())
    }

    /// As `from_env`, reading the variables through `env`.
    pub fn gather(run: &RunConfig, env: impl Fn(&str) -> Option<String>) -> LiveSecrets {
        let meter = &run.meter;
        let mut names: Vec<&str> = MODEL_KEY_ENVS.to_vec();
        names.extend(
            run.agents
                .values()
                .flat_map(|agent| agent.env.iter().map(String::as_str)),
        );
        names.extend(
            [&meter.anthropic, &meter.openai, &meter.gemini]
                .into_iter()
                .flatten()
                .map(|upstream| upstream.key_env.as_str()),
        );
        names.sort_unstable();
        names.dedup();
        let values = names
            .into_iter()
            .filter_map(env)
            .filter(|v| !v.trim().is_empty())
            .collect();
        LiveSecrets { values }
    }

    /// The redactor for a live log: these values, `more` (the webhook secrets), the token
    /// families and bosun's run tokens.
    pub fn redactor<'a>(&self, more: impl IntoIterator<Item = &'a str>) -> LiveRedactor {
        let exact = self
            .values
            .iter()
            .cloned()
            .chain(more.into_iter().map(str::to_string));
        LiveRedactor(Redactor::new(exact))
    }
}

/// What a live log's lines go through before they are sent (see [`LiveSecrets`]).
#[derive(Debug, Clone)]
pub struct LiveRedactor(Redactor);

impl Default for LiveRedactor {
    /// The token shapes only.
    fn default() -> Self {
        LiveSecrets::default().redactor([])
    }
}

impl LiveRedactor {
    pub fn redact(&self, text: &str) -> String {
        redact_run_tokens(&self.0.redact(text))
    }
}

/// The tokens bosun makes for one run, by prefix and the hex digits that follow it at least:
/// the metering proxy's `bosun-run-<id>-<64 hex>` (`meter::runs`), the egress proxy's
/// `bosun-egress-<64 hex>` (`egress::runs`) and the canary `bosun-canary-<32 hex>`
/// (`run::pipeline::checkout`). Container names (`bosun-run-<12 hex>`) are too short to match.
const RUN_TOKENS: [(&str, usize); 3] = [
    ("bosun-run-", 64),
    ("bosun-egress-", 64),
    ("bosun-canary-", 32),
];

/// `text` with bosun's run tokens replaced by `[REDACTED]`: a prefix of `RUN_TOKENS` followed
/// by a run of hex digits and dashes holding enough hex digits.
fn redact_run_tokens(text: &str) -> String {
    const STEM: &str = "bosun-";
    if !text.contains(STEM) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(at) = rest.find(STEM) {
        let candidate = &rest[at..];
        for (prefix, min_hex) in RUN_TOKENS {
            let Some(body) = candidate.strip_prefix(prefix) else {
                continue;
            };
            // ASCII only, so `len` is a character boundary.
            let len = body
                .bytes()
                .take_while(|b| b.is_ascii_hexdigit() || *b == b'-')
                .count();
            let hex = body.as_bytes()[..len]
                .iter()
                .filter(|b| b.is_ascii_hexdigit())
                .count();
            if hex >= min_hex {
                out.push_str(&rest[..at]);
                out.push_str(REDACTED);
                rest = &candidate[prefix.len() + len..];
                continue 'scan;
            }
        }
        out.push_str(&rest[..at + STEM.len()]);
        rest = &rest[at + STEM.len()..];
    }
    out.push_str(rest);
    out
}

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
    redactor: LiveRedactor,
    view: View,
    /// The readable view's parser of each run, caught up with the cursor; `None` for a run
    /// shown raw.
    readers: HashMap<String, Option<Reader>>,
}

impl Tail {
    pub fn new(dir: &Path, cursor: Cursor, redactor: LiveRedactor, view: View) -> Tail {
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
        let mut tail = Tail::new(
            dir.path(),
            Cursor::start(1),
            LiveRedactor::default(),
            View::Raw,
        );
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
            LiveRedactor::default(),
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
            LiveRedactor::default(),
            View::Readable,
        );
        let shown = texts(&readable.pass(true).unwrap()).join("\n");
        assert!(
            shown.contains("🔧 Write") && shown.contains("hello.txt"),
            "{shown}"
        );
        assert!(!shown.contains("\"type\""), "no raw JSON: {shown}");

        let mut raw = Tail::new(
            dir.path(),
            Cursor::start(1),
            LiveRedactor::default(),
            View::Raw,
        );
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
                LiveRedactor::default(),
                View::Readable,
            )
            .pass(true)
            .unwrap();
            assert!(whole.len() > 2, "{capture}: {whole:?}");
            for (i, line) in whole.iter().enumerate() {
                let mut resumed = Tail::new(
                    dir.path(),
                    Cursor::parse(&line.id).unwrap(),
                    LiveRedactor::default(),
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
        let mut tail = Tail::new(
            dir.path(),
            Cursor::start(1),
            LiveRedactor::default(),
            View::Raw,
        );
        let lines = tail.pass(false).unwrap();
        assert!(!lines[0].text.contains(&token), "{}", lines[0].text);
    }

    #[test]
    fn the_live_redactor_knows_the_secrets_a_run_s_redactor_knows() {
        let mut run = RunConfig::default();
        run.agents
            .get_mut("claude")
            .unwrap()
            .env
            .push("DEPLOY_PASSWORD".into());
        run.meter.openai = Some(crate::config::run::UpstreamConfig {
            base_url: "https://llm.example".into(),
            key_env: "TEAM_LLM_KEY".into(),
        });
        // An Anthropic key of no shape the token families know, an agent's own variable, the
        // meter's key, and a variable no run is given.
        let env = |name: &str| {
            let value = match name {
                "ANTHROPIC_API_KEY" => "plain-anthropic-value-42",
                "GEMINI_API_KEY" => "gemini-unshaped-0099",
                "DEPLOY_PASSWORD" => "hunter2-but-longer",
                "TEAM_LLM_KEY" => "team-llm-key-7777",
                "HOME" => "/home/bosun-someone",
                _ => return None,
            };
            Some(value.to_string())
        };
        let live = LiveSecrets::gather(&run, env).redactor(["webhook-secret-value"]);
        let line = "ANTHROPIC_API_KEY=plain-anthropic-value-42 gemini-unshaped-0099 \
                    hunter2-but-longer team-llm-key-7777 webhook-secret-value /home/bosun-someone";
        assert_eq!(
            live.redact(line),
            "ANTHROPIC_API_KEY=[REDACTED] [REDACTED] [REDACTED] [REDACTED] [REDACTED] \
             /home/bosun-someone"
        );
        assert!(!format!("{:?}", LiveSecrets::gather(&run, env)).contains("plain"));
    }

    #[test]
    fn bosun_s_run_tokens_are_redacted_by_shape() {
        let hex64 = "0123456789abcdef".repeat(4);
        let live = LiveRedactor::default();
        let line = format!(
            "x-api-key: bosun-run-17-{hex64}, proxy http://bosun:bosun-egress-{hex64}@10.0.0.1:3128 \
             canary bosun-canary-{} and bosun-run-{hex64}",
            &hex64[..32]
        );
        assert_eq!(
            live.redact(&line),
            "x-api-key: [REDACTED], proxy http://bosun:[REDACTED]@10.0.0.1:3128 \
             canary [REDACTED] and [REDACTED]"
        );
        // Container names and bosun's other words are left alone.
        for kept in [
            "container bosun-run-0a1b2c3d4e5f started",
            "bosun-egress-proxy, bosun-canary-1, bosun-",
            "bosun-run-7-0123abcd",
        ] {
            assert_eq!(live.redact(kept), kept);
        }
    }
}
