//! Container names: readable for an operator running `docker ps`, unique per run.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest hint kept in a name; Docker allows more, but `docker ps` should stay readable.
const MAX_HINT_CHARS: usize = 48;

/// `bosun-<hint>-<random>`, with the hint reduced to the characters Docker accepts in a name
/// (`[a-zA-Z0-9_.-]`). The suffix keeps a retried run (same hint) from colliding with a
/// container that is still being removed.
pub(crate) fn container_name(hint: &str) -> String {
    let mut clean: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_HINT_CHARS)
        .collect();
    if clean.is_empty() {
        clean.push_str("run");
    }
    format!("bosun-{clean}-{}", random_suffix())
}

/// 12 hex digits that differ between calls and between processes. `RandomState` is seeded from
/// the OS once per process; the counter separates calls within one process.
pub(crate) fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_clean_and_unique() {
        let a = container_name("task-7-agent-r2");
        let b = container_name("task-7-agent-r2");
        assert!(a.starts_with("bosun-task-7-agent-r2-"), "{a}");
        assert_ne!(a, b);
        let odd = container_name("tâsk 7/../x");
        assert!(odd
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
        assert!(container_name("").starts_with("bosun-run-"));
        assert!(container_name(&"x".repeat(500)).len() < 80);
    }
}
