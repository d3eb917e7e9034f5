//! The container a spec becomes: every hardening rule of DESIGN.md trust rule 4 is written
//! down here, in one pure function, so a unit test can read it back without an engine.

use super::{
    SandboxSpec, DOORS_MOUNT, HOME_DIR, INPUTS_MOUNT, INPUT_DIR_ENV, LABEL_INSTANCE, LABEL_ROLE,
    LABEL_TASK, WORKSPACE_MOUNT,
};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use std::collections::HashMap;

/// The create-container body for `spec`, labelled for `instance`, with the checkout and the
/// inputs mounted by `binds` ([`host_binds`], or a copied checkout's volumes).
pub(crate) fn container_body(
    spec: &SandboxSpec,
    instance: &str,
    binds: Vec<String>,
) -> ContainerCreateBody {
    let (uid, gid) = spec.user;
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        // An empty entrypoint (not a missing one) makes the engine ignore the image's
        // ENTRYPOINT, so exactly `sh -c script` runs whatever the image says.
        entrypoint: Some(Vec::new()),
        cmd: Some(command(spec)),
        working_dir: Some(WORKSPACE_MOUNT.into()),
        user: Some(format!("{uid}:{gid}")),
        env: Some(environment(spec)),
        labels: Some(labels(spec, instance)),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        open_stdin: Some(false),
        tty: Some(false),
        host_config: Some(host_config(spec, binds)),
        ..Default::default()
    }
}

/// `sh -c script`, wrapped in the relay when the container has doors to bosun's proxies.
fn command(spec: &SandboxSpec) -> Vec<String> {
    let plain = vec!["/bin/sh".into(), "-c".into(), spec.script.clone()];
    match &spec.doors {
        Some(doors) => doors.wrap(plain),
        None => plain,
    }
}

/// The spec's variables, plus HOME (a tmpfs the user owns) and the inputs directory unless the
/// spec sets them itself.
fn environment(spec: &SandboxSpec) -> Vec<String> {
    let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let given = |name: &str| spec.env.iter().any(|(k, _)| k == name);
    if !given("HOME") {
        env.push(format!("HOME={HOME_DIR}"));
    }
    if spec.inputs.is_some() && !given(INPUT_DIR_ENV) {
        env.push(format!("{INPUT_DIR_ENV}={INPUTS_MOUNT}"));
    }
    env
}

fn labels(spec: &SandboxSpec, instance: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_TASK.to_string(), spec.task_id.to_string()),
        (LABEL_ROLE.to_string(), spec.role.as_str().to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ])
}

/// The checkout read-write and the inputs read-only, mounted from the host's directories.
pub(crate) fn host_binds(spec: &SandboxSpec) -> Vec<String> {
    let mut binds = vec![format!("{}:{WORKSPACE_MOUNT}:rw", spec.workspace.display())];
    if let Some(inputs) = &spec.inputs {
        binds.push(format!("{}:{INPUTS_MOUNT}:ro", inputs.display()));
    }
    if let Some(doors) = spec.doors.as_ref().filter(|d| !d.open.is_empty()) {
        binds.push(format!("{}:{DOORS_MOUNT}:ro", doors.dir.display()));
    }
    for mount in &spec.mounts {
        let mode = if mount.writable { "rw" } else { "ro" };
        binds.push(format!(
            "{}:{}:{mode}",
            mount.source.display(),
            mount.target
        ));
    }
    binds
}

fn host_config(spec: &SandboxSpec, binds: Vec<String>) -> HostConfig {
    let (uid, gid) = spec.user;
    let limits = &spec.limits;
    let size = limits.tmpfs_bytes;
    // tmpfs is `exec`: compilers and test runners (go test, cargo build scripts) execute what
    // they build under /tmp and the home cache; the workspace is executable anyway, so
    // `noexec` would break gates without protecting anything.
    let tmpfs = HashMap::from([
        (
            "/tmp".to_string(),
            format!("rw,exec,nosuid,nodev,size={size},mode=1777"),
        ),
        (
            HOME_DIR.to_string(),
            format!("rw,exec,nosuid,nodev,size={size},mode=0700,uid={uid},gid={gid}"),
        ),
    ]);
    HostConfig {
        binds: Some(binds),
        tmpfs: Some(tmpfs),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(Vec::new()),
        security_opt: Some(vec!["no-new-privileges".into()]),
        privileged: Some(false),
        // No network at all unless asked: the doors reach bosun's proxies without one, and a
        // network (even an internal one) would let the container reach every service of the
        // host listening on its bridge address.
        network_mode: Some(if spec.network { "bridge" } else { "none" }.to_string()),
        memory: Some(limits.memory_bytes),
        memory_swap: Some(limits.memory_bytes),
        nano_cpus: Some(limits.nano_cpus),
        pids_limit: Some(limits.pids),
        // We read the exit code and OOMKilled before removing the container ourselves.
        auto_remove: Some(false),
        // A tiny init as PID 1 forwards SIGTERM to the script (a shell as PID 1 ignores it)
        // and reaps the zombies agents leave behind.
        init: Some(true),
        publish_all_ports: Some(false),
        log_config: Some(log_config()),
        ..Default::default()
    }
}

