//! Fault injection of every kind, request recording, wait_until and server lifecycle.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_github::{AuthKind, FakeGitHub, Fault};
use serde_json::json;

#[tokio::test]
async fn status_fault_does_nothing_and_fires_times() {
    let (fake, token, n) = fixture().await;
    let path = format!("/repos/octo/widgets/issues/{n}/comments");
    fake.inject(
        "POST",
        "/repos/*/*/issues/*/comments",
        Fault::Status(502),
        2,
    );
    assert_eq!(fake.pending_faults(), 2);

    // A GET on the same path is not matched.
    assert_eq!(call(&fake, &token, "GET", &path, None).await.0, 200);
    for _ in 0..2 {
        let (status, headers, body) =
            call(&fake, &token, "POST", &path, Some(json!({ "body": "x" }))).await;
        assert_eq!(status, 502);
        assert!(body["message"].is_string());
        assert!(headers.contains_key("x-github-request-id"));
    }
    assert!(fake.comments("octo/widgets", n).is_empty());
    assert_eq!(
        call(&fake, &token, "POST", &path, Some(json!({ "body": "x" })))
            .await
            .0,
        201
    );
    assert_eq!(fake.comments("octo/widgets", n).len(), 1);
    assert_eq!(fake.pending_faults(), 0);

    let statuses: Vec<(String, u16)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET".to_owned(), 200),
            ("POST".to_owned(), 502),
            ("POST".to_owned(), 502),
            ("POST".to_owned(), 201)
        ]
    );
}

#[tokio::test]
async fn status_after_effect_really_creates_the_comment() {
    let (fake, token, n) = fixture().await;
    let path = format!("/repos/octo/widgets/issues/{n}/comments");
    fake.inject("post", "/repos/**", Fault::StatusAfterEffect(500), 1);
    let (status, _, _) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "body": "lost reply" })),
    )
    .await;
    assert_eq!(status, 500);
    let comments = fake.comments("octo/widgets", n);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, "lost reply");
    assert_eq!(comments[0].user_login, "bosun-test[bot]");
    assert_eq!(fake.requests().last().unwrap().status, 500);

    // Same for labels.
    fake.inject(
        "POST",
        "/repos/*/*/issues/*/labels",
        Fault::StatusAfterEffect(502),
        1,
    );
    let (status, _, _) = call(
        &fake,
        &token,
        "POST",
        &format!("/repos/octo/widgets/issues/{n}/labels"),
        Some(json!({ "labels": ["bosun:done"] })),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(fake.issue_labels("octo/widgets", n), ["bosun:done"]);
}

#[tokio::test]
async fn secondary_rate_limit() {
    let (fake, token, n) = fixture().await;
    fake.inject(
        "POST",
        "/repos/*/*/issues/*/comments",
        Fault::SecondaryRateLimit {
            retry_after_secs: 7,
        },
        1,
    );
    let path = format!("/repos/octo/widgets/issues/{n}/comments");
    let (status, headers, body) =
        call(&fake, &token, "POST", &path, Some(json!({ "body": "x" }))).await;
    assert_eq!(status, 403);
    assert_eq!(headers["retry-after"], "7");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    assert_ne!(headers["x-ratelimit-remaining"], "0");
    assert!(fake.comments("octo/widgets", n).is_empty());
}

#[tokio::test]
async fn primary_rate_limit() {
    let (fake, token, _) = fixture().await;
    fake.inject(
        "GET",
        "/repos/octo/widgets",
        Fault::PrimaryRateLimit { reset_in_secs: 30 },
        1,
    );
    let (status, headers, body) = call(&fake, &token, "GET", "/repos/octo/widgets", None).await;
    assert_eq!(status, 403);
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let reset: i64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((reset - now() - 30).abs() <= 2, "reset {reset}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded"));
    assert!(headers.get("retry-after").is_none());
    // Next one is fine again.
    let (status, headers, _) = call(&fake, &token, "GET", "/repos/octo/widgets", None).await;
    assert_eq!(status, 200);
    assert_ne!(headers["x-ratelimit-remaining"], "0");
}

