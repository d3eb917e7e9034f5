//! bosun's shared vocabulary: the types and pure functions every layer of the App speaks.
//!
//! This crate is the bottom of the workspace. It depends on no other crate of it and does no
//! I/O (no network, no database, no Docker, no files outside tests), so every layer above can
//! use it and none of it can reach up: the compiler keeps the arrows pointing down.
//!
//! - What comes in: [`ids`] (a newtype per id), [`events`] (webhook payloads parsed into our
//!   own `Event`), [`command`] (the @mention parser), [`trigger`] (which job an event asks for).
//! - What is stored: [`model`] (task events and their projection), [`job`] (the queue's work),
//!   [`estimate`], [`learnings`].
//! - What a repository says: [`repo_config`] (`.github/bosun.yml`), [`schedule`] (cron),
//!   [`egress`] (the hosts a run may reach).
//! - What a run needs and produces: [`prompt`], [`redact`], [`agent`] (adapters and stream
//!   parsers), [`gate`], [`publish`], and the reports agents write ([`review_report`],
//!   [`peer_verdict`], [`plan_report`]).
//! - What bosun hides in its comments: [`marker`].

pub mod agent;
pub mod command;
pub mod egress;
pub mod estimate;
pub mod events;
pub mod gate;
pub mod ids;
pub mod job;
pub mod learnings;
pub mod marker;
pub mod model;
pub mod peer_verdict;
pub mod plan_report;
pub mod prompt;
pub mod publish;
pub mod redact;
pub mod repo_config;
pub mod review_report;
pub mod schedule;
pub mod trigger;
