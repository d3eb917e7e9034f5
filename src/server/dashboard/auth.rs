//! Signing in and out: `GET /login` sends the browser to GitHub's authorize page with a fresh
//! `state` (also put in a short cookie, so a sign-in finishes only in the browser that began
//! it), `GET /auth/callback` checks both, trades the code for the person's login, and starts a
//! session; `POST /logout` ends it.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::session::{self, safe_next, set_cookie, SESSION_TTL, STATE_TTL};
use super::{callback_url, html, secure_cookies, Gate};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let client = match state.configured() {
        None => return html::gate_page(&state, Gate::Setup, "/"),
        Some(_) => match state.dashboard.oauth(&state.config) {
            Some(c) => c,
            None => return html::gate_page(&state, Gate::NoSignIn, "/"),
        },
    };
    let next = safe_next(q.next.as_deref());
    let oauth_state = state.dashboard.sessions.begin_sign_in(&next);
    let redirect = callback_url(&state.config);
    match client.authorize_url(&redirect, &oauth_state) {
        Ok(url) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, url),
                (
                    header::SET_COOKIE,
                    set_cookie(
                        session::STATE_COOKIE,
                        &oauth_state,
                        STATE_TTL,
                        secure_cookies(&state.config),
                    ),
                ),
            ],
        )
            .into_response(),
        Err(e) => html::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let client = match state.configured() {
        None => return html::gate_page(&state, Gate::Setup, "/"),
        Some(_) => match state.dashboard.oauth(&state.config) {
            Some(c) => c,
            None => return html::gate_page(&state, Gate::NoSignIn, "/"),
        },
    };
    if let Some(error) = q.error {
        return html::error_page(
            StatusCode::FORBIDDEN,
            &format!("GitHub did not sign you in ({error})."),
        );
    }
    let returned = q.state.unwrap_or_default();
    let ours = session::read_cookie(&headers, session::STATE_COOKIE);
    // The cookie ties the answer to this browser: someone else's code cannot sign it in.
    let next = match ours {
        Some(cookie) if !returned.is_empty() && cookie == returned => {
            state.dashboard.sessions.finish_sign_in(&returned)
        }
        _ => None,
    };
    let Some(next) = next else {
        tracing::warn!("dashboard sign-in with an unknown, expired or foreign state");
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is unknown or expired.",
        );
    };
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return html::error_page(StatusCode::BAD_REQUEST, "GitHub sent no code.");
    };
    let redirect = callback_url(&state.config);
    let login = match client.login_for_code(&code, &redirect).await {
        Ok(login) => login,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard sign-in failed");
            return html::error_page(StatusCode::BAD_GATEWAY, &e.to_string());
        }
    };
    let admin = super::access::is_admin(&state.config.dashboard.admins, &login);
    let id = state.dashboard.sessions.create(&login, admin);
    tracing::info!(%login, admin, "signed in to the dashboard");
    let secure = secure_cookies(&state.config);
    let mut resp = Redirect::to(&next).into_response();
    let cookies = resp.headers_mut();
    for value in [
        set_cookie(session::COOKIE, &id, SESSION_TTL, secure),
        set_cookie(session::STATE_COOKIE, "", std::time::Duration::ZERO, secure),
    ] {
        if let Ok(v) = value.parse() {
            cookies.append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let id = session::read_cookie(&headers, session::COOKIE).unwrap_or_default();
    if let Some(s) = state.dashboard.sessions.get(&id) {
        if form.csrf.as_deref() != Some(s.csrf.as_str()) {
            return html::error_page(StatusCode::FORBIDDEN, "The form is stale; reload the page.");
        }
        state.dashboard.sessions.end(&id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                set_cookie(
                    session::COOKIE,
                    "",
                    std::time::Duration::ZERO,
                    secure_cookies(&state.config),
                ),
            ),
        ],
    )
        .into_response()
}
