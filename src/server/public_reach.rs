//! Whether GitHub can reach an address: its webhooks come from the public Internet, so a
//! public URL on loopback, a private network or a local-only name is one they never reach
//! (GitHub's App settings refuse such hook URLs outright). Pure, so each case is tested here.

use std::net::IpAddr;

use reqwest::Url;

/// Why GitHub cannot reach `url`, in words for the person setting bosun up; `None` when it
/// may (a public address or name: whether it really answers is not checked here).
pub fn unreachable_reason(url: &str) -> Option<String> {
    let parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("`{url}` is not a URL ({e})")),
    };
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip_reason(ip);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Some(format!("`{host}` is this machine itself (loopback)"));
    }
    if !name.contains('.') {
        return Some(format!(
            "`{host}` is a name only your own network can resolve"
        ));
    }
    for local in [
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
        ".test",
        ".invalid",
    ] {
        if name.ends_with(local) {
            return Some(format!(
                "`{host}` is a name only your own network can resolve"
            ));
        }
    }
    None
}

fn ip_reason(ip: IpAddr) -> Option<String> {
    let what = match ip {
        IpAddr::V4(v4) if v4.is_loopback() => "this machine itself (loopback)",
        IpAddr::V4(v4) if v4.is_private() => "an address on a private network",
        IpAddr::V4(v4) if v4.is_link_local() => "a link-local address",
        IpAddr::V4(v4) if v4.is_unspecified() => "no address (0.0.0.0)",
        // 100.64.0.0/10: carrier-grade NAT, also what tailnets hand out.
        IpAddr::V4(v4) if v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) => {
            "a shared (carrier-grade NAT) address"
        }
        IpAddr::V6(v6) if v6.is_loopback() => "this machine itself (loopback)",
        IpAddr::V6(v6) if v6.is_unspecified() => "no address (::)",
        // fc00::/7 unique-local, fe80::/10 link-local.
        IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => {
            "an address on a private network"
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => "a link-local address",
        _ => return None,
    };
    Some(format!("`{ip}` is {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_addresses_are_named() {
        for url in [
            "http://localhost:3000",
            "http://app.localhost",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
            "http://10.1.2.3",
            "http://172.20.0.5:8080",
            "http://192.168.1.10",
            "http://169.254.1.1",
            "http://100.100.1.2",
            "http://[fd12::1]",
            "http://[fe80::1]",
            "http://0.0.0.0:3000",
            "http://bosun",
            "http://bosun.local",
            "https://ci.internal",
            "http://nas.home.arpa",
        ] {
            assert!(unreachable_reason(url).is_some(), "{url}");
        }
        assert!(unreachable_reason("not a url")
            .unwrap()
            .contains("not a URL"));
    }

    #[test]
    fn public_addresses_pass() {
        for url in [
            "https://bosun.example.com",
            "https://bosun.fly.dev",
            "http://203.0.113.7:3000",
            "https://[2001:db8::1]",
            "http://172.32.0.1",
            "http://100.128.0.1",
        ] {
            assert_eq!(unreachable_reason(url), None, "{url}");
        }
    }
}
