//! Docker test support: local test images and container cleanup.
//!
//! No registry is reachable from the machines this project is built on, so nothing is pulled:
//! the images are built here, `FROM scratch`, from Debian's static busybox (package
//! `busybox-static`; `.ci` installs it). Images are tagged by a hash of their content, built at
//! most once per test process and not at all when the engine already has the tag.
//!
//! Include it with `#[path = "support/images.rs"] mod images;`. It depends on std and the docker
//! CLI only, so any test binary can use it.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// Where the static busybox is taken from; `BOSUN_TEST_BUSYBOX` overrides it.
const BUSYBOX: &str = "/usr/bin/busybox";
/// The unprivileged user the test images know (`/etc/passwd`), for scripts that ask `id`.
pub const TEST_UID: u32 = 1000;
pub const TEST_GID: u32 = 1000;

/// True when `docker` can talk to an engine. Asked once per process.
pub fn docker_available() -> bool {
    engine_problem().is_none()
}

/// For a test that needs Docker: true when the engine is there. Otherwise, in CI (`CI=true`)
/// it panics — a Docker test must run in CI, never be skipped silently — and elsewhere it says
/// so loudly and returns false, so the caller returns early.
pub fn require_docker() -> bool {
    let Some(problem) = engine_problem() else {
        return true;
    };
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("docker engine not reachable, and CI=true: Docker tests must run in CI: {problem}");
    }
    eprintln!("SKIPPED: docker engine not reachable: {problem}");
    false
}

/// Why the engine cannot be used, if it cannot.
fn engine_problem() -> Option<String> {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    PROBLEM
        .get_or_init(|| {
            match Command::new("docker")
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
            {
                Ok(out) if out.status.success() => None,
                Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_string()),
                Err(e) => Some(format!("cannot run the docker CLI: {e}")),
            }
        })
        .clone()
}

/// A minimal image: busybox applets in `/bin`, writable-by-user `/workspace` and
/// `/home/bosun`, `/tmp`, and a `bosun` user (uid/gid 1000). Built once per process.
pub fn busybox_image() -> String {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(build_busybox_image).clone()
}

fn build_busybox_image() -> String {
    let source = std::env::var("BOSUN_TEST_BUSYBOX").unwrap_or_else(|_| BUSYBOX.to_string());
    let binary = std::fs::read(&source).unwrap_or_else(|e| {
        panic!("{source}: {e} (the Docker tests need Debian's busybox-static package)")
    });
    let (uid, gid) = (TEST_UID, TEST_GID);
    let setup = [
        "mkdir -p /etc /workspace /home/bosun /tmp".to_string(),
        "chmod 1777 /tmp".to_string(),
        "echo root:x:0:0:root:/root:/bin/sh > /etc/passwd".to_string(),
        format!("echo bosun:x:{uid}:{gid}:bosun:/home/bosun:/bin/sh >> /etc/passwd"),
        format!("printf 'root:x:0:\\nbosun:x:{gid}:\\n' > /etc/group"),
        format!("chown {uid}:{gid} /workspace /home/bosun"),
    ]
    .join(" && ");
    let dockerfile = format!(
        "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN {setup}\n\
         USER {uid}:{gid}\n\
         WORKDIR /workspace\n"
    );
    let tag = format!(
        "bosun-test-busybox:{:016x}",
        fnv1a(&[dockerfile.as_bytes(), &binary])
    );
    let files = [
        ("Dockerfile", dockerfile.as_bytes(), 0o644),
        ("busybox", binary.as_slice(), 0o755),
    ];
    build_image(
        &tag,
        &files,
        "is /usr/bin/busybox the static build (busybox-static)?",
    );
    tag
}

/// Runs `body` with the busybox image under the hard limit `limit`, when Docker is there (in
/// CI it must be: [`require_docker`]).
pub async fn with_busybox<F: std::future::Future<Output = ()>>(
    limit: std::time::Duration,
    body: impl FnOnce(String) -> F,
) {
    tokio::time::timeout(limit, async {
        if !require_docker() {
            return;
        }
        body(busybox_image()).await
    })
    .await
    .expect("test timed out");
}

/// [`busybox_image`] without `/workspace`: what a sandbox mounts there must come with its own
/// owner, as with an agent image that never heard of bosun.
pub fn busybox_image_without_workspace() -> String {
    let base = busybox_image();
    let dockerfile = format!(
        "FROM {base}\nUSER 0:0\nRUN rm -rf /workspace\nUSER {TEST_UID}:{TEST_GID}\nWORKDIR /\n"
    );
    let tag = format!(
        "bosun-test-no-workspace:{:016x}",
        fnv1a(&[dockerfile.as_bytes()])
    );
    build_image(&tag, &[("Dockerfile", dockerfile.as_bytes(), 0o644)], "");
    tag
}

