//! What every handler can reach: the App's identity, the base URL, the JWT key and the model.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use jsonwebtoken::DecodingKey;

use crate::state::Model;
use crate::FakeOptions;

/// The fake App's identity.
#[derive(Debug, Clone)]
pub(crate) struct AppInfo {
    pub id: u64,
    pub slug: String,
    pub client_id: String,
    /// The App's OAuth client secret (random per fake).
    pub client_secret: String,
    /// The bot user's id (fixed per App id).
    pub bot_id: u64,
    pub token_ttl: Duration,
}

impl AppInfo {
    pub fn new(opts: &FakeOptions) -> Self {
        AppInfo {
            id: opts.app_id,
            slug: opts.app_slug.clone(),
            client_id: format!("Iv1.{:016x}", opts.app_id.wrapping_mul(0x9e37_79b9)),
            client_secret: crate::util::random_hex(40),
            bot_id: bot_user_id(opts.app_id),
            token_ttl: opts.token_ttl,
        }
    }

    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// The bot user id for an App id.
pub(crate) fn bot_user_id(app_id: u64) -> u64 {
    100_000_000 + app_id
}

/// The permissions every installation of the fake App has.
pub(crate) fn installation_permissions() -> BTreeMap<String, String> {
    [
        ("checks", "write"),
        ("contents", "write"),
        ("issues", "write"),
        ("metadata", "read"),
        ("pull_requests", "write"),
        ("statuses", "write"),
        ("workflows", "write"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The events the fake App subscribes to.
pub(crate) const APP_EVENTS: &[&str] = &[
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
];

pub(crate) struct Shared {
    pub app: AppInfo,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub key: DecodingKey,
    pub started: SystemTime,
    model: Mutex<Model>,
}

impl Shared {
    pub fn new(opts: &FakeOptions, base: String) -> Self {
        let key = DecodingKey::from_rsa_pem(opts.public_key_pem.as_bytes())
            .expect("fake-github: FakeOptions.public_key_pem is not a valid RSA public key PEM");
        let started = SystemTime::now();
        Shared {
            app: AppInfo::new(opts),
            base,
            key,
            started,
            model: Mutex::new(Model::new(started)),
        }
    }

    /// Locks the model. Never hold the guard across an `.await`.
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}
