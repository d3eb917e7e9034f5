//! A string that must never be printed: installation tokens and App JWTs. Debug and Display
//! redact, so a stray `{:?}` in a log line or an error cannot leak a credential.

use std::fmt;
use std::sync::Arc;

/// Holds a credential. Cloning is cheap (shared), reading it takes an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The raw value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("ghs_supersecret");
        assert!(!format!("{s:?}").contains("ghs_"));
        assert!(!format!("{s}").contains("ghs_"));
        assert_eq!(s.expose(), "ghs_supersecret");
    }
}
