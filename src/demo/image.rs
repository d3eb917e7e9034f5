//! The demo agent's image, built on the local engine through its API (bollard), from a build
//! context written in memory. With a static busybox on the host it is `FROM scratch` and needs
//! no registry (as the tests' images); without one it falls back to `FROM busybox:stable`,
//! which the engine must pull.
//!
//! The tag is `bosun-demo-agent:<bosun version>-<hash of the context>`: a later demo of the
//! same build reuses the image, and a changed script or busybox gets its own instead of a stale
//! one.

use std::time::Duration;

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::busybox;
use super::tar::{archive, Entry};

/// Where the agent script lives in the image (the run configuration's `program`).
pub const AGENT_PROGRAM: &str = "/usr/local/bin/bosun-demo-agent";
const AGENT_SCRIPT: &str = include_str!("agent.sh");
const REPOSITORY: &str = "bosun-demo-agent";
/// The registry image used when the host has no static busybox.
const FALLBACK_BASE: &str = "busybox:stable";
/// A build of a few megabytes takes seconds; a pull of the fallback base a little longer.
const BUILD_TIMEOUT: Duration = Duration::from_secs(90);

/// The unprivileged user the image knows by name. The sandbox runs as bosun's own uid (1000
/// when bosun is root) whatever the image says; naming 1000 keeps `id` and `$HOME` tidy.
const UID: u32 = 1000;

/// What the demo needs of busybox: a shell for the adapter's wrapper, the gates and the
/// agent script, and the few tools they call. Links are made for these only, so the image
/// does not depend on which applets a busybox build has.
const APPLETS: &[&str] = &[
    "sh", "[", "basename", "cat", "chmod", "cp", "cut", "diff", "dirname", "echo", "env", "expr",
    "false", "find", "grep", "head", "id", "ls", "mkdir", "mv", "printf", "rm", "sed", "sleep",
    "sort", "tail", "test", "touch", "tr", "true", "uniq", "wc", "xargs",
];

/// The image's tag, and whether it had to be built now.
pub struct Built {
    pub tag: String,
    pub fresh: bool,
}

/// Makes sure the demo agent image is on the engine. `progress` is told before a build starts
/// (the one slow step of a first demo).
pub async fn ensure(docker: &Docker, progress: impl Fn(&str)) -> anyhow::Result<Built> {
    let found = busybox::find_static();
    let context = match &found {
        Some((_, binary)) => scratch_context(binary),
        None => fallback_context(),
    };
    let tag = format!(
        "{REPOSITORY}:{}-{:08x}",
        env!("CARGO_PKG_VERSION"),
        fnv1a(&context) as u32
    );
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(Built { tag, fresh: false });
    }
    match &found {
        Some((path, _)) => progress(&format!(
            "building the demo agent image {tag} (FROM scratch, busybox from {})",
            path.display()
        )),
        None => progress(&format!(
            "building the demo agent image {tag} FROM {FALLBACK_BASE} (no static busybox on this \
             host; the engine pulls the base image)"
        )),
    }
    let built = tokio::time::timeout(BUILD_TIMEOUT, build(docker, &tag, context)).await;
    let failure = match built {
        Ok(Ok(())) => return Ok(Built { tag, fresh: true }),
        Ok(Err(e)) => e,
        Err(_) => format!("no result after {} s", BUILD_TIMEOUT.as_secs()),
    };
    anyhow::bail!(
        "building the demo agent image {tag} failed: {failure}{}",
        if found.is_none() {
            " (this host has no static busybox, so the image is built FROM busybox:stable, \
             which needs a registry: install busybox-static, e.g. `apt-get install \
             busybox-static`, or make busybox:stable available to Docker)"
        } else {
            ""
        }
    )
}

/// Sends the context to `/build` and reads the engine's progress until it ends; an error in
/// the stream (a failed step, a failed pull) is the build's failure.
async fn build(docker: &Docker, tag: &str, context: Vec<u8>) -> Result<(), String> {
    let options = BuildImageOptionsBuilder::default()
        .t(tag)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| e.to_string())?;
        if let Some(detail) = info.error_detail {
            return Err(detail.message.unwrap_or(last));
        }
        if let Some(line) = info.stream.filter(|s| !s.trim().is_empty()) {
            last = line.trim().to_string();
        }
    }
    // The engine may end the stream without an error but without the image (an old engine's
    // way of failing): only an image that is there counts.
    docker
        .inspect_image(tag)
        .await
        .map(|_| ())
        .map_err(|_| format!("the engine ended the build without the image ({last})"))
}

