//! The route table and the helpers the handlers share (auth checks, body parsing, pagination).

mod app;
mod checks;
mod comments;
mod graphql;
mod hooks;
mod issue_writes;
mod issues;
mod labels;
mod oauth;
mod pulls;
mod repos;
mod review_comments;
mod reviews;
mod sub_issues;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{ApiError, DOCS_REST};
use crate::shared::Shared;
use crate::state::{repo_key, Model, Repo};
use crate::{middleware, util};

pub(crate) type S = axum::extract::State<Arc<Shared>>;

/// GitHub's documented limit on a label's name (the OpenAPI description states none).
pub(crate) const MAX_LABEL_CHARS: usize = 50;

/// Label names as sent to be added or created: none blank, none over 50 characters. The
/// wording of the "too long" answer follows GitHub's other length errors; it is not one seen
/// from GitHub for labels.
pub(crate) fn check_label_names<S: AsRef<str>>(names: &[S], docs: &str) -> Result<(), ApiError> {
    if names.iter().any(|n| n.as_ref().trim().is_empty()) {
        return Err(ApiError::validation(
            serde_json::json!([{ "resource": "Label", "code": "invalid", "field": "name" }]),
            docs,
        ));
    }
    if let Some(long) = names
        .iter()
        .find(|n| n.as_ref().trim().chars().count() > MAX_LABEL_CHARS)
    {
        return Err(ApiError::validation(
            serde_json::json!([{
                "resource": "Label",
                "code": "invalid",
                "field": "name",
                "message": format!(
                    "name is too long (maximum is {MAX_LABEL_CHARS} characters): {}",
                    long.as_ref().trim()
                ),
            }]),
            docs,
        ));
    }
    Ok(())
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/app", get(app::get_app))
        .route("/app/installations", get(app::list_installations))
        .route(
            "/app/installations/{installation_id}/access_tokens",
            post(app::create_token),
        )
        .route("/installation/repositories", get(app::installation_repos))
        .route(
            "/app-manifests/{code}/conversions",
            post(app::convert_manifest),
        )
        .route("/rate_limit", get(app::rate_limit))
        .route("/user", get(oauth::get_user))
        .route("/users/{username}", get(oauth::get_user_by_name))
        .route("/app/hook/deliveries", get(hooks::list))
        .route("/app/hook/deliveries/{id}/attempts", post(hooks::redeliver))
        .route("/repos/{owner}/{repo}", get(repos::get_repo))
        .route(
            "/repos/{owner}/{repo}/installation",
            get(app::repo_installation),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            get(repos::permission),
        )
        .route("/repos/{owner}/{repo}/contents", get(repos::contents_root))
        .route("/repos/{owner}/{repo}/contents/", get(repos::contents_root))
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(repos::contents),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(issues::list).post(issue_writes::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(issues::get).patch(issue_writes::update),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/sub_issues",
            get(sub_issues::list).post(sub_issues::add),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/sub_issue",
            delete(sub_issues::remove),
        )
        .route("/repos/{owner}/{repo}/labels", post(labels::create))
        .route("/repos/{owner}/{repo}/labels/{name}", get(labels::get))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(issues::list_labels).post(issues::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            delete(issues::remove_label),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments::list).post(comments::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            get(comments::get).patch(comments::update),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/reactions",
            post(comments::react_to_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            post(comments::react_to_comment),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(pulls::list).post(pulls::create),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}", get(pulls::get))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/comments",
            get(review_comments::list).post(review_comments::create),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/comments/{comment_id}",
            get(review_comments::get),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies",
            post(review_comments::reply),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(reviews::list).post(reviews::create),
        )
        .route("/graphql", post(graphql::post))
        .route("/repos/{owner}/{repo}/check-runs", post(checks::create))
        .route(
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            get(checks::get).patch(checks::update),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/check-runs",
            get(checks::list_for_ref),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(from_fn_with_state(shared.clone(), middleware::wrap))
        // git's smart HTTP sits outside the API middleware: its answers are not JSON.
        .merge(crate::git_http::routes())
        // So do the website's OAuth pages: github.com, not the API.
        .merge(oauth::web_routes())
        .with_state(shared)
}

async fn not_found() -> ApiError {
    ApiError::not_found(DOCS_REST)
}

/// A JSON answer with a status.
pub(crate) fn json(status: u16, value: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, Json(value)).into_response()
}

