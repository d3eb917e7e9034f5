//! Fuzz targets run as property tests, bounded so that they belong in every `cargo test`.
//!
//! Four parsers that read what strangers write: webhook bodies (`parse_event`), comment bodies
//! (`parse_commands`), the metering proxy's request paths (through a running `MeterProxy`, its
//! router being private to the crate) and `.github/bosun.yml` (`parse_repo_config`). Each target
//! replays its corpus in `tests/fuzz/corpus/<target>/`, byte-level mutations of it from a
//! seeded RNG, and generated inputs from proptest with a fixed seed, so a run is the same on
//! every machine. `BOSUN_FUZZ_CASES=<n>` multiplies every count for a longer local run and
//! `BOSUN_FUZZ_SEED=<u64>` explores other inputs; see `tests/fuzz/README.md`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use bosun::github::secret::Secret;
use bosun::meter::{MeterProxy, PriceTable, RunBudget, Upstream, UpstreamApi};
use bosun_core::command::{new_commands, parse_commands, Command};
use bosun_core::events::{parse_event, Event};
use bosun_core::repo_config::{parse_repo_config, RepoConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestCaseError, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// --- the harness ---------------------------------------------------------------------------------

/// The seed of every RNG here unless `BOSUN_FUZZ_SEED` names another.
const DEFAULT_SEED: u64 = 0xb05a_f022_2025_0001;

/// Inputs longer than this are cut after mutation: the targets' own limits are not the point.
const MAX_INPUT: usize = 64 * 1024;

/// How long a whole target may take (times the multiplier) before it counts as hung. Far above
/// what it needs (a few seconds in a debug build); only there so that CI never waits forever.
const TARGET_LIMIT: Duration = Duration::from_secs(120);

/// `BOSUN_FUZZ_CASES`: how many times the default counts to run (at least 1).
fn multiplier() -> u32 {
    std::env::var("BOSUN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

fn seed() -> u64 {
    std::env::var("BOSUN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// A deterministic proptest configuration: fixed seed, no regression files, bounded shrinking.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases.saturating_mul(multiplier()),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed()),
        max_shrink_iters: 4096,
        max_shrink_time: 20_000,
        max_global_rejects: 65_536,
        ..ProptestConfig::default()
    }
}

/// Runs one property over `cases` generated inputs; a failure panics with the shrunk input.
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(config(cases));
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{name}: {failure}");
    }
}

/// Runs `body` on its own thread (with the 2 MiB stack of a tokio worker, where the real
/// parsers run) and fails if it takes longer than the target's limit.
fn bounded(name: &str, body: impl FnOnce() + Send + 'static) {
    let limit = TARGET_LIMIT * multiplier();
    let (done, finished) = mpsc::channel::<()>();
    let worker = thread::Builder::new()
        .name(name.to_string())
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .expect("spawning the fuzz thread");
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().expect("the fuzz thread finished"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the fuzz thread ended without reporting"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: still running after {limit:?}: a hang or a blow-up")
        }
    }
}

/// The corpus of `target`: every file of `tests/fuzz/corpus/<target>/`, by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus file", dir.display());
    files
}

/// Bytes that tend to matter to the parsers here, for the mutator to insert.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xae",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"@bosun",
    b"@bosun ",
    b"`",
    b"```\n",
    b"> ",
    b"\n",
    b"\r\n",
    b"%",
    b"%2e",
    b"%2f",
    b"..",
    b"/",
    b"//",
    b"&a ",
    b"*a",
    b"<<: ",
    b"- ",
    b"  ",
    b"\t",
    b"!!binary ",
    b"---\n",
];

/// One to four byte-level edits of `input`: flip a bit, insert bytes, delete a span, duplicate
/// a span, overwrite a byte, or cut the tail.
fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = out.len();
        let at = rng.gen_range(0..=len);
        match rng.gen_range(0..7) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => {
                let n = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                out.splice(at..at, bytes);
            }
            2 => {
                let token = INTERESTING[rng.gen_range(0..INTERESTING.len())];
                out.splice(at..at, token.iter().copied());
            }
            3 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..=64)).min(len);
                out.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..=256)).min(len);
                let span = out[start..end].to_vec();
                let to = rng.gen_range(0..=len);
                out.splice(to..to, span);
            }
            5 if len > 0 => {
                let i = rng.gen_range(0..len);
                out[i] = *INTERESTING[rng.gen_range(0..INTERESTING.len())]
                    .first()
                    .unwrap_or(&0);
            }
            6 => out.truncate(at),
            _ => out.push(rng.gen()),
        }
    }
    out.truncate(MAX_INPUT);
    out
}

/// An RNG per corpus file, so adding a file does not change the others' mutations.
fn file_rng(name: &str) -> StdRng {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(seed() ^ hash)
}

