//! Locking a std `Mutex` without treating poison as fatal.

use std::sync::{Mutex, MutexGuard};

/// A poisoned lock only means a panic elsewhere while it was held; the data bosun keeps behind
/// these locks (caches, handles, one-shot values) is still usable, so the guard is taken anyway.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
