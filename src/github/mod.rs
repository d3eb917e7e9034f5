//! Everything that knows GitHub's shapes: ids, webhook payloads, the one API client (the door),
//! app authentication, and the markers bosun hides in its comments.

pub mod app_auth;
pub mod classify;
pub mod client;
pub mod error;
pub mod hook_deliveries;
pub mod installation;
pub mod issues;
pub mod labels;
pub mod link;
pub mod permissions;
pub mod pulls;
pub mod rate_limit;
pub mod retry;
pub mod reviews;
pub mod secret;
pub mod signature;
pub mod token_cache;
pub mod transport;
pub mod types;

#[cfg(test)]
mod octocrab_fit;