#[tokio::test]
async fn delay_answers_normally_after_sleeping() {
    let (fake, token, n) = fixture().await;
    fake.inject(
        "GET",
        "/repos/*/*/issues/*",
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let started = Instant::now();
    let (status, _, issue) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}"),
        None,
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, 200);
    assert_eq!(issue["number"], n);
    let started = Instant::now();
    call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}"),
        None,
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn first_matching_rule_wins_in_order() {
    let (fake, token, _) = fixture().await;
    fake.inject("GET", "/repos/octo/**", Fault::Status(500), 1);
    fake.inject("GET", "/repos/octo/widgets", Fault::Status(503), 1);
    assert_eq!(
        call(&fake, &token, "GET", "/repos/octo/widgets", None)
            .await
            .0,
        500
    );
    assert_eq!(
        call(&fake, &token, "GET", "/repos/octo/widgets", None)
            .await
            .0,
        503
    );
    assert_eq!(
        call(&fake, &token, "GET", "/repos/octo/widgets", None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn faults_apply_to_token_minting_too() {
    let fake = FakeGitHub::start().await;
    let (_, installation) = fake.add_repo("octo/widgets");
    fake.inject(
        "POST",
        "/app/installations/*/access_tokens",
        Fault::Status(500),
        1,
    );
    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(4242))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(fake.tokens_issued(), 0);
    mint(&fake, installation).await;
    assert_eq!(fake.tokens_issued(), 1);
}

#[tokio::test]
async fn requests_are_recorded_in_arrival_order() {
    let (fake, token, n) = fixture().await;
    fake.clear_requests();
    call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}/comments?per_page=5"),
        None,
    )
    .await;
    call(&fake, "ghs_bogus", "GET", "/repos/octo/widgets", None).await;
    req(&fake, "GET", "/rate_limit").send().await.unwrap();
    let r = fake.requests();
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[0].path,
        format!("/repos/octo/widgets/issues/{n}/comments")
    );
    assert_eq!(r[0].query, "per_page=5");
    assert!(matches!(r[0].auth, AuthKind::InstallationToken(_)));
    assert_eq!((r[1].status, r[1].auth), (401, AuthKind::Invalid));
    assert_eq!((r[2].status, r[2].auth), (200, AuthKind::None));
    assert!(r[0].at <= r[1].at && r[1].at <= r[2].at);
}

#[tokio::test]
async fn wait_until_polls_until_true_or_timeout() {
    let (fake, token, n) = fixture().await;
    let poster = {
        let fake = fake.clone();
        let token = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            call(
                &fake,
                &token,
                "POST",
                &format!("/repos/octo/widgets/issues/{n}/comments"),
                Some(json!({ "body": "late" })),
            )
            .await;
        })
    };
    let ok = fake
        .wait_until(
            |f| f.comments("octo/widgets", n).len() == 1,
            Duration::from_secs(5),
        )
        .await;
    assert!(ok);
    poster.await.unwrap();
    let started = Instant::now();
    let ok = fake
        .wait_until(
            |f| f.comments("octo/widgets", n).len() == 9,
            Duration::from_millis(100),
        )
        .await;
    assert!(!ok);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let fake = FakeGitHub::start().await;
    let url = fake.url();
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(!url.ends_with('/'));
    let clone = fake.clone();
    assert_eq!(
        client()
            .get(format!("{url}/rate_limit"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    fake.shutdown().await;
    assert!(client()
        .get(format!("{url}/rate_limit"))
        .send()
        .await
        .is_err());
    drop(clone);
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let fake = FakeGitHub::start().await;
    let url = fake.url();
    let clone = fake.clone();
    drop(fake);
    // Still up while a clone lives.
    assert_eq!(
        client()
            .get(format!("{url}/rate_limit"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(clone);
    let mut stopped = false;
    for _ in 0..100 {
        if client()
            .get(format!("{url}/rate_limit"))
            .send()
            .await
            .is_err()
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped);
}

#[tokio::test]
async fn shutdown_is_quick_with_idle_keep_alive_connections() {
    let fake = FakeGitHub::start().await;
    let url = fake.url();
    let shared = client();
    for _ in 0..3 {
        assert_eq!(
            shared
                .get(format!("{url}/rate_limit"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let started = Instant::now();
    fake.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