/// 422 `Invalid request.\n\n<detail>`: GitHub's answer when a body does not fit the schema.
pub(crate) fn invalid(detail: &str, docs: &str) -> ApiError {
    ApiError::new(422, &format!("Invalid request.\n\n{detail}"), docs)
}

/// A JSON value as GitHub's schema messages show it (`nil` for null).
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_owned(),
        other => other.to_string(),
    }
}

/// An optional string field of a body object; any other JSON type (null included) is a 422
/// `For 'properties/<field>', <value> is not a string.`
pub(crate) fn opt_string(
    o: &serde_json::Map<String, Value>,
    field: &str,
    docs: &str,
) -> Result<Option<String>, ApiError> {
    match o.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid(
            &format!("For 'properties/{field}', {} is not a string.", shown(v)),
            docs,
        )),
    }
}

/// An optional boolean field, checked like [`opt_string`].
pub(crate) fn opt_bool(
    o: &serde_json::Map<String, Value>,
    field: &str,
    docs: &str,
) -> Result<Option<bool>, ApiError> {
    match o.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid(
            &format!("For 'properties/{field}', {} is not a boolean.", shown(v)),
            docs,
        )),
    }
}

/// An optional integer field, checked like [`opt_string`].
pub(crate) fn opt_u64(
    o: &serde_json::Map<String, Value>,
    field: &str,
    docs: &str,
) -> Result<Option<u64>, ApiError> {
    match o.get(field) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            invalid(
                &format!("For 'properties/{field}', {} is not an integer.", shown(v)),
                docs,
            )
        }),
    }
}

/// An optional string field that must be one of `allowed` (GitHub's enum message otherwise).
pub(crate) fn opt_member(
    o: &serde_json::Map<String, Value>,
    field: &str,
    allowed: &[&str],
    docs: &str,
) -> Result<Option<String>, ApiError> {
    let Some(v) = opt_string(o, field, docs)? else {
        return Ok(None);
    };
    if allowed.contains(&v.as_str()) {
        return Ok(Some(v));
    }
    let members: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
    Err(invalid(
        &format!(
            "For 'properties/{field}', \"{v}\" is not a member of [{}].",
            members.join(", ")
        ),
        docs,
    ))
}

/// 422 for required fields that are absent: `"a" wasn't supplied.` / `"a", "b" weren't supplied.`
pub(crate) fn not_supplied(fields: &[&str], docs: &str) -> ApiError {
    let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
    let verb = if fields.len() == 1 {
        "wasn't"
    } else {
        "weren't"
    };
    invalid(&format!("{} {verb} supplied.", quoted.join(", ")), docs)
}

/// Issue and comment numbers in paths; anything else is an unknown resource.
pub(crate) fn number(raw: &str, docs: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(docs))
}

/// Parses a JSON request body; an empty body counts as `{}`.
pub(crate) fn body_json(body: &[u8], docs: &str) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::parse_json(docs))
}

/// Checks that the caller is an installation allowed to use `permission` at `level` on the
/// repository `owner/name`, and that the repository exists. Returns the repository key.
pub(crate) fn authorize(
    model: &Model,
    caller: &Caller,
    owner: &str,
    name: &str,
    permission: &str,
    level: &str,
    docs: &str,
) -> Result<String, ApiError> {
    let (installation_id, token) = caller.require_installation()?;
    let key = repo_key(owner, name);
    let repo = model.repo(&key).ok_or_else(|| ApiError::not_found(docs))?;
    let selected = match &token.repo_ids {
        Some(ids) => ids.contains(&repo.id),
        None => true,
    };
    let in_scope = repo.installation_id == installation_id && selected;
    if level == "write" && !in_scope {
        return Err(ApiError::not_accessible(docs));
    }
    if !token.allows(permission, level) {
        return Err(ApiError::not_accessible(docs));
    }
    Ok(key)
}

