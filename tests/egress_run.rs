//! A repository that lists `egress:` hosts, end to end in Docker: its gate fetches a file from a
//! package registry through bosun's egress proxy and the draft pull request opens; a host it
//! does not list is refused and named in the tracking comment, as is every other way out tried
//! from inside the sandbox (an IP literal, a name resolving to loopback, `CONNECT` to port 22,
//! a redirect to a foreign host, plain TCP to a host service past the proxy).
//!
//! The "registry" is a small HTTP server on this machine's loopback. The containers have no
//! network at all: they reach the proxy through its socket, mounted into them, and bosun makes
//! no Docker network (each test checks). The proxy, on the host, resolves `localhost` and
//! reaches the registry because the test's server configuration trusts the loopback addresses
//! (as an operator trusts an intranet registry) and allows the registry's port. The agent is the `command` adapter with
//! a one-line script, so no model is involved.

#[path = "support/images.rs"]
mod images;
#[path = "support/origin.rs"]
mod origin;
mod support;

use std::time::Duration;

use origin::Origin;
use support::agent_app::AgentApp;
use support::*;

/// Generous for a slow CI machine: one task's containers, each waited for two minutes at most.
const DOCKER_TEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Serves `dependency 1.0` at every path on 127.0.0.1, the "package registry".
async fn registry() -> Origin {
    origin::serve("127.0.0.1:0", |_, _| {
        "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\ndependency 1.0\n"
            .to_string()
    })
    .await
}

/// The server's configuration: one `command` agent that changes a file, the egress proxy
/// allowed to reach the registry's port on loopback.
fn server_config(image: &str, port: u16) -> String {
    // The agent: change a file, then say it is done in the command adapter's protocol.
    let program = r#"sh -c "echo changed > hello.txt; echo '{\"type\":\"result\",\"ok\":true,\"message\":\"done\"}'""#;
    format!(
        "default_agent: shell\n\
         agents:\n  shell:\n    adapter: command\n    image: {image}\n    program: >-\n      {program}\n\
         limits:\n  memory_mb: 256\n  cpus: 1\n\
         egress:\n  ports: [80, 443, {port}]\n  trusted_ranges: ['127.0.0.1', '::1']\n"
    )
}

/// What one task came to: bosun started with these configurations, an issue labelled, and the
/// task ended (done, needs review or failed). The registry's log and the network's guard come
/// along; the app is shut down by [`Ended::finish`].
struct Ended {
    run: AgentApp,
    _no_network: images::NoNetworkMade,
    issue: u64,
    comment: String,
}

impl Ended {
    fn has(&self, label: &str) -> bool {
        has_label(&self.run.app.github, self.issue, label)
    }

    fn pulls(&self) -> usize {
        self.run.app.github.pulls(REPO).len()
    }

    async fn finish(self) {
        let Ended {
            run, _no_network, ..
        } = self;
        run.app.finish().await;
    }
}

async fn task_of(server: &str, repo: &str) -> Ended {
    let run = AgentApp::start_with_config(server, repo).await;
    let no_network = images::NoNetworkMade::of(run.app.data_dir.path());
    let issue = run
        .label_until_finished("Use the dependency", "Fetch it.")
        .await;
    let comment = tracking(&run.app.github, issue);
    Ended {
        run,
        _no_network: no_network,
        issue,
        comment,
    }
}

/// The repository's configuration: `egress:` lists `localhost`; the gate fetches `url`.
fn repo_config(url: &str) -> String {
    format!(
        "egress: [localhost]\nrounds: 1\npeer_review:\n  enabled: false\n\
         gates:\n  - name: dependency\n    run: wget -q -O /tmp/dep {url} && grep -q dependency /tmp/dep\n"
    )
}