/// A printable excerpt of an input for a failure message.
fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(2000)];
    let more = if bytes.len() > cut.len() {
        format!(" (first 2000 of {} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

/// Feeds each corpus file of `target`, then `mutations` (times the multiplier) mutations of
/// it, to `test`, which says whether the input is the file itself. A panic or an `Err` fails
/// with the file, the mutation's number and the input.
fn replay(target: &str, mutations: u32, test: impl Fn(&str, &[u8], bool) -> Result<(), String>) {
    let rounds = mutations.saturating_mul(multiplier());
    for (name, original) in corpus(target) {
        let mut rng = file_rng(&name);
        for round in 0..=rounds {
            let input = if round == 0 {
                original.clone()
            } else {
                mutate(&mut rng, &original)
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                test(&name, &input, round == 0)
            }));
            let why = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(why)) => why,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("panicked: {message}")
                }
            };
            panic!(
                "{target}: corpus file {name}, mutation {round} (seed {}): {why}\ninput: {}",
                seed(),
                show(&input)
            );
        }
    }
}

fn ensure(ok: bool, why: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(why()))
    }
}

// --- 1. webhook bodies -----------------------------------------------------------------------

/// The events bosun parses, plus some it does not.
const EVENTS: &[&str] = &[
    "ping",
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "push",
    "installation",
    "installation_repositories",
    "check_run",
    "star",
    "",
];

const ACTIONS: &[&str] = &[
    "opened",
    "labeled",
    "edited",
    "closed",
    "reopened",
    "created",
    "submitted",
    "deleted",
    "added",
    "removed",
    "suspend",
];

/// Every key `parse_event` reads, anywhere in any payload. Any other key, at any depth, is
/// ignored, so taking it out or adding one must not change the result.
const READ_KEYS: &[&str] = &[
    "action",
    "added",
    "body",
    "changes",
    "comment",
    "commits",
    "default_branch",
    "forced",
    "from",
    "full_name",
    "head",
    "id",
    "installation",
    "issue",
    "label",
    "login",
    "merged",
    "modified",
    "name",
    "number",
    "owner",
    "pull_request",
    "ref",
    "removed",
    "repo",
    "repositories",
    "repositories_added",
    "repositories_removed",
    "repository",
    "review",
    "sender",
    "state",
    "title",
    "type",
    "user",
];

/// `issue_comment.created.json` is an `issue_comment` delivery.
fn event_of(file: &str) -> &str {
    file.split('.').next().unwrap_or(file)
}

/// JSON values shaped a little like webhook payloads: objects keyed by the names the parser
/// reads (and others), holding any kind of value.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(ACTIONS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(READ_KEYS).prop_map(str::to_string),
            1 => "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..10)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every object in `value`, by JSON pointer.
fn object_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                object_pointers(child, format!("{at}/{escaped}"), out);
            }
            out.push(at);
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                object_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Adds keys the parser does not know and removes keys it does not read.
fn change_ignored_fields(
    payload: &Value,
    added: &[(prop::sample::Index, String, Value)],
    removed: &[(prop::sample::Index, prop::sample::Index)],
) -> Value {
    let mut payload = payload.clone();
    let mut objects = Vec::new();
    object_pointers(&payload, String::new(), &mut objects);
    for (which, suffix, value) in added {
        if let Some(Value::Object(map)) = payload.pointer_mut(which.get::<String>(&objects)) {
            map.insert(format!("zz_fuzz_{suffix}"), value.clone());
        }
    }
    for (which, key) in removed {
        if let Some(Value::Object(map)) = payload.pointer_mut(which.get::<String>(&objects)) {
            let ignored: Vec<String> = map
                .keys()
                .filter(|k| !READ_KEYS.contains(&k.as_str()))
                .cloned()
                .collect();
            if !ignored.is_empty() {
                map.remove(key.get(&ignored));
            }
        }
    }
    payload
}

