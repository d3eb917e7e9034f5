//! The state of GitHub's web sign-in for the App's OAuth client: who is signed in to the fake's
//! "website" (what a browser session on github.com would be), the one-time codes the authorize
//! page hands out, and the user access tokens (`ghu_…`) they are exchanged for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::util;

/// GitHub's authorization codes expire after ten minutes.
const CODE_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub login: String,
    pub client_id: String,
    /// The `redirect_uri` the authorize request named, if any; a token request that names
    /// one must name the same.
    pub redirect_uri: Option<String>,
    pub issued: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct OAuth {
    /// The user signed in to the fake's website; `None`: the authorize page asks to sign in.
    pub web_user: Option<String>,
    pub codes: HashMap<String, Code>,
    /// User access token → login.
    pub user_tokens: HashMap<String, String>,
    /// How many codes were exchanged for tokens (for tests).
    pub exchanges: usize,
    /// The App's registered callback URLs: an authorize request must name one exactly.
    pub callback_urls: Vec<String>,
}

/// Why a code could not be exchanged: GitHub's `error` values for the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExchangeError {
    BadCode,
    RedirectMismatch,
}

impl OAuth {
    /// A new one-time code for `login`.
    pub fn issue_code(
        &mut self,
        login: &str,
        client_id: &str,
        redirect_uri: Option<String>,
    ) -> String {
        // GitHub's codes are 20 hex characters.
        let code = util::random_hex(20);
        self.codes.insert(
            code.clone(),
            Code {
                login: login.to_owned(),
                client_id: client_id.to_owned(),
                redirect_uri,
                issued: Instant::now(),
            },
        );
        code
    }

    /// Trades a code for a user access token; a code works once, for its own client.
    pub fn exchange(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
    ) -> Result<(String, String), ExchangeError> {
        let entry = self
            .codes
            .get(code)
            .cloned()
            .ok_or(ExchangeError::BadCode)?;
        if entry.client_id != client_id || entry.issued.elapsed() > CODE_TTL {
            return Err(ExchangeError::BadCode);
        }
        if let (Some(sent), Some(first)) = (redirect_uri, entry.redirect_uri.as_deref()) {
            if sent != first {
                return Err(ExchangeError::RedirectMismatch);
            }
        }
        self.codes.remove(code);
        // A user access token of a GitHub App: `ghu_` and 36 letters and digits.
        let token = format!("ghu_{}", util::random_alnum(36));
        self.user_tokens.insert(token.clone(), entry.login.clone());
        self.exchanges += 1;
        Ok((token, entry.login))
    }

    pub fn user_of(&self, token: &str) -> Option<&str> {
        self.user_tokens.get(token).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_for_its_client_and_redirect() {
        let mut o = OAuth::default();
        let code = o.issue_code("octocat", "Iv1.x", Some("http://b/cb".into()));
        assert_eq!(
            o.exchange(&code, "Iv1.other", None),
            Err(ExchangeError::BadCode)
        );
        assert_eq!(
            o.exchange(&code, "Iv1.x", Some("http://elsewhere")),
            Err(ExchangeError::RedirectMismatch)
        );
        let (token, login) = o.exchange(&code, "Iv1.x", Some("http://b/cb")).unwrap();
        assert!(token.starts_with("ghu_") && token.len() == 40);
        assert_eq!(login, "octocat");
        assert_eq!(o.user_of(&token), Some("octocat"));
        assert_eq!(
            o.exchange(&code, "Iv1.x", None),
            Err(ExchangeError::BadCode)
        );
    }
}
