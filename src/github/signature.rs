//! Webhook signature check: `X-Hub-Signature-256` is `sha256=` + lowercase hex
//! HMAC-SHA256(secret, raw body). Several secrets may be configured at once so a secret can be
//! rotated without dropping deliveries; every one is tried, in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";
const DIGEST_HEX_LEN: usize = 64;

/// The configured webhook secrets (`GITHUB_WEBHOOK_SECRET`, comma-separated for rotation).
#[derive(Clone)]
pub struct WebhookSecrets(Vec<String>);

impl WebhookSecrets {
    /// Parses `a, b,,c`: entries are trimmed and empty ones dropped.
    pub fn parse(list: &str) -> Self {
        WebhookSecrets(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// With no secret nothing can verify: configuration should refuse to start.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secrets themselves, for the redactor that keeps them out of the dashboard's live log.
    pub fn expose(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("count", &self.0.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// Only the legacy SHA-1 header came: we do not accept SHA-1 signatures.
    #[error("only the legacy X-Hub-Signature (SHA-1) header was sent; SHA-256 is required")]
    UnsupportedSha1Only,
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    #[error("webhook signature does not match")]
    Mismatch,
}

/// Whether a delivery's signature header can be checked at all (present, SHA-256, well
/// formed): asked before its body is read, so a request without one costs no buffering.
pub fn check_header(
    sha256_header: Option<&str>,
    sha1_header_present: bool,
) -> Result<[u8; 32], SignatureError> {
    match sha256_header {
        Some(h) => parse_header(h),
        None if sha1_header_present => Err(SignatureError::UnsupportedSha1Only),
        None => Err(SignatureError::Missing),
    }
}

/// Checks a delivery. `sha1_header_present` only refines the error when the SHA-256 header is absent.
pub fn verify(
    secrets: &WebhookSecrets,
    sha256_header: Option<&str>,
    sha1_header_present: bool,
    body: &[u8],
) -> Result<(), SignatureError> {
    let expected = check_header(sha256_header, sha1_header_present)?;
    verify_digest(secrets, &expected, body)
}

/// Checks `body` against a digest [`check_header`] already read from the header.
pub fn verify_digest(
    secrets: &WebhookSecrets,
    expected: &[u8; 32],
    body: &[u8],
) -> Result<(), SignatureError> {
    // Every secret is computed and compared, and the results are OR-ed as `Choice`s, so the
    // time taken does not depend on which secret (if any) matched.
    let mut matched = Choice::from(0u8);
    for secret in &secrets.0 {
        let tag = mac(secret, body);
        matched |= tag.as_slice().ct_eq(expected);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` for `body` under `secret`: what GitHub sends (for tests and the benchmark).
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("{PREFIX}{}", hex::encode(mac(secret, body)))
}

fn mac(secret: &str, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Exactly `sha256=` + 64 lowercase hex digits; anything else is malformed (GitHub never sends
/// uppercase, so accepting it would only widen what an attacker may try).
fn parse_header(header: &str) -> Result<[u8; 32], SignatureError> {
    let digest = header
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let well_formed = digest.len() == DIGEST_HEX_LEN
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(SignatureError::Malformed);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(digest, &mut out).map_err(|_| SignatureError::Malformed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signature-vectors.json"
    );
    /// The two vectors over real payload files name them by an old location in the team's
    /// shared folder; the same files (octokit/webhooks examples) are in tests/fixtures/webhooks,
    /// checked byte for byte against the vector's sha256 before use.
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn payload_of(v: &serde_json::Value) -> Vec<u8> {
        if let Some(b64) = v["payload_base64"].as_str() {
            return base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("payload_base64");
        }
        let file = v["payload_file"].as_str().expect("payload or payload_file");
        let rel = &file[file.find("webhooks/").expect("webhooks/ in payload_file")..];
        let bytes = std::fs::read(format!("{FIXTURES}/{rel}")).expect("payload file copy");
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            v["payload_sha256_of_bytes"]
                .as_str()
                .expect("sha256 of payload"),
            "copied payload {rel} differs from the one the vector was computed over"
        );
        bytes
    }

    #[test]
    fn every_vector_in_the_fixture() {
        let text = std::fs::read_to_string(VECTORS).expect("signature vectors fixture");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("vectors json");
        let vectors = doc["vectors"].as_array().expect("vectors array");
        assert_eq!(vectors.len(), 16, "the fixture has 16 vectors");
        for v in vectors {
            let id = v["id"].as_str().expect("id");
            let secret = v["secret"].as_str().expect("secret");
            let body = payload_of(v);
            let expected_sig = v["expected_x_hub_signature_256"].as_str().expect("sig");
            assert_eq!(sign(secret, &body), expected_sig, "sign() for {id}");

            let header = v["header_under_test"].as_str().expect("header");
            let valid = v["expected_valid"].as_bool().expect("expected_valid");
            let secrets = WebhookSecrets::parse(secret);
            let got = verify(&secrets, Some(header), false, &body);
            assert_eq!(got.is_ok(), valid, "{id}: {got:?}");
        }
    }

    #[test]
    fn rotation_accepts_any_configured_secret() {
        let body = b"Hello, World!";
        let sig = sign("new", body);
        let secrets = WebhookSecrets::parse(" old , ,new,");
        assert_eq!(secrets.len(), 2);
        assert_eq!(verify(&secrets, Some(&sig), true, body), Ok(()));
        let other = WebhookSecrets::parse("old");
        assert_eq!(
            verify(&other, Some(&sig), false, body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let s = WebhookSecrets::parse("x");
        assert_eq!(verify(&s, None, false, b""), Err(SignatureError::Missing));
        assert_eq!(
            verify(&s, None, true, b""),
            Err(SignatureError::UnsupportedSha1Only)
        );
        for bad in ["", "sha256=", "sha256=zz", "SHA256=00", "sha1=00"] {
            assert_eq!(
                verify(&s, Some(bad), false, b""),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        let no_secrets = WebhookSecrets::parse(" , ");
        assert!(no_secrets.is_empty());
        assert_eq!(
            verify(&no_secrets, Some(&sign("x", b"")), false, b""),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn debug_shows_only_the_count() {
        let s = WebhookSecrets::parse("hunter2,swordfish");
        let d = format!("{s:?}");
        assert_eq!(d, "WebhookSecrets { count: 2 }");
    }
}
