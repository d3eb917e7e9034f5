//! Helpers shared by the integration tests: JWTs, an HTTP client, token minting.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

/// A second RSA key that the fake does not know.
pub const OTHER_PRIVATE_KEY: &str = include_str!("../keys/other-app.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs arbitrary claims with a PEM private key (RS256).
pub fn sign(claims: &Value, pem: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A valid App JWT, back-dated 60 s as GitHub's docs recommend.
pub fn app_jwt(app_id: u64) -> String {
    let now = now();
    sign(
        &json!({ "iat": now - 60, "exp": now + 540, "iss": app_id }),
        TEST_APP_PRIVATE_KEY,
    )
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// A request with GitHub's usual headers.
pub fn req(fake: &FakeGitHub, method: &str, path: &str) -> RequestBuilder {
    client()
        .request(method.parse().unwrap(), format!("{}{path}", fake.url()))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header("user-agent", "fake-github-tests")
}

/// Mints an installation token through the API and returns it.
pub async fn mint(fake: &FakeGitHub, installation_id: u64) -> String {
    let resp = req(
        fake,
        "POST",
        &format!("/app/installations/{installation_id}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// A fake with `octo/widgets` installed and one issue; returns (fake, token, issue number).
pub async fn fixture() -> (FakeGitHub, String, u64) {
    let fake = FakeGitHub::start().await;
    let (_, installation) = fake.add_repo("octo/widgets");
    let issue = fake.add_issue("octo/widgets", "Widgets wobble", "They wobble.", "alice");
    let token = mint(&fake, installation).await;
    (fake, token, issue)
}

/// Sends with `Authorization: token <t>` and returns (status, headers, JSON body).
pub async fn call(
    fake: &FakeGitHub,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut r = req(fake, method, path).header("authorization", format!("token {token}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    split(r.send().await.unwrap()).await
}

pub async fn split(resp: Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, headers, body)
}
