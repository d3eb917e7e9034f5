//! The process backend: plain host processes, no Docker needed.

#[path = "sandbox_common/mod.rs"]
mod common;

use bosun::run::sandbox::{ProcessSandbox, Sandbox, SandboxError, SandboxSpec, Stream};
use common::*;
use std::path::Path;
use std::time::Duration;

fn sandbox() -> Box<dyn Sandbox> {
    Box::new(ProcessSandbox::new())
}

fn pspec(workspace: &Path, script: &str) -> SandboxSpec {
    spec("ignored", workspace, script)
}

fn running_as_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True once `pid` is gone (or a zombie nobody reaped yet: dead all the same).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

async fn eventually_dead(pid: u32) -> bool {
    for _ in 0..100 {
        if dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn read_pid(workspace: &Path) -> u32 {
    std::fs::read_to_string(workspace.join("bg.pid"))
        .expect("bg.pid")
        .trim()
        .parse()
        .expect("a pid")
}

#[tokio::test]
async fn identity() {
    within(async {
        let sb = sandbox();
        assert_eq!(sb.name(), "process");
        assert!(!sb.isolated());
        assert_eq!(sb.reap_orphans().await.expect("reap"), 0);
        sb.check("anything").await.expect("check");
    })
    .await;
}

#[tokio::test]
async fn output_on_both_streams_in_order() {
    let ws = workspace();
    within(async {
        let script = "echo one; echo two >&2; echo three; echo four >&2; printf 'no newline'";
        let (exit, lines) = run(&*sandbox(), pspec(ws.path(), script)).await;
        assert!(exit.expect("run").success());
        assert_eq!(
            texts(&lines, Stream::Stdout),
            ["one", "three", "no newline"]
        );
        assert_eq!(texts(&lines, Stream::Stderr), ["two", "four"]);
    })
    .await;
}

#[tokio::test]
async fn exit_code_and_working_directory() {
    let ws = workspace();
    within(async {
        let (exit, lines) = run(&*sandbox(), pspec(ws.path(), "pwd; echo x > f; exit 7")).await;
        let exit = exit.expect("run");
        assert_eq!(exit.code, Some(7));
        assert!(!exit.timed_out && !exit.cancelled && !exit.oom_killed);
        let canonical = ws.path().canonicalize().expect("canonical");
        assert_eq!(stdout(&lines), [canonical.to_str().expect("utf8")]);
        assert!(ws.path().join("f").exists());
    })
    .await;
}

#[tokio::test]
async fn deadline_kills_the_whole_process_group() {
    let ws = workspace();
    within(async {
        let mut spec = pspec(
            ws.path(),
            "sleep 300 & echo $! > bg.pid; echo started; sleep 300",
        );
        spec.deadline = Duration::from_secs(1);
        let (exit, lines) = run(&*sandbox(), spec).await;
        let exit = exit.expect("run");
        assert!(exit.timed_out && !exit.cancelled, "{exit:?}");
        assert_eq!(exit.code, Some(128 + 15), "SIGTERM");
        assert_eq!(stdout(&lines), ["started"]);
        assert!(
            eventually_dead(read_pid(ws.path())).await,
            "background sleep killed"
        );
    })
    .await;
}

#[tokio::test]
async fn a_script_ignoring_sigterm_is_killed_after_the_grace() {
    let ws = workspace();
    within(async {
        let mut spec = pspec(ws.path(), "trap '' TERM; while :; do sleep 1; done");
        spec.deadline = Duration::from_millis(500);
        let (exit, _) = run(&*sandbox(), spec).await;
        let exit = exit.expect("run");
        assert!(exit.timed_out, "{exit:?}");
        assert_eq!(exit.code, Some(128 + 9), "SIGKILL");
    })
    .await;
}

#[tokio::test]
async fn background_children_do_not_outlive_a_finished_script() {
    let ws = workspace();
    within(async {
        let script = "sleep 300 & echo $! > bg.pid; echo done";
        let (exit, lines) = run(&*sandbox(), pspec(ws.path(), script)).await;
        assert!(exit.expect("run").success());
        assert_eq!(stdout(&lines), ["done"]);
        assert!(
            eventually_dead(read_pid(ws.path())).await,
            "background sleep killed"
        );
    })
    .await;
}

#[tokio::test]
async fn cancel_stops_the_run() {
    let ws = workspace();
    within(async {
        let spec = pspec(ws.path(), "echo go; sleep 300");
        let (exit, _) = run_cancel_on(&*sandbox(), spec, "go").await;
        let exit = exit.expect("run");
        assert!(exit.cancelled && !exit.timed_out, "{exit:?}");
    })
    .await;
}

#[tokio::test]
async fn environment_is_cleared() {
    let ws = workspace();
    let inputs = tempfile::tempdir().expect("tempdir");
    within(async {
        let mut spec = pspec(ws.path(), "env | cut -d= -f1 | sort; echo \"home=$HOME\"");
        spec.env = vec![("GREETING".into(), "hi".into())];
        spec.inputs = Some(inputs.path().to_path_buf());
        let (exit, lines) = run(&*sandbox(), spec).await;
        assert!(exit.expect("run").success());
        let out = stdout(&lines);
        let (names, home) = out.split_at(out.len() - 1);
        // The shell itself adds PWD (and maybe SHLVL, OLDPWD); nothing of the server's.
        let unexpected: Vec<_> = names
            .iter()
            .filter(|n| {
                ![
                    "PATH",
                    "HOME",
                    "GREETING",
                    "BOSUN_INPUT_DIR",
                    "PWD",
                    "SHLVL",
                    "OLDPWD",
                ]
                .contains(n)
            })
            .collect();
        assert!(unexpected.is_empty(), "inherited: {unexpected:?}");
        for name in ["PATH", "HOME", "GREETING", "BOSUN_INPUT_DIR"] {
            assert!(names.contains(&name), "{name} missing: {names:?}");
        }
        let home = home[0].trim_start_matches("home=");
        assert_ne!(Some(home.to_string()), std::env::var("HOME").ok());
        assert!(
            !Path::new(home).exists(),
            "temporary HOME removed after the run"
        );
    })
    .await;
}

#[tokio::test]
async fn drops_to_the_given_user_when_root() {
    if !running_as_root() {
        eprintln!("SKIPPED: not root, the process backend runs as the current user");
        return;
    }
    let ws = workspace();
    within(async {
        let mut spec = pspec(ws.path(), "id -u; id -g; touch \"$HOME/x\" && echo home-ok");
        spec.user = (1000, 1000);
        let (exit, lines) = run(&*sandbox(), spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(stdout(&lines), ["1000", "1000", "home-ok"]);
    })
    .await;
}

#[tokio::test]
async fn root_is_refused() {
    within(async {
        let ws = workspace();
        let mut spec = pspec(ws.path(), "true");
        spec.user = (0, 0);
        let (exit, _) = run(&*sandbox(), spec).await;
        assert!(matches!(exit, Err(SandboxError::Refused(_))), "{exit:?}");
    })
    .await;
}

#[tokio::test]
async fn long_lines_are_capped() {
    let ws = workspace();
    within(async {
        // 100,000 bytes without a newline, then a short line.
        let script = "head -c 100000 /dev/zero | tr '\\0' x; echo; echo end";
        let (exit, lines) = run(&*sandbox(), pspec(ws.path(), script)).await;
        assert!(exit.expect("run").success());
        let out = stdout(&lines);
        assert_eq!(out.len(), 3, "two pieces and the short line");
        assert_eq!(out[0].len(), bosun::run::sandbox::MAX_LINE_BYTES);
        assert_eq!(out[0].len() + out[1].len(), 100_000);
        assert_eq!(out[2], "end");
    })
    .await;
}
