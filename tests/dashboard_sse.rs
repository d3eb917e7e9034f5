//! The live agent log over Server-Sent Events: a client that disconnects and reconnects with
//! `Last-Event-ID` gets every line once, also when another run of the attempt (a reviewer)
//! writes beside the first, and the stream ends after the attempt's last line.
//!
//! The server runs in placeholder mode, which runs no agent: the test appends the lines to the
//! attempt's run logs itself, where the agent rounds write them (`runs/task-<id>/attempt-<n>/
//! <run>/agent.log`), so it decides exactly what is written before and after a disconnect.
//! `tests/browser.rs` watches a real agent's lines arrive; `tests/real_cli.rs` the real CLIs'.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use support::dashboard::{labelled_issue_in, sign_in, start, Person};
use support::*;

/// One event of the stream.
#[derive(Debug, Clone, Default)]
struct Sse {
    event: String,
    id: Option<String>,
    data: String,
}

/// Reads events from an open stream.
struct Reader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Reader {
    async fn open(person: &Person, task: i64, last_id: Option<&str>) -> Reader {
        Reader::open_at(person, &format!("/api/tasks/{task}/events"), last_id).await
    }

    async fn open_at(person: &Person, path: &str, last_id: Option<&str>) -> Reader {
        let mut req = reqwest::Client::new()
            .get(format!("{}{path}", person_base(person)))
            .header("cookie", &person.cookie);
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Reader {
            body: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event that is not a comment.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse::default();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        e.event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        e.id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        e.data.push_str(v);
                    }
                }
                if !e.event.is_empty() {
                    return Some(e);
                }
                continue;
            }
            let chunk = self.body.next().await?.ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Log lines (text, id) until `n` arrived.
    async fn lines(&mut self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while out.len() < n {
            let e = self.next().await.expect("the stream goes on");
            if e.event == "log" {
                out.push(text_and_id(&e));
            }
        }
        out
    }

    /// Log lines until the `end` event.
    async fn until_end(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let e = self.next().await.expect("the stream ends with `end`");
            match e.event.as_str() {
                "log" => out.push(text_and_id(&e)),
                "end" => return out,
                _ => {}
            }
        }
    }
}

fn person_base(p: &Person) -> String {
    p.base_url().to_string()
}

fn text_and_id(e: &Sse) -> (String, String) {
    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap();
    (
        data["text"].as_str().unwrap().to_string(),
        e.id.clone().expect("log lines carry an id"),
    )
}

fn append(dir: &Path, run: &str, lines: &[String]) {
    std::fs::create_dir_all(dir.join(run)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(run).join("agent.log"))
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// A server whose one task, on an issue titled `title` and labelled by `writer`, is in
/// progress and stays so (the placeholder step waits 50 s until it is stopped), with the
/// folder of its attempt's logs.
async fn a_running_task(title: &str) -> (TestApp, std::path::PathBuf) {
    let app = start(&[], |c| c.placeholder_secs = 50.0).await;
    app.github.set_permission(REPO, "writer", "write");
    let issue = labelled_issue_in(&app, REPO, title, "writer").await;
    app.wait_for("the task runs", |g| {
        has_label(g, issue, "bosun:in-progress")
    })
    .await;
    let dir = app.data_dir.path().join("runs/task-1/attempt-1");
    (app, dir)
}

fn numbered(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_every_line_once() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (app, dir) = a_running_task("Stream me").await;
        let writer = sign_in(&app, "writer").await;

        let anonymous = reqwest::get(format!("{}/api/tasks/1/events", app.url))
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);

        append(&dir, "round-1", &numbered("round", 0..5));
        let mut first = Reader::open(&writer, 1, None).await;
        let got = first.lines(5).await;
        drop(first); // the client goes away

        // Meanwhile the round goes on and a reviewer's run writes beside it.
        append(&dir, "round-1", &numbered("round", 5..10));
        std::thread::sleep(Duration::from_millis(20)); // the runs' start order is by time
        append(&dir, "review-1-1-run-1", &numbered("review", 0..3));
        append(&dir, "round-1", &numbered("round", 10..12));

        // Reconnecting where it left off: the rest, each once.
        let last = got.last().unwrap().1.clone();
        let mut second = Reader::open(&writer, 1, Some(&last)).await;
        let more = second.lines(10).await;
        drop(second);

        // A client that had handled only the third line resumes after it.
        let mut third = Reader::open(&writer, 1, Some(&got[2].1)).await;
        let from_third = third.lines(12).await;
        drop(third);

        // The attempt ends: a follower gets the last lines, then `end`.
        let mut follower = Reader::open(&writer, 1, Some(&more.last().unwrap().1)).await;
        append(&dir, "round-1", &numbered("round", 12..14));
        let (status, _) = writer.control("/api/control/tasks/1/stop", &[]).await;
        assert_eq!(status, 200);
        let tail = follower.until_end().await;

        let texts = |v: &[(String, String)]| v.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        let mut all = texts(&got);
        all.extend(texts(&more));
        all.extend(texts(&tail));
        let mut expected = numbered("round", 0..14);
        expected.extend(numbered("review", 0..3));
        let mut sorted = all.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "every line exactly once: {all:?}");
        assert_eq!(
            texts(&from_third),
            [&numbered("round", 3..12)[..], &numbered("review", 0..3)[..]].concat()
        );
        let ids: std::collections::HashSet<&String> = got
            .iter()
            .chain(&more)
            .chain(&tail)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(ids.len(), all.len(), "ids are distinct");

        // A finished attempt is read whole, then `end`.
        let mut replay = Reader::open(&writer, 1, None).await;
        assert_eq!(replay.until_end().await.len(), 17);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// A run of the real Claude Code CLI (captured), noted as read by the `claude` adapter, as the
