//! The run pipeline: a task's workspace, the agent in its sandbox, the gates, and publishing
//! the result. Data moves one way: each step takes what the one before produced.

pub mod agent;
pub mod agent_round;
pub mod gates;
pub mod learnings;
pub mod meter_host;
pub mod peer_verdict;
pub mod plan_report;
pub mod prompt;
pub mod recovery;
pub mod redact;
pub mod relaunch;
pub mod review_report;
pub mod router;
pub mod runner;
pub mod sandbox;
pub mod vendor_slots;
pub mod workspace;
