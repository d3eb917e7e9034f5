//! The App's webhook delivery log: `GET /app/hook/deliveries` (newest first, cursor-paginated
//! with `Link: <…&cursor=…>; rel="next"`) and `POST /app/hook/deliveries/{id}/attempts`
//! (redelivery: recorded, answered 202). Tests fill the log with `FakeGitHub::add_hook_delivery`.

use axum::extract::{Path, RawQuery};
use axum::http::HeaderValue;
use axum::Extension;
use serde_json::{json, Value};

use super::{json, number, S};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::util;

const DOCS_LIST: &str =
    "https://docs.github.com/rest/apps/webhooks#list-deliveries-for-an-app-webhook";
const DOCS_REDELIVER: &str =
    "https://docs.github.com/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook";

pub(super) async fn list(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    caller.require_app()?;
    let query = query.unwrap_or_default();
    let mut per_page = 30;
    let mut cursor: Option<u64> = None;
    for (k, v) in util::query_pairs(&query) {
        match k.as_str() {
            "per_page" => per_page = v.parse().unwrap_or(30).clamp(1, 100),
            "cursor" => cursor = v.parse().ok(),
            _ => {}
        }
    }
    let m = s.model();
    // Newest first; the cursor is the id of the last item of the previous page.
    let mut all: Vec<&crate::HookDeliveryRecord> = m.hook_deliveries.iter().collect();
    all.sort_by_key(|d| std::cmp::Reverse(d.id));
    let page: Vec<Value> = all
        .iter()
        .filter(|d| cursor.is_none_or(|c| d.id < c))
        .take(per_page)
        .map(|d| {
            json!({
                "id": d.id, "guid": d.guid, "delivered_at": util::rfc3339(d.delivered_at),
                "redelivery": d.redelivery, "duration": 0.27,
                "status": if (200..300).contains(&d.status_code) { "OK" } else { "Invalid HTTP Response: 502" },
                "status_code": d.status_code, "event": d.event, "action": d.action,
                "installation_id": d.installation_id, "repository_id": d.repository_id,
                "throttled_at": null,
            })
        })
        .collect();
    let last = page.last().and_then(|v| v["id"].as_u64());
    let more = last.is_some_and(|last| all.iter().any(|d| d.id < last));
    let mut resp = json(200, Value::Array(page));
    if let (true, Some(last)) = (more, last) {
        let link = format!(
            "<{}/app/hook/deliveries?per_page={per_page}&cursor={last}>; rel=\"next\"",
            s.base
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    Ok(resp)
}

pub(super) async fn redeliver(
    axum::extract::State(s): S,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require_app()?;
    let id = number(&id, DOCS_REDELIVER)?;
    let mut m = s.model();
    if !m.hook_deliveries.iter().any(|d| d.id == id) {
        return Err(ApiError::not_found(DOCS_LIST));
    }
    m.redelivery_requests.push(id);
    Ok(json(202, json!({})))
}
