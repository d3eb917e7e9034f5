//! Builds `crates/sandbox-relay` as a static executable and hands its path to the crate as
//! `BOSUN_RELAY_BINARY`, so the one `bosun` binary carries the relay it mounts into sandboxes
//! (see `src/run/doors.rs`). Static, because it runs inside whatever image an agent uses, which
//! may have a different C library or none at all. The relay uses std only, so plain `rustc` on
//! its one file is enough; cargo's own build of that crate (for its tests) is a separate one.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = PathBuf::from("crates/sandbox-relay/src/main.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    // sqlx's `migrate!` embeds `migrations/` when the crate compiles: a new file alone must
    // rebuild it too.
    println!("cargo:rerun-if-changed=migrations");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let binary = out.join("bosun-relay");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "bosun_relay",
        ])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "strip=symbols",
            "-C",
            "panic=abort",
        ])
        .args(["-C", "target-feature=+crt-static", "--target", &target])
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .expect("running rustc for the sandbox relay");
    assert!(
        status.success(),
        "building the sandbox relay as a static executable failed (it needs the C library's \
         static archive, libc6-dev on Debian)"
    );
    println!("cargo:rustc-env=BOSUN_RELAY_BINARY={}", binary.display());
}
