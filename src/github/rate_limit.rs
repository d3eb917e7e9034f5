//! GitHub's rate limits. A primary limit (the hourly quota) is announced by
//! `x-ratelimit-remaining: 0` and lifts at `x-ratelimit-reset` (epoch seconds); a secondary
//! limit (too much too fast) comes as 403/429 with `retry-after` or, lacking it, a message,
//! and GitHub asks for at least a minute's pause. Once seen, a limit is remembered per
//! credential so the next call waits instead of spending another request on a refusal.

use crate::locks::lock;
use http::header::HeaderMap;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// GitHub's advice when a secondary limit comes without `retry-after`.
pub const DEFAULT_SECONDARY_WAIT: Duration = Duration::from_secs(60);

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// For a primary quota that is used up (`remaining: 0`), how long until it resets. Seen on a
/// success too: the call that spent the last unit.
pub fn exhausted_for(headers: &HeaderMap, now_unix: u64) -> Option<Duration> {
    if header_u64(headers, "x-ratelimit-remaining")? != 0 {
        return None;
    }
    let reset = header_u64(headers, "x-ratelimit-reset")?;
    Some(Duration::from_secs(reset.saturating_sub(now_unix)))
}

/// If this 403/429 is a rate limit, how long to wait before trying again. `None` means it is
/// an ordinary refusal (permissions).
pub fn limited_for(
    status: u16,
    headers: &HeaderMap,
    message: &str,
    now_unix: u64,
) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if let Some(wait) = exhausted_for(headers, now_unix) {
        return Some(wait);
    }
    if status == 429 || message.to_ascii_lowercase().contains("rate limit") {
        return Some(DEFAULT_SECONDARY_WAIT);
    }
    None
}

/// Remembers, per credential, until when GitHub asked us to stay quiet.
#[derive(Debug)]
pub struct RateGate<K> {
    until: Mutex<HashMap<K, Instant>>,
}

impl<K> Default for RateGate<K> {
    fn default() -> Self {
        RateGate {
            until: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone> RateGate<K> {
    /// Stay quiet on `key` for `wait` from now (a longer earlier block is kept).
    pub fn block(&self, key: &K, wait: Duration) {
        let until = Instant::now() + wait;
        let mut map = lock(&self.until);
        let entry = map.entry(key.clone()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// How long `key` must still wait, if at all.
    pub fn remaining(&self, key: &K) -> Option<Duration> {
        let mut map = lock(&self.until);
        let until = *map.get(key)?;
        let now = Instant::now();
        if until <= now {
            map.remove(key);
            return None;
        }
        Some(until - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn secondary_limit_uses_retry_after_even_with_quota_left() {
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "14")]);
        assert_eq!(limited_for(403, &h, "", 0), Some(Duration::from_secs(7)));
        assert_eq!(limited_for(429, &h, "", 0), Some(Duration::from_secs(7)));
    }

    #[test]
    fn primary_limit_waits_until_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1000"),
        ]);
        assert_eq!(
            limited_for(403, &h, "", 900),
            Some(Duration::from_secs(100))
        );
        // A reset already in the past means: go now.
        assert_eq!(limited_for(403, &h, "", 2000), Some(Duration::ZERO));
        assert_eq!(exhausted_for(&h, 990), Some(Duration::from_secs(10)));
    }

    #[test]
    fn message_only_secondary_limit_waits_a_minute() {
        let msg = "You have exceeded a secondary rate limit and have been temporarily blocked";
        assert_eq!(
            limited_for(403, &HeaderMap::new(), msg, 0),
            Some(DEFAULT_SECONDARY_WAIT)
        );
        assert_eq!(
            limited_for(
                403,
                &HeaderMap::new(),
                "API Rate Limit Exceeded for 1.2.3.4",
                0
            ),
            Some(DEFAULT_SECONDARY_WAIT)
        );
        assert_eq!(
            limited_for(429, &HeaderMap::new(), "", 0),
            Some(DEFAULT_SECONDARY_WAIT)
        );
    }

    #[test]
    fn plain_forbidden_and_other_statuses_are_not_limits() {
        let quota_left = headers(&[
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-reset", "1"),
        ]);
        assert_eq!(
            limited_for(
                403,
                &quota_left,
                "Resource not accessible by integration",
                0
            ),
            None
        );
        assert_eq!(
            limited_for(500, &headers(&[("retry-after", "1")]), "", 0),
            None
        );
        assert_eq!(exhausted_for(&quota_left, 0), None);
        let garbage = headers(&[("retry-after", "soon")]);
        assert_eq!(limited_for(403, &garbage, "", 0), None);
    }

    #[test]
    fn gate_remembers_per_key_and_expires() {
        let gate = RateGate::default();
        gate.block(&1u8, Duration::from_secs(60));
        gate.block(&1u8, Duration::from_secs(1)); // shorter: the longer block stays
        assert!(gate
            .remaining(&1u8)
            .is_some_and(|d| d > Duration::from_secs(50)));
        assert_eq!(gate.remaining(&2u8), None);
        gate.block(&3u8, Duration::ZERO);
        assert_eq!(gate.remaining(&3u8), None);
    }
}
