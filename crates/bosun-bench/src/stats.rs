//! Percentiles of recorded latencies. Nearest-rank on the full sorted sample: every request is
//! kept, so there is no histogram bucketing or sampling error to explain.

use std::fmt;
use std::time::Duration;

/// p50/p90/p99/max of a sample, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    /// `None` for an empty sample: there is nothing honest to print.
    pub fn of(mut micros: Vec<u64>) -> Option<Percentiles> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        Some(Percentiles {
            count: micros.len(),
            p50: nearest_rank(&micros, 50.0),
            p90: nearest_rank(&micros, 90.0),
            p99: nearest_rank(&micros, 99.0),
            max: micros[micros.len() - 1],
        })
    }
}

/// The smallest value with at least `p` percent of the sample at or below it.
/// `sorted` must be sorted ascending and non-empty.
pub fn nearest_rank(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Milliseconds with enough digits for sub-millisecond loopback latencies.
pub fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

impl Percentiles {
    /// `p50 a / p90 b / p99 c / max d ms`, for one-line summaries.
    pub fn slashed(&self) -> String {
        format!(
            "p50 {} / p90 {} / p99 {} / max {} ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {}  p90 {}  p99 {}  max {} ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_a_hundred_is_the_percent_itself() {
        let sample: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&sample, 50.0), 50);
        assert_eq!(nearest_rank(&sample, 90.0), 90);
        assert_eq!(nearest_rank(&sample, 99.0), 99);
        assert_eq!(nearest_rank(&sample, 100.0), 100);
        assert_eq!(nearest_rank(&sample, 0.0), 1);
    }

    #[test]
    fn small_samples_round_up_to_a_real_observation() {
        // Ten values: p99 is the largest one, p50 the fifth, never an interpolated value.
        let sample: Vec<u64> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(nearest_rank(&sample, 50.0), 50);
        assert_eq!(nearest_rank(&sample, 90.0), 90);
        assert_eq!(nearest_rank(&sample, 99.0), 100);
        assert_eq!(nearest_rank(&[7], 99.0), 7);
    }

    #[test]
    fn percentiles_sort_their_input_and_refuse_an_empty_sample() {
        let p = Percentiles::of(vec![5, 1, 4, 2, 3]).unwrap();
        assert_eq!((p.count, p.p50, p.p90, p.p99, p.max), (5, 3, 5, 5, 5));
        assert_eq!(Percentiles::of(vec![]), None);
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(ms(840), "0.84");
        assert_eq!(ms(12_345), "12.3");
        assert_eq!(ms(1_234_567), "1235");
    }
}
