//! The egress proxy: how a sandbox that needs dependencies reaches the hosts its repository
//! lists (`egress:` in `.github/bosun.yml`, clamped by the server) and nothing else. It runs on
//! the host; the checks are in [`proxy`], the address rules in [`addresses`], each run's
//! allowlist and connection log in [`runs`]. Host patterns are `bosun_core::egress`'s.
//!
//! Not wired into runs yet: the container network that reaches only this proxy, the
//! repository's `egress:` key and the tracking comment's list of refused hosts come next.

pub mod addresses;
mod head;
pub mod proxy;
pub mod runs;

pub use proxy::{EgressProxy, EgressSettings, Resolve, SystemResolver};
pub use runs::{Connection, EgressRuns, RunEgress};
