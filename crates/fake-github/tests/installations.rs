//! `GET /app/installations`: the App's installations, with an App JWT only, paginated.

mod common;

use common::*;
use fake_github::FakeGitHub;

#[tokio::test]
async fn the_app_lists_its_installations_page_by_page() {
    let fake = FakeGitHub::start().await;
    let (_, first) = fake.add_repo("octo-org/one");
    fake.add_repo("octo-org/two"); // same owner: same installation
    let (_, second) = fake.add_repo("alice/three");

    let resp = req(&fake, "GET", "/app/installations")
        .bearer_auth(app_jwt(fake.app_id()))
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 200);
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], first);
    assert_eq!(items[0]["account"]["login"], "octo-org");
    assert_eq!(items[0]["app_id"], fake.app_id());
    assert!(items[0]["suspended_at"].is_null());
    assert_eq!(items[1]["id"], second);

    let resp = req(&fake, "GET", "/app/installations?per_page=1")
        .bearer_auth(app_jwt(fake.app_id()))
        .send()
        .await
        .unwrap();
    let (_, headers, body) = split(resp).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("/app/installations?per_page=1&page=2>; rel=\"next\""),
        "{link}"
    );

    // An installation token is not the App: Bad credentials.
    let token = mint(&fake, first).await;
    let resp = req(&fake, "GET", "/app/installations")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
