//! A hard time limit for a synchronous test (`#[test]`, no Tokio): the async tests wrap their
//! body in `tokio::time::timeout`, a plain test runs its body through [`within`].
//!
//! Include it with `#[path = "support/deadline.rs"] mod deadline;`. It depends on std only, so
//! any test binary can use it.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// Runs `body` on a thread of its own and returns what it returned; panics if it has not
/// finished within `limit`, so a hang fails the test instead of blocking CI. A panic in `body`
/// (a failed assertion) is passed on as it is. A body that timed out is left running on its
/// thread: the test binary ends it when it exits.
pub fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    // The test's own name, for the harness's messages about the body's thread.
    let name = std::thread::current()
        .name()
        .unwrap_or("test body")
        .to_string();
    let (done, finished) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let _ = done.send(body());
        })
        .expect("spawn the test's thread");
    match finished.recv_timeout(limit) {
        Ok(value) => {
            let _ = worker.join();
            value
        }
        Err(RecvTimeoutError::Timeout) => panic!("{name} timed out after {limit:?}"),
        // The sender went away without sending: the body panicked.
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body ended without an answer or a panic"),
        },
    }
}
