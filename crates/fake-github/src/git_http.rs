//! Git's smart HTTP protocol for repositories registered with `FakeGitHub::serve_git`, as GitHub
//! serves `https://github.com/<owner>/<repo>.git`: Basic auth whose password is an installation
//! token, then `git http-backend` (the git CLI's own CGI program) does the protocol.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use tokio::io::AsyncWriteExt;

use crate::shared::Shared;
use crate::GitRequestRecord;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{owner}/{repo}/info/refs", get(handle))
        .route("/{owner}/{repo}/git-upload-pack", post(handle))
        .route("/{owner}/{repo}/git-receive-pack", post(handle))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    let (user, password) = basic_auth(&headers);
    let push =
        uri.path().ends_with("/git-receive-pack") || query.contains("service=git-receive-pack");
    let (git_dir, token_valid, may_push) = {
        let m = s.model();
        let name = repo.strip_suffix(".git").unwrap_or(&repo);
        let key = format!(
            "{}/{}",
            owner.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
        let Some(r) = m.repos.get(&key) else {
            drop(m);
            return record(&s, &method, &uri, &query, 404, user, false, not_found());
        };
        let token = password.as_deref().and_then(|p| m.tokens.get(p));
        let valid = token.is_some_and(|t| {
            t.is_valid(SystemTime::now())
                && t.installation_id == r.installation_id
                && t.repo_ids.as_ref().is_none_or(|ids| ids.contains(&r.id))
        });
        let may_push = token
            .is_some_and(|t| t.permissions.get("contents").map(String::as_str) == Some("write"));
        (r.git_dir.clone(), valid, may_push)
    };
    let Some(git_dir) = git_dir else {
        return record(
            &s,
            &method,
            &uri,
            &query,
            404,
            user,
            token_valid,
            not_found(),
        );
    };
    if !token_valid {
        let answer = (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"GitHub\"")],
            "Invalid username or token. Password authentication is not supported for Git operations.\n",
        )
            .into_response();
        return record(&s, &method, &uri, &query, 401, user, false, answer);
    }
    if push && !may_push {
        let answer = (StatusCode::FORBIDDEN, "Permission to push denied.\n").into_response();
        return record(&s, &method, &uri, &query, 403, user, true, answer);
    }
    let rest = uri
        .path()
        .split_once(".git/")
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .to_owned();
    let answer = match backend(
        &git_dir,
        &method,
        &rest,
        &query,
        &headers,
        user.as_deref(),
        body,
    )
    .await
    {
        Ok(answer) => answer,
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("fake-github: git http-backend: {e}\n"),
        )
            .into_response(),
    };
    let status = answer.status().as_u16();
    record(&s, &method, &uri, &query, status, user, true, answer)
}

#[allow(clippy::too_many_arguments)]
fn record(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    query: &str,
    status: u16,
    user: Option<String>,
    token_valid: bool,
    answer: Response,
) -> Response {
    s.model().git_requests.push(GitRequestRecord {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: query.to_owned(),
        status,
        user,
        token_valid,
    });
    answer
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Repository not found.\n").into_response()
}

/// (user, password) of a Basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return (None, None);
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return (None, None);
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&decoded).into_owned();
    match text.split_once(':') {
        Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
        None => (Some(text), None),
    }
}

/// Runs `git http-backend` as a CGI program for one request.
async fn backend(
    git_dir: &Path,
    method: &Method,
    rest: &str,
    query: &str,
    headers: &HeaderMap,
    user: Option<&str>,
    body: Bytes,
) -> std::io::Result<Response> {
    let root = git_dir.parent().unwrap_or(Path::new("/"));
    let name = git_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header_str = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", format!("/{name}/{rest}"))
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header_str(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", user.unwrap_or("anonymous"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(encoding) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        command.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if let Some(protocol) = headers.get("git-protocol").and_then(|v| v.to_str().ok()) {
        command.env("GIT_PROTOCOL", protocol);
    }
    let mut child = command.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&body).await?;
    }
    let out = child.wait_with_output().await?;
    Ok(cgi_response(&out.stdout))
}

/// Turns CGI output (headers, a blank line, the body) into an HTTP response.
fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return (StatusCode::BAD_GATEWAY, "fake-github: no CGI headers\n").into_response();
    };
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let body = out[end + sep..].to_vec();
    let mut status = StatusCode::OK;
    let mut builder = Response::builder();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(200);
            status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
        } else {
            builder = builder.header(name.trim(), value);
        }
    }
    builder
        .status(status)
        .body(axum::body::Body::from(body))
        .unwrap_or_else(|_| {
            (StatusCode::BAD_GATEWAY, "fake-github: bad CGI headers\n").into_response()
        })
}
