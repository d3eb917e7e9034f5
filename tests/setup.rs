//! The setup page: App Manifest flow end to end against the fake GitHub, with its guards
//! (localhost only, the one-time set-up code from the log, a state bound to the browser that
//! gave it, single-use state, missing code fails closed), and the switch to configured mode
//! without a restart.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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

/// A client that shows redirects instead of following them, so their cookies can be read.
fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Gives `code` on the page as a person would: the answer, and the setup cookie it set.
async fn give_code(
    base: &str,
    code: &str,
    forwarded: bool,
) -> (reqwest::StatusCode, Option<String>, String) {
    let mut req = browser_client()
        .post(format!("{base}/setup"))
        .form(&[("code", code)]);
    if forwarded {
        req = req.header("x-forwarded-for", "203.0.113.9");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, cookie, resp.text().await.unwrap())
}

/// A browser admitted with the right code: its cookie.
async fn admitted(app: &TestApp) -> String {
    let (status, cookie, _) = give_code(&app.url, &app.setup_code(), false).await;
    assert_eq!(status, 303);
    cookie.expect("the right code sets the setup cookie")
}

async fn get_as(base: &str, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = browser_client().get(format!("{base}{path}"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// The setup page as a browser that gave the code sees it.
async fn setup_page_of(app: &TestApp) -> String {
    let cookie = admitted(app).await;
    let page = get_as(&app.url, "/setup", Some(&cookie)).await;
    page.text().await.unwrap()
}

/// The setup page in an admitted browser, and the state it issued to it.
async fn fresh_state(app: &TestApp, cookie: &str) -> String {
    let page = get_as(&app.url, "/setup", Some(cookie))
        .await
        .text()
        .await
        .unwrap();
    state_from(&page)
}

#[tokio::test]
async fn the_manifest_flow_configures_bosun_without_a_restart() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(unconfigured).await;
        let health: serde_json::Value = app.get("/health").await.json().await.unwrap();
        assert_eq!(health["mode"], "setup");
        assert_eq!(app.send("ping", "early", b"{}").await.status(), 503);

        // First the page asks for the code from the log; nothing else is on it.
        let asks = app.get("/setup").await.text().await.unwrap();
        assert!(asks.contains("set-up code"), "{asks}");
        assert!(!asks.contains("/settings/apps/new"), "{asks}");

        let cookie = admitted(&app).await;
        let page = get_as(&app.url, "/setup", Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("/settings/apps/new?state="), "{page}");
        assert!(
            page.contains("/webhook&quot;"),
            "the manifest names our webhook URL"
        );
        let state = state_from(&page);
        assert_eq!(state.len(), 48);

        app.github.register_manifest_code("code123");
        let done = get_as(
            &app.url,
            &format!("/setup/callback?code=code123&state={state}"),
            Some(&cookie),
        )
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
        let replay = get_as(
            &app.url,
            &format!("/setup/callback?code=code123&state={state}"),
            Some(&cookie),
        )
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
        let cookie = admitted(&app).await;
        let made_up = get_as(
            &app.url,
            "/setup/callback?code=good&state=feedface",
            Some(&cookie),
        )
        .await;
        assert_eq!(made_up.status(), 400, "unknown state");
        let no_state = get_as(&app.url, "/setup/callback?code=good", Some(&cookie)).await;
        assert_eq!(no_state.status(), 400);
        let state = fresh_state(&app, &cookie).await;
        let no_code = get_as(
            &app.url,
            &format!("/setup/callback?state={state}"),
            Some(&cookie),
        )
        .await;
        assert_eq!(no_code.status(), 400, "missing code");
        let reused = get_as(
            &app.url,
            &format!("/setup/callback?code=good&state={state}"),
            Some(&cookie),
        )
        .await;
        assert_eq!(reused.status(), 400, "a state is single-use");
        let state = fresh_state(&app, &cookie).await;
        let unknown_code = get_as(
            &app.url,
            &format!("/setup/callback?code=nope&state={state}"),
            Some(&cookie),
        )
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

/// The hijack the code and the cookie stop: someone who reaches the port during setup (remote
/// setup allowed, a proxy in front) creates their own App and so chooses the webhook secret
/// bosun would trust; or lures the operator's browser through their own manifest flow.
#[tokio::test]
async fn only_the_browser_that_gave_the_set_up_code_can_connect_an_app() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let app = TestApp::start_with(|c| {
            unconfigured(c);
            c.setup_allow_remote = true;
        })
        .await;
        app.github.register_manifest_code("attacker-code");

        // From outside, through the proxy: the page answers, and asks for the code.
        let page = get_as(&app.url, "/setup", None).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("set-up code"), "{page}");
        assert!(
            !page.contains("state="),
            "no manifest state without the code: {page}"
        );
        for guess in ["", "0000", &"a".repeat(32), &app.setup_code()[1..]] {
            let (status, cookie, text) = give_code(&app.url, guess, true).await;
            assert_eq!(status, 403, "guess {guess:?}");
            assert!(cookie.is_none());
            assert!(text.contains("id=\"wrong-code\""), "{text}");
        }
        // A cookie made up, or a state that never was, do not get further.
        let forged = get_as(&app.url, "/setup", Some("bosun_setup=feedface"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!forged.contains("state="), "{forged}");

        // The operator gives the code and begins; a state seen by someone else (a link sent
        // around, a log) is useless from another browser, and is spent by the attempt.
        let operator = admitted(&app).await;
        let state = fresh_state(&app, &operator).await;
        let stranger = get_as(
            &app.url,
            &format!("/setup/callback?code=attacker-code&state={state}"),
            None,
        )
        .await;
        assert_eq!(stranger.status(), 403);
        let other_browser = admitted(&app).await;
        let state = fresh_state(&app, &operator).await;
        let elsewhere = get_as(
            &app.url,
            &format!("/setup/callback?code=attacker-code&state={state}"),
            Some(&other_browser),
        )
        .await;
        assert_eq!(elsewhere.status(), 403);
        let then = get_as(
            &app.url,
            &format!("/setup/callback?code=attacker-code&state={state}"),
            Some(&operator),
        )
        .await;
        assert_eq!(
            then.status(),
            400,
            "the state was spent by the wrong browser"
        );
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
        // Not even the right code opens it through a proxy.
        let (status, cookie, _) = give_code(&app.url, &app.setup_code(), true).await;
        assert_eq!(status, 403);
        assert!(cookie.is_none());
        app.finish().await;

        let open = TestApp::start_with(|c| {
            unconfigured(c);
            c.setup_allow_remote = true;
        })
        .await;
        let (status, cookie, _) = give_code(&open.url, &open.setup_code(), true).await;
        assert_eq!(status, 303, "remote setup allowed, and the code given");
        let page = reqwest::Client::new()
            .get(format!("{}/setup", open.url))
            .header("x-forwarded-for", "203.0.113.9")
            .header("cookie", cookie.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("state="));
        open.finish().await;
    })
    .await
    .expect("test timed out");
}

