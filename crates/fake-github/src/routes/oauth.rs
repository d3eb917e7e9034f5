//! Sign-in with GitHub through the App's OAuth client (the web application flow):
//!
//! 1. `GET /login/oauth/authorize?client_id&redirect_uri&state` — on github.com a page where
//!    the signed-in user authorizes the App. The fake has no such page: the user "signed in to
//!    the website" is set by the test (`FakeGitHub::sign_in_on_web`), and the answer is the
//!    redirect GitHub sends after the user agreed: `302 redirect_uri?code=…&state=…`. With
//!    nobody signed in, a 401 HTML page says so.
//! 2. `POST /login/oauth/access_token` (`client_id`, `client_secret`, `code`, `redirect_uri`
//!    in the query, a form body or a JSON body) — JSON with `Accept: application/json`,
//!    otherwise form-encoded, as GitHub answers. Errors are 200s with `error`,
//!    `error_description` and `error_uri`, as on GitHub.
//! 3. `GET /user` with the user access token — the signed-in user.
//!
//! Steps 1 and 2 are website routes (github.com, not api.github.com), so they sit outside the
//! API middleware: no rate-limit headers, not in `requests()`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::oauth::ExchangeError;
use crate::shared::Shared;
use crate::{render, util};

const DOCS_TOKEN_ERRORS: &str =
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";

/// The website routes of the flow (the API's `GET /user` is in the main table).
pub(crate) fn web_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
}

async fn authorize(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = util::query_pairs(&query.unwrap_or_default());
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    if get("client_id").as_deref() != Some(s.app.client_id.as_str()) {
        // GitHub shows a 404 page for an unknown client.
        return page(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(redirect) = get("redirect_uri").filter(|r| !r.is_empty()) else {
        // A GitHub App without a callback URL cannot complete the flow.
        return page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is missing (the fake keeps no callback URLs for the App).",
        );
    };
    let code = {
        let mut m = s.model();
        if !m.oauth.callback_urls.contains(&redirect) {
            drop(m);
            // GitHub shows this on its own page; nobody is sent back.
            return page(
                StatusCode::BAD_REQUEST,
                "The redirect_uri is not associated with this application.",
            );
        }
        let Some(login) = m.oauth.web_user.clone() else {
            drop(m);
            return page(
                StatusCode::UNAUTHORIZED,
                "Nobody is signed in to the fake GitHub (FakeGitHub::sign_in_on_web).",
            );
        };
        m.oauth
            .issue_code(&login, &s.app.client_id, Some(redirect.clone()))
    };
    let mut target = format!(
        "{redirect}{}code={code}",
        if redirect.contains('?') { '&' } else { '?' }
    );
    if let Some(state) = get("state") {
        target.push_str(&format!("&state={}", util::pct(&state)));
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&target) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn page(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>fake GitHub</title></head><body><p>{}</p></body></html>",
        text.replace('&', "&amp;").replace('<', "&lt;")
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Parameters from the query string and the body (form or JSON), the body winning.
fn token_params(query: &str, headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let mut params = util::query_pairs(query);
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if json_body {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in o {
                if let Some(v) = v.as_str() {
                    params.push((k, v.to_owned()));
                }
            }
        }
    } else {
        let text = String::from_utf8_lossy(body).replace('+', " ");
        params.extend(util::query_pairs(&text));
    }
    params
}

async fn access_token(
    State(s): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = token_params(&query.unwrap_or_default(), &headers, &body);
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let client_id = get("client_id").unwrap_or_default();
    let secret = get("client_secret").unwrap_or_default();
    let secret_ok = {
        let m = s.model();
        secret == s.app.client_secret
            || m.manifest_codes
                .values()
                .any(|c| c.used && c.client_secret == secret)
    };
    if client_id != s.app.client_id || !secret_ok {
        return token_error(
            wants_json,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            "#incorrect-client-credentials",
        );
    }
    let outcome = s.model().oauth.exchange(
        get("code").unwrap_or_default(),
        client_id,
        get("redirect_uri"),
    );
    match outcome {
        Ok((token, _login)) => {
            let refresh = format!("ghr_{}", util::random_alnum(76));
            let fields = [
                ("access_token", Value::from(token)),
                ("expires_in", Value::from(28800)),
                ("refresh_token", Value::from(refresh)),
                ("refresh_token_expires_in", Value::from(15_811_200)),
                ("token_type", Value::from("bearer")),
                ("scope", Value::from("")),
            ];
            answer(wants_json, &fields)
        }
        Err(ExchangeError::BadCode) => token_error(
            wants_json,
            "bad_verification_code",
            "The code passed is incorrect or expired.",
            "#bad-verification-code",
        ),
        Err(ExchangeError::RedirectMismatch) => token_error(
            wants_json,
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
            "#redirect-uri-mismatch",
        ),
    }
}

fn token_error(wants_json: bool, error: &str, description: &str, anchor: &str) -> Response {
    let fields = [
        ("error", Value::from(error)),
        ("error_description", Value::from(description)),
        (
            "error_uri",
            Value::from(format!("{DOCS_TOKEN_ERRORS}{anchor}")),
        ),
    ];
    answer(wants_json, &fields)
}

/// A 200 in JSON, or form-encoded as GitHub answers without `Accept: application/json`.
fn answer(wants_json: bool, fields: &[(&str, Value)]) -> Response {
    if wants_json {
        let mut o = serde_json::Map::new();
        for (k, v) in fields {
            o.insert((*k).to_owned(), v.clone());
        }
        return (StatusCode::OK, axum::Json(Value::Object(o))).into_response();
    }
    let text: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={}", util::pct(&v))
        })
        .collect();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        text.join("&"),
    )
        .into_response()
}

/// `GET /user`: the user a user access token belongs to.
pub(super) async fn get_user(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let login = caller.require_user()?;
    let user = profile(&s, login);
    Ok((StatusCode::OK, axum::Json(user)).into_response())
}

/// `GET /users/{username}`: anyone's public profile, without a credential. An App's bot is
/// `<slug>[bot]`, with the bot user's id (what its commits' no-reply address carries).
pub(super) async fn get_user_by_name(
    State(s): State<Arc<Shared>>,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> ApiResult {
    Ok((StatusCode::OK, axum::Json(profile(&s, &username))).into_response())
}

/// A user with the public fields of a profile.
fn profile(s: &Shared, login: &str) -> Value {
    let mut user = render::user_login(s, login);
    if let Value::Object(o) = &mut user {
        for (k, v) in [
            ("name", Value::Null),
            ("company", Value::Null),
            ("blog", Value::from("")),
            ("location", Value::Null),
            ("email", Value::Null),
            ("hireable", Value::Null),
            ("bio", Value::Null),
            ("twitter_username", Value::Null),
            ("public_repos", Value::from(0)),
            ("public_gists", Value::from(0)),
            ("followers", Value::from(0)),
            ("following", Value::from(0)),
            ("created_at", Value::from("2011-01-25T18:44:36Z")),
            ("updated_at", Value::from("2024-01-01T00:00:00Z")),
        ] {
            o.insert(k.to_owned(), v);
        }
        o.insert("user_view_type".to_owned(), json!("public"));
    }
    user
}
