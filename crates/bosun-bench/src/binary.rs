//! What the bench runs: the release `bosun` binary under test, and the slow-disk preload.
//! The bench always asks cargo to build them first: cargo knows whether they are stale, and
//! benchmarking a debug or outdated binary would be worse than the few seconds a no-op build
//! costs.

use crate::payloads::workspace_root;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What cargo sets for the crate it runs (prefixes), as opposed to cargo's own configuration
/// (CARGO_HOME, CARGO_TARGET_DIR, ...), which the child cargo must see.
const CRATE_ENV: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

pub fn build_bosun() -> anyhow::Result<PathBuf> {
    let bin = release_dir(&["--bin", "bosun"])?.join("bosun");
    ensure_built(&bin)?;
    Ok(bin)
}

/// The preload library of `--fsync-delay-us` (`crates/slow-disk`).
pub fn build_slow_disk() -> anyhow::Result<PathBuf> {
    let lib = release_dir(&["-p", "slow-disk"])?.join("libslow_disk.so");
    ensure_built(&lib)?;
    Ok(lib)
}

/// `cargo build --release <what>`; returns the directory the release artifacts are in.
fn release_dir(what: &[&str]) -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    // `cargo run` tells us which cargo it is; use the same one (and so the same toolchain).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let shown = format!("cargo build --release {}", what.join(" "));
    eprintln!("building for the bench ({shown})...");
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release"])
        .args(what)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    // `cargo run` describes this crate to us in CARGO_MANIFEST_DIR, CARGO_PKG_*, ...; passed
    // on, they look like a changed environment to build scripts that watch them (ring's does),
    // and every bench run and every plain `cargo build` would rebuild half the tree.
    for (name, _) in std::env::vars_os() {
        let name_str = name.to_string_lossy();
        if CRATE_ENV.iter().any(|p| name_str.starts_with(p)) {
            build.env_remove(&name);
        }
    }
    let status = build
        .status()
        .with_context(|| format!("running {}", cargo.to_string_lossy()))?;
    anyhow::ensure!(status.success(), "{shown} failed");

    // The child cargo inherits CARGO_TARGET_DIR and our working directory, so a relative
    // target dir means the same place to both of us.
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => root.join("target"),
    };
    Ok(target.join("release"))
}

fn ensure_built(artifact: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        artifact.is_file(),
        "{} is missing after a successful build: is the target dir configured somewhere \
         else (e.g. build.target-dir)? Set CARGO_TARGET_DIR to it.",
        artifact.display()
    );
    Ok(())
}

/// Which source the binary was built from, for the report: `04053f8`, with a note when the
/// working tree has uncommitted changes. `None` outside a git checkout.
pub fn source_version() -> Option<String> {
    let root = workspace_root();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit} + uncommitted changes")
    } else {
        commit
    })
}
