//! Configuration: the server's (flags and env, parsed once), the App's credentials, and each
//! repository's `.github/bosun.yml`.

pub mod credentials;
pub mod docker;
pub mod engine;
pub mod repo_configs;
pub mod run;
pub mod server;