/// agent rounds leave it.
fn claude_run(dir: &Path, run: &str) -> Vec<String> {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/agent-streams/claude/captured-2.1.332-pypi-container/claude-write.jsonl",
    );
    let lines: Vec<String> = std::fs::read_to_string(capture)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    append(dir, run, &lines);
    std::fs::write(dir.join(run).join("adapter"), "claude").unwrap();
    lines
}

#[tokio::test]
async fn the_live_log_reads_as_the_agent_s_steps_and_the_raw_lines_are_one_click_away() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (app, dir) = a_running_task("Read me").await;
        let raw_lines = claude_run(&dir, "round-1");
        let writer = sign_in(&app, "writer").await;

        // The page streams the readable view and links the raw one.
        let page = writer.get("/tasks/1").await.text().await.unwrap();
        assert!(
            page.contains("data-src=\"/api/tasks/1/events?attempt=1\""),
            "{page}"
        );
        assert!(page.contains("href=\"/tasks/1?attempt=1&amp;log=raw\">raw lines</a>"));
        let raw_page = writer.get("/tasks/1?log=raw").await.text().await.unwrap();
        assert!(raw_page.contains("data-src=\"/api/tasks/1/events?attempt=1&amp;view=raw\""));
        assert!(raw_page.contains("href=\"/tasks/1?attempt=1\">readable</a>"));

        // Readable: the tool call with its file, its result and what the agent said; no JSON.
        let (status, _) = writer.control("/api/control/tasks/1/stop", &[]).await;
        assert_eq!(status, 200);
        let mut readable = Reader::open(&writer, 1, None).await;
        let shown: Vec<String> = readable
            .until_end()
            .await
            .into_iter()
            .flat_map(|(text, _)| text.lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let all = shown.join("\n");
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("🔧 Write") && l.contains("hello.txt")),
            "{all}"
        );
        assert!(shown.iter().any(|l| l.starts_with("   ✓")), "{all}");
        assert!(shown.iter().any(|l| l.starts_with("💬")), "{all}");
        assert!(
            shown.iter().any(|l| l.contains("📊") && l.contains('$')),
            "usage and cost: {all}"
        );
        assert!(!all.contains("\"type\""), "no raw JSON: {all}");

        // Raw: the CLI's own lines, each once.
        let mut raw = Reader::open_at(&writer, "/api/tasks/1/events?view=raw", None).await;
        let got: Vec<String> = raw.until_end().await.into_iter().map(|(t, _)| t).collect();
        assert_eq!(got, raw_lines);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Issue 20, hole 10: the live log knows the secrets a run's redactor knows, not only the token
/// shapes. The configured webhook secret (`SECRET`, of no token's shape) and a metering run
/// token written into a run's log are shown redacted, in the readable view and the raw lines.
#[tokio::test]
async fn the_live_log_redacts_the_server_s_secrets_and_the_run_tokens() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (app, dir) = a_running_task("Leak me").await;
        let run_token = format!("bosun-run-3-{}", "5e".repeat(32));
        // The agent says both: once in a line its adapter reads, once in a line it shows raw.
        let said = format!("the secret is {SECRET} and the key {run_token}");
        let lines: Vec<String> = claude_run(&dir, "round-1")
            .into_iter()
            .map(|l| l.replace("I will create the file.", &said))
            .collect();
        std::fs::write(dir.join("round-1/agent.log"), lines.join("\n") + "\n").unwrap();
        append(&dir, "round-1", &[format!("plain: {said}")]);
        let writer = sign_in(&app, "writer").await;
        let (status, _) = writer.control("/api/control/tasks/1/stop", &[]).await;
        assert_eq!(status, 200);

        for path in ["/api/tasks/1/events", "/api/tasks/1/events?view=raw"] {
            let mut reader = Reader::open_at(&writer, path, None).await;
            let shown: Vec<String> = reader
                .until_end()
                .await
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let all = shown.join("\n");
            assert!(!all.contains(SECRET), "{path}: {all}");
            assert!(!all.contains(&run_token), "{path}: {all}");
            assert!(
                all.contains("the secret is [REDACTED] and the key [REDACTED]"),
                "{path}: {all}"
            );
        }
        let page = writer.get("/tasks/1").await.text().await.unwrap();
        assert!(!page.contains(SECRET) && !page.contains(&run_token));
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
