//! The Docker backend against the real engine, with locally built busybox images.

#[path = "sandbox_common/mod.rs"]
mod common;
#[path = "support/images.rs"]
mod images;

use bosun::run::sandbox::{
    DockerSandbox, Sandbox, SandboxError, SandboxSpec, Stream, LABEL_INSTANCE,
};
use common::*;
use images::{busybox_image, image_with_files, require_docker, unique, ContainerSweep};
use std::time::Duration;

/// A sandbox with an instance label of its own, and the sweep that removes (and complains
/// about) whatever it leaves behind.
struct Fixture {
    sandbox: Box<dyn Sandbox>,
    instance: String,
    image: String,
    workspace: tempfile::TempDir,
    sweep: ContainerSweep,
}

impl Fixture {
    fn spec(&self, script: &str) -> SandboxSpec {
        spec(&self.image, self.workspace.path(), script)
    }
}

fn fixture() -> Option<Fixture> {
    if !require_docker() {
        return None;
    }
    let instance = unique("sbtest");
    Some(Fixture {
        sandbox: Box::new(DockerSandbox::new(instance.clone()).expect("sandbox")),
        sweep: ContainerSweep::new(LABEL_INSTANCE, &instance),
        instance,
        image: busybox_image(),
        workspace: workspace(),
    })
}

#[tokio::test]
async fn output_is_streamed_line_by_line_on_both_streams() {
    let Some(fx) = fixture() else { return };
    within(async {
        let script = "echo one; echo two >&2; echo three; echo four >&2; printf 'no newline'";
        let (exit, lines) = run(&*fx.sandbox, fx.spec(script)).await;
        let exit = exit.expect("run");
        assert!(exit.success(), "{exit:?}");
        assert_eq!(
            texts(&lines, Stream::Stdout),
            ["one", "three", "no newline"]
        );
        assert_eq!(texts(&lines, Stream::Stderr), ["two", "four"]);
        assert!(
            fx.sweep.containers().is_empty(),
            "container removed after the run"
        );
    })
    .await;
}

#[tokio::test]
async fn lines_arrive_while_the_script_runs() {
    let Some(fx) = fixture() else { return };
    within(async {
        // Only a line delivered before the exit can cancel the run.
        let (exit, lines) =
            run_cancel_on(&*fx.sandbox, fx.spec("echo first; sleep 300"), "first").await;
        let exit = exit.expect("run");
        assert!(exit.cancelled && !exit.timed_out, "{exit:?}");
        assert_eq!(stdout(&lines), ["first"]);
    })
    .await;
}

#[tokio::test]
async fn exit_code_is_propagated() {
    let Some(fx) = fixture() else { return };
    within(async {
        let (exit, _) = run(&*fx.sandbox, fx.spec("exit 3")).await;
        let exit = exit.expect("run");
        assert_eq!(exit.code, Some(3));
        assert!(!exit.success() && !exit.timed_out && !exit.cancelled && !exit.oom_killed);
    })
    .await;
}

#[tokio::test]
async fn workspace_is_writable_and_shared_with_the_host() {
    let Some(fx) = fixture() else { return };
    within(async {
        let script = "pwd; id -un; echo hello > out.txt; mkdir -p sub && echo deep > sub/f";
        let (exit, lines) = run(&*fx.sandbox, fx.spec(script)).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(stdout(&lines), ["/workspace", "bosun"]);
        let out = fx.workspace.path().join("out.txt");
        assert_eq!(std::fs::read_to_string(&out).expect("out.txt"), "hello\n");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&out).expect("metadata").uid(), 1000);
        let deep = fx.workspace.path().join("sub/f");
        assert_eq!(std::fs::read_to_string(deep).expect("sub/f"), "deep\n");
    })
    .await;
}

