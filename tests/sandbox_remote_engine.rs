//! The Docker backend driving an engine that does not share bosun's disk: the real engine,
//! reached over TCP (plain, and with mutual TLS as a `dockerd --tlsverify` on a VPS), with the
//! checkout copied in and read back. The relay in front of the engine keeps what bosun sent,
//! so the tests check that no host path ever reached it.

#[path = "sandbox_common/mod.rs"]
mod common;
#[path = "support/engine_relay.rs"]
mod engine_relay;
#[path = "support/images.rs"]
mod images;

use bosun::config::engine::{Engine, TlsPem, Transfer};
use bosun::run::sandbox::{DockerSandbox, Sandbox, SandboxError, LABEL_INSTANCE};
use common::*;
use engine_relay::{EngineRelay, Pki};
use images::{busybox_image_without_workspace, require_docker, unique, ContainerSweep};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Removes, when dropped, the volumes carrying `bosun.instance=<instance>`, and complains if
/// there were any: a copied checkout's volumes must go with its run.
struct VolumeSweep(String);

/// The volumes labelled with `instance`.
fn volumes(instance: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["volume", "ls", "--quiet", "--filter"])
        .arg(format!("label={LABEL_INSTANCE}={instance}"))
        .output()
        .expect("docker volume ls");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

impl Drop for VolumeSweep {
    fn drop(&mut self) {
        let left = volumes(&self.0);
        for volume in &left {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", volume])
                .output();
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("test left volumes behind: {left:?}");
        }
    }
}

struct Remote {
    sandbox: DockerSandbox,
    relay: EngineRelay,
    image: String,
    instance: String,
    // Dropped in this order after the test body: containers, then their volumes.
    _containers: ContainerSweep,
    _volumes: VolumeSweep,
    _certs: tempfile::TempDir,
}

/// How bosun reaches the engine.
#[derive(PartialEq)]
enum Link {
    Plain,
    /// TLS with the files in a directory (`docker.tls_dir`).
    TlsDir,
    /// TLS with the files' text (the `BOSUN_DOCKER_TLS_*` variables).
    TlsPem,
}

async fn remote(link: Link) -> Option<Remote> {
    if !require_docker() {
        return None;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let relay = if link == Link::Plain {
        EngineRelay::plain().await
    } else {
        let (engine_ca, client_ca) = (Pki::new("engine CA"), Pki::new("client CA"));
        client_ca.write_client_files(&engine_ca, certs.path());
        EngineRelay::tls(&engine_ca, &client_ca).await
    };
    let read = |name: &str| std::fs::read_to_string(certs.path().join(name)).expect("pem");
    let engine = Engine {
        host: Some(relay.url()),
        tls_dir: (link == Link::TlsDir).then(|| certs.path().to_path_buf()),
        tls_pem: (link == Link::TlsPem).then(|| TlsPem {
            ca: read("ca.pem"),
            cert: read("cert.pem"),
            key: read("key.pem"),
        }),
        transfer: Transfer::Copy,
    }
    // Text given by the environment is written out once, where the client reads it at each
    // handshake.
    .write_tls_files(&certs.path().join("written"))
    .expect("write the TLS files");
    if link == Link::TlsPem {
        use std::os::unix::fs::MetadataExt;
        let key = certs.path().join("written/key.pem");
        assert_eq!(key.metadata().expect("key.pem").mode() & 0o777, 0o600);
    }
    let instance = unique("remote");
    Some(Remote {
        sandbox: DockerSandbox::on_engine(engine, instance.clone()).expect("sandbox"),
        relay,
        image: busybox_image_without_workspace(),
        _containers: ContainerSweep::new(LABEL_INSTANCE, &instance),
        _volumes: VolumeSweep(instance.clone()),
        instance,
        _certs: certs,
    })
}

/// A checkout with a file to change, one to delete, a script and a nested file.
fn checkout() -> tempfile::TempDir {
    let dir = workspace();
    let root = dir.path();
    std::fs::write(root.join("README.md"), "old\n").expect("write");
    std::fs::write(root.join("obsolete.txt"), "bye\n").expect("write");
    std::fs::create_dir_all(root.join("src/deep")).expect("mkdir");
    std::fs::write(root.join("src/deep/lib.txt"), "lib\n").expect("write");
    std::fs::write(root.join("check.sh"), "#!/bin/sh\necho checked\n").expect("write");
    std::fs::set_permissions(
        root.join("check.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    dir
}

fn assert_no_host_path_sent(relay: &EngineRelay, paths: &[&PathBuf]) {
    let sent = relay.sent();
    assert!(sent.contains("/containers/create"), "nothing was created?");
    assert!(sent.contains("/archive"), "the checkout was not copied");
    for path in paths {
        let shown = path.display().to_string();
        assert!(
            !sent.contains(&shown),
            "the engine was told the host path {shown}"
        );
    }
}

#[tokio::test]
async fn a_checkout_goes_in_and_comes_back_over_tls_without_a_host_path_reaching_the_engine() {
    within(async {
        let Some(fx) = remote(Link::TlsDir).await else {
            return;
        };
        let ws = checkout();
        let inputs = tempfile::tempdir().expect("tempdir");
        std::fs::write(inputs.path().join("prompt.txt"), "change the readme\n").expect("write");
        let script = r#"
            set -e
            pwd; id -u; stat -c %u .
            cat "$BOSUN_INPUT_DIR/prompt.txt"
            if touch "$BOSUN_INPUT_DIR/x" 2>/dev/null; then echo inputs-writable; else echo inputs-readonly; fi
            ./check.sh
            echo new > README.md
            rm obsolete.txt
            mkdir -p made/here && echo made > made/here/file.txt
            ln -s ../README.md src/readme
            printf '#!/bin/sh\n' > tool.sh && chmod 755 tool.sh
        "#;
        let mut spec = spec(&fx.image, ws.path(), script);
        spec.inputs = Some(inputs.path().to_path_buf());
        let (exit, lines) = run(&fx.sandbox, spec).await;
        assert!(exit.expect("run").success(), "{lines:?}");
        assert_eq!(
            stdout(&lines),
            ["/workspace", "1000", "1000", "change the readme", "inputs-readonly", "checked"]
        );
        let root = ws.path();
        assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), "new\n");
        assert!(!root.join("obsolete.txt").exists(), "a deleted file came back");
        assert_eq!(
            std::fs::read_to_string(root.join("made/here/file.txt")).unwrap(),
            "made\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("src/deep/lib.txt")).unwrap(),
            "lib\n"
        );
        assert_eq!(
            std::fs::read_link(root.join("src/readme")).unwrap(),
            PathBuf::from("../README.md")
        );
        let mode = root.join("tool.sh").metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "the executable bit came back");
        assert!(
            std::fs::read_dir(root.parent().unwrap())
                .unwrap()
                .all(|e| !e.unwrap().file_name().to_string_lossy().contains(".upload.tar")),
            "the packed checkout was left beside it"
        );
        assert_no_host_path_sent(
            &fx.relay,
            &[&ws.path().to_path_buf(), &inputs.path().to_path_buf()],
        );
    })
    .await;
}

