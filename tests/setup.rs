//! The setup page: App Manifest flow end to end against the fake GitHub, with its guards
//! (localhost only, single-use state, missing code fails closed), and the switch to configured
//! mode without a restart.

mod support;

use support::*;

fn unconfigured(c: &mut bosun::config::server::ServerConfig) {
    c.github_app_id = None;
    c.github_private_key = None;
    c.github_webhook_secret = None;
}

/// The `state` in the form's action on the setup page.
fn state_from(page: &str) -> String {
    let start = page.find("state=").expect("the page carries a state") + "state=".len();
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

async fn fresh_state(app: &TestApp) -> String {
    let page = app.get("/setup").await.text().await.unwrap();
    state_from(&page)
}

#[tokio::test]
async fn the_manifest_flow_configures_bosun_without_a_restart() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(unconfigured).await;
        let health: serde_json::Value = app.get("/health").await.json().await.unwrap();
        assert_eq!(health["mode"], "setup");
        assert_eq!(app.send("ping", "early", b"{}").await.status(), 503);

        let page = app.get("/setup").await.text().await.unwrap();
        assert!(page.contains("/settings/apps/new?state="), "{page}");
        assert!(
            page.contains("/webhook&quot;"),
            "the manifest names our webhook URL"
        );
        let state = state_from(&page);
        assert_eq!(state.len(), 48);

        app.github.register_manifest_code("code123");
        let done = app
            .get(&format!("/setup/callback?code=code123&state={state}"))
            .await;
        assert_eq!(done.status(), 200);
        let text = done.text().await.unwrap();
        assert!(text.contains("installations/new"), "{text}");

        let stored = app.data_dir.path().join("app-credentials.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let health: serde_json::Value = app.get("/health").await.json().await.unwrap();
        assert_eq!(health["mode"], "configured");

        // The webhook secret GitHub generated is now the one bosun checks.
        let secret = app
            .github
            .manifest_credentials("code123")
            .unwrap()
            .webhook_secret;
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let signed = bosun::github::signature::sign(&secret, body);
        assert_eq!(
            app.post("ping", "after-setup", body, Some(&signed))
                .await
                .status(),
            202
        );
        assert_eq!(app.send("ping", "old-secret", body).await.status(), 401);

        let again = app.get("/setup").await.text().await.unwrap();
        assert!(again.contains("bosun is set up"), "{again}");
        let replay = app
            .get(&format!("/setup/callback?code=code123&state={state}"))
            .await;
        assert_eq!(replay.status(), 409);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_callback_fails_closed() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(unconfigured).await;
        app.github.register_manifest_code("good");
        let made_up = app.get("/setup/callback?code=good&state=feedface").await;
        assert_eq!(made_up.status(), 400, "unknown state");
        let no_state = app.get("/setup/callback?code=good").await;
        assert_eq!(no_state.status(), 400);
        let state = fresh_state(&app).await;
        let no_code = app.get(&format!("/setup/callback?state={state}")).await;
        assert_eq!(no_code.status(), 400, "missing code");
        let reused = app
            .get(&format!("/setup/callback?code=good&state={state}"))
            .await;
        assert_eq!(reused.status(), 400, "a state is single-use");
        let state = fresh_state(&app).await;
        let unknown_code = app
            .get(&format!("/setup/callback?code=nope&state={state}"))
            .await;
        assert_eq!(unknown_code.status(), 502, "GitHub refused the code");
        assert!(!app.data_dir.path().join("app-credentials.json").exists());
        let health: serde_json::Value = app.get("/health").await.json().await.unwrap();
        assert_eq!(health["mode"], "setup");
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_setup_page_answers_only_on_localhost() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(unconfigured).await;
        let proxied = reqwest::Client::new()
            .get(format!("{}/setup", app.url))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), 403);
        app.finish().await;

        let open = TestApp::start_with(|c| {
            unconfigured(c);
            c.setup_allow_remote = true;
        })
        .await;
        let proxied = reqwest::Client::new()
            .get(format!("{}/setup", open.url))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), 200);
        open.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_setup_page_says_plainly_when_github_cannot_reach_the_public_url() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        // As a newcomer starts it: GitHub is github.com, no public URL but this machine.
        let app = TestApp::start_with(|c| {
            unconfigured(c);
            c.github_web_url = "https://github.com".into();
            c.public_url = Some("http://localhost:3000".into());
        })
        .await;
        let page = app.get("/setup").await.text().await.unwrap();
        assert!(page.contains("id=\"unreachable\""), "{page}");
        assert!(page.contains("GitHub cannot reach this server"), "{page}");
        assert!(page.contains("localhost"), "{page}");
        assert!(page.contains("BOSUN_PUBLIC_URL"), "{page}");
        app.finish().await;

        // A public name: no warning.
        let app = TestApp::start_with(|c| {
            unconfigured(c);
            c.github_web_url = "https://github.com".into();
            c.public_url = Some("https://bosun.example.com".into());
        })
        .await;
        let page = app.get("/setup").await.text().await.unwrap();
        assert!(!page.contains("id=\"unreachable\""), "{page}");
        app.finish().await;

        // On this machine with a relay channel: GitHub's webhooks go to the relay. (Its URL is
        // on loopback: bosun follows it from the start, and tests reach nothing beyond.)
        let relay = "http://127.0.0.1:9/relay-channel";
        let app = TestApp::start_with(|c| {
            unconfigured(c);
            c.github_web_url = "https://github.com".into();
            c.public_url = Some("http://localhost:3000".into());
            c.webhook_proxy_url = Some(relay.into());
        })
        .await;
        let page = app.get("/setup").await.text().await.unwrap();
        assert!(!page.contains("id=\"unreachable\""), "{page}");
        assert!(
            page.contains(&format!("Webhooks will go to <code>{relay}</code>")),
            "{page}"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
