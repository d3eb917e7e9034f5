//! Who is calling: App JWT verification (RS256) and installation-token checks.

use std::collections::HashSet;
use std::time::SystemTime;

use axum::http::{header, HeaderMap};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::error::ApiError;
use crate::shared::Shared;
use crate::state::Token;
use crate::{util, AuthKind};

pub(crate) const JWT_UNDECODABLE: &str = "A JSON web token could not be decoded";
pub(crate) const JWT_EXP_NOT_FUTURE: &str = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
pub(crate) const JWT_EXP_TOO_FAR: &str = "'Expiration time' claim ('exp') is too far in the future";
pub(crate) const JWT_IAT_INVALID: &str = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
pub(crate) const JWT_ISS_INVALID: &str = "'Issuer' claim ('iss') must be an Integer";

/// Longest accepted JWT lifetime, `exp - iat` (10 minutes plus the customary 60 s back-dating).
const MAX_JWT_LIFETIME_SECS: i64 = 660;

/// The credential a request carried, once checked.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Anonymous,
    App,
    Installation {
        id: u64,
        token: Token,
    },
    /// A user access token from the OAuth web flow, for this login.
    User(String),
    /// A JWT that failed verification, with GitHub's message for it.
    BadJwt(&'static str),
    /// A token (or anything else) that is unknown, expired or revoked.
    BadToken,
}

impl Caller {
    pub fn kind(&self) -> AuthKind {
        match self {
            Caller::Anonymous => AuthKind::None,
            Caller::App => AuthKind::AppJwt,
            Caller::Installation { id, .. } => AuthKind::InstallationToken(*id),
            Caller::User(_) => AuthKind::UserToken,
            Caller::BadJwt(_) | Caller::BadToken => AuthKind::Invalid,
        }
    }

    /// For `/app...` routes: a valid App JWT.
    pub fn require_app(&self) -> Result<(), ApiError> {
        match self {
            Caller::App => Ok(()),
            Caller::BadJwt(message) => Err(ApiError::new(401, message, crate::error::DOCS_REST)),
            _ => Err(ApiError::bad_credentials()),
        }
    }

    /// For `GET /user`: a valid user access token; the user's login.
    pub fn require_user(&self) -> Result<&str, ApiError> {
        match self {
            Caller::User(login) => Ok(login),
            _ => Err(ApiError::bad_credentials()),
        }
    }

    /// For repository routes: a valid installation token.
    pub fn require_installation(&self) -> Result<(u64, &Token), ApiError> {
        match self {
            Caller::Installation { id, token } => Ok((*id, token)),
            _ => Err(ApiError::bad_credentials()),
        }
    }
}

/// Reads the `Authorization` header and checks the credential.
pub(crate) fn resolve(shared: &Shared, headers: &HeaderMap) -> Caller {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Caller::Anonymous;
    };
    let Ok(value) = value.to_str() else {
        return Caller::BadToken;
    };
    let Some((scheme, credential)) = value.trim().split_once(' ') else {
        return Caller::BadToken;
    };
    let scheme = scheme.to_ascii_lowercase();
    let credential = credential.trim();
    if scheme != "bearer" && scheme != "token" {
        return Caller::BadToken;
    }
    if credential.starts_with("ghs_") {
        let model = shared.model();
        return match model.tokens.get(credential) {
            Some(t) if t.is_valid(SystemTime::now()) => Caller::Installation {
                id: t.installation_id,
                token: t.clone(),
            },
            _ => Caller::BadToken,
        };
    }
    if credential.starts_with("ghu_") {
        let model = shared.model();
        return match model.oauth.user_of(credential) {
            Some(login) => Caller::User(login.to_owned()),
            None => Caller::BadToken,
        };
    }
    if scheme == "bearer" && credential.matches('.').count() == 2 {
        return match verify_jwt(shared, credential) {
            Ok(()) => Caller::App,
            Err(message) => Caller::BadJwt(message),
        };
    }
    Caller::BadToken
}

/// Verifies an App JWT the way GitHub does; `Err` carries GitHub's message.
fn verify_jwt(shared: &Shared, jwt: &str) -> Result<(), &'static str> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| JWT_UNDECODABLE)?;
    if header.alg != Algorithm::RS256 {
        return Err(JWT_UNDECODABLE);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<Value>(jwt, &shared.key, &validation)
        .map_err(|_| JWT_UNDECODABLE)?
        .claims;

    let issuer_ok = match &claims["iss"] {
        Value::Number(n) => n.as_u64() == Some(shared.app.id),
        Value::String(s) if s.parse::<u64>().is_ok() => s.parse::<u64>() == Ok(shared.app.id),
        // GitHub also accepts the App's client id as the issuer.
        Value::String(s) if *s == shared.app.client_id => true,
        _ => return Err(JWT_ISS_INVALID),
    };
    if !issuer_ok {
        // Another App's id: its key would not verify this signature.
        return Err(JWT_UNDECODABLE);
    }

    let now = util::epoch_secs(SystemTime::now()) as i64;
    let iat = claims["iat"].as_i64().ok_or(JWT_IAT_INVALID)?;
    if iat > now {
        return Err(JWT_IAT_INVALID);
    }
    let exp = claims["exp"].as_i64().ok_or(JWT_EXP_NOT_FUTURE)?;
    if exp <= now {
        return Err(JWT_EXP_NOT_FUTURE);
    }
    if exp - iat > MAX_JWT_LIFETIME_SECS {
        return Err(JWT_EXP_TOO_FAR);
    }
    Ok(())
}