#[tokio::test]
async fn a_run_stopped_at_its_deadline_still_brings_back_what_it_wrote() {
    // Over TLS with the certificates given as text, as from Fly.io secrets.
    within(async {
        let Some(fx) = remote(Link::TlsPem).await else {
            return;
        };
        let ws = checkout();
        let mut spec = spec(
            &fx.image,
            ws.path(),
            "echo partial > WIP; echo started; sleep 300",
        );
        spec.deadline = Duration::from_secs(3);
        let (exit, lines) = run(&fx.sandbox, spec).await;
        let exit = exit.expect("run");
        assert!(exit.timed_out, "{exit:?} {lines:?}");
        assert_eq!(
            std::fs::read_to_string(ws.path().join("WIP")).unwrap(),
            "partial\n"
        );
        assert_no_host_path_sent(&fx.relay, &[&ws.path().to_path_buf()]);
    })
    .await;
}

#[tokio::test]
async fn runs_dropped_midway_and_orphans_leave_no_volume_behind() {
    within(async {
        let Some(fx) = remote(Link::Plain).await else {
            return;
        };
        let ws = checkout();
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        {
            let cancel = tokio_util::sync::CancellationToken::new();
            let spec = spec(&fx.image, ws.path(), "echo up; sleep 300");
            let run = fx.sandbox.run(spec, tx, cancel);
            tokio::pin!(run);
            tokio::select! {
                _ = &mut run => panic!("the run should still be going"),
                line = rx.recv() => assert_eq!(line.map(|l| l.text).as_deref(), Some("up")),
            }
        } // dropped mid-run: the guards remove container, carrier and volumes
        let mut gone = false;
        for _ in 0..120 {
            if volumes(&fx.instance).is_empty() && fx._containers.containers().is_empty() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(gone, "the dropped run's containers or volumes stayed");

        // What a crashed bosun left: a labelled volume; the next start reaps it.
        let out = Command::new("docker")
            .args(["volume", "create", "--label"])
            .arg(format!("{LABEL_INSTANCE}={}", fx.instance))
            .arg(unique("orphan"))
            .output()
            .expect("docker volume create");
        assert!(out.status.success());
        fx.sandbox.reap_orphans().await.expect("reap");
        assert!(volumes(&fx.instance).is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_engine_whose_certificate_another_ca_signed_is_not_used() {
    within(async {
        if !require_docker() {
            return;
        }
        let certs = tempfile::tempdir().expect("tempdir");
        let (engine_ca, client_ca, stranger) =
            (Pki::new("engine"), Pki::new("client"), Pki::new("x"));
        // bosun trusts `stranger` as the engine's CA; the engine shows a certificate `engine_ca` signed.
        client_ca.write_client_files(&stranger, certs.path());
        let relay = EngineRelay::tls(&engine_ca, &client_ca).await;
        let engine = Engine {
            host: Some(relay.url()),
            tls_dir: Some(certs.path().to_path_buf()),
            tls_pem: None,
            transfer: Transfer::Copy,
        };
        let sandbox = DockerSandbox::on_engine(engine, unique("remote")).expect("sandbox");
        let checked = sandbox.check("any").await;
        assert!(
            matches!(checked, Err(SandboxError::Unavailable(_))),
            "{checked:?}"
        );
        assert!(
            relay.sent().is_empty(),
            "a request reached an engine bosun cannot trust"
        );
    })
    .await;
}
