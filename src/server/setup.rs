//! The setup page: creates the GitHub App through GitHub's App Manifest flow, so a new user
//! never has to fill in the App form by hand. Answers only on localhost unless told otherwise,
//! and only to a browser that gave the one-time set-up code bosun printed in its log
//! (`setup_guard`).
//!
//! 1. `GET /setup` asks for the set-up code; `POST /setup` with the right one gives the browser
//!    a setup cookie.
//! 2. `GET /setup` in that browser shows a button that POSTs our manifest to GitHub with a
//!    random `state` bound to the cookie.
//! 3. GitHub sends the browser back to `GET /setup/callback?code=…&state=…`.
//! 4. We check the state and the cookie, exchange the code
//!    (`POST /app-manifests/{code}/conversions`), store the credentials (mode 0600) and start
//!    the engine without a restart.

use super::dashboard::secure_cookies;
use super::dashboard::session::read_cookie;
use super::setup_guard::{Redeemed, SetupGuard, COOKIE};
use super::{AppState, Mode};
use crate::config::credentials::{self, AppCredentials};
use crate::github::client::{convert_manifest, default_user_agent};
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::net::SocketAddr;

const MANIFEST_TEMPLATE: &str = include_str!("../../app-manifest.json");

/// Localhost only, unless the operator allowed remote setup. A proxy in front means the
/// request may come from anywhere, so a forwarded request does not count as local. Either way
/// the set-up code is asked for too: loopback is not one person, and remote setup lets anyone
/// who reaches the port try.
fn allowed(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if state.config.setup_allow_remote {
        return true;
    }
    let forwarded = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    peer.ip().is_loopback() && !forwarded
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1rem;padding:.5rem 1rem}}code{{background:#f3f3f3;padding:0 .2rem}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn forbidden() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Setup is only available on localhost",
        "<p>Open this page from the machine bosun runs on (for example through an SSH tunnel: \
         <code>ssh -L 3000:localhost:3000 your-server</code>), or start bosun with \
         <code>BOSUN_SETUP_ALLOW_REMOTE=true</code> (the page then answers every host, and still \
         asks for the set-up code from bosun's log).</p>",
    )
}

/// Where GitHub sends the App's webhooks: the relay channel bosun follows when one is set
/// (`BOSUN_WEBHOOK_PROXY_URL`), else this server's `/webhook`.
pub fn hook_url(public_url: &str, webhook_proxy_url: Option<&str>) -> String {
    match webhook_proxy_url {
        Some(relay) => relay.to_string(),
        None => format!("{public_url}/webhook"),
    }
}

/// The manifest with this server's URLs filled in.
pub fn manifest(public_url: &str, hook_url: &str) -> Result<String, serde_json::Error> {
    let mut m: serde_json::Value = serde_json::from_str(MANIFEST_TEMPLATE)?;
    m["url"] = public_url.into();
    m["hook_attributes"]["url"] = hook_url.into();
    m["redirect_url"] = format!("{public_url}/setup/callback").into();
    // Where GitHub may send people back after signing in to the dashboard with the App.
    m["callback_urls"] = serde_json::json!([format!("{public_url}/auth/callback")]);
    serde_json::to_string(&m)
}

#[derive(Deserialize)]
pub struct SetupQuery {
    org: Option<String>,
}

/// The setup cookie this request carries, when it is one the set-up code gave out.
fn admitted_browser(state: &AppState, headers: &HeaderMap) -> Option<String> {
    read_cookie(headers, COOKIE).filter(|b| state.setup_guard.knows(b))
}

/// The page asking for the set-up code. `org` rides along so the next page is the one asked
/// for.
fn code_form(status: StatusCode, org: Option<&str>, complaint: &str) -> Response {
    let org_field = match org.filter(|o| !o.is_empty()) {
        Some(o) => format!(
            "<input type=\"hidden\" name=\"org\" value=\"{}\">",
            escape(o)
        ),
        None => String::new(),
    };
    page(
        status,
        "Set up bosun",
        &format!(
            "{complaint}<p>bosun printed a one-time <strong>set-up code</strong> in its log when it \
             started (the line <code>set-up code</code>; with Docker see \
             <code>docker compose logs bosun</code>, on Fly.io <code>fly logs</code>). Only \
             someone who can read that log may connect this server to a GitHub App.</p>\
             <form method=\"post\" action=\"/setup\">{org_field}\
             <input name=\"code\" autocomplete=\"off\" size=\"34\" placeholder=\"set-up code\" autofocus> \
             <button type=\"submit\">Continue</button></form>"
        ),
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    org: Option<String>,
}

/// `POST /setup`: the set-up code, typed on the page. The right one sets the setup cookie
/// and goes back to `GET /setup`.
pub async fn setup_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return forbidden();
    }
    let org = form.org.as_deref().filter(|o| valid_org(o));
    let back = match org {
        Some(o) => format!("/setup?org={o}"),
        None => "/setup".to_string(),
    };
    if matches!(&*state.mode(), Mode::Configured(_)) {
        return Redirect::to(&back).into_response();
    }
    let Some(browser) = state.setup_guard.admit(&form.code) else {
        tracing::warn!(peer = %peer.ip(), "setup page: a wrong set-up code was given");
        return code_form(
            StatusCode::FORBIDDEN,
            org,
            "<p id=\"wrong-code\"><strong>That is not the set-up code.</strong> Copy it from \
             the log of the bosun process serving this page (each start prints a new one).</p>",
        );
    };
    let cookie = SetupGuard::cookie(&browser, secure_cookies(&state.config));
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

