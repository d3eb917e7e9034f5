//! The engine: everything between a verified webhook and the work it asks for.
//!
//! - [`ingest`]: the writer that stores each delivery (group commit, fsync) before it is
//!   answered, with intake's decisions in the same commit.
//! - [`intake`]: a stored payload → `bosun_core::events::Event` → `bosun_core::trigger::decide`
//!   (pure) → jobs.
//! - [`pool`]: the workers that claim jobs (lease and fence), keep their lease, and call the
//!   job's handler in [`handlers`]: one file per job kind.
//! - [`context`]: what every handler gets (database, the door to GitHub, who bosun is,
//!   settings, cached answers).
//! - [`control`] (stop, retry; shared by the dashboard and the CLI), [`spending`] (budgets),
//!   [`redelivery`] (missed webhooks), [`backoff`].
//!
//! The agent run itself is `run::pipeline`: the run handler hands it the attempt.

pub mod backoff;
pub mod context;
pub mod control;
pub mod handlers;
pub mod ingest;
pub mod intake;
pub mod pool;
pub mod redelivery;
pub mod spending;
