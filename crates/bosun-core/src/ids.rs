//! Newtypes for every GitHub identifier bosun handles, so an issue number can never be passed
//! where a comment id is expected. They serialize as the bare number or string GitHub uses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// The numeric id of the GitHub App itself.
    AppId
);
numeric_id!(
    /// One installation of the App on an account.
    InstallationId
);
numeric_id!(
    /// A repository's stable numeric id (survives renames).
    RepoId
);
numeric_id!(
    /// A user's or bot's numeric id.
    UserId
);
numeric_id!(
    /// An issue comment's id (not its number: comments have none).
    CommentId
);
numeric_id!(
    /// An issue's (or pull request's) number within its repository.
    IssueNumber
);
numeric_id!(
    /// A pull request review's id.
    ReviewId
);
numeric_id!(
    /// A pull request review comment's id (an inline comment or a reply in its thread).
    ReviewCommentId
);

/// `X-GitHub-Delivery`: GitHub keeps it across redeliveries, so it is the dedup key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub String);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `owner/name` of a repository, as used in REST paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected <owner>/<repo>, got {0:?}")]
pub struct BadRepoRef(pub String);

impl FromStr for RepoRef {
    type Err = BadRepoRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(RepoRef::new(owner, name)),
            _ => Err(BadRepoRef(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ref_parses_and_rejects_paths() {
        assert_eq!(
            "octo/hello-world".parse::<RepoRef>().unwrap(),
            RepoRef::new("octo", "hello-world")
        );
        for bad in ["octo", "octo/", "/x", "a/b/c", "a/..", "a b/c", "a/b?x"] {
            assert!(bad.parse::<RepoRef>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn ids_serialize_as_bare_values() {
        assert_eq!(serde_json::to_string(&IssueNumber(7)).unwrap(), "7");
        assert_eq!(
            serde_json::to_string(&DeliveryId("abc".into())).unwrap(),
            "\"abc\""
        );
    }
}
