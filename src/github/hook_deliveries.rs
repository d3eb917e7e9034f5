//! The App's webhook delivery log (`GET /app/hook/deliveries`, App JWT) and redelivery
//! (`POST /app/hook/deliveries/{id}/attempts`): how bosun recovers deliveries it missed.

use http::header::LINK;
use http::Method;
use octocrab::models::hooks::Delivery;
use octocrab::models::webhook_events::WebhookEventType;

use super::client::GitHub;
use super::error::GitHubError;
use super::link;
use super::transport::{Auth, Call};
use bosun_core::ids::DeliveryId;

/// Pages read per sweep at most (100 deliveries each, newest first).
const MAX_PAGES: usize = 20;

/// One attempt to deliver a webhook, as GitHub logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: DeliveryId,
    pub delivered_at: chrono::DateTime<chrono::Utc>,
    pub redelivery: bool,
    /// What bosun answered; 0 when GitHub could not reach it.
    pub status_code: u16,
    pub event: String,
}

impl HookDelivery {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// GitHub's name of the event (`issues`, `issue_comment`…), as the webhook header gives it.
fn event_name(event: Option<&WebhookEventType>) -> String {
    event
        .and_then(|e| serde_json::to_value(e).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl GitHub {
    /// Deliveries newer than `since`, newest first (following `Link: rel="next"` cursors).
    pub async fn hook_deliveries(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<HookDelivery>, GitHubError> {
        let transport = &self.inner.transport;
        let mut url = transport.url(&["app", "hook", "deliveries"])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut next = Some(url);
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let reply = transport
                .send(&Call::new(Method::GET, url, Auth::App))
                .await?;
            let page = reply.json::<Vec<Delivery>>()?;
            let older = page.iter().any(|d| d.delivered_at < since);
            out.extend(
                page.into_iter()
                    .filter(|d| d.delivered_at >= since)
                    .map(|d| HookDelivery {
                        id: d.id.0,
                        guid: DeliveryId(d.guid),
                        delivered_at: d.delivered_at,
                        redelivery: d.redelivery,
                        status_code: u16::try_from(d.status_code).unwrap_or(0),
                        event: event_name(d.event.as_ref()),
                    }),
            );
            if older || pages >= MAX_PAGES {
                break;
            }
            if let Some(link) = reply
                .headers
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(link::next_url)
            {
                next = Some(transport.follow(&link)?);
            }
        }
        Ok(out)
    }

    /// Asks GitHub to deliver `id` again.
    pub async fn redeliver(&self, id: u64) -> Result<(), GitHubError> {
        let transport = &self.inner.transport;
        let url = transport.url(&["app", "hook", "deliveries", &id.to_string(), "attempts"])?;
        transport
            .send(&Call::new(Method::POST, url, Auth::App))
            .await?;
        Ok(())
    }
}
