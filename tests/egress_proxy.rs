//! The egress proxy on loopback: a run reaches the hosts on its allowlist, through a tunnel
//! (`CONNECT`) or plain HTTP, and every other way out is refused before anything is sent to
//! the host, and logged: an IP literal, a host not on the list, a name that resolves to a
//! link-local, loopback or private address, a port other than the allowed ones, a redirect to a
//! foreign host, and a client without the run's token.
//!
//! Names resolve through the test's own table, so no lookup leaves the machine; the "package
//! registry" is an HTTP server on 127.0.0.2, which the proxy reaches only because the test's
//! settings trust that one address, as a server operator would trust an intranet registry.
//! Refused names point at addresses nothing here listens on; the proxy never connects to them.

#[path = "support/origin.rs"]
mod origin;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use bosun::egress::{Connection, EgressProxy, EgressSettings, Resolve, RunEgress};
use bosun_core::egress::Allowlist;
use origin::Origin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The test's names: the registry, a host the run may not reach (the same server), and names
/// that lead to places no run may go.
struct Names(HashMap<&'static str, Vec<IpAddr>>);

impl Resolve for Names {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move {
            match self.0.get(host) {
                Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
                None => Err(io::Error::new(io::ErrorKind::NotFound, "no such name")),
            }
        })
    }
}

/// The "package registry" on 127.0.0.2: `/redirect` sends the client to `foreign.test`, any
/// other path answers.
async fn registry() -> Origin {
    origin::serve("127.0.0.2:0", |head, port| {
        if head.starts_with("GET /redirect ") {
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://foreign.test:{port}/elsewhere\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\n\
             hello from pkg"
                .to_string()
        }
    })
    .await
}

struct Setup {
    proxy: EgressProxy,
    registry: Origin,
}

async fn setup() -> Setup {
    let registry = registry().await;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let names = Names(HashMap::from([
        ("pkg.test", vec![ip("127.0.0.2")]),
        ("foreign.test", vec![ip("127.0.0.2")]),
        ("metadata.test", vec![ip("169.254.169.254")]),
        ("home.test", vec![ip("127.0.0.1")]),
        ("lan.test", vec![ip("10.0.0.5")]),
        // One good address is not enough: every address a name has must be reachable.
        ("half.test", vec![ip("127.0.0.2"), ip("192.168.1.1")]),
    ]));
    let settings = EgressSettings {
        ports: vec![80, 443, registry.port],
        trusted_ranges: vec!["127.0.0.2/32".parse().unwrap()],
        connect_timeout: Duration::from_secs(5),
    };
    let proxy = EgressProxy::start("127.0.0.1:0".parse().unwrap(), settings, Box::new(names))
        .await
        .unwrap();
    Setup { proxy, registry }
}

fn allow(entries: &[&str]) -> Allowlist {
    Allowlist::parse(entries).unwrap()
}

fn basic(token: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("bosun:{token}"));
    format!("Basic {encoded}")
}

/// Asks for a tunnel to `target`; returns the proxy's answer head and the open stream.
async fn connect(proxy: &EgressProxy, target: &str, auth: Option<&str>) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let auth = auth
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (String::from_utf8_lossy(&head).into_owned(), stream)
}

async fn rest_of(mut stream: TcpStream) -> String {
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body).await;
    body
}

