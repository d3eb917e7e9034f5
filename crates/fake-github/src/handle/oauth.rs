//! Test-side control of GitHub's web sign-in (see `routes/oauth.rs`): who is signed in to the
//! fake's website, the App's OAuth client credentials, and how many codes were exchanged.

use super::FakeGitHub;

impl FakeGitHub {
    /// Signs `login` in to the fake's website (`None` signs out): the next
    /// `GET /login/oauth/authorize` redirects back with a code for this user, as GitHub does
    /// once the signed-in user authorized the App.
    pub fn sign_in_on_web(&self, login: Option<&str>) {
        self.s().model().oauth.web_user = login.map(str::to_owned);
    }

    /// The App's registered callback URLs (its manifest's `callback_urls`, or its settings):
    /// `GET /login/oauth/authorize` refuses any `redirect_uri` that is not exactly one of them,
    /// as GitHub does. None are registered at first.
    pub fn set_callback_urls(&self, urls: &[&str]) {
        self.s().model().oauth.callback_urls = urls.iter().map(|u| u.to_string()).collect();
    }

    /// The App's OAuth client id (`Iv1.…`, as in `GET /app`).
    pub fn oauth_client_id(&self) -> String {
        self.s().app.client_id.clone()
    }

    /// The App's OAuth client secret (manifest conversions hand out their own, also accepted).
    pub fn oauth_client_secret(&self) -> String {
        self.s().app.client_secret.clone()
    }

    /// How many authorization codes were exchanged for user access tokens.
    pub fn oauth_exchanges(&self) -> usize {
        self.s().model().oauth.exchanges
    }
}
