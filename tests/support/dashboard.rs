//! The dashboard under test: bosun with the fake GitHub's OAuth client configured, people
//! signed in through the fake's web flow (real HTTP, cookies kept by hand), and tasks in
//! more than one repository.

use std::collections::HashMap;
use std::sync::Mutex;

use bosun::config::server::ServerConfig;
use serde_json::Value;

use super::*;

/// bosun with the fake's OAuth client as `--github-client-id/secret` and `admins` as
/// `--admins`; `tweak` adjusts the rest.
pub async fn start(admins: &[&str], tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let client = Mutex::new(None);
    TestApp::start_custom(
        |gh| {
            *client.lock().unwrap() = Some((gh.oauth_client_id(), gh.oauth_client_secret()));
        },
        |c| {
            let (id, secret) = client.lock().unwrap().take().unwrap();
            c.dashboard.github_client_id = Some(id);
            c.dashboard.github_client_secret = Some(secret);
            c.dashboard.admins = admins.iter().map(|a| a.to_string()).collect();
            tweak(c);
        },
    )
    .await
}

/// A signed-in person: the session cookie and the CSRF token.
pub struct Person {
    pub login: String,
    pub cookie: String,
    pub csrf: String,
    http: reqwest::Client,
    base: String,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", resp.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// `name=value` of the cookie `name` that `resp` sets.
fn set_cookie(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

/// Signs `login` in as a browser would: bosun's `/login`, the fake's authorize page (with
/// `login` signed in to the fake's website), bosun's callback.
pub async fn sign_in(app: &TestApp, login: &str) -> Person {
    let http = no_redirects();
    app.github.sign_in_on_web(Some(login));
    let start = http.get(format!("{}/login", app.url)).send().await.unwrap();
    assert_eq!(start.status(), 303);
    let state_cookie = set_cookie(&start, "bosun_oauth_state");
    let at_github = http.get(location(&start)).send().await.unwrap();
    assert_eq!(at_github.status(), 302, "the fake authorizes");
    let back = http
        .get(location(&at_github))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
    let cookie = set_cookie(&back, "bosun_session");
    let me: Value = http
        .get(format!("{}/api/session", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], login);
    Person {
        login: login.to_string(),
        cookie,
        csrf: me["csrf"].as_str().unwrap().to_string(),
        http,
        base: app.url.clone(),
    }
}

impl Person {
    /// bosun's URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A control call as a script makes it: the CSRF token in `X-CSRF-Token`.
    pub async fn control(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The ids of the tasks `GET /api/tasks` shows, with their repositories.
    pub async fn task_list(&self) -> HashMap<i64, String> {
        let (status, body) = self.get_json("/api/tasks").await;
        assert_eq!(status, 200, "{body}");
        body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["id"].as_i64().unwrap(),
                    t["repo"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Opens an issue in `repo` (installed on the fake) as `sender` and labels it `bosun`,
/// through a signed webhook; returns the issue number.
pub async fn labelled_issue_in(app: &TestApp, repo: &str, title: &str, sender: &str) -> u64 {
    let (repo_id, installation) = app.github.add_repo(repo);
    let issue = app.github.add_issue(repo, title, "please do it", sender);
    app.github.label_issue(repo, issue, "bosun");
    let mut p = labeled_payload(app, issue, "bosun", sender);
    retarget_raw(&mut p, repo_id, installation, issue, sender);
    let (owner, name) = repo.split_once('/').unwrap();
    p["repository"]["name"] = name.into();
    p["repository"]["full_name"] = repo.into();
    p["repository"]["owner"]["login"] = owner.into();
    p["issue"]["title"] = title.into();
    p["issue"]["body"] = "please do it".into();
    let answer = app
        .send_json(
            "issues",
            &format!("d-{}-{issue}", repo.replace('/', "-")),
            &p,
        )
        .await;
    assert_eq!(answer.status(), 202);
    issue
}