async fn with_docker<F: std::future::Future<Output = ()>>(body: impl FnOnce(String) -> F) {
    images::with_busybox(DOCKER_TEST_TIMEOUT, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_fetches_from_a_listed_host_through_the_proxy_and_the_pull_request_opens() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let url = format!("http://localhost:{port}/dep.txt");
        let task = task_of(&server_config(&image, port), &repo_config(&url)).await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "{comment}");
        assert_eq!(task.pulls(), 1, "{comment}");
        assert!(
            !comment.contains("Refused by the egress proxy"),
            "{comment}"
        );
        let requests = seen.request_lines();
        assert_eq!(requests, ["GET /dep.txt HTTP/1.1"], "the gate's one fetch");
        // No proxy token reached GitHub.
        assert!(!comment.contains("bosun-egress-"), "{comment}");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_repository_does_not_list_is_refused_and_named_in_the_tracking_comment() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let url = "http://not-listed.example/dep.txt";
        let task = task_of(&server_config(&image, port), &repo_config(url)).await;
        let comment = &task.comment;
        assert!(task.has("bosun:needs-review"), "{comment}");
        assert!(comment.contains("Refused by the egress proxy"), "{comment}");
        assert!(comment.contains("`not-listed.example:80`"), "{comment}");
        assert!(comment.contains("`egress:`"), "{comment}");
        assert_eq!(task.pulls(), 0, "{comment}");
        assert!(seen.heads().is_empty(), "nothing reached the registry");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_egress_says_so_instead_of_running_without_the_hosts() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let server =
            server_config(&image, port).replace("egress:\n", "egress:\n  enabled: false\n");
        let url = format!("http://localhost:{port}/dep.txt");
        let task = task_of(&server, &repo_config(&url)).await;
        let comment = &task.comment;
        assert!(task.has("bosun:failed"), "{comment}");
        assert!(
            comment.contains(
                "the repository lists `egress:` hosts, but this server gives runs no egress proxy"
            ),
            "{comment}"
        );
        assert_eq!(task.pulls(), 0, "{comment}");
        assert!(seen.heads().is_empty());
        task.finish().await;
    })
    .await;
}

/// `network: true` gives the agent the open internet, past the egress proxy: a repository the
/// server does not list under `limits.network_repos` gets its task refused, with a comment
/// pointing at `egress:`, and nothing runs (issue 20, hole 1). One the server lists runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_network_is_refused_unless_the_server_names_the_repository() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let asks = "network: true\nrounds: 1\npeer_review:\n  enabled: false\n";
        let task = task_of(&server_config(&image, port), asks).await;
        let comment = &task.comment;
        assert!(task.has("bosun:failed"), "{comment}");
        assert!(comment.contains("`limits.network_repos`"), "{comment}");
        assert!(comment.contains("`egress:`"), "{comment}");
        assert_eq!(task.pulls(), 0, "{comment}");
        task.finish().await;

        let listed = server_config(&image, port).replace(
            "limits:\n",
            &format!("limits:\n  network_repos: [{REPO}]\n"),
        );
        let task = task_of(&listed, asks).await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "{comment}");
        assert!(!comment.contains("network_repos"), "{comment}");
        task.finish().await;
    })
    .await;
}

