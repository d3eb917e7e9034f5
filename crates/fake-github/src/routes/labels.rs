//! A repository's labels: `GET /repos/{o}/{r}/labels/{name}` and `POST /repos/{o}/{r}/labels`
//! (`issues/get-label`, `issues/create-label`). Names are matched without regard to case, as
//! on GitHub; an existing name is 422 `already_exists`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Extension;
use serde_json::{json, Value};

use super::{authorize, body_json, check_label_names, json, opt_string, repo_or_404, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render;

const DOCS_GET: &str = "https://docs.github.com/rest/issues/labels#get-a-label";
const DOCS_CREATE: &str = "https://docs.github.com/rest/issues/labels#create-a-label";

pub(super) async fn get(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name, label)): Path<(String, String, String)>,
) -> ApiResult {
    let m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "read", DOCS_GET)?;
    let repo = repo_or_404(&m, &key, DOCS_GET)?;
    let found = repo
        .label_by_name(&label)
        .ok_or_else(|| ApiError::not_found(DOCS_GET))?;
    Ok(json(200, render::label(&s, repo, found)))
}

pub(super) async fn create(
    State(s): S,
    Extension(caller): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let v = body_json(&body, DOCS_CREATE)?;
    let Value::Object(o) = &v else {
        return Err(ApiError::parse_json(DOCS_CREATE));
    };
    let label = opt_string(o, "name", DOCS_CREATE)?
        .ok_or_else(|| ApiError::missing_field("name", DOCS_CREATE))?;
    check_label_names(&[&label], DOCS_CREATE)?;
    let color = opt_string(o, "color", DOCS_CREATE)?.unwrap_or_else(|| "ededed".to_owned());
    let description = opt_string(o, "description", DOCS_CREATE)?;
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100)
    {
        return Err(ApiError::validation(
            json!([{ "resource": "Label", "code": "invalid", "field": "description" }]),
            DOCS_CREATE,
        ));
    }
    let mut m = s.model();
    let key = authorize(&m, &caller, &owner, &name, "issues", "write", DOCS_CREATE)?;
    let made = m
        .create_label(&key, label.trim(), &color, description)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    let Some(id) = made else {
        return Err(ApiError::validation(
            json!([{ "resource": "Label", "code": "already_exists", "field": "name" }]),
            DOCS_CREATE,
        ));
    };
    let repo = repo_or_404(&m, &key, DOCS_CREATE)?;
    let created = repo
        .label(id)
        .ok_or_else(|| ApiError::not_found(DOCS_CREATE))?;
    Ok(json(201, render::label(&s, repo, created)))
}