/// Stops the server however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The code really is in the log of `bosun serve`, where an operator reads it, and it works;
/// and a log nobody reads any more (stderr closed) does not break what is logged afterwards.
#[tokio::test]
async fn bosun_serve_prints_the_set_up_code_in_its_log() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let data = tempfile::tempdir().unwrap();
        let mut child = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_bosun"))
                .args([
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--run-mode",
                    "placeholder",
                    "--data-dir",
                ])
                .arg(data.path())
                .env_remove("GITHUB_APP_ID")
                .env_remove("GITHUB_PRIVATE_KEY")
                .env_remove("GITHUB_PRIVATE_KEY_PATH")
                .env_remove("GITHUB_WEBHOOK_SECRET")
                .env_remove("BOSUN_CONFIG")
                .env_remove("BOSUN_LOG_FORMAT")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the bosun binary starts"),
        );
        // The pipe is closed once the code is read, as when whatever read bosun's log went
        // away: logging later (the wrong code below is logged) must not break a request.
        let stderr = child.0.stderr.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .find(|l| l.contains("set-up code"))
        })
        .await
        .unwrap();
        let line = line.expect("serve logs the set-up code");
        let code: String = line[line.find("set-up code ").unwrap() + "set-up code ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        assert_eq!(code.len(), 32, "{line}");
        let at = line.find("listen=").expect("the bound address is logged") + "listen=".len();
        let addr: String = line[at..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let base = format!("http://{addr}");

        let (wrong, _, _) = give_code(&base, &"0".repeat(32), false).await;
        assert_eq!(wrong, 403);
        let (status, cookie, _) = give_code(&base, &code, false).await;
        assert_eq!(status, 303, "{line}");
        let page = get_as(&base, "/setup", cookie.as_deref())
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("/settings/apps/new?state="), "{page}");
        drop(child);
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
        let page = setup_page_of(&app).await;
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
        let page = setup_page_of(&app).await;
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
        let page = setup_page_of(&app).await;
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
