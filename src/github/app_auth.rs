//! The App's own credential: an RS256 JWT signed with the App's private key. GitHub accepts
//! at most 10 minutes of lifetime, so tokens are minted with `iat` 60 s in the past (clock
//! drift) and `exp` 9 minutes ahead, cached, and re-minted a minute before they expire.

pub use super::secret::Secret;
use crate::locks::lock;
use bosun_core::ids::AppId;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::fmt;
use std::sync::Mutex;

/// Backdating `iat` absorbs a clock that runs ahead of GitHub's.
const IAT_BACKDATE_SECS: i64 = 60;
/// `exp` - now; with the backdate the lifetime is 10 min, GitHub's maximum.
const LIFETIME_SECS: i64 = 9 * 60;
/// A cached JWT is replaced once less than this remains, so no request carries one that
/// expires in flight.
const REMINT_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum AppAuthError {
    /// The PEM is not a usable RSA private key. The key itself is never part of the message.
    #[error("invalid GitHub App private key: {0}")]
    InvalidKey(String),
    #[error("could not sign the App JWT: {0}")]
    Signing(String),
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

struct CachedJwt {
    token: Secret,
    exp: i64,
}

/// Mints and caches the App JWT. Holds the private key; Debug shows only the app id.
pub struct AppJwt {
    app_id: AppId,
    key: EncodingKey,
    cached: Mutex<Option<CachedJwt>>,
}

impl AppJwt {
    /// Parses the key and signs one JWT straight away, so a bad key fails at start-up rather
    /// than on the first webhook.
    pub fn new(app_id: AppId, private_key_pem: &str) -> Result<Self, AppAuthError> {
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            // jsonwebtoken's errors describe the failure kind, never the key bytes.
            .map_err(|e| AppAuthError::InvalidKey(e.to_string()))?;
        let this = AppJwt {
            app_id,
            key,
            cached: Mutex::new(None),
        };
        this.token().map_err(|e| match e {
            AppAuthError::Signing(m) => AppAuthError::InvalidKey(m),
            other => other,
        })?;
        Ok(this)
    }

    pub fn app_id(&self) -> AppId {
        self.app_id
    }

    /// The current JWT, minting a new one when the cached one is within a minute of expiry.
    pub fn token(&self) -> Result<Secret, AppAuthError> {
        let now = chrono::Utc::now().timestamp();
        let mut cached = lock(&self.cached);
        if let Some(c) = cached.as_ref() {
            if now < c.exp - REMINT_MARGIN_SECS {
                return Ok(c.token.clone());
            }
        }
        let claims = claims_at(self.app_id, now);
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| AppAuthError::Signing(e.to_string()))?;
        let token = Secret::new(jwt);
        *cached = Some(CachedJwt {
            token: token.clone(),
            exp: claims.exp,
        });
        Ok(token)
    }

    /// Drops the cached JWT (GitHub rejected it), so the next call signs a fresh one.
    pub fn invalidate(&self) {
        *lock(&self.cached) = None;
    }
}

fn claims_at(app_id: AppId, now: i64) -> Claims {
    Claims {
        iat: now - IAT_BACKDATE_SECS,
        exp: now + LIFETIME_SECS,
        iss: app_id.to_string(),
    }
}

impl fmt::Debug for AppJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppJwt")
            .field("app_id", &self.app_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn key(name: &str) -> String {
        let path = format!(
            "{}/crates/fake-github/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn jwt_claims_decode_with_the_public_key() {
        let jwt = AppJwt::new(AppId(4242), &key("test-app.pem")).expect("valid key");
        let token = jwt.token().expect("sign");
        let public = DecodingKey::from_rsa_pem(key("test-app.pub.pem").as_bytes()).expect("pub");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        validation.set_issuer(&["4242"]);
        let data =
            jsonwebtoken::decode::<Claims>(token.expose(), &public, &validation).expect("decodes");
        let now = chrono::Utc::now().timestamp();
        assert_eq!(data.claims.iss, "4242");
        assert!(data.claims.iat <= now - 59, "iat backdated");
        assert!(data.claims.exp > now, "exp in the future");
        assert!(
            data.claims.exp - data.claims.iat <= 600,
            "GitHub's 10 min cap"
        );
    }

    #[test]
    fn jwt_is_cached_and_reminted_after_invalidate() {
        let jwt = AppJwt::new(AppId(1), &key("test-app.pem")).expect("valid key");
        let a = jwt.token().expect("sign");
        assert_eq!(a, jwt.token().expect("cached"));
        jwt.invalidate();
        // Same second => possibly identical claims, so only check that it still signs.
        assert!(jwt.token().is_ok());
    }

    #[test]
    fn bad_pem_is_rejected_without_echoing_it() {
        let err = AppJwt::new(
            AppId(1),
            "-----BEGIN RSA PRIVATE KEY-----\nnotakey\n-----END RSA PRIVATE KEY-----\n",
        )
        .expect_err("must fail");
        assert!(!err.to_string().contains("notakey"));
        assert!(AppJwt::new(AppId(1), "").is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let pem = key("test-app.pem");
        let jwt = AppJwt::new(AppId(7), &pem).expect("valid key");
        let d = format!("{jwt:?}");
        assert!(d.contains("AppId(7)") && !d.contains("PRIVATE"), "{d}");
    }

    #[test]
    fn claims_window() {
        let c = claims_at(AppId(9), 1_000_000);
        assert_eq!(c.iat, 999_940);
        assert_eq!(c.exp, 1_000_540);
        assert_eq!(c.iss, "9");
    }
}
