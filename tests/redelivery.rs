//! Missed webhooks: bosun reads the App's delivery log on the fake GitHub and asks, once per
//! delivery, for the redelivery of what failed and never reached it.

mod support;

use support::*;

/// Waits until `n` more sweeps have begun (each begins by reading the delivery log), so the
/// `n - 1` before the last are over.
async fn sweeps_begun(app: &TestApp, n: usize) {
    let sweeps = |gh: &fake_github::FakeGitHub| {
        gh.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/app/hook/deliveries")
            .count()
    };
    let now = sweeps(&app.github);
    assert!(
        app.github
            .wait_until(|gh| sweeps(gh) >= now + n, TEST_TIMEOUT)
            .await,
        "the sweeps stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_redelivered_once_each() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let mut ids = Vec::new();
        let app = TestApp::start_custom(
            |gh| {
                ids.push(gh.add_hook_delivery("g-ok", "issues", Some("opened"), 202));
                ids.push(gh.add_hook_delivery("g-down", "issues", Some("labeled"), 0));
                ids.push(gh.add_hook_delivery("g-502", "issue_comment", Some("created"), 502));
                ids.push(gh.add_hook_delivery("g-502", "issue_comment", Some("created"), 502));
                ids.push(gh.add_hook_delivery("g-ping", "ping", None, 502));
                // Failed once, then a redelivery reached bosun.
                ids.push(gh.add_hook_delivery("g-late", "issues", Some("opened"), 503));
                ids.push(gh.add_hook_delivery("g-late", "issues", Some("opened"), 202));
            },
            |c| c.redelivery_sweep_secs = 1,
        )
        .await;
        let (down, second_502) = (ids[1], ids[3]);
        let asked = |gh: &fake_github::FakeGitHub| gh.redelivery_requests().len() >= 2;
        assert!(
            app.github.wait_until(asked, TEST_TIMEOUT).await,
            "{:?}",
            app.github.redelivery_requests()
        );

        // A delivery bosun stored itself, logged as failed (its answer was lost on the way back).
        let stored = fixture("issues", "opened.payload.json");
        assert_eq!(
            app.send_json("issues", "g-stored", &stored).await.status(),
            202
        );
        app.settle().await;
        app.github
            .add_hook_delivery("g-stored", "issues", Some("opened"), 0);

        // Two more whole sweeps (the third read of the log begins after the second ended):
        // nothing is asked twice, nothing bosun has is asked for.
        sweeps_begun(&app, 3).await;
        let mut requests = app.github.redelivery_requests();
        requests.sort_unstable();
        let mut expected = vec![down, second_502];
        expected.sort_unstable();
        assert_eq!(
            requests, expected,
            "each failed delivery once, for its latest attempt"
        );
        app.finish().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_github_will_not_redeliver_does_not_stop_the_others() {
    tokio::time::timeout(TEST_TIMEOUT * 2, async {
        let mut ids = Vec::new();
        let app = TestApp::start_custom(
            |gh| {
                ids.push(gh.add_hook_delivery("g-older", "issues", Some("labeled"), 502));
                // Newest first in the log: this one is asked for first, and refused.
                ids.push(gh.add_hook_delivery("g-refused", "issues", Some("opened"), 0));
                gh.inject(
                    "POST",
                    &format!("/app/hook/deliveries/{}/attempts", 1_001),
                    fake_github::Fault::Status(422),
                    usize::MAX,
                );
            },
            |c| c.redelivery_sweep_secs = 1,
        )
        .await;
        let (older, refused) = (ids[0], ids[1]);
        assert_eq!(refused, 1_001, "the fault was set for this id");
        let asked = |gh: &fake_github::FakeGitHub| gh.redelivery_requests().contains(&older);
        assert!(
            app.github.wait_until(asked, TEST_TIMEOUT).await,
            "the sweep went on past the refusal: {:?}",
            app.github.requests()
        );
        let attempts = |gh: &fake_github::FakeGitHub, id: u64| {
            gh.requests()
                .iter()
                .filter(|r| r.path == format!("/app/hook/deliveries/{id}/attempts"))
                .map(|r| r.status)
                .collect::<Vec<u16>>()
        };
        // Two more sweeps: the refused delivery is not asked again.
        sweeps_begun(&app, 2).await;
        assert_eq!(attempts(&app.github, refused), [422], "asked once");
        let position = |id: u64| {
            app.github
                .requests()
                .iter()
                .position(|r| r.path == format!("/app/hook/deliveries/{id}/attempts"))
        };
        assert!(
            position(refused) < position(older),
            "the refusal came first, and the sweep went on"
        );
        assert_eq!(app.github.redelivery_requests(), [older]);
        app.finish().await;
    })
    .await
    .expect("test timed out");
}
