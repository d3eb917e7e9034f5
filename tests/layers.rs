//! The arrows between bosun's folders point down, and stay so.
//!
//! `crates/bosun-core` is the bottom: the compiler already keeps it from importing the App, and
//! this checks that it names no other crate of the workspace and does no I/O. Inside the App
//! crate the compiler allows any module to import any other, so this reads every `crate::…`
//! and `super::…` path under `src/` and checks each top-level folder against the table below
//! (the same map as `docs/architecture.md`'s): an import the table does not allow, or a table
//! with a circle in it, fails.

#[path = "support/deadline.rs"]
mod deadline;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Each test reads the source tree once: seconds at most, even on a slow disk.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Each top-level module of `src/` and the top-level modules it may import. Everything may
/// import `bosun_core`. A module missing from this table is an error: say where it sits.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    // A lock that shrugs off poisoning.
    ("locks", &[]),
    // The one database facade: stores and reads.
    ("db", &[]),
    // The one door to GitHub.
    ("github", &["locks"]),
    // How a job's work can fail, as the queue sees it.
    ("job_error", &["db", "github"]),
    // Every text bosun posts or shows.
    ("reply", &["db"]),
    // The metering proxy between agents and model APIs.
    ("meter", &["github", "locks"]),
    // The egress proxy between sandboxes and the hosts their repository allows.
    ("egress", &["github", "locks"]),
    // The server's, the App's and each repository's configuration.
    ("config", &["db", "egress", "github", "locks", "meter"]),
    // An agent run: workspace, sandbox, agent rounds, gates, review, publish.
    (
        "run",
        &[
            "config",
            "db",
            "egress",
            "github",
            "job_error",
            "locks",
            "meter",
            "reply",
        ],
    ),
    // Ingest, intake, the queue's workers and one handler per job kind.
    (
        "engine",
        &[
            "config",
            "db",
            "egress",
            "github",
            "job_error",
            "locks",
            "meter",
            "reply",
            "run",
        ],
    ),
    // HTTP: the webhook, setup, the dashboard, metrics.
    (
        "server",
        &[
            "config", "db", "egress", "engine", "github", "locks", "meter", "reply", "run",
        ],
    ),
    // Operator commands.
    (
        "cli",
        &[
            "config", "db", "egress", "engine", "github", "locks", "meter", "reply", "run",
        ],
    ),
    // Wiring: starts the server, the engine and the run backend.
    (
        "app",
        &[
            "config", "db", "egress", "engine", "github", "locks", "meter", "reply", "run",
            "server",
        ],
    ),
    // `bosun demo`: the App against the built-in GitHub simulator.
    (
        "demo",
        &[
            "app", "config", "db", "egress", "engine", "github", "locks", "meter", "reply", "run",
        ],
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without comments (a `//` inside a string cuts the rest of its line, which can only
/// hide an import, never invent one).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else if rest.starts_with("//") {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
            out.push('\n');
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of each item of a `{a::b, c, d::{e}}` group that starts `s` (after `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && depth == 0 && !c.is_whitespace() => {
                at_item_start = false;
                let head = ident_at(&s[i..]);
                if !head.is_empty() {
                    heads.push(head.to_string());
                }
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules a file names, given its own module path (`src/run/gates.rs` is
/// `["run", "gates"]`, `src/run/mod.rs` is `["run"]`).
fn imports(text: &str, module: &[String]) -> BTreeSet<String> {
    let text = without_comments(text);
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let boundary = |i: usize| {
        i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':')
    };
    let mut heads_of = |after: &str| {
        if let Some(group) = after.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            found.insert(ident_at(after).to_string());
        }
    };
    for (i, _) in text.match_indices("crate::") {
        if boundary(i) {
            heads_of(&text[i + "crate::".len()..]);
        }
    }
    for (i, _) in text.match_indices("super::") {
        if !boundary(i) {
            continue;
        }
        let mut rest = &text[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        // `super` from a file's module climbs to its parent: from depth n, n ups reach the
        // crate root, where the next segment is a top-level module.
        if ups >= module.len() {
            heads_of(rest);
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn module_path(file: &Path, src: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

fn table() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    MAY_IMPORT
        .iter()
        .map(|(m, allowed)| (*m, allowed.iter().copied().collect()))
        .collect()
}

#[test]
fn every_folder_imports_only_what_the_map_allows() {
    deadline::within(TEST_TIMEOUT, || {
        let src = root().join("src");
        let table = table();
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let mut wrong = Vec::new();
        let mut seen = BTreeSet::new();
        for file in &files {
            let module = module_path(file, &src);
            let Some(top) = module.first() else {
                continue; // lib.rs, main.rs: the crate root declares and wires everything
            };
            if top == "main" || top == "lib" {
                continue;
            }
            seen.insert(top.clone());
            let Some(allowed) = table.get(top.as_str()) else {
                wrong.push(format!(
                    "src/{top} is not in tests/layers.rs's MAY_IMPORT: say what it may import"
                ));
                continue;
            };
            let text = std::fs::read_to_string(file).unwrap();
            for imported in imports(&text, &module) {
                let is_top = table.contains_key(imported.as_str());
                if is_top && imported != *top && !allowed.contains(imported.as_str()) {
                    wrong.push(format!(
                        "{} imports {imported}, which src/{top} may not import",
                        file.strip_prefix(root()).unwrap().display()
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let listed: BTreeSet<String> = table.keys().map(|k| k.to_string()).collect();
        let stale: Vec<_> = listed.difference(&seen).collect();
        assert!(
            stale.is_empty(),
            "MAY_IMPORT lists modules src/ no longer has: {stale:?}"
        );
    });
}

#[test]
fn the_map_has_no_circles() {
    deadline::within(TEST_TIMEOUT, || {
        let table = table();
        // Depth-first search with colours: a grey module met again is a circle.
        fn visit<'a>(
            m: &'a str,
            table: &BTreeMap<&'a str, BTreeSet<&'a str>>,
            state: &mut BTreeMap<&'a str, bool>,
            path: &mut Vec<&'a str>,
        ) {
            match state.get(m) {
                Some(true) => return,
                Some(false) => panic!("a circle: {} -> {m}", path.join(" -> ")),
                None => {}
            }
            state.insert(m, false);
            path.push(m);
            for next in table.get(m).into_iter().flatten() {
                assert!(
                    table.contains_key(next),
                    "{m} may import {next}, which is not listed"
                );
                visit(next, table, state, path);
            }
            path.pop();
            state.insert(m, true);
        }
        let mut state = BTreeMap::new();
        for m in table.keys() {
            visit(m, &table, &mut state, &mut Vec::new());
        }
    });
}

#[test]
fn the_lower_layers_import_nothing_above_them() {
    deadline::within(TEST_TIMEOUT, || {
        // Issue 16's rule, spelled out apart from the table so that loosening the table cannot
        // quietly undo it.
        let table = table();
        for low in ["github", "db", "reply", "config"] {
            for high in ["engine", "run", "server", "cli", "app", "demo"] {
                assert!(
                    !table[low].contains(high),
                    "src/{low} may not import src/{high}"
                );
            }
        }
    });
}

#[test]
fn the_core_crate_is_the_bottom_and_does_no_io() {
    deadline::within(TEST_TIMEOUT, || {
        let core = root().join("crates/bosun-core");
        let manifest = std::fs::read_to_string(core.join("Cargo.toml")).unwrap();
        assert!(
            !manifest.contains("path ="),
            "bosun-core depends on no other crate of the workspace:\n{manifest}"
        );
        let mut files = Vec::new();
        rust_files(&core.join("src"), &mut files);
        let mut io = Vec::new();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with("_tests.rs") || name == "testutil.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            // Tests may read their fixtures; the code they test may not.
            let code = text.split("#[cfg(test)]").next().unwrap();
            let code = without_comments(code);
            // Addresses are plain values (`std::net::IpAddr`); sockets and lookups are I/O.
            for needle in [
                "std::fs",
                "std::process",
                "std::env",
                "tokio",
                "File::",
                "TcpStream",
                "TcpListener",
                "UdpSocket",
                "ToSocketAddrs",
            ] {
                if code.contains(needle) {
                    io.push(format!("{} uses {needle}", file.display()));
                }
            }
        }
        assert!(io.is_empty(), "bosun-core does no I/O:\n{}", io.join("\n"));
    });
}

#[test]
fn the_reader_finds_imports_in_every_form() {
    deadline::within(TEST_TIMEOUT, || {
        let module = vec![
            "run".to_string(),
            "pipeline".to_string(),
            "peer".to_string(),
        ];
        let text = "use crate::db::Db;\n\
                    use crate::{github::client::GitHub, engine::{context::Ctx}};\n\
                    // use crate::server::Nope;\n\
                    use super::super::super::cli::x;\n\
                    use super::super::gates::y;\n\
                    let z = crate::reply::run::quote(a);\n";
        let found: Vec<_> = imports(text, &module).into_iter().collect();
        assert_eq!(found, ["cli", "db", "engine", "github", "reply"]);
    });
}
