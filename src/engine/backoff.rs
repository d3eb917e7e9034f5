//! Capped exponential backoff with jitter, for jobs that failed and will run again.

use std::time::Duration;

/// The delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed:
/// `base * 2^(attempt-1)`, capped, then spread by up to a quarter either way so that jobs
/// that failed together do not all come back together.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp).min(cap);
    let spread = raw.as_secs_f64() * 0.25 * jitter.clamp(-1.0, 1.0);
    Duration::from_secs_f64((raw.as_secs_f64() + spread).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_jitter_stays_in_bounds() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(1, base, cap, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, base, cap, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(40, base, cap, 0.0), cap);
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(3, base, cap, -1.0), Duration::from_secs(3));
        assert_eq!(backoff(3, base, cap, 9.0), Duration::from_secs(5));
    }
}
