//! `bosun demo --once`, as CI runs it: the real binary starts its GitHub simulator, builds the
//! demo agent's image, runs the task in real containers and ends when the simulator holds the
//! draft pull request. The test bounds it with its own deadline and checks what it printed.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/images.rs"]
mod images;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The demo gives up after 110 s by itself; this only catches a demo that hangs.
const HARD_LIMIT: Duration = Duration::from_secs(150);
/// The whole test's hard limit, above `HARD_LIMIT`: the demo's run plus the checks before and
/// the clean-up after, should the engine hang there.
const DEMO_TEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[test]
fn the_demo_ends_with_a_draft_pull_request_in_the_simulator() {
    deadline::within(DEMO_TEST_TIMEOUT, || {
        if !images::require_docker() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // The demo labels its containers with its data directory's instance; none may be left.
        std::fs::create_dir_all(&data).unwrap();
        let sweep = images::ContainerSweep::new(
            "bosun.instance",
            &bosun::run::runner::instance_label(&data),
        );
        let stdout_path = dir.path().join("stdout");
        let stderr_path = dir.path().join("stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["demo", "--once", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            // Overrides a developer may have set for `bosun serve` would change the demo's run.
            .env_remove("BOSUN_SANDBOX")
            .env_remove("BOSUN_DEFAULT_AGENT")
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("the bosun binary starts");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > HARD_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let stdout = std::fs::read_to_string(&stdout_path).unwrap();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap();
        let status = status.unwrap_or_else(|| {
            panic!("the demo did not end by itself\n{stdout}\n--- stderr\n{stderr}")
        });
        assert!(status.success(), "{status}\n{stdout}\n--- stderr\n{stderr}");
        // The timeline, then the pull request the simulator holds and what it changed.
        for expected in [
            "bosun answered the signed webhook 202",
            "gates after round 1: check passed",
            "peer review by `demo`: 0 blockers, 0 concerns, 0 nits",
            "the simulator holds draft pull request #2 \"Greet the crew, not the world\"",
            "changed: hello.sh",
            "- [x] Finished",
        ] {
            assert!(
                stdout.contains(expected),
                "no {expected:?} in:\n{stdout}\n--- stderr\n{stderr}"
            );
        }
        // A given data directory is kept, for `bosun task --data-dir … get 1`.
        assert!(data.join("bosun.db").exists());
        assert!(sweep.containers().is_empty());
    });
}
