//! How fast the data directory's disk makes a write durable. Every 202 waits for an fsync of
//! the WAL, so ingest numbers mean little without this one: the same build measured 7,000/s on
//! a machine whose fsync took 0.5–1 ms and 19,000/s on one where it took 0.07 ms. Measured
//! before the load, with the server idle, and printed beside the results.

use crate::stats::{micros, Percentiles};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// About what one group commit appends to the WAL under load.
const WRITE: usize = 256 * 1024;
const TRIES: usize = 64;

/// `fdatasync` after appending `WRITE` bytes, `TRIES` times, in a scratch file in `dir`.
pub fn fsync_latency(dir: &Path) -> std::io::Result<Percentiles> {
    let scratch = tempfile::Builder::new()
        .prefix("fsync-probe-")
        .tempfile_in(dir)?;
    let mut file = scratch.as_file();
    let block = vec![0x5au8; WRITE];
    let mut took = Vec::with_capacity(TRIES);
    for _ in 0..TRIES {
        file.write_all(&block)?;
        let start = Instant::now();
        file.sync_data()?;
        took.push(micros(start.elapsed()));
    }
    Percentiles::of(took).ok_or_else(|| std::io::Error::other("no fsync was timed"))
}

/// `fdatasync of 256 KiB: p50 a / p90 b / p99 c / max d ms (64 tries)`.
pub fn describe(latency: &Percentiles) -> String {
    format!(
        "fdatasync of {} KiB: {} ({} tries)",
        WRITE / 1024,
        latency.slashed(),
        latency.count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_every_try_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let latency = fsync_latency(dir.path()).unwrap();
        assert_eq!(latency.count, TRIES);
        assert!(latency.p50 <= latency.max);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(describe(&latency).starts_with("fdatasync of 256 KiB: p50 "));
    }
}