/// The run's log once it holds `n` connections: a connection is logged when both of its sides
/// have closed, which may be a moment after the client saw its answer. (The test's timeout
/// bounds the wait.)
async fn log_of(run: &RunEgress, n: usize) -> Vec<Connection> {
    loop {
        let log = run.log();
        if log.len() >= n {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A client that sends plain HTTP through the proxy as the run, and follows no redirect itself
/// (the tests follow them by hand, to see each step).
fn client(proxy: &EgressProxy, token: &str) -> reqwest::Client {
    let url = format!("http://bosun:{token}@{}", proxy.addr());
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(url).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_listed_host_is_reached_through_a_tunnel_and_over_plain_http() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Setup { proxy, registry } = setup().await;
        let (token, run) = proxy.runs().register("task 1", allow(&["pkg.test"]));
        let port = registry.port;

        let (answer, mut tunnel) = connect(
            &proxy,
            &format!("pkg.test:{port}"),
            Some(&basic(token.expose())),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tunnel
            .write_all(b"GET /ok HTTP/1.1\r\nHost: pkg.test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(rest_of(tunnel).await.ends_with("hello from pkg"));

        let plain = client(&proxy, token.expose())
            .get(format!("http://pkg.test:{port}/ok"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.text().await.unwrap(), "hello from pkg");
        // The origin got the path alone, and never the run's token.
        let heads = registry.heads();
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert!(heads[1].starts_with("GET /ok HTTP/1.1\r\n"), "{}", heads[1]);
        assert!(
            !heads
                .iter()
                .any(|h| h.to_ascii_lowercase().contains("proxy-authorization")),
            "{heads:?}"
        );

        let log = log_of(&run, 2).await;
        assert_eq!(log.len(), 2, "{log:?}");
        for c in &log {
            assert!(c.allowed && c.refused.is_none(), "{c:?}");
            assert_eq!((c.host.as_str(), c.port), ("pkg.test", port));
            assert!(c.sent > 0 && c.received > 0, "{c:?}");
        }
        assert!(run.refused_hosts().is_empty());
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn every_other_way_out_is_refused_before_it_is_tried_and_logged() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Setup { proxy, registry } = setup().await;
        let everything = [
            "pkg.test",
            "metadata.test",
            "home.test",
            "lan.test",
            "half.test",
        ];
        let (token, run) = proxy.runs().register("task 2", allow(&everything));
        let auth = basic(token.expose());
        let port = registry.port;
        let cases = [
            (format!("127.0.0.2:{port}"), "IP address"),
            (format!("[::1]:{port}"), "IP address"),
            (
                format!("foreign.test:{port}"),
                "not in the repository's egress list",
            ),
            ("metadata.test:80".to_string(), "link-local"),
            ("home.test:443".to_string(), "loopback"),
            ("lan.test:443".to_string(), "private"),
            (format!("half.test:{port}"), "private"),
            ("pkg.test:22".to_string(), "port 22 is not allowed"),
        ];
        for (target, why) in &cases {
            let (answer, stream) = connect(&proxy, target, Some(&auth)).await;
            assert!(answer.starts_with("HTTP/1.1 403"), "{target}: {answer}");
            assert!(
                answer.contains("X-Bosun-Egress: refused"),
                "{target}: {answer}"
            );
            let body = rest_of(stream).await;
            assert!(body.contains(why), "{target}: {body}");
        }
        assert!(registry.heads().is_empty(), "nothing reached the registry");
        let log = log_of(&run, cases.len()).await;
        assert_eq!(log.len(), cases.len(), "{log:?}");
        assert!(log
            .iter()
            .all(|c| !c.allowed && c.refused.is_some() && c.sent == 0));
        let refused = run.refused_hosts();
        assert!(
            refused.contains(&format!("foreign.test:{port}")),
            "{refused:?}"
        );
        assert!(
            refused.contains(&"metadata.test:80".to_string()),
            "{refused:?}"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_redirect_to_a_foreign_host_is_refused_when_the_client_follows_it() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Setup { proxy, registry } = setup().await;
        let (token, run) = proxy.runs().register("task 3", allow(&["pkg.test"]));
        let port = registry.port;
        let client = client(&proxy, token.expose());
        let moved = client
            .get(format!("http://pkg.test:{port}/redirect"))
            .send()
            .await
            .unwrap();
        // The proxy relays the 302 as it is: it follows nothing on the run's behalf.
        assert_eq!(moved.status(), 302);
        let location = moved.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, format!("http://foreign.test:{port}/elsewhere"));
        // The client's own next request goes to a host not on the list: refused.
        let answer = client.get(&location).send().await.unwrap();
        assert_eq!(answer.status(), 403);
        assert_eq!(answer.headers()["x-bosun-egress"], "refused");
        let log = log_of(&run, 2).await;
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log[0].allowed && log[0].host == "pkg.test");
        assert!(!log[1].allowed && log[1].host == "foreign.test", "{log:?}");
        assert_eq!(registry.heads().len(), 1, "only the first request arrived");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn without_the_runs_token_there_is_no_way_out() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let Setup { proxy, registry } = setup().await;
        let target = format!("pkg.test:{}", registry.port);
        let (answer, _) = connect(&proxy, &target, None).await;
        assert!(answer.starts_with("HTTP/1.1 407"), "{answer}");
        let (answer, _) = connect(&proxy, &target, Some(&basic("bosun-egress-guessed"))).await;
        assert!(answer.starts_with("HTTP/1.1 407"), "{answer}");

        let (token, run) = proxy.runs().register("task 4", allow(&["pkg.test"]));
        let (answer, _) = connect(&proxy, &target, Some(&basic(token.expose()))).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // A run that ended has no way out any more.
        proxy.runs().end(&token);
        let (answer, _) = connect(&proxy, &target, Some(&basic(token.expose()))).await;
        assert!(answer.starts_with("HTTP/1.1 407"), "{answer}");
        assert_eq!(log_of(&run, 1).await.len(), 1);
    })
    .await
    .expect("test timed out");
}
