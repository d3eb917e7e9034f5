//! What the host refuses to publish when it reads a checkout back after a run.

/// A path the agent changed that bosun did not commit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub path: String,
    pub reason: String,
}

/// A changed file that holds something that looks like a secret. Its presence blocks the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInFile {
    pub path: String,
    pub kind: &'static str,
}