fn valid_org(org: &str) -> bool {
    !org.is_empty()
        && org.len() <= 39
        && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub async fn setup_page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return forbidden();
    }
    if let Mode::Configured(c) = &*state.mode() {
        return page(
            StatusCode::OK,
            "bosun is set up",
            &format!(
                "<p>This server is configured as GitHub App <code>{}</code>. Install it on a \
                 repository from the App's page on GitHub, then label an issue <code>bosun</code>.</p>",
                c.app_id
            ),
        );
    }
    let Some(browser) = admitted_browser(&state, &headers) else {
        return code_form(StatusCode::OK, query.org.as_deref(), "");
    };
    let web = state.config.github_web_url.trim_end_matches('/');
    let action = match query.org.as_deref().filter(|o| !o.is_empty()) {
        Some(org) if valid_org(org) => format!("{web}/organizations/{org}/settings/apps/new"),
        Some(_) => return page(
            StatusCode::BAD_REQUEST,
            "That is not an organization name",
            "<p>Organization names use letters, digits and dashes. <a href=\"/setup\">Back</a></p>",
        ),
        None => format!("{web}/settings/apps/new"),
    };
    let public_url = state.config.public_url();
    let relay = state.config.webhook_proxy_url.as_deref();
    let hook = hook_url(&public_url, relay);
    let manifest = match manifest(&public_url, &hook) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "app-manifest.json is invalid");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Setup is broken",
                "<p>The built-in App manifest is invalid; see the server log.</p>",
            );
        }
    };
    let token = state.setup_guard.issue_state(&browser);
    // With a relay, GitHub's webhooks go to the relay: this server needs no public address.
    let reach = match relay {
        Some(_) => String::new(),
        None => reach_warning(&state.config.github_web_url, &public_url),
    };
    let owner = query
        .org
        .as_deref()
        .map(|o| format!("the organization <code>{}</code>", escape(o)))
        .unwrap_or_else(|| "your personal account".into());
    page(
        StatusCode::OK,
        "Set up bosun",
        &format!(
            "<p>bosun is not connected to GitHub yet. The button below asks GitHub to create a \
             GitHub App for {owner} with the permissions bosun needs; GitHub then sends you back \
             here and bosun stores the App's credentials in its data directory.</p>\
             <p>Webhooks will go to <code>{hook}</code>. If GitHub cannot reach that address, \
             restart bosun with <code>BOSUN_PUBLIC_URL</code> set first.</p>{reach}\
             <form method=\"post\" action=\"{action}?state={token}\">\
             <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
             <button type=\"submit\">Create the GitHub App</button></form>\
             <form method=\"get\" action=\"/setup\"><p>For an organization instead: \
             <input name=\"org\" placeholder=\"organization\"> <button type=\"submit\">Use it</button></p></form>",
            hook = escape(&hook),
            action = escape(&action),
            manifest = escape(&manifest),
        ),
    )
}

/// A plain warning when github.com could not deliver webhooks to `public_url` (a GitHub
/// Enterprise Server on the same private network may, so only github.com is judged).
fn reach_warning(github_web_url: &str, public_url: &str) -> String {
    let on_github_com = reqwest::Url::parse(github_web_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case("github.com")))
        .unwrap_or(false);
    if !on_github_com {
        return String::new();
    }
    let Some(reason) = super::public_reach::unreachable_reason(public_url) else {
        return String::new();
    };
    format!(
        "<p id=\"unreachable\"><strong>⚠️ GitHub cannot reach this server:</strong> {}. \
         GitHub sends webhooks from the Internet, so it refuses such a webhook address or never \
         delivers to it, and bosun would never hear of a labelled issue. Before creating the \
         App, run bosun where GitHub can reach it and restart it with \
         <code>BOSUN_PUBLIC_URL=https://your.host</code>: behind a reverse proxy with a public \
         name, on Fly.io (see the README), or through a tunnel that gives this port a public \
         address. Or, to try bosun from here, create a webhook relay channel (for example at \
         smee.io) and restart bosun with <code>BOSUN_WEBHOOK_PROXY_URL=&lt;its URL&gt;</code>: \
         GitHub then sends webhooks to the relay, and bosun follows it.</p>",
        escape(&reason).replace('`', "")
    )
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

