//! The run pipeline: a task's workspace, the agent in its sandbox, the gates, and publishing
//! the result. Data moves one way: each step takes what the one before produced.

pub mod agent_round;
pub mod capped_log;
pub mod disk_cap;
pub mod doors;
pub mod egress_host;
pub mod environment;
pub mod gates;
pub mod logs;
pub mod meter_host;
pub mod pipeline;
pub mod prune_runs;
pub mod recovery;
pub mod relaunch;
pub mod router;
pub mod runner;
pub mod sandbox;
pub mod vendor_slots;
pub mod workspace;