/// A repository whose `setup:` is `setup` (YAML list items) and whose gate checks `dep.txt`.
fn setup_config(setup: &str, extra: &str) -> String {
    format!(
        "egress: [localhost]\nrounds: 1\npeer_review:\n  enabled: false\n{extra}\
         setup:\n{setup}\
         gates:\n  - name: dependency\n    run: grep -q dependency dep.txt\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_fetches_a_dependency_that_the_gate_then_finds() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let setup = format!("  - wget -q -O dep.txt http://localhost:{port}/dep.txt\n");
        let task = task_of(&server_config(&image, port), &setup_config(&setup, "")).await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "{comment}");
        assert!(comment.contains("Set-up ("), "{comment}");
        assert!(
            comment.contains("`wget -q -O dep.txt http://localhost:"),
            "{comment}"
        );
        assert_eq!(task.pulls(), 1, "{comment}");
        assert_eq!(seen.heads().len(), 1, "set-up fetched once");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_set_up_ends_the_task_before_the_agent_starts() {
    with_docker(|image| async move {
        let port = registry().await.port;
        let setup = "  - echo the registry is down; exit 3\n  - echo never runs\n";
        let task = task_of(&server_config(&image, port), &setup_config(setup, "")).await;
        let comment = &task.comment;
        assert!(task.has("bosun:needs-review"), "{comment}");
        assert!(
            comment.contains("Set-up failed: `echo the registry is down; exit 3` exited with 3"),
            "{comment}"
        );
        assert!(
            comment.contains("the registry is down"),
            "its log: {comment}"
        );
        assert!(!comment.contains("never runs"), "{comment}");
        assert!(
            !comment.contains("Agent `shell`"),
            "the agent never started: {comment}"
        );
        assert_eq!(task.pulls(), 0, "{comment}");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_up_that_hangs_is_stopped_at_its_limit() {
    with_docker(|image| async move {
        let port = registry().await.port;
        // One minute is the shortest limit a repository can set.
        let repo = setup_config("  - sleep 600\n", "timeouts:\n  setup_minutes: 1\n");
        let task = task_of(&server_config(&image, port), &repo).await;
        let comment = &task.comment;
        assert!(
            comment.contains("Set-up failed: `sleep 600` ran past its 1m 0s limit"),
            "{comment}"
        );
        assert!(!comment.contains("Agent `shell`"), "{comment}");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_up_that_fills_the_checkout_is_stopped_at_the_servers_cap() {
    with_docker(|image| async move {
        let port = registry().await.port;
        let server = server_config(&image, port)
            .replace("  cpus: 1\n", "  cpus: 1\n  max_checkout_mb: 20\n");
        // About 25 MiB a second, for as long as it is let.
        let setup = "  - while true; do dd if=/dev/zero bs=1M count=5 >> big.bin 2>/dev/null; \
                     sleep 0.2; done\n";
        let task = task_of(&server, &setup_config(setup, "")).await;
        let comment = &task.comment;
        assert!(
            comment.contains("Set-up stopped: it wrote more than 20 MiB into the checkout"),
            "{comment}"
        );
        assert!(!comment.contains("Agent `shell`"), "{comment}");
        task.finish().await;
    })
    .await;
}

/// Waits for the task of a newly labelled issue to end; its tracking comment.
async fn another_task(run: &AgentApp, title: &str) -> (u64, String) {
    let issue = run.label_until_finished(title, "Fetch it.").await;
    (issue, tracking(&run.app.github, issue))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_task_starts_from_the_snapshot_until_the_lockfile_changes() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let repo = format!(
            "egress: [localhost]\nrounds: 1\npeer_review:\n  enabled: false\n\
             setup:\n  - wget -q -O deps/dep.txt http://localhost:{port}/dep.txt\n\
             cache: [deps]\nsnapshot_key: [deps.lock]\n\
             gates:\n  - name: dependency\n    run: grep -q dependency deps/dep.txt\n"
        );
        let task = task_of(&server_config(&image, port), &repo).await;
        assert!(task.has("bosun:done"), "{}", task.comment);
        assert!(task.comment.contains("Set-up ("), "{}", task.comment);
        assert_eq!(seen.heads().len(), 1);
        // What the set-up installed is not part of the change.
        let branches = git(&task.run.bare, &["branch", "--format=%(refname:short)"]);
        let branch = branches.lines().find(|b| b.starts_with("bosun/")).unwrap();
        let files = git(&task.run.bare, &["ls-tree", "-r", "--name-only", branch]);
        assert!(!files.contains("deps/"), "{files}");

        // The same lockfile (none yet): the second task skips the set-up, and its gate finds
        // the dependency in the snapshot.
        let (second, comment) = another_task(&task.run, "Use it again").await;
        assert!(
            has_label(&task.run.app.github, second, "bosun:done"),
            "{comment}"
        );
        assert!(
            comment.contains("Set-up skipped: started from environment snapshot"),
            "{comment}"
        );
        assert!(!comment.contains("Set-up ("), "{comment}");
        assert_eq!(seen.heads().len(), 1, "no second fetch");

        // A lockfile on the default branch changes the key: the set-up runs again.
        let seed = task.run.dirs.path().join("lockfile");
        git(
            task.run.dirs.path(),
            &["clone", "-q", task.run.bare.to_str().unwrap(), "lockfile"],
        );
        std::fs::write(seed.join("deps.lock"), "dep 1.0\n").unwrap();
        commit_all(&seed, "lock");
        git(&seed, &["push", "-q", "origin", "main"]);
        let (third, comment) = another_task(&task.run, "Use the locked one").await;
        assert!(
            has_label(&task.run.app.github, third, "bosun:done"),
            "{comment}"
        );
        assert!(comment.contains("Set-up ("), "{comment}");
        assert!(!comment.contains("Set-up skipped"), "{comment}");
        assert_eq!(seen.heads().len(), 2, "fetched for the new lockfile");

        // `bosun env` sees both snapshots, and prunes them.
        use bosun::cli::env::{run as env, EnvAction};
        let data = task.run.app.data_dir.path().to_path_buf();
        let listed = env(&data, EnvAction::List).unwrap();
        assert_eq!(listed.lines().count(), 2, "{listed}");
        assert!(listed.contains("octo-org/hello-world"), "{listed}");
        let pruned = env(&data, EnvAction::Prune { unused_days: 0 }).unwrap();
        assert!(pruned.starts_with("removed 2"), "{pruned}");
        assert_eq!(
            env(&data, EnvAction::List).unwrap(),
            "no environment snapshots"
        );
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_that_lists_no_hosts_has_its_gate_refused_and_the_host_named() {
    with_docker(|image| async move {
        let seen = registry().await;
        let port = seen.port;
        let url = format!("http://localhost:{port}/dep.txt");
        let repo = repo_config(&url).replace("egress: [localhost]\n", "");
        let task = task_of(&server_config(&image, port), &repo).await;
        let comment = &task.comment;
        assert!(task.has("bosun:needs-review"), "{comment}");
        assert!(comment.contains("Refused by the egress proxy"), "{comment}");
        assert!(
            comment.contains(&format!("`localhost:{port}`")),
            "{comment}"
        );
        assert_eq!(task.pulls(), 0, "{comment}");
        assert!(seen.heads().is_empty(), "nothing reached the registry");
        task.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_foreign_host_is_refused_when_the_gate_follows_it() {
    with_docker(|image| async move {
        // The listed registry sends every request on to a host the repository does not list.
        let seen = origin::serve("127.0.0.1:0", |_, _| {
            "HTTP/1.1 302 Found\r\nLocation: http://foreign.example/dep.txt\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string()
        })
        .await;
        let port = seen.port;
        let url = format!("http://localhost:{port}/dep.txt");
        let task = task_of(&server_config(&image, port), &repo_config(&url)).await;
        let comment = &task.comment;
        assert!(task.has("bosun:needs-review"), "{comment}");
        assert!(comment.contains("`foreign.example:80`"), "{comment}");
        // The proxy relayed the redirect and did not follow it: the registry was asked once,
        // and the gate's own second request was the one refused.
        assert_eq!(seen.request_lines(), ["GET /dep.txt HTTP/1.1"]);
        assert_eq!(task.pulls(), 0, "{comment}");
        task.finish().await;
    })
    .await;
}

/// An internal Docker network, removed when dropped: what bosun's runs joined before they had
/// doors. Its gateway is this host.
struct InternalNetwork(String);

impl InternalNetwork {
    fn create() -> InternalNetwork {
        let name = images::unique("bosun-test-internal");
        let made = std::process::Command::new("docker")
            .args(["network", "create", "--internal", &name])
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        InternalNetwork(name)
    }

    fn gateway(&self) -> String {
        let out = std::process::Command::new("docker")
            .args(["network", "inspect", &self.0, "-f"])
            .arg("{{(index .IPAM.Config 0).Gateway}}")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for InternalNetwork {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

/// A gate that tries every way out but the listed one, each of which must fail: through the
/// proxy an IP literal, a host not listed, a listed name that resolves to loopback (this
/// server trusts no range), `CONNECT` to port 22; past the proxy, plain TCP to a service of
/// this host that listens on every address (`ADDR:PORT`). It fails if any got through.
fn escapes(bypass: &str) -> String {
    let (addr, port) = bypass.rsplit_once(':').unwrap();
    format!(
        r#"fail=0
for url in http://127.0.0.1/ http://not-listed.example/ http://localhost/; do
  if wget -q -O /dev/null "$url"; then echo "REACHED $url"; fail=1; fi
done
p=${{HTTP_PROXY#http://}}; hp=${{p#*@}}
auth=$(printf %s "${{p%@*}}" | base64 | tr -d "\n")
printf 'CONNECT github.com:22 HTTP/1.1\r\nHost: github.com:22\r\nProxy-Authorization: Basic %s\r\n\r\n' "$auth" | nc -w 5 ${{hp%:*}} ${{hp##*:}} > /tmp/connect
grep -q ' 403 ' /tmp/connect || {{ echo "CONNECT to 22: $(head -1 /tmp/connect)"; fail=1; }}
if printf 'GET /bypass HTTP/1.0\r\n\r\n' | nc -w 3 {addr} {port}; then echo "REACHED {bypass}"; fail=1; fi
exit $fail"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_inside_the_sandbox_every_other_way_out_is_refused_and_named() {
    with_docker(|image| async move {
        // A service of this host on every address, as an SSH daemon or a database would be.
        let host_service = origin::serve("0.0.0.0:0", |_, _| {
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        })
        .await;
        // The control: a container on an internal network, as bosun's runs were before they
        // had doors, does reach it at the network's gateway; so the run's failing to is the
        // sandbox's doing.
        let internal = InternalNetwork::create();
        let bypass = format!("{}:{}", internal.gateway(), host_service.port);
        let out = std::process::Command::new("docker")
            .args(["run", "--rm", "--network", &internal.0, &image, "sh", "-c"])
            .arg(format!(
                "printf 'GET /control HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {}",
                bypass.replace(':', " ")
            ))
            .output()
            .unwrap();
        assert_eq!(
            host_service.request_lines(),
            ["GET /control HTTP/1.0"],
            "{out:?}"
        );

        // No trusted range here: `localhost` is listed, but loopback is not for runs.
        let server = server_config(&image, 80).replace(
            "  trusted_ranges: ['127.0.0.1', '::1']\n",
            "  trusted_ranges: []\n",
        );
        let repo = format!(
            "egress: [localhost]\nrounds: 1\npeer_review:\n  enabled: false\n\
             gates:\n  - name: escapes\n    run: |\n{}\n",
            escapes(&bypass)
                .lines()
                .map(|l| format!("      {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let task = task_of(&server, &repo).await;
        let comment = &task.comment;
        assert!(task.has("bosun:done"), "every escape failed: {comment}");
        for refused in [
            "`127.0.0.1:80`",
            "`not-listed.example:80`",
            "`localhost:80`",
            "`github.com:22`",
        ] {
            assert!(comment.contains(refused), "{refused} named: {comment}");
        }
        assert_eq!(
            host_service.request_lines(),
            ["GET /control HTTP/1.0"],
            "plain TCP past the proxy reached nothing"
        );
        task.finish().await;
    })
    .await;
}