#[tokio::test]
async fn root_filesystem_is_read_only_and_tmpfs_is_writable() {
    let Some(fx) = fixture() else { return };
    within(async {
        let script = r#"
            if touch /etc/x 2>/dev/null; then echo etc-writable; else echo etc-readonly; fi
            if touch /bin/x 2>/dev/null; then echo bin-writable; else echo bin-readonly; fi
            echo data > /tmp/t && cat /tmp/t
            echo "$HOME"
            echo home > "$HOME/h" && cat "$HOME/h"
        "#;
        let (exit, lines) = run(&*fx.sandbox, fx.spec(script)).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(
            stdout(&lines),
            [
                "etc-readonly",
                "bin-readonly",
                "data",
                "/home/bosun",
                "home"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn runs_as_the_given_user_without_capabilities() {
    let Some(fx) = fixture() else { return };
    within(async {
        let mut spec =
            fx.spec("id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status");
        spec.user = (1234, 2345);
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        let out = stdout(&lines);
        assert_eq!(out[..2], ["1234", "2345"]);
        for line in &out[2..] {
            let (key, value) = line.split_once(':').expect("status line");
            let expected = if key == "NoNewPrivs" {
                "1"
            } else {
                "0000000000000000"
            };
            assert_eq!(value.trim(), expected, "{line}");
        }
        assert_eq!(out.len(), 6, "{out:?}");
    })
    .await;
}

#[tokio::test]
async fn network_is_off_unless_asked_for() {
    let Some(fx) = fixture() else { return };
    within(async {
        let script = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";
        let (exit, lines) = run(&*fx.sandbox, fx.spec(script)).await;
        assert!(exit.expect("run").success());
        assert_eq!(stdout(&lines), ["lo"], "only loopback without network");

        let mut spec = fx.spec(script);
        spec.network = true;
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success());
        assert!(
            stdout(&lines).len() > 1,
            "an interface besides lo: {lines:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn limits_reach_the_cgroup() {
    let Some(fx) = fixture() else { return };
    within(async {
        // cgroup v1 paths first, then v2.
        let script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
            cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
        let mut spec = fx.spec(script);
        spec.limits.pids = 77;
        spec.limits.memory_bytes = 200 << 20;
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(stdout(&lines), ["77", &(200u64 << 20).to_string()]);
    })
    .await;
}

#[tokio::test]
async fn deadline_stops_the_container_and_removes_it() {
    let Some(fx) = fixture() else { return };
    within(async {
        let mut spec = fx.spec("echo started; sleep 300");
        spec.deadline = Duration::from_secs(2);
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        let exit = exit.expect("run");
        assert!(exit.timed_out && !exit.cancelled, "{exit:?}");
        assert!(!exit.success());
        assert_eq!(stdout(&lines), ["started"]);
        assert!(fx.sweep.containers().is_empty(), "container removed");
    })
    .await;
}

#[tokio::test]
async fn a_script_ignoring_sigterm_is_killed_after_the_grace() {
    let Some(fx) = fixture() else { return };
    within(async {
        let mut spec = fx.spec("trap '' TERM; echo started; while :; do sleep 1; done");
        spec.deadline = Duration::from_secs(1);
        let (exit, _) = run(&*fx.sandbox, spec).await;
        let exit = exit.expect("run");
        assert!(exit.timed_out, "{exit:?}");
        assert!(fx.sweep.containers().is_empty(), "container removed");
    })
    .await;
}

#[tokio::test]
async fn cancel_stops_the_run() {
    let Some(fx) = fixture() else { return };
    within(async {
        let (exit, _) = run_cancel_on(&*fx.sandbox, fx.spec("echo go; sleep 300"), "go").await;
        let exit = exit.expect("run");
        assert!(exit.cancelled && !exit.timed_out, "{exit:?}");
        assert!(fx.sweep.containers().is_empty(), "container removed");
    })
    .await;
}

#[tokio::test]
async fn out_of_memory_is_reported() {
    let Some(fx) = fixture() else { return };
    within(async {
        // One read(2) of 256 MiB into one buffer: the kernel touches the pages itself, so the
        // OOM killer fires at once (a slowly growing process, like `head | tail`, can thrash
        // for half a minute near the limit before it is killed).
        let mut spec = fx.spec("dd if=/dev/zero of=/dev/null bs=256M count=1; echo survived");
        spec.limits.memory_bytes = 32 << 20;
        let (exit, _) = run(&*fx.sandbox, spec).await;
        let exit = exit.expect("run");
        assert!(exit.oom_killed, "{exit:?}");
        assert!(!exit.success());
    })
    .await;
}

#[tokio::test]
async fn missing_image_is_reported_without_a_container() {
    let Some(fx) = fixture() else { return };
    within(async {
        let missing = format!("bosun-test-missing:{}", unique("x"));
        let spec = spec(&missing, fx.workspace.path(), "true");
        let (exit, _) = run(&*fx.sandbox, spec).await;
        assert!(
            matches!(&exit, Err(SandboxError::ImageMissing { image }) if *image == missing),
            "{exit:?}"
        );
        assert!(matches!(
            fx.sandbox.check(&missing).await,
            Err(SandboxError::ImageMissing { .. })
        ));
        fx.sandbox.check(&fx.image).await.expect("present image");
    })
    .await;
}

#[tokio::test]
async fn root_is_refused() {
    let Some(fx) = fixture() else { return };
    within(async {
        let mut spec = fx.spec("true");
        spec.user = (0, 0);
        let (exit, _) = run(&*fx.sandbox, spec).await;
        assert!(matches!(exit, Err(SandboxError::Refused(_))), "{exit:?}");
    })
    .await;
}

#[tokio::test]
async fn inputs_are_mounted_read_only() {
    let Some(fx) = fixture() else { return };
    within(async {
        let inputs = tempfile::tempdir().expect("tempdir");
        std::fs::write(inputs.path().join("prompt.txt"), "do the thing\n").expect("write");
        let mut spec = fx.spec(
            r#"echo "$BOSUN_INPUT_DIR"; cat "$BOSUN_INPUT_DIR/prompt.txt"
               if touch "$BOSUN_INPUT_DIR/x" 2>/dev/null; then echo writable; else echo readonly; fi"#,
        );
        spec.inputs = Some(inputs.path().to_path_buf());
        spec.env = vec![("GREETING".into(), "hi there".into())];
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(stdout(&lines), ["/bosun/input", "do the thing", "readonly"]);
    })
    .await;
}

#[tokio::test]
async fn environment_is_passed() {
    let Some(fx) = fixture() else { return };
    within(async {
        let mut spec = fx.spec(r#"echo "$GREETING""#);
        spec.env = vec![("GREETING".into(), "hi there".into())];
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success());
        assert_eq!(stdout(&lines), ["hi there"]);
    })
    .await;
}

#[tokio::test]
async fn image_with_files_runs_a_fake_agent() {
    let Some(fx) = fixture() else { return };
    within(async {
        let image = image_with_files(
            "fake-agent",
            &[(
                "/usr/local/bin/fake-agent",
                "#!/bin/sh\necho \"agent says $1\"\necho done > result.txt\n",
                0o755,
            )],
        );
        let spec = spec(&image, fx.workspace.path(), "fake-agent hello");
        let (exit, lines) = run(&*fx.sandbox, spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(stdout(&lines), ["agent says hello"]);
        let result = fx.workspace.path().join("result.txt");
        assert_eq!(std::fs::read_to_string(result).expect("result"), "done\n");
    })
    .await;
}

#[tokio::test]
async fn reap_orphans_removes_only_this_instance() {
    let Some(fx) = fixture() else { return };
    within(async {
        let other = unique("sbtest-other");
        let other_sweep = ContainerSweep::new(LABEL_INSTANCE, &other);
        for instance in [&fx.instance, &other] {
            let out = std::process::Command::new("docker")
                .args(["run", "--detach", "--label"])
                .arg(format!("{LABEL_INSTANCE}={instance}"))
                .args(["--label", "bosun.task=1", &fx.image, "sleep", "300"])
                .output()
                .expect("docker run");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A container that never started is an orphan too.
        let out = std::process::Command::new("docker")
            .args(["create", "--label"])
            .arg(format!("{LABEL_INSTANCE}={}", fx.instance))
            .args([&fx.image, "true"])
            .output()
            .expect("docker create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let removed = fx.sandbox.reap_orphans().await.expect("reap");
        assert_eq!(removed, 2);
        assert!(fx.sweep.containers().is_empty());
        assert_eq!(
            other_sweep.containers().len(),
            1,
            "other instance untouched"
        );
        let again = fx.sandbox.reap_orphans().await.expect("reap again");
        assert_eq!(again, 0);
        assert_eq!(other_sweep.remove_all().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn two_runs_in_parallel() {
    let Some(fx) = fixture() else { return };
    let second = workspace();
    within(async {
        let a = fx.spec("sleep 1; echo a > who; echo from-a");
        let b = spec(
            &fx.image,
            second.path(),
            "sleep 1; echo b > who; echo from-b",
        );
        let ((ra, la), (rb, lb)) = tokio::join!(run(&*fx.sandbox, a), run(&*fx.sandbox, b));
        assert!(ra.expect("a").success() && rb.expect("b").success());
        assert_eq!(stdout(&la), ["from-a"]);
        assert_eq!(stdout(&lb), ["from-b"]);
        let who = |dir: &std::path::Path| std::fs::read_to_string(dir.join("who")).expect("who");
        assert_eq!(who(fx.workspace.path()), "a\n");
        assert_eq!(who(second.path()), "b\n");
    })
    .await;
}

#[tokio::test]
async fn dropping_the_run_removes_the_container() {
    let Some(fx) = fixture() else { return };
    within(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let cancel = tokio_util::sync::CancellationToken::new();
        {
            let run = fx.sandbox.run(fx.spec("echo up; sleep 300"), tx, cancel);
            tokio::pin!(run);
            tokio::select! {
                _ = &mut run => panic!("the run should still be going"),
                line = rx.recv() => assert_eq!(line.map(|l| l.text).as_deref(), Some("up")),
            }
            assert_eq!(fx.sweep.containers().len(), 1);
        } // the run future is dropped here, mid-run
        for _ in 0..60 {
            if fx.sweep.containers().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("container still there 30 s after the run was dropped");
    })
    .await;
}

#[tokio::test]
async fn unreachable_engine_is_unavailable() {
    // No engine needed: a Unix socket nobody listens on (connection refused).
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
    let docker = bollard::Docker::connect_with_socket(
        socket.to_str().expect("utf8"),
        5,
        bollard::API_DEFAULT_VERSION,
    )
    .expect("client");
    let sandbox = DockerSandbox::with_client(docker, unique("sbtest")).expect("sandbox");
    let workspace = workspace();
    within(async {
        let (exit, _) = run(&sandbox, spec("img", workspace.path(), "true")).await;
        assert!(
            matches!(exit, Err(SandboxError::Unavailable(_))),
            "{exit:?}"
        );
        let checked = sandbox.check("img").await;
        assert!(
            matches!(checked, Err(SandboxError::Unavailable(_))),
            "{checked:?}"
        );
        let reaped = sandbox.reap_orphans().await;
        assert!(
            matches!(reaped, Err(SandboxError::Unavailable(_))),
            "{reaped:?}"
        );
    })
    .await;
}
