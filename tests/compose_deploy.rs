//! deploy/compose.yml, run for real: bosun in a container as the image's unprivileged user
//! (10001) with only the Docker socket and the same-path data directory the compose file
//! gives it, running `bosun demo --once` there. The demo drives the whole loop (the GitHub
//! simulator, a locally built agent image, agent containers started through the host's engine
//! with the checkout bind-mounted by its host path) to a draft pull request.
//!
//! The Dockerfile's image needs a registry to build (`FROM rust`), which this machine has not;
//! the image here is imported instead from a root file system holding the test-built bosun,
//! the libraries it links, Debian's git (the simulator serves git over HTTP with it) and the
//! static busybox the demo builds its agent image from. The compose file itself is used as is.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/images.rs"]
mod images;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const UID: u32 = 10001;
const BUSYBOX: &str = "/bin/busybox";
/// The test's hard limit, far above `TEST_TIMEOUT` of the other tests: it imports an image
/// of the test-built bosun, then `docker-compose run` and `down` are bounded at 240 s each by
/// `timeout(1)`. Generous for a slow CI machine, yet a hang fails the test instead of blocking
/// CI.
const COMPOSE_TEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Whether docker-compose is here; under `CI=true` its absence fails the test.
fn require_compose() -> bool {
    let found = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "docker-compose is missing (Debian's docker-compose package)"
        );
        eprintln!("SKIPPED: docker-compose is not installed");
    }
    found
}

/// The shared libraries `binary` loads, as `ldd` lists them.
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let out = run(Command::new("ldd").arg(binary));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Appends the host file `source` at `path` in the archive (links followed), keeping its mode.
fn add_file(builder: &mut tar::Builder<std::fs::File>, source: &Path, path: &str) {
    let bytes = std::fs::read(source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let mode = std::fs::metadata(source).unwrap().mode() & 0o777;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(mode);
    header.set_size(bytes.len() as u64);
    builder
        .append_data(&mut header, path.trim_start_matches('/'), bytes.as_slice())
        .unwrap();
}

fn add_dir(builder: &mut tar::Builder<std::fs::File>, path: &str, mode: u32) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(mode);
    header.set_size(0);
    builder
        .append_data(
            &mut header,
            format!("{}/", path.trim_matches('/')),
            std::io::empty(),
        )
        .unwrap();
}

fn add_text(builder: &mut tar::Builder<std::fs::File>, path: &str, text: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(text.len() as u64);
    builder
        .append_data(&mut header, path.trim_start_matches('/'), text.as_bytes())
        .unwrap();
}

/// Imports the image (once per bosun build) and returns its tag.
fn bosun_image(work: &Path) -> String {
    let bosun = PathBuf::from(env!("CARGO_BIN_EXE_bosun"));
    let meta = std::fs::metadata(&bosun).unwrap();
    let tag = format!("bosun-compose-test:{:x}-{:x}", meta.len(), meta.mtime());
    if run(Command::new("docker").args(["image", "inspect", &tag]))
        .status
        .success()
    {
        return tag;
    }
    let git = Path::new("/usr/bin/git");
    let git_core = Path::new("/usr/lib/git-core");
    let mut libs: BTreeSet<PathBuf> = BTreeSet::new();
    for binary in [bosun.as_path(), git, &git_core.join("git-http-backend")] {
        libs.extend(libraries(binary));
    }
    let rootfs = work.join("rootfs.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&rootfs).unwrap());
    for dir in [
        "bin",
        "etc",
        "lib",
        "lib64",
        "tmp",
        "usr",
        "usr/bin",
        "usr/lib",
        "usr/local",
        "usr/local/bin",
        "usr/share",
        "usr/share/git-core",
        "lib/x86_64-linux-gnu",
    ] {
        add_dir(&mut builder, dir, if dir == "tmp" { 0o1777 } else { 0o755 });
    }
    add_file(&mut builder, &bosun, "/usr/local/bin/bosun");
    add_file(&mut builder, Path::new(BUSYBOX), BUSYBOX);
    add_file(&mut builder, git, "/usr/bin/git");
    for lib in &libs {
        add_file(&mut builder, lib, &lib.display().to_string());
    }
    builder
        .append_dir_all("usr/lib/git-core", git_core)
        .expect("git-core");
    builder
        .append_dir_all(
            "usr/share/git-core/templates",
            "/usr/share/git-core/templates",
        )
        .expect("git templates");
    add_text(
        &mut builder,
        "/etc/passwd",
        &format!(
            "root:x:0:0:root:/root:/bin/busybox\nbosun:x:{UID}:{UID}:bosun:/tmp:/bin/busybox\n"
        ),
    );
    add_text(
        &mut builder,
        "/etc/group",
        &format!("root:x:0:\nbosun:x:{UID}:\n"),
    );
    builder.into_inner().unwrap().sync_all().unwrap();
    let out = run(Command::new("docker").args([
        "import",
        "--change",
        "ENTRYPOINT [\"/usr/local/bin/bosun\"]",
        "--change",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
        &rootfs.display().to_string(),
        &tag,
    ]));
    assert!(
        out.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tag
}

#[test]
fn the_compose_deploy_runs_the_demo_to_a_pull_request_as_an_unprivileged_user() {
    deadline::within(COMPOSE_TEST_TIMEOUT, || {
        if !images::require_docker() || !require_compose() {
            return;
        }
        // SAFETY: geteuid cannot fail and touches no memory.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var("CI").is_err(), "CI runs this test as root");
            eprintln!("SKIPPED: preparing a data directory for uid {UID} needs root");
            return;
        }
        let work = tempfile::tempdir().unwrap();
        let image = bosun_image(work.path());
        // As docs/deploy.md says: the data directory made beforehand, owned by bosun's uid.
        let data = work.path().join("srv-bosun");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(UID), Some(UID)).unwrap();
        let socket_gid = std::fs::metadata("/var/run/docker.sock").unwrap().gid();
        let env_file = work.path().join(".env");
        std::fs::write(
            &env_file,
            format!(
                "DOCKER_GID={socket_gid}\nBOSUN_DATA_DIR={}\nBOSUN_IMAGE={image}\n\
             GITHUB_APP_ID=\nBOSUN_CONFIG=\n",
                data.display()
            ),
        )
        .unwrap();
        let project = images::unique("bosun-compose").replace(['.', ':'], "-");
        let compose = |args: &[&str]| {
            let mut command = Command::new("timeout");
            command
                .arg("240")
                .arg("docker-compose")
                .arg("--env-file")
                .arg(&env_file)
                .args([
                    "-f",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/compose.yml"),
                ])
                .args(["-p", &project])
                .args(args);
            command
        };
        let demo_dir = data.join("demo").display().to_string();
        let started = std::time::Instant::now();
        let out = run(&mut compose(&[
            "run",
            "--rm",
            "--no-deps",
            "bosun",
            "demo",
            "--once",
            "--data-dir",
            &demo_dir,
        ]));
        let _ = run(&mut compose(&["down", "--remove-orphans"]));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the demo failed in the compose deploy:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("pull request"), "{stdout}");
        // What the run left is the unprivileged user's: nothing ran as root.
        let owners: BTreeSet<u32> = walk(&data.join("demo"))
            .iter()
            .map(|p| std::fs::symlink_metadata(p).unwrap().uid())
            .collect();
        assert_eq!(owners, BTreeSet::from([UID]), "files not owned by {UID}");
        eprintln!("{stdout}\ncompose demo took {:?}", started.elapsed());
    });
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
