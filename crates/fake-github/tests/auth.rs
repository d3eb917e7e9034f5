//! App JWT verification, installation tokens, expiry, and the headers on every answer.

mod common;

use std::time::Duration;

use common::*;
use fake_github::{AuthKind, FakeGitHub, FakeOptions, TEST_APP_PRIVATE_KEY};
use serde_json::json;

#[tokio::test]
async fn valid_jwt_reads_the_app() {
    let fake = FakeGitHub::start().await;
    let resp = req(&fake, "GET", "/app")
        .bearer_auth(app_jwt(fake.app_id()))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 4242);
    assert_eq!(body["slug"], "bosun-test");
    assert_eq!(body["owner"]["type"], "User");
    assert_eq!(body["permissions"]["issues"], "write");
    assert!(body["events"]
        .as_array()
        .unwrap()
        .contains(&json!("issue_comment")));
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(headers["x-ratelimit-limit"], "5000");
    assert_eq!(headers["x-ratelimit-resource"], "core");
    for h in [
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "x-github-request-id",
    ] {
        assert!(headers.contains_key(h), "missing {h}");
    }
    assert_eq!(fake.requests()[0].auth, AuthKind::AppJwt);
}

#[tokio::test]
async fn iss_may_be_a_string() {
    let fake = FakeGitHub::start().await;
    let now = now();
    let jwt = sign(
        &json!({ "iat": now - 60, "exp": now + 540, "iss": "4242" }),
        TEST_APP_PRIVATE_KEY,
    );
    let resp = req(&fake, "GET", "/app")
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn app_status(fake: &FakeGitHub, jwt: &str) -> (u16, String) {
    let resp = req(fake, "GET", "/app")
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    (
        status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn bad_jwts_are_rejected_with_githubs_messages() {
    let fake = FakeGitHub::start().await;
    let now = now();

    let expired = sign(
        &json!({ "iat": now - 700, "exp": now - 100, "iss": 4242 }),
        TEST_APP_PRIVATE_KEY,
    );
    let (status, message) = app_status(&fake, &expired).await;
    assert_eq!(status, 401);
    assert_eq!(message, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");

    let too_long = sign(
        &json!({ "iat": now - 60, "exp": now + 640, "iss": 4242 }),
        TEST_APP_PRIVATE_KEY,
    );
    let (status, message) = app_status(&fake, &too_long).await;
    assert_eq!(status, 401);
    assert_eq!(
        message,
        "'Expiration time' claim ('exp') is too far in the future"
    );

    let wrong_key = sign(
        &json!({ "iat": now - 60, "exp": now + 540, "iss": 4242 }),
        OTHER_PRIVATE_KEY,
    );
    let (status, message) = app_status(&fake, &wrong_key).await;
    assert_eq!(status, 401);
    assert_eq!(message, "A JSON web token could not be decoded");

    let other_app = sign(
        &json!({ "iat": now - 60, "exp": now + 540, "iss": 99 }),
        TEST_APP_PRIVATE_KEY,
    );
    assert_eq!(app_status(&fake, &other_app).await.0, 401);

    let future_iat = sign(
        &json!({ "iat": now + 120, "exp": now + 540, "iss": 4242 }),
        TEST_APP_PRIVATE_KEY,
    );
    let (status, message) = app_status(&fake, &future_iat).await;
    assert_eq!(status, 401);
    assert!(
        message.starts_with("'Issued at' claim ('iat')"),
        "{message}"
    );

    let (status, _) = app_status(&fake, "not.a.jwt").await;
    assert_eq!(status, 401);

    // No credential, or an installation token on an App route: Bad credentials.
    let resp = req(&fake, "GET", "/app").send().await.unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"})
    );

    assert!(fake
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .all(|r| matches!(r.auth, AuthKind::Invalid | AuthKind::None)));
}

#[tokio::test]
async fn token_is_minted_and_used() {
    let fake = FakeGitHub::start().await;
    let (repo_id, installation) = fake.add_repo("octo/widgets");
    let (_, same) = fake.add_repo("octo/gadgets");
    let (_, other) = fake.add_repo("someone/else");
    assert_eq!(installation, same);
    assert_ne!(installation, other);

    // The App finds the installation with its JWT.
    let resp = req(&fake, "GET", "/repos/octo/widgets/installation")
        .bearer_auth(app_jwt(4242))
        .send()
        .await
        .unwrap();
    let (status, _, inst) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(inst["id"], installation);
    assert_eq!(inst["app_id"], 4242);
    assert_eq!(inst["account"]["login"], "octo");
    let resp = req(&fake, "GET", "/repos/octo/missing/installation")
        .bearer_auth(app_jwt(4242))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(4242))
    .send()
    .await
    .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 201);
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    assert_eq!(body["repository_selection"], "all");
    assert_eq!(body["permissions"]["issues"], "write");
    let expires = body["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    assert_eq!(fake.tokens_issued(), 1);

    // Both `token` and `Bearer` schemes work.
    let (status, _, repo) = call(&fake, &token, "GET", "/repos/octo/widgets", None).await;
    assert_eq!(status, 200);
    assert_eq!(repo["id"], repo_id);
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["full_name"], "octo/widgets");
    assert_eq!(repo["private"], false);
    let resp = req(&fake, "GET", "/repos/octo/widgets")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.auth == AuthKind::InstallationToken(installation)));

    // Unknown installation.
    let resp = req(&fake, "POST", "/app/installations/1/access_tokens")
        .bearer_auth(app_jwt(4242))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // A JWT is not accepted on repository routes; a made-up token neither.
    let resp = req(&fake, "GET", "/repos/octo/widgets")
        .bearer_auth(app_jwt(4242))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, _, body) = call(&fake, "ghs_madeup", "GET", "/repos/octo/widgets", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
}

