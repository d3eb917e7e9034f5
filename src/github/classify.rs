//! Turns a finished HTTP exchange into what the door does next. Pure, so every status rule is
//! unit-tested without a server.

use super::error::GitHubError;
use super::rate_limit;
use http::header::HeaderMap;
use std::time::Duration;

/// GitHub error messages are short; a misbehaving proxy's HTML page is not.
const MAX_MESSAGE_LEN: usize = 500;

#[derive(Debug)]
pub enum Verdict {
    Success,
    /// 401: the credential was refused; one fresh credential is worth a try.
    Reauth {
        message: String,
    },
    /// Wait this long, then the same request may be sent again (it was not carried out).
    RateLimited(Duration),
    /// GitHub failed (5xx): the request may or may not have taken effect.
    ServerError(u16),
    /// 422 "was submitted too quickly": GitHub's content-creation limit refused the write
    /// without carrying it out, so it may be sent again after a pause (no reset is given).
    ContentLimited {
        message: String,
    },
    /// Final: retrying cannot help.
    Fail(GitHubError),
}

pub fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
    now_unix: u64,
) -> Verdict {
    match status {
        s if s < 400 => Verdict::Success,
        401 => Verdict::Reauth {
            message: error_message(body),
        },
        403 | 429 => {
            let message = error_message(body);
            match rate_limit::limited_for(status, headers, &message, now_unix) {
                Some(wait) => Verdict::RateLimited(wait),
                None => Verdict::Fail(GitHubError::Forbidden { message }),
            }
        }
        404 => Verdict::Fail(GitHubError::NotFound {
            path: path.to_string(),
        }),
        422 if submitted_too_quickly(body) => Verdict::ContentLimited {
            message: error_message(body),
        },
        s if s >= 500 => Verdict::ServerError(s),
        s => Verdict::Fail(GitHubError::Validation {
            message: format!("{s}: {}", error_message(body)),
        }),
    }
}

/// GitHub's content-creation limit: `errors[].message` (or the message) "was submitted too
/// quickly". Seen on issues, comments and pull requests, in REST and GraphQL alike.
fn submitted_too_quickly(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let says = |m: &serde_json::Value| {
        m.as_str()
            .is_some_and(|m| m.contains("submitted too quickly"))
    };
    says(&v["message"])
        || v["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| says(&e["message"])))
}

/// GitHub's `message`, with the `errors[]` details of a 422 appended; raw text otherwise.
pub fn error_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            let mut m = v["message"].as_str().unwrap_or("").to_string();
            if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
                let details: Vec<String> = errors
                    .iter()
                    .map(|e| match e["message"].as_str() {
                        Some(msg) => msg.to_string(),
                        None => e.to_string(),
                    })
                    .collect();
                m = format!("{m} ({})", details.join("; "));
            }
            m
        }
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    truncate(text)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_LEN {
        let mut cut = MAX_MESSAGE_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    fn verdict(status: u16, body: &str) -> Verdict {
        classify(status, &HeaderMap::new(), body.as_bytes(), "/repos/o/r", 0)
    }

    #[test]
    fn the_content_creation_limit_is_a_pause_not_a_failure() {
        // GitHub's shape: 422 "Validation Failed" with the reason in `errors[]`.
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"unprocessable","field":"data","message":"was submitted too quickly"}]}"#;
        assert!(matches!(
            verdict(422, body),
            Verdict::ContentLimited { message } if message.contains("submitted too quickly")
        ));
        // Any other 422 stays final.
        let other = r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"name"}]}"#;
        assert!(matches!(
            verdict(422, other),
            Verdict::Fail(GitHubError::Validation { .. })
        ));
    }

    #[test]
    fn statuses_map_to_actions() {
        assert!(matches!(verdict(200, ""), Verdict::Success));
        assert!(matches!(verdict(201, ""), Verdict::Success));
        assert!(matches!(verdict(204, ""), Verdict::Success));
        assert!(matches!(
            verdict(401, r#"{"message":"Bad credentials"}"#),
            Verdict::Reauth { message } if message == "Bad credentials"
        ));
        assert!(matches!(
            verdict(
                403,
                r#"{"message":"Resource not accessible by integration"}"#
            ),
            Verdict::Fail(GitHubError::Forbidden { .. })
        ));
        assert!(matches!(
            verdict(404, "{}"),
            Verdict::Fail(GitHubError::NotFound { path }) if path == "/repos/o/r"
        ));
        assert!(matches!(
            verdict(422, "{}"),
            Verdict::Fail(GitHubError::Validation { .. })
        ));
        assert!(matches!(
            verdict(410, "{}"),
            Verdict::Fail(GitHubError::Validation { .. })
        ));
        assert!(matches!(verdict(500, ""), Verdict::ServerError(500)));
        assert!(matches!(verdict(502, "<html>"), Verdict::ServerError(502)));
        assert!(matches!(verdict(503, ""), Verdict::ServerError(503)));
    }

    #[test]
    fn rate_limited_403_is_not_forbidden() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert!(matches!(
            classify(403, &h, b"{}", "/x", 0),
            Verdict::RateLimited(d) if d == Duration::from_secs(3)
        ));
    }

    #[test]
    fn messages_include_validation_details_and_are_bounded() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"},{"message":"key is invalid"}]}"#;
        let m = error_message(body.as_bytes());
        assert!(
            m.starts_with("Validation Failed (")
                && m.contains("key is invalid")
                && m.contains("color"),
            "{m}"
        );
        let html = "é".repeat(2000);
        assert!(error_message(html.as_bytes()).len() <= MAX_MESSAGE_LEN + '…'.len_utf8());
    }
}
