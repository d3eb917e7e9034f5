//! The deploy recipes keep the rules docs/deploy.md gives for them: in deploy/compose.yml only
//! bosun gets the Docker socket, its data directory is mounted at the same path inside and
//! outside (the engine resolves the checkouts' bind mounts on the host), it runs as the
//! image's unprivileged user, and every setting it passes is one bosun documents; the
//! Dockerfile's user is that same uid.

#[path = "support/deadline.rs"]
mod deadline;

use serde_yaml_ng::Value;
use std::time::Duration;

/// Reading a few files takes milliseconds; the limit only turns a hang into a failure.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

const SOCKET: &str = "/var/run/docker.sock";

fn compose() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/compose.yml"))
        .expect("deploy/compose.yml");
    serde_yaml_ng::from_str(&text).expect("compose.yml is YAML")
}

/// `${NAME:-default}` → `default`, as compose fills it in when NAME is unset.
fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed") + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, d)| d));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn volumes(service: &Value) -> Vec<String> {
    service["volumes"]
        .as_sequence()
        .map(|v| {
            v.iter()
                .map(|m| with_defaults(m.as_str().expect("short syntax")))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn only_bosun_gets_the_docker_socket_and_its_data_directory_keeps_its_path() {
    deadline::within(TEST_TIMEOUT, || {
        let compose = compose();
        let services = compose["services"].as_mapping().expect("services");
        for (name, service) in services {
            let has_socket = volumes(service).iter().any(|v| v.starts_with(SOCKET));
            assert_eq!(
                has_socket,
                name.as_str() == Some("bosun"),
                "{name:?}: socket"
            );
            assert!(
                service["user"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("10001:")),
                "{name:?} runs as bosun's unprivileged user"
            );
        }
        let bosun = &compose["services"]["bosun"];
        let data_dir = with_defaults(
            bosun["environment"]["BOSUN_DATA_DIR"]
                .as_str()
                .expect("set"),
        );
        assert!(data_dir.starts_with('/'), "{data_dir}");
        assert!(
            volumes(bosun).contains(&format!("{data_dir}:{data_dir}")),
            "the data directory {data_dir} is mounted at the same path: {:?}",
            volumes(bosun)
        );
    });
}

#[test]
fn every_setting_compose_passes_is_one_bosun_documents() {
    deadline::within(TEST_TIMEOUT, || {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let compose = compose();
        let env = compose["services"]["bosun"]["environment"]
            .as_mapping()
            .expect("environment");
        for name in env.keys().filter_map(Value::as_str) {
            let ours = name.starts_with("BOSUN_") || name.starts_with("GITHUB_");
            assert!(
                !ours || readme.contains(&format!("`{name}`")),
                "{name} is passed by compose.yml but not in the README's configuration table"
            );
        }
    });
}

#[test]
fn the_image_runs_as_the_uid_compose_names() {
    deadline::within(TEST_TIMEOUT, || {
        let dockerfile =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
                .expect("Dockerfile");
        assert!(
            dockerfile.contains("--uid 10001"),
            "the image's user is uid 10001"
        );
        assert!(dockerfile.lines().any(|l| l.trim() == "USER bosun"));
    });
}
