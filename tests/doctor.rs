//! `bosun doctor` as an operator runs it: the real binary, against a temporary data directory,
//! the fake GitHub on loopback and the local Docker engine. Each broken setup (no key, a key
//! GitHub refuses, no engine, no image) must give exactly one FAIL line that says what to do,
//! and a non-zero exit; a sound setup gives none.

#[path = "support/images.rs"]
mod images;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use fake_github::{FakeGitHub, TEST_APP_PRIVATE_KEY};
use support::{REPO, SECRET, TEST_TIMEOUT};

/// The hard limit of each test here: a test runs `bosun doctor` up to twice, each run bounded
/// by `TEST_TIMEOUT` by itself, after building the agent image its version check runs.
const DOCTOR_TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// An agent CLI that knows its version and nothing else.
const FAKE_CLAUDE: &str =
    "#!/bin/sh\n[ \"$1\" = --version ] && echo '1.0.33 (Claude Code)' && exit 0\nexit 2\n";

/// Another App's key: well formed, but GitHub cannot verify the fake App's JWTs signed with it.
fn other_apps_key() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/fake-github/tests/keys/other-app.pem")
}

struct Setup {
    github: FakeGitHub,
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Setup {
    /// The fake GitHub with the App installed on `REPO`, a data directory, the App's key in a
    /// file and a run configuration naming `image`.
    async fn new(image: &str) -> Setup {
        support::init_logs();
        let github = FakeGitHub::start().await;
        github.add_repo(REPO);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(dir.path().join("app.pem"), TEST_APP_PRIVATE_KEY).unwrap();
        std::fs::write(
            dir.path().join("bosun-server.yml"),
            format!(
                "default_agent: fake\nagents:\n  fake:\n    adapter: claude\n    image: {image}\n\
                 limits:\n  memory_mb: 256\n  cpus: 1\ndocker:\n  pull: never\n"
            ),
        )
        .unwrap();
        Setup { github, dir, data }
    }

    /// The environment of a server configured by hand, with `changes` applied (`None` removes).
    async fn doctor(&self, changes: &[(&str, Option<&str>)]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bosun"));
        cmd.arg("doctor").env_clear();
        for keep in ["PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        let app_id = self.github.app_id().to_string();
        let pem = self.dir.path().join("app.pem");
        let config = self.dir.path().join("bosun-server.yml");
        let mut env: Vec<(&str, Option<String>)> = vec![
            ("BOSUN_DATA_DIR", Some(self.data.display().to_string())),
            ("BOSUN_CONFIG", Some(config.display().to_string())),
            ("GITHUB_API_URL", Some(self.github.url())),
            ("GITHUB_WEB_URL", Some(self.github.url())),
            ("GITHUB_APP_ID", Some(app_id)),
            ("GITHUB_PRIVATE_KEY_PATH", Some(pem.display().to_string())),
            ("GITHUB_WEBHOOK_SECRET", Some(SECRET.to_string())),
        ];
        for (key, value) in changes {
            env.retain(|(k, _)| k != key);
            env.push((key, value.map(str::to_string)));
        }
        for (key, value) in env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let out = tokio::time::timeout(TEST_TIMEOUT, cmd.output())
            .await
            .expect("doctor answers in time")
            .expect("the binary runs");
        // Shown when a test fails (the harness keeps a passing test's output to itself).
        eprintln!(
            "bosun doctor {changes:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !self.data.exists() || no_scratch_left(&self.data),
            "the version check left its scratch directory"
        );
        out
    }
}

fn no_scratch_left(data: &Path) -> bool {
    std::fs::read_dir(data)
        .unwrap()
        .filter_map(Result::ok)
        .all(|e| !e.file_name().to_string_lossy().starts_with("doctor-"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every line is one check; returns the FAIL lines.
fn fails(out: &Output) -> Vec<String> {
    let text = stdout(out);
    for line in text.lines() {
        assert!(
            ["ok    ", "warn  ", "FAIL  ", "skip  "]
                .iter()
                .any(|p| line.starts_with(p)),
            "not a check line: {line:?}\n{text}"
        );
    }
    text.lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_string)
        .collect()
}

/// Exactly one failure, containing each of `says`, and a non-zero exit.
fn one_failure(out: &Output, says: &[&str]) -> String {
    let failed = fails(out);
    assert_eq!(failed.len(), 1, "one FAIL line expected:\n{}", stdout(out));
    for s in says {
        assert!(failed[0].contains(s), "{s:?} not in {:?}", failed[0]);
    }
    assert_eq!(out.status.code(), Some(1), "{}", stdout(out));
    failed[0].clone()
}

fn agent_image() -> String {
    images::image_with_files(
        "doctor-claude",
        &[("/usr/local/bin/claude", FAKE_CLAUDE, 0o755)],
    )
}

/// Containers of the doctor's version checks carry the data directory's instance label; the
/// sweep fails the test if one is left behind.
fn sweep(setup: &Setup) -> images::ContainerSweep {
    std::fs::create_dir_all(&setup.data).unwrap();
    let label = bosun::run::runner::instance_label(&setup.data);
    images::ContainerSweep::new("bosun.instance", &label)
}

#[tokio::test]
async fn a_sound_setup_passes_every_check_and_names_the_cli_version() {
    tokio::time::timeout(DOCTOR_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let setup = Setup::new(&agent_image()).await;
        let _sweep = sweep(&setup);
        let out = setup.doctor(&[]).await;
        let text = stdout(&out);
        assert!(fails(&out).is_empty(), "{text}");
        assert_eq!(out.status.code(), Some(0), "{text}");
        for expected in [
            "ok    App credentials: App 4242",
            "ok    GitHub App: `bosun-test` (id 4242)",
            "ok    installations: installed on 1 account(s): octo-org",
            "ok    Docker engine: Docker ",
            // The fake CLI says it is 1.0.33, older than the adapter knows: named, not failed.
            "warn  agent `fake`: `claude --version` in a throw-away container",
            "1.0.33 is older than the versions bosun's `claude` adapter was checked against \
             (2.1.197 and later)",
            "ok    sandbox doors: ",
            "the relay runs",
        ] {
            assert!(text.contains(expected), "{expected:?} missing:\n{text}");
        }
        let progress = String::from_utf8_lossy(&out.stderr);
        assert!(
            progress.contains("running `claude --version`"),
            "the slow step says what it does first: {progress}"
        );
        assert!(!text.contains("PRIVATE KEY") && !progress.contains("PRIVATE KEY"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_missing_key_is_one_failure_saying_where_to_put_it() {
    tokio::time::timeout(DOCTOR_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let setup = Setup::new(&agent_image()).await;
        let _sweep = sweep(&setup);
        let out = setup.doctor(&[("GITHUB_PRIVATE_KEY_PATH", None)]).await;
        one_failure(
            &out,
            &[
                "App credentials",
                "GITHUB_APP_ID is set but no private key",
                "set GITHUB_PRIVATE_KEY_PATH",
            ],
        );
        assert!(
            stdout(&out).contains("skip  GitHub App:"),
            "{}",
            stdout(&out)
        );

        // A key file that is not there says which path to fix.
        let out = setup
            .doctor(&[("GITHUB_PRIVATE_KEY_PATH", Some("/nonexistent/app.pem"))])
            .await;
        one_failure(
            &out,
            &["/nonexistent/app.pem", "point GITHUB_PRIVATE_KEY_PATH at"],
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_key_github_refuses_is_one_failure_saying_to_download_a_new_one() {
    tokio::time::timeout(DOCTOR_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let setup = Setup::new(&agent_image()).await;
        let _sweep = sweep(&setup);
        let key = other_apps_key();
        let out = setup
            .doctor(&[("GITHUB_PRIVATE_KEY_PATH", Some(key.to_str().unwrap()))])
            .await;
        let line = one_failure(
            &out,
            &[
                "GitHub App: GitHub refused the App's key: A JSON web token could not be decoded",
                &format!(
                    "download a new private key for App 4242 at {}/settings/apps",
                    setup.github.url()
                ),
            ],
        );
        assert!(!line.contains("BEGIN"), "no key material in the output");
        assert!(stdout(&out).contains("skip  installations:"));
        // The refusal came from GitHub: the JWT reached /app and nothing else was asked.
        let asked: Vec<String> = setup
            .github
            .requests()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect();
        assert!(
            asked.iter().all(|r| r.starts_with("GET /app 401")),
            "{asked:?}"
        );

        // A file that holds no key at all fails before GitHub is asked.
        let junk = setup.dir.path().join("junk.pem");
        std::fs::write(&junk, "not a key\n").unwrap();
        let out = setup
            .doctor(&[("GITHUB_PRIVATE_KEY_PATH", Some(junk.to_str().unwrap()))])
            .await;
        one_failure(
            &out,
            &[
                "is not usable",
                "download a new private key for App 4242 at",
            ],
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn no_docker_engine_is_one_failure_saying_to_start_it() {
    tokio::time::timeout(DOCTOR_TEST_TIMEOUT, async {
        // No engine is needed: the point is that there is none.
        let setup = Setup::new("bosun-agent:latest").await;
        let gone = setup.dir.path().join("no-docker.sock");
        let host = format!("unix://{}", gone.display());
        let out = setup.doctor(&[("DOCKER_HOST", Some(&host))]).await;
        one_failure(
            &out,
            &[
                "Docker engine: not reachable at unix://",
                "start Docker or set BOSUN_SANDBOX=process",
            ],
        );
        assert!(stdout(&out).contains("skip  agents:"), "{}", stdout(&out));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_missing_image_is_one_failure_saying_how_to_build_it() {
    tokio::time::timeout(DOCTOR_TEST_TIMEOUT, async {
        if !images::require_docker() {
            return;
        }
        let missing = "bosun-test-no-such-image:never-built";
        let setup = Setup::new(missing).await;
        let _sweep = sweep(&setup);
        let out = setup.doctor(&[]).await;
        one_failure(
            &out,
            &[
                &format!("image {missing}: not on the Docker host (agent `fake`)"),
                &format!("docker build -f docker/agent.Dockerfile -t {missing} ."),
            ],
        );
        let text = stdout(&out);
        assert!(
            !text.contains("agent `fake`:"),
            "no version asked of a missing image:\n{text}"
        );
        // With `pull: missing` the first run pulls it: a warning, not a failure.
        let config = setup.dir.path().join("bosun-server.yml");
        let pulling = std::fs::read_to_string(&config)
            .unwrap()
            .replace("pull: never", "pull: missing");
        std::fs::write(&config, pulling).unwrap();
        let out = setup.doctor(&[]).await;
        let text = stdout(&out);
        assert!(fails(&out).is_empty(), "{text}");
        assert!(
            text.contains(&format!(
                "warn  image {missing}: not on the Docker host (agent `fake`) yet: the first run \
                 that needs it pulls it"
            )),
            "{text}"
        );
    })
    .await
    .expect("test timed out");
}