pub(crate) fn repo_or_404<'a>(
    model: &'a Model,
    key: &str,
    docs: &str,
) -> Result<&'a Repo, ApiError> {
    model.repo(key).ok_or_else(|| ApiError::not_found(docs))
}

/// Page size and page number from a query string (`per_page` 30 by default, at most 100).
pub(crate) fn page_params(query: &str) -> (usize, usize) {
    let mut per_page = 30;
    let mut page = 1;
    for (k, v) in util::query_pairs(query) {
        match k.as_str() {
            "per_page" => per_page = v.parse().unwrap_or(30).clamp(1, 100),
            "page" => page = v.parse().unwrap_or(1).max(1),
            _ => {}
        }
    }
    (per_page, page)
}

/// Answers one page of `items` with GitHub's `Link` header (`prev`/`next`/`last`/`first`).
pub(crate) fn paginated(s: &Shared, path: &str, query: &str, items: Vec<Value>) -> Response {
    paginated_with(s, path, query, items, Value::Array)
}

/// Like [`paginated`], for answers that wrap the page in an object, e.g.
/// `{"total_count": N, "check_runs": [...]}` (`total_count` counts every page).
pub(crate) fn paginated_in(
    s: &Shared,
    path: &str,
    query: &str,
    field: &str,
    items: Vec<Value>,
) -> Response {
    let total = items.len();
    paginated_with(s, path, query, items, |page| {
        let mut o = serde_json::Map::new();
        o.insert("total_count".to_owned(), Value::from(total));
        o.insert(field.to_owned(), Value::Array(page));
        Value::Object(o)
    })
}

fn paginated_with(
    s: &Shared,
    path: &str,
    query: &str,
    items: Vec<Value>,
    wrap: impl FnOnce(Vec<Value>) -> Value,
) -> Response {
    let (per_page, page) = page_params(query);
    let total_pages = items.len().div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut resp = json(200, wrap(page_items));
    if let Some(link) = link_header(s, path, query, page, total_pages) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    resp
}

/// Runs blocking work (the `git` CLI) off the async workers; a failure is a 500 whose message
/// says what went wrong (a test set-up problem, e.g. `clone_url` is not a git repository).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    let server_error = |e: String| ApiError::new(500, &format!("fake-github: {e}"), DOCS_REST);
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| server_error(e.to_string()))?
        .map_err(server_error)
}

/// Adds `Location: {url}` to a creation answer.
pub(crate) fn with_location(mut resp: Response, url: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(url) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    resp
}

/// The `Link` header for `page` of `total` pages; `None` when everything fits on one page.
pub(crate) fn link_header(
    s: &Shared,
    path: &str,
    query: &str,
    page: usize,
    total: usize,
) -> Option<String> {
    if total <= 1 && page <= 1 {
        return None;
    }
    // Keep the caller's parameters as sent, in order; only `page` is replaced (appended last).
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("page"))
        .collect();
    let url = |n: usize| {
        let mut q = kept.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        format!("<{}{path}?{q}page={n}>", s.base)
    };
    let mut rels = Vec::new();
    if page > 1 {
        rels.push(format!(
            "{}; rel=\"prev\"",
            url((page - 1).min(total.max(1)))
        ));
    }
    if page < total {
        rels.push(format!("{}; rel=\"next\"", url(page + 1)));
        rels.push(format!("{}; rel=\"last\"", url(total)));
    }
    if page > 1 {
        rels.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(rels.join(", "))
}
