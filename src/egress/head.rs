//! The head of a request to the proxy: `CONNECT host:port` (a tunnel, what HTTPS clients send)
//! or a plain HTTP request in absolute form (`GET http://host/path`). Read up to the blank
//! line, 16 KiB at most; what follows it is passed on untouched.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest head the proxy reads.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Where the client wants to go: `(host, port, path)`, the path empty for a tunnel.
    pub fn destination(&self) -> Result<(String, u16, String), String> {
        if self.method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = split_authority(&self.target, None)?;
            return Ok((host, port, String::new()));
        }
        let Some(rest) = self.target.strip_prefix("http://") else {
            return Err(if self.target.starts_with("https://") {
                "an https:// URL: ask for a tunnel with CONNECT".to_string()
            } else {
                format!("`{}` is not an absolute http:// URL", self.target)
            });
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("a URL with credentials in it".to_string());
        }
        let (host, port) = split_authority(authority, Some(80))?;
        Ok((host, port, path.to_string()))
    }

    /// The head as the origin server gets it: the path alone as target, the proxy's own
    /// headers dropped, and one request per connection.
    pub fn for_origin(&self, path: &str) -> Vec<u8> {
        let mut out = format!("{} {path} {}\r\n", self.method, self.version);
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("proxy-") || lower == "connection" || lower == "keep-alive" {
                continue;
            }
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }
}

/// `host:port` (IPv6 in brackets); `default` when the port is left out.
fn split_authority(authority: &str, default: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{authority}` is not host:port"))?;
        (host.to_string(), rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        }
    };
    let port = match (port, default) {
        (Some(p), _) => p
            .parse::<u16>()
            .map_err(|_| format!("`{authority}` has no valid port"))?,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("`{authority}` names no port")),
    };
    if host.is_empty() {
        return Err(format!("`{authority}` names no host"));
    }
    Ok((host, port))
}

/// Reads a head; returns it and whatever came after the blank line.
pub async fn read_head(io: &mut (impl AsyncRead + Unpin)) -> Result<(Head, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(i) = find_blank_line(&buf) {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err("a request head over 16 KiB".to_string());
        }
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("the client closed before its request was complete".to_string());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf.split_off(end + 4);
    let text = String::from_utf8(buf).map_err(|_| "a request head that is not text".to_string())?;
    Ok((parse(&text)?, rest))
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse(text: &str) -> Result<Head, String> {
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("`{request_line}` is not a request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("`{version}`: HTTP/1.x only"));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("`{line}` is not a header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn head(text: &str) -> (Head, Vec<u8>) {
        read_head(&mut text.as_bytes()).await.unwrap()
    }

    #[tokio::test]
    async fn a_tunnel_and_a_plain_request_name_their_destination() {
        let (connect, rest) =
            head("CONNECT pkg.example.org:443 HTTP/1.1\r\nHost: x\r\n\r\nHELLO").await;
        assert_eq!(
            connect.destination().unwrap(),
            ("pkg.example.org".into(), 443, String::new())
        );
        assert_eq!(rest, b"HELLO");
        let (get, _) = head(
            "GET http://pkg.example.org/simple/x/ HTTP/1.1\r\nProxy-Authorization: Basic x\r\n\
             Connection: keep-alive\r\nAccept: */*\r\n\r\n",
        )
        .await;
        let (host, port, path) = get.destination().unwrap();
        assert_eq!(
            (host.as_str(), port, path.as_str()),
            ("pkg.example.org", 80, "/simple/x/")
        );
        let origin = String::from_utf8(get.for_origin(&path)).unwrap();
        assert_eq!(
            origin,
            "GET /simple/x/ HTTP/1.1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn odd_requests_are_refused_with_a_reason() {
        for (text, why) in [
            ("GET /local HTTP/1.1\r\n\r\n", "absolute"),
            ("GET https://x.org/ HTTP/1.1\r\n\r\n", "CONNECT"),
            ("GET http://u:p@x.org/ HTTP/1.1\r\n\r\n", "credentials"),
            ("CONNECT x.org HTTP/1.1\r\n\r\n", "no port"),
            ("CONNECT x.org:https HTTP/1.1\r\n\r\n", "no valid port"),
        ] {
            let (h, _) = head(text).await;
            let err = h.destination().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let v6 = head("CONNECT [::1]:443 HTTP/1.1\r\n\r\n").await.0;
        assert_eq!(v6.destination().unwrap().0, "::1");
        assert!(read_head(&mut "GET / HTTP/2\r\n\r\n".as_bytes())
            .await
            .is_err());
        assert!(read_head(&mut "GET http://x/ HTTP/1.1\r\n".as_bytes())
            .await
            .is_err());
        let huge = format!(
            "GET http://x/ HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(20_000)
        );
        assert!(read_head(&mut huge.as_bytes())
            .await
            .unwrap_err()
            .contains("16 KiB"));
    }
}