pub async fn setup_callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if !allowed(&state, peer, &headers) {
        return forbidden();
    }
    if matches!(&*state.mode(), Mode::Configured(_)) {
        return page(
            StatusCode::CONFLICT,
            "bosun is already set up",
            "<p>Nothing was changed.</p>",
        );
    }
    let restart = "<p><a href=\"/setup\">Start again</a>.</p>";
    let Some(returned) = query.state.as_deref() else {
        return page(StatusCode::BAD_REQUEST, "Missing state", restart);
    };
    match state
        .setup_guard
        .redeem(returned, read_cookie(&headers, COOKIE).as_deref())
    {
        Redeemed::Ok => {}
        Redeemed::Unknown => {
            tracing::warn!("setup callback with an unknown or expired state");
            return page(
                StatusCode::BAD_REQUEST,
                "Unknown or expired setup link",
                restart,
            );
        }
        Redeemed::OtherBrowser => {
            tracing::warn!(peer = %peer.ip(), "setup callback from a browser that did not begin it");
            return page(
                StatusCode::FORBIDDEN,
                "This setup was begun in another browser",
                "<p>A GitHub App is only connected in the browser that gave the set-up code \
                 and pressed the button. Nothing was changed. \
                 <a href=\"/setup\">Start again</a>.</p>",
            );
        }
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "GitHub did not send a code",
            restart,
        );
    };
    let conversion =
        match convert_manifest(&state.config.github_api_url, code, &default_user_agent()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "manifest code exchange failed");
                return page(
                    StatusCode::BAD_GATEWAY,
                    "GitHub did not accept the setup code",
                    &format!("<p>{}</p>{restart}", escape(&e.to_string())),
                );
            }
        };
    let Some(webhook_secret) = conversion.webhook_secret.clone().filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_GATEWAY,
            "GitHub created the App without a webhook secret",
            "<p>bosun refuses unsigned webhooks. Set a webhook secret in the App's settings on \
             GitHub, then start bosun with <code>GITHUB_APP_ID</code>, \
             <code>GITHUB_PRIVATE_KEY_PATH</code> and <code>GITHUB_WEBHOOK_SECRET</code>.</p>",
        );
    };
    let creds = AppCredentials {
        app_id: conversion.id,
        private_key_pem: conversion.pem.clone(),
        webhook_secret,
        slug: Some(conversion.slug.clone()),
        client_id: Some(conversion.client_id.clone()),
        client_secret: Some(conversion.client_secret.clone()),
    };
    let path = match credentials::store(&state.config.data_dir, &creds) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "storing the App credentials failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not save the credentials",
                "<p>See the server log.</p>",
            );
        }
    };
    if let Err(e) = state.activate(creds).await {
        tracing::error!(error = %format!("{e:#}"), "starting with the new credentials failed");
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not start with the new App",
            "<p>See the server log.</p>",
        );
    }
    tracing::info!(app = %conversion.slug, path = %path.display(), "GitHub App created and stored");
    let install = format!(
        "{}/installations/new",
        conversion.html_url.trim_end_matches('/')
    );
    page(
        StatusCode::OK,
        "bosun is connected",
        &format!(
            "<p>GitHub App <code>{}</code> was created and its credentials saved to <code>{}</code> \
             (readable by this user only).</p><p>Next: <a href=\"{}\">install the App on your \
             repositories</a>, then label an issue <code>bosun</code> or mention <code>@{}</code>.</p>",
            escape(&conversion.name),
            escape(&path.display().to_string()),
            escape(&install),
            escape(&conversion.slug),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_points_at_this_server() {
        let public = "https://bosun.example.org";
        let m: serde_json::Value =
            serde_json::from_str(&manifest(public, &hook_url(public, None)).unwrap()).unwrap();
        assert_eq!(
            m["hook_attributes"]["url"],
            "https://bosun.example.org/webhook"
        );
        assert_eq!(
            m["redirect_url"],
            "https://bosun.example.org/setup/callback"
        );
        assert_eq!(m["default_permissions"]["issues"], "write");
        assert_eq!(
            m["callback_urls"],
            serde_json::json!(["https://bosun.example.org/auth/callback"])
        );
    }

    #[test]
    fn with_a_relay_the_manifest_sends_webhooks_to_it() {
        let relay = "https://smee.io/aBcD1234";
        let m: serde_json::Value = serde_json::from_str(
            &manifest(
                "http://localhost:3000",
                &hook_url("http://localhost:3000", Some(relay)),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(m["hook_attributes"]["url"], relay);
        assert_eq!(
            m["callback_urls"],
            serde_json::json!(["http://localhost:3000/auth/callback"])
        );
    }
}