/// The engine keeps its own copy of the output (we read it by attaching): cap it, so a script
/// printing without end cannot fill the host's disk. The engine's log stays readable for an
/// operator (`docker logs`) while the run goes on.
fn log_config() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([
            ("max-size".to_string(), "16m".to_string()),
            ("max-file".to_string(), "1".to_string()),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, Role};
    use super::*;
    use std::time::Duration;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            task_id: 7,
            role: Role::Agent,
            name_hint: "task-7-agent".into(),
            image: "agent:1".into(),
            workspace: "/data/wt/7".into(),
            inputs: Some("/data/in/7".into()),
            script: "echo hi".into(),
            env: vec![("A".into(), "1".into())],
            network: false,
            doors: None,
            limits: Limits::default(),
            deadline: Duration::from_secs(60),
            user: (1000, 1001),
            mounts: Vec::new(),
        }
    }

    #[test]
    fn container_is_hardened() {
        let body = container_body(&spec(), "srv-a", host_binds(&spec()));
        let host = body.host_config.expect("host config");
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.memory, Some(4 << 30));
        assert_eq!(host.memory_swap, host.memory);
        assert_eq!(host.nano_cpus, Some(2_000_000_000));
        assert_eq!(host.pids_limit, Some(512));
        assert_eq!(host.auto_remove, Some(false));
        assert_eq!(
            host.binds,
            Some(vec![
                "/data/wt/7:/workspace:rw".to_string(),
                "/data/in/7:/bosun/input:ro".to_string()
            ])
        );
        let tmpfs = host.tmpfs.expect("tmpfs");
        assert!(tmpfs["/tmp"].contains("nosuid,nodev"));
        assert!(tmpfs["/home/bosun"].contains("uid=1000,gid=1001"));
        assert!(
            host.mounts.is_none(),
            "no other mount, never the docker socket"
        );
        assert_eq!(body.user.as_deref(), Some("1000:1001"));
        assert_eq!(body.working_dir.as_deref(), Some("/workspace"));
        assert_eq!(
            body.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()])
        );
    }

    #[test]
    fn labels_and_environment() {
        let body = container_body(&spec(), "srv-a", host_binds(&spec()));
        let labels = body.labels.expect("labels");
        assert_eq!(labels["bosun.task"], "7");
        assert_eq!(labels["bosun.role"], "agent");
        assert_eq!(labels["bosun.instance"], "srv-a");
        let env = body.env.expect("env");
        assert_eq!(
            env,
            ["A=1", "HOME=/home/bosun", "BOSUN_INPUT_DIR=/bosun/input"]
        );
    }

    #[test]
    fn network_only_when_asked_and_home_kept_when_given() {
        let mut s = spec();
        s.network = true;
        s.inputs = None;
        s.env = vec![("HOME".into(), "/workspace".into())];
        let body = container_body(&s, "srv-a", host_binds(&s));
        let host = body.host_config.expect("host config");
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        assert_eq!(host.binds.map(|b| b.len()), Some(1));
        assert_eq!(body.env, Some(vec!["HOME=/workspace".to_string()]));
    }

    #[test]
    fn doors_keep_the_network_off_and_wrap_the_command_in_the_relay() {
        let mut s = spec();
        s.doors = Some(crate::run::sandbox::Doors {
            dir: "/data/doors".into(),
            open: vec![
                crate::run::sandbox::Door {
                    port: 41000,
                    socket: "meter.sock".into(),
                },
                crate::run::sandbox::Door {
                    port: 42000,
                    socket: "egress.sock".into(),
                },
            ],
        });
        let body = container_body(&s, "srv-a", host_binds(&s));
        assert_eq!(
            body.cmd,
            Some(
                [
                    "/run/bosun/relay",
                    "41000=/run/bosun/meter.sock",
                    "42000=/run/bosun/egress.sock",
                    "--",
                    "/bin/sh",
                    "-c",
                    "echo hi"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        let host = body.host_config.expect("host config");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert!(host
            .binds
            .expect("binds")
            .contains(&"/data/doors:/run/bosun:ro".to_string()));
        // A folder with no door open is neither mounted nor wrapped around the command.
        s.doors.as_mut().unwrap().open.clear();
        let body = container_body(&s, "srv-a", host_binds(&s));
        assert_eq!(body.cmd.map(|c| c.len()), Some(3));
        assert_eq!(
            body.host_config.and_then(|h| h.binds).map(|b| b.len()),
            Some(2)
        );
    }

    #[test]
    fn a_snapshot_is_mounted_read_only_unless_the_set_up_builds_it() {
        let mut s = spec();
        s.mounts = vec![
            crate::run::sandbox::ExtraMount {
                source: "/data/envs/k/0".into(),
                target: "/workspace/node_modules".into(),
                writable: false,
            },
            crate::run::sandbox::ExtraMount {
                source: "/data/envs/k.build-1/1".into(),
                target: "/home/bosun/.npm".into(),
                writable: true,
            },
        ];
        let binds = host_binds(&s);
        assert!(binds.contains(&"/data/envs/k/0:/workspace/node_modules:ro".to_string()));
        assert!(binds.contains(&"/data/envs/k.build-1/1:/home/bosun/.npm:rw".to_string()));
    }
}
