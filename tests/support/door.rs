//! The GitHub door alone against the fake GitHub, without a bosun server: a client with a fast
//! retry policy and one repository with the App installed, for the door's own tests
//! (`github_door.rs`, `github_real_behaviour.rs`).

use std::future::Future;
use std::time::Duration;

use bosun::github::client::{GitHub, GitHubConfig, Installation, RetryPolicy};
use bosun_core::ids::{AppId, InstallationId, RepoRef};
use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};

/// The repository every door test works in.
pub const DOOR_REPO: &str = "octo/hello";
/// Every door test finishes well within this; a hang fails instead of blocking CI.
const HARD_LIMIT: Duration = Duration::from_secs(30);

pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(HARD_LIMIT, f)
        .await
        .expect("test exceeded its hard time limit")
}

/// Retries and waits short enough for a test, the same in kind as production's.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_rate_limit_wait: Duration::from_secs(5),
        content_limit_wait: Duration::from_millis(20),
    }
}

pub struct World {
    pub fake: FakeGitHub,
    pub gh: GitHub,
    pub inst: Installation,
    pub repo: RepoRef,
    pub installation_id: u64,
}

pub async fn world() -> World {
    let fake = FakeGitHub::start().await;
    let (_, installation_id) = fake.add_repo(DOOR_REPO);
    let gh = GitHub::new(GitHubConfig {
        api_url: fake.url(),
        app_id: AppId(fake.app_id()),
        private_key_pem: TEST_APP_PRIVATE_KEY.to_string(),
        user_agent: "bosun-test".to_string(),
        retry: fast_policy(),
    })
    .expect("client");
    let inst = gh.installation(InstallationId(installation_id));
    World {
        fake,
        gh,
        inst,
        repo: RepoRef::new("octo", "hello"),
        installation_id,
    }
}

/// How many `method` requests for `path` the fake answered.
pub fn count(fake: &FakeGitHub, method: &str, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}
