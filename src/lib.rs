//! bosun: a self-hosted GitHub App that turns issues into pull requests.
//! See `docs/architecture.md` for the flow; `main.rs` only parses the command line and wires this up.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod egress;
pub mod engine;
pub mod github;
pub mod job_error;
pub mod locks;
pub mod meter;
pub mod reply;
pub mod run;
pub mod server;
