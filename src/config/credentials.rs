//! The App's credentials: from flags/env, or from the file the setup page wrote into the data
//! directory (mode 0600). Debug output never shows a secret.

use super::server::ServerConfig;
use bosun_core::ids::AppId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CREDENTIALS_FILE: &str = "app-credentials.json";

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppCredentials {
    pub app_id: AppId,
    pub private_key_pem: String,
    pub webhook_secret: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("GITHUB_APP_ID is set but no private key: set GITHUB_PRIVATE_KEY_PATH or GITHUB_PRIVATE_KEY")]
    MissingKey,
    #[error("a private key is set but GITHUB_APP_ID is not")]
    MissingAppId,
    #[error("the App is configured but GITHUB_WEBHOOK_SECRET is not set: bosun refuses to accept unsigned webhooks")]
    MissingWebhookSecret,
    #[error("cannot read the private key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {detail}")]
    Stored { path: PathBuf, detail: String },
}

/// Credentials from flags/env if any are given (all or an error), else from the data directory,
/// else `None`: bosun starts in setup mode.
pub fn load(cfg: &ServerConfig) -> Result<Option<AppCredentials>, CredentialsError> {
    let key = match (&cfg.github_private_key, &cfg.github_private_key_path) {
        (Some(pem), _) => Some(pem.clone()),
        (None, Some(path)) => {
            Some(
                std::fs::read_to_string(path).map_err(|source| CredentialsError::KeyFile {
                    path: path.clone(),
                    source,
                })?,
            )
        }
        (None, None) => None,
    };
    match (cfg.github_app_id, key) {
        (Some(id), Some(pem)) => {
            let secret = cfg
                .github_webhook_secret
                .clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or(CredentialsError::MissingWebhookSecret)?;
            Ok(Some(AppCredentials {
                app_id: AppId(id),
                private_key_pem: pem,
                webhook_secret: secret,
                slug: None,
                client_id: None,
                client_secret: None,
            }))
        }
        (Some(_), None) => Err(CredentialsError::MissingKey),
        (None, Some(_)) => Err(CredentialsError::MissingAppId),
        (None, None) => read_stored(&cfg.data_dir),
    }
}

fn read_stored(data_dir: &Path) -> Result<Option<AppCredentials>, CredentialsError> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CredentialsError::Stored {
                path,
                detail: e.to_string(),
            })
        }
    };
    let creds: AppCredentials =
        serde_json::from_str(&text).map_err(|e| CredentialsError::Stored {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    if creds.webhook_secret.trim().is_empty() {
        return Err(CredentialsError::MissingWebhookSecret);
    }
    Ok(Some(creds))
}

/// Writes the credentials with mode 0600, via a temporary file and a rename so a crash never
/// leaves half a file.
pub fn store(data_dir: &Path, creds: &AppCredentials) -> std::io::Result<PathBuf> {
    crate::db::create_private_dir(data_dir)?;
    let path = data_dir.join(CREDENTIALS_FILE);
    let tmp = data_dir.join(format!("{CREDENTIALS_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(serde_json::to_string_pretty(creds)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> AppCredentials {
        AppCredentials {
            app_id: AppId(1),
            private_key_pem: "-----BEGIN RSA PRIVATE KEY-----secret".into(),
            webhook_secret: "whsec".into(),
            slug: Some("x".into()),
            client_id: None,
            client_secret: Some("cs".into()),
        }
    }

    #[test]
    fn stored_credentials_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(dir.path(), &creds()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(read_stored(dir.path()).unwrap(), Some(creds()));
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", creds());
        assert!(!shown.contains("secret") && !shown.contains("whsec") && !shown.contains("cs\""));
    }
}
