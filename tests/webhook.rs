//! `POST /webhook` through the real router: signatures, size cap, dedup, quarantine, and every
//! real example payload answered 2xx.

mod support;

use support::*;

#[tokio::test]
async fn bad_signatures_are_refused_and_nothing_is_stored() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let body = br#"{"zen":"hi"}"#;
        let good = bosun::github::signature::sign(SECRET, body);
        let sha1_only = reqwest::Client::new()
            .post(format!("{}/webhook", app.url))
            .header("x-github-event", "ping")
            .header("x-github-delivery", "sha1-only")
            .header(
                "x-hub-signature",
                "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
            )
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(sha1_only.status(), 401);
        let cases = [
            None,
            Some(
                "sha256=0000000000000000000000000000000000000000000000000000000000000000"
                    .to_string(),
            ),
            Some(good.to_uppercase().replace("SHA256", "sha256")),
            Some(good.trim_start_matches("sha256=").to_string()),
            Some(good[..good.len() - 2].to_string()),
            Some(bosun::github::signature::sign("another secret", body)),
        ];
        for (i, sig) in cases.iter().enumerate() {
            let res = app
                .post("ping", &format!("bad-{i}"), body, sig.as_deref())
                .await;
            assert_eq!(res.status(), 401, "case {i}: {sig:?}");
        }
        assert!(
            app.db().delivery_counts().await.unwrap().is_empty(),
            "nothing stored"
        );
        let ok = app.post("ping", "good", body, Some(&good)).await;
        assert_eq!(ok.status(), 202);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_second_secret_verifies_during_rotation() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(|c| {
            c.github_webhook_secret = Some(format!("new-secret, {SECRET}"));
        })
        .await;
        let res = app.send("ping", "rotating", br#"{}"#).await;
        assert_eq!(res.status(), 202);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn oversized_bodies_get_413_with_or_without_a_length() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let big = vec![b' '; 25 * 1024 * 1024 + 1];
        let well_formed = format!("sha256={}", "0".repeat(64));
        let res = app.post("ping", "big", &big, Some(&well_formed)).await;
        assert_eq!(res.status(), 413);
        // Chunked, with no Content-Length: the cap must stop the read by itself.
        assert_eq!(send_chunked(&app.url, 26 * 1024 * 1024).await, 413);
        assert!(app.db().delivery_counts().await.unwrap().is_empty());
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Sends `total` bytes as a chunked body over a raw connection and returns the status the
/// server answered with (the server may answer and close before the body is all sent).
async fn send_chunked(base: &str, total: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nx-github-event: ping\r\n\
         x-github-delivery: chunked\r\nx-hub-signature-256: sha256={zeros}\r\n\
         transfer-encoding: chunked\r\n\r\n",
        zeros = "0".repeat(64)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break; // the server stopped reading: its answer is waiting
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"))
}

#[tokio::test]
async fn every_real_example_payload_is_answered_2xx_and_parsed() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let mut sent = 0;
        let mut events: Vec<_> = std::fs::read_dir(fixtures_dir().join("webhooks"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        events.sort();
        for dir in events {
            let event = dir.file_name().unwrap().to_str().unwrap().to_string();
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for file in files {
                let body = std::fs::read(&file).unwrap();
                let res = app.send(&event, &format!("real-{sent}"), &body).await;
                assert!(
                    res.status().is_success(),
                    "{}: {}",
                    file.display(),
                    res.status()
                );
                sent += 1;
            }
        }
        assert!(sent >= 90, "only {sent} payloads found");
        app.settle().await;
        let counts = app.db().delivery_counts().await.unwrap();
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        assert_eq!(total, sent as i64);
        assert!(
            !counts
                .iter()
                .any(|(s, _)| s == "quarantined" || s == "received"),
            "every real payload parses: {counts:?}"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_redelivery_is_answered_and_does_nothing_twice() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let body = br#"{"zen":"Design for failure."}"#;
        assert_eq!(app.send("ping", "same-id", body).await.status(), 202);
        let again = app.send("ping", "same-id", body).await;
        assert_eq!(again.status(), 200);
        let json: serde_json::Value = again.json().await.unwrap();
        assert_eq!(json["status"], "duplicate");
        app.settle().await;
        assert_eq!(
            app.db().delivery_counts().await.unwrap(),
            vec![("processed".to_string(), 1)]
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn signed_garbage_is_kept_aside_and_unknown_events_are_ignored() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        assert!(app
            .send("issues", "garbage", b"{not json")
            .await
            .status()
            .is_success());
        assert!(app
            .send("star", "unknown", br#"{"action":"created"}"#)
            .await
            .status()
            .is_success());
        assert!(app
            .send(
                "issues",
                "odd-shape",
                br#"{"action":"labeled","issue":{"number":"x"}}"#
            )
            .await
            .status()
            .is_success());
        app.settle().await;
        let state = |id: &str| {
            let db = app.db().clone();
            let id = bosun_core::ids::DeliveryId(id.into());
            async move { db.delivery_state(&id).await.unwrap().unwrap().0 }
        };
        assert_eq!(state("garbage").await, "quarantined");
        assert_eq!(state("odd-shape").await, "quarantined");
        assert_eq!(state("unknown").await, "ignored");
        assert!(
            app.github
                .requests()
                .iter()
                .all(|r| !r.path.contains("/issues")),
            "no GitHub effect"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn health_and_metrics_answer() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        app.send("ping", "m1", br#"{}"#).await;
        app.post("ping", "m2", br#"{}"#, None).await;
        app.settle().await;
        let health: serde_json::Value = app.get("/health").await.json().await.unwrap();
        assert_eq!(health["status"], "ok");
        assert_eq!(health["mode"], "configured");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        for line in [
            "bosun_webhook_deliveries_total{outcome=\"accepted\"} 1",
            "bosun_webhook_deliveries_total{outcome=\"bad_signature\"} 1",
            "bosun_deliveries{state=\"processed\"} 1",
            "bosun_queue_depth 0",
            "bosun_github_calls_total{status=\"200\"}",
        ] {
            assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
        }
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Sends `head` (request line and headers, and whatever part of a body) on a fresh connection
/// and reads the answer's status line, leaving the connection open. The request's body is
/// never finished: an answer proves the server did not wait for it.
async fn answer_to_head(url: &str, head: &str) -> (u16, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&seen).into_owned();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, stream)
}

/// A delivery's head: `signature` as given, a 20 MiB body announced.
fn delivery_head(delivery: &str, signature: Option<&str>) -> String {
    let signature = signature
        .map(|s| format!("x-hub-signature-256: {s}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /webhook HTTP/1.1\r\nhost: bosun\r\ncontent-type: application/json\r\n\
         x-github-event: ping\r\nx-github-delivery: {delivery}\r\n{signature}\
         content-length: 20971520\r\n\r\n{{\"zen\":"
    )
}

/// Issue 20, hole 5: what the headers already rule out is refused before a byte of the body
/// is buffered, so anyone can make bosun hold 25 MiB only with a well-formed signature header.
#[tokio::test]
async fn a_delivery_without_a_usable_signature_is_refused_before_its_body_is_read() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        let (status, _open) = answer_to_head(&app.url, &delivery_head("no-sig", None)).await;
        assert_eq!(status, 401);
        let (status, _open) =
            answer_to_head(&app.url, &delivery_head("bad-sig", Some("sha256=zz"))).await;
        assert_eq!(status, 401);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// At most `webhook_bodies_in_flight` bodies are read at once: the next delivery gets 503 at
/// once (GitHub marks it failed; the redelivery sweep asks again), a body that does not come
/// in time gets 408, and once those are gone a delivery is taken again.
#[tokio::test]
async fn bodies_beyond_the_cap_get_503_and_a_body_too_slow_408() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(|c| {
            c.webhook_bodies_in_flight = 2;
            c.webhook_body_timeout_secs = 3;
        })
        .await;
        let well_formed = format!("sha256={}", "0".repeat(64));
        // Three slow deliveries at once, each holding its connection open: two get a permit and,
        // their bodies never finished, a 408 at their deadline; the third finds no permit and
        // gets 503 at once. (The deadline is far longer than it takes to open three
        // connections, so all three are in before any permit comes back.)
        let slow: Vec<_> = ["slow-1", "slow-2", "slow-3"]
            .into_iter()
            .map(|id| {
                let url = app.url.clone();
                let head = delivery_head(id, Some(&well_formed));
                tokio::spawn(async move { answer_to_head(&url, &head).await.0 })
            })
            .collect();
        let mut statuses = Vec::new();
        for slow in slow {
            statuses.push(slow.await.unwrap());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [408, 408, 503]);
        let body = br#"{"zen":"after"}"#;
        let signed = bosun::github::signature::sign(SECRET, body);
        let res = app.post("ping", "after", body, Some(&signed)).await;
        assert_eq!(res.status(), 202);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Issue 20, hole 5: a client that trickles its request head (slow-loris) holds its connection
/// only until the header deadline, and past `max_connections` a new connection is closed at
/// once instead of waiting in line; once the slow ones are cut off, deliveries are taken again.
#[tokio::test]
async fn slow_headers_are_cut_off_and_connections_beyond_the_cap_closed() {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(|c| {
            c.max_connections = 4;
            c.header_timeout_secs = 3;
        })
        .await;
        let addr = app.url.trim_start_matches("http://").to_string();
        let conns = app.connections();
        let mut slow = Vec::new();
        for _ in 0..4 {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"POST /webhook HTTP/1.1\r\nhost: bosun\r\nx-github-event: pi")
                .await
                .unwrap();
            slow.push(s);
        }
        while conns.open.load(Ordering::Relaxed) < 4 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        // The fifth finds every slot taken: closed without an answer, not kept waiting.
        let mut fifth = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = fifth
            .write_all(b"GET /health HTTP/1.1\r\nhost: bosun\r\n\r\n")
            .await;
        let mut buf = [0u8; 256];
        let read = fifth.read(&mut buf).await;
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "closed at once, got {read:?}"
        );
        assert_eq!(conns.refused.load(Ordering::Relaxed), 1);

        // The slow ones are closed at their header deadline, without a request served.
        for mut s in slow {
            let read = s.read(&mut buf).await;
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "closed at the deadline, got {read:?}"
            );
        }
        while conns.open.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(conns.header_timeouts.load(Ordering::Relaxed), 4);

        let body = br#"{"zen":"after the slow ones"}"#;
        let signed = bosun::github::signature::sign(SECRET, body);
        let res = app.post("ping", "after-slow", body, Some(&signed)).await;
        assert_eq!(res.status(), 202);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("bosun_connections_closed_total{reason=\"refused\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("bosun_connections_closed_total{reason=\"header_timeout\"} 4"),
            "{metrics}"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Issue 20, hole 10: only the body is signed, not `X-GitHub-Delivery` (nor `X-GitHub-Event`),
/// so a captured delivery sent again under a new id is answered as a duplicate, counted as one
/// and does nothing; GitHub's own redelivery (same id, same body) stays a duplicate, and a
/// different body is taken.
#[tokio::test]
async fn a_signed_body_sent_again_under_a_new_delivery_id_is_a_duplicate() {
    use bosun_core::ids::DeliveryId;
    use bosun_core::model::TaskId;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start().await;
        app.github.set_permission(REPO, "wanda", "write");
        let issue = app.github.add_issue(REPO, "Fix it", "It breaks.", "wanda");
        let body = serde_json::to_vec(&labeled(&app, issue, "bosun", "wanda")).unwrap();
        assert_eq!(app.send("issues", "captured", &body).await.status(), 202);
        app.settle().await;
        let jobs = app.db().job_counts().await.unwrap();
        assert!(app.db().task(TaskId(1)).await.unwrap().is_some());

        for (event, delivery) in [
            ("issues", "replayed"),
            // GitHub's redelivery.
            ("issues", "captured"),
            // The event's name is not signed either.
            ("issue_comment", "renamed"),
        ] {
            let res = app.send(event, delivery, &body).await;
            assert_eq!(res.status(), 200, "{event} {delivery}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert_eq!(json["status"], "duplicate", "{event} {delivery}");
            assert_eq!(json["delivery"], delivery);
        }
        app.settle().await;
        for forged in ["replayed", "renamed"] {
            let stored = app.db().delivery_state(&DeliveryId(forged.into())).await;
            assert_eq!(stored.unwrap(), None, "{forged} is not stored");
        }
        assert_eq!(app.db().job_counts().await.unwrap(), jobs, "no job twice");
        let task = app.db().task(TaskId(1)).await.unwrap().unwrap();
        assert_eq!(task.attempt, 1, "no second attempt");
        assert!(app.db().task(TaskId(2)).await.unwrap().is_none());
        let metrics = app.get("/metrics").await.text().await.unwrap();
        for line in [
            "bosun_webhook_deliveries_total{outcome=\"duplicate\"} 3",
            "bosun_webhook_deliveries_total{outcome=\"accepted\"} 1",
        ] {
            assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
        }

        // Another event, another body: taken.
        let other = app.github.add_issue(REPO, "And this", "Also.", "wanda");
        let res = app
            .send_json("issues", "other", &labeled(&app, other, "bosun", "wanda"))
            .await;
        assert_eq!(res.status(), 202);
        app.settle().await;
        let second = app.db().task(TaskId(2)).await.unwrap().expect("a task");
        assert_eq!(second.issue.0, other);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
