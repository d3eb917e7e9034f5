//! No credential in the GitHub door's logs, errors or Debug output. A test binary of its own:
//! tracing caches per call site whether anyone listens, so a scoped subscriber is only
//! reliable when no other test in the process hits the same call sites first.

use bosun::github::client::{GitHub, GitHubConfig, RetryPolicy};
use bosun_core::ids::{AppId, InstallationId, IssueNumber, RepoRef};
use fake_github::{FakeGitHub, Fault, TEST_APP_PRIVATE_KEY};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_credential_reaches_logs_errors_or_debug() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    // A current-thread runtime: every task of this test runs under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let run = async {
        let fake = FakeGitHub::start().await;
        let (_, installation) = fake.add_repo("octo/hello");
        let gh = GitHub::new(GitHubConfig {
            api_url: fake.url(),
            app_id: AppId(fake.app_id()),
            private_key_pem: TEST_APP_PRIVATE_KEY.to_string(),
            user_agent: "bosun-test".to_string(),
            retry: RetryPolicy {
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                ..RetryPolicy::default()
            },
        })
        .expect("client");
        let inst = gh.installation(InstallationId(installation));
        let repo = RepoRef::new("octo", "hello");
        let n = IssueNumber(fake.add_issue("octo/hello", "t", "b", "alice"));

        inst.get_issue(&repo, n).await.expect("issue");
        fake.expire_tokens();
        fake.inject(
            "GET",
            &format!("/repos/octo/hello/issues/{n}"),
            Fault::Status(401),
            2,
        );
        let err = inst.get_issue(&repo, n).await.expect_err("401");
        gh.app().await.expect("app");
        let token = inst.access_token().await.expect("token");

        let texts = [
            String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).to_string(),
            format!("{err} {err:?}"),
            format!("{gh:?} {inst:?} {token:?} {token}"),
        ];
        assert!(texts[0].contains("github call"), "debug events are emitted");
        assert!(token.expose().starts_with("ghs_"));
        for text in texts {
            // Installation tokens start with ghs_; JWTs (base64 of `{"`) with eyJ.
            assert!(!text.contains("ghs_"), "token leaked: {text}");
            assert!(!text.contains("eyJ"), "JWT leaked: {text}");
            assert!(!text.contains("PRIVATE KEY"), "key leaked: {text}");
        }
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("test exceeded its hard time limit");
}
