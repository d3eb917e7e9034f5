//! Sign-in with GitHub through the App's OAuth client: the authorize redirect for the user
//! signed in to the website, the code-for-token exchange with GitHub's error answers, and
//! `GET /user` with the user access token.

mod common;

use common::*;
use fake_github::{AuthKind, FakeGitHub};

/// A client that does not follow redirects, as a test must see the 302 itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn authorize(fake: &FakeGitHub, client_id: &str) -> reqwest::Response {
    fake.set_callback_urls(&["http://bosun.test/auth/callback"]);
    browser()
        .get(format!(
            "{}/login/oauth/authorize?client_id={client_id}&redirect_uri=http%3A%2F%2Fbosun.test%2Fauth%2Fcallback&state=s%201",
            fake.url()
        ))
        .send()
        .await
        .unwrap()
}

/// The code in a redirect to the callback.
fn code_of(resp: &reqwest::Response) -> String {
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://bosun.test/auth/callback?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=s%201"), "{location}");
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

async fn exchange(fake: &FakeGitHub, form: &[(&str, &str)]) -> serde_json::Value {
    browser()
        .post(format!("{}/login/oauth/access_token", fake.url()))
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_web_flow_signs_in_the_user_of_the_website() {
    let fake = FakeGitHub::start().await;
    let (id, secret) = (fake.oauth_client_id(), fake.oauth_client_secret());

    assert_eq!(
        authorize(&fake, &id).await.status(),
        401,
        "nobody signed in"
    );
    assert_eq!(authorize(&fake, "Iv1.unknown").await.status(), 404);

    fake.sign_in_on_web(Some("octocat"));
    let resp = authorize(&fake, &id).await;
    assert_eq!(resp.status(), 302);
    let code = code_of(&resp);

    let wrong = exchange(
        &fake,
        &[
            ("client_id", &id),
            ("client_secret", "nope"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(wrong["error"], "incorrect_client_credentials");
    let elsewhere = exchange(
        &fake,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("code", &code),
            ("redirect_uri", "http://evil.test/cb"),
        ],
    )
    .await;
    assert_eq!(elsewhere["error"], "redirect_uri_mismatch");

    let token = exchange(
        &fake,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("code", &code),
            ("redirect_uri", "http://bosun.test/auth/callback"),
        ],
    )
    .await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("ghu_"), "{token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 28800);
    assert_eq!(fake.oauth_exchanges(), 1);

    let again = exchange(
        &fake,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(again["error"], "bad_verification_code", "a code works once");

    let resp = req(&fake, "GET", "/user")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let (status, _, user) = split(resp).await;
    assert_eq!(status, 200);
    assert_eq!(user["login"], "octocat");
    assert_eq!(user["id"], fake.user_id("octocat"));
    assert_eq!(user["type"], "User");
    assert_eq!(fake.requests().last().unwrap().auth, AuthKind::UserToken);

    let resp = req(&fake, "GET", "/user")
        .bearer_auth("ghu_madeup")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn without_accept_json_the_token_answer_is_form_encoded() {
    let fake = FakeGitHub::start().await;
    fake.sign_in_on_web(Some("hubot"));
    let code = code_of(&authorize(&fake, &fake.oauth_client_id()).await);
    let text = browser()
        .post(format!(
            "{}/login/oauth/access_token?client_id={}&client_secret={}&code={code}",
            fake.url(),
            fake.oauth_client_id(),
            fake.oauth_client_secret()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("access_token=ghu_"), "{text}");
    assert!(text.contains("&token_type=bearer"), "{text}");
}

#[tokio::test]
async fn a_redirect_uri_that_is_not_a_registered_callback_url_is_refused() {
    let fake = FakeGitHub::start().await;
    fake.sign_in_on_web(Some("octocat"));
    fake.set_callback_urls(&["http://bosun.test/auth/callback"]);
    for elsewhere in [
        "http%3A%2F%2Fother-host.test%2Fauth%2Fcallback",
        "http%3A%2F%2Fbosun.test%3A8080%2Fauth%2Fcallback",
    ] {
        let resp = browser()
            .get(format!(
                "{}/login/oauth/authorize?client_id={}&redirect_uri={elsewhere}",
                fake.url(),
                fake.oauth_client_id()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{elsewhere}");
        assert!(resp.headers().get("location").is_none());
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("not associated with this application"),
            "{text}"
        );
    }
}
