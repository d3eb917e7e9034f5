//! The release `bosun` binary under test. The bench always asks cargo to build it first: cargo
//! knows whether it is stale, and benchmarking a debug or outdated binary would be worse than
//! the few seconds a no-op build costs.

use crate::payloads::workspace_root;
use anyhow::Context;
use std::path::PathBuf;
use std::process::Command;

pub fn build_bosun() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    // `cargo run` tells us which cargo it is; use the same one (and so the same toolchain).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the release bosun binary (cargo build --release --bin bosun)...");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "bosun", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .status()
        .with_context(|| format!("running {}", cargo.to_string_lossy()))?;
    anyhow::ensure!(status.success(), "cargo build --release --bin bosun failed");

    // The child cargo inherits CARGO_TARGET_DIR and our working directory, so a relative
    // target dir means the same place to both of us.
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => root.join("target"),
    };
    let bin = target.join("release").join("bosun");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing after a successful build: is the target dir configured somewhere \
         else (e.g. build.target-dir)? Set CARGO_TARGET_DIR to it.",
        bin.display()
    );
    Ok(bin)
}
