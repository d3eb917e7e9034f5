//! When a request may be sent again, and how long to wait first.

use http::Method;
use rand::Rng;
use std::time::Duration;

/// How hard the client tries before giving up. `Default` is for production; tests shorten it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent for one call, first try included (a 401 refresh adds one more).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time.
    pub base_delay: Duration,
    /// Backoff never exceeds this.
    pub max_delay: Duration,
    /// Longest rate-limit pause we sit through; beyond it the call fails with `RateLimited`
    /// and the job queue reschedules it.
    pub max_rate_limit_wait: Duration,
    /// First pause after GitHub's content-creation limit refused a write (422 "was submitted
    /// too quickly", which gives no reset time); doubles each time up to
    /// `max_rate_limit_wait`, for [`CONTENT_LIMIT_WAITS`] pauses.
    pub content_limit_wait: Duration,
}

/// How many times one call waits out the content-creation limit before it fails with
/// `RateLimited` (and its job is rescheduled).
pub const CONTENT_LIMIT_WAITS: u32 = 4;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(60),
            // 10 + 20 + 40 + 60 s: the limit has been seen to last a minute and more.
            content_limit_wait: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the pause before retry number `retry` (1 = first retry):
    /// `base * 2^(retry-1)`, capped at `max_delay`.
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The pause before resending a write the content-creation limit refused for the
    /// `nth` time (1 = first).
    pub fn content_limit_pause(&self, nth: u32) -> Duration {
        let factor = 1u32 << nth.saturating_sub(1).min(16);
        self.content_limit_wait
            .saturating_mul(factor)
            .min(self.max_rate_limit_wait.max(self.content_limit_wait))
    }

    /// The actual pause: between half the cap and the cap ("equal jitter"), so many clients
    /// failing together do not retry in lockstep, yet each still backs off.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry);
        let half = cap / 2;
        let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Whether a request may be sent again after an ambiguous failure (5xx, timeout, dropped
/// connection), when GitHub may or may not have carried it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Doing it twice leaves the same state: reads, PUT/PATCH/DELETE, and the POSTs that are
    /// idempotent by nature (adding labels, reacting, minting a token).
    Safe,
    /// Doing it twice could duplicate something visible (a comment): the caller recovers.
    Unsafe,
}

impl Replay {
    /// The default by method; POSTs are unsafe unless a call site knows better.
    pub fn for_method(method: &Method) -> Replay {
        if method == Method::POST {
            Replay::Unsafe
        } else {
            Replay::Safe
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_cap(1), Duration::from_millis(200));
        assert_eq!(p.backoff_cap(2), Duration::from_millis(400));
        assert_eq!(p.backoff_cap(5), Duration::from_millis(3200));
        assert_eq!(p.backoff_cap(6), Duration::from_secs(5));
        assert_eq!(p.backoff_cap(1000), Duration::from_secs(5));
        for retry in 1..8 {
            let d = p.backoff(retry);
            assert!(d >= p.backoff_cap(retry) / 2 && d <= p.backoff_cap(retry));
        }
    }

    #[test]
    fn content_limit_pauses_double_up_to_the_rate_limit_cap() {
        let p = RetryPolicy::default();
        let pauses: Vec<u64> = (1..=CONTENT_LIMIT_WAITS)
            .map(|n| p.content_limit_pause(n).as_secs())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 60]);
    }

    #[test]
    fn only_post_is_unsafe_by_default() {
        for m in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(Replay::for_method(&m), Replay::Safe, "{m}");
        }
        assert_eq!(Replay::for_method(&Method::POST), Replay::Unsafe);
    }
}