/// An image `FROM` [`busybox_image`] with extra files: `(path in the image, content, mode)`,
/// e.g. a fake agent script. Built once per process per content.
pub fn image_with_files(tag_hint: &str, files: &[(&str, &str, u32)]) -> String {
    static BUILT: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let base = busybox_image();
    let mut dockerfile = format!("FROM {base}\n");
    let mut context: Vec<(String, Vec<u8>, u32)> = Vec::new();
    let mut hashed: Vec<Vec<u8>> = vec![base.clone().into_bytes()];
    for (i, (path, content, mode)) in files.iter().enumerate() {
        assert!(path.starts_with('/'), "image path must be absolute: {path}");
        let name = format!("file{i}");
        dockerfile.push_str(&format!("COPY {name} {path}\n"));
        context.push((name, content.as_bytes().to_vec(), *mode));
        hashed.push(format!("{path}\0{mode:o}\0").into_bytes());
        hashed.push(content.as_bytes().to_vec());
    }
    hashed.push(dockerfile.clone().into_bytes());
    let parts: Vec<&[u8]> = hashed.iter().map(Vec::as_slice).collect();
    let tag = format!("bosun-test-{}:{:016x}", clean_hint(tag_hint), fnv1a(&parts));

    // One build per tag at a time; the lock is held during the build on purpose.
    let built = BUILT.get_or_init(|| Mutex::new(HashSet::new()));
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if !built.contains(&tag) {
        let mut all: Vec<(&str, &[u8], u32)> = vec![("Dockerfile", dockerfile.as_bytes(), 0o644)];
        all.extend(
            context
                .iter()
                .map(|(n, c, m)| (n.as_str(), c.as_slice(), *m)),
        );
        build_image(&tag, &all, "");
        built.insert(tag.clone());
    }
    tag
}

/// Builds `tag` from a temporary context holding `files`, unless the engine has it already.
/// The legacy builder (`DOCKER_BUILDKIT=0`) is used: it needs no buildx plugin and its `COPY`
/// keeps the files' modes.
fn build_image(tag: &str, files: &[(&str, &[u8], u32)], hint: &str) {
    if docker(&["image", "inspect", "--format", "{{.Id}}", tag])
        .status
        .success()
    {
        return;
    }
    let context = TempDir::new("bosun-image");
    for (name, content, mode) in files {
        let path = context.path().join(name);
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        set_mode(&path, *mode);
    }
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--quiet", "--tag", tag])
        .arg(context.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker build: {e}"));
    assert!(
        out.status.success(),
        "docker build of {tag} failed {hint}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes, when dropped, every container carrying the label `key=value` — also when the test
/// panics. A test gives its containers a label of its own (for bosun's sandbox: a unique
/// `bosun.instance`) and keeps one of these alive for its whole body.
pub struct ContainerSweep {
    filter: String,
}

impl ContainerSweep {
    pub fn new(key: &str, value: &str) -> Self {
        ContainerSweep {
            filter: format!("label={key}={value}"),
        }
    }

    /// IDs of the containers carrying the label, running or not.
    /// Waits (up to 60 s) until such containers exist (`present`) or are all gone; false when
    /// they never did.
    pub async fn become_present(&self, present: bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.containers().is_empty() == present {
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        true
    }

    pub fn containers(&self) -> Vec<String> {
        let out = docker(&[
            "ps",
            "--all",
            "--quiet",
            "--no-trunc",
            "--filter",
            &self.filter,
        ]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Removes the containers carrying the label now; returns their IDs.
    pub fn remove_all(&self) -> Vec<String> {
        let ids = self.containers();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(ids.iter().map(String::as_str));
            docker(&args);
        }
        ids
    }
}

impl Drop for ContainerSweep {
    fn drop(&mut self) {
        let left = self.remove_all();
        if !left.is_empty() && !std::thread::panicking() {
            panic!(
                "test left {} container(s) with {} behind: {left:?}",
                left.len(),
                self.filter
            );
        }
    }
}

/// Checks, when dropped, that bosun made no Docker network for this instance: its containers
/// reach the proxies through sockets (`run::doors`), with no network at all. Any network found
/// is removed, and the test fails (unless it is failing already).
pub struct NoNetworkMade(pub String);

impl NoNetworkMade {
    /// For the bosun whose data directory is `data_dir`.
    pub fn of(data_dir: &std::path::Path) -> NoNetworkMade {
        NoNetworkMade(bosun::run::runner::instance_label(data_dir))
    }
}

impl Drop for NoNetworkMade {
    fn drop(&mut self) {
        let filter = format!("label=bosun.instance={}", self.0);
        let found = Command::new("docker")
            .args(["network", "ls", "-q", "--filter", &filter])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let networks: Vec<&str> = found.split_whitespace().collect();
        for id in &networks {
            let _ = Command::new("docker").args(["network", "rm", id]).output();
        }
        if !networks.is_empty() && !std::thread::panicking() {
            panic!("bosun made Docker networks for its runs: {networks:?}");
        }
    }
}

/// A unique value for labels and names in one test.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

fn clean_hint(hint: &str) -> String {
    let clean: String = hint
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(40)
        .collect();
    if clean.is_empty() {
        "image".to_string()
    } else {
        clean
    }
}

/// FNV-1a, 64 bits: a content hash that is stable across processes and Rust versions
/// (unlike `DefaultHasher`), with no dependency.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xffu8]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A build context directory, removed when dropped (std only, so this file needs no crate).
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
