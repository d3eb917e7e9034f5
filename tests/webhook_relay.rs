//! A bosun GitHub cannot reach follows a webhook relay channel (`BOSUN_WEBHOOK_PROXY_URL`),
//! as Probot does with smee.io. The relay here is a local SSE server speaking smee.io's
//! message format; what it relays goes through bosun's own `/webhook`: a forged delivery is
//! refused, a signed one becomes a task. After the relay drops the connection, bosun comes
//! back and goes on.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bosun::github::signature::sign;
use bosun_core::ids::DeliveryId;
use support::*;
use tokio::sync::mpsc;

/// The relay: every connection gets the events pushed after it connected.
#[derive(Clone, Default)]
struct Relay {
    listeners: Arc<Mutex<Vec<mpsc::UnboundedSender<Event>>>>,
    connections: Arc<Mutex<usize>>,
}

impl Relay {
    fn push(&self, event: Event) {
        for l in self.listeners.lock().unwrap().iter() {
            let _ = l.send(event.clone());
        }
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Ends every open connection, as a relay restarting does.
    fn drop_connections(&self) {
        self.listeners.lock().unwrap().clear();
    }
}

async fn channel(
    State(relay): State<Relay>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(Event::default().event("ready").data("{}"));
    relay.listeners.lock().unwrap().push(tx);
    *relay.connections.lock().unwrap() += 1;
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream)
}

async fn start_relay() -> (Relay, String) {
    let relay = Relay::default();
    let app = axum::Router::new()
        .route("/channel-7f3a", get(channel))
        .with_state(relay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/channel-7f3a", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (relay, url)
}

/// A delivery as smee.io relays it: the headers in lower case beside the body as JSON.
fn relayed(event: &str, delivery: &str, body: &[u8], signature: &str) -> Event {
    let body: serde_json::Value = serde_json::from_slice(body).unwrap();
    let message = serde_json::json!({
        "host": "smee.io",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": signature,
        "content-type": "application/json",
        "body": body,
        "query": {},
        "timestamp": 1,
    });
    Event::default().data(message.to_string())
}

async fn stored(app: &TestApp, delivery: &str) -> bool {
    app.db()
        .delivery_state(&DeliveryId(delivery.into()))
        .await
        .unwrap()
        .is_some()
}

async fn until(mut what: impl FnMut() -> bool) {
    while !what() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_through_a_relay_are_verified_and_handled_like_direct_ones() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let (relay, url) = start_relay().await;
        let app = TestApp::start_with(|c| c.webhook_proxy_url = Some(url)).await;
        until(|| relay.connections() == 1).await;

        let issue = app.github.add_issue(REPO, "Relayed", "do it", "octocat");
        app.github.set_permission(REPO, "octocat", "write");
        // The body as the relay writes it (compact JSON), signed over those very bytes.
        let body = serde_json::to_vec(&labeled(&app, issue, "bosun", "octocat")).unwrap();
        let compact =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap())
                .unwrap();
        relay.push(relayed(
            "issues",
            "d-forged",
            &compact,
            &sign("not-the-secret", &compact),
        ));
        relay.push(relayed(
            "issues",
            "d-relayed",
            &compact,
            &sign(SECRET, &compact),
        ));

        let gh = &app.github;
        assert!(
            gh.wait_until(
                |gh| has_label(gh, issue, "bosun:in-progress")
                    || has_label(gh, issue, "bosun:done"),
                TEST_TIMEOUT
            )
            .await,
            "the relayed trigger made a task"
        );
        assert!(stored(&app, "d-relayed").await);
        // Handed over in order: the forged one came first, and was refused.
        assert!(!stored(&app, "d-forged").await);

        // The relay restarts: bosun follows the channel again and goes on.
        relay.drop_connections();
        until(|| relay.connections() == 2).await;
        // Signed over the bytes the relay writes (its JSON, keys in its order).
        let ping = br#"{"hook_id":1,"zen":"Keep it logically awesome."}"#;
        relay.push(relayed("ping", "d-after", ping, &sign(SECRET, ping)));
        let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
        while !stored(&app, "d-after").await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the relayed ping never came"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
