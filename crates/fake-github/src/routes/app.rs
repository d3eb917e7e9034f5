//! App-level routes: `/app`, the App's installations, installation tokens, repository
//! installation, installation repositories, manifest conversion and `/rate_limit`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::Extension;
use serde_json::{json, Value};

use axum::http::HeaderValue;

use super::{body_json, json, link_header, number, page_params, paginated, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shared::installation_permissions;
use crate::state::{level_rank, repo_key};
use crate::{render, util, TEST_APP_PRIVATE_KEY};

const DOCS_CREATE_TOKEN: &str =
    "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
const DOCS_REPO_INSTALLATION: &str =
    "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app";
const DOCS_MANIFEST: &str =
    "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest";

pub(super) async fn get_app(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    caller.require_app()?;
    let count = s.model().installations.len();
    Ok(json(200, render::app(&s, count)))
}

/// `GET /app/installations`: every installation of the App, oldest first, paginated like
/// GitHub's list (`per_page` default 30, at most 100, `Link`).
pub(super) async fn list_installations(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    caller.require_app()?;
    let query = query.unwrap_or_default();
    let items: Vec<Value> = s
        .model()
        .installations
        .values()
        .map(|i| render::installation(&s, i))
        .collect();
    Ok(paginated(&s, "/app/installations", &query, items))
}

pub(super) async fn create_token(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    Path(installation_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    caller.require_app()?;
    let installation_id = number(&installation_id, DOCS_CREATE_TOKEN)?;
    let req = body_json(&body, DOCS_CREATE_TOKEN)?;
    let now = SystemTime::now();
    let mut m = s.model();
    if !m.installations.contains_key(&installation_id) {
        return Err(ApiError::not_found(DOCS_CREATE_TOKEN));
    }

    // Requested permissions must be a subset of the installation's.
    let granted = installation_permissions();
    let permissions: BTreeMap<String, String> = match req.get("permissions") {
        Some(Value::Object(asked)) => {
            let mut out = BTreeMap::new();
            for (name, level) in asked {
                let level = level.as_str().unwrap_or_default();
                let ok = granted.get(name).is_some_and(|have| {
                    level_rank(have) >= level_rank(level) && level_rank(level) > 0
                });
                if !ok {
                    return Err(ApiError::new(
                        422,
                        "The permissions requested are not granted to this installation.",
                        DOCS_CREATE_TOKEN,
                    ));
                }
                out.insert(name.clone(), level.to_owned());
            }
            // Every token can read metadata.
            out.entry("metadata".to_owned())
                .or_insert_with(|| "read".to_owned());
            out
        }
        _ => granted,
    };

    // Optional restriction to some repositories, by name or id.
    let in_installation: Vec<(u64, String)> = m
        .repos
        .values()
        .filter(|r| r.installation_id == installation_id)
        .map(|r| (r.id, r.name.to_ascii_lowercase()))
        .collect();
    let mut repo_ids: Option<Vec<u64>> = None;
    let not_accessible = || {
        ApiError::new(
            422,
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            DOCS_CREATE_TOKEN,
        )
    };
    if let Some(Value::Array(names)) = req.get("repositories") {
        let ids = repo_ids.get_or_insert_with(Vec::new);
        for n in names {
            let n = n.as_str().unwrap_or_default().to_ascii_lowercase();
            let id = in_installation
                .iter()
                .find(|(_, name)| *name == n)
                .ok_or_else(not_accessible)?
                .0;
            ids.push(id);
        }
    }
    if let Some(Value::Array(wanted)) = req.get("repository_ids") {
        let ids = repo_ids.get_or_insert_with(Vec::new);
        for w in wanted {
            let w = w.as_u64().unwrap_or_default();
            if !in_installation.iter().any(|(id, _)| *id == w) {
                return Err(not_accessible());
            }
            ids.push(w);
        }
    }

    let (token, expires_at) = m.mint_token(
        installation_id,
        s.app.token_ttl,
        permissions.clone(),
        repo_ids.clone(),
        now,
    );
    let mut answer = json!({
        "token": token,
        "expires_at": util::rfc3339(expires_at),
        "permissions": permissions,
        "repository_selection": if repo_ids.is_some() { "selected" } else { "all" },
    });
    if let Some(ids) = repo_ids {
        answer["repositories"] = ids
            .iter()
            .filter_map(|id| m.repos.values().find(|r| r.id == *id))
            .map(|r| render::repo(&s, r))
            .collect();
    }
    Ok(json(201, answer))
}

pub(super) async fn repo_installation(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    caller.require_app()?;
    let m = s.model();
    let installation = m
        .repo(&repo_key(&owner, &repo))
        .and_then(|r| m.installations.get(&r.installation_id))
        .ok_or_else(|| ApiError::not_found(DOCS_REPO_INSTALLATION))?;
    Ok(json(200, render::installation(&s, installation)))
}

pub(super) async fn installation_repos(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let (installation_id, token) = caller.require_installation()?;
    let query = query.unwrap_or_default();
    let m = s.model();
    let repos: Vec<&crate::state::Repo> = m
        .repos
        .values()
        .filter(|r| r.installation_id == installation_id)
        .filter(|r| match &token.repo_ids {
            Some(ids) => ids.contains(&r.id),
            None => true,
        })
        .collect();
    let (per_page, page) = page_params(&query);
    let items: Vec<Value> = repos
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| render::repo(&s, r))
        .collect();
    let mut resp = json(
        200,
        json!({
            "total_count": repos.len(),
            "repository_selection": if token.repo_ids.is_some() { "selected" } else { "all" },
            "repositories": items,
        }),
    );
    let pages = repos.len().div_ceil(per_page).max(1);
    if let Some(link) = link_header(&s, "/installation/repositories", &query, page, pages) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    Ok(resp)
}

pub(super) async fn convert_manifest(
    axum::extract::State(s): S,
    Path(code): Path<String>,
) -> ApiResult {
    let mut m = s.model();
    let entry = m
        .manifest_codes
        .get_mut(&code)
        .filter(|c| !c.used)
        .ok_or_else(|| ApiError::not_found(DOCS_MANIFEST))?;
    entry.used = true;
    let (client_secret, webhook_secret) =
        (entry.client_secret.clone(), entry.webhook_secret.clone());
    let count = m.installations.len();
    drop(m);
    let mut answer = render::app(&s, count);
    answer["client_id"] = json!(s.app.client_id);
    answer["client_secret"] = json!(client_secret);
    answer["webhook_secret"] = json!(webhook_secret);
    answer["pem"] = json!(TEST_APP_PRIVATE_KEY);
    Ok(json(201, answer))
}

pub(super) async fn rate_limit(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    if matches!(caller, Caller::BadJwt(_) | Caller::BadToken) {
        return Err(ApiError::bad_credentials());
    }
    let now = util::epoch_secs(SystemTime::now());
    let mut m = s.model();
    m.rate.roll(now);
    let core = json!({
        "limit": crate::state::RATE_LIMIT,
        "used": m.rate.used,
        "remaining": m.rate.remaining(),
        "reset": m.rate.reset,
    });
    let other =
        |limit: u64| json!({ "limit": limit, "used": 0, "remaining": limit, "reset": now + 60 });
    Ok(json(
        200,
        json!({
            "resources": {
                "core": core,
                "search": other(30),
                "graphql": { "limit": 5000, "used": 0, "remaining": 5000, "reset": m.rate.reset },
                "integration_manifest": { "limit": 5000, "used": 0, "remaining": 5000, "reset": m.rate.reset },
                "code_search": other(10),
            },
            "rate": core,
        }),
    ))
}
