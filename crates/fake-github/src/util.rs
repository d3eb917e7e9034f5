//! Small helpers shared by the model and the renderers: time stamps, ids, encodings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rand::Rng as _;

/// Seconds since the Unix epoch.
pub(crate) fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// `2011-04-14T16:00:49Z`: the UTC, second-precision form GitHub uses for `created_at` and friends.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = epoch_secs(t);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Legacy global node id, e.g. `MDQ6VXNlcjE=` for ("User", 1): base64 of `04:User1`.
pub(crate) fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// A GraphQL-only node id in GitHub's newer `PREFIX_…` form (e.g. `PRRT_…` for a review thread):
/// the prefix, then the legacy id's payload in URL-safe base64 without padding.
pub(crate) fn graphql_id(prefix: &str, kind: &str, id: u64) -> String {
    let payload = format!("0{}:{kind}{id}", kind.len());
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    )
}

/// A stable user id for a login: the same login always gets the same id, in every fake.
pub(crate) fn user_id_for(login: &str) -> u64 {
    // FNV-1a over the lower-cased login, folded into 1_000_000..90_000_000.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in login.to_ascii_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    1_000_000 + h % 89_000_000
}

/// Percent-encodes everything outside the URL "unreserved" set (for logins and label names in URLs).
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space) in a query-string value.
pub(crate) fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `n` random characters from `[A-Za-z0-9]`.
pub(crate) fn random_alnum(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// `n` random lower-case hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// The git blob id of `content`: SHA-1 over `blob <len>\0<content>`.
pub(crate) fn git_blob_sha(content: &[u8]) -> String {
    use sha1::{Digest as _, Sha1};
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64 wrapped at 60 characters, each line ending in `\n`, as the contents API returns it.
pub(crate) fn base64_wrapped(content: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(content);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Parses a raw query string into decoded (key, value) pairs, in order.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (pct_decode(k), pct_decode(v)),
            None => (pct_decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_secs(1_302_796_849);
        assert_eq!(rfc3339(t), "2011-04-14T16:00:49Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn node_ids_match_github_legacy_form() {
        assert_eq!(node_id("User", 1), "MDQ6VXNlcjE=");
        assert_eq!(node_id("IssueComment", 1), "MDEyOklzc3VlQ29tbWVudDE=");
        assert_eq!(node_id("Reaction", 1), "MDg6UmVhY3Rpb24x");
        assert_eq!(
            node_id("Repository", 1296269),
            "MDEwOlJlcG9zaXRvcnkxMjk2MjY5"
        );
    }

    #[test]
    fn graphql_ids_are_prefixed_and_unpadded() {
        let id = graphql_id("PRRT", "PullRequestReviewThread", 1);
        assert!(id.starts_with("PRRT_"));
        assert!(!id.contains('=') && !id.contains('/') && !id.contains('+'));
        assert_ne!(id, graphql_id("PRRT", "PullRequestReviewThread", 2));
    }

    #[test]
    fn blob_sha_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn wraps_base64_at_60() {
        let s = base64_wrapped(&[b'a'; 100]);
        let lines: Vec<&str> = s.split_terminator('\n').collect();
        assert_eq!(lines[0].len(), 60);
        assert!(s.ends_with('\n'));
        assert_eq!(lines.concat().len(), 136);
    }

    #[test]
    fn decodes_query() {
        assert_eq!(
            query_pairs("labels=a%20b,c&page=2&x"),
            vec![
                ("labels".into(), "a b,c".into()),
                ("page".into(), "2".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(pct_decode("100%"), "100%");
        assert_eq!(pct("bosun[bot]"), "bosun%5Bbot%5D");
    }
}
