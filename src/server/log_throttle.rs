//! At most one log line per interval for events anyone on the Internet can cause (a webhook
//! without a valid signature): the counters in `/metrics` count every one, while the log gets
//! one line now and then saying how many it left out. Otherwise an unauthenticated client
//! writes a megabyte of log a second (measured with `bosun-bench flood`).

use crate::locks::lock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often such an event is logged at most.
const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct LogThrottle(Mutex<Throttled>);

#[derive(Debug, Default)]
struct Throttled {
    last: Option<Instant>,
    left_out: u64,
}

impl LogThrottle {
    /// `Some(n)` when this event is to be logged, `n` the events left out since the last line;
    /// `None` when it is to be counted only.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut t = lock(&self.0);
        match t.last {
            Some(last) if now.duration_since(last) < EVERY => {
                t.left_out += 1;
                None
            }
            _ => {
                t.last = Some(now);
                Some(std::mem::take(&mut t.left_out))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_saying_how_many_were_left_out() {
        let throttle = LogThrottle::default();
        let start = Instant::now();
        assert_eq!(throttle.allow_at(start), Some(0));
        for i in 1..=1000 {
            assert_eq!(throttle.allow_at(start + Duration::from_millis(i)), None);
        }
        assert_eq!(throttle.allow_at(start + EVERY), Some(1000));
        assert_eq!(throttle.allow_at(start + EVERY), None);
    }
}