#[tokio::test]
async fn restricted_tokens() {
    let fake = FakeGitHub::start().await;
    let (_, installation) = fake.add_repo("octo/widgets");
    fake.add_repo("octo/gadgets");
    let n = fake.add_issue("octo/widgets", "t", "b", "alice");
    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(4242))
    .json(&json!({ "repositories": ["gadgets"], "permissions": { "issues": "read" } }))
    .send()
    .await
    .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 201);
    assert_eq!(body["repository_selection"], "selected");
    assert_eq!(body["repositories"][0]["full_name"], "octo/gadgets");
    assert_eq!(
        body["permissions"],
        json!({ "issues": "read", "metadata": "read" })
    );
    let token = body["token"].as_str().unwrap();
    let (status, _, body) = call(
        &fake,
        token,
        "POST",
        &format!("/repos/octo/widgets/issues/{n}/comments"),
        Some(json!({ "body": "hi" })),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Resource not accessible by integration");

    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(4242))
    .json(&json!({ "permissions": { "administration": "write" } }))
    .send()
    .await
    .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "The permissions requested are not granted to this installation."
    );
}

#[tokio::test]
async fn expire_tokens_gives_401_until_a_new_token() {
    let (fake, token, issue) = fixture().await;
    let path = format!("/repos/octo/widgets/issues/{issue}");
    assert_eq!(call(&fake, &token, "GET", &path, None).await.0, 200);
    fake.expire_tokens();
    let (status, _, body) = call(&fake, &token, "GET", &path, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(fake.requests().last().unwrap().auth, AuthKind::Invalid);
    let (_, installation) = fake.add_repo("octo/widgets");
    let fresh = mint(&fake, installation).await;
    assert_eq!(call(&fake, &fresh, "GET", &path, None).await.0, 200);
    assert_eq!(fake.tokens_issued(), 2);
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let fake = FakeGitHub::start_with(FakeOptions {
        token_ttl: Duration::from_millis(300),
        ..FakeOptions::default()
    })
    .await;
    let (_, installation) = fake.add_repo("octo/widgets");
    let token = mint(&fake, installation).await;
    assert_eq!(
        call(&fake, &token, "GET", "/repos/octo/widgets", None)
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        call(&fake, &token, "GET", "/repos/octo/widgets", None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn custom_app_identity() {
    let fake = FakeGitHub::start_with(FakeOptions {
        app_id: 7,
        app_slug: "other".into(),
        ..FakeOptions::default()
    })
    .await;
    assert_eq!(fake.bot_login(), "other[bot]");
    let resp = req(&fake, "GET", "/app")
        .bearer_auth(app_jwt(7))
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["slug"], "other");
    let resp = req(&fake, "GET", "/app")
        .bearer_auth(app_jwt(4242))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn unknown_routes_and_rate_limit() {
    let (fake, token, _) = fixture().await;
    let (status, headers, body) = call(&fake, &token, "GET", "/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
    assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
    assert!(headers.contains_key("x-github-request-id"));
    // A known path with an unknown method is also a GitHub-style 404.
    let (status, _, _) = call(&fake, &token, "PUT", "/repos/octo/widgets/issues/1", None).await;
    assert_eq!(status, 404);

    let (status, headers, body) = call(&fake, &token, "GET", "/rate_limit", None).await;
    assert_eq!(status, 200);
    let core = &body["resources"]["core"];
    assert_eq!(core["limit"], 5000);
    assert_eq!(
        core["remaining"].as_u64().unwrap() + core["used"].as_u64().unwrap(),
        5000
    );
    assert_eq!(body["rate"], *core);
    assert_eq!(
        headers["x-ratelimit-remaining"].to_str().unwrap(),
        core["remaining"].to_string()
    );
    // This test asks for an unknown path and an undescribed method on purpose.
    take_deliberate_request_violations(&fake);
}