#[test]
fn webhook_bodies() {
    bounded("webhook_bodies", || {
        // The corpus, then mutations of it: never a panic, always the same answer twice, and the
        // real payloads parse (the `err-` ones are refused).
        replay("webhook", 48, |file, input, original| {
            let event = event_of(file);
            let first = parse_event(event, input);
            if first != parse_event(event, input) {
                return Err("two parses of the same bytes differ".into());
            }
            if original && first.is_ok() == file.contains(".err-") {
                return Err(format!("the corpus file parsed to {first:?}"));
            }
            Ok(())
        });

        // Any bytes, under any event name.
        let name = prop_oneof![
            3 => prop::sample::select(EVENTS).prop_map(str::to_string),
            1 => ".{0,16}",
        ];
        check(
            "webhook: arbitrary bytes",
            256,
            (name, prop::collection::vec(any::<u8>(), 0..512)),
            |(event, bytes)| {
                let _ = parse_event(&event, &bytes);
                Ok(())
            },
        );

        // Well-formed JSON of any shape: errors are values, and an `Other` keeps its names.
        check(
            "webhook: arbitrary JSON",
            256,
            (prop::sample::select(EVENTS), json_value()),
            |(event, value)| {
                let bytes = serde_json::to_vec(&value).expect("JSON serializes");
                if let Ok(Event::Other { event: named, .. }) = parse_event(event, &bytes) {
                    ensure(named == event, || format!("Other names {named:?}"))?;
                }
                Ok(())
            },
        );

        // A real payload with fields bosun ignores added, removed, reordered or re-indented
        // parses to the same event.
        let payloads: Vec<(String, Value, Event)> = corpus("webhook")
            .into_iter()
            .filter_map(|(file, bytes)| {
                let event = parse_event(event_of(&file), &bytes).ok()?;
                let value = serde_json::from_slice(&bytes).ok()?;
                Some((event_of(&file).to_string(), value, event))
            })
            .collect();
        assert!(payloads.len() >= 10, "most of the webhook corpus parses");
        let edit = (
            any::<prop::sample::Index>(),
            prop::collection::vec(
                (any::<prop::sample::Index>(), "[a-z0-9_]{0,6}", json_value()),
                0..6,
            ),
            prop::collection::vec(
                (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
                0..12,
            ),
            any::<bool>(),
        );
        check(
            "webhook: ignored fields",
            96,
            edit,
            |(which, added, removed, pretty)| {
                let (event, payload, expected) = which.get(&payloads);
                let changed = change_ignored_fields(payload, &added, &removed);
                let bytes = if pretty {
                    serde_json::to_vec_pretty(&changed)
                } else {
                    serde_json::to_vec(&changed)
                }
                .expect("JSON serializes");
                let got = parse_event(event, &bytes);
                ensure(got.as_ref() == Ok(expected), || {
                    format!(
                        "{event}: changing ignored fields gave {got:?} instead of {expected:?}\n{}",
                        String::from_utf8_lossy(&bytes)
                    )
                })
            },
        );
    });
}

// --- 2. mentions in comment bodies -----------------------------------------------------------

const HANDLE: &str = "bosun";

/// The bytes of text a command carries.
fn carried(command: &Command) -> usize {
    match command {
        Command::Do(text) | Command::Unknown(text) => text.len(),
        Command::Retry(Some(note)) | Command::Plan(Some(note)) => note.len(),
        _ => 0,
    }
}

/// No blow-up: at most one command per `@` (written, or as an entity such as `&#64;`, which
/// renders as one), and no more text out than came in.
fn bounded_output(text: &str, commands: &[Command]) -> Result<(), String> {
    let ats = text.matches(['@', '&']).count();
    if commands.len() > ats {
        return Err(format!(
            "{} commands from {ats} `@`s and `&`s",
            commands.len()
        ));
    }
    let out: usize = commands.iter().map(carried).sum();
    if out > text.len() {
        return Err(format!("{out} bytes of commands from {} bytes", text.len()));
    }
    Ok(())
}

/// Everything the mention parser promises about one body.
fn mention_properties(text: &str) -> Result<(), String> {
    let commands = parse_commands(text, HANDLE);
    bounded_output(text, &commands)?;
    for form in ["@bosun", " BOSUN[bot] "] {
        if parse_commands(text, form) != commands {
            return Err(format!("the handle written {form:?} reads other commands"));
        }
    }
    if !new_commands(text, text, HANDLE).is_empty() {
        return Err("an edit that changes nothing adds commands".into());
    }
    let added = new_commands("", text, HANDLE);
    if added != commands {
        return Err(format!(
            "new_commands from nothing: {added:?} != {commands:?}"
        ));
    }
    for other in ["bosun-other", "bosunx", "bosu", "osun"] {
        let theirs = parse_commands(text, other);
        // An entity (`&#64;`) renders as `@` and is a mention like one.
        let mentioned = text.contains('&')
            || text
                .to_ascii_lowercase()
                .contains(&format!("@{other}").to_ascii_lowercase());
        if !theirs.is_empty() && !mentioned {
            return Err(format!("{theirs:?} for @{other}, never mentioned"));
        }
    }
    Ok(())
}

/// Pieces of Markdown to build comment bodies from.
const MARKDOWN: &[&str] = &[
    "@bosun",
    "@bosun ",
    "@BOSUN",
    "@bosun[bot]",
    "@bosun:",
    "@",
    "stop",
    "retry",
    "plan",
    "status",
    "help",
    "approve",
    "cancel",
    "fix the tests",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    "```",
    "```\n",
    "~~~",
    "`",
    "    ",
    "> ",
    ">",
    "~~",
    "*",
    "**",
    "_",
    "[",
    "]",
    "](",
    ")",
    "[x]: ",
    "<",
    ">",
    "<!--",
    "-->",
    "<details>",
    "</details>",
    "https://x.y/",
    "www.",
    "|",
    "|---|",
    "- ",
    "- [ ] ",
    "1. ",
    "# ",
    "&amp;",
    "&#64;",
    "&#x40;",
    "&commat;",
    "\\",
    ":",
    ",",
    "/",
    "é",
    "\u{301}",
    "请",
    "😀",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "\u{ff20}",
];

/// Text around mentions of other handles: nothing here contains an `@` on its own.
const NO_AT: &[&str] = &[
    " ",
    "\n",
    "\n\n",
    "stop",
    "retry",
    "plan",
    "help",
    "fix it",
    "`",
    "```\n",
    "> ",
    "- ",
    "*",
    "_",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    ":",
    ",",
    ".",
    "!",
    "é",
    "请",
    "\u{301}",
    "\u{200b}",
    "\u{202e}",
    "https://x.y/",
    "|",
];

/// Mentions of handles that are not `bosun`, and `@bosun` where it is not a mention.
const NOT_BOSUN: &[&str] = &[
    "@bosun-other",
    "@bosunx",
    "@BOSUNX",
    "@bosun_x",
    "@bosun2",
    "@bosun-",
    "@xbosun",
    "@bosun-app[bot]",
    "@bosunx[bot]",
    "me@bosun",
    "x/@bosun",
    "a.@bosun",
    "a-@bosun",
    "a_@bosun",
    "1@bosun",
    "\u{ff20}bosun",
    "@b\u{43e}sun",
    "@bos un",
];

/// Ways of writing the handle `bosun`.
const HANDLE_FORMS: &[&str] = &["bosun", "@bosun", "bosun[bot]", "BoSuN"];

fn pieces(from: &'static [&'static str], most: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(from), 0..most).prop_map(|p| p.concat())
}

