//! Webhook bodies as GitHub sends them: GitHub's own example payloads from
//! `tests/fixtures/webhooks/`, minified (GitHub sends compact JSON); each delivery is made one
//! of a kind and signed as it is sent (`one_of_a_kind`).

use anyhow::Context;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root, where the fixtures and the `bosun` crate live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn webhooks_dir() -> PathBuf {
    workspace_root().join("tests/fixtures/webhooks")
}

/// `sha256=` + hex HMAC-SHA256(secret, body): the `X-Hub-Signature-256` GitHub sends.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `body` (a JSON object) made one of a kind, with its signature: bosun takes a body it saw
/// within a day again as a replay (200, not stored), and GitHub never sends the same body
/// twice, so each delivery gets `"bosun_bench":"<tag>"` before its closing brace. Done per
/// request: a copy and an HMAC, far below the server's time per delivery.
pub fn one_of_a_kind(body: &[u8], tag: &str, secret: &str) -> (Bytes, String) {
    let end = body.iter().rposition(|b| *b == b'}').unwrap_or(body.len());
    let mut unique = Vec::with_capacity(body.len() + tag.len() + 20);
    unique.extend_from_slice(&body[..end]);
    unique.extend_from_slice(format!(",\"bosun_bench\":\"{tag}\"}}").as_bytes());
    let signature = sign(secret, &unique);
    (Bytes::from(unique), signature)
}

/// One delivery body, made one of a kind and signed as it is sent (`one_of_a_kind`).
#[derive(Debug, Clone)]
pub struct Payload {
    pub event: String,
    pub body: Bytes,
}

/// Events whose deliveries intake only records (noted or ignored) without queueing a job, so
/// the workers stay idle and the measurement is the ingest path alone. `issues` and
/// `issue_comment` are the events bosun acts on; their examples are included because parsing
/// them is intake's real work, minus `issues.labeled`, which always queues a trigger job.
const INGEST_EVENTS: &[&str] = &[
    "check_run",
    "check_suite",
    "installation",
    "installation_repositories",
    "issue_comment",
    "issues",
    "ping",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
];

fn starts_work(event: &str, file: &str) -> bool {
    event == "issues" && file.starts_with("labeled")
}

/// Every fixture of `INGEST_EVENTS` (sorted, so runs send the same sequence).
pub fn ingest_mix() -> anyhow::Result<Vec<Payload>> {
    let mut mix = Vec::new();
    for event in INGEST_EVENTS {
        let dir = webhooks_dir().join(event);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            if starts_work(event, &file) {
                continue;
            }
            let body = minified(&read_json(&path)?)?;
            mix.push(Payload {
                event: (*event).to_string(),
                body: Bytes::from(body),
            });
        }
    }
    anyhow::ensure!(
        !mix.is_empty(),
        "no fixtures under {}",
        webhooks_dir().display()
    );
    Ok(mix)
}

/// "check_run 8, issues 26, ...": how many examples of each event the mix holds.
pub fn describe_mix(mix: &[Payload]) -> String {
    let mut per_event: BTreeMap<&str, usize> = BTreeMap::new();
    for s in mix {
        *per_event.entry(&s.event).or_default() += 1;
    }
    per_event
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn minified(v: &Value) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

/// Where the ack benchmark's labelled issues live on the fake GitHub, and who labels them.
#[derive(Debug, Clone)]
pub struct Target {
    pub full_name: String,
    pub repo_id: u64,
    pub installation_id: u64,
    pub sender_login: String,
    pub sender_id: u64,
}

/// One of GitHub's example payloads, `tests/fixtures/webhooks/<event>/<file>`.
pub fn example(event: &str, file: &str) -> anyhow::Result<Value> {
    read_json(&webhooks_dir().join(event).join(file))
}

/// GitHub's `issues.labeled` example, the starting point of every ack delivery.
pub fn labeled_template() -> anyhow::Result<Value> {
    example("issues", "labeled.payload.json")
}

/// An example moved onto the fake's repository, its installation and a user of it; `number`
/// becomes the number of the issue or pull request the example is about, if it is about one.
pub fn retarget(example: &Value, target: &Target, number: Option<u64>) -> Value {
    let mut p = example.clone();
    let (owner, name) = target
        .full_name
        .split_once('/')
        .expect("a full name is owner/name");
    p["repository"]["id"] = target.repo_id.into();
    p["repository"]["name"] = name.into();
    p["repository"]["full_name"] = target.full_name.as_str().into();
    p["repository"]["owner"]["login"] = owner.into();
    p["installation"] = serde_json::json!({ "id": target.installation_id });
    p["sender"]["login"] = target.sender_login.as_str().into();
    p["sender"]["id"] = target.sender_id.into();
    p["sender"]["type"] = "User".into();
    if let Some(n) = number {
        for about in ["issue", "pull_request"] {
            if p[about].is_object() {
                p[about]["number"] = n.into();
            }
        }
        if p["number"].is_u64() {
            p["number"] = n.into();
        }
    }
    p
}

/// The example moved onto the fake's repository and `issue`, labelled `label` by a user.
pub fn labeled(template: &Value, target: &Target, issue: u64, label: &str) -> Vec<u8> {
    let mut p = retarget(template, target, Some(issue));
    if let Some(issue) = p["issue"].as_object_mut() {
        // The example's issue is a plain issue, but make sure: bosun ignores pull requests.
        issue.remove("pull_request");
    }
    p["label"]["name"] = label.into();
    serde_json::to_vec(&p).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_delivery_is_one_of_a_kind_and_still_json() {
        let (a, sig_a) = one_of_a_kind(br#"{"zen":"x"}"#, "1-1", "s");
        let (b, sig_b) = one_of_a_kind(br#"{"zen":"x"}"#, "1-2", "s");
        assert_ne!(a, b);
        assert_ne!(sig_a, sig_b);
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["bosun_bench"], "1-1");
        assert_eq!(sig_a, sign("s", &a));
    }

    #[test]
    fn signature_matches_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries" page.
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn the_mix_leaves_out_what_starts_work() {
        let mix = ingest_mix().unwrap();
        let labeled = minified(&labeled_template().unwrap()).unwrap();
        assert!(mix.iter().all(|s| s.body != labeled));
        assert!(mix.iter().any(|s| s.event == "issue_comment"));
    }

    #[test]
    fn labeled_points_at_the_target() {
        let target = Target {
            full_name: "o/r".into(),
            repo_id: 7,
            installation_id: 9,
            sender_login: "w".into(),
            sender_id: 11,
        };
        let body = labeled(&labeled_template().unwrap(), &target, 3, "bosun");
        let p: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(p["repository"]["full_name"], "o/r");
        assert_eq!(p["repository"]["owner"]["login"], "o");
        assert_eq!(p["installation"]["id"], 9);
        assert_eq!(p["issue"]["number"], 3);
        assert_eq!(p["label"]["name"], "bosun");
        assert_eq!(
            (p["sender"]["login"].as_str(), p["sender"]["id"].as_u64()),
            (Some("w"), Some(11))
        );
    }
}