/// `FROM scratch`: the static busybox, links for the applets, a user, and the agent.
fn scratch_context(busybox: &[u8]) -> Vec<u8> {
    let links: Vec<String> = APPLETS.iter().map(|a| format!("rootfs/bin/{a}")).collect();
    let mut tools = vec![
        Entry::Dir {
            path: "rootfs/bin/",
            mode: 0o755,
        },
        Entry::File {
            path: "rootfs/bin/busybox",
            mode: 0o755,
            content: busybox,
        },
        Entry::Dir {
            path: "rootfs/tmp/",
            mode: 0o1777,
        },
    ];
    tools.extend(links.iter().map(|path| Entry::Symlink {
        path,
        target: "busybox",
    }));
    context("scratch", tools)
}

/// `FROM busybox:stable`: the base has the tools; the user and the agent are added.
fn fallback_context() -> Vec<u8> {
    context(FALLBACK_BASE, Vec::new())
}

/// The Dockerfile, then `rootfs/` (copied over the base as it is): `tools`, the user's files,
/// the directories the sandbox mounts over, and the agent script.
fn context(from: &str, tools: Vec<Entry<'_>>) -> Vec<u8> {
    let dockerfile = format!("FROM {from}\nCOPY rootfs/ /\nUSER {UID}:{UID}\nWORKDIR /workspace\n");
    let mut entries = vec![
        Entry::File {
            path: "Dockerfile",
            mode: 0o644,
            content: dockerfile.as_bytes(),
        },
        Entry::Dir {
            path: "rootfs/",
            mode: 0o755,
        },
    ];
    entries.extend(tools);
    entries.extend(common_files());
    archive(&entries)
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nbosun:x:1000:1000:bosun:/home/bosun:/bin/sh\n";
const GROUP: &str = "root:x:0:\nbosun:x:1000:\n";

/// Where the agent script is in the build context.
const AGENT_IN_CONTEXT: &str = "rootfs/usr/local/bin/bosun-demo-agent";

fn common_files() -> Vec<Entry<'static>> {
    vec![
        Entry::Dir {
            path: "rootfs/etc/",
            mode: 0o755,
        },
        Entry::File {
            path: "rootfs/etc/passwd",
            mode: 0o644,
            content: PASSWD.as_bytes(),
        },
        Entry::File {
            path: "rootfs/etc/group",
            mode: 0o644,
            content: GROUP.as_bytes(),
        },
        Entry::Dir {
            path: "rootfs/workspace/",
            mode: 0o755,
        },
        Entry::Dir {
            path: "rootfs/home/",
            mode: 0o755,
        },
        Entry::Dir {
            path: "rootfs/home/bosun/",
            mode: 0o755,
        },
        Entry::Dir {
            path: "rootfs/usr/",
            mode: 0o755,
        },
        Entry::Dir {
            path: "rootfs/usr/local/",
            mode: 0o755,
        },
        Entry::Dir {
            path: "rootfs/usr/local/bin/",
            mode: 0o755,
        },
        Entry::File {
            path: AGENT_IN_CONTEXT,
            mode: 0o755,
            content: AGENT_SCRIPT.as_bytes(),
        },
    ]
}

/// FNV-1a, 64 bits: stable across processes and Rust versions, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_puts_the_agent_where_the_configuration_runs_it() {
        assert_eq!(AGENT_IN_CONTEXT, format!("rootfs{AGENT_PROGRAM}"));
        let tar = scratch_context(b"not really busybox");
        let text = String::from_utf8_lossy(&tar);
        assert!(text.contains("FROM scratch\nCOPY rootfs/ /\nUSER 1000:1000"));
        assert!(text.contains("rootfs/bin/sh"));
        assert!(text.contains(AGENT_IN_CONTEXT));
        // The same inputs give the same bytes, so the tag is stable across runs.
        assert_eq!(tar, scratch_context(b"not really busybox"));
    }
}