#[test]
fn mention_parser() {
    bounded("mention_parser", || {
        replay("mention", 48, |_, input, _| {
            mention_properties(&String::from_utf8_lossy(input))
        });

        check(
            "mention: any characters",
            256,
            prop::collection::vec(any::<char>(), 0..300).prop_map(String::from_iter),
            |text| mention_properties(&text).map_err(TestCaseError::fail),
        );
        check(
            "mention: Markdown pieces",
            384,
            pieces(MARKDOWN, 120),
            |text| mention_properties(&text).map_err(TestCaseError::fail),
        );
        check(
            "mention: other handles",
            256,
            (
                prop::collection::vec(
                    prop_oneof![prop::sample::select(NO_AT), prop::sample::select(NOT_BOSUN)],
                    0..60,
                )
                .prop_map(|p| p.concat()),
                prop::sample::select(HANDLE_FORMS),
            ),
            |(text, handle)| {
                let commands = parse_commands(&text, handle);
                ensure(commands.is_empty(), || {
                    format!("{commands:?} for {handle:?} from other handles in {text:?}")
                })
            },
        );
        check(
            "mention: an edit adds at most what the new body holds",
            128,
            (pieces(MARKDOWN, 60), pieces(MARKDOWN, 60)),
            |(old, new)| {
                let added = new_commands(&old, &new, HANDLE);
                let mut all = parse_commands(&new, HANDLE);
                for command in &added {
                    let at = all.iter().position(|c| c == command);
                    ensure(at.is_some(), || {
                        format!("{command:?} added but not in {new:?}")
                    })?;
                    all.remove(at.unwrap_or_default());
                }
                Ok(())
            },
        );

        // Huge bodies, each about 256 KiB: finished within the target's bound, no blow-up.
        let n = 256 * 1024;
        let repeat = |piece: &str| piece.repeat(n / piece.len());
        for (what, text) in [
            ("mentions with spaces", repeat("@bosun ")),
            ("mentions back to back", repeat("@bosun")),
            ("commands", repeat("@bosun retry now ")),
            ("at signs", repeat("@")),
            ("backticks", repeat("`")),
            ("brackets", repeat("[")),
            ("a deep quote", format!("{}@bosun stop", repeat(">"))),
            ("a deep list", repeat("- ")),
            ("emphasis", repeat("*_")),
            ("one line per mention", repeat("@bosun stop\n")),
            (
                "mentions in a fence",
                format!("```\n{}", repeat("@bosun\n")),
            ),
            ("links", repeat("[@bosun](x) ")),
            ("html", repeat("<a>@bosun ")),
            ("urls", repeat("https://x.y/@bosun ")),
            ("other handles", repeat("@bosunx @bosun-other ")),
            ("combining marks", repeat("@bosun\u{301}")),
        ] {
            let commands = parse_commands(&text, HANDLE);
            if let Err(why) = bounded_output(&text, &commands) {
                panic!("mention: a huge body of {what}: {why}");
            }
        }
    });
}

// --- 3. the metering proxy's paths -----------------------------------------------------------

/// One provider's path prefix on the proxy and the key header it gets upstream.
const PROVIDERS: &[(&str, &str, &str)] = &[
    ("/anthropic", "x-api-key", "sk-ant-fuzz-real-key"),
    ("/openai", "authorization", "Bearer sk-openai-fuzz-real-key"),
    ("/gemini", "x-goog-api-key", "AIza-fuzz-real-key"),
];

/// A request as the upstream received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path as sent on the wire, without the query.
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Seens = Arc<Mutex<Vec<Seen>>>;

/// The upstream: records every request, whatever its method and path, and answers `{}`.
async fn record(
    State(seen): State<Seens>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ([(&'static str, &'static str); 1], &'static str) {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
    });
    ([("content-type", "application/json")], "{}")
}

/// A metering proxy in front of a recording upstream, with one unlimited run.
struct Meter {
    // Dropped in this order: the proxy, then the runtime the servers run on.
    proxy: MeterProxy,
    seen: Seens,
    token: String,
    runtime: tokio::runtime::Runtime,
}

