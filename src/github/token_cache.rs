//! Installation access tokens, cached per installation. A token is reused until less than
//! five minutes of its hour remain. Each installation has its own async mutex held across the
//! mint, so a burst of first calls produces one token, not one per caller, and installations
//! never wait on each other.

use super::secret::Secret;
use crate::locks::lock;
use bosun_core::ids::InstallationId;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Refresh when less than this remains: long enough for a slow multi-call operation (or a
/// `git push` with the token) to finish on the old one.
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// An installation token and when GitHub says it expires.
#[derive(Clone, Debug)]
pub struct InstallationToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

impl InstallationToken {
    fn fresh_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > REFRESH_MARGIN
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

#[derive(Default, Debug)]
pub struct TokenCache {
    slots: Mutex<HashMap<InstallationId, Slot>>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, id: InstallationId) -> Slot {
        let mut slots = lock(&self.slots);
        slots.entry(id).or_default().clone()
    }

    /// A token still valid for more than [`REFRESH_MARGIN`], minting one with `mint` if needed.
    /// Concurrent callers for one installation wait for the single mint in progress.
    pub async fn get_or_mint<F, Fut, E>(&self, id: InstallationId, mint: F) -> Result<Secret, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<InstallationToken, E>>,
    {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| t.fresh_at(Utc::now())) {
            return Ok(t.token.clone());
        }
        let minted = mint().await?;
        let token = minted.token.clone();
        *cached = Some(minted);
        Ok(token)
    }

    /// Forgets the installation's token, whatever it is.
    pub async fn invalidate(&self, id: InstallationId) {
        *self.slot(id).lock().await = None;
    }

    /// Forgets the token only if it is still `stale`: when many requests get a 401 for the
    /// same token, the first drops it and the rest reuse the replacement instead of each
    /// minting their own.
    pub async fn invalidate_if_current(&self, id: InstallationId, stale: &Secret) {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| &t.token == stale) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn token(name: &str, minutes: i64) -> InstallationToken {
        InstallationToken {
            token: Secret::new(name),
            expires_at: Utc::now() + chrono::Duration::minutes(minutes),
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_mint() {
        let cache = Arc::new(TokenCache::new());
        let mints = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, mints) = (cache.clone(), mints.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_mint(InstallationId(1), || async {
                        mints.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Ok::<_, ()>(token("t1", 60))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("join").expect("token").expose(), "t1");
        }
        assert_eq!(mints.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn near_expiry_is_refreshed_and_invalidate_is_conditional() {
        let cache = TokenCache::new();
        let id = InstallationId(2);
        let t = cache
            .get_or_mint(id, || async { Ok::<_, ()>(token("short", 4)) })
            .await;
        assert_eq!(t.expect("mint").expose(), "short");
        // 4 minutes left < 5 minute margin: minted again.
        let t = cache
            .get_or_mint(id, || async { Ok::<_, ()>(token("long", 60)) })
            .await;
        assert_eq!(t.expect("mint").expose(), "long");
        // A 401 for an older token must not drop the newer one.
        cache.invalidate_if_current(id, &Secret::new("short")).await;
        let t = cache
            .get_or_mint(id, || async { Err::<InstallationToken, _>(()) })
            .await;
        assert_eq!(t.expect("cached").expose(), "long");
        cache.invalidate(id).await;
        let t = cache
            .get_or_mint(id, || async { Ok::<_, ()>(token("new", 60)) })
            .await;
        assert_eq!(t.expect("mint").expose(), "new");
    }
}
