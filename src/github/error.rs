//! What can go wrong talking to GitHub, sorted by what the caller should do about it. Messages
//! carry GitHub's own `message` text and the request path, never a credential.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub: not found: {path}")]
    NotFound { path: String },
    /// The credential was refused even after minting a fresh one.
    #[error("GitHub: unauthorized: {message}")]
    Unauthorized { message: String },
    #[error("GitHub: forbidden: {message}")]
    Forbidden { message: String },
    /// A rate limit whose reset is further away than we are willing to wait.
    #[error("GitHub: rate limited, retry in {}s", wait.as_secs())]
    RateLimited { wait: Duration },
    /// 422 and other 4xx: the request itself is wrong; repeating it will not help.
    #[error("GitHub: rejected: {message}")]
    Validation { message: String },
    #[error("GitHub: server error {status}")]
    Server { status: u16 },
    /// Connection refused, reset, timed out...: nothing usable came back.
    #[error("GitHub: transport: {0}")]
    Transport(String),
    /// An answer we could not parse.
    #[error("GitHub: unexpected response: {0}")]
    Decode(String),
    /// Our own setup or arguments are wrong; no request was sent.
    #[error("GitHub: configuration: {0}")]
    Config(String),
}

impl GitHubError {
    /// Worth trying again later (the job queue's retry): the failure was GitHub's or the network's.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitHubError::Server { .. }
                | GitHubError::Transport(_)
                | GitHubError::RateLimited { .. }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, GitHubError::NotFound { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_classification() {
        assert!(GitHubError::Server { status: 502 }.is_transient());
        assert!(GitHubError::Transport("reset".into()).is_transient());
        assert!(GitHubError::RateLimited {
            wait: Duration::from_secs(1)
        }
        .is_transient());
        assert!(!GitHubError::NotFound { path: "/x".into() }.is_transient());
        assert!(!GitHubError::Validation {
            message: "bad".into()
        }
        .is_transient());
        assert!(!GitHubError::Unauthorized {
            message: "Bad credentials".into()
        }
        .is_transient());
        assert!(!GitHubError::Config("x".into()).is_transient());
    }
}