impl Meter {
    fn start() -> Meter {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let seen = Seens::default();
        let proxy = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binding the upstream");
            let url = format!("http://{}", listener.local_addr().expect("an address"));
            let app = axum::Router::new()
                .fallback(record)
                .with_state(Arc::clone(&seen));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let api = |key: &str| {
                let key = key.strip_prefix("Bearer ").unwrap_or(key);
                Some(UpstreamApi::new(
                    url.parse().expect("the upstream's URL"),
                    Secret::new(key),
                ))
            };
            let upstream = Upstream {
                anthropic: api(PROVIDERS[0].2),
                openai: api(PROVIDERS[1].2),
                gemini: api(PROVIDERS[2].2),
            };
            let addr = "127.0.0.1:0".parse().expect("an address");
            MeterProxy::bind(addr, upstream, PriceTable::new())
                .await
                .expect("the proxy starts")
        });
        let (_, token) = proxy.register_run(RunBudget {
            max_tokens: None,
            max_micro_usd: None,
        });
        Meter {
            proxy,
            seen,
            token: token.expose().to_string(),
            runtime,
        }
    }

    /// What the upstream received since the last call, emptied.
    fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sends `<method> <target>` as written, on a raw connection (a client library would
    /// normalise the path first), with the run's token in every header a client may use.
    /// Returns the status, 0 when the proxy closed the connection without one.
    fn send(&self, method: &str, target: &str) -> u16 {
        let request = format!(
            "{method} {target} HTTP/1.1\r\nhost: proxy\r\nx-api-key: {token}\r\n\
             authorization: Bearer {token}\r\nx-goog-api-key: {token}\r\n\
             content-type: application/json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            token = self.token,
        );
        let addr = self.proxy.local_addr();
        self.runtime.block_on(async {
            let exchange = async {
                let mut stream = tokio::net::TcpStream::connect(addr).await?;
                stream.write_all(request.as_bytes()).await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            };
            let answer = tokio::time::timeout(Duration::from_secs(20), exchange)
                .await
                .unwrap_or_else(|_| panic!("meter: no answer in 20 s to {method} {target:?}"))
                .unwrap_or_default();
            String::from_utf8_lossy(&answer)
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or(0)
        })
    }
}

