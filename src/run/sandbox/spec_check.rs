//! Rules a spec must follow before anything is created. Both backends apply them, so a spec
//! that one backend refuses is refused by the other as well.

use super::{SandboxError, SandboxSpec, HOME_DIR, WORKSPACE_MOUNT};
use std::path::Path;

/// Checks the spec; the error names the first rule broken.
pub(crate) fn check_spec(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let (uid, gid) = spec.user;
    if uid == 0 || gid == 0 {
        return refuse(format!(
            "runs as root are not allowed (user {uid}:{gid}); pick an unprivileged uid and gid"
        ));
    }
    if spec.image.trim().is_empty() {
        return refuse("no image given".to_string());
    }
    check_dir("workspace", &spec.workspace)?;
    if let Some(inputs) = &spec.inputs {
        check_dir("inputs", inputs)?;
    }
    for mount in &spec.mounts {
        check_dir("mount", &mount.source)?;
        check_mount_target(&mount.target)?;
    }
    if spec.script.contains('\0') {
        return refuse("the script contains a NUL byte".to_string());
    }
    for (key, value) in &spec.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return refuse(format!(
                "invalid environment variable name or value: {key:?}"
            ));
        }
    }
    let l = &spec.limits;
    if l.memory_bytes <= 0 || l.nano_cpus <= 0 || l.pids <= 0 || l.tmpfs_bytes <= 0 {
        return refuse(format!(
            "every limit must be positive (a run is never unlimited): {l:?}"
        ));
    }
    Ok(())
}

/// A mounted directory must be an existing absolute directory: Docker would silently create a
/// missing bind source as an empty root-owned directory, and a `:` or `,` would be read as part
/// of the bind syntax.
fn check_dir(what: &str, path: &Path) -> Result<(), SandboxError> {
    let shown = path.display();
    if !path.is_absolute() {
        return refuse(format!("{what} path {shown} is not absolute"));
    }
    let text = path.to_string_lossy();
    if text.contains(':') || text.contains(',') || text.contains('\0') {
        return refuse(format!("{what} path {shown} contains ':' or ','"));
    }
    if !path.is_dir() {
        return refuse(format!("{what} path {shown} is not an existing directory"));
    }
    Ok(())
}

/// An extra mount goes under the workspace or the home, never over the container's system.
fn check_mount_target(target: &str) -> Result<(), SandboxError> {
    let inside = [WORKSPACE_MOUNT, HOME_DIR]
        .iter()
        .find_map(|base| target.strip_prefix(base)?.strip_prefix('/'));
    let ok = inside.is_some_and(|rest| {
        rest.split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
    });
    if !ok || target.contains(':') || target.contains(',') {
        return refuse(format!(
            "mount target {target} is not a path under {WORKSPACE_MOUNT} or {HOME_DIR}"
        ));
    }
    Ok(())
}

fn refuse(reason: String) -> Result<(), SandboxError> {
    Err(SandboxError::Refused(reason))
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, Role};
    use super::*;
    use std::time::Duration;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            task_id: 1,
            role: Role::Gate,
            name_hint: "t".into(),
            image: "img".into(),
            workspace: std::env::temp_dir(),
            inputs: None,
            script: "true".into(),
            env: vec![],
            network: false,
            doors: None,
            limits: Limits::default(),
            deadline: Duration::from_secs(1),
            user: (1000, 1000),
            mounts: Vec::new(),
        }
    }

    fn refused(s: &SandboxSpec) -> bool {
        matches!(check_spec(s), Err(SandboxError::Refused(_)))
    }

    #[test]
    fn accepts_a_plain_spec() {
        assert!(check_spec(&spec()).is_ok());
        let dir = std::env::temp_dir();
        let mount = |target: &str| SandboxSpec {
            mounts: vec![super::super::ExtraMount {
                source: dir.clone(),
                target: target.to_string(),
                writable: false,
            }],
            ..spec()
        };
        assert!(check_spec(&mount("/workspace/node_modules")).is_ok());
        assert!(check_spec(&mount("/home/bosun/.cache/pip")).is_ok());
        for bad in [
            "/etc",
            "/workspace",
            "/workspace/../etc",
            "/home/bosunx/a",
            "/workspace/a:b",
        ] {
            assert!(refused(&mount(bad)), "{bad}");
        }
    }

    #[test]
    fn refuses_root_user_and_group() {
        assert!(refused(&SandboxSpec {
            user: (0, 1000),
            ..spec()
        }));
        assert!(refused(&SandboxSpec {
            user: (1000, 0),
            ..spec()
        }));
    }

    #[test]
    fn refuses_bad_paths() {
        assert!(refused(&SandboxSpec {
            workspace: "relative".into(),
            ..spec()
        }));
        assert!(refused(&SandboxSpec {
            workspace: "/definitely/not/here".into(),
            ..spec()
        }));
        assert!(refused(&SandboxSpec {
            inputs: Some("/a:b".into()),
            ..spec()
        }));
    }

    #[test]
    fn debug_output_hides_environment_values() {
        let mut s = spec();
        s.env.push(("API_KEY".into(), "sk-secret".into()));
        let shown = format!("{s:?}");
        assert!(
            shown.contains("API_KEY") && !shown.contains("sk-secret"),
            "{shown}"
        );
    }

    #[test]
    fn refuses_unlimited_runs_and_bad_env() {
        let mut s = spec();
        s.limits.memory_bytes = 0;
        assert!(refused(&s));
        let mut s = spec();
        s.env.push(("A=B".into(), "c".into()));
        assert!(refused(&s));
    }
}
