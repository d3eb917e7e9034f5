//! The App's OAuth client, for signing people in to the dashboard (GitHub's web application
//! flow): the authorize URL, the code-for-token exchange on the website, and `GET /user` with
//! the user's token. The user token is used for that one call and dropped: bosun acts on
//! GitHub as the App, never as the person.
//!
//! These calls are the signed-in person's, not the App's, so they do not go through the App's
//! door (`github::client`, which signs every call as the App or an installation).

use reqwest::Url;
use serde::Deserialize;

use crate::github::secret::Secret;

/// The client id and secret of the App's OAuth client.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    client_secret: Secret,
    web: String,
    api: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("GitHub refused the sign-in: {0}")]
    Refused(String),
    #[error("GitHub could not be asked: {0}")]
    Transport(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct UserAnswer {
    login: String,
}

impl OAuthClient {
    pub fn new(client_id: &str, client_secret: &str, web_url: &str, api_url: &str) -> Self {
        OAuthClient {
            client_id: client_id.to_string(),
            client_secret: Secret::new(client_secret),
            web: web_url.trim_end_matches('/').to_string(),
            api: api_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .user_agent(crate::github::client::default_user_agent())
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Where to send the browser: GitHub's authorize page for this App.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> Result<String, OAuthError> {
        let mut url = Url::parse(&format!("{}/login/oauth/authorize", self.web))
            .map_err(|e| OAuthError::Transport(format!("GitHub web URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("allow_signup", "false");
        Ok(url.into())
    }

    /// Trades the callback's `code` for the user's login: the token, then `GET /user`.
    pub async fn login_for_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<String, OAuthError> {
        let token = self.exchange(code, redirect_uri).await?;
        self.user(&token).await
    }

    async fn exchange(&self, code: &str, redirect_uri: &str) -> Result<Secret, OAuthError> {
        let reply = self
            .http
            .post(format!("{}/login/oauth/access_token", self.web))
            .header("accept", "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose()),
                ("code", code),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        let status = reply.status();
        // The answer carries a token: serde's message could quote it, so it is left out.
        let answer: TokenAnswer = reply.json().await.map_err(|_| {
            OAuthError::Transport(format!("unexpected token answer (HTTP {status})"))
        })?;
        match (answer.access_token, answer.error) {
            (Some(token), None) if !token.is_empty() => Ok(Secret::new(token)),
            (_, error) => Err(OAuthError::Refused(format!(
                "{}: {}",
                error.unwrap_or_else(|| "no token".into()),
                answer.error_description.unwrap_or_default()
            ))),
        }
    }

    async fn user(&self, token: &Secret) -> Result<String, OAuthError> {
        let reply = self
            .http
            .get(format!("{}/user", self.api))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.without_url().to_string()))?;
        if !reply.status().is_success() {
            return Err(OAuthError::Refused(format!(
                "GET /user answered {}",
                reply.status()
            )));
        }
        let user: UserAnswer = reply
            .json()
            .await
            .map_err(|e| OAuthError::Transport(format!("GET /user: {e}")))?;
        Ok(user.login)
    }
}