/// `%XX` decoded, as the upstream's server reads a path.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The endpoints the proxy may forward, written out independently of its router.
fn allowlisted(provider: &str, method: &str, path: &str, query: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    let listing = path == "/v1/models" || path.starts_with("/v1/models/");
    match (provider, method) {
        ("/anthropic", "POST") => path == "/v1/messages" || path == "/v1/messages/count_tokens",
        ("/openai", "POST") => path == "/v1/responses" || path == "/v1/chat/completions",
        ("/anthropic" | "/openai", "GET") => listing,
        ("/gemini", _) => {
            let Some(rest) = ["/v1beta", "/v1"]
                .iter()
                .find_map(|v| path.strip_prefix(v)?.strip_prefix("/models"))
            else {
                return false;
            };
            let plain = |s: &str| !s.is_empty() && !s.contains(['/', ':']);
            let model = rest.strip_prefix('/');
            match method {
                "GET" => rest.is_empty() || model.is_some_and(plain),
                "POST" => {
                    let Some((model, call)) = model.and_then(|m| m.split_once(':')) else {
                        return false;
                    };
                    let sse = query.split('&').any(|pair| {
                        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                        percent_decode(&name.replace('+', " ")) == "alt"
                            && percent_decode(&value.replace('+', " ")) == "sse"
                    });
                    let metered = match call {
                        "generateContent" | "countTokens" => true,
                        "streamGenerateContent" => sse,
                        _ => false,
                    };
                    plain(model) && metered
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// A path that means one thing however it is decoded or normalised.
fn plain(path: &str) -> Result<(), String> {
    let decoded = percent_decode(path);
    if path.contains('%') || decoded.contains('%') {
        return Err("a `%`".into());
    }
    if decoded.contains('\\') {
        return Err("a backslash".into());
    }
    let inner = decoded.strip_prefix('/').ok_or("no leading `/`")?;
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    match inner.split('/').find(|s| matches!(*s, "" | "." | "..")) {
        Some(segment) => Err(format!("a segment {segment:?}")),
        None => Ok(()),
    }
}

/// Sends one request and checks what, if anything, reached the upstream. `Ok(true)` when
/// something did.
fn meter_properties(meter: &Meter, method: &str, target: &str) -> Result<bool, String> {
    meter.take_seen();
    let status = meter.send(method, target);
    let calls = meter.take_seen();
    let Some(call) = calls.first() else {
        return Ok(false);
    };
    if calls.len() > 1 {
        return Err(format!("{} upstream calls from one request", calls.len()));
    }
    // The path as the proxy saw it: absolute-form targets lose their scheme and host.
    let origin_form = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let origin_form = origin_form.split('#').next().unwrap_or_default();
    let (sent_path, query) = origin_form.split_once('?').unwrap_or((origin_form, ""));
    let Some((provider, sent)) = PROVIDERS.iter().find_map(|(prefix, _, _)| {
        let rest = sent_path.strip_prefix(prefix)?;
        rest.starts_with('/').then_some((*prefix, rest))
    }) else {
        return Err(format!(
            "forwarded from outside the providers' prefixes (status {status})"
        ));
    };
    plain(sent).map_err(|why| format!("forwarded a path with {why}: {sent:?}"))?;
    // The proxy's HTTP client percent-encodes what may not appear raw in a URL (non-ASCII
    // bytes, quotes); nothing else may change on the way.
    let escaped = call
        .path
        .split('%')
        .skip(1)
        .map(|after| u8::from_str_radix(after.get(..2).unwrap_or("zz"), 16).ok());
    for byte in escaped {
        match byte {
            Some(b) if !b.is_ascii_alphanumeric() && !b"/.\\%-_~".contains(&b) => {}
            _ => return Err(format!("the upstream got {:?}", call.path)),
        }
    }
    if percent_decode(&call.path) != sent {
        return Err(format!("sent {sent:?}, the upstream got {:?}", call.path));
    }
    if call.method != method {
        return Err(format!("sent {method}, the upstream got {}", call.method));
    }
    if !allowlisted(provider, method, sent, query) {
        return Err(format!(
            "{method} {provider}{sent}?{query} is not an allowlisted endpoint"
        ));
    }
    let (_, header, key) = PROVIDERS
        .iter()
        .find(|(prefix, _, _)| *prefix == provider)
        .expect("a known provider");
    if call.header(header) != Some(*key) {
        return Err(format!("{provider}'s key did not go in {header}"));
    }
    let token = meter.token.as_str();
    if call.headers.iter().any(|(_, v)| v.contains(token)) || call.query.contains(token) {
        return Err("the run token reached the upstream".into());
    }
    Ok(true)
}

/// Path pieces, attacks among them.
const SEGMENTS: &[&str] = &[
    "v1",
    "v1beta",
    "models",
    "messages",
    "count_tokens",
    "responses",
    "chat",
    "completions",
    "batches",
    "files",
    "gpt-5",
    "gemini-2.5-pro:generateContent",
    "gemini-2.5-pro:streamGenerateContent",
    "gemini-2.5-pro:countTokens",
    "x:batchGenerateContent",
    "..",
    ".",
    "%2e",
    "%2E%2e",
    ".%2e",
    "%252e%252e",
    "%2f",
    "%5c",
    "%00",
    "~",
    "",
    ";",
    "..;",
];

const SEPARATORS: &[&str] = &[
    "/", "/", "/", "//", "\\", "%2f", "%2F", "/./", "/../", "/%2e/",
];

const PREFIXES: &[&str] = &[
    "/anthropic",
    "/openai",
    "/gemini",
    "/openai/v1",
    "",
    "/anthropicx",
    "//anthropic",
    "/./openai",
    "http://evil.example/gemini",
    "/%61nthropic",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD"];

const QUERIES: &[&str] = &[
    "",
    "?alt=sse",
    "?alt=json",
    "?key=x&alt=sse",
    "?%61lt=sse",
    "?alt=%73se",
    "?beta=true",
    "?a=../../files",
    "?",
];

/// Requests the proxy forwards, to edit.
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/anthropic/v1/messages"),
    ("POST", "/anthropic/v1/messages/count_tokens?beta=true"),
    ("GET", "/anthropic/v1/models"),
    ("POST", "/openai/v1/responses"),
    ("POST", "/openai/v1/chat/completions"),
    ("GET", "/openai/v1/models/gpt-5"),
    (
        "POST",
        "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
    ),
    (
        "POST",
        "/gemini/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    ),
    (
        "POST",
        "/gemini/v1beta/models/gemini-2.5-pro:countTokens?key=x",
    ),
    ("GET", "/gemini/v1beta/models/gemini-2.5-pro"),
];

/// One edit of a path, at a segment chosen by the index.
#[derive(Debug, Clone)]
enum PathEdit {
    Insert(prop::sample::Index, &'static str),
    Replace(prop::sample::Index, &'static str),
    Append(prop::sample::Index, &'static str),
    Separator(prop::sample::Index, &'static str),
    Encode(prop::sample::Index, prop::sample::Index),
    TrailingSlash,
}

fn path_edit() -> impl Strategy<Value = PathEdit> {
    let at = any::<prop::sample::Index>;
    let piece = || prop::sample::select(SEGMENTS);
    prop_oneof![
        (at(), piece()).prop_map(|(i, p)| PathEdit::Insert(i, p)),
        (at(), piece()).prop_map(|(i, p)| PathEdit::Replace(i, p)),
        (at(), piece()).prop_map(|(i, p)| PathEdit::Append(i, p)),
        (at(), prop::sample::select(SEPARATORS)).prop_map(|(i, p)| PathEdit::Separator(i, p)),
        (at(), at()).prop_map(|(i, c)| PathEdit::Encode(i, c)),
        Just(PathEdit::TrailingSlash),
    ]
}

/// Applies `edits` to the path of `target` (its query is kept).
fn edit_target(target: &str, edits: &[PathEdit]) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (target, String::new()),
    };
    let mut segments: Vec<String> = path[1..].split('/').map(str::to_string).collect();
    let mut separators: Vec<String> = vec!["/".to_string(); segments.len()];
    let mut trailing = "";
    for edit in edits {
        match edit {
            PathEdit::Insert(i, piece) => {
                let at = i.index(segments.len() + 1);
                segments.insert(at, piece.to_string());
                separators.insert(at, "/".to_string());
            }
            PathEdit::Replace(i, piece) => *i.get_mut(&mut segments) = piece.to_string(),
            PathEdit::Append(i, piece) => i.get_mut(&mut segments).push_str(piece),
            PathEdit::Separator(i, separator) => {
                *i.get_mut(&mut separators) = separator.to_string()
            }
            PathEdit::Encode(i, c) => {
                let segment = i.get_mut(&mut segments);
                let chars: Vec<char> = segment.chars().collect();
                if !chars.is_empty() {
                    let at = c.index(chars.len());
                    *segment = chars
                        .iter()
                        .enumerate()
                        .map(|(j, ch)| {
                            if j == at {
                                format!("%{:02X}", u32::from(*ch) & 0xff)
                            } else {
                                ch.to_string()
                            }
                        })
                        .collect();
                }
            }
            PathEdit::TrailingSlash => trailing = "/",
        }
    }
    let mut out = String::new();
    for (separator, segment) in separators.iter().zip(&segments) {
        out.push_str(separator);
        out.push_str(segment);
    }
    format!("{out}{trailing}{query}")
}

fn request_target() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        4 => prop::sample::select(SEGMENTS).prop_map(str::to_string),
        1 => "[A-Za-z0-9._~:@!$&'()*+,;=-]{0,8}",
        1 => "[!-~]{0,6}",
    ];
    (
        prop::sample::select(PREFIXES),
        prop::collection::vec((prop::sample::select(SEPARATORS), segment), 0..7),
        prop::option::of(Just("/")),
        prop::sample::select(QUERIES),
    )
        .prop_map(|(prefix, parts, trailing, query)| {
            let mut target = prefix.to_string();
            for (separator, segment) in parts {
                target.push_str(separator);
                target.push_str(&segment);
            }
            target.push_str(trailing.unwrap_or(""));
            target.push_str(query);
            target
        })
}

/// A corpus file is `<METHOD> <target>` on one line.
fn request_line(input: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(input);
    let line = text.trim_end_matches(['\r', '\n']);
    let (method, target) = line.split_once(' ').unwrap_or(("GET", line));
    // One request line: whatever would end it early becomes part of the target.
    let clean = |s: &str| s.replace(['\r', '\n', ' '], "_");
    (clean(method), clean(target))
}

#[test]
fn meter_paths() {
    bounded("meter_paths", || {
        let meter = Meter::start();
        replay("meter_route", 24, |file, input, original| {
            let (method, target) = request_line(input);
            let (method, target) = if method.is_empty() || target.is_empty() {
                ("GET".to_string(), "/".to_string())
            } else {
                (method, target)
            };
            let forwarded = meter_properties(&meter, &method, &target)?;
            if original && forwarded != file.starts_with("allow-") {
                return Err(format!("forwarded: {forwarded}"));
            }
            Ok(())
        });

        check(
            "meter: edited endpoints",
            192,
            (
                prop::sample::select(ENDPOINTS),
                prop::collection::vec(path_edit(), 0..4),
            ),
            |((method, target), edits)| {
                let target = edit_target(target, &edits);
                meter_properties(&meter, method, &target)
                    .map(|_| ())
                    .map_err(TestCaseError::fail)
            },
        );
        check(
            "meter: generated paths",
            96,
            (prop::sample::select(METHODS), request_target()),
            |(method, target)| {
                meter_properties(&meter, method, &target)
                    .map(|_| ())
                    .map_err(TestCaseError::fail)
            },
        );
    });
}

// --- 4. .github/bosun.yml --------------------------------------------------------------------

/// What `parse_repo_config` promises for any text: an answer (never a panic), the same one
/// twice, an error that says something and points inside the file, and a config that
/// serializes back to itself.
fn repo_config_properties(yaml: &str) -> Result<Result<RepoConfig, String>, String> {
    let first = parse_repo_config(yaml);
    if first != parse_repo_config(yaml) {
        return Err("two parses of the same text differ".into());
    }
    match first {
        Ok(config) => {
            let written = serde_yaml_ng::to_string(&config)
                .map_err(|e| format!("an accepted config does not serialize: {e}"))?;
            match parse_repo_config(&written) {
                Ok(again) if again == config => Ok(Ok(config)),
                other => Err(format!("serialized as {written:?}, read back as {other:?}")),
            }
        }
        Err(error) => {
            if error.message.trim().is_empty() {
                return Err("an error without a message".into());
            }
            // YAML breaks lines at CR, LF, CRLF and the Unicode line breaks.
            let lines = 1 + yaml
                .replace("\r\n", "\n")
                .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                .count();
            if error.line.is_some_and(|line| line == 0 || line > lines + 1) {
                return Err(format!("{error:?} points outside the {lines} lines"));
            }
            Ok(Err(error.to_string()))
        }
    }
}

/// YAML pieces to build files from.
const YAML: &[&str] = &[
    "trigger_label: ",
    "label_prefix: ",
    "allowed_users: ",
    "allowed_bots: ",
    "agent:\n",
    "  name: ",
    "  complexity: ",
    "  model: ",
    "gates:\n",
    "  - name: t\n    run: ",
    "network: ",
    "image: ",
    "setup: ",
    "cache: ",
    "snapshot_key: ",
    "egress: ",
    "rounds: ",
    "timeouts: ",
    "instructions: ",
    "peer_review: ",
    "model_map: ",
    "budget: ",
    "jobs:\n  - name: a\n    cron: ",
    "    prompt: ",
    "model_tools: ",
    "protected_paths: ",
    "bosun",
    "simple",
    "standard",
    "claude",
    "web_search",
    "pypi",
    "*.example.org",
    "'* * * * *'",
    "@reboot",
    "0",
    "1",
    "-1",
    "1e400",
    ".nan",
    "0x1f",
    "18446744073709551616",
    "true",
    "null",
    "~",
    "''",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ", ",
    ": ",
    "- ",
    "  ",
    "\n",
    "\t",
    "#",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!binary ",
    "!x ",
    "? ",
    "|\n  ",
    ">-\n  ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "../",
    "~/",
    "\u{feff}",
    "é",
    "\0",
];

#[test]
fn repo_config() {
    bounded("repo_config", || {
        replay("repo_config", 48, |file, input, original| {
            let yaml = String::from_utf8_lossy(input);
            let parsed = repo_config_properties(&yaml)?;
            if original && parsed.is_ok() != file.starts_with("ok-") {
                return Err(format!("the corpus file parsed to {parsed:?}"));
            }
            Ok(())
        });

        check(
            "repo_config: any characters",
            256,
            prop::collection::vec(any::<char>(), 0..400).prop_map(String::from_iter),
            |text| {
                repo_config_properties(&text)
                    .map(|_| ())
                    .map_err(TestCaseError::fail)
            },
        );
        check("repo_config: YAML pieces", 384, pieces(YAML, 60), |text| {
            repo_config_properties(&text)
                .map(|_| ())
                .map_err(TestCaseError::fail)
        });

        // Valid files with one value swapped for another YAML scalar or structure: errors are
        // values, and a change to one key leaves the others as they were.
        let valid: Vec<(String, serde_yaml_ng::Mapping)> = corpus("repo_config")
            .into_iter()
            .filter(|(file, _)| file.starts_with("ok-"))
            .filter_map(|(file, bytes)| {
                let text = String::from_utf8(bytes).ok()?;
                match serde_yaml_ng::from_str(&text).ok()? {
                    serde_yaml_ng::Value::Mapping(map) if !map.is_empty() => Some((file, map)),
                    _ => None,
                }
            })
            .collect();
        assert!(valid.len() >= 3, "the repo_config corpus holds valid files");
        let scalar = prop_oneof![
            Just(serde_yaml_ng::Value::Null),
            any::<bool>().prop_map(serde_yaml_ng::Value::from),
            any::<i64>().prop_map(serde_yaml_ng::Value::from),
            any::<f64>().prop_map(serde_yaml_ng::Value::from),
            ".{0,16}".prop_map(serde_yaml_ng::Value::from),
            pieces(YAML, 6).prop_map(serde_yaml_ng::Value::from),
        ];
        let value = scalar.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_yaml_ng::Value::Sequence),
                prop::collection::vec(("[a-z_]{1,12}", inner), 0..4).prop_map(|pairs| {
                    serde_yaml_ng::Value::Mapping(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (serde_yaml_ng::Value::from(k), v))
                            .collect(),
                    )
                }),
            ]
        });
        check(
            "repo_config: a valid file with one value changed",
            192,
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                value,
            ),
            |(file, key, value)| {
                let (name, map) = file.get(&valid);
                let keys: Vec<&serde_yaml_ng::Value> = map.keys().collect();
                let key = key.get(&keys);
                let mut changed = map.clone();
                changed.insert((*key).clone(), value);
                let text = serde_yaml_ng::to_string(&changed).expect("YAML serializes");
                let parsed = repo_config_properties(&text).map_err(TestCaseError::fail)?;
                let (Ok(before), Ok(after)) = (
                    parse_repo_config(&serde_yaml_ng::to_string(map).expect("YAML serializes")),
                    parsed,
                ) else {
                    return Ok(());
                };
                // Only the changed key may differ.
                let untouched = |c: &RepoConfig| {
                    let mut v = serde_yaml_ng::to_value(c).expect("a config serializes");
                    if let serde_yaml_ng::Value::Mapping(m) = &mut v {
                        m.remove(*key);
                    }
                    v
                };
                ensure(untouched(&before) == untouched(&after), || {
                    format!("{name}: changing {key:?} changed other settings:\n{text}")
                })
            },
        );

        // The alias bombs in the corpus are refused while their aliases are counted, before
        // anything is built from them or any key is looked at.
        for (file, bytes) in corpus("repo_config") {
            if file.contains("billion-laughs") || file.contains("alias-bomb") {
                let yaml = String::from_utf8(bytes).expect("UTF-8");
                match parse_repo_config(&yaml) {
                    Ok(_) => panic!("{file} was accepted"),
                    Err(e) => assert!(
                        e.message.contains("limit") || e.message.contains("aliases"),
                        "{file}: {e}"
                    ),
                }
            }
        }
    });
}

#[test]
fn the_corpus_is_small_and_varied() {
    for (target, fewest) in [
        ("webhook", 5),
        ("mention", 5),
        ("meter_route", 5),
        ("repo_config", 5),
    ] {
        let files = corpus(target);
        assert!(
            (fewest..=20).contains(&files.len()),
            "{target}: {} corpus files",
            files.len()
        );
        let names: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), files.len());
        for (name, bytes) in &files {
            assert!(bytes.len() < 20 * 1024, "{target}/{name} is over 20 KiB");
        }
    }
}
